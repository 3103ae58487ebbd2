#!/usr/bin/env bash
# Installs meterd as a systemd service (README: "Installing on a Raspberry Pi").
#
#   sudo systemd/install.sh [--binary PATH] [--meterctl PATH] [--root DIR] [--no-start]
#
# --binary    the built meterd (default: .build/release/meterd)
# --meterctl  the built meterctl, installed beside it if given or found next to meterd
# --root      install under DIR instead of / (packaging, tests); implies --no-start
# --no-start  install and enable nothing at runtime: no user creation, no systemctl
#
# Idempotent: an existing /etc/meterd/meterd.toml or API token is never overwritten.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
binary="$here/../.build/release/meterd"
meterctl=""
root=""
start=1

while [ $# -gt 0 ]; do
    case "$1" in
        --binary) binary="$2"; shift 2 ;;
        --meterctl) meterctl="$2"; shift 2 ;;
        --root) root="${2%/}"; start=0; shift 2 ;;
        --no-start) start=0; shift ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 64 ;;
    esac
done

[ -x "$binary" ] || { echo "install.sh: no meterd binary at $binary (build with: swift build -c release)" >&2; exit 66; }
if [ -z "$meterctl" ] && [ -x "$(dirname "$binary")/meterctl" ]; then
    meterctl="$(dirname "$binary")/meterctl"
fi

bin="$root/usr/local/bin"
etc="$root/etc/meterd"
units="$root/etc/systemd/system"
install -d -m 0755 "$bin" "$units" "$units/meterd.service.d"
install -d -m 0750 "$etc"
install -m 0755 "$binary" "$bin/meterd"
[ -n "$meterctl" ] && install -m 0755 "$meterctl" "$bin/meterctl"
install -m 0644 "$here/meterd.service" "$units/meterd.service"

if [ ! -e "$etc/meterd.toml" ]; then
    install -m 0640 "$here/meterd.toml" "$etc/meterd.toml"
    echo "installed the sample configuration $etc/meterd.toml: set [meter] id before starting"
fi

# The bearer token that authorises HTTP writes (README: "API and authentication").
if [ ! -e "$etc/api-token" ]; then
    (umask 0077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$etc/api-token")
    echo "generated the API token $etc/api-token"
fi

# Grant exactly the device nodes the configuration names (the unit lists the defaults).
"$bin/meterd" --config "$etc/meterd.toml" --check-config
{
    echo "# Written by install.sh from $etc/meterd.toml; rerun it after changing device paths."
    echo "[Service]"
    echo "DeviceAllow="
    "$bin/meterd" --config "$etc/meterd.toml" --print-device-nodes | sed 's/^/DeviceAllow=/; s/$/ rw/'
} > "$units/meterd.service.d/devices.conf"

if [ "$start" -eq 1 ]; then
    for group in gpio i2c spi; do
        getent group "$group" >/dev/null || groupadd --system "$group"
    done
    if ! id meterd >/dev/null 2>&1; then
        useradd --system --no-create-home --home-dir /var/lib/meterd --shell /usr/sbin/nologin \
            --user-group --groups gpio,i2c,spi meterd
    fi
    chgrp meterd "$etc" "$etc/meterd.toml" "$etc/api-token"
    chmod 0640 "$etc/api-token"
    systemctl daemon-reload
    systemctl enable --now meterd.service
    systemctl --no-pager status meterd.service || true
fi
echo "meterd installed${root:+ under $root}"
