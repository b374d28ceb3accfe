#!/usr/bin/env bash
# Read load (SPEC §6): wrk on 64 connections for LOAD_SECS seconds (default 5)
# cycling over the read routes of an org of MEMBERS members (default 5,000):
# every answer 2xx, no socket error, and the server's resident memory flat
# once warmed up. bench/load.sh runs the same load at scale and reports it.
#   LOAD_SECS=30 MEMBERS=20000 tests/e2e/run.sh load
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/load_lib.sh
. "$(dirname "$0")/load_lib.sh"

MEMBERS=${MEMBERS:-5000}
LOAD_SECS=${LOAD_SECS:-5}
CONNS=${LOAD_CONNS:-64}
WARM_SECS=${LOAD_WARM_SECS:-2}
# Growth allowed between the end of the warm-up and the end of the load.
# Once warmed up under the same concurrency, what grows with load has grown:
# the cached org, a SQLite page cache per HTTP thread, libmicrohttpd's
# per-connection pools, malloc's per-thread arenas. What is left is
# allocator noise (measured: at most 2 MiB at the end, 4 MiB halfway); 8 MiB
# is what a few hundred bytes kept per request would add over the 25,000 to
# 40,000 requests of a plain 5 s run.
RSS_GROWTH_KIB=${LOAD_RSS_GROWTH_KIB:-8192}

if [ "$SLOW" -gt 1 ]; then
	skip "the read load" "under valgrind: a load measures the server, not its wrapper"
	finish
fi
if ! command -v wrk >/dev/null; then
	skip_unless_required "the read load" "wrk is not installed (apt-get install -y wrk)"
	finish
fi

load_serve_opts
# ASan holds freed memory in a quarantine of 256 MiB, which a load fills in
# a few seconds and which would read as growth: a small one keeps its checks
# (a plain build ignores the variable).
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" \
	start_server ${LOAD_SERVE_OPTS[@]+"${LOAD_SERVE_OPTS[@]}"}

t "an org of $MEMBERS generated members, loaded with one sync"
if ! load_org "$MEMBERS" "$TMP/org" || ! load_paths "$TMP/paths" "$MEMBERS" "${LOAD_ROUTES[@]}"; then
	fail "${LOAD_ERR:-load_paths failed}"
	finish
fi

t "each path of the load answers 2xx once before the load"
while read -r route path; do
	req GET "$path"
	[[ $STATUS == 2* ]] || { fail "$route: GET $path: HTTP $STATUS"; note "$BODY"; }
done < <(head -n $((${#LOAD_ROUTES[@]} * 2)) "$TMP/paths")

# The warm-up: its figures count too (an error is an error), its memory does not.
load_run "$WARM_SECS" "$CONNS" "$TMP/paths" "$TMP/warm.out"
WARM_OTHER=${W_OTHER:-?} WARM_SOCK=${W_SOCK:-?} WARM_BAD=$W_BAD
RSS_WARM=$RSS_END

t "wrk -t2 -c$CONNS for $LOAD_SECS s over ${#LOAD_ROUTES[@]} read routes: every answer 2xx"
load_run "$LOAD_SECS" "$CONNS" "$TMP/paths" "$TMP/load.out"
if [ -z "$W_REQS" ]; then
	fail "wrk gave no figures (exit status $W_RC)"
	note "$TMP/load.out"
else
	echo "# $TEST_NAME: $W_RPS req/s ($W_REQS requests in $W_SECS s, $CONNS connections)," \
		"latency p50 $W_P50 ms, p99 $W_P99 ms, max $W_MAX ms;" \
		"RSS $(mib "$RSS_WARM") MiB after warm-up, $(mib "$RSS_MID") halfway, $(mib "$RSS_END") at the end"
	expect_eq "non-2xx answers (load.lua)" 0 "$W_OTHER"
	expect_eq "answers of 400 and above (wrk)" 0 "$W_WRK_NON2XX"
	expect_eq "non-2xx answers during the warm-up" 0 "$WARM_OTHER"
	[ -z "$W_BAD$WARM_BAD" ] || fail "first non-2xx answers: $W_BAD $WARM_BAD"
	[ "$W_REQS" -gt 0 ] || fail "no request completed"
	expect_eq "2xx + others = requests" "$W_REQS" $((W_2XX + W_OTHER))
fi

t "no socket error (connect, read, write, timeout)"
expect_eq "socket errors ($W_SOCK_DETAIL)" 0 "${W_SOCK:-?}"
expect_eq "socket errors during the warm-up" 0 "$WARM_SOCK"

t "resident memory flat under load: growth after warm-up ≤ $((RSS_GROWTH_KIB / 1024)) MiB"
[ "$RSS_END" -gt 0 ] || fail "the server is gone"
growth=$((RSS_END - RSS_WARM))
[ "$growth" -le "$RSS_GROWTH_KIB" ] ||
	fail "VmRSS grew by $growth KiB: $RSS_WARM after warm-up, $RSS_MID halfway, $RSS_END at the end"

t "the server still answers reads and takes a sync after the load, and logged no database error"
expect_eq "database errors logged" 0 "$(grep -c '"error":"database"' "$TMP/server.err")"
req GET /healthz
expect_status 200
req GET "/v1/members?limit=500"
expect_status 200
expect_jq "members listed" '.items | length' "$((MEMBERS < 500 ? MEMBERS : 500))"
expect_jq "members in all" .total "$MEMBERS"
sync_csv "$TMP/org"
expect_sync Success
expect_count "unchanged" .counts.members.unchanged "$MEMBERS"

finish
