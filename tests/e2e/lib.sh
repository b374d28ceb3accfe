# shellcheck shell=bash
#
# The harness of the end-to-end tests of `orgsync serve`, sourced by each
# tests/e2e/test_*.sh: a fresh server per test file on a free loopback port
# and its own database, orgs made with the admin CLI, requests with curl,
# answers read with jq, and named cases that print what was expected and
# what came back. It owns nothing outside $TMP and the server it started.
#
# A test file looks like:
#   . "$(dirname "$0")/lib.sh"
#   start_server
#   new_org acme; KEY=$ORG_KEY; enable_api
#   t "a case"; req GET /v1/members; expect_status 200; expect_jq "count" '.items|length' 0
#   finish
#
# The backend: SQLite ($DB, a file) unless ORGSYNC_DB=postgres, which gives
# the file a fresh database of its own on the PostgreSQL server whose URL
# prefix ORGSYNC_TEST_DB names (run.sh starts a throwaway one when unset).
# Either way $DB_URL is what --db takes, db_query runs SQL on it and
# db_dump prints all of it.
#
# Output: one "ok - FILE: CASE" or "not ok - FILE: CASE" line per case, the
# failed assertions indented below, and "ok - FILE: CASE # SKIP REASON" for
# a case that did not run; run.sh counts these lines. No case passes
# without running: see skip and skip_unless_required below.

set -uo pipefail

E2E_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$E2E_ROOT" || exit 1
ORGSYNC=${ORGSYNC:-build/orgsync}
# A wrapper (valgrind) makes every step tens of times slower: wait longer.
case $ORGSYNC in
*valgrind*) SLOW=${E2E_SLOW:-20} ;;
*) SLOW=${E2E_SLOW:-1} ;;
esac
WAIT_SECS=${E2E_WAIT:-$((10 * SLOW))}

TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/orgsync-e2e.XXXXXX") || exit 1
BODY=$TMP/body
HEADERS=$TMP/headers
DB=$TMP/db
SERVER_PID=
PORT=
BASE=
STATUS=
KEY=
SYNC=
SYNC_STATUS=
# A test of the HTTPS service sets these before start_server: the scheme of
# $BASE, and the options every curl of the harness adds (--cacert FILE).
SERVER_SCHEME=http
CURL_OPTS=()

for tool in curl jq sqlite3 $([ "${ORGSYNC_DB:-}" = postgres ] && echo psql pg_dump); do
	if ! command -v "$tool" >/dev/null; then
		echo "not ok - $TEST_NAME: $tool is not installed (scripts/install-deps.sh test)"
		exit 1
	fi
done

# --- the database ----------------------------------------------------------------

PG_DBNAME=
case ${ORGSYNC_DB:-sqlite} in
sqlite) DB_URL=sqlite:$DB ;;
postgres)
	if [ -z "${ORGSYNC_TEST_DB:-}" ]; then
		echo "not ok - $TEST_NAME: ORGSYNC_DB=postgres needs ORGSYNC_TEST_DB (a server's URL prefix; tests/e2e/run.sh starts one)"
		exit 1
	fi
	PG_DBNAME=orgsync_e2e_$(tr -c 'a-z0-9\n' _ <<<"${TEST_NAME,,}")_$$
	DB_URL=$ORGSYNC_TEST_DB$PG_DBNAME
	# SQLite's json_extract(text, '$.a.b'), hex and instr, so that a test's
	# SQL runs on both engines.
	if ! psql -XqAt "${ORGSYNC_TEST_DB}postgres" -c "CREATE DATABASE $PG_DBNAME" >/dev/null ||
		! psql -XqAt "$DB_URL" -v ON_ERROR_STOP=1 >/dev/null <<-'EOF'
			CREATE FUNCTION json_extract(j TEXT, path TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE
			  AS $$ SELECT j::jsonb #>> string_to_array(regexp_replace(substr(path, 3),
			    '\[([0-9]+)\]', '.\1', 'g'), '.') $$;
			CREATE FUNCTION hex(b BYTEA) RETURNS TEXT LANGUAGE sql IMMUTABLE
			  AS $$ SELECT upper(encode(b, 'hex')) $$;
			CREATE FUNCTION hex(t TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE
			  AS $$ SELECT upper(encode(convert_to(t, 'UTF8'), 'hex')) $$;
			CREATE FUNCTION instr(a TEXT, b TEXT) RETURNS INTEGER LANGUAGE sql IMMUTABLE
			  AS $$ SELECT strpos(a, b) $$;
		EOF
	then
		echo "not ok - $TEST_NAME: cannot create the database $PG_DBNAME"
		exit 1
	fi
	;;
*)
	echo "not ok - $TEST_NAME: ORGSYNC_DB is sqlite or postgres, not '$ORGSYNC_DB'"
	exit 1
	;;
esac

# db_query SQL: runs SQL on the test's database; rows one a line, columns
# separated by |, NULL as nothing (sqlite3's default output, and psql's
# unaligned one). Write SQL both engines take.
db_query() {
	if [ -n "$PG_DBNAME" ]; then
		psql -XqAt -v ON_ERROR_STOP=1 "$DB_URL" -c "$1"
	else
		sqlite3 -cmd '.timeout 30000' "$DB" "$1"
	fi
}

# db_dump: the whole database as SQL text.
db_dump() {
	if [ -n "$PG_DBNAME" ]; then
		pg_dump "$DB_URL"
	else
		sqlite3 "$DB" .dump
	fi
}

# --- cases and assertions ------------------------------------------------------

CASE=
CASE_FAILED=0
PASSED=0
FAILED=0
SKIPPED=0

end_case() {
	[ -n "$CASE" ] || return 0
	if [ "$CASE_FAILED" -eq 0 ]; then
		echo "ok - $TEST_NAME: $CASE"
		PASSED=$((PASSED + 1))
	else
		echo "not ok - $TEST_NAME: $CASE"
		cat "$TMP/case.log"
		FAILED=$((FAILED + 1))
	fi
	CASE=
}

# t NAME: starts a case; the assertions until the next t belong to it.
t() {
	end_case
	CASE=$1
	CASE_FAILED=0
	: >"$TMP/case.log"
}

# skip CASE REASON: CASE does not run, deliberately and for a documented
# reason (an opt-in heavy test, a load that would measure valgrind): it
# shows as a skip, never as a pass.
skip() {
	end_case
	echo "ok - $TEST_NAME: $1 # SKIP $2"
	SKIPPED=$((SKIPPED + 1))
}

# skip_unless_required CASE REASON: CASE cannot run here (a tool or a
# build feature is missing). A skip, except when ORGSYNC_REQUIRE_ALL=1
# (make check, which installs every tool first): then it fails.
skip_unless_required() {
	if [ "${ORGSYNC_REQUIRE_ALL:-}" = 1 ]; then
		end_case
		echo "not ok - $TEST_NAME: $1 (not run: $2)"
		echo "    ORGSYNC_REQUIRE_ALL=1: every case must run (scripts/install-deps.sh test)"
		FAILED=$((FAILED + 1))
	else
		skip "$1" "$2"
	fi
}

# fail MESSAGE...: fails the current case with a line of explanation.
fail() {
	CASE_FAILED=1
	printf '    %s\n' "$*" >>"$TMP/case.log"
}

# note FILE: appends the start of FILE to the current case's explanation.
note() {
	head -c 1500 "$1" 2>/dev/null | sed 's/^/      | /' >>"$TMP/case.log"
	echo >>"$TMP/case.log"
}

# expect_eq WHAT EXPECTED ACTUAL
expect_eq() {
	[ "$2" == "$3" ] || fail "$1: expected '$2', got '$3'"
}

# expect_ne WHAT UNEXPECTED ACTUAL
expect_ne() {
	[ "$2" != "$3" ] || fail "$1: expected anything but '$2'"
}

# expect_match WHAT REGEX ACTUAL (extended regular expression)
expect_match() {
	[[ $3 =~ $2 ]] || fail "$1: expected to match /$2/, got '$3'"
}

# expect_status CODE: the status of the last request.
expect_status() {
	if [ "$STATUS" != "$1" ]; then
		fail "HTTP status: expected $1, got $STATUS (last request: $LAST_REQ)"
		note "$BODY"
	fi
}

# jqr FILTER [FILE]: jq -r on FILE (default: the last response body).
jqr() {
	jq -r "$1" "${2:-$BODY}" 2>/dev/null || echo "(not JSON or jq error)"
}

# expect_jq WHAT FILTER EXPECTED [FILE]: jq -r FILTER on the body gives EXPECTED.
expect_jq() {
	local got
	got=$(jqr "$2" "${4:-$BODY}")
	if [ "$got" != "$3" ]; then
		fail "$1: expected '$3', got '$got' (jq '$2')"
		note "${4:-$BODY}"
	fi
}

# expect_true WHAT FILTER [FILE]: jq -e FILTER holds on the body.
expect_true() {
	if ! jq -e "$2" "${3:-$BODY}" >/dev/null 2>&1; then
		fail "$1: expected jq '$2' to hold"
		note "${3:-$BODY}"
	fi
}

# --- the server ------------------------------------------------------------------

# start_server [SERVE OPTIONS...]: starts orgsync serve on $DB and a free port.
start_server() {
	local i limit=$((300 * SLOW))

	: >"$TMP/server.out" # before the server opens it: the polling below reads it at once
	# $ORGSYNC is split on purpose: it may be a wrapper command line.
	# shellcheck disable=SC2086
	$ORGSYNC serve --db "$DB_URL" --listen 127.0.0.1:0 ${SERVER_QUIET---quiet} "$@" \
		>"$TMP/server.out" 2>>"$TMP/server.err" &
	SERVER_PID=$!
	PORT=
	for ((i = 0; i < limit; i++)); do
		PORT=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$TMP/server.out")
		[ -n "$PORT" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if [ -z "$PORT" ]; then
		echo "not ok - $TEST_NAME: the server did not start"
		sed 's/^/    | /' "$TMP/server.out" "$TMP/server.err" | head -20
		exit 1
	fi
	BASE=$SERVER_SCHEME://127.0.0.1:$PORT
	for ((i = 0; i < limit; i++)); do
		[ "$(curl -s ${CURL_OPTS[@]+"${CURL_OPTS[@]}"} -o /dev/null -w '%{http_code}' \
			"$BASE/healthz")" = 200 ] && return 0
		sleep 0.1
	done
	echo "not ok - $TEST_NAME: /healthz never answered 200"
	exit 1
}

# stop_server: SIGTERM and wait; returns the server's exit status (124: had to be killed).
stop_server() {
	local i rc

	[ -n "$SERVER_PID" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null
	for ((i = 0; i < 300 * SLOW; i++)); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
		return 124
	fi
	wait "$SERVER_PID" 2>/dev/null
	rc=$?
	SERVER_PID=
	return $rc
}

# crash_server: SIGKILL, as a power cut would.
crash_server() {
	[ -n "$SERVER_PID" ] || return 0
	kill -KILL "$SERVER_PID" 2>/dev/null
	wait "$SERVER_PID" 2>/dev/null
	SERVER_PID=
}

cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	[ -z "$PG_DBNAME" ] ||
		psql -XqAt "${ORGSYNC_TEST_DB}postgres" -c "DROP DATABASE IF EXISTS $PG_DBNAME WITH (FORCE)" \
			>/dev/null 2>&1
	rm -rf "$TMP"
}
trap cleanup EXIT

# finish: closes the last case, checks the server survived and stops cleanly
# (a wrapper such as valgrind reports its errors in the exit status), and
# exits non-zero when a case failed.
finish() {
	local rc

	end_case
	if [ -n "$SERVER_PID" ]; then
		t "the server is still up at the end and stops cleanly on SIGTERM"
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			fail "the server died during the tests"
			wait "$SERVER_PID" 2>/dev/null
			fail "its exit status: $?"
			SERVER_PID=
		else
			stop_server
			rc=$?
			expect_eq "exit status after SIGTERM" 0 "$rc"
		fi
		[ "$CASE_FAILED" -eq 0 ] || note "$TMP/server.err"
		end_case
	fi
	echo "# $TEST_NAME: $PASSED passed, $FAILED failed, $SKIPPED skipped"
	[ "$FAILED" -eq 0 ]
	exit $?
}

# --- organizations -------------------------------------------------------------------

# orgsync ARGS...: the CLI on the test database's server side ($ORGSYNC may be a wrapper).
orgsync() {
	# shellcheck disable=SC2086
	$ORGSYNC "$@"
}

# new_org NAME: creates an org; sets ORG_ID and ORG_KEY.
new_org() {
	local out
	out=$(orgsync org create "$1" --db "$DB_URL" 2>&1)
	ORG_ID=$(sed -n 's/^organization \([0-9][0-9]*\) created: .*/\1/p' <<<"$out")
	ORG_KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
	if [ -z "$ORG_ID" ] || [ -z "$ORG_KEY" ]; then
		echo "not ok - $TEST_NAME: orgsync org create failed"
		sed 's/^/    | /' <<<"$out"
		exit 1
	fi
}

# --- requests ---------------------------------------------------------------------------

LAST_REQ=

# req METHOD PATH [CURL ARGS...]: a request as $KEY (none when KEY is empty);
# STATUS gets the HTTP status, $BODY the body, $HEADERS the headers.
req() {
	local method=$1 path=$2 auth=()
	shift 2
	[ -n "$KEY" ] && auth=(-H "Authorization: Bearer $KEY")
	LAST_REQ="$method $path"
	STATUS=$(curl -sS --max-time $((60 * SLOW)) -o "$BODY" -D "$HEADERS" -w '%{http_code}' \
		-X "$method" ${CURL_OPTS[@]+"${CURL_OPTS[@]}"} ${auth[@]+"${auth[@]}"} "$@" "$BASE$path" \
		2>"$TMP/curl.err")
	[ -n "$STATUS" ] || STATUS=000
	[ -n "${ORGSYNC_RECORD_DIR:-}" ] && record_response "$method" "$path"
	return 0
}

# record_response METHOD PATH: keeps the last answer for tests/support/check_responses.py,
# which validates each against the OpenAPI schema of its route and status (run.sh).
record_response() {
	local out=$ORGSYNC_RECORD_DIR/$TEST_NAME.$$ type size
	type=$(sed -n 's/^content-type: *//Ip' "$HEADERS" | tr -d '\r' | head -1)
	size=$(stat -c %s "$out.bodies" 2>/dev/null || echo 0)
	cat "$BODY" >>"$out.bodies" 2>/dev/null
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$STATUS" "$type" "$size" \
		"$(stat -c %s "$BODY" 2>/dev/null || echo 0)" >>"$out.idx"
}

# header NAME: a header of the last response (value only).
header() {
	sed -n "s/^$1: *//Ip" "$HEADERS" | tr -d '\r' | head -1
}

# req_json METHOD PATH JSON: a request with a JSON body.
req_json() {
	req "$1" "$2" -H 'Content-Type: application/json' --data-binary "$3"
}

enable_api() {
	req_json PATCH /v1/settings '{"provisioning":{"method":"api"}}'
	if [ "$STATUS" != 200 ]; then
		echo "not ok - $TEST_NAME: PATCH /v1/settings answered $STATUS"
		exit 1
	fi
}

# no_risk_limits: disables every risk limit (for tests of the sync rules alone).
no_risk_limits() {
	req_json PATCH /v1/settings '{"riskThreshold":{"members":{"percent":null,"count":null},
		"teams":{"percent":null,"count":null},"mappings":{"percent":null,"count":null},
		"managersPercent":null,"idSwapPercent":null,"identityChangePercent":null}}'
	if [ "$STATUS" != 200 ]; then
		echo "not ok - $TEST_NAME: PATCH /v1/settings (risk) answered $STATUS"
		exit 1
	fi
}

# push_csv DIR [QUERY] [CURL ARGS...]: POST /v1/syncs with DIR's three CSV files; SYNC gets the id.
push_csv() {
	local dir=$1 query=${2:-}
	shift
	[ $# -gt 0 ] && shift
	req POST "/v1/syncs$query" -F "members=@$dir/members.csv" -F "teams=@$dir/teams.csv" \
		-F "teamsMappings=@$dir/teams-mappings.csv" "$@"
	SYNC=$(grep -o '"id":[0-9]*' "$BODY" | head -1 | cut -d: -f2)
}

# push_json FILE [QUERY]: POST /v1/syncs with a JSON payload; SYNC gets the id.
push_json() {
	req POST "/v1/syncs${2:-}" -H 'Content-Type: application/json' --data-binary "@$1"
	SYNC=$(grep -o '"id":[0-9]*' "$BODY" | head -1 | cut -d: -f2)
}

# wait_sync ID: polls until the sync leaves Pending (bounded); SYNC_STATUS gets
# its status ("timeout" when it never did), $TMP/sync.json the sync and
# $TMP/sync.flat its scalars as "path=value" lines (see expect_count).
wait_sync() {
	local id=$1 i limit=$((WAIT_SECS * 50))
	SYNC_STATUS=timeout
	rm -f "$TMP/sync.json" "$TMP/sync.flat"
	for ((i = 0; i < limit; i++)); do
		sleep 0.02
		req GET "/v1/syncs/$id"
		cp "$BODY" "$TMP/sync.json"
		if [ "$STATUS" != 200 ]; then
			SYNC_STATUS="HTTP $STATUS"
			return 1
		fi
		# jq takes tens of milliseconds to start: poll with sed.
		SYNC_STATUS=$(sed -n 's/.*"status":"\([A-Za-z]*\)".*/\1/p' "$TMP/sync.json")
		if [ "$SYNC_STATUS" != Pending ]; then
			jq -r 'paths(type != "object" and type != "array") as $p | ".\($p | map(tostring) | join("."))=\(getpath($p))"' \
				"$TMP/sync.json" >"$TMP/sync.flat" 2>/dev/null
			return 0
		fi
	done
	SYNC_STATUS=timeout
	return 1
}

# sync_csv DIR [QUERY]: push_csv then wait_sync; SYNC_STATUS is "push: HTTP n" when refused.
sync_csv() {
	push_csv "$@"
	if [ "$STATUS" != 202 ] || [ -z "$SYNC" ]; then
		SYNC_STATUS="push: HTTP $STATUS $(head -c 300 "$BODY")"
		return 1
	fi
	wait_sync "$SYNC"
}

# sync_json FILE [QUERY]: push_json then wait_sync.
sync_json() {
	push_json "$@"
	if [ "$STATUS" != 202 ] || [ -z "$SYNC" ]; then
		SYNC_STATUS="push: HTTP $STATUS $(head -c 300 "$BODY")"
		return 1
	fi
	wait_sync "$SYNC"
}

# expect_sync STATUS: the last waited sync ended in STATUS.
expect_sync() {
	if [ "$SYNC_STATUS" != "$1" ]; then
		fail "sync status: expected $1, got $SYNC_STATUS"
		[ -f "$TMP/sync.json" ] && note "$TMP/sync.json"
	fi
}

# expect_count WHAT FILTER EXPECTED: on the last waited sync ($TMP/sync.json);
# a plain path (.counts.members.created) is read from $TMP/sync.flat.
expect_count() {
	local got
	if [[ $2 =~ ^(\.[A-Za-z0-9_]+)+$ ]] && [ -f "$TMP/sync.flat" ]; then
		got=$(grep -F -m1 "$2=" "$TMP/sync.flat" | cut -d= -f2-)
		[ "$got" == "$3" ] || fail "$1: expected '$3', got '$got' ($2 of sync $SYNC)"
	else
		expect_jq "$1" "$2" "$3" "$TMP/sync.json"
	fi
}

# list_all PATH [FILE]: reads a list from PATH to its last page, following
# each page's next link; FILE (default $TMP/list.all) gets every item, one
# compact JSON a line, and LIST_PAGES the number of pages. Fails the case
# (and returns 1) when a page does not answer 200 or the links never end.
LIST_PAGES=0
list_all() {
	local path=$1 out=${2:-$TMP/list.all}
	: >"$out"
	LIST_PAGES=0
	while [ "$path" != null ]; do
		req GET "$path"
		if [ "$STATUS" != 200 ]; then
			fail "GET $path (page $((LIST_PAGES + 1))): expected 200, got $STATUS"
			note "$BODY"
			return 1
		fi
		jq -c '.items[]' "$BODY" >>"$out"
		path=$(jqr .next)
		LIST_PAGES=$((LIST_PAGES + 1))
		if [ "$LIST_PAGES" -gt 10000 ]; then
			fail "GET $1: the next links did not end after 10000 pages"
			return 1
		fi
	done
}

# member_count [QUERY]: the number of members listed, every page.
member_count() {
	local q=${1:-}
	list_all "/v1/members?limit=500${q:+&$q}" "$TMP/members.all"
	wc -l <"$TMP/members.all" | tr -d ' '
}

# --- fixtures: small orgs as CSV files ---------------------------------------------------

# fx_new DIR: an org with no rows (the three files, headers only).
fx_new() {
	mkdir -p "$1"
	printf 'externalMemberId,email,firstName,lastName\n' >"$1/members.csv"
	printf 'externalTeamId,teamName\n' >"$1/teams.csv"
	printf 'externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n' \
		>"$1/teams-mappings.csv"
}

# fx_member DIR ID EMAIL [FIRST] [LAST]
fx_member() {
	printf '%s,%s,%s,%s\n' "$2" "$3" "${4:-First}" "${5:-Last}" >>"$1/members.csv"
}

# fx_team DIR ID NAME
fx_team() {
	printf '%s,%s\n' "$2" "$3" >>"$1/teams.csv"
}

# fx_in DIR TEAM MEMBER [IS_MEMBER] [IS_MANAGER]: a member row of the mappings.
fx_in() {
	printf '%s,%s,,%s,%s\n' "$2" "$3" "${4:-true}" "${5:-false}" >>"$1/teams-mappings.csv"
}

# fx_sub DIR TEAM SUBTEAM: a subteam row of the mappings.
fx_sub() {
	printf '%s,,%s,,\n' "$2" "$3" >>"$1/teams-mappings.csv"
}

# fx_people DIR N [PREFIX]: N members PREFIX001.. with emails prefix001@acme.example.
fx_people() {
	local prefix=${3:-M} i lower
	lower=$(tr '[:upper:]' '[:lower:]' <<<"$prefix")
	for ((i = 1; i <= $2; i++)); do
		printf '%s%03d,%s%03d@acme.example,First%03d,Last%03d\n' \
			"$prefix" "$i" "$lower" "$i" "$i" "$i" >>"$1/members.csv"
	done
}

# fx_copy FROM TO: a copy of an org to change.
fx_copy() {
	rm -rf "$2"
	cp -r "$1" "$2"
}

# fx_drop DIR FILE REGEX: removes the rows of DIR/FILE matching REGEX (extended).
fx_drop() {
	grep -Ev "$3" "$1/$2" >"$1/$2.tmp"
	mv "$1/$2.tmp" "$1/$2"
}

# fx_sed DIR FILE SED-SCRIPT: edits DIR/FILE in place.
fx_sed() {
	sed -i -E "$3" "$1/$2"
}

# outbox_token EMAIL: the token of the latest invitation queued for EMAIL.
outbox_token() {
	db_query "SELECT json_extract(payload, '\$.token') FROM outbox
		WHERE kind = 'invitation' AND recipient = '$1' ORDER BY id DESC LIMIT 1" 2>/dev/null
}
