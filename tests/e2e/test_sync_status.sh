#!/usr/bin/env bash
# Sync statuses and requests (SPEC §3, §5, §6): Pending on POST, Success,
# Warning (record errors, unknown property columns), structural errors
# refused with 400 before any sync exists, dry runs, JSON payloads
# (current and legacy), and the paged history.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ACME_KEY=$ORG_KEY
enable_api

CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 30
fx_team "$CUR" T1 Everyone
for i in $(seq -f 'M%03.0f' 1 30); do fx_in "$CUR" T1 "$i"; done

# ids: the sorted external ids and states of the stored members, on one line.
ids() {
	list_all '/v1/members?limit=500' "$TMP/ids.all"
	jq -rs '[.[] | "\(.externalMemberId):\(.state)"] | sort | join(" ")' "$TMP/ids.all"
}

# sync_total: the number of syncs in the history.
sync_total() {
	req GET '/v1/syncs?limit=500'
	jqr '.items | length'
}

t "POST /v1/syncs: 202, status Pending, a Location that answers"
push_csv "$CUR"
expect_status 202
expect_jq "status" .status Pending
expect_jq "dryRun" .dryRun false
expect_jq "startedAt" .startedAt null
expect_jq "finishedAt" .finishedAt null
expect_match "createdAt is RFC 3339, UTC, in milliseconds" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$' "$(jqr .createdAt)"
expect_true "createdAt is now, give or take an hour" \
	'(.createdAt[0:19] + "Z" | fromdateiso8601) - now | fabs < 3600' 
LOCATION=$(header Location)
expect_eq "Location" "/v1/syncs/$SYNC" "$LOCATION"
req GET "$LOCATION"
expect_status 200
expect_jq "same sync" .id "$SYNC"

t "a clean sync ends Success with timestamps in order"
wait_sync "$SYNC"
expect_sync Success
expect_true "createdAt <= startedAt <= finishedAt (RFC 3339 strings of one width sort as times)" \
	'([.createdAt, .startedAt, .finishedAt] | all(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$"))) and
	 .createdAt <= .startedAt and .startedAt <= .finishedAt' "$TMP/sync.json"
expect_count "reason" .reason null
expect_count "issues" .issues 0
req GET "/v1/syncs/$SYNC/report"
expect_status 200
expect_jq "empty report" '.issues | length' 0

t "a record error (invalid email) ends Warning; the other rows apply"
fx_copy "$CUR" "$TMP/bad"
fx_member "$TMP/bad" N001 not-an-email New One
fx_member "$TMP/bad" N002 n002@acme.example New Two
sync_csv "$TMP/bad"
expect_sync Warning
expect_count "created" .counts.members.created 1
expect_count "issues" .issues 1
req GET /v1/members/N002
expect_status 200
req GET /v1/members/N001
expect_status 404
req GET "/v1/syncs/$SYNC/report"
expect_jq "the issue" '.issues[0] | "\(.severity) \(.file) \(.line) \(.field) \(.recordId)"' \
	"error members.csv 32 email N001"

t "an undefined custom property column: Warning, one warning for the column"
P=$TMP/props
fx_copy "$CUR" "$P"
{
	echo 'externalMemberId,email,firstName,lastName,department'
	tail -n +2 "$CUR/members.csv" | sed 's/$/,Sales/'
} >"$P/members.csv"
sync_csv "$P"
expect_sync Warning
expect_count "issues" .issues 1
req GET "/v1/syncs/$SYNC/report"
expect_jq "the warning" '.issues[0] | "\(.severity) \(.field) \(.line)"' "warning department 1"
req GET /v1/members/M001
expect_jq "value ignored" '.customProperties | length' 0

t "once the property is defined the same payload is Success and sets the values"
req_json POST /v1/properties '{"name":"department"}'
expect_status 201
req GET /v1/properties
expect_jq "properties" '[.items[].name] | join(",")' department
sync_csv "$P"
expect_sync Success
expect_count "updated" .counts.members.updated 30
req GET /v1/members/M001
expect_jq "department" .customProperties.department Sales
req_json POST /v1/properties '{"name":"department"}'
expect_status 409
req_json POST /v1/properties '{"name":"email"}'
expect_status 400

t "structural errors: 400 invalid_input naming the file, and no sync is recorded"
BEFORE_SYNCS=$(sync_total)
BEFORE_IDS=$(ids)
req POST /v1/syncs -F "members=@$CUR/members.csv" -F "teams=@$CUR/teams.csv"
expect_status 400
expect_jq "code" .error.code invalid_input
expect_jq "missing file named" '.error.details[0].file' teams-mappings.csv
printf 'externalMemberId,firstName,lastName\nX1,A,B\n' >"$TMP/noemail.csv"
req POST /v1/syncs -F "members=@$TMP/noemail.csv" -F "teams=@$CUR/teams.csv" \
	-F "teamsMappings=@$CUR/teams-mappings.csv"
expect_status 400
expect_jq "missing column" '.error.details[0] | "\(.file) \(.line) \(.code)"' "members.csv 1 missing_column"
expect_match "names the column" email "$(jqr '.error.details[0].message')"
printf 'externalMemberId,email,firstName,lastName\nX1,x1@acme.example,"Unclosed,B\nX2,x2@acme.example,A,B\n' \
	>"$TMP/quote.csv"
req POST /v1/syncs -F "members=@$TMP/quote.csv" -F "teams=@$CUR/teams.csv" \
	-F "teamsMappings=@$CUR/teams-mappings.csv"
expect_status 400
expect_jq "broken quoting: file" '.error.details[0].file' members.csv
expect_true "broken quoting: a line" '.error.details[0].line >= 2'
expect_eq "no sync recorded" "$BEFORE_SYNCS" "$(sync_total)"
expect_eq "members unchanged" "$BEFORE_IDS" "$(ids)"

t "malformed JSON: 400 with the line and column in details"
printf '{"members":[{"externalMemberId":"A1",\n  "email": oops}],"teams":[],"teamMappings":[]}' \
	>"$TMP/bad.json"
push_json "$TMP/bad.json"
expect_status 400
expect_jq "code" .error.code invalid_input
expect_jq "line" '.error.details[0].line' 2
expect_jq "column" '.error.details[0].column' 12
expect_jq "file" '.error.details[0].file' payload.json
expect_true "details carry file, line, column, field, code, message" \
	'.error.details[0] | has("file") and has("line") and has("column") and has("field") and has("code") and has("message")'
expect_eq "no sync recorded" "$BEFORE_SYNCS" "$(sync_total)"

t "a legacy payload with settings: 400 naming the setting and where it lives now"
push_json examples/legacy/with-settings.json
expect_status 400
expect_jq "code" .error.code invalid_input
expect_true "inviteNewUsers named, pointing to autoInvite" \
	'[.error.details[] | select(.field == "inviteNewUsers" and (.message | test("autoInvite")))] | length == 1'
expect_eq "no sync recorded" "$BEFORE_SYNCS" "$(sync_total)"

t "malformed JSON in PATCH /v1/settings: 400"
req_json PATCH /v1/settings '{"autoInvite": tru'
expect_status 400
expect_jq "code" .error.code malformed_json
expect_match "line and column in the message" 'line 1, column' "$(jqr .error.message)"

t "dry run: status final, counts present, members unchanged, plan available"
BEFORE_IDS=$(ids)
D=$TMP/dry
fx_new "$D"
fx_member "$D" M001 m001@acme.example Only One
fx_member "$D" Z001 z001@acme.example Brand New
sync_csv "$D" '?dryRun=true'
DRY=$SYNC
expect_ne "status" Pending "$SYNC_STATUS"
expect_ne "status" Failed "$SYNC_STATUS"
expect_count "dryRun" .dryRun true
expect_count "created" .counts.members.created 1
expect_count "deleted" .counts.members.deleted 29
expect_count "teams deleted" .counts.teams.deleted 1
expect_match "reason" 'dry run' "$(jqr .reason "$TMP/sync.json")"
expect_eq "members unchanged" "$BEFORE_IDS" "$(ids)"
req GET /v1/members/Z001
expect_status 404
req GET /v1/teams/T1
expect_status 200
req GET "/v1/syncs/$DRY/plan"
expect_status 200
expect_jq "plan counts" .counts.members.deleted 29
expect_jq "plan: the creation" '[.items[] | select(.type == "member" and .action == "create") | .externalMemberId] | join(",")' Z001

t "dry run: its report is available"
req GET "/v1/syncs/$DRY/report"
expect_status 200
expect_jq "report" '.issues | type' array

t "a dry run does not supersede a Paused sync (it changes nothing)"
without11=$TMP/without11
fx_copy "$CUR" "$without11"
fx_drop "$without11" members.csv '^M0(0[1-9]|1[0-2]),'
fx_drop "$without11" teams-mappings.csv ',M0(0[1-9]|1[0-2]),'
sync_csv "$without11"
expect_sync Paused
PAUSED=$SYNC
sync_csv "$CUR" '?dryRun=true'
expect_ne "dry run status" Pending "$SYNC_STATUS"
req GET "/v1/syncs/$PAUSED"
expect_jq "the Paused sync" .status Paused
req POST "/v1/syncs/$PAUSED/reject"

t "a current JSON payload applies like its CSV (0 changes after the CSV)"
sync_csv "$CUR"
expect_sync Success
orgsync convert --dir "$CUR" --to json -o "$TMP/cur.json" >/dev/null 2>&1
sync_json "$TMP/cur.json"
expect_sync Success
expect_count "format" .format json
expect_count "changes" '[.counts.members | .created, .updated, .deleted, .deactivated] | add' 0

t "the sample org: current CSV, then legacy JSON and legacy CSV of the same org change nothing"
new_org sample
KEY=$ORG_KEY
enable_api
sync_csv examples/current
expect_sync Warning # department is not defined for this org
expect_count "created" .counts.members.created 33
expect_count "teams" .counts.teams.created 9
expect_count "mappings" .counts.mappings.added 49
sync_json examples/legacy/org.json
expect_ne "legacy JSON" Failed "$SYNC_STATUS"
expect_count "changes" \
	'[.counts.members | .created, .updated, .deleted, .deactivated, .rekeyed] + [.counts.teams | .created, .renamed, .deleted] + [.counts.mappings | .added, .removed, .changed] | add' 0
req POST /v1/syncs -F members=@examples/legacy/users.csv -F teams=@examples/legacy/groups.csv \
	-F teamsMappings=@examples/legacy/groups-mapping.csv
expect_status 202
wait_sync "$(jqr .id)"
expect_ne "legacy CSV" Failed "$SYNC_STATUS"
expect_count "changes" \
	'[.counts.members | .created, .updated, .deleted, .deactivated, .rekeyed] + [.counts.teams | .created, .renamed, .deleted] + [.counts.mappings | .added, .removed, .changed] | add' 0

t "history: newest first, paged with limit and nextBefore"
KEY=$ACME_KEY
req GET '/v1/syncs?limit=500'
ALL=$(jqr '[.items[].id] | join(",")')
expect_eq "newest first" "$(jqr '[.items[].id] | sort | reverse | join(",")')" "$ALL"
req GET '/v1/syncs?limit=2'
expect_jq "page 1 size" '.items | length' 2
NEXT=$(jqr .nextBefore)
PAGE1=$(jqr '[.items[].id] | join(",")')
req GET "/v1/syncs?limit=2&before=$NEXT"
PAGE2=$(jqr '[.items[].id] | join(",")')
expect_eq "two pages" "$(cut -d, -f1-4 <<<"$ALL")" "$PAGE1,$PAGE2"
req GET "/v1/syncs/999999"
expect_status 404
req GET "/v1/syncs/abc"
expect_status 404

finish
