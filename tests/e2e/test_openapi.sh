#!/usr/bin/env bash
# GET /v1/openapi.json is kept true (SPEC §6): it documents every route the
# spec lists, every documented path and method answers (neither 404 nor
# 405, real ids substituted), and the documented security matches what the
# server asks for.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api

O=$TMP/org
fx_new "$O"
fx_people "$O" 3
fx_team "$O" T1 Everyone
fx_in "$O" T1 M001
sync_csv "$O"
SYNC_ID=$SYNC
req_json POST /v1/properties '{"name":"gone1"}'
req_json POST /v1/properties '{"name":"gone2"}'
req POST /v1/members/M002/invite
TOKEN=$(outbox_token m002@acme.example)

t "openapi.json is OpenAPI 3.1 with paths"
KEY=
req GET /v1/openapi.json
expect_status 200
cp "$BODY" "$TMP/openapi.json"
expect_jq "openapi" .openapi 3.1.0
expect_true "paths" '.paths | length > 10'
KEY=$ORG_KEY

# METHOD path lines, parameters written {}.
jq -r '.paths | to_entries[] | .key as $p | .value | keys[] | "\(ascii_upcase) \($p)"' \
	"$TMP/openapi.json" 2>/dev/null | sed -E 's/\{[^}]*\}/{}/g' | sort >"$TMP/documented"

t "every route of SPEC §6 is documented"
for route in "POST /v1/syncs" "GET /v1/syncs" "GET /v1/syncs/{}" "GET /v1/syncs/{}/report" \
	"POST /v1/syncs/{}/approve" "POST /v1/syncs/{}/reject" "GET /v1/settings" \
	"PATCH /v1/settings" "GET /v1/properties" "POST /v1/properties" "GET /v1/roles" \
	"GET /v1/members" "GET /v1/members/{}" "GET /v1/members/{}/visible-teams" \
	"POST /v1/members/{}/invite" "GET /v1/teams" "GET /v1/teams/{}" "GET /healthz" \
	"GET /metrics" "GET /v1/openapi.json" "POST /v1/invitations/{}/accept"; do
	grep -qxF "$route" "$TMP/documented" || fail "not documented: $route"
done
grep -q '^DELETE /v1/properties' "$TMP/documented" || fail "not documented: DELETE /v1/properties"

# concrete METHOD PATH: the documented path with real ids and names.
concrete() {
	local method=$1 path=$2
	case $path in
	/v1/syncs/*) path=${path//\{\}/$SYNC_ID} ;;
	/v1/members/*) path=${path//\{\}/M001} ;;
	/v1/teams/*) path=${path//\{\}/T1} ;;
	/v1/properties/*) path=${path//\{\}/gone2} ;;
	/v1/invitations/*) path=${path//\{\}/$TOKEN} ;;
	esac
	[ "$method $path" = "DELETE /v1/properties" ] && path="/v1/properties?name=gone1"
	echo "$path"
}

# call_documented METHOD PATH: the request a client would make.
call_documented() {
	case "$1 $2" in
	"POST /v1/syncs")
		push_csv "$O" '?mode=partial'
		local pushed=$STATUS
		[ -n "$SYNC" ] && wait_sync "$SYNC" # one at a time: the next POST must not meet it
		STATUS=$pushed
		;;
	"PATCH /v1/settings") req_json PATCH "$2" '{}' ;;
	"POST /v1/properties") req_json POST "$2" '{"name":"documented"}' ;;
	*) req "$1" "$2" ;;
	esac
}

t "every documented path and method answers (not 404, not 405, not 5xx)"
n=0
while read -r method path; do
	url=$(concrete "$method" "$path")
	call_documented "$method" "$url"
	n=$((n + 1))
	case $STATUS in
	404 | 405 | 000 | 5??) fail "$method $url ($path) answered $STATUS"; note "$BODY" ;;
	esac
done <"$TMP/documented"
expect_true "routes tried" "$n >= 21" <(echo null)

t "documented security holds: bearer routes answer 401 without a key, the others do not"
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] |
	"\(.key | ascii_upcase) \($p) \(if .value.security then "key" else "open" end)"' \
	"$TMP/openapi.json" >"$TMP/security"
SAVED=$KEY
KEY=
while read -r method path how; do
	url=$(concrete "$method" "$(sed -E 's/\{[^}]*\}/{}/g' <<<"$path")")
	[ "$method $path" = "POST /v1/invitations/{id}/accept" ] && url=/v1/invitations/unknown/accept
	req "$method" "$url"
	if [ "$how" = key ] && [ "$STATUS" != 401 ]; then
		fail "$method $path is documented with a key but answered $STATUS without one"
	elif [ "$how" = open ] && [ "$STATUS" = 401 ]; then
		fail "$method $path is documented open but answered 401"
	fi
done <"$TMP/security"
KEY=$SAVED

t "GET /v1/roles names the roles and how to assign them"
req GET /v1/roles
expect_status 200
expect_jq "roles" '[.items[].name] | sort | join(",")' Administrator,Member
expect_true "each says how to assign it" '[.items[] | .howToAssign | length > 0] | all'

finish
