# shellcheck shell=bash
# The variables set here are read by the scripts that source this file:
# shellcheck disable=SC2034
#
# The read load shared by tests/e2e/test_load.sh and bench/load.sh, sourced
# after lib.sh: an org of generated members, the list of read requests over
# it, wrk driving tests/e2e/load.lua, and the server's resident memory.

LOAD_LUA=$E2E_ROOT/tests/e2e/load.lua
# The read routes, by the label each line of a paths file starts with.
LOAD_ROUTES=(healthz metrics members member visible-teams teams team syncs settings)
# Members and teams each id route cycles through, spread over the org.
LOAD_IDS=${LOAD_IDS:-16}

# load_serve_opts: sets LOAD_SERVE_OPTS, the serve options of a load: the
# per-key rate limit off, since every request of the load comes with one
# key and a limit would answer most with 429.
load_serve_opts() {
	LOAD_SERVE_OPTS=(--rate-limit 0)
}

# load_org MEMBERS DIR: a new org synced from DIR, which gets MEMBERS generated
# members (seed 42) unless it already holds an org; API provisioning on, no
# risk limit, the generator's custom property defined. Sets KEY. Returns
# non-zero with LOAD_ERR saying why when a step fails.
load_org() {
	LOAD_ERR=
	new_org load
	KEY=$ORG_KEY
	enable_api
	no_risk_limits
	req_json POST /v1/properties '{"name":"department"}'
	if [ ! -f "$2/members.csv" ] &&
		! orgsync gen --members "$1" --seed 42 --out "$2" >/dev/null 2>&1; then
		LOAD_ERR="orgsync gen --members $1 failed"
		return 1
	fi
	sync_csv "$2"
	if [ "$SYNC_STATUS" != Success ]; then
		LOAD_ERR="the sync of $2 ended $SYNC_STATUS"
		return 1
	fi
}

# load_paths FILE MEMBERS ROUTE...: writes FILE for load.lua, "ROUTE PATH"
# lines cycling over ROUTEs (each as often as the others); the routes with an
# id take LOAD_IDS members (teams) spread evenly over the generated org, whose
# ids are E0000001.. (T000001.., a team per 8 members).
load_paths() {
	local file=$1 n=$2 k r m t teams=$(($2 / 8))
	shift 2
	: >"$file"
	for ((k = 0; k < LOAD_IDS; k++)); do
		m=$(printf 'E%07d' $(((2 * k + 1) * n / (2 * LOAD_IDS) + 1)))
		t=$(printf 'T%06d' $(((2 * k + 1) * teams / (2 * LOAD_IDS) + 1)))
		for r in "$@"; do
			case $r in
			healthz) echo "$r /healthz" ;;
			metrics) echo "$r /metrics" ;;
			members) echo "$r /v1/members?limit=100" ;;
			member) echo "$r /v1/members/$m" ;;
			visible-teams) echo "$r /v1/members/$m/visible-teams" ;;
			teams) echo "$r /v1/teams?limit=100" ;;
			team) echo "$r /v1/teams/$t" ;;
			syncs) echo "$r /v1/syncs" ;;
			settings) echo "$r /v1/settings" ;;
			*) echo "load_paths: unknown route $r" >&2; return 1 ;;
			esac
		done
	done >>"$file"
}

# rss_kib: the server's resident memory (VmRSS, KiB); 0 when it is gone.
rss_kib() {
	awk '/^VmRSS:/ { print $2; found = 1 } END { if (!found) print 0 }' \
		"/proc/$SERVER_PID/status" 2>/dev/null || echo 0
}

# load_run SECS CONNS PATHS OUT: wrk -t2 -cCONNS for SECS seconds over the
# requests of PATHS against $BASE as $KEY, its output in OUT; RSS_START,
# RSS_MID and RSS_END (KiB) sampled before, halfway and after. Sets the W_*
# figures (see load_parse).
load_run() {
	local pid
	RSS_START=$(rss_kib)
	wrk -t2 -c"$2" -d"$1"s --timeout "${LOAD_TIMEOUT:-2}"s -s "$LOAD_LUA" "$BASE" -- "$3" "$KEY" \
		>"$4" 2>&1 &
	pid=$!
	sleep "$(awk -v s="$1" 'BEGIN { print s / 2 }')"
	RSS_MID=$(rss_kib)
	wait "$pid"
	W_RC=$?
	RSS_END=$(rss_kib)
	load_parse "$4"
}

# load_parse OUT: the figures of a wrk run from its output (load.lua's
# "load ..." lines, and wrk's own count of answers of 400 and above):
# W_REQS, W_SECS, W_RPS, W_2XX, W_OTHER, W_WRK_NON2XX, W_SOCK (the sum of
# the socket errors), W_SOCK_DETAIL, W_P50/W_P90/W_P99/W_MAX (ms), W_BAD
# (the first non-2xx answers). W_REQS is empty when wrk printed nothing.
load_parse() {
	local f=$1 us
	W_REQS=$(awk '$1 == "load" && $2 == "requests" { print $3 }' "$f")
	us=$(awk '$1 == "load" && $2 == "requests" { print $5 }' "$f")
	W_SECS=$(awk -v us="${us:-0}" 'BEGIN { printf "%.1f", us / 1e6 }')
	W_RPS=$(awk -v n="${W_REQS:-0}" -v us="${us:-0}" 'BEGIN { printf "%.0f", (us ? n * 1e6 / us : 0) }')
	W_2XX=$(awk '$1 == "load" && $2 == "status" { print $4 }' "$f")
	W_OTHER=$(awk '$1 == "load" && $2 == "status" { print $6 }' "$f")
	W_WRK_NON2XX=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$f")
	W_WRK_NON2XX=${W_WRK_NON2XX:-0}
	W_SOCK=$(awk '$1 == "load" && $2 == "errors" { print $4 + $6 + $8 + $10 }' "$f")
	W_SOCK_DETAIL=$(awk '$1 == "load" && $2 == "errors" { print "connect " $4 ", read " $6 ", write " $8 ", timeout " $10 }' "$f")
	read -r W_P50 W_P90 W_P99 W_MAX < <(awk '$1 == "load" && $2 == "latency_us" {
		printf "%.2f %.2f %.2f %.2f\n", $4 / 1000, $6 / 1000, $8 / 1000, $10 / 1000 }' "$f")
	W_BAD=$(sed -n 's/^load bad //p' "$f")
}

# mib KIB: KiB as MiB with one decimal.
mib() {
	awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'
}
