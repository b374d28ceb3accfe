#!/usr/bin/env bash
# The guard (SPEC §3, §5): the broken exports an HRIS really produces never
# lose data. A skipped row keeps what it names (a mapping row: the stored
# mapping of its pair); an empty or header-only file pauses a full sync of a
# non-empty org whatever the limits; ids shifted by one row pause on
# identityChangePercent; mappings and managers have limits of their own.
# Each case starts from the sample org in examples/current.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org maple
KEY=$ORG_KEY
enable_api
req_json POST /v1/properties '{"name":"department"}'
CUR=examples/current
NEXT=$TMP/next

# manager_of TEAM MEMBER: "true" when MEMBER manages TEAM, "false" when only a member, else "absent".
manager_of() {
	req GET "/v1/teams/$1"
	jqr "if (.managers | index(\"$2\")) then \"true\"
		elif (.members | index(\"$2\")) then \"false\" else \"absent\" end"
}

# mapping_total: the number of member and subteam mappings stored, read through the API.
mapping_total() {
	db_query "SELECT count(*) FROM mappings WHERE org_id = $ORG_ID"
}

# state_hash: a digest of the org as the API lists it (members and teams).
state_hash() {
	local m t
	list_all "/v1/members?limit=500" "$TMP/state.members"
	m=$(jq -sS . "$TMP/state.members")
	t=$(db_query "SELECT t.external_id, t.name, m.is_member, m.is_manager,
		coalesce(mm.external_id, st.external_id) FROM mappings m JOIN teams t ON t.id = m.team_id
		LEFT JOIN members mm ON mm.id = m.member_id LEFT JOIN teams st ON st.id = m.subteam_id
		WHERE m.org_id = $ORG_ID ORDER BY 1, 5")
	printf '%s\n%s\n' "$m" "$t" | sha256sum | cut -c1-16
}

t "the sample org syncs with the default limits"
sync_csv "$CUR"
expect_sync Success
expect_count "members created" .counts.members.created 33
expect_eq "T11's manager E005" true "$(manager_of T11 E005)"
MAPPINGS=$(mapping_total)
expect_eq "49 mappings stored" 49 "$MAPPINGS"
BEFORE=$(state_hash)
expect_eq "the hash covers every member" 33 "$(wc -l <"$TMP/state.members" | tr -d ' ')"

t "a mapping row with a bad boolean is skipped, and the mapping it names stays exactly as it was"
fx_copy "$CUR" "$NEXT"
fx_sed "$NEXT" teams-mappings.csv 's/^T11,E005,,true,true$/T11,E005,,true,maybe/'
expect_match "the row is broken" 'T11,E005,,true,maybe' "$(cat "$NEXT/teams-mappings.csv")"
sync_csv "$NEXT"
expect_sync Warning
expect_count "nothing removed" .counts.mappings.removed 0
expect_count "nothing changed" .counts.mappings.changed 0
expect_count "the kept mapping is counted" .counts.mappings.kept 1
expect_eq "T11 keeps its manager E005" true "$(manager_of T11 E005)"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"
req GET "/v1/syncs/$SYNC/report"
expect_jq "the bad boolean is reported at its line" \
	'[.issues[] | select(.code == "invalid_boolean") | "\(.file):\(.line):\(.field)"] | first' \
	"teams-mappings.csv:17:isManager"
expect_jq "the report says the mapping was kept" \
	'[.issues[] | select(.code == "kept_by_skipped_row") | .recordId] | first' "T11/E005"

t "the same in a JSON payload: isManager \"maybe\" is skipped, the mapping stays"
jq '(.teamMappings[] | select(.externalTeamId == "T11" and .externalMemberId == "E005") |
	.isManager) = "maybe"' "$CUR/org.json" >"$TMP/bad-bool.json"
sync_json "$TMP/bad-bool.json"
expect_sync Warning
expect_count "nothing removed" .counts.mappings.removed 0
expect_eq "T11 keeps its manager E005" true "$(manager_of T11 E005)"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "a mapping row with an unknown team keeps every mapping of its member"
fx_copy "$CUR" "$NEXT"
fx_sed "$NEXT" teams-mappings.csv 's/^T11,E005,,true,true$/T99,E005,,true,true/'
sync_csv "$NEXT"
expect_sync Warning
expect_count "nothing removed" .counts.mappings.removed 0
expect_eq "T11 keeps its manager E005" true "$(manager_of T11 E005)"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "a header-only teams-mappings.csv pauses (emptyInput.mappings) even with every limit off; rejected, nothing changes"
no_risk_limits
fx_copy "$CUR" "$NEXT"
head -1 "$CUR/teams-mappings.csv" >"$NEXT/teams-mappings.csv"
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit emptyInput.mappings
expect_count "trips[0].affected" '.risk.trips[0].affected' 49
expect_match "the reason says the input is empty" 'mappings input holds no row' \
	"$(jqr .reason "$TMP/sync.json")"
expect_eq "49 mappings still stored" 49 "$(mapping_total)"
req_json POST "/v1/syncs/$SYNC/reject" '{"reason":"export cut short"}'
expect_status 200
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "a header-only members.csv pauses (emptyInput.members) whatever the limits; nothing changes"
fx_copy "$CUR" "$NEXT"
head -1 "$CUR/members.csv" >"$NEXT/members.csv"
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit emptyInput.members
expect_count "trips[0].affected" '.risk.trips[0].affected' 33
expect_eq "33 members still there" 33 "$(member_count)"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "orgsync push --wait of a header-only members.csv exits 3 and says why"
ORGSYNC_API_KEY=$KEY $ORGSYNC push --url "$BASE" --members "$NEXT/members.csv" \
	--teams "$NEXT/teams.csv" --mappings "$NEXT/teams-mappings.csv" --wait >"$TMP/out" 2>&1
expect_eq "exit status (Paused)" 3 "$?"
expect_match "the tripped limit in words" 'members input holds no row, which would remove all 33' \
	"$(cat "$TMP/out")"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "an empty (0-byte) teams.csv is refused or pauses; nothing changes"
fx_copy "$CUR" "$NEXT"
: >"$NEXT/teams.csv"
push_csv "$NEXT"
if [ "$STATUS" = 202 ]; then
	wait_sync "$SYNC"
	expect_sync Paused
	expect_count "trips[0].limit" .risk.trips.0.limit emptyInput.teams
else
	expect_status 400
fi
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "a header-only teams.csv pauses (emptyInput.teams)"
fx_copy "$CUR" "$NEXT"
head -1 "$CUR/teams.csv" >"$NEXT/teams.csv"
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit emptyInput.teams
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "a JSON payload with an empty teamMappings array pauses (emptyInput.mappings)"
jq '.teamMappings = []' "$CUR/org.json" >"$TMP/empty-maps.json"
sync_json "$TMP/empty-maps.json"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit emptyInput.mappings
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

# Back to the default limits for the rest.
req_json PATCH /v1/settings '{"riskThreshold":{"members":{"percent":10,"count":null},
	"teams":{"percent":10,"count":null},"mappings":{"percent":10,"count":null},
	"managersPercent":10,"idSwapPercent":5,"identityChangePercent":5}}'

t "member ids shifted by one row pause on identityChangePercent; no email or name is overwritten"
fx_copy "$CUR" "$NEXT"
# Each row takes the id of the row below it; the last takes the first's.
awk -F, 'NR == 1 { print; next } { ids[NR] = $1; rows[NR] = $0 } END {
	for (i = 2; i <= NR; i++) { j = i < NR ? i + 1 : 2; r = rows[i]; sub(/^[^,]*/, ids[j], r); print r } }' \
	"$CUR/members.csv" >"$NEXT/members.csv"
expect_match "E002's row is now Élodie's" '^E002,elodie.gagnon@' "$(sed -n 2p "$NEXT/members.csv")"
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit identityChangePercent
expect_count "every member's identity would change" '.risk.trips[0].affected' 33
req GET /v1/members/E001
expect_jq "E001 keeps its email" .email elodie.gagnon@maplefir.example
expect_jq "E001 keeps its name" .firstName "Élodie"
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "the mappings limit: 6 of 49 mappings dropped while their members stay → Paused (mappings.percent)"
fx_copy "$CUR" "$NEXT"
# six member rows of the mappings file, their members still in members.csv
grep -n ',E0[0-9][0-9],,' "$CUR/teams-mappings.csv" | head -6 | cut -d: -f2- >"$TMP/dropped"
grep -vxF -f "$TMP/dropped" "$CUR/teams-mappings.csv" >"$NEXT/teams-mappings.csv"
expect_eq "six rows dropped" 43 "$(($(wc -l <"$NEXT/teams-mappings.csv") - 1))"
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit mappings.percent
expect_count "affected" '.risk.trips[0].affected' 6
expect_count "of" '.risk.trips[0].of' 49
expect_eq "the org is as it was" "$BEFORE" "$(state_hash)"

t "the managers limit: T11 loses its manager → Paused (managersPercent), the mappings limit off"
req_json PATCH /v1/settings '{"riskThreshold":{"mappings":{"percent":null,"count":null}}}'
expect_status 200
fx_copy "$CUR" "$NEXT"
fx_sed "$NEXT" teams-mappings.csv 's/^T11,E005,,true,true$/T11,E005,,true,false/'
sync_csv "$NEXT"
expect_sync Paused
expect_count "trips[0].limit" .risk.trips.0.limit managersPercent
expect_count "affected" '.risk.trips[0].affected' 1
expect_eq "T11 keeps its manager E005" true "$(manager_of T11 E005)"

t "approved, the same change applies"
req POST "/v1/syncs/$SYNC/approve"
expect_status 202
wait_sync "$SYNC"
expect_sync Success
expect_eq "E005 is no longer T11's manager" false "$(manager_of T11 E005)"

t "the new limits are settings: shown with their defaults, validated, null disables"
req GET /v1/settings
expect_jq "mappings" '.riskThreshold.mappings | "\(.percent) \(.count)"' "null null"
expect_jq "managersPercent" .riskThreshold.managersPercent 10
expect_jq "identityChangePercent" .riskThreshold.identityChangePercent 5
for bad in '{"riskThreshold":{"mappings":{"percent":101}}}' \
	'{"riskThreshold":{"mappings":{"count":-2}}}' \
	'{"riskThreshold":{"mappings":{"percent":5,"ratio":1}}}' \
	'{"riskThreshold":{"managersPercent":"ten"}}' \
	'{"riskThreshold":{"identityChangePercent":-1}}'; do
	req_json PATCH /v1/settings "$bad"
	expect_status 400
	expect_match "the error names the field" 'riskThreshold' "$(jqr .error.message)"
done
req GET /v1/settings
expect_jq "unchanged after the refusals" '.riskThreshold.identityChangePercent' 5

t "a first sync of header-only files into an empty org never pauses"
new_org birch
KEY=$ORG_KEY
enable_api
fx_new "$TMP/empty"
sync_csv "$TMP/empty"
expect_sync Success
expect_count "no trip" '.risk.trips | length' 0

finish
