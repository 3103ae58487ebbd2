#!/usr/bin/env bash
# Checks the unit with systemd's own tools and prints their verdicts (run by .ci/run):
#   systemd-analyze verify                      must pass
#   systemd-analyze security --offline=true     must rate the unit at or below 2.5 ("OK")
# and the install script into a scratch root. Usage: systemd/check.sh PATH-TO-BUILT-meterd
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
meterd="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# verify checks that ExecStart's binary exists: check a copy that points at the built one.
sed "s#^ExecStart=/usr/local/bin/meterd#ExecStart=$meterd#" "$here/meterd.service" > "$scratch/meterd.service"
echo "== systemd-analyze verify meterd.service"
systemd-analyze verify "$scratch/meterd.service"
echo "verify: passed"

echo "== systemd-analyze security --offline=true meterd.service"
report="$(systemd-analyze security --offline=true --no-pager "$here/meterd.service")"
echo "$report"
exposure="$(echo "$report" | sed -n 's/.*Overall exposure level for meterd.service: \([0-9.]*\).*/\1/p')"
[ -n "$exposure" ] || { echo "security: no exposure level found" >&2; exit 1; }
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || { echo "security: exposure $exposure is above 2.5" >&2; exit 1; }
echo "security: exposure $exposure (target ≤ 2.5)"

echo "== install.sh --root (scratch)"
"$here/install.sh" --binary "$meterd" --root "$scratch/root"
for file in usr/local/bin/meterd etc/systemd/system/meterd.service etc/meterd/meterd.toml \
    etc/meterd/api-token etc/systemd/system/meterd.service.d/devices.conf; do
    [ -e "$scratch/root/$file" ] || { echo "install.sh did not install $file" >&2; exit 1; }
done
cat "$scratch/root/etc/systemd/system/meterd.service.d/devices.conf"
token_mode="$(stat -c %a "$scratch/root/etc/meterd/api-token")"
[ "$token_mode" = 600 ] || { echo "api-token mode is $token_mode, not 600" >&2; exit 1; }
echo "install: passed"
