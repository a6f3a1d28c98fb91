#!/usr/bin/env bash
# Installs the Debian packages tests and benches need, only when missing (idempotent; CI starts bare).
set -euo pipefail
declare -A want=([dockerd]=docker.io [docker-registry]=docker-registry [skopeo]=skopeo [xdelta3]=xdelta3
  [bsdiff]=bsdiff [zpaq]=zpaq [zstd]=zstd [openssl]=openssl [chromium]=chromium [debootstrap]=debootstrap [flock]=util-linux)
missing=()
for cmd in "${!want[@]}"; do command -v "$cmd" >/dev/null || missing+=("${want[$cmd]}"); done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
echo "installing: ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
