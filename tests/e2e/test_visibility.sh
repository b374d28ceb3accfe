#!/usr/bin/env bash
# Visibility (SPEC §1): a manager of T sees T and every team below it,
# transitively, each team once, through chains and through a DAG (a team
# with two parents); a member sees their own teams; an Administrator sees
# every team. Also the team graph as GET /v1/teams/{id} shows it.
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
orgsync admin add admin@acme.example --org "$ORG_A" --db "sqlite:$DB" >/dev/null 2>&1
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

finish
