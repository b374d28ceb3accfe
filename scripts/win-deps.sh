#!/usr/bin/env bash
# Builds the libraries orgsync.exe links (libcsv, yajl, jansson) for 64-bit
# Windows, from Debian's own source packages (apt-get source), with the
# mingw-w64 cross compiler. Nothing third-party lives in the repository.
#   win-deps.sh DIR    headers in DIR/include, static libraries in DIR/lib
# DIR/stamp holds the source versions built: a rerun with the same versions
# does nothing. Needs deb-src entries (scripts/install-deps.sh windows).
set -euo pipefail

out=${1:?usage: win-deps.sh DIR}
cc=${WIN_CC:-x86_64-w64-mingw32-gcc}
ar=${WIN_AR:-x86_64-w64-mingw32-ar}
cflags=(-O2 -g0 -w)
pkgs=(libcsv yajl jansson)

# The newest version of each source package apt knows: the cache key.
want=""
for p in "${pkgs[@]}"; do
	v=$(apt-cache showsrc --only-source "$p" 2>/dev/null | sed -n 's/^Version: //p' |
		while read -r x; do echo "$x"; done | sort -V | tail -n 1)
	if [ -z "$v" ]; then
		echo "win-deps: no source package '$p' known to apt: run 'scripts/install-deps.sh windows'" >&2
		exit 1
	fi
	want+="$p=$v "
done
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$want" ]; then
	exit 0
fi

echo "win-deps: building $want for Windows"
rm -rf "$out"
mkdir -p "$out/src" "$out/include/yajl" "$out/lib" "$out/obj"
read -ra versions <<<"$want"
(cd "$out/src" && apt-get source -qq --only-source "${versions[@]}" >../fetch.log 2>&1) || {
	cat "$out/fetch.log" >&2
	exit 1
}

# libcsv: one file.
csv=$(echo "$out"/src/libcsv-*/)
cp "$csv/csv.h" "$out/include/"
"$cc" "${cflags[@]}" -c "$csv/libcsv.c" -o "$out/obj/libcsv.o"
"$ar" rcs "$out/lib/libcsv.a" "$out/obj/libcsv.o"

# yajl: its headers go under yajl/, yajl_version.h from its template.
yajl=$(echo "$out"/src/yajl-*/)
IFS=. read -r major minor micro <<<"$(basename "$yajl" | sed 's/^yajl-//')"
cp "$yajl"/src/api/yajl_{common,gen,parse,tree}.h "$out/include/yajl/"
sed -e "s/\${YAJL_MAJOR}/$major/" -e "s/\${YAJL_MINOR}/$minor/" -e "s/\${YAJL_MICRO}/$micro/" \
	"$yajl/src/api/yajl_version.h.cmake" >"$out/include/yajl/yajl_version.h"
objs=()
for f in "$yajl"/src/*.c; do
	o="$out/obj/yajl_$(basename "$f" .c).o"
	"$cc" "${cflags[@]}" -I"$out/include" -c "$f" -o "$o"
	objs+=("$o")
done
"$ar" rcs "$out/lib/libyajl.a" "${objs[@]}"

# jansson: jansson_config.h from its template, as its configure would make it
# for this compiler; the hash seed from the Windows CryptoAPI.
jansson=$(echo "$out"/src/jansson-*/)
sed -e 's/@json_inline@/inline/' -e 's/@json_have_long_long@/1/' \
	-e 's/@json_have_localeconv@/1/' -e 's/@json_have_atomic_builtins@/1/' \
	-e 's/@json_have_sync_builtins@/1/' \
	"$jansson/src/jansson_config.h.in" >"$out/include/jansson_config.h"
cp "$jansson/src/jansson.h" "$out/include/"
have='FCNTL_H|UNISTD_H|SYS_STAT_H|SYS_TYPES_H|STDINT_H|GETPID|SYNC_BUILTINS|ATOMIC_BUILTINS'
have+='|LOCALE_H|SETLOCALE|INT32_T|UINT32_T|UINT16_T|UINT8_T|SSIZE_T'
sed -E -e "s/^#cmakedefine (HAVE_($have)|USE_WINDOWS_CRYPTOAPI) 1/#define \\1 1/" \
	-e 's/^#cmakedefine ([A-Z_0-9]+) 1/\/* #undef \1 *\//' \
	-e 's/@JANSSON_INITIAL_HASHTABLE_ORDER@/3/' \
	"$jansson/cmake/jansson_private_config.h.cmake" >"$out/jansson_private_config.h"
objs=()
for f in "$jansson"/src/*.c; do
	o="$out/obj/jansson_$(basename "$f" .c).o"
	"$cc" "${cflags[@]}" -I"$out/include" -I"$out" -DHAVE_CONFIG_H=1 -c "$f" -o "$o"
	objs+=("$o")
done
"$ar" rcs "$out/lib/libjansson.a" "${objs[@]}"

rm -rf "$out/obj"
echo "$want" >"$out/stamp"
