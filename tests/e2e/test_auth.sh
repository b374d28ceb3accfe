#!/usr/bin/env bash
# API keys, provisioning activation and tenant isolation (SPEC §5, §6).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
A_ID=$ORG_ID
A_KEY=$ORG_KEY
new_org globex
B_KEY=$ORG_KEY

ORG=$TMP/org
fx_new "$ORG"
fx_people "$ORG" 5
fx_team "$ORG" T1 Everyone
for i in 1 2 3 4 5; do fx_in "$ORG" T1 "M00$i"; done

t "no Authorization header: 401 unauthorized, WWW-Authenticate: Bearer"
KEY=
req GET /v1/members
expect_status 401
expect_jq "error code" .error.code unauthorized
expect_eq "WWW-Authenticate" Bearer "$(header WWW-Authenticate)"

t "a key that is not a key: 401"
KEY=osk_0000000000000000_notarealsecretnotarealsecretnotarealsecre
req GET /v1/members
expect_status 401
expect_jq "error code" .error.code unauthorized
KEY=
req GET /v1/syncs -H "Authorization: Basic YWxhZGRpbjpvcGVuc2VzYW1l"
expect_status 401

t "a forged key with a real key id but another secret: 401"
KEY="${A_KEY%_*}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
req GET /v1/members
expect_status 401

t "health, metrics and openapi.json need no key"
KEY=
req GET /healthz
expect_status 200
expect_jq "health" .status ok
req GET /metrics
expect_status 200
expect_match "Prometheus text" 'orgsync_requests_total [0-9]+' "$(cat "$BODY")"
req GET /v1/openapi.json
expect_status 200
expect_jq "openapi version" .openapi 3.1.0

t "API provisioning inactive by default: POST /v1/syncs is 403 provisioning_inactive"
KEY=$A_KEY
req GET /v1/settings
expect_status 200
expect_jq "default method" .provisioning.method none
push_csv "$ORG"
expect_status 403
expect_jq "error code" .error.code provisioning_inactive
expect_match "message says how to activate" 'PATCH /v1/settings' "$(jqr .error.message)"
req GET /v1/syncs
expect_jq "no sync recorded" '.items | length' 0

t "activating API provisioning lets a sync through"
enable_api
sync_csv "$ORG"
expect_sync Success
A_SYNC=$SYNC

t "switching to scim makes the sync API inactive again (403)"
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'
expect_status 200
push_csv "$ORG"
expect_status 403
expect_jq "error code" .error.code provisioning_inactive
enable_api

t "org B's key on org A's sync: 404 for every sync route, never A's data"
KEY=$B_KEY
enable_api
for path in "/v1/syncs/$A_SYNC" "/v1/syncs/$A_SYNC/report" "/v1/syncs/$A_SYNC/plan"; do
	req GET "$path"
	expect_status 404
	expect_jq "GET $path error code" .error.code not_found
	if grep -q "M001\|acme.example" "$BODY"; then fail "GET $path leaks org A's data"; fi
done
for path in "/v1/syncs/$A_SYNC/approve" "/v1/syncs/$A_SYNC/reject"; do
	req POST "$path"
	expect_status 404
done
KEY=$A_KEY
req GET "/v1/syncs/$A_SYNC"
expect_status 200
expect_jq "A's sync untouched by B's attempts" .status Success

t "org B's key does not see org A's members, teams or syncs"
KEY=$B_KEY
req GET /v1/members
expect_status 200
expect_jq "B's members" '.items | length' 0
req GET /v1/members/M001
expect_status 404
req GET /v1/members/M001/visible-teams
expect_status 404
req POST /v1/members/M001/invite
expect_status 404
req GET /v1/teams
expect_jq "B's teams" '.items | length' 0
req GET /v1/teams/T1
expect_status 404
req GET /v1/syncs
expect_status 200
expect_jq "B's history" '.items | length' 0

t "syncs are numbered per org: A's sync 1 and B's sync 1 are two syncs, each org sees its own"
B_ORG=$TMP/orgb
fx_new "$B_ORG"
fx_member "$B_ORG" B1 b1@globex.example
sync_csv "$B_ORG"
expect_sync Success
B_SYNC=$SYNC
expect_eq "B's first sync is its sync 1" 1 "$B_SYNC"
expect_eq "A's first sync is its sync 1 too" 1 "$A_SYNC"
req GET /v1/syncs
expect_jq "B's history" '[.items[] | "\(.id):\(.counts.members.created)"] | join(",")' "1:1"
req GET "/v1/syncs/$B_SYNC"
expect_jq "B's sync 1 is B's" .counts.members.created 1
req GET "/v1/syncs/$B_SYNC/plan"
expect_jq "B's plan of sync 1 is B's" '[.items[] | select(.type == "member") | .externalMemberId] | join(",")' B1
KEY=$A_KEY
req GET /v1/syncs
expect_jq "A's history: its own sync 1 only" '[.items[] | "\(.id):\(.counts.members.created)"] | join(",")' "1:5"
req GET "/v1/syncs/$A_SYNC"
expect_jq "A's sync 1 is A's" .counts.members.created 5
req GET "/v1/syncs/$A_SYNC/plan?type=member"
expect_jq "A's plan of sync 1 is A's" '.items | map(.externalMemberId) | index("B1")' null
expect_jq "A's plan has its 5 members" .total 5
req GET /v1/members/B1
expect_status 404
expect_eq "A's members" 5 "$(member_count)"

t "org B's settings change does not touch org A's"
KEY=$B_KEY
req_json PATCH /v1/settings '{"autoInvite":true}'
expect_status 200
KEY=$A_KEY
req GET /v1/settings
expect_jq "A's autoInvite" .autoInvite false

t "key rotation: the old key gets 401 at once, the new one works"
out=$(orgsync key rotate --org "$A_ID" --db "$DB_URL" 2>&1)
NEW_KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
expect_match "rotate prints the new key" '^osk_' "$NEW_KEY"
expect_ne "new key differs" "$A_KEY" "$NEW_KEY"
KEY=$A_KEY
req GET /v1/members
expect_status 401
KEY=$NEW_KEY
req GET /v1/members
expect_status 200
expect_jq "same org behind the new key" '.items | length' 5
KEY=$B_KEY
req GET /v1/members
expect_status 200

t "key rotate of an unknown org fails without touching others"
orgsync key rotate --org 999 --db "$DB_URL" >/dev/null 2>&1
expect_ne "exit status" 0 "$?"
KEY=$B_KEY
req GET /v1/members
expect_status 200

finish
