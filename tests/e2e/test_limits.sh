#!/usr/bin/env bash
# Limits and abuse (SPEC §8): the per-key rate limit, connection limits (in
# all and per address), the request header deadline against slow clients,
# URL and header sizes, odd methods and paths on every route, and a stop on
# SIGTERM that lets the requests and the sync in flight finish.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# Slow clients are bash coprocesses on /dev/tcp: no tool beyond bash is needed.
trap '' PIPE

# trickle LOG SECONDS [body]: a client that sends a request header one line
# every 0.3 s for up to SECONDS and never ends it (with "body": a whole
# header announcing a 100 kB body, then that body 20 bytes every 0.3 s);
# writes to LOG how many seconds its connection lived ("refused" when it
# could not connect). The body is sent with $KEY: a request refused from its
# headers alone is answered before its body is read.
trickle() {
	local log=$1 secs=$2 fd t0 i
	t0=${EPOCHREALTIME/./}
	if ! exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
		echo refused >"$log"
		return
	fi
	if [ "${3:-}" = body ]; then
		printf 'POST /v1/properties HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"name":"' "$KEY" >&"$fd" 2>/dev/null
	else
		printf 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n' >&"$fd" 2>/dev/null
	fi
	for ((i = 0; i < secs * 10 / 3; i++)); do
		sleep 0.3
		if [ "${3:-}" = body ]; then
			printf 'aaaaaaaaaaaaaaaaaaaa' >&"$fd" 2>/dev/null || break
		else
			printf 'X-Slow-%d: still typing\r\n' "$i" >&"$fd" 2>/dev/null || break
		fi
	done
	exec {fd}>&-
	echo $(((${EPOCHREALTIME/./} - t0) / 1000000)) >"$log"
}

# trickle_many N SECONDS [body]: N slow clients at once; their logs are
# $TMP/slow.*, their pids SLOW_PIDS (a bare `wait` would wait for the server too).
SLOW_PIDS=()
trickle_many() {
	local i
	rm -f "$TMP"/slow.*
	SLOW_PIDS=()
	for ((i = 0; i < $1; i++)); do
		trickle "$TMP/slow.$i" "$2" ${3:+"$3"} &
		SLOW_PIDS+=($!)
	done
}

# wait_slow: waits for the slow clients of the last trickle_many.
wait_slow() {
	wait "${SLOW_PIDS[@]}"
}

# lived_at_most SECONDS: how many slow clients' connections ended within SECONDS.
lived_at_most() {
	local n=0 f v
	for f in "$TMP"/slow.*; do
		v=$(cat "$f" 2>/dev/null)
		[[ $v =~ ^[0-9]+$ ]] && [ "$v" -le "$1" ] && n=$((n + 1))
	done
	echo "$n"
}

# codes N PATH [CURL ARGS...]: N requests for PATH from one curl on one
# connection, back to back; prints their statuses ("200 200 429 ").
codes() {
	local n=$1 path=$2 urls=() i
	shift 2
	for ((i = 0; i < n; i++)); do
		urls+=("$BASE$path")
	done
	curl -s "$@" -w '%{stderr}%{http_code} ' "${urls[@]}" 2>&1 >/dev/null
}

# from ADDRESS PATH: the status of a GET from another loopback address.
from() {
	curl -s -o /dev/null --max-time $((5 * SLOW)) -w '%{http_code}' --interface "$1" \
		"$BASE$2" 2>/dev/null || true
}

# The sweep of odd requests must not meet the rate limit: a first server without one.
start_server --rate-limit 0 --max-body 200000
new_org acme
KEY=$ORG_KEY
enable_api
ACME_KEY=$KEY

t "odd methods and paths on every route: 4xx, never 5xx, never a dropped connection"
req GET /v1/openapi.json
# Every route but the key's rotation, which would end the key the rest uses.
jq -r '.paths | keys[]' "$BODY" | grep -vx '/v1/keys/rotate' >"$TMP/paths"
expect_ne "routes listed" 0 "$(wc -l <"$TMP/paths")"
: >"$TMP/sweep"
# One curl per (method, value) with every route in it: the requests share a connection.
for id in '..' '%2e%2e' '..%2f..%2fetc%2fpasswd' '%00' '%ff%fe' "$(printf 'z%.0s' $(seq 1 300))"; do
	urls=()
	while read -r path; do
		urls+=("$BASE$(sed -E "s/\{[^}]*\}/$id/g" <<<"$path")")
	done <"$TMP/paths"
	for m in GET POST PUT PATCH DELETE OPTIONS TRACE FOO; do
		curl -s --max-time $((30 * SLOW)) -X "$m" -H "Authorization: Bearer $KEY" --path-as-is \
			-w '%{stderr}%{http_code} %{method} %{url_effective}\n' "${urls[@]}" \
			>/dev/null 2>>"$TMP/sweep"
	done
done
urls=()
for p in '/../../etc/passwd' '/v1/../v1/settings' '/%2e%2e/%2e%2e/etc/passwd' '//v1//settings' \
	'/v1/settings/' '/v1/settings?%zz=1' '/v1/members?limit=-1&state=%00' \
	'/v1/syncs?limit=99999999999999999999' '/v1/members/%E2%82%AC/visible-teams' '/v1/teams?team=%c0%af'; do
	urls+=("$BASE$p")
done
curl -s -H "Authorization: Bearer $KEY" --path-as-is -w '%{stderr}%{http_code} GET %{url_effective}\n' \
	"${urls[@]}" >/dev/null 2>>"$TMP/sweep"
n=$(wc -l <"$TMP/sweep")
grep -Ev '^[234][0-9][0-9] ' "$TMP/sweep" >"$TMP/sweep.bad"
expect_eq "requests answered 2xx-4xx" "$n" "$((n - $(wc -l <"$TMP/sweep.bad")))"
[ -s "$TMP/sweep.bad" ] && note "$TMP/sweep.bad"
expect_eq "requests made (every route × 6 values × 8 methods, and 10 more)" \
	"$(($(wc -l <"$TMP/paths") * 48 + 10))" "$n"
echo "# $n odd requests, $(wc -l <"$TMP/sweep.bad") answered other than 2xx-4xx"

t "URL too long: 414 as JSON"
req GET "/v1/members?team=$(printf 'x%.0s' $(seq 1 5000))"
expect_status 414
expect_jq "error code" .error.code uri_too_long

t "headers too large: 431 as JSON; far too large: refused all the same"
req GET /healthz -H "X-Padding: $(printf 'y%.0s' $(seq 1 20000))"
expect_status 431
expect_jq "error code" .error.code headers_too_large
req GET /healthz -H "X-Padding: $(head -c 120000 /dev/zero | tr '\0' z)"
expect_match "a 4xx" '^4[0-9][0-9]$' "$STATUS"
req GET /healthz
expect_status 200

t "announced body over the limit: 413 before the body is sent"
head -c 300000 /dev/zero | tr '\0' a >"$TMP/big.json"
got=$(curl -s -o "$BODY" -w '%{http_code} %{size_upload}' -H "Authorization: Bearer $KEY" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$TMP/big.json" \
	"$BASE/v1/syncs")
expect_eq "status" 413 "${got% *}"
expect_jq "error code" .error.code too_large
expect_eq "bytes of the body sent" 0 "${got#* }"

t "a server with tight limits"
stop_server
expect_eq "stopped" 0 "$?"
start_server --rate-limit 1 --rate-burst 5 --header-timeout 2 --max-connections-per-ip 6
new_org globex
GLOBEX_KEY=$ORG_KEY
KEY=$ACME_KEY

t "rate limit: past the burst a key gets 429 with Retry-After, as JSON"
# One curl, one connection, the requests back to back: well within a second.
expect_match "the burst of 5 passes, then 429" '^(200 ){5}429 ' \
	"$(codes 7 /v1/settings -H "Authorization: Bearer $KEY")"
req GET /v1/settings
expect_status 429
expect_jq "error code" .error.code rate_limited
expect_match "message gives the limit" '1 requests per second \(bursts of 5\)' "$(jqr .error.message)"
expect_eq "Retry-After in whole seconds" 1 "$(header Retry-After)"

t "rate limit: another key is not affected, and the limited one recovers"
KEY=$GLOBEX_KEY
req GET /v1/settings
expect_status 200
KEY=$ACME_KEY
sleep 1.2
req GET /v1/settings
expect_status 200

t "rate limit: unauthenticated routes and bad keys do not use a key's tokens"
expect_eq "healthz is not limited" "200 200 200 200 200 200 200 200 " "$(codes 8 /healthz)"
expect_eq "bad keys get 401, not 429" "401 401 401 401 401 401 401 401 " \
	"$(codes 8 /v1/settings -H "Authorization: Bearer osk_nope")"
sleep 1.2
KEY=$ACME_KEY
req GET /v1/settings
expect_status 200
req GET /metrics
expect_match "429s are counted" 'orgsync_rate_limited_total [1-9]' "$(cat "$BODY")"

t "slow clients: a client trickling its header is cut after the header deadline"
sleep 1
trickle_many 3 12
wait_slow
expect_eq "slow clients cut within 4 s" 3 "$(lived_at_most 4)"
req GET /metrics
expect_match "cuts are counted" 'orgsync_connections_cut_total [3-9]' "$(cat "$BODY")"

t "slow clients: a body trickled slower than --min-body-rate is cut after the header deadline"
trickle_many 2 12 body
wait_slow
expect_eq "slow bodies cut within 4 s" 2 "$(lived_at_most 4)"
expect_eq "and not before the deadline" 0 "$(lived_at_most 1)"

t "slow clients: one address cannot take every connection; others are served meanwhile"
trickle_many 12 12
sleep 0.5
expect_eq "another address is served" 200 "$(from 127.0.0.2 /healthz)"
wait_slow
expect_eq "the 6 over the per-address limit were refused at once" 6 "$(lived_at_most 1)"
expect_eq "every slow client ended within the deadline" 12 "$(lived_at_most 4)"

t "connection limit: past --max-connections new connections wait, then are served again"
stop_server
start_server --header-timeout 2 --max-connections 8 --max-connections-per-ip 0
trickle_many 8 12
sleep 0.5
expect_eq "the service is full" 000 "$(curl -s -o /dev/null --max-time 1 -w '%{http_code}' "$BASE/healthz")"
wait_slow
expect_eq "served once the slow clients were cut" 200 \
	"$(curl -s -o /dev/null --max-time 5 -w '%{http_code}' "$BASE/healthz")"

t "SIGTERM during an upload: the request is answered, the sync runs, the service exits 0"
KEY=$ACME_KEY
no_risk_limits
orgsync gen --members 2000 --seed 9 --out "$TMP/org" >/dev/null 2>&1
curl -s -o "$TMP/upload.json" -w '%{http_code}' --limit-rate 60k -H "Authorization: Bearer $KEY" \
	-F "members=@$TMP/org/members.csv" -F "teams=@$TMP/org/teams.csv" \
	-F "teamsMappings=@$TMP/org/teams-mappings.csv" "$BASE/v1/syncs" >"$TMP/upload.status" &
UPLOAD=$!
sleep 1
kill -TERM "$SERVER_PID"
wait "$UPLOAD"
expect_eq "the upload was answered" 202 "$(cat "$TMP/upload.status")"
ID=$(jq -r .id "$TMP/upload.json" 2>/dev/null)
for ((i = 0; i < 300 * SLOW; i++)); do
	kill -0 "$SERVER_PID" 2>/dev/null || break
	sleep 0.1
done
wait "$SERVER_PID"
expect_eq "exit status" 0 "$?"
SERVER_PID=
expect_match "the sync ran before the stop" '^(Success|Warning)$' \
	"$(db_query "SELECT status FROM syncs WHERE id = ${ID:-0}")"
expect_match "the stop said it waited" 'stopping' "$(cat "$TMP/server.err")"

t "after the restart the listening socket is back and the org is as the sync left it"
start_server
req GET "/v1/syncs/${ID:-0}"
expect_status 200
expect_match "status" '^(Success|Warning)$' "$(jqr .status)"
expect_eq "members stored" "$(jqr .counts.members.created)" \
	"$(db_query "SELECT count(*) FROM members WHERE org_id = (SELECT org_id FROM syncs WHERE id = ${ID:-0})")"

finish
