#!/usr/bin/env bash
# orgsync.exe validate under wine against the Linux binary, on the same files:
# the 100,000-member sample of `orgsync gen --seed 42`. Prints the best and the
# median wall time of REPEAT runs of each, the ratio of the best times, and
# wine's own start-up (orgsync.exe --version) for scale. (bench/README.md)
#   bench/windows.sh build/orgsync build-win/orgsync.exe [DIR]
set -euo pipefail
linux=$(realpath "$1")
exe=$(realpath "$2")
dir=${3:-bench/data/windows-100k}
repeat=${REPEAT:-5}

[ -f "$dir/members.csv" ] || "$linux" gen --members 100000 --seed 42 --out "$dir" >/dev/null
if [ -z "${WINEPREFIX:-}" ]; then
	WINEPREFIX=$(mktemp -d)
	trap 'wineserver -k 2>/dev/null; rm -rf "$WINEPREFIX"' EXIT
fi
export WINEPREFIX WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
wineboot -i >/dev/null 2>&1
# A persistent wineserver, as on a Windows machine the system is already up.
wineserver -p 60 2>/dev/null || true

# times CMD...: REPEAT wall times in seconds, one a line, sorted.
times() {
	local i t0
	for ((i = 0; i < repeat; i++)); do
		t0=$(date +%s.%N)
		"$@" >/dev/null 2>&1 || [ $? -le 1 ]
		echo "$(date +%s.%N) - $t0" | bc
	done | sort -n
}
report() {
	local name=$1 all=$2
	printf '%-40s best %6.3f s   median %6.3f s\n' "$name" "$(head -n 1 <<<"$all")" \
		"$(sed -n "$(((repeat + 1) / 2))p" <<<"$all")"
}
args=(validate --members "$dir/members.csv" --teams "$dir/teams.csv" --mappings "$dir/teams-mappings.csv" --quiet)
win_exe=("wine" "$exe")
lin=$(times "$linux" "${args[@]}")
win=$(times "${win_exe[@]}" "${args[@]}")
start=$(times "${win_exe[@]}" --version)
report "linux: orgsync validate (100k members)" "$lin"
report "wine:  orgsync.exe validate" "$win"
report "wine:  orgsync.exe --version (start-up)" "$start"
printf 'ratio wine/linux (best): %.2f; without wine start-up: %.2f\n' \
	"$(echo "$(head -n 1 <<<"$win") / $(head -n 1 <<<"$lin")" | bc -l)" \
	"$(echo "($(head -n 1 <<<"$win") - $(head -n 1 <<<"$start")) / $(head -n 1 <<<"$lin")" | bc -l)"
