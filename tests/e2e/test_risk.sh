#!/usr/bin/env bash
# The risk threshold (SPEC §5): limits by percent and by count on removed
# members and deleted teams, and on members re-keyed by email; a sync over a
# limit is Paused until approved (applied) or rejected (nothing changes), and
# a new sync supersedes a Paused one.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api

# 100 members P001..P100 in 10 teams G01..G10 of 10 members each.
CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 100 P
for g in $(seq -w 1 10); do fx_team "$CUR" "G$g" "Group $g"; done
for i in $(seq 1 100); do fx_in "$CUR" "G$(printf %02d $(((i - 1) / 10 + 1)))" "$(printf P%03d "$i")"; done

# without DIR ID...: a copy of DIR in $TMP/next without those members (nor their mappings).
without() {
	local dir=$1 id
	shift
	fx_copy "$dir" "$TMP/next"
	for id in "$@"; do
		fx_drop "$TMP/next" members.csv "^$id,"
		fx_drop "$TMP/next" teams-mappings.csv ",$id,"
	done
}

# present ID: the HTTP status of GET /v1/members/ID.
present() {
	req GET "/v1/members/$1"
	echo "$STATUS"
}

t "a first sync into an empty org never pauses"
sync_csv "$CUR"
expect_sync Success
expect_count "created" .counts.members.created 100
expect_count "risk.paused" .risk.paused false
expect_count "no trip" '.risk.trips | length' 0

t "11 of 100 members removed with the default 10 % → Paused, the org unchanged"
without "$CUR" $(seq -f 'P%03.0f' 90 100)
sync_csv "$TMP/next"
expect_sync Paused
PAUSED=$SYNC
expect_count "risk.paused" .risk.paused true
expect_count "trips[0].limit" .risk.trips.0.limit members.percent
expect_count "trips[0].configured" '.risk.trips[0].configured' 10
expect_count "trips[0].actual" '.risk.trips[0].actual' 11
expect_count "trips[0].affected" '.risk.trips[0].affected' 11
expect_count "trips[0].of" '.risk.trips[0].of' 100
expect_count "counts say what would go" .counts.members.deleted 11
expect_count "a Paused sync has not finished" .finishedAt null
expect_match "reason names the limit" 'members\.percent' "$(jqr .reason "$TMP/sync.json")"
expect_eq "members still there" 100 "$(member_count)"
expect_eq "P100 still there" 200 "$(present P100)"

t "the plan of a Paused sync can be read before deciding"
req GET "/v1/syncs/$PAUSED/plan"
expect_status 200
expect_jq "plan counts" .counts.members.deleted 11
expect_jq "plan lists the deletions" '[.items[] | select(.type == "member" and .action == "delete")] | length' 11

t "reject: → Rejected, nothing changes"
req POST "/v1/syncs/$PAUSED/reject"
expect_status 200
expect_jq "answer" .status Rejected
req GET "/v1/syncs/$PAUSED"
expect_jq "status" .status Rejected
expect_match "reason" 'reject' "$(jqr .reason)"
expect_ne "finishedAt set" null "$(jqr .finishedAt)"
expect_eq "members" 100 "$(member_count)"
expect_eq "P100 still there" 200 "$(present P100)"

t "a Rejected sync can be neither approved nor rejected again (409 not_paused)"
req POST "/v1/syncs/$PAUSED/approve"
expect_status 409
expect_jq "error code" .error.code not_paused
req POST "/v1/syncs/$PAUSED/reject"
expect_status 409
expect_jq "error code" .error.code not_paused
sleep 0.3
req GET "/v1/syncs/$PAUSED"
expect_jq "still Rejected" .status Rejected
expect_eq "members" 100 "$(member_count)"

t "approve: Paused → applied → Success"
sync_csv "$TMP/next"
expect_sync Paused
req POST "/v1/syncs/$SYNC/approve"
expect_status 202
wait_sync "$SYNC"
expect_sync Success
expect_count "deleted" .counts.members.deleted 11
expect_eq "members" 89 "$(member_count)"
expect_eq "P100" 404 "$(present P100)"
fx_copy "$TMP/next" "$CUR"

t "approve of a finished sync: 409 not_paused"
req POST "/v1/syncs/$SYNC/approve"
expect_status 409
expect_jq "error code" .error.code not_paused

t "a client cannot approve its own risky sync with an extra multipart part named 'approval'"
without "$CUR" $(seq -f 'P%03.0f' 80 89)
req GET /v1/syncs
SYNCS_BEFORE=$(jqr .total)
push_csv "$TMP/next" "" -F "approval=1"
expect_status 400
expect_jq "the part is refused" .error.code bad_multipart
expect_match "naming it" "'approval'" "$(jqr .error.message)"
req GET /v1/syncs
expect_jq "no sync registered" .total "$SYNCS_BEFORE"
push_csv "$TMP/next"
expect_status 202
wait_sync "$SYNC"
expect_sync Paused
expect_eq "members" 89 "$(member_count)"
if [ "$SYNC_STATUS" = Paused ]; then
	req POST "/v1/syncs/$SYNC/reject"
else
	fx_copy "$TMP/next" "$CUR" # it applied: go on from there
fi
BASE_COUNT=$(member_count)

t "riskThreshold.members.count: PATCH merges per limit (percent kept)"
req_json PATCH /v1/settings '{"riskThreshold":{"members":{"count":2}}}'
expect_status 200
req GET /v1/settings
expect_jq "members limit" '.riskThreshold.members | "\(.percent) \(.count)"' "10 2"
expect_jq "teams limit untouched" '.riskThreshold.teams.percent' 10

t "3 removed with members.count 2 → Paused (members.count)"
without "$CUR" P001 P002 P003
sync_csv "$TMP/next"
expect_sync Paused
COUNT_PAUSED=$SYNC
expect_count "trips[0].limit" .risk.trips.0.limit members.count
expect_count "trips[0].configured" '.risk.trips[0].configured' 2
expect_count "trips[0].actual" '.risk.trips[0].actual' 3
expect_count "trips[0].affected" '.risk.trips[0].affected' 3
expect_eq "members" "$BASE_COUNT" "$(member_count)"

t "a new sync while one is Paused supersedes it (Rejected, reason naming the new sync)"
without "$CUR" P001 P002
sync_csv "$TMP/next"
expect_sync Success
NEW=$SYNC
expect_count "2 removed is not over a count of 2" .counts.members.deleted 2
req GET "/v1/syncs/$COUNT_PAUSED"
expect_jq "old sync" .status Rejected
expect_match "reason names the new sync" "(^|[^0-9])$NEW([^0-9]|$)" "$(jqr .reason)"
expect_match "reason says superseded" 'supersed' "$(jqr .reason)"
expect_ne "old sync finishedAt" null "$(jqr .finishedAt)"
req POST "/v1/syncs/$COUNT_PAUSED/approve"
expect_status 409
expect_eq "members" "$((BASE_COUNT - 2))" "$(member_count)"
fx_copy "$TMP/next" "$CUR"

t "null disables a limit: 20 % removed with members {percent:null, count:null} applies"
req_json PATCH /v1/settings '{"riskThreshold":{"members":{"percent":null,"count":null}}}'
expect_status 200
N=$(member_count)
without "$CUR" $(seq -f 'P%03.0f' 10 29)
sync_csv "$TMP/next"
expect_sync Success
expect_count "deleted" .counts.members.deleted 20
expect_eq "members" "$((N - 20))" "$(member_count)"
fx_copy "$TMP/next" "$CUR"

t "2 of 10 teams deleted with the default 10 % → Paused (teams.percent)"
fx_copy "$CUR" "$TMP/next"
fx_drop "$TMP/next" teams.csv '^G0[12],'
fx_drop "$TMP/next" teams-mappings.csv '^G0[12],'
sync_csv "$TMP/next"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit teams.percent
expect_count "trips[0].affected" '.risk.trips[0].affected' 2
expect_count "trips[0].of" '.risk.trips[0].of' 10
expect_count "trips[0].actual" '.risk.trips[0].actual' 20
req GET /v1/teams/G01
expect_status 200
req POST "/v1/syncs/$SYNC/reject"
expect_status 200

t "teams.count 1 and 2 teams deleted → Paused (teams.count)"
req_json PATCH /v1/settings '{"riskThreshold":{"teams":{"percent":null,"count":1}}}'
expect_status 200
sync_csv "$TMP/next"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit teams.count
expect_count "trips" '.risk.trips | length' 1
req POST "/v1/syncs/$SYNC/reject"
expect_status 200
req GET /v1/teams
expect_jq "teams" '.items | length' 10

t "members re-keyed by email over idSwapPercent 5 % → Paused (idSwapPercent), ids unchanged"
N=$(member_count)
fx_copy "$CUR" "$TMP/next"
for i in 50 51 52 53 54 55; do
	fx_sed "$TMP/next" members.csv "s/^P0$i,/R0$i,/"
	fx_sed "$TMP/next" teams-mappings.csv "s/,P0$i,/,R0$i,/"
done
sync_csv "$TMP/next"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit idSwapPercent
expect_count "trips[0].affected" '.risk.trips[0].affected' 6
expect_count "trips[0].of" '.risk.trips[0].of' "$N"
expect_count "rekeyed" .counts.members.rekeyed 6
expect_eq "P050 keeps its id meanwhile" 200 "$(present P050)"
expect_eq "R050 not there yet" 404 "$(present R050)"
req POST "/v1/syncs/$SYNC/reject"
expect_status 200

t "invalid limits are refused with 400 and change nothing"
for bad in '{"riskThreshold":{"members":{"percent":150}}}' \
	'{"riskThreshold":{"members":{"count":-1}}}' \
	'{"riskThreshold":{"members":{"count":1.5}}}' \
	'{"riskThreshold":{"idSwapPercent":"five"}}' \
	'{"riskThreshold":{"people":{"percent":5}}}'; do
	req_json PATCH /v1/settings "$bad"
	expect_status 400
	expect_jq "error code for $bad" .error.code invalid_setting
done
req GET /v1/settings
expect_jq "members limit" '.riskThreshold.members | "\(.percent) \(.count)"' "null null"
expect_jq "idSwapPercent" '.riskThreshold.idSwapPercent' 5

finish
