#!/usr/bin/env bash
# Notifications (SPEC §5, §9): every sync status change goes to the
# webhooks, Failed, Paused and Warning also to the notification emails;
# both are queued in the outbox with the change, so a sync never blocks on
# them (test_delivery.sh sends them to real receivers).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api

outbox() { # KIND -> rows "recipient|status" of that kind, oldest first
	db_query "SELECT recipient || '|' || json_extract(payload, '\$.sync.status') FROM outbox
		WHERE org_id = $ORG_A AND kind = '$1' ORDER BY id"
}

O=$TMP/org
fx_new "$O"
fx_people "$O" 3

t "settings take notification emails and webhooks"
req_json PATCH /v1/settings '{"notificationEmails":["hr@acme.example"],
	"webhooks":[{"url":"https://hooks.acme.example/orgsync","secret":"0123456789abcdef"}]}'
expect_status 200
expect_jq "emails" '.notificationEmails[0]' hr@acme.example
expect_jq "the secret is write-only" '.webhooks[0] | [.url, .hasSecret, has("secret")] | join(" ")' \
	"https://hooks.acme.example/orgsync true false"
req_json PATCH /v1/settings '{"notificationEmails":["not an address"]}'
expect_status 400
expect_jq "code" .error.code invalid_setting

t "a Success goes to the webhook only: Pending when registered, then Success"
sync_csv "$O"
expect_sync Success
expect_eq "webhook events" "https://hooks.acme.example/orgsync|Pending
https://hooks.acme.example/orgsync|Success" "$(outbox webhook)"
expect_eq "emails" "" "$(outbox notification)"

t "a Warning (a skipped row) goes to the webhook and the emails"
fx_member "$O" BAD1 not-an-email Bad Row
sync_csv "$O"
expect_sync Warning
expect_eq "emails" "hr@acme.example|Warning" "$(outbox notification)"
expect_eq "webhook events" 4 "$(outbox webhook | wc -l)"

t "the event names the sync and carries its counts"
ev=$(db_query "SELECT payload FROM outbox WHERE kind = 'webhook' ORDER BY id DESC LIMIT 1")
expect_eq "sync id" "$SYNC" "$(jq -r .sync.id <<<"$ev")"
expect_eq "type" sync.status "$(jq -r .type <<<"$ev")"
expect_eq "previous status" Pending "$(jq -r .sync.previousStatus <<<"$ev")"
expect_eq "counts" 0 "$(jq -r .sync.counts.members.created <<<"$ev")"
expect_match "createdAt" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' "$(jq -r .createdAt <<<"$ev")"

t "a dry run notifies no one"
before=$(db_query "SELECT count(*) FROM outbox")
fx_member "$O" BAD2 also-not-an-email Bad Row
sync_csv "$O" '?dryRun=true'
expect_sync Warning
expect_eq "outbox rows" "$before" "$(db_query "SELECT count(*) FROM outbox")"

t "a PATCH without the secret keeps it for the same URL; a new URL needs one"
req_json PATCH /v1/settings '{"webhooks":[{"url":"https://hooks.acme.example/orgsync"}]}'
expect_status 200
expect_eq "stored secret" 0123456789abcdef \
	"$(db_query "SELECT json_extract(settings, '\$.webhooks[0].secret') FROM orgs WHERE id = $ORG_A")"
req_json PATCH /v1/settings '{"webhooks":[{"url":"https://other.acme.example/hook"}]}'
expect_status 400
expect_match "names the field" 'webhooks\[0\]\.secret' "$(jqr .error.message)"

finish
