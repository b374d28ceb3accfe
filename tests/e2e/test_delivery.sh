#!/usr/bin/env bash
# Delivery (SPEC §9) against real receivers this file starts: an SMTP server
# (tests/support/smtp_sink.py, aiosmtpd) that keeps each message as a file,
# and a webhook receiver (tests/support/webhook_receiver.py) that checks
# each signature with the secret and answers 200, 500 or slowly as told.
# First without --smtp-url and without --webhook-allow-private (emails wait,
# internal webhook targets refused), then with both, on the same database.
# The hidden --delivery-* options shrink the retry schedule to seconds.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import aiosmtpd' 2>/dev/null; then
	echo "not ok - $TEST_NAME: python3-aiosmtpd is not installed (apt-get install -y python3-aiosmtpd)"
	exit 1
fi

MAIL=$TMP/mail
HOOKLOG=$TMP/hooks.log
HOOKMODE=$TMP/hooks.mode
SECRET=whsec-0123456789abcdef
PUBLIC=https://orgsync.example.test
SINK_PID=
HOOK_PID=
SMTP_PORT=0
HOOK_PORT=0
SERVER_QUIET= # with the request log: no token may show in it
mkdir -p "$MAIL"
: >"$HOOKLOG"
: >"$MAIL/received.log"

stop_receivers() {
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	[ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null && wait "$HOOK_PID" 2>/dev/null
	SINK_PID=
	HOOK_PID=
}
trap 'stop_receivers; cleanup' EXIT

# wait_port FILE: the port a test receiver wrote, once it listens.
wait_port() {
	local i
	for ((i = 0; i < 100 * SLOW; i++)); do
		[ -s "$1" ] && { cat "$1"; return 0; }
		sleep 0.05
	done
	echo "not ok - $TEST_NAME: a test receiver did not start" >&2
	return 1
}

# start_sink [--refuse ADDR]...: the SMTP server, on the same port as before once it had one.
start_sink() {
	rm -f "$TMP/smtp.port"
	"$PY" tests/support/smtp_sink.py --dir "$MAIL" --port "$SMTP_PORT" \
		--port-file "$TMP/smtp.port" "$@" 2>>"$TMP/sink.err" &
	SINK_PID=$!
	SMTP_PORT=$(wait_port "$TMP/smtp.port") || exit 1
}

stop_sink() {
	kill "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	SINK_PID=
}

start_hooks() {
	rm -f "$TMP/hooks.port"
	"$PY" tests/support/webhook_receiver.py --secret "$SECRET" --log "$HOOKLOG" \
		--mode "$HOOKMODE" --port-file "$TMP/hooks.port" --port "$HOOK_PORT" \
		2>>"$TMP/hooks.err" &
	HOOK_PID=$!
	HOOK_PORT=$(wait_port "$TMP/hooks.port") || exit 1
}

# until_true SECONDS CMD...: polls CMD until it succeeds; 1 when it never did.
until_true() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 20 * SLOW; i++)); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# mails RCPT: how many messages the SMTP server got for RCPT.
mails() {
	grep -c " $1\$" "$MAIL/received.log"
}

# mail_json RCPT [N]: the Nth (default: last) message for RCPT, read by mail_read.py.
mail_json() {
	local f
	f=$(grep " $1\$" "$MAIL/received.log" | sed -n "${2:-\$}p" | cut -d' ' -f1)
	[ -n "$f" ] && "$PY" tests/support/mail_read.py "$MAIL/$f.eml"
}

has_mails() { [ "$(mails "$1")" -ge "${2:-1}" ]; }

# deliveries: every delivery of the org as JSON lines (GET /v1/deliveries, first 500).
deliveries() {
	curl -s -H "Authorization: Bearer $KEY" "$BASE/v1/deliveries?limit=500" | jq -c '.items[]'
}

# delivery_where JQ-CONDITION: the first delivery for which it holds.
delivery_where() {
	deliveries | jq -c "select($1)" | head -1
}

has_delivery() { [ -n "$(delivery_where "$1")" ]; }

# hook_lines JQ-CONDITION: the receiver's log lines for which it holds.
hook_lines() {
	jq -c "select($1)" "$HOOKLOG"
}

serve_opts=(--public-url "$PUBLIC" --delivery-backoff-ms 200 --delivery-give-up-ms 4000
	--delivery-lease-ms 2000)

O=$TMP/org
fx_new "$O"
fx_member "$O" Z1 zoe@acme.example "Zoë Åsa" "Ñúñez"
printf 'W1,w@acme.example,渡辺,\n' >>"$O/members.csv"

# --- without --smtp-url, without --webhook-allow-private --------------------------------

t "serve refuses SMTP options it cannot use, before starting"
out=$(orgsync serve --db "sqlite:$TMP/x.db" --smtp-url 'smtp//nowhere' --smtp-from a@b.example 2>&1)
expect_eq "exit (unparsable URL)" 5 $?
expect_match "message" 'smtp-url.*cannot parse' "$out"
out=$(orgsync serve --db "sqlite:$TMP/x.db" --smtp-url 'http://mail.example' --smtp-from a@b.example 2>&1)
expect_eq "exit (scheme)" 5 $?
expect_match "message" 'scheme is smtp or smtps' "$out"
out=$(orgsync serve --db "sqlite:$TMP/x.db" --smtp-url 'smtp://u:secret@mail.example' \
	--smtp-from a@b.example 2>&1)
expect_eq "exit (credentials in the URL)" 5 $?
expect_match "message" 'ORGSYNC_SMTP_USER' "$out"
out=$(orgsync serve --db "sqlite:$TMP/x.db" --smtp-url smtp://127.0.0.1:25 2>&1)
expect_eq "exit (no sender)" 5 $?
expect_match "message" 'needs --smtp-from' "$out"
out=$(orgsync serve --db "sqlite:$TMP/x.db" --smtp-url smtp://127.0.0.1:25 --smtp-from 'X <no>' 2>&1)
expect_eq "exit (bad sender)" 5 $?
out=$(orgsync serve --db "sqlite:$TMP/x.db" --public-url 'ftp://x' 2>&1)
expect_eq "exit (bad public URL)" 5 $?
expect_eq "no database was made" no "$([ -e "$TMP/x.db" ] && echo yes || echo no)"

start_server "${serve_opts[@]}"
new_org "Société Ærø"
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api
start_hooks

t "without --smtp-url the service says so at start and in /metrics; invitations wait"
expect_ne "said at start" 0 "$(grep -c 'no --smtp-url' "$TMP/server.err")"
req GET /metrics
expect_match "metric" 'orgsync_smtp_configured 0' "$(cat "$BODY")"
req_json PATCH /v1/settings '{"autoInvite":true,"notificationEmails":["hr@acme.example"]}'
expect_status 200
sync_csv "$O"
expect_sync Success
sleep 1
expect_eq "queued, never tried" "queued 0
queued 0" "$(deliveries | jq -r 'select(.kind == "invitation") | "\(.status) \(.attempts)"')"

t "PATCH refuses webhooks to internal addresses or without https, naming the field"
for url in https://127.0.0.1/h https://169.254.169.254/latest/meta-data "https://[::1]:8443/h" \
	https://10.0.0.5/h https://100.64.1.1/h "https://[fd00::1]/h" http://hooks.example.com/h \
	not-a-url; do
	req_json PATCH /v1/settings "{\"webhooks\":[{\"url\":\"$url\",\"secret\":\"$SECRET\"}]}"
	expect_status 400
	expect_match "$url: names the field" 'webhooks(\[0\]\.url)?:' "$(jqr .error.message)"
done
req GET /v1/settings
expect_eq "nothing stored" 0 "$(jqr '.webhooks | length')"

t "a host name that resolves to loopback is refused at send time"
req_json PATCH /v1/settings "{\"webhooks\":[{\"url\":\"https://localhost:$HOOK_PORT/hook\",\"secret\":\"$SECRET\"}]}"
expect_status 200
sync_csv "$O"
expect_sync Success
until_true 5 has_delivery '.kind == "webhook" and (.lastError // "" | test("loopback"))' ||
	fail "no webhook delivery failed for the loopback address"
expect_match "the error names the address" 'localhost resolves to (127\.0\.0\.1|::1), a loopback address' \
	"$(delivery_where '.kind == "webhook"' | jq -r .lastError)"
expect_eq "the receiver got nothing" 0 "$(wc -l <"$HOOKLOG")"
req_json PATCH /v1/settings '{"webhooks":[]}'
expect_status 200

# Another org: K1 stays; R1 (invited) is removed and D1 (active, invited again) is
# deactivated by a sync while their invitations wait for SMTP.
t "a sync that removes or deactivates members withdraws their waiting invitations"
KEY_A=$KEY
new_org "Gone Ltd"
KEY=$ORG_KEY
KEY_G=$KEY
enable_api
no_risk_limits
req_json PATCH /v1/settings '{"autoInvite":true}'
expect_status 200
G=$TMP/gone
fx_new "$G"
fx_member "$G" K1 keep@gone.example Kim Kept
fx_member "$G" R1 removed@gone.example Rob Removed
fx_member "$G" D1 deact@gone.example Dee Deactivated
sync_csv "$G"
expect_sync Success
KEY=
req POST "/v1/invitations/$(outbox_token deact@gone.example)/accept"
expect_status 200
KEY=$KEY_G
req POST /v1/members/D1/invite
expect_status 202
fx_drop "$G" members.csv '^(R1|D1),'
sync_csv "$G"
expect_sync Success
expect_count "deleted" .counts.members.deleted 1
expect_count "deactivated" .counts.members.deactivated 1
expect_eq "K1's waits" "queued" \
	"$(deliveries | jq -r 'select(.recipient == "keep@gone.example") | .status')"
expect_eq "R1's withdrawn" "dead 0 the member was removed before the invitation was sent" \
	"$(deliveries | jq -r 'select(.recipient == "removed@gone.example")
		| "\(.status) \(.attempts) \(.lastError)"')"
expect_eq "D1's two withdrawn" "dead the member was deactivated before the invitation was sent
dead the member was deactivated before the invitation was sent" \
	"$(deliveries | jq -r 'select(.recipient == "deact@gone.example") | "\(.status) \(.lastError)"')"
expect_eq "no clear token left for them" 0 "$(db_query "SELECT count(*) FROM outbox
	WHERE recipient IN ('removed@gone.example', 'deact@gone.example')
	AND json_extract(payload, '\$.token') IS NOT NULL")"
ID=$(delivery_where '.recipient == "removed@gone.example"' | jq -r .id)
req POST "/v1/deliveries/$ID/retry"
expect_status 409
KEY=$KEY_A

stop_server

# --- with --smtp-url and --webhook-allow-private -----------------------------------------

start_sink --refuse refused@acme.example
start_server "${serve_opts[@]}" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
	--smtp-from 'Orgsync <noreply@orgsync.example>' --webhook-allow-private

t "the invitations that waited arrive once each, in UTF-8 (RFC 2047 headers)"
until_true 10 has_mails zoe@acme.example || fail "no invitation reached zoe@acme.example"
until_true 10 has_mails w@acme.example || fail "no invitation reached w@acme.example"
sleep 0.5
expect_eq "once (zoe)" 1 "$(mails zoe@acme.example)"
expect_eq "once (w)" 1 "$(mails w@acme.example)"
m=$(mail_json zoe@acme.example)
expect_eq "subject" "Société Ærø invites you to join them" "$(jq -r .subject <<<"$m")"
expect_match "subject encoded" '^=\?UTF-8\?B\?' "$(jq -r .rawSubject <<<"$m")"
expect_eq "to" "Zoë Åsa Ñúñez" "$(jq -r .toName <<<"$m")"
expect_match "to encoded" '^=\?UTF-8\?B\?.*<zoe@acme\.example>$' "$(jq -r .rawTo <<<"$m")"
expect_eq "to (w)" "渡辺" "$(mail_json w@acme.example | jq -r .toName)"
expect_match "message id" '^<dlv_[0-9a-f]{24}@orgsync\.example>$' "$(jq -r .messageId <<<"$m")"
expect_match "date" '^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} ' "$(jq -r .date <<<"$m")"
expect_eq "MIME" "1.0" "$(jq -r .mime <<<"$m")"
expect_match "content type" '^text/plain; charset="?(utf|UTF)-8"?$' "$(jq -r .contentType <<<"$m")"
expect_eq "encoding" 8bit "$(jq -r .encoding <<<"$m")"
expect_eq "CRLF lines" true "$(jq -r .crlf <<<"$m")"
expect_eq "lines <= 998" true "$(jq -r '.longestLine <= 998' <<<"$m")"
expect_match "names the org" 'Société Ærø invites you' "$(jq -r .body <<<"$m")"
expect_match "the link" "$PUBLIC/invitations/[A-Za-z0-9_-]{43}" "$(jq -r .body <<<"$m")"
expect_match "valid 7 days" '7 days' "$(jq -r .body <<<"$m")"
expect_eq "header id = the delivery's" "$(jq -r .delivery <<<"$m")" \
	"$(delivery_where '.recipient == "zoe@acme.example"' | jq -r .id)"
expect_eq "status" "sent 1" "$(delivery_where '.recipient == "zoe@acme.example"' | jq -r '"\(.status) \(.attempts)"')"

TOKEN=$(mail_json zoe@acme.example | jq -r .body | sed -n 's|.*/invitations/\([A-Za-z0-9_-]*\).*|\1|p')
TOKEN_W=$(mail_json w@acme.example | jq -r .body | sed -n 's|.*/invitations/\([A-Za-z0-9_-]*\).*|\1|p')

t "once SMTP is there, the kept member gets theirs, the removed and deactivated nothing"
until_true 10 has_mails keep@gone.example || fail "no invitation reached keep@gone.example"
sleep 0.5
expect_eq "kept: once" 1 "$(mails keep@gone.example)"
expect_eq "removed: nothing" 0 "$(mails removed@gone.example)"
expect_eq "deactivated: nothing" 0 "$(mails deact@gone.example)"
KEY=$KEY_G
expect_eq "still dead, never tried" "dead 0
dead 0
dead 0" "$(deliveries | jq -r 'select(.recipient != "keep@gone.example") | "\(.status) \(.attempts)"')"
KEY=$KEY_A

t "the link opens a page whose button accepts the invitation: the member is active"
saved=$KEY
KEY=
req GET "/invitations/$TOKEN"
expect_status 200
expect_match "HTML" '^text/html' "$(header Content-Type)"
expect_match "no script, no external asset" "default-src 'none'" "$(header Content-Security-Policy)"
expect_ne "a form to the accept call" 0 \
	"$(grep -c "<form method=\"post\" action=\"../v1/invitations/$TOKEN/accept\">" "$BODY")"
req POST "/v1/invitations/$TOKEN/accept" -H 'Accept: text/html' \
	-H 'Content-Type: application/x-www-form-urlencoded' --data ''
expect_status 200
expect_ne "says it worked" 0 "$(grep -c 'your account is active' "$BODY")"
req POST "/v1/invitations/$TOKEN/accept" -H 'Accept: text/html' --data ''
expect_status 404
expect_ne "the second time it does not" 0 "$(grep -c 'unknown, already used or expired' "$BODY")"
req GET "/invitations/%3Cscript%3E"
expect_status 404
expect_eq "nothing echoed unescaped" 0 "$(grep -c '<script' "$BODY")"
KEY=$saved
req GET /v1/members/Z1
expect_jq "state" .state active

t "the tokens are gone from the database once sent, and from the log"
expect_eq "outbox payloads with a token" 0 "$(db_query "SELECT count(*) FROM outbox
	WHERE kind = 'invitation' AND status = 'sent' AND json_extract(payload, '\$.token') IS NOT NULL")"
expect_eq "the whole database (zoe)" 0 "$(db_dump | grep -cF -- "$TOKEN")"
expect_eq "the whole database (w)" 0 "$(db_dump | grep -cF -- "$TOKEN_W")"
expect_eq "the request log" 0 "$(grep -cF -- "$TOKEN" "$TMP/server.err")"
expect_ne "the log has the page request" 0 "$(grep -c '/invitations/{token}' "$TMP/server.err")"

t "20 new members with auto-invite: 20 invitations, one each"
fx_people "$O" 20 N
sync_csv "$O"
expect_sync Success
expect_count "invitations" .counts.invitations 20
until_true 15 eval '[ "$(grep -c " n0[0-9][0-9]@acme.example$" "$MAIL/received.log")" -ge 20 ]' ||
	fail "not all 20 invitations arrived"
sleep 0.5
expect_eq "20 messages" 20 "$(grep -c " n0[0-9][0-9]@acme.example$" "$MAIL/received.log")"
expect_eq "to 20 recipients" 20 "$(grep " n0[0-9][0-9]@acme.example$" "$MAIL/received.log" |
	cut -d' ' -f2 | sort -u | wc -l)"

t "an address the SMTP server refuses goes dead with its answer; the others go on"
fx_member "$O" R1 refused@acme.example Re Fused
fx_member "$O" A2 after@acme.example Af Ter
sync_csv "$O"
expect_sync Success
until_true 10 has_delivery '.recipient == "refused@acme.example" and .status == "dead"' ||
	fail "the refused invitation is not dead"
expect_match "the server's answer" 'RCPT TO: 550 5\.1\.1 <refused@acme\.example>: recipient refused' \
	"$(delivery_where '.recipient == "refused@acme.example"' | jq -r .lastError)"
expect_eq "tried once" 1 "$(delivery_where '.recipient == "refused@acme.example"' | jq -r .attempts)"
until_true 10 has_mails after@acme.example || fail "the next invitation did not arrive"

t "webhooks: every status change once per delivery id, each signature valid"
req_json PATCH /v1/settings "{\"webhooks\":[{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"secret\":\"$SECRET\"}]}"
expect_status 200
expect_jq "write-only" '.webhooks[0] | "\(.hasSecret) \(has("secret"))"' "true false"
expected=()
sync_csv "$O" # unchanged: Success
expect_sync Success
S_OK=$SYNC
expected+=("$S_OK Pending null" "$S_OK Success Pending")
fx_member "$O" BAD1 not-an-email Bad Row
sync_csv "$O"
expect_sync Warning
S_WARN=$SYNC
expected+=("$S_WARN Pending null" "$S_WARN Warning Pending")
D=$TMP/drop
fx_new "$D"
fx_member "$D" Z1 zoe@acme.example "Zoë Åsa" "Ñúñez"
sync_csv "$D"
expect_sync Paused
S_REJ=$SYNC
req POST "/v1/syncs/$S_REJ/reject"
expect_status 200
expected+=("$S_REJ Pending null" "$S_REJ Paused Pending" "$S_REJ Rejected Paused")
sync_csv "$D"
expect_sync Paused
S_SUP=$SYNC
sync_csv "$D"
expect_sync Paused
S_APP=$SYNC
expected+=("$S_SUP Pending null" "$S_SUP Paused Pending" "$S_SUP Rejected Paused")
req POST "/v1/syncs/$S_APP/approve"
expect_status 202
wait_sync "$S_APP"
expect_sync Success
expected+=("$S_APP Pending null" "$S_APP Paused Pending" "$S_APP Pending Paused" "$S_APP Success Pending")
want=$(printf '%s\n' "${expected[@]}" | sort)
until_true 10 eval '[ "$(hook_lines ".answer == 200" | wc -l)" -ge ${#expected[@]} ]' ||
	fail "not every event reached the receiver"
sleep 0.5
got=$(hook_lines '.answer == 200' | jq -r '.body | fromjson | "\(.sync.id) \(.sync.status) \(.sync.previousStatus)"' | sort)
expect_eq "events" "$want" "$got"
expect_eq "each delivery id once" "$(hook_lines true | wc -l)" "$(hook_lines true | jq -r .id | sort -u | wc -l)"
expect_eq "every signature valid" "" "$(hook_lines '.valid != true')"
expect_eq "the body's id is the header's" "" "$(hook_lines '(.body | fromjson | .id) != .id')"
ev=$(hook_lines "(.body | fromjson | .sync.status) == \"Paused\"" | head -1 | jq -r .body)
expect_eq "type" sync.status "$(jq -r .type <<<"$ev")"
expect_eq "org" "$ORG_A" "$(jq -r .org.id <<<"$ev")"
expect_eq "mode" full "$(jq -r .sync.mode <<<"$ev")"
expect_eq "risk" true "$(jq -r .sync.risk.paused <<<"$ev")"
expect_match "reason" 'risk threshold' "$(jq -r .sync.reason <<<"$ev")"
expect_match "counts" '^[0-9]+$' "$(jq -r .sync.counts.members.deleted <<<"$ev")"

t "a tampered body fails the receiver's check"
line=$(hook_lines '.answer == 200' | head -1)
body=$(jq -r .body <<<"$line")
ts=$(date +%s)
sig=$(printf '%s.%s' "$ts" "$body" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/.*= //')
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Orgsync-Delivery: check-intact" \
	-H "X-Orgsync-Timestamp: $ts" -H "X-Orgsync-Signature: sha256=$sig" \
	--data-binary "$body" "http://127.0.0.1:$HOOK_PORT/hook")
expect_eq "the intact body, signed with openssl" 200 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Orgsync-Delivery: check-tampered" \
	-H "X-Orgsync-Timestamp: $ts" -H "X-Orgsync-Signature: sha256=$sig" \
	--data-binary "${body/Paused/Success}${body:+ }" "http://127.0.0.1:$HOOK_PORT/hook")
expect_eq "the tampered body" 401 "$code"

t "notifications: Paused names the limit, by how much, and how to approve or reject; Warning counts the issues"
until_true 10 has_mails hr@acme.example 4 || fail "the notifications did not all arrive"
req GET "/v1/syncs/$S_REJ"
trip=$(jqr '.risk.trips[0].message')
n=$(grep -c " hr@acme.example$" "$MAIL/received.log")
paused= warning=
for ((i = 1; i <= n; i++)); do
	m=$(mail_json hr@acme.example "$i")
	case $(jq -r .subject <<<"$m") in
	*"sync $S_REJ is paused"*) paused=$m ;;
	*"sync $S_WARN ended with warnings"*) warning=$m ;;
	esac
done
expect_eq "paused subject" "[orgsync] Société Ærø: sync $S_REJ is paused: approve or reject it" \
	"$(jq -r .subject <<<"$paused")"
expect_ne "the tripped limit and by how much" 0 "$(jq -r .body <<<"$paused" | grep -cF -- "  - $trip")"
expect_ne "approve" 0 "$(jq -r .body <<<"$paused" | grep -cF "curl -X POST -H \"Authorization: Bearer \$ORGSYNC_API_KEY\" $PUBLIC/v1/syncs/$S_REJ/approve")"
expect_ne "reject" 0 "$(jq -r .body <<<"$paused" | grep -cF "$PUBLIC/v1/syncs/$S_REJ/reject")"
expect_match "warning: issue counts" '1 error\(s\).*0 warning\(s\)' "$(jq -r .body <<<"$warning" | tr '\n' ' ')"
expect_ne "warning: the report" 0 "$(jq -r .body <<<"$warning" | grep -cF "$PUBLIC/v1/syncs/$S_WARN/report")"
expect_eq "Success and Rejected notify no one by email" 4 "$n"

t "a dry run sends nothing"
sleep 0.5
mails_before=$(wc -l <"$MAIL/received.log")
hooks_before=$(wc -l <"$HOOKLOG")
outbox_before=$(db_query "SELECT count(*) FROM outbox")
fx_member "$O" N099 n099@acme.example New Member
sync_csv "$O" '?dryRun=true'
expect_sync Warning
sleep 1.5
expect_eq "outbox" "$outbox_before" "$(db_query "SELECT count(*) FROM outbox")"
expect_eq "emails" "$mails_before" "$(wc -l <"$MAIL/received.log")"
expect_eq "webhook calls" "$hooks_before" "$(wc -l <"$HOOKLOG")"
fx_drop "$O" members.csv '^N099,'

t "SMTP server down, then up: the invitation waits and is delivered later"
stop_sink
req POST /v1/members/Z1/invite
expect_status 202
until_true 10 has_delivery '.recipient == "zoe@acme.example" and .status == "retrying"' ||
	fail "the invitation was not retried"
expect_match "the error" 'SMTP: (Couldn|Could)' \
	"$(delivery_where '.recipient == "zoe@acme.example" and .status == "retrying"' | jq -r .lastError)"
start_sink --refuse refused@acme.example
until_true 10 has_mails zoe@acme.example 2 || fail "the invitation never arrived"
expect_match "sent after retries" '^sent [2-9]' "$(delivery_where '.recipient == "zoe@acme.example"' |
	jq -r '"\(.status) \(.attempts)"')"

t "a receiver answering 500: retried with growing delays, dead after the window, a retry delivers it"
echo 500 >"$HOOKMODE"
sync_csv "$O"
expect_sync Warning
HOOK_URL=http://127.0.0.1:$HOOK_PORT/hook
until_true 15 has_delivery ".recipient == \"$HOOK_URL\" and .status == \"dead\"" || fail "no webhook went dead"
dead=$(delivery_where ".recipient == \"$HOOK_URL\" and .status == \"dead\"")
ID=$(jq -r .id <<<"$dead")
expect_eq "the last error" "the receiver answered HTTP 500" "$(jq -r .lastError <<<"$dead")"
tries=$(hook_lines ".id == \"$ID\"" | wc -l)
expect_eq "attempts = calls received" "$tries" "$(jq -r .attempts <<<"$dead")"
# 4 s at a fixed 200 ms would be 20 calls; doubling bounds keep it near log2(20).
expect_eq "a few attempts, not a fixed rate" yes "$([ "$tries" -ge 3 ] && [ "$tries" -le 12 ] && echo yes || echo "no ($tries)")"
gaps=$(hook_lines ".id == \"$ID\"" | jq -s -r '[.[].at] | . as $a | [range(1; length) | $a[.] - $a[. - 1]] | join(" ")')
i=0
for g in $gaps; do
	bound=$((200 * (1 << i) + 600))
	[ "$g" -le "$bound" ] || fail "delay $((i + 1)) was $g ms, over the backoff bound $bound"
	i=$((i + 1))
done
echo 200 >"$HOOKMODE"
req POST "/v1/deliveries/$ID/retry"
expect_status 202
until_true 10 has_delivery ".id == \"$ID\" and .status == \"sent\"" || fail "the retried delivery was not sent"
expect_eq "delivered once it answered 200" 1 "$(hook_lines ".id == \"$ID\" and .answer == 200" | wc -l)"
req POST "/v1/deliveries/$ID/retry"
expect_status 409

t "SIGKILL mid-delivery: delivered after the restart, duplicates only under the same id"
until_true 10 eval '! deliveries | jq -e "select(.kind == \"webhook\" and (.status == \"queued\" or .status == \"retrying\"))" >/dev/null' ||
	fail "webhooks still pending before the crash"
echo "sleep 3" >"$HOOKMODE"
sync_csv "$O"
until_true 10 eval '[ -n "$(hook_lines ".answer == \"arrived\"")" ]' || fail "no call in flight"
crash_server
echo 200 >"$HOOKMODE"
start_server "${serve_opts[@]}" --smtp-url "smtp://127.0.0.1:$SMTP_PORT" \
	--smtp-from 'Orgsync <noreply@orgsync.example>' --webhook-allow-private
CRASHED=$(hook_lines '.answer == "arrived"' | head -1 | jq -r .id)
until_true 15 has_delivery ".id == \"$CRASHED\" and .status == \"sent\"" ||
	fail "the delivery in flight at the crash was not sent after the restart"
expect_eq "every call under that id has one body" 1 \
	"$(hook_lines ".id == \"$CRASHED\"" | jq -r .body | sort -u | wc -l)"
expect_eq "ids the receiver saw are all the outbox's" "" "$(comm -23 \
	<(hook_lines '.id | startswith("dlv_")' | jq -r .id | sort -u) \
	<(db_query "SELECT delivery_id FROM outbox" | sort -u))"

t "GET /v1/deliveries: paged with a next link, RFC 3339 times, tenant-scoped"
req GET '/v1/deliveries?limit=2'
expect_status 200
expect_jq "a page" '.items | length' 2
expect_match "times" '^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "$(jqr '.items[0].createdAt')"
next=$(jqr .next)
first=$(jqr '.items[1].id')
expect_match "next" '^/v1/deliveries\?limit=2&before=[0-9]+$' "$next"
req GET "$next"
expect_status 200
expect_ne "the next page goes on" "$first" "$(jqr '.items[0].id')"
req GET '/v1/deliveries?limit=0'
expect_status 400
req GET '/v1/deliveries?limit=501'
expect_status 400
new_org other
saved=$KEY
KEY=$ORG_KEY
req GET /v1/deliveries
expect_jq "another org sees none" '.items | length' 0
req POST "/v1/deliveries/$ID/retry"
expect_status 404
KEY=$saved

t "/metrics counts deliveries by kind and status"
req GET /metrics
expect_match "SMTP configured" 'orgsync_smtp_configured 1' "$(cat "$BODY")"
expect_match "sent invitations" 'orgsync_deliveries\{kind="invitation",status="sent"\} [1-9]' "$(cat "$BODY")"
expect_match "dead invitations" 'orgsync_deliveries\{kind="invitation",status="dead"\} [1-9]' "$(cat "$BODY")"
expect_match "webhook attempts" 'orgsync_delivery_attempts_total\{kind="webhook",outcome="sent"\} [1-9]' "$(cat "$BODY")"

finish
