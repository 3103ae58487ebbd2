#!/usr/bin/env bash
# Builds libgpiod 2.x (the C library, API 2) for checking MeterLinux's libgpiod 2.x branch on a
# machine that only has Debian 12's 1.6: PyPI's `gpiod` sdist vendors the library's C sources.
# Installs a static libgpiod.a, gpiod.h and libgpiod.pc into the cache and prints the folder to
# put on PKG_CONFIG_PATH.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"
python_package=2.5.0
key="$(cat "$here/build-libgpiod2.sh" | sha256sum | cut -c1-16)"
prefix="$cache_root/libgpiod2-$key"
if [[ ! -f "$prefix/lib/pkgconfig/libgpiod.pc" ]]; then
    work="$(mktemp -d /tmp/libgpiod2.XXXXXX)"
    trap 'rm -rf "$work"' EXIT
    python3 -m pip download -q --no-binary :all: --no-deps -d "$work" "gpiod==$python_package" >&2
    tar -xzf "$work/gpiod-$python_package.tar.gz" -C "$work"
    source="$work/gpiod-$python_package"
    version="$(tr -d '[:space:]' <"$source/libgpiod-version.txt")"
    rm -rf "$prefix"
    mkdir -p "$prefix/lib/pkgconfig" "$prefix/include" "$work/objects"
    for file in "$source"/lib/*.c; do
        gcc -O2 -fPIC -D_GNU_SOURCE -DGPIOD_API_VERSION_STR="\"$version\"" \
            -I"$source/include" -I"$source/lib" -c "$file" \
            -o "$work/objects/$(basename "$file" .c).o"
    done
    ar rcs "$prefix/lib/libgpiod.a" "$work"/objects/*.o
    cp "$source/include/gpiod.h" "$prefix/include/"
    cat >"$prefix/lib/pkgconfig/libgpiod.pc" <<PC
prefix=$prefix
Name: libgpiod
Description: libgpiod $version, built from PyPI gpiod $python_package's vendored sources
Version: $version
Libs: -L\${prefix}/lib -lgpiod
Cflags: -I\${prefix}/include
PC
fi
echo "$prefix/lib/pkgconfig"
