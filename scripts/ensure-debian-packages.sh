#!/usr/bin/env bash
# Install the Debian packages named as arguments, but only those that are missing.
#
#   scripts/ensure-debian-packages.sh [PKG...]
#
# No arguments, or every package already installed: does nothing (no apt-get, no sudo), so
# `make test` stays fast and works offline once the machine is set up. Otherwise runs
# `apt-get update` once and `apt-get install -y --no-install-recommends` for the missing ones,
# through sudo when not root.
set -euo pipefail

if [ "$#" -eq 0 ]; then
    exit 0
fi

if ! command -v dpkg >/dev/null 2>&1; then
    # Not a Debian-like machine: we cannot check or install, so say what the tests expect.
    echo "ensure-debian-packages: dpkg not found; install these yourself: $*" >&2
    exit 0
fi

missing=()
for pkg in "$@"; do
    # `dpkg -s` also succeeds for removed packages whose config files remain, so read the status.
    if ! dpkg -s "$pkg" 2>/dev/null | grep -q '^Status: install ok installed$'; then
        missing+=("$pkg")
    fi
done

if [ "${#missing[@]}" -eq 0 ]; then
    exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        as_root=(sudo)
    else
        echo "ensure-debian-packages: need root or sudo to install: ${missing[*]}" >&2
        exit 1
    fi
fi

echo "ensure-debian-packages: installing ${missing[*]}"
# Passed through env(1) because sudo resets the environment.
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends "${missing[@]}"

# The tests start their own etcd members on free loopback ports: the package's system service
# (enabled by its install script) is not wanted on the host.
for pkg in "${missing[@]}"; do
    if [ "$pkg" = etcd-server ]; then
        if command -v systemctl >/dev/null 2>&1; then
            "${as_root[@]}" systemctl disable --now etcd >/dev/null 2>&1 || true
        fi
        "${as_root[@]}" rm -f /etc/systemd/system/multi-user.target.wants/etcd.service \
            /etc/systemd/system/etcd2.service
    fi
done
