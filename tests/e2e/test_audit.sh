#!/usr/bin/env bash
# Who did what: every administrative action (org create, settings, properties,
# key rotation, admins added and removed, approve, reject) in GET /v1/audit with its actor, time
# and old -> new values, secrets hidden, paged and filtered, each org seeing
# its own; the decision kept with its sync; syncs numbered per org; and a
# sync's plan paged to its end, equal to its counts, with old -> new values.
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
A_ID=$ORG_ID
KEY=$ORG_KEY
KEY_ID=${KEY:4:16}
ME=$(id -un)
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$'

# audit [QUERY]: GET /v1/audit?QUERY into $BODY.
audit() {
	req GET "/v1/audit${1:+?$1}"
}

t "org create is the org's first entry, by the CLI's unix user"
audit
expect_status 200
expect_jq "one entry" '.items | length' 1
expect_jq "action" '.items[0].action' org.create
expect_jq "actor" '.items[0].actor' "cli:$ME"
expect_jq "target" '.items[0].target' "org:$A_ID"
expect_jq "new: name and the public key id" '.items[0].new | "\(.name) \(.keyId)"' "acme $KEY_ID"
expect_jq "old: none" '.items[0].old' null
expect_jq "numbered within the org" '.items[0].id' 1
expect_match "time, RFC 3339 UTC" "$RFC3339" "$(jqr '.items[0].at')"
if grep -q "${KEY:21}" "$BODY"; then fail "the key's secret part is in the audit"; fi

t "a settings change: by the API key, old -> new of what changed only"
req_json PATCH /v1/settings '{"provisioning":{"method":"api"},"autoInvite":false}'
expect_status 200
audit
expect_jq "newest first" '.items[0].action' settings.update
expect_jq "actor: the key's public id" '.items[0].actor' "key:$KEY_ID"
expect_jq "target" '.items[0].target' settings
expect_jq "old" '.items[0].old | tojson' '{"provisioning":{"method":"none"}}'
expect_jq "new" '.items[0].new | tojson' '{"provisioning":{"method":"api"}}'

t "webhook secrets never reach the audit: written ***"
req_json PATCH /v1/settings '{"webhooks":[{"url":"https://hooks.example.com/hook","secret":"s3cr3t-value-0123456789"}]}'
expect_status 200
audit
expect_jq "new webhook, secret hidden" '.items[0].new.webhooks[0] | "\(.url) \(.secret)"' \
	"https://hooks.example.com/hook ***"
req_json PATCH /v1/settings '{"webhooks":[]}'
audit
expect_jq "old webhook, secret hidden" '.items[0].old.webhooks[0].secret' '***'
expect_jq "new: none" '.items[0].new.webhooks | length' 0
if grep -q s3cr3t "$BODY"; then fail "the webhook secret is in the audit"; fi

t "a refused settings change records nothing"
audit
before=$(jqr '.items[0].id')
req_json PATCH /v1/settings '{"mode":"sideways"}'
expect_status 400
audit
expect_jq "no new entry" '.items[0].id' "$before"

t "properties: define and delete, with the name as new, then old"
req_json POST /v1/properties '{"name":"Department"}'
expect_status 201
req DELETE /v1/properties/Department
expect_status 204
audit "limit=2"
expect_jq "delete" '.items[0] | "\(.action) \(.target) \(.old.name) \(.new)"' \
	"property.delete property:Department Department null"
expect_jq "create" '.items[1] | "\(.action) \(.target) \(.old) \(.new.name)"' \
	"property.create property:Department null Department"
req DELETE /v1/properties/Department
expect_status 404
audit "limit=1"
expect_jq "a refused delete records nothing" '.items[0].action' property.delete
expect_jq "(still the same entry)" '.items[0].old.name' Department
req_json POST /v1/properties '{"name":"Department"}'

t "key rotate: old and new public key ids, by the CLI user, no key material"
out=$(orgsync key rotate --org "$A_ID" --db "$DB_URL" 2>&1)
NEW_KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
expect_match "rotated" '^osk_' "$NEW_KEY"
KEY=$NEW_KEY
audit "limit=1"
expect_status 200
expect_jq "action" '.items[0].action' key.rotate
expect_jq "actor" '.items[0].actor' "cli:$ME"
expect_jq "old key id" '.items[0].old.keyIds | join(",")' "$KEY_ID"
expect_jq "new key id" '.items[0].new.keyIds | join(",")' "${NEW_KEY:4:16}"
if grep -q -e "${NEW_KEY:21}" -e "${ORG_KEY:21}" "$BODY"; then fail "a key's secret is in the audit"; fi
KEY_ID=${NEW_KEY:4:16}

# Twenty members; a sync dropping ten of them pauses (risk: members 10 %).
ORG=$TMP/org
fx_new "$ORG"
fx_people "$ORG" 20
fx_team "$ORG" T1 Sales
fx_in "$ORG" T1 M001 true true
fx_in "$ORG" T1 M002
sync_csv "$ORG"
expect_sync Success

t "admin add: a new member (old null) and an existing one (old role Member)"
orgsync admin add boss@acme.example --org "$A_ID" --db "$DB_URL" >/dev/null
expect_eq "exit status" 0 "$?"
orgsync admin add M005@ACME.example --org "$A_ID" --db "$DB_URL" >/dev/null
audit "action=admin.add"
expect_jq "two entries" '.items | length' 2
expect_jq "the existing member" '.items[0] | "\(.target) \(.old.role) \(.new.role) \(.actor)"' \
	"member:M005@ACME.example Member Administrator cli:$ME"
expect_jq "the new member" '.items[1] | "\(.target) \(.old) \(.new.role)"' \
	"member:boss@acme.example null Administrator"
orgsync admin add nobody --org "$A_ID" --db "$DB_URL" >/dev/null 2>&1
audit "action=admin.add"
expect_jq "a refused admin add records nothing" '.items | length' 2

t "admin remove: old role Administrator, new Member; a refused one records nothing"
orgsync admin remove m005@acme.example --org "$A_ID" --db "$DB_URL" >/dev/null
expect_eq "exit status" 0 "$?"
audit "limit=1"
expect_jq "entry" '.items[0] | "\(.action) \(.target) \(.old.role) \(.new.role) \(.actor)"' \
	"admin.remove member:m005@acme.example Administrator Member cli:$ME"
orgsync admin remove m006@acme.example --org "$A_ID" --db "$DB_URL" >/dev/null 2>&1
expect_ne "not an Administrator: refused" 0 "$?"
audit "action=admin.remove"
expect_jq "still one" '.items | length' 1

SMALL=$TMP/small
fx_copy "$ORG" "$SMALL"
fx_drop "$SMALL" members.csv '^M0(0[6-9]|1[0-9]|20),'

t "reject with a reason: kept with the sync as its decision, and in the audit"
sync_csv "$SMALL"
expect_sync Paused
PAUSED=$SYNC
req_json POST "/v1/syncs/$PAUSED/reject" '{"reason":"the export lost half the company"}'
expect_status 200
expect_jq "status" .status Rejected
expect_jq "decision" '.decision | "\(.action) \(.actor) \(.reason)"' \
	"reject key:$KEY_ID the export lost half the company"
expect_match "decision time, RFC 3339" "$RFC3339" "$(jqr .decision.at)"
expect_match "the sync's reason says why" 'the export lost half the company' "$(jqr .reason)"
req GET "/v1/syncs/$PAUSED"
expect_jq "GET shows the decision" '.decision.action' reject
audit "limit=1"
expect_jq "audit" '.items[0] | "\(.action) \(.target) \(.actor) \(.old.status) \(.new.status) \(.new.reason)"' \
	"sync.reject sync:$PAUSED key:$KEY_ID Paused Rejected the export lost half the company"

t "a decision body is checked: JSON object, reason a string"
sync_csv "$SMALL"
expect_sync Paused
PAUSED=$SYNC
req_json POST "/v1/syncs/$PAUSED/approve" '{"why":"x"}'
expect_status 400
expect_match "names the field" why "$(jqr .error.message)"
req_json POST "/v1/syncs/$PAUSED/approve" '{"reason":7}'
expect_status 400
req GET "/v1/syncs/$PAUSED"
expect_jq "still Paused, undecided" '"\(.status) \(.decision)"' "Paused null"

t "approve without a reason: applied, the decision kept, the audit says who"
req POST "/v1/syncs/$PAUSED/approve"
expect_status 202
wait_sync "$PAUSED"
expect_sync Success
expect_count "applied" .counts.members.deleted 15
expect_jq "decision" '.decision | "\(.action) \(.actor) \(.reason)"' "approve key:$KEY_ID null" \
	"$TMP/sync.json"
audit "limit=1"
expect_jq "audit" '.items[0] | "\(.action) \(.target) \(.old.status) \(.new.status)"' \
	"sync.approve sync:$PAUSED Paused Pending"
req POST "/v1/syncs/$PAUSED/approve"
expect_status 409
audit "limit=1&action=sync.approve"
expect_jq "a refused approval records nothing" '.items | length' 1
req GET /v1/syncs/1
expect_jq "a sync applied unpaused has no decision" .decision null

t "paged: limit, next links to the end, every entry once, newest first"
audit "limit=500"
ALL=$(jqr '[.items[].id] | join(",")')
TOTAL=$(jqr '.items | length')
expect_jq "last page: no next" .next null
expect_jq "total: every entry" .total "$TOTAL"
expect_true "ids descend" '[.items[].id] as $i | $i == ($i | sort | reverse)'
expect_true "ids are 1..n" "[.items[].id] | sort == [range(1; $TOTAL + 1)]"
got=""
path="/v1/audit?limit=3"
pages=0
while [ -n "$path" ] && [ "$path" != null ] && [ $pages -lt 50 ]; do
	req GET "$path"
	expect_status 200
	got="$got${got:+,}$(jqr '[.items[].id] | join(",")')"
	path=$(jqr .next)
	pages=$((pages + 1))
done
expect_eq "pages of 3 give every entry once" "$ALL" "$got"
expect_eq "number of pages" $(((TOTAL + 2) / 3)) "$pages"

t "filters: action, actor, target; kept in the next link"
audit "actor=cli:$ME"
expect_true "only the CLI's" "[.items[].actor] | unique == [\"cli:$ME\"]"
audit "action=property.create&limit=1"
expect_jq "one of two" '.items[0].action' property.create
expect_jq "total of the filter" .total 2
expect_match "next keeps the filter" 'action=property.create' "$(jqr .next)"
req GET "$(jqr .next)"
expect_jq "second page, filtered" '[.items[].action] | join(",")' property.create
audit "target=sync:$PAUSED"
expect_jq "one target" '[.items[].action] | join(",")' sync.approve

t "bad paging parameters are refused, naming the parameter"
for q in limit=0 limit=501 limit=x before=0 before=-3; do
	audit "$q"
	expect_status 400
	expect_match "$q named" "${q%%=*}" "$(jqr .error.message)"
done

t "tenant isolation: another org sees only its own entries, numbered from 1"
A_KEY=$KEY
new_org globex
B_ID=$ORG_ID
KEY=$ORG_KEY
audit
expect_jq "B's own org.create only" '[.items[] | "\(.id) \(.action) \(.target)"] | join(",")' \
	"1 org.create org:$B_ID"
enable_api
audit
expect_jq "B's two" '[.items[].action] | join(",")' settings.update,org.create
if grep -q -e Department -e "sync:" -e boss@ "$BODY"; then fail "B sees A's entries"; fi
KEY=$A_KEY
audit "action=org.create"
expect_jq "A's own org.create only" '[.items[].target] | join(",")' "org:$A_ID"

t "syncs are numbered per org: B's first sync is B's sync 1, Location says so"
KEY=$ORG_KEY
BORG=$TMP/borg
fx_new "$BORG"
fx_member "$BORG" B1 b1@globex.example
push_csv "$BORG"
expect_status 202
expect_eq "B's first sync" 1 "$SYNC"
expect_eq "Location" /v1/syncs/1 "$(header Location)"
wait_sync 1
expect_count "B's sync 1: its own counts" .counts.members.created 1
req GET "/v1/syncs/$PAUSED"
expect_status 404
expect_jq "B cannot read A's sync $PAUSED" .error.code not_found
req POST "/v1/syncs/$PAUSED/reject"
expect_status 404
KEY=$A_KEY
req GET /v1/syncs/1
expect_jq "A's sync 1 is A's" .counts.members.created 20

# A sync with every kind of change, to read its plan.
t "the plan, paged to the end, equals its counts and says old -> new"
no_risk_limits
CHANGED=$TMP/changed
fx_copy "$SMALL" "$CHANGED"
fx_sed "$CHANGED" members.csv 's/^M001,m001@acme.example,First001,/M001,first.one@acme.example,Firstname,/'
fx_sed "$CHANGED" members.csv 's/^M002,m002@acme.example,/X002,m002@acme.example,/'
fx_sed "$CHANGED" teams-mappings.csv 's/^T1,M002,,true,false$/T1,X002,,true,false/'
fx_sed "$CHANGED" teams-mappings.csv 's/^T1,M001,,true,true$/T1,M001,,true,false/'
fx_sed "$CHANGED" teams.csv 's/^T1,Sales$/T1,Sales and Marketing/'
fx_team "$CHANGED" T2 Support
fx_people "$CHANGED" 7 N
sync_csv "$CHANGED"
expect_sync Success
PLANNED=$SYNC
cp "$TMP/sync.json" "$TMP/planned.json"
: >"$TMP/items"
path="/v1/syncs/$PLANNED/plan?limit=4"
pages=0
while [ -n "$path" ] && [ "$path" != null ] && [ $pages -lt 100 ]; do
	req GET "$path"
	expect_status 200
	expect_jq "counts on every page" '.counts.members.created' 7
	jq -c '.items[]' "$BODY" >>"$TMP/items"
	path=$(jqr .next)
	pages=$((pages + 1))
done
jq -s . "$TMP/items" >"$TMP/all.json"
expect_jq "seq 0.. once each" '[.[].seq] == [range(0; length)]' true "$TMP/all.json"
expect_eq "member entries = counts" \
	"$(jq '.counts.members | .created + .updated + .reactivated + .deactivated + .deleted' "$TMP/planned.json")" \
	"$(jq '[.[] | select(.type == "member")] | length' "$TMP/all.json")"
expect_eq "team entries = counts" \
	"$(jq '.counts.teams | .created + .renamed + .deleted' "$TMP/planned.json")" \
	"$(jq '[.[] | select(.type == "team")] | length' "$TMP/all.json")"
expect_eq "mapping entries = counts" \
	"$(jq '.counts.mappings | .added + .removed + .changed' "$TMP/planned.json")" \
	"$(jq '[.[] | select(.type == "mapping")] | length' "$TMP/all.json")"
expect_jq "the total" ".total" "$(jq length "$TMP/all.json")"
expect_jq "email and name, old -> new" \
	'.[] | select(.type == "member" and .externalMemberId == "M001") | .changes | "\(.email.old)>\(.email.new) \(.firstName.old)>\(.firstName.new)"' \
	"m001@acme.example>first.one@acme.example First001>Firstname" "$TMP/all.json"
expect_jq "re-keyed by email: the old externalMemberId" \
	'.[] | select(.type == "member" and .externalMemberId == "X002") | "\(.action) \(.changes.externalMemberId.old)>\(.changes.externalMemberId.new)"' \
	"update M002>X002" "$TMP/all.json"
expect_jq "team renamed, old -> new" \
	'.[] | select(.type == "team" and .action == "rename") | "\(.externalTeamId) \(.changes.teamName.old)>\(.changes.teamName.new)"' \
	"T1 Sales>Sales and Marketing" "$TMP/all.json"
expect_jq "mapping flag, old -> new" \
	'.[] | select(.type == "mapping" and .action == "change") | "\(.externalMemberId) \(.changes.isManager.old)>\(.changes.isManager.new) \(.isManager)"' \
	"M001 true>false false" "$TMP/all.json"
expect_jq "created members carry no changes" \
	'[.[] | select(.action == "create" and .type == "member") | .changes] | unique | tojson' '[null]' "$TMP/all.json"

t "the plan by type: a page of teams starts at the teams; bad parameters 400"
req GET "/v1/syncs/$PLANNED/plan?type=team&limit=500"
expect_status 200
expect_jq "teams only" '[.items[].type] | unique | join(",")' team
expect_jq "total of the type" .total "$(jq '[.[] | select(.type == "team")] | length' "$TMP/all.json")"
expect_jq "first team's seq" '.items[0].seq' "$(jq '[.[] | select(.type == "team")][0].seq' "$TMP/all.json")"
for q in type=people limit=0 limit=501 cursor=-1 cursor=x; do
	req GET "/v1/syncs/$PLANNED/plan?$q"
	expect_status 400
	expect_match "$q named" "${q%%=*}" "$(jqr .error.message)"
done
KEY=$ORG_KEY
req GET "/v1/syncs/$PLANNED/plan"
expect_status 404

finish
