#!/usr/bin/env bash
# The local admin CLI against a running service's database (SPEC §4, §6):
# Administrators survive syncs that lack them; `orgsync admin remove` makes
# one a plain Member again, which the next full sync then treats like any
# other absentee.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api
no_risk_limits

CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 3
fx_team "$CUR" T1 Company
fx_in "$CUR" T1 M001
fx_in "$CUR" T1 M002

t "Administrators added by the CLI survive a sync that lacks them"
sync_csv "$CUR"
expect_sync Success
orgsync admin add boss@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin add (new member)" 0 "$?"
orgsync admin add M002@ACME.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin add (HRIS member, other case)" 0 "$?"
fx_drop "$CUR" members.csv '^M002,'
fx_drop "$CUR" teams-mappings.csv ',M002,'
sync_csv "$CUR"
expect_sync Success
expect_count "deactivated" .counts.members.deactivated 0
expect_count "deleted" .counts.members.deleted 0
req GET /v1/members/boss@acme.example
expect_jq "boss" '[.role, .state] | join(" ")' "Administrator active"
req GET /v1/members/M002
expect_jq "M002" '[.role, .state] | join(" ")' "Administrator created"

t "admin list names both, with RFC 3339 UTC times"
out=$(orgsync admin list --org "$ORG_A" --db "$DB_URL" 2>&1)
expect_eq "lines" 2 "$(grep -cE '^[^	]+@acme\.example	[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$' <<<"$out")"

t "a malformed email is refused, nothing changes"
orgsync admin add 'boss@acme' --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "exit status" 2 "$?"
expect_eq "still two" 2 "$(orgsync admin list --org "$ORG_A" --db "$DB_URL" | wc -l | tr -d ' ')"

t "removed Administrators are Members again, and the next sync removes them"
orgsync admin remove BOSS@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin remove boss" 0 "$?"
orgsync admin remove m002@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin remove M002" 0 "$?"
req GET /v1/members/boss@acme.example
expect_jq "boss demoted" '[.role, .state] | join(" ")' "Member active"
sync_csv "$CUR"
expect_sync Success
expect_count "boss deactivated" .counts.members.deactivated 1
expect_count "M002 (never active) deleted" .counts.members.deleted 1
req GET /v1/members/boss@acme.example
expect_jq "boss after the sync" .state deactivated
req GET /v1/members/M002
expect_status 404

t "org list counts the members"
out=$(orgsync org list --db "$DB_URL" 2>&1)
expect_match "acme's row" "^$ORG_A	acme	[0-9-]{10}T[0-9:]{8}Z	3$" "$out"

finish
