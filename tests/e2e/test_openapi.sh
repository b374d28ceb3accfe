#!/usr/bin/env bash
# GET /v1/openapi.json is kept true (SPEC §6): it documents every route the
# spec lists, every documented path and method answers (neither 404 nor
# 405, real ids substituted), every documented query parameter is accepted
# and an undocumented one refused, route by route, and the documented
# security matches what the server asks for.
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
DELIVERY=$(db_query "SELECT delivery_id FROM outbox ORDER BY id LIMIT 1")

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
	"GET /metrics" "GET /v1/openapi.json" "POST /v1/invitations/{}/accept" "GET /v1/audit" \
	"GET /v1/syncs/{}/plan"; do
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
	/invitations/*) path=${path//\{\}/$TOKEN} ;;
	/v1/deliveries/*) path=${path//\{\}/$DELIVERY} ;;
	/ui/*) path=/ui/app.js ;;
	esac
	[ "$method $path" = "DELETE /v1/properties" ] && path="/v1/properties?name=gone1"
	echo "$path"
}

# call_documented METHOD PATH [QUERY]: the request a client would make (QUERY: "?a=b").
call_documented() {
	case "$1 $2" in
	"POST /v1/syncs")
		push_csv "$O" "${3:-?mode=partial}"
		local pushed=$STATUS
		[ -n "$SYNC" ] && wait_sync "$SYNC" # one at a time: the next POST must not meet it
		STATUS=$pushed
		;;
	"PATCH /v1/settings") req_json PATCH "$2${3:-}" '{}' ;;
	"POST /v1/properties") req_json POST "$2${3:-}" '{"name":"documented"}' ;;
	"POST /v1/keys/rotate")
		req POST "$2${3:-}"
		if [ "$STATUS" = 200 ]; then
			KEY=$(jqr .apiKey)
			ORG_KEY=$KEY
		fi
		;;
	"POST /v1/session/link") req_json POST "$2${3:-}" '{"email":"nobody@acme.example"}' ;;
	"POST /v1/session") req_json POST "$2${3:-}" "{\"apiKey\":\"$ORG_KEY\"}" ;;
	*) req "$1" "$2${3:-}" ;;
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

# The documented query parameters: "METHOD PATH NAME TYPE MINIMUM FIRST-ENUM-VALUE" lines.
jq -r '.paths | to_entries[] | .key as $p | .value | to_entries[] | (.key | ascii_upcase) as $m |
	(.value.parameters // [])[] | select(.in == "query") |
	"\($m) \($p) \(.name) \(.schema.type) \(.schema.minimum // "-") \((.schema.enum // ["-"])[0])"' \
	"$TMP/openapi.json" | sed -E 's/\{[^}]*\}/{}/g' >"$TMP/query"

# a_value NAME TYPE MINIMUM FIRST-ENUM-VALUE: a value of the parameter's schema that makes sense.
a_value() {
	case "$1:$2" in
	team:* | parent:*) echo T1 ;;
	name:*) echo qparam ;;
	mode:*) echo partial ;;
	dryRun:*) echo true ;;
	*:boolean) echo false ;;
	*:integer) echo "$3" ;;
	*) echo "$4" ;;
	esac
}

t "every query parameter is documented with a schema: type, and bounds or values"
expect_true "GET /v1/syncs, GET /v1/members and GET /v1/teams document limit" \
	'[.paths["/v1/syncs", "/v1/members", "/v1/teams"].get.parameters[] | select(.name == "limit")] | length == 3' "$TMP/openapi.json"
expect_true "limit is 1..500" \
	'[.paths[][].parameters[]? | select(.name == "limit") | .schema | .type == "integer" and .minimum == 1 and .maximum == 500] | all' "$TMP/openapi.json"
expect_true "dryRun is a boolean, false by default" \
	'.paths["/v1/syncs"].post.parameters[] | select(.name == "dryRun") | .schema == {"type":"boolean","default":false}' "$TMP/openapi.json"
expect_true "mode is full or partial" \
	'.paths["/v1/syncs"].post.parameters[] | select(.name == "mode") | .schema.enum == ["full","partial"]' "$TMP/openapi.json"
expect_true "state lists the states" \
	'.paths["/v1/members"].get.parameters[] | select(.name == "state") | .schema.enum == ["created","invited","active","deactivated"]' "$TMP/openapi.json"
expect_true "every query parameter has a type and a description" \
	'[.paths[][].parameters[]? | select(.in == "query") | (.schema.type | type) == "string" and (.description | length) > 0] | all' "$TMP/openapi.json"
expect_true "every path parameter is in: path, required, and named in the path" \
	'[.paths | to_entries[] | .key as $p | .value[].parameters[]? | select(.in == "path") | .name as $n | .required == true and ($p | contains("{" + $n + "}"))] | all' "$TMP/openapi.json"
expect_true "every {name} of a path is declared" \
	'[.paths | to_entries[] | .key as $p | .value[] | [.parameters[]? | select(.in == "path") | .name] as $declared |
	  [$p | scan("\\{([^}]*)\\}") | .[0]] | all(. as $n | $declared | index($n))] | all' "$TMP/openapi.json"
expect_ne "query parameters documented" 0 "$(wc -l <"$TMP/query")"

t "every documented query parameter is accepted, route by route (each alone, then all at once)"
req_json POST /v1/properties '{"name":"qparam"}'
prev=
while read -r method path name type min first; do
	value=$(a_value "$name" "$type" "$min" "$first")
	[ "$name" = name ] && req_json POST /v1/properties '{"name":"qparam"}'
	call_documented "$method" "$(concrete "$method" "$path" | sed 's/?.*//')" "?$name=$value"
	[[ $STATUS == 2?? ]] || { fail "$method $path?$name=$value answered $STATUS"; note "$BODY"; }
	if [ "$prev" = "$method $path" ]; then
		all="$all&$name=$value"
	else
		[ -n "$prev" ] && echo "$prev ?${all#&}" >>"$TMP/query.all"
		all="&$name=$value"
	fi
	prev="$method $path"
done <"$TMP/query"
echo "$prev ?${all#&}" >>"$TMP/query.all"
while read -r method path query; do
	req_json POST /v1/properties '{"name":"qparam"}'
	call_documented "$method" "$(concrete "$method" "$path" | sed 's/?.*//')" "$query"
	[[ $STATUS == 2?? ]] || { fail "$method $path$query answered $STATUS"; note "$BODY"; }
done <"$TMP/query.all"

t "an undocumented query parameter is refused on every route: 400 bad_parameter naming it, nothing done"
req GET /v1/syncs
SYNCS_BEFORE=$(jqr .total)
n=0
while read -r method path; do
	url=$(concrete "$method" "$path" | sed 's/?.*//')
	[ "$method $path" = "POST /v1/invitations/{}/accept" ] && url=/v1/invitations/unknown/accept
	for extra in undocumented $(awk -v r="$method $path" '$1 " " $2 == r { print $3 "_" }' "$TMP/query"); do
		call_documented "$method" "$url" "?$extra=1"
		n=$((n + 1))
		if [ "$STATUS" != 400 ]; then
			fail "$method $url?$extra=1: expected 400, got $STATUS"
			note "$BODY"
			continue
		fi
		expect_jq "$method $url?$extra=1: code" .error.code bad_parameter
		expect_jq "$method $url?$extra=1: the parameter named" '.error.details[0].field' "$extra"
	done
done <"$TMP/documented"
expect_true "requests refused" "$n >= 27" <(echo null)
req GET /v1/syncs
expect_jq "no sync registered by a refused POST" .total "$SYNCS_BEFORE"

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

# The external checks need the npm packages of package.json (npm ci; make check installs them).
if [ -d node_modules/@seriousme/openapi-schema-validator ] && [ -d node_modules/openapi-typescript ]; then
	t "an external validator (@seriousme/openapi-schema-validator) finds the description valid OpenAPI 3.1"
	node tests/support/openapi_validate.mjs "$TMP/openapi.json" >"$TMP/validate.out" 2>&1 ||
		{ fail "the validator refused it"; note "$TMP/validate.out"; }

	t "the web UI's types (web/api.d.ts) are what openapi-typescript makes of it, and the UI type-checks against them"
	node_modules/.bin/openapi-typescript "$TMP/openapi.json" -o "$TMP/api.d.ts" >/dev/null 2>"$TMP/gen.err" ||
		{ fail "openapi-typescript failed"; note "$TMP/gen.err"; }
	diff -u web/api.d.ts "$TMP/api.d.ts" >"$TMP/types.diff" ||
		{ fail "web/api.d.ts is out of date: node_modules/.bin/openapi-typescript <(curl .../v1/openapi.json) -o web/api.d.ts"; note "$TMP/types.diff"; }
	node_modules/.bin/tsc -p web/tsconfig.json >"$TMP/tsc.out" 2>&1 ||
		{ fail "web/app.js does not type-check against the description"; note "$TMP/tsc.out"; }
else
	skip_unless_required "an external validator finds the description valid OpenAPI 3.1" "node_modules is missing (npm ci)"
	skip_unless_required "the web UI type-checks against the description" "node_modules is missing (npm ci)"
fi

t "every response of every operation is described, with a schema for each JSON body"
expect_true "no operation without responses" '[.paths[][] | .responses | length > 0] | all' "$TMP/openapi.json"
expect_true "every JSON body has a schema" \
	'[.paths[][] | .responses[] | select(.content) | .content["application/json"]? | select(.) | has("schema")] | all' "$TMP/openapi.json"
expect_true "the error schema and both security schemes" \
	'.components.schemas.Error and .components.securitySchemes.bearer and .components.securitySchemes.session' "$TMP/openapi.json"

t "GET /v1/roles names the roles and how to assign them"
req GET /v1/roles
expect_status 200
expect_jq "roles" '[.items[].name] | sort | join(",")' Administrator,Member
expect_true "each says how to assign it" '[.items[] | .howToAssign | length > 0] | all'

finish
