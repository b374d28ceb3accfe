#!/usr/bin/env bash
# SCIM read benchmark: on an org of MEMBERS members (the org of
# bench/load.sh, made by a CSV sync, then switched to SCIM provisioning),
# wrk -t2 -c64 on GET /scim/v2/Users/{id} and on
# GET /scim/v2/Users?filter=userName eq "..." (each over 2000 members
# picked at random), next to its floor measured in the same run: wrk on
# GET /healthz. Prints req/s, the ratio to the floor and p50/p99.
#   bench/scim.sh [BUILD_DIR]       (default: build)
# Environment: MEMBERS=100000, ROUTE_SECS=10, LOAD_CONNS=64.
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
ROUTE_SECS=${ROUTE_SECS:-10}
CONNS=${LOAD_CONNS:-64}
DATA=bench/data/m$MEMBERS-s42
WAIT_SECS=${E2E_WAIT:-300}

command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install -y wrk)" >&2; exit 2; }

load_serve_opts
start_server ${LOAD_SERVE_OPTS[@]+"${LOAD_SERVE_OPTS[@]}"}
mkdir -p bench/data
echo "scim: loading an org of $MEMBERS members from $DATA" >&2
if ! load_org "$MEMBERS" "$DATA"; then
	echo "scim: $LOAD_ERR" >&2
	exit 1
fi
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'

# The same members for both routes; the filter's quotes and spaces percent-encoded.
sqlite3 "$DB" "SELECT scim_id, email FROM members WHERE org_id = $ORG_ID ORDER BY random() LIMIT 2000" |
	while IFS='|' read -r id email; do
		echo "scim-by-id /scim/v2/Users/$id" >>"$TMP/paths.scim-by-id"
		echo "scim-filter /scim/v2/Users?filter=userName%20eq%20%22$email%22" >>"$TMP/paths.scim-filter"
	done
echo "healthz /healthz" >"$TMP/paths.healthz"

ROWS=()
ERRORS=0
for r in healthz scim-by-id scim-filter; do
	echo "scim: $r: $ROUTE_SECS s" >&2
	load_run "$ROUTE_SECS" "$CONNS" "$TMP/paths.$r" "$TMP/wrk.$r"
	ROWS+=("$r $W_RPS $W_P50 $W_P99 $W_OTHER $W_SOCK")
	ERRORS=$((ERRORS + ${W_OTHER:-1} + ${W_SOCK:-0}))
done
floor=$(awk '$1 == "healthz" { print $2 }' <<<"$(printf '%s\n' "${ROWS[@]}")")
printf '\nSCIM reads, %s members, wrk -t2 -c%s, %s s each, %s; %s CPU\n' "$MEMBERS" "$CONNS" \
	"$ROUTE_SECS" "$(date -u +%F)" "$(nproc)"
printf '%-14s %9s %9s %8s %8s %8s %8s\n' route req/s "/ floor" "p50 ms" "p99 ms" non-2xx sockerr
for row in "${ROWS[@]}"; do
	read -r name rps p50 p99 other sock <<<"$row"
	printf '%-14s %9s %9s %8s %8s %8s %8s\n' "$name" "$rps" \
		"$(awk -v a="$rps" -v b="$floor" 'BEGIN { printf "%.3f", (b ? a / b : 0) }')" \
		"$p50" "$p99" "$other" "$sock"
done
stop_server
[ "$ERRORS" -eq 0 ]
