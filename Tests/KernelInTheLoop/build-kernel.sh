#!/usr/bin/env bash
# The guest kernel: Debian's own bookworm kernel (linux-image-amd64, unpacked, not installed),
# the modules the guest loads, and gpio-sim (which Debian does not build) compiled as an
# out-of-tree module against Debian's linux-headers from linux-source-6.1's own gpio-sim.c.
# Nothing is compiled but that one module, so a cold start takes a minute or two, not the hour a
# kernel build takes on a loaded 2-core machine. Cached outside git, keyed by this script and
# the package versions; prints the cache folder (vmlinuz, modules/*.ko, load-order).
#
# Needs: linux-headers-<abi>-amd64 installed (kbuild), linux-source-6.1, apt-get download.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_tarball=/usr/src/linux-source-6.1.tar.xz
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"

# The kernel ABI Debian's metapackage points at now, e.g. 6.1.0-57.
abi="$(apt-cache depends linux-image-amd64 | sed -n 's/.*Depends: linux-image-\(.*\)-amd64$/\1/p' | head -1)"
[[ -n "$abi" ]] || { echo "build-kernel: cannot resolve linux-image-amd64's kernel ABI" >&2; exit 1; }
image_package="linux-image-$abi-amd64"
headers="/usr/src/linux-headers-$abi-amd64"
if [[ ! -d "$headers" ]]; then
    echo "build-kernel: $headers is missing: apt-get install linux-headers-$abi-amd64" >&2
    exit 1
fi
image_version="$(apt-cache show "$image_package" | sed -n 's/^Version: //p' | head -1)"
source_version="$(dpkg-query -W -f='${Version}' linux-source-6.1)"
if [[ "$image_version" != "$source_version" ]]; then
    # gpio-sim.c uses gpiolib's private header: take it from the same kernel release.
    echo "build-kernel: $image_package is $image_version but linux-source-6.1 is $source_version;" \
        "install the same version of both" >&2
    exit 1
fi

key="$( (cat "$here/build-kernel.sh"; echo "$image_package $image_version") | sha256sum | cut -c1-16)"
out="$cache_root/kernel-$key"
if [[ -f "$out/load-order" ]]; then
    echo "$out"
    exit 0
fi

work="$cache_root/build-$key"
rm -rf "$work"
mkdir -p "$work/deb" "$work/gpio-sim"
echo "guest kernel $key: $image_package $image_version, gpio-sim from linux-source-6.1" >&2

# Debian's kernel and modules, unpacked (installing would run update-initramfs for nothing).
(cd "$work/deb" && apt-get download "$image_package" >/dev/null 2>&1) || {
    echo "build-kernel: apt-get download $image_package failed" >&2
    exit 1
}
dpkg-deb -x "$work"/deb/*.deb "$work/image"

# gpio-sim and the interrupt simulator it selects (IRQ_SIM, also not in Debian's kernel), as
# one module. irq_sim.c calls irq_to_desc(), which modules cannot: generic_handle_irq() runs
# the same handler (handle_simple_irq, set when the interrupt is mapped).
tar -xJf "$source_tarball" -C "$work" linux-source-6.1/drivers/gpio/gpio-sim.c \
    linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c
cp "$work"/linux-source-6.1/drivers/gpio/{gpio-sim.c,gpiolib.h} \
    "$work"/linux-source-6.1/kernel/irq/irq_sim.c "$work/gpio-sim/"
sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/generic_handle_irq(irqnum);/' \
    "$work/gpio-sim/irq_sim.c"
grep -q 'generic_handle_irq(irqnum);' "$work/gpio-sim/irq_sim.c" || {
    echo "build-kernel: irq_sim.c no longer has the line to patch" >&2
    exit 1
}
printf 'obj-m := meter-gpio-sim.o\nmeter-gpio-sim-y := gpio-sim.o irq_sim.o\n' >"$work/gpio-sim/Kbuild"
make -s -C "$headers" M="$work/gpio-sim" modules >&2

staged="$out.partial"
rm -rf "$staged"
mkdir -p "$staged/modules"
cp "$work"/image/boot/vmlinuz-* "$staged/vmlinuz"
modules="$work/image/lib/modules/$abi-amd64/kernel"
# In load order: each after what it depends on (modinfo's depends= lines).
for module in fs/configfs/configfs drivers/i2c/i2c-dev drivers/hid/hid drivers/hid/uhid \
    drivers/hid/hid-cp2112 fs/fuse/fuse fs/fuse/cuse; do
    cp "$modules/$module.ko" "$staged/modules/"
    basename "$module" >>"$staged/load-order"
done
cp "$work/gpio-sim/meter-gpio-sim.ko" "$staged/modules/"
# gpio-sim after configfs, its only dependency.
sed -i '1a meter-gpio-sim' "$staged/load-order"
echo "$image_package $image_version" >"$staged/version"
mv "$staged" "$out"
rm -rf "$work"
echo "$out"
