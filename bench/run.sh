#!/usr/bin/env bash
# Ingest benchmarks (bench/README.md): generates the 100k and 1M member orgs
# (CSV trio and JSON payload, seed 42) into bench/data/, then times our ingest
# of each against the raw libcsv / yajl pass over the same files.
#   bench/run.sh BUILD_DIR        (make bench runs it with build/)
# Environment: SIZES="100000 1000000", REPEAT=3, SEED=42.
# Generated data is reused while its options and the generator's output are
# unchanged (a stamp in each data directory records both).
set -euo pipefail

if [ $# -ne 1 ] || [ ! -x "$1/orgsync" ] || [ ! -x "$1/bench/ingest" ]; then
	echo "usage: $0 BUILD_DIR  (holding orgsync and bench/ingest: make all build/bench/ingest)" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
data="$here/data"
orgsync="$build/orgsync"
ingest="$build/bench/ingest"
SIZES=${SIZES:-"100000 1000000"}
REPEAT=${REPEAT:-3}
SEED=${SEED:-42}
MAX_RATIO=3      # full ingest + validation within 3x the raw parse
MAX_RSS_1M=600   # MiB of peak RSS for 1M members

mkdir -p "$data"
probe=$(mktemp -d "$data/.probe.XXXXXX")
trap 'rm -rf "$probe"' EXIT

# A fingerprint of what the generator writes: a change to it invalidates the data.
"$orgsync" gen --members 200 --seed "$SEED" --errors 1% --out "$probe" >/dev/null
"$orgsync" gen --members 200 --seed "$SEED" --errors 1% --out "$probe" --format json >/dev/null
fingerprint=$(cat "$probe"/* | sha256sum | cut -c1-16)

mb() { awk -v b="$(stat -c %s "$1")" 'BEGIN { printf "%.1f MB", b / 1e6 }'; }

echo "machine: $(nproc) CPU, $(uname -sr); $(date -u +%Y-%m-%d)"
echo "targets: ingest + validation <= ${MAX_RATIO}x its raw parse (floor); peak RSS <= ${MAX_RSS_1M} MiB at 1M members"
for n in $SIZES; do
	dir="$data/m$n-s$SEED"
	opts="--members $n --seed $SEED"
	stamp="gen $opts (csv, json) generator $fingerprint"
	echo
	if [ -f "$dir/.stamp" ] && [ "$(cat "$dir/.stamp")" = "$stamp" ]; then
		echo "== $n members: reusing $dir"
	else
		echo "== $n members: generating into $dir"
		rm -rf "$dir"
		start=$(date +%s.%N)
		# shellcheck disable=SC2086
		"$orgsync" gen $opts --out "$dir" >/dev/null
		mid=$(date +%s.%N)
		# shellcheck disable=SC2086
		"$orgsync" gen $opts --out "$dir" --format json >/dev/null
		end=$(date +%s.%N)
		awk -v a="$start" -v b="$mid" -v c="$end" \
			'BEGIN { printf "generated: csv %.2f s, json %.2f s\n", b - a, c - b }'
		echo "$stamp" >"$dir/.stamp"
	fi
	echo "files: members.csv $(mb "$dir/members.csv"), teams.csv $(mb "$dir/teams.csv")," \
		"teams-mappings.csv $(mb "$dir/teams-mappings.csv"), org.json $(mb "$dir/org.json")"
	targets=(--max-ratio "$MAX_RATIO")
	[ "$n" -ge 1000000 ] && targets+=(--max-rss "$MAX_RSS_1M")
	"$ingest" --repeat "$REPEAT" "${targets[@]}" "$dir"
done
