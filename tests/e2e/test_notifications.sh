#!/usr/bin/env bash
# Notifications (SPEC §5): every sync status goes to the webhooks, Failed,
# Paused and Warning also to the notification emails; both wait in the
# outbox for delivery, so a sync never blocks on them.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api

outbox() { # KIND -> rows "recipient|status" of that kind, oldest first
	sqlite3 "$DB" "SELECT recipient || '|' || json_extract(payload, '\$.status') FROM outbox
		WHERE org_id = $ORG_A AND kind = '$1' ORDER BY id"
}

O=$TMP/org
fx_new "$O"
fx_people "$O" 3

t "settings take notification emails and webhooks"
req_json PATCH /v1/settings '{"notificationEmails":["hr@acme.example"],
	"webhooks":[{"url":"https://hooks.acme.example/orgsync"}]}'
expect_status 200
expect_jq "emails" '.notificationEmails[0]' hr@acme.example
req_json PATCH /v1/settings '{"notificationEmails":["not an address"]}'
expect_status 400
expect_jq "code" .error.code invalid_setting

t "a Success goes to the webhook only"
sync_csv "$O"
expect_sync Success
expect_eq "webhook events" "https://hooks.acme.example/orgsync|Success" "$(outbox webhook)"
expect_eq "emails" "" "$(outbox notification)"

t "a Warning (a skipped row) goes to the webhook and the emails"
fx_member "$O" BAD1 not-an-email Bad Row
sync_csv "$O"
expect_sync Warning
expect_eq "emails" "hr@acme.example|Warning" "$(outbox notification)"
expect_eq "webhook events" 2 "$(outbox webhook | wc -l)"

t "the event names the sync and carries its counts"
ev=$(sqlite3 "$DB" "SELECT payload FROM outbox WHERE kind = 'webhook' ORDER BY id DESC LIMIT 1")
expect_eq "syncId" "$SYNC" "$(jq -r .syncId <<<"$ev")"
expect_eq "event" sync.status "$(jq -r .event <<<"$ev")"
expect_eq "counts" 0 "$(jq -r .counts.members.created <<<"$ev")"

finish
