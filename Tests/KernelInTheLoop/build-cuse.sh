#!/usr/bin/env bash
# Builds the CUSE bridge (cuse/meter-cuse.c, libfuse3) into the cache, keyed by its source
# hash; prints the binary's path.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache_root="${KITL_CACHE:-/var/cache/meter-kitl}"
key="$(cat "$here/cuse/meter-cuse.c" "$here/build-cuse.sh" | sha256sum | cut -c1-16)"
binary="$cache_root/meter-cuse-$key"
if [[ ! -x "$binary" ]]; then
    mkdir -p "$cache_root"
    gcc -O2 -Wall -Wextra -Werror -o "$binary.partial" "$here/cuse/meter-cuse.c" \
        $(pkg-config --cflags --libs fuse3)
    mv "$binary.partial" "$binary"
fi
echo "$binary"
