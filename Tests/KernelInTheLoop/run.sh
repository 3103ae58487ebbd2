#!/usr/bin/env bash
# Kernel-in-the-loop suite: builds (or reuses) the guest kernel, packs the test binaries and
# their libraries into an initramfs, boots it under QEMU (TCG) and reads the guest's marker
# lines. Exit status 0 only if every guest test passed.
#   Tests/KernelInTheLoop/run.sh            (from the package root; swift build first if needed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"
started=$(date +%s)

kernel="$("$here/build-kernel.sh")"
echo "kernel: $kernel ($(( $(date +%s) - started )) s)"

# KITL_BIN: a folder with meter-hwtest and meter-models already built (skips the swift build).
if [[ -n "${KITL_BIN:-}" ]]; then
    bin="$KITL_BIN"
else
    (cd "$root" && swift build --product meter-hwtest >/dev/null && swift build --product meter-models >/dev/null)
    bin="$(cd "$root" && swift build --show-bin-path)"
fi
bridges="$("$here/build-bridges.sh")"

staging="$(mktemp -d /tmp/meter-kitl-initramfs.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"/{bin,dev,proc,sys,tmp,lib,lib64,etc}
cp /bin/busybox "$staging/bin/busybox"
cp "$here/guest-init.sh" "$staging/init"
chmod +x "$staging/init"
echo "root:x:0:0::/:/bin/sh" >"$staging/etc/passwd"
echo "meter:x:1000:1000::/tmp:/bin/sh" >>"$staging/etc/passwd"

# Each binary with the shared libraries the loader will ask for, at the same paths.
pack() {
    cp "$1" "$staging/bin/${2:-$(basename "$1")}"
    ldd "$1" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r library; do
        mkdir -p "$staging$(dirname "$library")"
        cp -L "$library" "$staging$library"
    done
}
pack "$bin/meter-hwtest"
pack "$(echo "$bridges" | sed -n 1p)" meter-cuse
pack "$(echo "$bridges" | sed -n 2p)" meter-cp2112
pack "$bin/meter-models"
initrd="$cache_root/initramfs.cpio"
(cd "$staging" && find . | cpio -o -H newc --quiet) >"$initrd"
echo "initramfs: $(du -h "$initrd" | cut -f1)"

log="$cache_root/guest.log"
boot_started=$(date +%s)
timeout 600 qemu-system-x86_64 -M pc -accel tcg -cpu max -smp 1 -m 1G -nographic -no-reboot \
    -nodefaults -serial stdio -display none -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=4 tsc=reliable clocksource=tsc no_timer_check" </dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log" | grep -vE '^\s*$' | sed -n '/KITL-BEGIN/,$p'
echo "guest run: $(( $(date +%s) - boot_started )) s; whole suite: $(( $(date +%s) - started )) s"

results="$(tr -d '\r' <"$log" | grep '^KITL-RESULT' || true)"
if [[ "$(echo "$results" | grep -c .)" != 2 ]]; then
    echo "kernel-in-the-loop: the guest did not report both runs (log: $log)"
    exit 1
fi
total=0
failed=0
while read -r _ tests passed fails; do
    total=$(( total + ${tests#tests=} ))
    failed=$(( failed + ${fails#failed=} ))
done <<<"$results"
echo "kernel-in-the-loop: $total tests, $failed failed"
[[ $failed == 0 ]]
