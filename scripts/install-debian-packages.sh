#!/usr/bin/env bash
# Installs the Debian packages herald's lab and tests use, only those missing. Needs root.
set -euo pipefail
packages=(exabgp bird2 frr kamailio kamailio-tls-modules coturn sipsak sip-tester iproute2 openssl procps chromium ansible-core ansible-lint yamllint etcd-server etcd-client prometheus systemd)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "herald: missing Debian packages: ${missing[*]}; run as root or: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "herald: installing Debian packages: ${missing[*]}" >&2
apt-get update -q
# Packages such as etcd-server, frr, coturn and prometheus start their own daemons on install (on
# fixed ports) where an init system lets them; the tests start their own copies, so keep the
# package scripts from starting any service while installing.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
