#!/usr/bin/env bash
# Installs the real services floatseat's tests run against (redis-server,
# slapd, nginx) and the load generator for benchmarks, from Debian's
# packages, when they are missing. Tests start their own instances on free
# loopback ports; nothing installed here is configured or left running by us.
set -euo pipefail

want=("$@")
[ ${#want[@]} -gt 0 ] || want=(redis-server slapd nginx)

pkg_of() {
  case "$1" in
    redis-server) echo redis-server ;;
    slapd) echo "slapd ldap-utils" ;;
    nginx) echo nginx-light ;;
    wrk) echo wrk ;;
    chromium) echo chromium ;;
    *) echo "$1" ;;
  esac
}

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
for b in "${want[@]}"; do
  have "$b" || missing+=($(pkg_of "$b"))
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root or: sudo apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101 keeps the packages' own daemons from starting: tests run
# their own instances and need nothing listening on the standard ports.
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
[ $had_policy -eq 1 ] || { printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; }
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
[ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d
