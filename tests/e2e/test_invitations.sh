#!/usr/bin/env bash
# Invitations (SPEC §5): automatic invite on creation, an admin's invite,
# the one-time link (its token is read from the outbox, where the mailer
# would take it), and acceptance making the member active.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

SERVER_QUIET= # with the request log: secrets must stay out of it
start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api
no_risk_limits

outbox_count() {
	db_query "SELECT count(*) FROM outbox WHERE org_id = $ORG_A AND kind = 'invitation'"
}

# accept TOKEN: POST /v1/invitations/TOKEN/accept without a key.
accept() {
	local saved=$KEY
	KEY=
	req POST "/v1/invitations/$1/accept"
	KEY=$saved
}

O=$TMP/org
fx_new "$O"
fx_people "$O" 3

t "auto-invite off (default): new members are created, nobody is invited"
sync_csv "$O"
expect_sync Success
expect_count "invitations" .counts.invitations 0
expect_eq "created" 3 "$(member_count state=created)"
expect_eq "outbox" 0 "$(outbox_count)"

t "an admin's invite: the member becomes invited, one message in the outbox"
req POST /v1/members/M001/invite
expect_status 202
req GET /v1/members/M001
expect_jq "state" .state invited
expect_eq "outbox" 1 "$(outbox_count)"
TOKEN=$(outbox_token m001@acme.example)
expect_match "token" '^[A-Za-z0-9_-]{16,}$' "$TOKEN"

t "accepting the invitation (no API key needed) makes the member active"
accept "$TOKEN"
expect_status 200
expect_jq "answer" .state active
req GET /v1/members/M001
expect_jq "state" .state active

t "the request log shows neither the invitation token nor the API key"
expect_eq "token in the log" 0 "$(grep -cF -- "$TOKEN" "$TMP/server.err")"
expect_eq "key in the log" 0 "$(grep -cF -- "$KEY" "$TMP/server.err")"
expect_ne "the log has the accept request" 0 "$(grep -c '/v1/invitations/{token}/accept' "$TMP/server.err")"
SAVED=$KEY
KEY=
req POST /v1/%69nvitations/NotARealToken4242/accept
KEY=$SAVED
expect_status 404
expect_jq "the escaped path is the accept route" .error.message "this invitation is unknown, used or expired"
expect_eq "an escaped spelling of the path keeps the token out too" 0 \
	"$(grep -cF NotARealToken4242 "$TMP/server.err")"
expect_true "each log line is JSON" '.' <(grep '"rid"' "$TMP/server.err" | jq -s .)

t "an invitation link works once"
accept "$TOKEN"
expect_status 404
expect_jq "code" .error.code not_found

t "an unknown token: 404, and nothing changes"
accept "not-a-token-at-all"
expect_status 404
accept "${TOKEN}x"
expect_status 404
req GET /v1/members/M002
expect_jq "M002" .state created

t "an active member stays in the same sync as active (accept survives a resync)"
sync_csv "$O"
expect_sync Success
req GET /v1/members/M001
expect_jq "state" .state active

t "auto-invite on: new members are invited with one message each"
req_json PATCH /v1/settings '{"autoInvite":true}'
expect_status 200
fx_member "$O" N001 n001@acme.example New One
fx_member "$O" N002 n002@acme.example New Two
sync_csv "$O"
expect_sync Success
expect_count "created" .counts.members.created 2
expect_count "invitations" .counts.invitations 2
req GET /v1/members/N001
expect_jq "N001" .state invited
expect_eq "outbox" 3 "$(outbox_count)"
expect_eq "existing members were not invited again" created \
	"$(req GET /v1/members/M002; jqr .state)"

t "accepting an automatic invitation makes the member active"
accept "$(outbox_token n002@acme.example)"
expect_status 200
req GET /v1/members/N002
expect_jq "N002" .state active

t "invite of an unknown member: 404"
req POST /v1/members/NOBODY/invite
expect_status 404

t "invite of a deactivated member: 404 (refused), and its old link no longer activates it"
req POST /v1/members/M003/invite
expect_status 202
OLD=$(outbox_token m003@acme.example)
accept "$OLD"
expect_status 200
req POST /v1/members/M003/invite
expect_status 202
SECOND=$(outbox_token m003@acme.example)
fx_drop "$O" members.csv '^M003,'
sync_csv "$O"
expect_sync Success
expect_count "deactivated" .counts.members.deactivated 1
req POST /v1/members/M003/invite
expect_status 404
accept "$SECOND"
req GET /v1/members/M003
expect_jq "M003 stays deactivated" .state deactivated

t "a deleted member's pending invitation is gone with it"
TOKEN_N1=$(outbox_token n001@acme.example)
fx_drop "$O" members.csv '^N001,'
sync_csv "$O"
expect_sync Success
expect_count "deleted" .counts.members.deleted 1
accept "$TOKEN_N1"
expect_status 404

finish
