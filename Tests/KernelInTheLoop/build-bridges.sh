#!/usr/bin/env bash
# Builds the guest's bridges from bridges/ into the cache, keyed by their sources' hash:
# meter-cuse (CUSE, libfuse3) and meter-cp2112 (uhid). Prints the two binaries' paths.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"
key="$(cat "$here"/bridges/* "$here/build-bridges.sh" | sha256sum | cut -c1-16)"
cuse="$cache_root/bridges-$key/meter-cuse"
cp2112="$cache_root/bridges-$key/meter-cp2112"
if [[ ! -x "$cuse" || ! -x "$cp2112" ]]; then
    mkdir -p "$cache_root/bridges-$key"
    flags=(-O2 -Wall -Wextra -Werror)
    gcc "${flags[@]}" -o "$cuse.partial" "$here/bridges/meter-cuse.c" \
        $(pkg-config --cflags --libs fuse3)
    gcc "${flags[@]}" -o "$cp2112.partial" "$here/bridges/meter-cp2112.c"
    mv "$cuse.partial" "$cuse"
    mv "$cp2112.partial" "$cp2112"
fi
echo "$cuse"
echo "$cp2112"
