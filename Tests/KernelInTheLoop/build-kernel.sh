#!/usr/bin/env bash
# Builds the guest kernel from Debian's linux-source-6.1 with kernel.config merged onto
# allnoconfig. Cached outside git, keyed by the hash of the config, this script and the source
# package version; prints the path of the bzImage.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source_tarball=/usr/src/linux-source-6.1.tar.xz
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"

source_version="$(dpkg-query -W -f='${Version}' linux-source-6.1)"
key="$( (cat "$here/kernel.config" "$here/build-kernel.sh"; echo "$source_version") | sha256sum | cut -c1-16)"
image="$cache_root/kernel-$key/bzImage"
if [[ -f "$image" ]]; then
    echo "$image"
    exit 0
fi

work="$cache_root/build-$key"
rm -rf "$work"
mkdir -p "$work"
echo "building guest kernel $key (linux-source-6.1 $source_version) in $work" >&2
tar -xJf "$source_tarball" -C "$work"
src="$work/linux-source-6.1"
make -C "$src" -s allnoconfig >&2
"$src/scripts/kconfig/merge_config.sh" -m -O "$src" "$src/.config" "$here/kernel.config" >/dev/null
make -C "$src" -s olddefconfig >&2

# merge_config only warns when a symbol cannot be set; a silently missing driver would make the
# guest tests fail obscurely, so refuse here with the symbol's name.
missing=0
while IFS= read -r line; do
    [[ "$line" =~ ^CONFIG_ ]] || continue
    if ! grep -qx "$line" "$src/.config"; then
        echo "kernel config: $line did not survive olddefconfig (a dependency is missing)" >&2
        missing=1
    fi
done <"$here/kernel.config"
[[ $missing == 0 ]] || exit 1

make -C "$src" -s -j"$(nproc)" bzImage >&2
mkdir -p "$(dirname "$image")"
cp "$src/arch/x86/boot/bzImage" "$image.partial"
mv "$image.partial" "$image"
rm -rf "$work"
echo "$image"
