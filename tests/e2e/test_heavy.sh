#!/usr/bin/env bash
# Requests while a very large sync applies (SPEC §4, §6, §8): the apply of a
# 1M-member org holds the database's write lock for longer than a request
# waits for it. A new sync of the same org must still get 409 naming the
# running sync, and other orgs' requests must still be answered, never 500.
# Opt-in (about a minute and 1-2 GB of memory): E2E_HEAVY=1 tests/e2e/run.sh heavy
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ -z "${E2E_HEAVY:-}" ]; then
	skip "requests during the apply of a 1M-member sync" "opt-in: E2E_HEAVY=1 runs it"
	finish
fi
HUGE=${E2E_HEAVY_MEMBERS:-1000000}
WAIT_SECS=$((WAIT_SECS * 20))

start_server
new_org acme
KEY=$ORG_KEY
A_KEY=$ORG_KEY
enable_api
req_json POST /v1/properties '{"name":"department"}'
new_org globex
B_KEY=$ORG_KEY
KEY=$B_KEY
enable_api
KEY=$A_KEY

orgsync gen --members "$HUGE" --out "$TMP/huge" >/dev/null 2>&1
SMALL=$TMP/small
fx_new "$SMALL"
fx_member "$SMALL" S1 s1@acme.example

t "a $HUGE-member sync is accepted"
push_csv "$TMP/huge"
expect_status 202
HUGE_ID=$SYNC

# Wait until its apply has run for a second (Pending, started).
for ((i = 0; i < WAIT_SECS * 10; i++)); do
	req GET "/v1/syncs/$HUGE_ID"
	grep -q '"startedAt":null' "$BODY" || break
	sleep 0.1
done
sleep 1.5

t "a new sync of the same org during the long apply: 409 sync_running, not 500"
push_csv "$SMALL" '?mode=partial'
expect_status 409
expect_jq "code" .error.code sync_running

t "another org's settings change during the long apply: 200, not 500"
KEY=$B_KEY
req_json PATCH /v1/settings '{"autoInvite":true}'
expect_status 200

t "another org's sync during the long apply: 202, not 500"
push_csv "$SMALL"
expect_status 202
KEY=$A_KEY

t "the huge sync ends Success"
wait_sync "$HUGE_ID"
expect_sync Success

finish
