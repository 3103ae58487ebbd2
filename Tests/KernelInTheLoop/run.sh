#!/usr/bin/env bash
# Kernel-in-the-loop suite: prepares (or reuses) the guest kernel (Debian's, plus a gpio-sim
# module: build-kernel.sh), packs the test binaries and their libraries into an initramfs, boots
# it under QEMU (TCG) and reads the guest's marker lines. Exit status 0 only if every guest test
# passed.
#   Tests/KernelInTheLoop/run.sh            (from the package root; swift build first if needed)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"
started=$(date +%s)

kernel="$("$here/build-kernel.sh")"
echo "kernel: $(cat "$kernel/version") + gpio-sim module, $kernel ($(( $(date +%s) - started )) s)"

# KITL_BIN: a folder with meter-hwtest, meter-loop-latency and meter-models already built (skips
# the swift build).
# KITL_BIN_LIBGPIOD2: the same for meter-hwtest linked with libgpiod 2.x; KITL_LIBGPIOD2=0 skips
# that build and its guest run.
if [[ -n "${KITL_BIN:-}" ]]; then
    bin="$KITL_BIN"
    bin_libgpiod2="${KITL_BIN_LIBGPIOD2:-}"
else
    (cd "$root" && swift build --product meter-hwtest >/dev/null \
        && swift build --product meter-loop-latency >/dev/null \
        && swift build --product meter-models >/dev/null)
    bin="$(cd "$root" && swift build --show-bin-path)"
    bin_libgpiod2=""
    if [[ "${KITL_LIBGPIOD2:-1}" != 0 ]]; then
        # MeterLinux's libgpiod 2.x branch, compiled and linked against libgpiod 2.x (static),
        # in a scratch folder of its own so the main build keeps Debian's 1.6.
        libgpiod2_started=$(date +%s)
        pkgconfig="$("$here/build-libgpiod2.sh")"
        (cd "$root" && PKG_CONFIG_PATH="$pkgconfig" swift build --scratch-path .build/libgpiod2 \
            --product meter-hwtest >/dev/null)
        bin_libgpiod2="$root/.build/libgpiod2/debug"
        echo "meter-hwtest with libgpiod 2.x: $(( $(date +%s) - libgpiod2_started )) s"
    fi
fi
bridges="$("$here/build-bridges.sh")"

staging="$(mktemp -d /tmp/meter-kitl-initramfs.XXXXXX)"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"/{bin,dev,proc,sys,tmp,lib,lib64,etc} "$staging/lib/modules"
# Debian's modules and the gpio-sim module, loaded by /init in this order.
cp "$kernel"/modules/*.ko "$staging/lib/modules/"
cp "$kernel/load-order" "$staging/lib/modules/load-order"
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
pack "$bin/meter-loop-latency"
runs=3
if [[ -n "$bin_libgpiod2" ]]; then
    pack "$bin_libgpiod2/meter-hwtest" meter-hwtest-libgpiod2
    runs=4
fi
initrd="$cache_root/initramfs.cpio"
(cd "$staging" && find . | cpio -o -H newc --quiet) >"$initrd"
echo "initramfs: $(du -h "$initrd" | cut -f1)"

log="$cache_root/guest.log"
boot_started=$(date +%s)
# Debian's kernel from linux-image-amd64 (build-kernel.sh).
# -icount shift=0,sleep=off: the guest's clock counts emulated instructions (1 ns each, a 1 GHz
# CPU whose TSC runs at 1 GHz: hence tsc_early_khz) and skips idle time, instead of following the
# host's clock. Timing in the guest (the CP2112 driver's 50 ms response timeout, the latency
# figures) then does not depend on how busy the host is, and the 1 s polling sleeps cost nothing.
# no_timer_check: the kernel's IO-APIC timer check, which can fail on a slow emulated CPU.
timeout 900 qemu-system-x86_64 -M pc -accel tcg -icount shift=0,sleep=off -cpu max -smp 1 -m 1G \
    -nographic -no-reboot -nodefaults -serial stdio -display none -kernel "$kernel/vmlinuz" \
    -initrd "$initrd" -append "console=ttyS0 panic=-1 rdinit=/init quiet loglevel=4 \
tsc=reliable clocksource=tsc tsc_early_khz=1000000 no_timer_check" </dev/null >"$log" 2>&1 || true
tr -d '\r' <"$log" | grep -vE '^\s*$' | sed -n '/KITL-BEGIN/,$p'
echo "guest run: $(( $(date +%s) - boot_started )) s; whole suite: $(( $(date +%s) - started )) s"

results="$(tr -d '\r' <"$log" | grep '^KITL-RESULT' || true)"
if [[ "$(echo "$results" | grep -c .)" != "$runs" ]]; then
    echo "kernel-in-the-loop: the guest did not report all $runs runs (log: $log)"
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
