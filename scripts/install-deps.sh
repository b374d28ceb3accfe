#!/usr/bin/env bash
# Installs the Debian packages orgsync needs when they are missing.
#   install-deps.sh build   compile and run
#   install-deps.sh test    build + everything `make check` runs
#   install-deps.sh dev     test + lint tools
#   install-deps.sh demo    build + what make demo uses
#   install-deps.sh bench   build + what make bench uses
#   install-deps.sh windows what make windows and windows-check use: mingw-w64,
#                           wine, and deb-src entries for apt-get source
#   install-deps.sh deb     what make deb, deb-check and dist use
# Runs apt-get update once before installing; needs root (or sudo).
set -euo pipefail

build=(gcc make pkg-config libc6-dev libcsv-dev libyajl-dev libjansson-dev libsqlite3-dev libpq-dev libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev)
test=("${build[@]}" postgresql libcmocka-dev clang libclang-rt-14-dev valgrind sqlite3 curl jq openssl wrk python3 python3-aiosmtpd nodejs npm python3-jsonschema chromium fonts-dejavu-core)
dev=("${test[@]}" clang-tidy cppcheck hyperfine)
demo=("${build[@]}" curl jq)
bench=("${build[@]}" libcmocka-dev curl jq sqlite3 bc wrk python3 python3-aiosmtpd)
deb=("${build[@]}" dpkg-dev lintian debootstrap systemd curl zip)
windows=(gcc-mingw-w64-x86-64 wine wine64 dpkg-dev openssl curl jq sqlite3 python3)

case "${1:-build}" in
build) want=("${build[@]}") ;;
demo) want=("${demo[@]}") ;;
bench) want=("${bench[@]}") ;;
test) want=("${test[@]}") ;;
windows) want=("${windows[@]}") ;;
deb) want=("${deb[@]}") ;;
dev) want=("${dev[@]}") ;;
*) echo "usage: $0 build|test|dev|demo|bench|windows|deb" >&2; exit 2 ;;
esac

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	sudo=(sudo)
fi

# deb-src twins of the enabled deb entries of the deb822 sources files, for
# apt-get source (scripts/win-deps.sh), written once when apt has none.
need_update=0
if [ "${1:-build}" = windows ] && ! apt-cache showsrc --only-source jansson 2>/dev/null | grep -q '^Version:'; then
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -e "$f" ] || continue
		awk 'BEGIN { RS = ""; ORS = "\n\n" }
		     /(^|\n)Types:[^\n]*deb([ \t]|\n|$)/ && !/(^|\n)Types:[^\n]*deb-src/ &&
		     !/(^|\n)Enabled:[ \t]*no/ {
			sub(/(^|\n)Types:[^\n]*/, "\nTypes: deb-src"); sub(/^\n/, ""); print }' "$f"
	done >/tmp/orgsync-deb-src.sources
	# The one-line format (/etc/apt/sources.list) the same way.
	grep -hE '^deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
		sed 's/^deb/deb-src/' >/tmp/orgsync-deb-src.list || true
	[ -s /tmp/orgsync-deb-src.sources ] &&
		"${sudo[@]}" install -m 0644 /tmp/orgsync-deb-src.sources /etc/apt/sources.list.d/orgsync-deb-src.sources
	[ -s /tmp/orgsync-deb-src.list ] &&
		"${sudo[@]}" install -m 0644 /tmp/orgsync-deb-src.list /etc/apt/sources.list.d/orgsync-deb-src.list
	rm -f /tmp/orgsync-deb-src.sources /tmp/orgsync-deb-src.list
	need_update=1
fi

# Names that an installed package provides count as installed: NodeSource's
# nodejs provides npm, and Debian's npm package would conflict with it.
provided=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Provides}\n' 2>/dev/null |
	sed -n 's/^ii *//p' | tr ',' ' ' | sed 's/([^)]*)//g' | tr -s ' \n' ' ') "
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
	[[ $provided == *" $p "* ]] && continue
	missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	[ $need_update -eq 1 ] && "${sudo[@]}" apt-get update -qq
	exit 0
fi

echo "installing: ${missing[*]}"
if [ ${#sudo[@]} -gt 0 ] && ! command -v sudo >/dev/null; then
	echo "missing packages and not root: ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
