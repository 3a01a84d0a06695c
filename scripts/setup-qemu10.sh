#!/usr/bin/env bash
# Unpacks QEMU 10.0 from Debian's bookworm-backports suite into a private prefix, next to the
# system's QEMU 7.2 (apt keeps preferring 7.2 for the system). Idempotent. Prints the prefix.
#   $prefix/usr/bin/qemu-system-x86_64 -L $prefix/usr/share/qemu ...
set -euo pipefail
prefix=${VIRT_QEMU10_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/virt/qemu-10.0}
log() { echo "setup-qemu10: $*" >&2; }
sudo_if_needed() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

sources=/etc/apt/sources.list.d/virt-bookworm-backports.sources
if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding Debian's bookworm-backports suite to apt's sources"
  sudo_if_needed tee "$sources" >/dev/null <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  sudo_if_needed apt-get update -qq
fi

if [ -x "$prefix/usr/bin/qemu-system-x86_64" ] && "$prefix/usr/bin/qemu-system-x86_64" -L "$prefix/usr/share/qemu" -version | grep -q "version 10\.0"; then
  log "QEMU 10.0 present in $prefix"
  echo "$prefix"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
if ! apt-cache policy qemu-system-x86 | grep -q "bpo12"; then
  sudo_if_needed apt-get update -qq
fi
version=$(apt-cache policy qemu-system-x86 | awk '/bpo12/ && $1 ~ /^1:10\.0/ {print $1; exit}')
[ -n "$version" ] || { log "bookworm-backports offers no qemu-system-x86 10.0"; exit 1; }
log "downloading qemu-system-x86, -common, -data $version"
apt-get download -q "qemu-system-x86=$version" "qemu-system-common=$version" "qemu-system-data=$version" >/dev/null 2>&1

# The libraries it links against come from bookworm itself.
libraries=$(dpkg-deb -f qemu-system-x86_*.deb Depends | tr ',' '\n' | awk '{print $1}' | grep '^lib' | sort -u)
missing=()
for p in $libraries; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing libraries QEMU 10.0 needs: ${missing[*]}"
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

rm -rf "$prefix.tmp" && mkdir -p "$prefix.tmp"
for deb in qemu-system-*.deb; do dpkg-deb -x "$deb" "$prefix.tmp"; done
rm -rf "$prefix" && mv "$prefix.tmp" "$prefix"
"$prefix/usr/bin/qemu-system-x86_64" -L "$prefix/usr/share/qemu" -version >&2
echo "$prefix"
