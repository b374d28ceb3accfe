#!/usr/bin/env bash
# Installs the Debian packages orgsync needs when they are missing.
#   install-deps.sh build   compile and run
#   install-deps.sh test    build + everything `make check` runs
#   install-deps.sh dev     test + lint tools
#   install-deps.sh demo    build + what make demo uses
#   install-deps.sh bench   build + what make bench uses
# Runs apt-get update once before installing; needs root (or sudo).
set -euo pipefail

build=(gcc make pkg-config libc6-dev libcsv-dev libyajl-dev libjansson-dev libsqlite3-dev libsodium-dev libmicrohttpd-dev libcurl4-openssl-dev)
test=("${build[@]}" libcmocka-dev clang libclang-rt-14-dev valgrind sqlite3 curl jq openssl wrk)
dev=("${test[@]}" clang-tidy cppcheck hyperfine)
demo=("${build[@]}" curl jq)
bench=("${build[@]}" libcmocka-dev curl jq sqlite3 bc wrk)

case "${1:-build}" in
build) want=("${build[@]}") ;;
demo) want=("${demo[@]}") ;;
bench) want=("${bench[@]}") ;;
test) want=("${test[@]}") ;;
dev) want=("${dev[@]}") ;;
*) echo "usage: $0 build|test|dev|demo|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=()
if [ "$(id -u)" -ne 0 ]; then
	command -v sudo >/dev/null || { echo "missing packages and not root: ${missing[*]}" >&2; exit 1; }
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
