#!/usr/bin/env bash
# The sync semantics of SPEC §4, one rule per case, through the API: each
# sync is the whole truth. The risk limits are off here (test_risk.sh
# covers them) so that every change applies at once.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api
no_risk_limits

# The base org: 40 members, Company > Sales, Support, Temp.
CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 40
fx_team "$CUR" T1 Company
fx_team "$CUR" T2 Sales
fx_team "$CUR" T3 Support
fx_team "$CUR" T4 Temp
fx_sub "$CUR" T1 T2
fx_sub "$CUR" T1 T3
fx_sub "$CUR" T1 T4
fx_in "$CUR" T1 M001 false true
fx_in "$CUR" T2 M002 true true
for i in $(seq -w 3 20); do fx_in "$CUR" T2 "M0$i"; done
for i in $(seq -w 21 40); do fx_in "$CUR" T3 "M0$i"; done
fx_in "$CUR" T4 M040

# team_ids EXTERNAL_MEMBER_ID: the member's team ids, sorted, comma-separated.
team_ids() {
	req GET "/v1/members/$1"
	jqr '[.teams[].externalTeamId] | sort | join(",")'
}

t "a first sync creates every member (state created), team and mapping"
sync_csv "$CUR"
expect_sync Success
expect_count "members created" .counts.members.created 40
expect_count "teams created" .counts.teams.created 4
expect_count "mappings added" .counts.mappings.added 44
expect_count "source" .source "API Provisioning"
expect_count "mode" .mode full
expect_count "format" .format csv
expect_eq "members listed" 40 "$(member_count)"
expect_eq "members in state created" 40 "$(member_count state=created)"
req GET /v1/members/M005
expect_status 200
expect_jq "M005" '[.email, .firstName, .lastName, .state, .role] | join(" ")' \
	"m005@acme.example First005 Last005 created Member"
expect_jq "M005 default product" '.productAssignations | join(",")' Officevibe
req GET /v1/teams/T1
expect_jq "T1 subteams" '[.subteams[].externalTeamId] | sort | join(",")' T2,T3,T4
expect_jq "T1 managers" '.managers | join(",")' M001
expect_jq "T1 members (M001 manages only)" '.members | length' 0
req GET /v1/teams/T2
expect_jq "T2 parents" '[.parents[].externalTeamId] | join(",")' T1
expect_jq "T2 members" '.members | length' 19

t "the same input twice changes nothing the second time (report: 0 changes)"
sync_csv "$CUR"
expect_sync Success
expect_count "member changes" \
	'.counts.members | [.created, .updated, .reactivated, .deactivated, .deleted, .rekeyed] | add' 0
expect_count "members unchanged" .counts.members.unchanged 40
expect_count "team changes" '.counts.teams | [.created, .renamed, .deleted] | add' 0
expect_count "teams unchanged" .counts.teams.unchanged 4
expect_count "mapping changes" '.counts.mappings | [.added, .removed, .changed] | add' 0
expect_count "issues" .issues 0

t "the same org as JSON after CSV changes nothing either"
JSON=$TMP/cur.json
orgsync convert --dir "$CUR" --to json -o "$JSON" >/dev/null 2>&1
if [ ! -s "$JSON" ]; then
	fail "orgsync convert --to json wrote no JSON file"
else
	sync_json "$JSON"
	expect_sync Success
	expect_count "format" .format json
	expect_count "changes" \
		'[.counts.members | .created, .updated, .deleted, .deactivated, .rekeyed] + [.counts.mappings | .added, .removed, .changed] | add' 0
fi

t "changed fields update the member matched by externalMemberId"
fx_sed "$CUR" members.csv 's/^M005,m005@acme.example,First005,Last005$/M005,m005@acme.example,Renamed,Changed/'
fx_sed "$CUR" members.csv 's/^M006,m006@acme.example,/M006,m006.new@acme.example,/'
sync_csv "$CUR"
expect_sync Success
expect_count "updated" .counts.members.updated 2
expect_count "created" .counts.members.created 0
expect_count "unchanged" .counts.members.unchanged 38
req GET /v1/members/M005
expect_jq "M005 names" '[.firstName, .lastName] | join(" ")' "Renamed Changed"
expect_jq "M005 state kept" .state created
req GET /v1/members/M006
expect_jq "M006 email" .email m006.new@acme.example
expect_eq "M006 teams kept" T2 "$(team_ids M006)"

t "email fallback: an unknown id with a known email (any case) adopts the member (rekeyed)"
fx_sed "$CUR" members.csv 's/^M007,m007@acme.example,/X007,M007@Acme.Example,/'
fx_sed "$CUR" teams-mappings.csv 's/^T2,M007,/T2,X007,/'
sync_csv "$CUR"
expect_sync Success
expect_count "rekeyed" .counts.members.rekeyed 1
expect_count "created" .counts.members.created 0
expect_count "deleted" .counts.members.deleted 0
req GET /v1/members/M007
expect_status 404
req GET /v1/members/X007
expect_status 200
expect_jq "X007 email (case-insensitive)" '.email | ascii_downcase' m007@acme.example
expect_jq "X007 kept its state" .state created
expect_eq "X007 kept its team" T2 "$(team_ids X007)"
expect_eq "member count" 40 "$(member_count)"

t "members absent from the sync: created → deleted"
fx_drop "$CUR" members.csv '^M039,'
fx_drop "$CUR" teams-mappings.csv ',M039,'
sync_csv "$CUR"
expect_sync Success
expect_count "deleted" .counts.members.deleted 1
expect_count "deactivated" .counts.members.deactivated 0
req GET /v1/members/M039
expect_status 404
req GET /v1/teams/T3
expect_true "M039 gone from T3" '.members | index("M039") == null'

t "members absent from the sync: invited → deleted"
req POST /v1/members/M038/invite
expect_status 202
req GET /v1/members/M038
expect_jq "M038 after invite" .state invited
fx_drop "$CUR" members.csv '^M038,'
fx_drop "$CUR" teams-mappings.csv ',M038,'
sync_csv "$CUR"
expect_sync Success
expect_count "deleted" .counts.members.deleted 1
req GET /v1/members/M038
expect_status 404

t "invitation accepted: the member becomes active"
req POST /v1/members/M037/invite
expect_status 202
TOKEN=$(outbox_token m037@acme.example)
expect_match "token in the outbox" '.{16,}' "$TOKEN"
SAVED_KEY=$KEY
KEY=
req POST "/v1/invitations/$TOKEN/accept"
expect_status 200
KEY=$SAVED_KEY
req GET /v1/members/M037
expect_jq "M037 state" .state active

t "members absent from the sync: active → deactivated (kept, not deleted)"
cp "$CUR/members.csv" "$TMP/with-m037.csv"
cp "$CUR/teams-mappings.csv" "$TMP/with-m037-maps.csv"
fx_drop "$CUR" members.csv '^M037,'
fx_drop "$CUR" teams-mappings.csv ',M037,'
sync_csv "$CUR"
expect_sync Success
expect_count "deactivated" .counts.members.deactivated 1
expect_count "deleted" .counts.members.deleted 0
req GET /v1/members/M037
expect_status 200
expect_jq "M037 state" .state deactivated
expect_eq "deactivated filter" 1 "$(member_count state=deactivated)"

t "a deactivated member that reappears is reactivated"
cp "$TMP/with-m037.csv" "$CUR/members.csv"
cp "$TMP/with-m037-maps.csv" "$CUR/teams-mappings.csv"
fx_sed "$CUR" members.csv 's/^M037,m037@acme.example,First037,/M037,m037@acme.example,Back037,/'
sync_csv "$CUR"
expect_sync Success
expect_count "reactivated" .counts.members.reactivated 1
expect_count "created" .counts.members.created 0
req GET /v1/members/M037
expect_jq "M037 state" .state active
expect_jq "M037 fields updated too" .firstName Back037
expect_eq "M037 teams back" T3 "$(team_ids M037)"

t "Administrators are never deactivated or deleted by a sync"
orgsync admin add boss@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin add (new member) exit status" 0 "$?"
orgsync admin add m036@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "admin add (HRIS member) exit status" 0 "$?"
req GET /v1/members/boss@acme.example
expect_jq "boss" '[.role, .state] | join(" ")' "Administrator active"
req GET /v1/members/M036
expect_jq "M036" '[.role, .state] | join(" ")' "Administrator created"
# Neither is in the sync; a Member in M036's place would be deleted.
fx_drop "$CUR" members.csv '^M036,'
fx_drop "$CUR" teams-mappings.csv ',M036,'
sync_csv "$CUR"
expect_sync Success
expect_count "deactivated" .counts.members.deactivated 0
expect_count "deleted" .counts.members.deleted 0
req GET /v1/members/boss@acme.example
expect_status 200
expect_jq "boss after the sync" '[.role, .state] | join(" ")' "Administrator active"
req GET /v1/members/M036
expect_status 200
expect_jq "M036 after the sync" '[.role, .state] | join(" ")' "Administrator created"

t "an Administrator's visible teams are all the teams"
req GET /v1/members/boss@acme.example/visible-teams
expect_status 200
expect_jq "boss sees" '[.items[].externalTeamId] | sort | join(",")' T1,T2,T3,T4

t "teams absent from the sync are deleted with their mappings"
fx_drop "$CUR" teams.csv '^T4,'
fx_drop "$CUR" teams-mappings.csv '^T4,|^T1,,T4,'
sync_csv "$CUR"
expect_sync Success
expect_count "teams deleted" .counts.teams.deleted 1
expect_count "mappings removed" .counts.mappings.removed 2
req GET /v1/teams/T4
expect_status 404
expect_eq "M040's teams" T3 "$(team_ids M040)"
req GET /v1/teams/T1
expect_jq "T1 subteams" '[.subteams[].externalTeamId] | sort | join(",")' T2,T3
expect_eq "stored mappings naming a deleted team" 0 \
	"$(db_query "SELECT count(*) FROM mappings WHERE org_id = $ORG_A AND (team_id NOT IN
		(SELECT id FROM teams) OR subteam_id NOT IN (SELECT id FROM teams))")"

t "mappings are replaced by the sync's: moved member, changed flags"
fx_sed "$CUR" teams-mappings.csv 's/^T2,M003,,true,false$/T3,M003,,true,false/'
fx_sed "$CUR" teams-mappings.csv 's/^T3,M021,,true,false$/T3,M021,,true,true/'
sync_csv "$CUR"
expect_sync Success
expect_count "mappings added" .counts.mappings.added 1
expect_count "mappings removed" .counts.mappings.removed 1
expect_count "mappings changed" .counts.mappings.changed 1
expect_eq "M003's teams" T3 "$(team_ids M003)"
req GET /v1/members/M021
expect_jq "M021 in T3" '.teams[] | select(.externalTeamId == "T3") | [.isMember, .isManager] | map(tostring) | join(",")' true,true
req GET /v1/teams/T2
expect_true "M003 no longer in T2" '.members | index("M003") == null'
req GET /v1/teams/T3
expect_true "M021 manages T3" '.managers | index("M021") != null'
expect_eq "team filter" "$(jqr '.members | length')" "$(member_count team=T3)"

t "a renamed team keeps its identity: same id, new name, members kept"
req GET /v1/teams/T2
BEFORE=$(jqr '.members | sort | join(",")')
fx_sed "$CUR" teams.csv 's/^T2,Sales$/T2,Revenue/'
sync_csv "$CUR"
expect_sync Success
expect_count "teams renamed" .counts.teams.renamed 1
expect_count "teams created" .counts.teams.created 0
expect_count "teams deleted" .counts.teams.deleted 0
expect_count "mapping changes" '.counts.mappings | [.added, .removed, .changed] | add' 0
req GET /v1/teams/T2
expect_jq "T2 name" .teamName Revenue
expect_jq "T2 members" '.members | sort | join(",")' "$BEFORE"
expect_jq "T2 parent" '[.parents[].externalTeamId] | join(",")' T1

t "skipped rows never remove what they name (bad email on a created and an active member, empty team name)"
COUNT=$(member_count)
cp -r "$CUR" "$TMP/good"
fx_sed "$CUR" members.csv 's/^M010,m010@acme.example,/M010,not-an-email,/'
fx_sed "$CUR" members.csv 's/^M037,m037@acme.example,/M037,also bad@@acme,/'
fx_sed "$CUR" teams.csv 's/^T3,Support$/T3,/'
sync_csv "$CUR"
expect_sync Warning
expect_count "deleted" .counts.members.deleted 0
expect_count "deactivated" .counts.members.deactivated 0
expect_count "teams deleted" .counts.teams.deleted 0
expect_true "issues reported" '.issues >= 3' "$TMP/sync.json"
req GET /v1/members/M010
expect_status 200
expect_jq "M010 untouched" '[.email, .state] | join(" ")' "m010@acme.example created"
req GET /v1/members/M037
expect_status 200
expect_jq "M037 untouched" '[.email, .state] | join(" ")' "m037@acme.example active"
expect_eq "M010's teams kept" T2 "$(team_ids M010)"
expect_eq "M037's teams kept" T3 "$(team_ids M037)"
req GET /v1/teams/T3
expect_status 200
expect_jq "T3 keeps its name" .teamName Support
expect_true "T3 keeps its members" '.members | length >= 18'
req GET "/v1/syncs/$SYNC/report"
expect_status 200
expect_true "the report names M010's row (line 11 of members.csv)" \
	'[.issues[] | select(.file == "members.csv" and .line == 11)] | length >= 1'
expect_true "the report names the empty team name (teams.csv line 4)" \
	'[.issues[] | select(.file == "teams.csv" and .line == 4)] | length >= 1'

t "the good rows come back: nothing was lost"
sync_csv "$TMP/good"
expect_sync Success
expect_count "changes" '[.counts.members | .created, .deleted, .deactivated] | add' 0
expect_eq "member count" "$COUNT" "$(member_count)"

t "mode=partial upserts and removes no one; the mode is recorded"
P=$TMP/partial
fx_new "$P"
fx_member "$P" M001 m001@acme.example First001 Partial
fx_member "$P" N001 n001@acme.example New Person
fx_team "$P" T9 Partial
fx_in "$P" T9 N001
sync_csv "$P" '?mode=partial'
expect_sync Success
expect_count "mode" .mode partial
expect_count "created" .counts.members.created 1
expect_count "updated" .counts.members.updated 1
expect_count "removals" '[.counts.members.deactivated, .counts.members.deleted, .counts.teams.deleted] | add' 0
expect_eq "member count" "$((COUNT + 1))" "$(member_count)"
req GET /v1/teams/T2
expect_status 200
expect_eq "M002's teams kept" T2 "$(team_ids M002)"

t "mode other than full or partial: 400"
push_csv "$P" '?mode=sideways'
expect_status 400
expect_jq "error code" .error.code bad_parameter

t "member filters: unknown state is 400, unknown team is 404"
req GET '/v1/members?state=sleeping'
expect_status 400
req GET '/v1/members?team=NOPE'
expect_status 404

t "two members swap emails in one sync; an email handed over goes to a new member"
W=$TMP/swap
fx_new "$W"
fx_member "$W" S1 s1@acme.example Swap One
fx_member "$W" S2 s2@acme.example Swap Two
fx_member "$W" S3 s3@acme.example Swap Three
sync_csv "$W" '?mode=partial'
expect_sync Success
fx_new "$W"
fx_member "$W" S1 s2@acme.example Swap One
fx_member "$W" S2 s1@acme.example Swap Two
fx_member "$W" S3 s3.new@acme.example Swap Three
fx_member "$W" S4 s3@acme.example Swap Four
sync_csv "$W" '?mode=partial'
expect_sync Success
expect_count "updated" .counts.members.updated 3
expect_count "created" .counts.members.created 1
req GET /v1/members/S1
expect_jq "S1's email" .email s2@acme.example
req GET /v1/members/S2
expect_jq "S2's email" .email s1@acme.example
req GET /v1/members/S4
expect_jq "S4 has S3's old email" .email s3@acme.example

finish
