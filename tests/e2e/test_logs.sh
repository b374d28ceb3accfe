#!/usr/bin/env bash
# Logs as data (SPEC §8): every line the service writes on standard error is
# one JSON object, whatever the requests held. Paths built to forge a field
# ("status":200) or a line (%0A, a raw line feed cannot reach it), ids of
# 10 KB, bytes that are not UTF-8 (escaped or raw), hostile User-Agent and
# X-Request-Id headers: each request's line parses, carries the status the
# client got, has no field longer than LOG_CAP (1024) bytes, and the API key
# never appears.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

LOG_CAP=1024
SERVER_QUIET= start_server
new_org acme
KEY=$ORG_KEY
enable_api

# hostile NAME PATH [CURL ARGS...]: a request with X-Request-Id NAME; its
# status goes to $TMP/sent as "NAME STATUS".
: >"$TMP/sent"
hostile() {
	local name=$1 path=$2
	shift 2
	req GET "$path" --path-as-is -g -H "X-Request-Id: $name" "$@"
	echo "$name $STATUS" >>"$TMP/sent"
}

# raw NAME BYTES: a request written as is on a socket (bytes curl would not
# send: a raw quote, a raw byte 0xFF); "NAME STATUS" to $TMP/sent.
raw() {
	local fd status
	exec {fd}<>"/dev/tcp/127.0.0.1/$PORT"
	printf '%b' "$2" >&"$fd"
	status=$(head -1 <&"$fd" | cut -d' ' -f2)
	exec {fd}>&-
	echo "$1 $status" >>"$TMP/sent"
}

t "hostile paths, ids and headers are answered"
long=$(printf 'a%.0s' $(seq 1 4000))
huge=$(printf 'b%.0s' $(seq 1 10000))
hostile forged-field '/v1/members/abc%22,%22status%22:200,%22org%22:2'
KEY= hostile forged-field-noauth '/v1/members/abc%22,%22status%22:200'
hostile forged-line '/v1/members/%0A{"forged":1,"status":200}'
hostile forged-crlf '/v1/members/x%0D%0A%7B%22forged%22:1%7D'
hostile not-utf8 '/v1/members/%FF%FE'
hostile long-id "/v1/members/$long"
hostile huge-id "/v1/members/$huge"
hostile quote-ua /v1/settings -H 'User-Agent: x","status":200,"forged":"1'
hostile control-ua /v1/settings -H "User-Agent: $(printf 'a\001b\033[31mc')"
hostile long-ua /v1/settings -H "User-Agent: $(printf 'u%.0s' $(seq 1 8000))"
req GET /v1/settings -H 'X-Request-Id: x","status":200,"forged":"1'
echo "bad-rid $STATUS" >>"$TMP/sent"
raw raw-quote 'GET /v1/members/a"b",\x22status\x22:200 HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw-quote\r\nConnection: close\r\n\r\n'
raw raw-ff 'GET /v1/members/\xff\xfe HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw-ff\r\nConnection: close\r\n\r\n'
raw raw-method 'G\x01T /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: raw-method\r\nConnection: close\r\n\r\n'
expect_eq "every request answered" 0 "$(awk '$2 == "" || $2 == "000"' "$TMP/sent" | wc -l)"
note "$TMP/sent"

t "the sync log and the stop are logged as JSON too"
D=$TMP/d
fx_new "$D"
fx_member "$D" '"M""1"' m1@acme.example Zoe '"Line, ""Break"""'
sync_csv "$D"
expect_sync Success
stop_server
expect_eq "exit status" 0 "$?"
expect_match "a sync line" '"sync":' "$(cat "$TMP/server.err")"
expect_match "a stop line" '"msg":"stopping' "$(cat "$TMP/server.err")"

t "every line of the service's standard error is one JSON object"
n=0
bad=0
while IFS= read -r line; do
	n=$((n + 1))
	if ! jq -e 'type == "object"' <<<"$line" >/dev/null 2>&1; then
		bad=$((bad + 1))
		fail "line $n is not a JSON object: ${line:0:300}"
	fi
done <"$TMP/server.err"
expect_ne "lines logged" 0 "$n"
expect_eq "lines that are not JSON objects" 0 "$bad"

t "each hostile request's line carries the status its client got"
while read -r name status; do
	[ "$name" = bad-rid ] && continue
	got=$(jq -r --arg rid "$name" 'select(.rid == $rid) | .status' "$TMP/server.err" | tr '\n' ' ')
	expect_eq "$name: status logged" "$status " "$got"
done <"$TMP/sent"
expect_eq "lines with a forged field" 0 "$(jq -c 'select(has("forged"))' "$TMP/server.err" | wc -l)"
expect_eq "a request id that is not a plain token is replaced" 0 \
	"$(jq -c 'select((.rid // "") | test("[^A-Za-z0-9._-]"))' "$TMP/server.err" | wc -l)"
expect_eq "lines claiming status 200 for a path of a forged request" 0 \
	"$(jq -c 'select(.status == 200 and ((.path // "") | test("forged|status")))' "$TMP/server.err" | wc -l)"

t "no field is longer than $LOG_CAP bytes; a cut field says so"
longest=$(jq '[.. | strings | utf8bytelength] | max // 0' "$TMP/server.err" | sort -n | tail -1)
expect_match "longest field ($longest) <= $LOG_CAP" '^yes$' \
	"$([ "$longest" -le $LOG_CAP ] && echo yes || echo no)"
expect_match "the 4000-byte id is cut with a marker" 'cut: [0-9]+ bytes' \
	"$(jq -r 'select(.rid == "long-id") | .path' "$TMP/server.err")"

t "bytes that are not UTF-8 are logged escaped"
expect_eq "the raw 0xFF 0xFE path" '/v1/members/\xFF\xFE' \
	"$(jq -r 'select(.rid == "raw-ff") | .path' "$TMP/server.err")"
expect_eq "the escaped %FF%FE path, as sent" '/v1/members/%FF%FE' \
	"$(jq -r 'select(.rid == "not-utf8") | .path' "$TMP/server.err")"

t "the API key never reaches the log"
expect_eq "lines holding the key" 0 "$(grep -cF -- "$KEY" "$TMP/server.err")"

finish
