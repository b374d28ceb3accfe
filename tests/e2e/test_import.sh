#!/usr/bin/env bash
# orgsync import: a sync run on the database, without HTTP, seen through the
# API of a server on the same database: recorded with source CLI, its
# counts, report and plan; a resync that changes nothing; a dry run; a bad
# file that records and changes nothing; the risk threshold that pauses it
# (then approved through the API); refusals while SCIM is active or a sync
# is running; exit codes like push's.
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY

# import ARGS...: orgsync import on the test database; RC, $TMP/out, $TMP/err.
import() {
	orgsync import --db "$DB_URL" "$@" >"$TMP/out" 2>"$TMP/err"
	RC=$?
}

ORG=$TMP/org
fx_new "$ORG"
fx_people "$ORG" 20
fx_team "$ORG" T1 "Team One"
for i in 001 002 003; do fx_in "$ORG" T1 "M$i"; done

t "a first import applies, exit 0, and is in the API's history with source CLI"
import --org "$ORG_ID" --dir "$ORG"
expect_eq "exit" 0 "$RC"
expect_match "says the sync ended" "sync 1: Success" "$(cat "$TMP/out")"
req GET /v1/syncs/1
expect_status 200
expect_jq "source" .source CLI
expect_jq "status" .status Success
expect_jq "created" .counts.members.created 20
expect_jq "mode (the org's default)" .mode full
expect_eq "members listed by the server" 20 "$(member_count)"

t "the same import again changes nothing"
import --org "$ORG_ID" --dir "$ORG"
expect_eq "exit" 0 "$RC"
req GET /v1/syncs/2
expect_jq "unchanged" .counts.members.unchanged 20
expect_jq "created" .counts.members.created 0

t "a dry run records its plan and changes nothing"
fx_copy "$ORG" "$TMP/more"
fx_people "$TMP/more" 22
sort -u "$TMP/more/members.csv" -o "$TMP/more/members.sorted"
{ head -1 "$TMP/more/members.csv"; grep -v '^externalMemberId' "$TMP/more/members.sorted"; } \
	>"$TMP/more/members.tmp"
mv "$TMP/more/members.tmp" "$TMP/more/members.csv"
rm "$TMP/more/members.sorted"
import --org "$ORG_ID" --members "$TMP/more/members.csv" --teams "$TMP/more/teams.csv" \
	--mappings "$TMP/more/teams-mappings.csv" --dry-run
expect_eq "exit" 0 "$RC"
req GET /v1/syncs/3
expect_jq "dry run" .dryRun true
expect_jq "would create" .counts.members.created 2
expect_eq "members unchanged" 20 "$(member_count)"
req GET "/v1/syncs/3/plan?type=member"
expect_status 200

t "a file with structural errors is refused: exit 2, nothing recorded or changed"
mkdir -p "$TMP/bad"
printf 'externalMemberId,firstName\nM001,Ann\n' >"$TMP/bad/members.csv"
cp "$ORG/teams.csv" "$ORG/teams-mappings.csv" "$TMP/bad/"
import --org "$ORG_ID" --dir "$TMP/bad"
expect_eq "exit" 2 "$RC"
expect_match "says nothing was recorded" "nothing was recorded" "$(cat "$TMP/err")"
req GET /v1/syncs
expect_jq "still three syncs" .total 3
expect_eq "members unchanged" 20 "$(member_count)"

t "an import over the risk threshold pauses (exit 3), says how to approve, changes nothing"
fx_copy "$ORG" "$TMP/half"
fx_drop "$TMP/half" members.csv '^M01[1-9],|^M020,'
import --org "$ORG_ID" --dir "$TMP/half"
expect_eq "exit" 3 "$RC"
expect_match "how to approve" "approve" "$(cat "$TMP/out")"
req GET /v1/syncs/4
expect_jq "Paused" .status Paused
expect_jq "source" .source CLI
expect_eq "nobody removed" 20 "$(member_count)"

t "the paused import approved through the API is applied by the server from its kept payload"
req POST /v1/syncs/4/approve
expect_status 202
wait_sync 4
expect_sync Success
expect_eq "the absent are gone" 10 "$(member_count)"

t "refused while another sync is Pending: exit 4"
db_query "INSERT INTO syncs (org_id, number, status, source, mode, format, dry_run, created_at, started_at)
	VALUES ($ORG_ID, 99, 'Pending', 'API Provisioning', 'full', 'json', 0, 1, 1)"
import --org "$ORG_ID" --dir "$ORG"
expect_eq "exit" 4 "$RC"
expect_match "names the running sync" "sync 99 is still running" "$(cat "$TMP/err")"
db_query "DELETE FROM syncs WHERE number = 99 AND org_id = $ORG_ID"

t "refused while SCIM provisioning is active: exit 5"
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'
expect_status 200
import --org "$ORG_ID" --dir "$ORG"
expect_eq "exit" 5 "$RC"
expect_match "why" "SCIM" "$(cat "$TMP/err")"
req_json PATCH /v1/settings '{"provisioning":{"method":"none"}}'

t "bad usage: unknown org, no database, standard input: exit 5"
import --org 9999 --dir "$ORG"
expect_eq "unknown org" 5 "$RC"
orgsync import --org "$ORG_ID" --dir "$ORG" >/dev/null 2>&1
expect_eq "no --db" 5 "$?"
import --org "$ORG_ID" --json -
expect_eq "stdin" 5 "$RC"

t "--mode partial keeps who is absent; a JSON payload imports too"
jq -n '{members: [{externalMemberId: "J1", email: "j1@acme.example", firstName: "J", lastName: "One"}],
	teams: [], teamMappings: []}' >"$TMP/one.json"
import --org "$ORG_ID" --json "$TMP/one.json" --mode partial
expect_eq "exit" 0 "$RC"
req GET /v1/syncs
SYNC=$(jqr '.items[0].id')
req GET "/v1/syncs/$SYNC"
expect_jq "mode" .mode partial
expect_jq "format" .format json
expect_jq "created" .counts.members.created 1
expect_jq "nobody removed" .counts.members.deleted 0

finish
