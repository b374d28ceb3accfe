#!/usr/bin/env bash
# Visibility (SPEC §1): a manager of T sees T and every team below it,
# transitively, each team once, through chains and through a DAG (a team
# with two parents); a member sees their own teams; an Administrator sees
# every team. Also the team graph as GET /v1/teams/{id} shows it, a deep
# and wide DAG (2^40 paths, a team with 202 parents) walked each team once,
# and GET /v1/teams paged by limit and offset as GET /v1/members is, with
# next links.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api

O=$TMP/org
fx_new "$O"
# A chain of 4 levels: L1 > L2 > L3 > L4.
fx_team "$O" L1 "Level 1"
fx_team "$O" L2 "Level 2"
fx_team "$O" L3 "Level 3"
fx_team "$O" L4 "Level 4"
fx_sub "$O" L1 L2
fx_sub "$O" L2 L3
fx_sub "$O" L3 L4
# A DAG: D1 > DA, DB; DA > DC and DB > DC (two parents); DC > DD.
fx_team "$O" D1 Division
fx_team "$O" DA "Branch A"
fx_team "$O" DB "Branch B"
fx_team "$O" DC Shared
fx_team "$O" DD "Shared Below"
fx_sub "$O" D1 DA
fx_sub "$O" D1 DB
fx_sub "$O" DA DC
fx_sub "$O" DB DC
fx_sub "$O" DC DD
for m in V1 V2 V3 V4 W1 W2 W3 W4 W5 W6; do
	fx_member "$O" "$m" "$(tr '[:upper:]' '[:lower:]' <<<"$m")@acme.example"
done
fx_in "$O" L1 V1 false true # V1 manages the top of the chain
fx_in "$O" L3 V2 true true  # V2 manages level 3
fx_in "$O" L2 V3            # V3 is a plain member of level 2
fx_in "$O" L2 V4
fx_in "$O" L4 V4            # V4 is a plain member of two levels
fx_in "$O" D1 W1 false true # W1 manages the top of the DAG
fx_in "$O" DC W2            # W2 is a plain member of the shared team
fx_in "$O" DA W3 false true # W3 manages both parents of DC
fx_in "$O" DB W3 false true
fx_in "$O" DA W4 false true # W4 manages DA and is a plain member of DC below it
fx_in "$O" DC W4
fx_in "$O" L1 W5 false true # W5 manages L1 and is a plain member of L2 below it
fx_in "$O" L2 W5
fx_in "$O" DD W6 false true # W6 only manages the bottom team

# visible MEMBER: the ids of the teams MEMBER sees, in answer order (duplicates kept).
visible() {
	req GET "/v1/members/$1/visible-teams"
	jqr '[.items[].externalTeamId] | join(",")'
}

# sorted LIST: a comma-separated list, sorted (duplicates kept).
sorted() {
	tr ',' '\n' <<<"$1" | sort | paste -sd, -
}

t "the org with a 4-level chain and a DAG syncs"
sync_csv "$O"
expect_sync Success
expect_count "teams" .counts.teams.created 9
expect_count "mappings" .counts.mappings.added 22

t "team detail: parents and subteams, a team with two parents"
req GET /v1/teams/DC
expect_status 200
expect_jq "DC parents" '[.parents[].externalTeamId] | sort | join(",")' DA,DB
expect_jq "DC subteams" '[.subteams[].externalTeamId] | join(",")' DD
expect_jq "DC members" '.members | join(",")' W2,W4
req GET /v1/teams/L2
expect_jq "L2 parents" '[.parents[].externalTeamId] | join(",")' L1
expect_jq "L2 subteams" '[.subteams[].externalTeamId] | join(",")' L3
expect_jq "L2 members" '.members | sort | join(",")' V3,V4,W5
req GET /v1/teams/L1
expect_jq "L1 managers" '.managers | sort | join(",")' V1,W5
expect_jq "L1 members (managers only)" '.members | length' 0

t "a manager of the top of a 4-level chain sees all 4 levels, each once"
visible V1 >/dev/null
expect_status 200
expect_eq "V1 sees" L1,L2,L3,L4 "$(sorted "$(jqr '[.items[].externalTeamId] | join(",")')")"
expect_jq "the answer names the member" .externalMemberId V1
expect_jq "items carry the team name" '.items[] | select(.externalTeamId == "L4") | .teamName' "Level 4"

t "a manager in the middle of the chain sees their team and below, not above"
expect_eq "V2 sees" L3,L4 "$(sorted "$(visible V2)")"

t "a plain member sees only their own teams"
expect_eq "V3 sees" L2 "$(sorted "$(visible V3)")"
expect_eq "V4 sees" L2,L4 "$(sorted "$(visible V4)")"
expect_eq "W2 sees" DC "$(sorted "$(visible W2)")"

t "a manager of the top of a DAG sees every team below, the shared one once"
expect_eq "W1 sees" D1,DA,DB,DC,DD "$(sorted "$(visible W1)")"

t "a manager of both parents of a shared team sees it and below once"
expect_eq "W3 sees" DA,DB,DC,DD "$(sorted "$(visible W3)")"

t "a manager-only mapping gives visibility of the team"
expect_eq "W6 sees" DD "$(sorted "$(visible W6)")"

t "a manager who is also a plain member of a team below sees the whole line below (DAG)"
expect_eq "W4 sees" DA,DC,DD "$(sorted "$(visible W4)")"

t "a manager who is also a plain member of a team below sees the whole line below (chain)"
expect_eq "W5 sees" L1,L2,L3,L4 "$(sorted "$(visible W5)")"

t "an Administrator sees every team, each once"
orgsync admin add admin@acme.example --org "$ORG_A" --db "$DB_URL" >/dev/null 2>&1
expect_eq "Administrator sees" D1,DA,DB,DC,DD,L1,L2,L3,L4 "$(sorted "$(visible admin@acme.example)")"

t "visibility follows the sync: a subteam link removed cuts the line below"
fx_drop "$O" teams-mappings.csv '^L2,,L3,'
sync_csv "$O"
expect_sync Success
expect_count "mappings removed" .counts.mappings.removed 1
expect_eq "V1 sees" L1,L2 "$(sorted "$(visible V1)")"
req GET /v1/teams/L3
expect_jq "L3 has no parent" '.parents | length' 0

t "visible-teams of an unknown member: 404"
visible NOBODY >/dev/null
expect_status 404


# A second org: a ladder 40 levels deep, each level's two teams below both
# teams of the level above (2^40 paths to the bottom), under a root R that
# also has 200 subteams, all above one shared team S, as is the ladder's
# bottom. Walking paths rather than teams would never end.
new_org deepwide
KEY=$ORG_KEY
enable_api
no_risk_limits
B=$TMP/deepwide
fx_new "$B"
fx_team "$B" R Root
fx_team "$B" S Shared
for ((k = 0; k < 40; k++)); do
	fx_team "$B" "$(printf 'X%02da' $k)" "Ladder $k a"
	fx_team "$B" "$(printf 'X%02db' $k)" "Ladder $k b"
done
for ((i = 1; i <= 200; i++)); do
	fx_team "$B" "$(printf 'W%03d' $i)" "Wide $i"
	fx_sub "$B" R "$(printf 'W%03d' $i)"
	fx_sub "$B" "$(printf 'W%03d' $i)" S
done
fx_sub "$B" R X00a
fx_sub "$B" R X00b
for ((k = 0; k < 39; k++)); do
	for u in a b; do
		for v in a b; do
			fx_sub "$B" "$(printf 'X%02d%s' $k $u)" "$(printf 'X%02d%s' $((k + 1)) $v)"
		done
	done
done
fx_sub "$B" X39a S
fx_sub "$B" X39b S
for m in B1 B2 B3; do
	fx_member "$B" "$m" "$(tr '[:upper:]' '[:lower:]' <<<"$m")@deepwide.example"
done
fx_in "$B" R B1 false true   # B1 manages the root
fx_in "$B" X20a B2 false true # B2 manages the middle of the ladder
fx_in "$B" S B3               # B3 is a plain member of the shared team

t "a deep and wide DAG syncs"
sync_csv "$B"
expect_sync Success
expect_count "teams" .counts.teams.created 282

t "deep and wide DAG: the root's manager sees every team once, at once"
visible B1 >/dev/null
expect_status 200
expect_jq "teams seen" '.items | length' 282
expect_jq "each once" '[.items[].externalTeamId] | unique | length' 282
expect_jq "the manager's own team first" '.items[0].externalTeamId' R

t "deep and wide DAG: a manager in the middle of the ladder sees the levels below and the shared team"
visible B2 >/dev/null
expect_jq "teams seen" '.items | length' 40
expect_jq "each once" '[.items[].externalTeamId] | unique | length' 40
expect_jq "none above" '[.items[].externalTeamId | select(startswith("X") and . < "X20")] | length' 0
expect_jq "the shared team" '[.items[].externalTeamId | select(. == "S")] | length' 1

t "deep and wide DAG: a plain member of the shared team sees it alone"
expect_eq "B3 sees" S "$(visible B3)"

t "deep and wide DAG: a team with 202 parents lists each"
req GET /v1/teams/S
expect_status 200
expect_jq "parents" '.parents | length' 202
expect_jq "each once" '[.parents[].externalTeamId] | unique | length' 202
expect_jq "subteams" '.subteams | length' 0
req GET /v1/teams/X20a
expect_jq "X20a parents" '[.parents[].externalTeamId] | join(",")' X19a,X19b
expect_jq "X20a subteams" '[.subteams[].externalTeamId] | join(",")' X21a,X21b
expect_jq "X20a managers" '.managers | join(",")' B2

t "GET /v1/teams without limit or offset: the first 100 teams, the total and a next link"
req GET /v1/teams
expect_status 200
expect_jq "teams" '.items | length' 100
expect_jq "offset" .offset 0
expect_jq "total" .total 282
expect_jq "next" .next '/v1/teams?offset=100'

t "GET /v1/teams: the next links, followed to the end, give every team once, in order"
list_all /v1/teams "$TMP/teams.linked"
expect_eq "pages" 3 "$LIST_PAGES"
jq -r '"\(.externalTeamId),\(.teamName)"' "$TMP/teams.linked" >"$TMP/teams.all"
expect_eq "teams" 282 "$(wc -l <"$TMP/teams.all" | tr -d ' ')"
expect_eq "each once" 282 "$(cut -d, -f1 "$TMP/teams.all" | sort -u | wc -l | tr -d ' ')"
req GET "/v1/teams?limit=500"
expect_jq "one page of 500 holds them all" '.items | length' 282
expect_jq "and is the last" .next null
jqr '.items[] | "\(.externalTeamId),\(.teamName)"' >"$TMP/teams.one"
cmp -s "$TMP/teams.all" "$TMP/teams.one" || fail "the linked pages differ from the one page"

t "GET /v1/teams pages by limit and offset, in the order of the full list"
: >"$TMP/teams.paged"
for off in 0 100 200; do
	req GET "/v1/teams?limit=100&offset=$off"
	expect_status 200
	expect_jq "offset $off echoed" .offset "$off"
	jqr '.items[] | "\(.externalTeamId),\(.teamName)"' >>"$TMP/teams.paged"
done
expect_jq "the last page" '.items | length' 82
expect_jq "the last page has no next" .next null
cmp -s "$TMP/teams.all" "$TMP/teams.paged" || fail "the pages differ from the full list"
req GET "/v1/teams?limit=7&offset=10"
expect_jq "limit 7" '.items | length' 7
expect_jq "starts at the 11th team" '.items[0].externalTeamId' "$(sed -n 11p "$TMP/teams.all" | cut -d, -f1)"
expect_jq "next keeps the limit" .next '/v1/teams?limit=7&offset=17'

t "GET /v1/teams paging: the defaults and bounds of GET /v1/members"
req GET "/v1/teams?offset=50"
expect_jq "offset alone: 100 teams" '.items | length' 100
expect_jq "offset alone: from the 51st" '.items[0].externalTeamId' "$(sed -n 51p "$TMP/teams.all" | cut -d, -f1)"
for limit in 0 501 1000 5000 -1 10abc ''; do
	req GET "/v1/teams?limit=$limit"
	expect_status 400
	expect_jq "limit=$limit: the parameter named" '.error.details[0].field' limit
done
req GET "/v1/teams?offset=-1"
expect_status 400
expect_jq "offset=-1: the parameter named" '.error.details[0].field' offset
req GET "/v1/teams?limit=10&offset=282"
expect_status 200
expect_jq "offset at the end: empty" '.items | length' 0
expect_jq "offset at the end: no next" .next null
req GET "/v1/teams?limit=10&offset=99999999"
expect_jq "offset past the end: empty" '.items | length' 0

t "GET /v1/teams paging and search are documented in the OpenAPI description"
req GET /v1/openapi.json
expect_jq "parameters" '[.paths["/v1/teams"].get.parameters[].name] | sort | join(",")' limit,offset,q

finish
