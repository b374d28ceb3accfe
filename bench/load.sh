#!/usr/bin/env bash
# Read-load benchmark: the load of tests/e2e/test_load.sh (wrk driving
# tests/e2e/load.lua, with the helpers of tests/e2e/load_lib.sh) at scale,
# next to its floor measured in the same run: wrk on GET /healthz alone, the
# cheapest route. Each route alone, then the mix of all of them, with the
# server's resident memory at the start, middle and end of the mix.
#   bench/load.sh [BUILD_DIR]       (default: build)
# Environment: MEMBERS=100000, LOAD_SECS=30 (the mix), ROUTE_SECS=5 (each
# route alone, the floor included), LOAD_CONNS=64, LOAD_WARM_SECS=3,
# LOAD_TIMEOUT=10 (seconds before wrk gives up on an answer and counts a
# timeout: longer than the e2e test's 2 s, so that slow routes show in the
# latencies rather than as errors).
# Exit status 1 when an answer was not 2xx or a socket error occurred (a
# slow figure is only reported: the machine is too noisy to fail on one).
set -uo pipefail

BUILD=${1:-build}
if [ ! -x "$BUILD/orgsync" ]; then
	echo "usage: $0 [BUILD_DIR]  (holding orgsync: make all)" >&2
	exit 2
fi
ORGSYNC=$(realpath "$BUILD/orgsync")
export ORGSYNC
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../tests/e2e/lib.sh"
# shellcheck source=tests/e2e/load_lib.sh
. tests/e2e/load_lib.sh

MEMBERS=${MEMBERS:-100000}
LOAD_SECS=${LOAD_SECS:-30}
ROUTE_SECS=${ROUTE_SECS:-5}
CONNS=${LOAD_CONNS:-64}
WARM_SECS=${LOAD_WARM_SECS:-3}
LOAD_TIMEOUT=${LOAD_TIMEOUT:-10}
DATA=bench/data/m$MEMBERS-s42 # the org of bench/service.sh: generated once, reused
WAIT_SECS=${E2E_WAIT:-300}     # the first sync of a large org

for tool in wrk bc; do
	command -v "$tool" >/dev/null || { echo "$tool is not installed (apt-get install -y $tool)" >&2; exit 2; }
done

# step MESSAGE: progress on standard error, the report stays on standard output.
step() {
	echo "load: $*" >&2
}

load_serve_opts
step "starting $ORGSYNC serve ${LOAD_SERVE_OPTS[*]}"
start_server ${LOAD_SERVE_OPTS[@]+"${LOAD_SERVE_OPTS[@]}"}
mkdir -p bench/data
step "loading an org of $MEMBERS members from $DATA"
t0=$(date +%s.%N)
if ! load_org "$MEMBERS" "$DATA"; then
	echo "load: $LOAD_ERR" >&2
	exit 1
fi
sync_secs=$(echo "$(date +%s.%N) - $t0" | bc)

for r in "${LOAD_ROUTES[@]}"; do load_paths "$TMP/paths.$r" "$MEMBERS" "$r"; done
load_paths "$TMP/paths.mix" "$MEMBERS" "${LOAD_ROUTES[@]}"

ERRORS=0
ROWS=()
# measure NAME PATHS SECS: one wrk run; appends a row of figures to ROWS and
# counts its non-2xx answers and socket errors in ERRORS.
measure() {
	step "$1: $3 s"
	load_run "$3" "$CONNS" "$2" "$TMP/wrk.$1"
	if [ -z "$W_REQS" ]; then
		echo "load: wrk gave no figures for $1:" >&2
		cat "$TMP/wrk.$1" >&2
		ERRORS=$((ERRORS + 1))
		return
	fi
	ROWS+=("$1 $W_REQS $W_RPS $W_P50 $W_P90 $W_P99 $W_MAX $W_OTHER $W_SOCK")
	ERRORS=$((ERRORS + W_OTHER + W_SOCK))
	[ -z "$W_BAD" ] || printf '%s\n' "$W_BAD" | sed "s/^/load: $1: /" >&2
}

# The warm-up's row shows the first reads after the sync (the org loaded
# into the server's cache); the mix's RSS is measured from its end.
measure warm-up "$TMP/paths.mix" "$WARM_SECS"
for r in "${LOAD_ROUTES[@]}"; do measure "$r" "$TMP/paths.$r" "$ROUTE_SECS"; done
measure mix "$TMP/paths.mix" "$LOAD_SECS"
MIX_RSS="$RSS_START $RSS_MID $RSS_END"

# The heaviest read: the teams visible to the manager of the root team
# (every team, found by a walk down the subteams). Best of 3, one at a time.
root_manager=$(awk -F, '$1 == "T000001" && $5 == "true" { print $2; exit }' "$DATA/teams-mappings.csv")
heavy=
if [ -n "$root_manager" ]; then
	for _ in 1 2 3; do
		s=$(curl -s -o /dev/null -w '%{time_total}' -H "Authorization: Bearer $KEY" \
			"$BASE/v1/members/$root_manager/visible-teams")
		heavy=$(printf '%s\n%s\n' "$heavy" "$s" | awk 'NF' | sort -g | head -1)
	done
fi

floor_rps=$(awk '$1 == "healthz" { print $3 }' <<<"$(printf '%s\n' "${ROWS[@]}")")
floor_p50=$(awk '$1 == "healthz" { print $4 }' <<<"$(printf '%s\n' "${ROWS[@]}")")
read -r r0 r1 r2 <<<"$MIX_RSS"

printf '\nread load, %s members, wrk -t2 -c%s, %s; %s CPU, %s\n' "$MEMBERS" "$CONNS" \
	"$(date -u +%F)" "$(nproc)" "$(uname -sr)"
printf 'first sync of the org: %.1f s; each route alone %s s, the mix %s s\n' "$sync_secs" \
	"$ROUTE_SECS" "$LOAD_SECS"
printf '%-14s %9s %9s %9s %8s %8s %8s %8s %9s %8s %7s\n' route requests req/s "/ floor" \
	"p50 ms" "p90 ms" "p99 ms" "max ms" "p50 x fl" non-2xx sockerr
for row in "${ROWS[@]}"; do
	read -r name n rps p50 p90 p99 max other sock <<<"$row"
	[ "$name" = healthz ] && name="healthz=floor"
	[ "$name" = warm-up ] && name="mix warm-up"
	printf '%-14s %9s %9s %9s %8s %8s %8s %8s %9s %8s %7s\n' "$name" "$n" "$rps" \
		"$(awk -v a="$rps" -v b="$floor_rps" 'BEGIN { printf "%.3f", (b ? a / b : 0) }')" \
		"$p50" "$p90" "$p99" "$max" \
		"$(awk -v a="$p50" -v b="$floor_p50" 'BEGIN { printf "%.1f", (b > 0 ? a / b : 0) }')" \
		"$other" "$sock"
done
printf 'server RSS during the mix: %s MiB at the start (after %s s of warm-up), %s halfway, %s at the end\n' \
	"$(mib "$r0")" "$WARM_SECS" "$(mib "$r1")" "$(mib "$r2")"
[ -n "$heavy" ] && printf 'visible-teams of the root team'"'"'s manager (%s), alone: %.3f s\n' \
	"$root_manager" "$heavy"
printf 'errors (non-2xx answers and socket errors, every run): %s\n' "$ERRORS"

stop_server || echo "load: the server did not stop cleanly" >&2
[ "$ERRORS" -eq 0 ]
