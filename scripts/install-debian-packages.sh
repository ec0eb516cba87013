#!/usr/bin/env bash
# Installs the Debian packages herald's lab and tests use, only those missing. Needs root.
set -euo pipefail
packages=(exabgp bird2 kamailio kamailio-tls-modules sipsak sip-tester iproute2 openssl procps chromium ansible-core ansible-lint yamllint)
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
DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
