#!/bin/sh
# Installs weft from a build directory into a temporary root (DESTDIR) and
# builds tests/install/app.c there as a program outside the tree would be
# built: with find_package(weft) (the shared and the static target) and
# with pkg-config (shared, with the rpath that README gives for a prefix
# the loader does not search); runs each and checks what it prints and
# which libweft.so it loaded; and that an install into a prefix the
# loader does not search says what to do. Run by test_install
# (tests/test_install.c).
#   tests/install.sh BUILD_DIR PREFIX LIBDIR CC CMAKE
# PREFIX and LIBDIR: the build's CMAKE_INSTALL_PREFIX and full libdir.
set -u
build=$1
prefix=$2
libdir=$3
cc=$4
cmake=${5:-cmake}
src=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/weft-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
root=$tmp/root
fail() {
    echo "install.sh: $*" >&2
    exit 1
}

DESTDIR=$root "$cmake" --install "$build" >"$tmp/install.log" 2>&1 || {
    cat "$tmp/install.log"
    fail "cmake --install failed"
}
for f in "$prefix/include/weft.h" "$libdir/libweft.a" "$libdir/libweft.so.0" \
    "$libdir/pkgconfig/weft.pc" "$libdir/cmake/weft/weftConfig.cmake"; do
    [ -f "$root$f" ] || fail "not installed: $f"
done
echo "installed into DESTDIR, prefix $prefix"

# A real install (no DESTDIR) into a prefix the loader does not search
# says how programs can find the library, and runs no ldconfig.
"$cmake" --install "$build" --prefix "$tmp/elsewhere" >"$tmp/install2.log" 2>&1 ||
    fail "cmake --install --prefix failed: $(cat "$tmp/install2.log")"
grep -q "$tmp/elsewhere/lib.* is not searched by the dynamic loader: link programs with -Wl,-rpath" \
    "$tmp/install2.log" || fail "no advice for an unsearched prefix: $(cat "$tmp/install2.log")"
! grep -q "weft: ldconfig" "$tmp/install2.log" || fail "ran ldconfig for an unsearched prefix"
echo "an unsearched prefix: the install says what to do"

# check PROGRAM: it runs, prints its sum, and a shared one loaded the
# installed library.
check() {
    out=$("$1" 2>&1) || fail "$1 failed: $out"
    case "$out" in
    sum=6\ *) ;;
    *) fail "$1 printed: $out" ;;
    esac
    if [ "${2:-}" = shared ]; then
        lib=$(LD_TRACE_LOADED_OBJECTS=1 "$1" | awk '/libweft\.so/ { print $3 }')
        case "$lib" in
        "$root$libdir"/*) ;;
        *) fail "$1 loaded libweft from '$lib', not from the installed copy" ;;
        esac
    fi
    echo "  $(basename "$1"): $out"
}

echo "find_package(weft):"
"$cmake" -S "$src/install" -B "$tmp/app" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_PREFIX_PATH="$root$prefix" >"$tmp/cmake.log" 2>&1 &&
    "$cmake" --build "$tmp/app" >>"$tmp/cmake.log" 2>&1 || {
    cat "$tmp/cmake.log"
    fail "the find_package(weft) build failed"
}
check "$tmp/app/app_shared" shared
check "$tmp/app/app_static"

if command -v pkg-config >/dev/null 2>&1; then
    echo "pkg-config:"
    PKG_CONFIG_PATH=$root$libdir/pkgconfig
    PKG_CONFIG_SYSROOT_DIR=$root
    export PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
    # shellcheck disable=SC2046 # pkg-config prints lists of words
    "$cc" -o "$tmp/app_pc" "$src/install/app.c" $(pkg-config --cflags --libs weft) \
        -Wl,-rpath,"$(pkg-config --variable=libdir weft)" 2>"$tmp/cc.log" || {
        cat "$tmp/cc.log"
        fail "the pkg-config build failed"
    }
    check "$tmp/app_pc" shared
else
    echo "pkg-config: skipped (pkg-config not installed)"
fi
echo "install: ok"
