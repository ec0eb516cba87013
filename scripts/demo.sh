#!/usr/bin/env bash
# `npm run demo`: the multi-PoP lab on this machine. Checks Linux and root, installs the Debian
# packages the lab needs (only those missing), builds herald, then runs `herald lab up --demo`
# in the foreground: it prints what runs and what to try, and Ctrl-C removes everything.
# Extra arguments go to `herald lab up` (e.g. `npm run demo -- --no-ipv6`).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'herald demo: %s\n' "$*" >&2; }

if [ "$(uname -s)" != Linux ]; then
  say "needs Linux (the lab uses network namespaces); this is $(uname -s). Use a Linux VM."
  exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
  say "needs root to create network namespaces and run BGP daemons: run \`sudo npm run demo\`"
  exit 1
fi
if ! ip netns list >/dev/null 2>&1; then
  say "cannot use network namespaces here (\`ip netns list\` failed); a container needs CAP_SYS_ADMIN and CAP_NET_ADMIN"
  exit 1
fi

say "checking the Debian packages the lab needs (exabgp bird2 kamailio kamailio-tls-modules sipsak ...)"
if ! bash scripts/install-debian-packages.sh; then
  say "could not install the Debian packages; see the message above"
  exit 1
fi

if [ ! -d node_modules ]; then
  say "node_modules is missing: run \`npm ci\` first"
  exit 1
fi

say "building herald (npm run build)"
npm run --silent build

say "starting the lab (Ctrl-C stops it and removes everything)"
exec node dist/bin/herald.js lab up --demo "$@"
