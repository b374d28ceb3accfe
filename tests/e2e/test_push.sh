#!/usr/bin/env bash
# orgsync push and plan against a real server (and, for failures a real
# server will not produce on demand, tests/support/stub_server.c): every
# exit code of SPEC §7, retries and their limits, --dump, the legacy
# config.json, that the key never shows, and plan's diff.
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ACME_KEY=$ORG_KEY
enable_api

STUB_BIN=$TMP/stub_server
STUB_PID=
STUB_URL=
if ! cc -std=c11 -D_GNU_SOURCE -o "$STUB_BIN" tests/support/stub_server.c \
	$(pkg-config --cflags --libs libmicrohttpd) 2>"$TMP/stub.cc"; then
	echo "not ok - $TEST_NAME: tests/support/stub_server.c does not build"
	sed 's/^/    | /' "$TMP/stub.cc"
	exit 1
fi

# stub ARGS...: (re)starts the stub server; STUB_URL is its base URL,
# $TMP/stub.count counts the POSTs it received, $TMP/stub.body the last body.
stub() {
	local i
	stub_stop
	rm -f "$TMP/stub.port" "$TMP/stub.count" "$TMP/stub.body"
	"$STUB_BIN" --port-file "$TMP/stub.port" --count-file "$TMP/stub.count" \
		--body-file "$TMP/stub.body" "$@" &
	STUB_PID=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$TMP/stub.port" ] && break
		sleep 0.05
	done
	STUB_URL=http://127.0.0.1:$(cat "$TMP/stub.port")
}

stub_stop() {
	if [ -n "$STUB_PID" ]; then
		kill -TERM "$STUB_PID" 2>/dev/null
		wait "$STUB_PID" 2>/dev/null
		STUB_PID=
	fi
}

stub_count() {
	cat "$TMP/stub.count" 2>/dev/null || echo 0
}

# push ARGS...: orgsync push; RC gets its exit status, $TMP/out and $TMP/err its output.
push() {
	# shellcheck disable=SC2086
	$ORGSYNC push "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
}

plan() {
	# shellcheck disable=SC2086
	$ORGSYNC plan "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
}

# expect_rc WHAT CODE: the last push or plan exited CODE.
expect_rc() {
	if [ "$RC" != "$2" ]; then
		fail "$1: exit status expected $2, got $RC"
		note "$TMP/out"
		note "$TMP/err"
	fi
}

# expect_out WHAT REGEX FILE: a line of FILE matches REGEX (extended).
expect_out() {
	if ! grep -Eq -- "$2" "$3"; then
		fail "$1: no line of $(basename "$3") matches /$2/"
		note "$3"
	fi
}

# sync_total: the number of syncs of the org of $KEY.
sync_total() {
	req GET "/v1/syncs?limit=500"
	jqr '.items | length'
}

# latest_sync: the id of the org's newest sync.
latest_sync() {
	req GET "/v1/syncs?limit=1"
	jqr '.items[0].id'
}

cleanup_push() {
	stub_stop
	cleanup
}
trap cleanup_push EXIT

ORG=$TMP/org
fx_new "$ORG"
fx_people "$ORG" 20
fx_team "$ORG" T1 Sales
fx_team "$ORG" T2 Support
fx_in "$ORG" T1 M001 true true
fx_in "$ORG" T2 M002

export ORGSYNC_API_KEY=$ACME_KEY

t "push --wait into an empty org ends Success: exit 0, counts printed"
push --url "$BASE" --dir "$ORG" --wait
expect_rc "push --wait" 0
expect_out "status line" '^sync [0-9]+: Success' "$TMP/out"
expect_out "member counts" '^members: 20 created' "$TMP/out"
expect_out "team counts" '^teams: 2 created' "$TMP/out"

t "push without --wait: exit 0 once accepted, prints the sync's id and URL"
push --url "$BASE" --members "$ORG/members.csv" --teams "$ORG/teams.csv" \
	--mappings "$ORG/teams-mappings.csv"
expect_rc "push" 0
expect_out "id and URL" "^sync [0-9]+ accepted: $BASE/v1/syncs/[0-9]+$" "$TMP/out"
SYNC=$(sed -n 's/^sync \([0-9]*\) accepted.*/\1/p' "$TMP/out")
wait_sync "$SYNC"
expect_sync Success
expect_count "nothing changes the second time" .counts.members.unchanged 20

t "a skipped record: exit 1 Warning, the report printed in validate's words"
BAD=$TMP/bad
fx_copy "$ORG" "$BAD"
fx_member "$BAD" X001 not-an-email
push --url "$BASE" --dir "$BAD" --wait
expect_rc "push --wait" 1
expect_out "status line" '^sync [0-9]+: Warning' "$TMP/out"
expect_out "the issue" "^members.csv:22:2: error: .*\[invalid_email\] \(record X001, field email\)" "$TMP/out"

t "a structural error: exit 2 before any request, the messages of validate"
new_org beta
BETA_KEY=$ORG_KEY
KEY=$BETA_KEY
BROKEN=$TMP/broken
fx_copy "$ORG" "$BROKEN"
printf 'M099,"unclosed@acme.example,First,Last\n' >>"$BROKEN/members.csv"
push --url "$BASE" --api-key "$BETA_KEY" --dir "$BROKEN" --wait
expect_rc "push" 2
expect_out "validate's message" '^members.csv:[0-9]+(:[0-9]+)?: fatal: ' "$TMP/err"
expect_out "nothing sent" 'nothing was sent' "$TMP/err"
expect_eq "syncs of the org" 0 "$(sync_total)"
$ORGSYNC validate --dir "$BROKEN" >"$TMP/validate.out" 2>&1
grep ': fatal: ' "$TMP/validate.out" >"$TMP/validate.fatal"
grep ': fatal: ' "$TMP/err" >"$TMP/push.fatal"
cmp -s "$TMP/validate.fatal" "$TMP/push.fatal" ||
	fail "push's fatal lines differ from validate's: $(diff "$TMP/validate.fatal" "$TMP/push.fatal" | head -4)"

t "API provisioning inactive: exit 5, says how to activate it"
push --url "$BASE" --api-key "$BETA_KEY" --dir "$ORG"
expect_rc "push" 5
expect_out "how to activate" 'PATCH .*/v1/settings .*"method":"api"' "$TMP/err"
expect_eq "syncs of the org" 0 "$(sync_total)"
KEY=$ACME_KEY

t "a bad API key: exit 5 (401), and the key is not echoed"
push --url "$BASE" --api-key "osk_0000000000000000_wrongwrongwrong" --dir "$ORG" --verbose
expect_rc "push" 5
expect_out "401" 'refused the API key \(401' "$TMP/err"
grep -q wrongwrongwrong "$TMP/out" "$TMP/err" && fail "the bad key appears in the output"

t "no API key at all: exit 5 before anything is read or sent"
ORGSYNC_API_KEY= push --url "$BASE" --dir "$ORG"
expect_rc "push" 5
expect_out "message" 'no API key' "$TMP/err"

t "plain http to a remote host is refused: exit 5 (config), no request"
push --url http://orgsync.example.com --dir "$ORG"
expect_rc "push" 5
expect_out "message" 'refusing plain http:// to orgsync.example.com' "$TMP/err"
push --url http://[::1]:1 --dir "$ORG" --retries 0
expect_rc "::1 is loopback: allowed (then nothing listens: 6)" 6

t "--insecure-http lets plain http through (an unresolvable host: exit 6)"
push --url http://orgsync.invalid --insecure-http --dir "$ORG" --retries 0 --connect-timeout 5
expect_rc "push" 6

t "nothing listening: exit 6, a one-line message; connection errors are retried"
push --url http://127.0.0.1:1 --dir "$ORG" --retries 2 --verbose
expect_rc "push" 6
expect_out "message" '^orgsync push: cannot connect to http://127.0.0.1:1' "$TMP/err"
expect_eq "attempts" 3 "$(grep -c '^> POST' "$TMP/err")"

t "503 twice, then accepted: retried with backoff, exit 0"
stub --fail 2 --fail-status 503
push --url "$STUB_URL" --dir "$ORG" --retries 3
expect_rc "push" 0
expect_eq "POSTs the service received" 3 "$(stub_count)"

t "429 with Retry-After: 1 waits that second, then succeeds"
stub --fail 1 --fail-status 429 --retry-after 1
start_ms=$(date +%s%3N)
push --url "$STUB_URL" --dir "$ORG"
elapsed=$(($(date +%s%3N) - start_ms))
expect_rc "push" 0
expect_eq "POSTs the service received" 2 "$(stub_count)"
[ "$elapsed" -ge 1000 ] || fail "Retry-After not honoured: done in $elapsed ms"

t "503 past the retries: exit 6 after retries+1 attempts"
stub --fail 100 --fail-status 503
push --url "$STUB_URL" --dir "$ORG" --retries 1
expect_rc "push" 6
expect_eq "POSTs the service received" 2 "$(stub_count)"
expect_out "message" 'unavailable \(503\).*2 attempts' "$TMP/err"

t "400 is not retried: one attempt, exit 2"
stub --status 400
push --url "$STUB_URL" --dir "$ORG" --retries 5
expect_rc "push" 2
expect_eq "POSTs the service received" 1 "$(stub_count)"

t "409 (another sync running) is not retried: exit 4, names the running sync"
stub --fail 100 --fail-status 409
push --url "$STUB_URL" --dir "$ORG"
expect_rc "push" 4
expect_eq "POSTs the service received" 1 "$(stub_count)"
expect_out "names it" 'sync 7 is still running' "$TMP/err"

t "413: exit 2 with a clear message"
stub --status 413
push --url "$STUB_URL" --dir "$ORG"
expect_rc "push" 2
expect_out "message" 'larger than the service accepts \(413\)' "$TMP/err"

t "a Failed sync: push --wait exits 4"
stub --sync-status Failed
push --url "$STUB_URL" --dir "$ORG" --wait
expect_rc "push --wait" 4
expect_out "status line" '^sync 1: Failed' "$TMP/out"

t "--dump alone writes the JSON body and sends nothing (no key needed)"
before=$(sync_total)
ORGSYNC_API_KEY= push --dir "$ORG" --dump "$TMP/dump-only.json"
expect_rc "push --dump" 0
expect_eq "syncs of the org" "$before" "$(sync_total)"
expect_true "the dump is the payload" '(.members | length) == 20 and (.teams | length) == 2' \
	"$TMP/dump-only.json"

t "--dump with --as-json: the dump is byte for byte the body the service received"
# The service drops a payload once its sync has ended: the stub keeps it.
stub
push --url "$STUB_URL" --dir "$ORG" --as-json --dump "$TMP/dump.json"
expect_rc "push to the stub" 0
cmp -s "$TMP/dump.json" "$TMP/stub.body" || fail "the dump differs from the body the stub received"
push --url "$BASE" --dir "$ORG" --dry-run --dump "$TMP/dump2.json" --wait --verbose
expect_rc "push --dry-run --dump" 0
cmp -s "$TMP/dump.json" "$TMP/dump2.json" || fail "two dumps of the same org differ"
req GET "/v1/syncs/$(latest_sync)"
expect_jq "--dump with --dry-run sent JSON" .format json

t "the API key never appears in --verbose output nor in a dump"
for f in "$TMP/out" "$TMP/err" "$TMP/dump.json" "$TMP/dump2.json"; do
	grep -qF "$ACME_KEY" "$f" && fail "the key appears in $(basename "$f")"
done
push --url "$BASE" --dir "$ORG" --verbose --dry-run --wait --api-key "$ACME_KEY"
expect_rc "push --verbose" 0
expect_out "request ids" '^< 202 in [0-9]+ ms .*request id ' "$TMP/err"
grep -qF "$ACME_KEY" "$TMP/out" "$TMP/err" && fail "the key appears in the --verbose output"

t "exit 3: a sync over the risk threshold is Paused"
RISKY=$TMP/risky
fx_copy "$ORG" "$RISKY"
fx_drop "$RISKY" members.csv '^M0(0[3-9]|1[0-9]),'
push --url "$BASE" --dir "$RISKY" --wait
expect_rc "push --wait" 3
expect_out "status line" '^sync [0-9]+: Paused' "$TMP/out"
expect_out "how to decide" '^approve: POST .*/approve; reject: POST .*/reject$' "$TMP/out"

t "exit 4: rejected by an administrator while push --wait-decision waits"
# The newest sync now is the previous case's, Paused too: wait for a newer one.
req GET "/v1/syncs?limit=1"
before=$(jqr '.items[0].id // 0')
: >"$TMP/err"
$ORGSYNC push --url "$BASE" --dir "$RISKY" --wait-decision --timeout 60 >"$TMP/out" 2>"$TMP/err" &
PUSH_PID=$!
paused=
for ((i = 0; i < 100 * SLOW; i++)); do
	req GET "/v1/syncs?limit=1"
	if [ "$(jqr '.items[0].id // 0')" -gt "$before" ] && [ "$(jqr '.items[0].status')" = Paused ] &&
		grep -q 'waiting for an administrator' "$TMP/err"; then
		paused=$(jqr '.items[0].id')
		break
	fi
	sleep 0.1
done
expect_ne "a paused sync" "" "$paused"
req POST "/v1/syncs/$paused/reject"
expect_status 200
wait "$PUSH_PID"
RC=$?
expect_rc "push --wait-decision" 4
expect_out "status line" "^sync $paused: Rejected" "$TMP/out"

t "a legacy config.json drives a full push; its old settings get a notice"
new_org gamma
KEY=$ORG_KEY
enable_api
req_json POST /v1/properties '{"name":"department"}'
mkdir -p "$TMP/legacy"
cp examples/legacy/users.csv examples/legacy/groups.csv examples/legacy/groups-mapping.csv "$TMP/legacy/"
cat >"$TMP/legacy/config.json" <<EOF
{
  "ApiUrl": "$BASE",
  "ApiKey": "$KEY",
  "UsersCsv": "users.csv",
  "GroupsCsv": "groups.csv",
  "MappingCsv": "groups-mapping.csv",
  "SyncManagerEmail": "hr@maplefir.example",
  "InviteNewUsers": true
}
EOF
ORGSYNC_API_KEY= push --config "$TMP/legacy/config.json" --wait
expect_rc "push --config" 0
expect_out "status line" '^sync [0-9]+: Success' "$TMP/out"
expect_out "counts" '^members: 33 created' "$TMP/out"
expect_out "notice (emails)" 'SyncManagerEmail .*"notificationEmails".*PATCH /v1/settings \{"notificationEmails":\["hr@maplefir.example"\]\}' "$TMP/err"
expect_out "notice (invite)" 'InviteNewUsers .*"autoInvite".*PATCH /v1/settings \{"autoInvite":true\}' "$TMP/err"
expect_eq "one notice each" 2 "$(grep -c 'notice:' "$TMP/err")"
expect_eq "members stored" 33 "$(member_count)"

t "the config.json of the Officevibe guide: keys under Configuration, paths from its folder"
new_org epsilon
KEY=$ORG_KEY
enable_api
req_json POST /v1/properties '{"name":"department"}'
mkdir -p "$TMP/guide/Data"
cp examples/legacy/users.csv examples/legacy/groups.csv examples/legacy/groups-mapping.csv "$TMP/guide/Data/"
cat >"$TMP/guide/config.json" <<EOF
{"Configuration": {"ApiUrl": "$BASE", "ApiKey": "$KEY", "UsersCsv": "./Data/users.csv",
  "GroupsCsv": "./Data/groups.csv", "MappingCsv": "./Data/groups-mapping.csv",
  "SyncManagerEmail": "", "InviteNewUsers": false}}
EOF
ORGSYNC_API_KEY= push --config "$TMP/guide/config.json" --wait
expect_rc "push --config" 0
expect_out "status line" '^sync [0-9]+: Success' "$TMP/out"
expect_out "counts" '^members: 33 created' "$TMP/out"
expect_out "notice (invite)" 'InviteNewUsers .*PATCH /v1/settings \{"autoInvite":false\}' "$TMP/err"
expect_out "notice (emails)" 'SyncManagerEmail .*PATCH /v1/settings \{"notificationEmails":\[' "$TMP/err"
expect_eq "members stored" 33 "$(member_count)"

t "a config that is not JSON: exit 5"
echo '{ "ApiUrl": ' >"$TMP/broken-config.json"
push --config "$TMP/broken-config.json"
expect_rc "push --config" 5

t "plan: a human-readable diff of a changed org, nothing applied"
new_org delta
KEY=$ORG_KEY
enable_api
no_risk_limits
export ORGSYNC_API_KEY=$KEY
push --url "$BASE" --dir "$ORG" --wait
expect_rc "first push" 0
CHANGED=$TMP/changed
fx_copy "$ORG" "$CHANGED"
fx_member "$CHANGED" N001 new.person@acme.example New Person
fx_sed "$CHANGED" members.csv 's/^M002,m002@acme.example,First002,/M002,m002@acme.example,Renamed,/'
fx_drop "$CHANGED" members.csv '^M020,'
fx_sed "$CHANGED" teams.csv 's/^T1,Sales$/T1,Sales \& Marketing/'
fx_drop "$CHANGED" teams.csv '^T2,'
fx_drop "$CHANGED" teams-mappings.csv '^T2,'
fx_team "$CHANGED" T3 Research
fx_in "$CHANGED" T3 N001 true true
before=$(sync_total)
plan --url "$BASE" --dir "$CHANGED"
expect_rc "plan" 0
expect_out "created" '^  create +N001 +new.person@acme.example' "$TMP/out"
expect_out "updated, with the field old -> new" '^  update +M002 +m002@acme.example: firstName First002 -> Renamed$' "$TMP/out"
expect_out "deleted" '^  delete +M020 ' "$TMP/out"
expect_out "renamed old -> new" '^  rename +T1 +Sales -> Sales & Marketing' "$TMP/out"
expect_out "team deleted" '^  delete +T2 +Support' "$TMP/out"
expect_out "mapping added" '^  add +T3 <- member N001 \(member, manager\)' "$TMP/out"
expect_out "mapping removed" '^  remove +T2 <- member M002' "$TMP/out"
expect_out "totals" '^members: 1 created, 1 updated, 0 reactivated, 0 deactivated, 1 deleted, 18 unchanged' "$TMP/out"
expect_eq "syncs of the org (one dry run more)" $((before + 1)) "$(sync_total)"
req GET /v1/syncs?limit=1
expect_jq "the plan's sync was a dry run" '.items[0].dryRun' true
req GET /v1/members/M020
expect_status 200

t "plan --limit caps each section; --format json is the whole plan, every page"
plan --url "$BASE" --dir "$CHANGED" --limit 1
expect_rc "plan --limit 1" 0
expect_out "capped" '^  … and 2 more$' "$TMP/out"
plan --url "$BASE" --dir "$CHANGED" --format json
expect_rc "plan --format json" 0
expect_true "the plan JSON" '.counts.members.created == 1 and ([.items[] | select(.type == "member")] | length) == 3 and (.items | length) == .total and .next == null' "$TMP/out"

HTTPS_CASE="https: certificates are verified; --cacert trusts a private CA"
if ! $ORGSYNC serve --help 2>&1 | grep -q -- --tls-cert; then
	skip_unless_required "$HTTPS_CASE" "this build serves no TLS"
elif ! command -v openssl >/dev/null; then
	skip_unless_required "$HTTPS_CASE" "openssl is not installed (apt-get install -y openssl)"
else
	t "$HTTPS_CASE"
	PKI=$TMP/pki
	mkdir -p "$PKI"
	ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)
	{
		openssl req -x509 "${ec[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 2 \
			-subj "/CN=push e2e CA" &&
			openssl req "${ec[@]}" -keyout "$PKI/server.key" -out "$PKI/server.csr" \
				-subj "/CN=localhost" &&
			printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$PKI/server.ext" &&
			openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
				-CAcreateserial -days 2 -extfile "$PKI/server.ext" -out "$PKI/server.pem"
	} >"$TMP/openssl.log" 2>&1 || fail "the test certificates could not be made"
	chmod 600 "$PKI/server.key"
	TLS_DB=$TMP/tls.db
	out=$(orgsync org create tls --db "sqlite:$TLS_DB" 2>&1)
	TLS_KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
	: >"$TMP/tls.out"
	# shellcheck disable=SC2086
	$ORGSYNC serve --db "sqlite:$TLS_DB" --listen 127.0.0.1:0 --quiet --tls-cert "$PKI/server.pem" \
		--tls-key "$PKI/server.key" >"$TMP/tls.out" 2>"$TMP/tls.err" &
	TLS_PID=$!
	TLS_PORT=
	for ((i = 0; i < 100 * SLOW; i++)); do
		TLS_PORT=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$TMP/tls.out")
		[ -n "$TLS_PORT" ] && break
		sleep 0.1
	done
	TLS_URL=https://127.0.0.1:$TLS_PORT
	for ((i = 0; i < 100 * SLOW; i++)); do
		curl -s --cacert "$PKI/ca.pem" -o /dev/null "$TLS_URL/healthz" && break
		sleep 0.1
	done
	curl -s --cacert "$PKI/ca.pem" -H "Authorization: Bearer $TLS_KEY" -X PATCH \
		-d '{"provisioning":{"method":"api"}}' "$TLS_URL/v1/settings" >/dev/null
	push --url "$TLS_URL" --api-key "$TLS_KEY" --dir "$ORG" --retries 0
	expect_rc "an unknown CA" 6
	expect_out "message" 'TLS failure with 127.0.0.1: .*--cacert' "$TMP/err"
	push --url "$TLS_URL" --api-key "$TLS_KEY" --dir "$ORG" --cacert "$PKI/ca.pem" --wait
	expect_rc "with --cacert" 0
	expect_out "status line" '^sync [0-9]+: Success' "$TMP/out"
	push --url "$TLS_URL" --api-key "$TLS_KEY" --dir "$ORG" --cacert "$TMP/no-such-ca.pem"
	expect_rc "an unreadable --cacert" 5
	kill -TERM "$TLS_PID" 2>/dev/null
	wait "$TLS_PID" 2>/dev/null
fi

stub_stop
finish
