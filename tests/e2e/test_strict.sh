#!/usr/bin/env bash
# The API is strict (SPEC §6): an unknown query parameter or an invalid
# value answers 400 naming the parameter, before anything is done (a
# misspelt dryRun must not apply a real sync); limit is 1..500 and lists
# carry next links and totals; a request whose framing is ambiguous (two
# Authorization headers, Content-Length with Transfer-Encoding) is refused
# and its connection closed; a multipart body has the parts of a sync, each
# once; path segments are decoded once, after the split, so that ids may
# hold '/', '%', '?', spaces and any UTF-8.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# Raw requests go over bash's /dev/tcp: curl would not send some of them.
trap '' PIPE

# raw() waits 2 s a line (40 s under valgrind) to see whether a connection
# stays open: the idle connection must outlive that wait, so the header
# deadline (which also closes idle keep-alive connections) and the silence
# timeout are set past it.
start_server --header-timeout $((30 * SLOW)) --timeout $((30 * SLOW))
new_org acme
KEY=$ORG_KEY
enable_api
no_risk_limits

# expect_refused PARAM: the last answer is 400 bad_parameter naming PARAM first.
expect_refused() {
	expect_status 400
	expect_jq "error code" .error.code bad_parameter
	expect_jq "the parameter named" '.error.details[0].field' "$1"
	expect_match "the message names it" "$1" "$(jqr .error.message)"
}

# urlencode TEXT: TEXT percent-encoded as one path segment or query value
# (dots too: a client would remove a segment "..").
urlencode() {
	jq -rn --arg v "$1" '$v | @uri | gsub("\\."; "%2E")'
}

# raw REQUEST: sends REQUEST (a printf format) on a new connection and reads
# what comes back until the server closes the connection, or 2 s of
# silence; RAW gets the bytes, RAW_CLOSED 1 when the server closed it.
raw() {
	local fd line rc
	RAW=
	RAW_CLOSED=0
	if ! exec {fd}<>"/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; then
		RAW="(could not connect)"
		return 1
	fi
	# shellcheck disable=SC2059
	printf "$1" >&"$fd" 2>/dev/null
	while :; do
		line=
		IFS= read -r -t $((2 * SLOW)) line <&"$fd"
		rc=$?
		RAW+=$line
		if [ "$rc" -eq 0 ]; then
			RAW+=$'\n'
		else
			[ "$rc" -le 128 ] && RAW_CLOSED=1
			break
		fi
	done
	exec {fd}>&-
}

# raw_status: the status of the first response in RAW.
raw_status() {
	sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' <<<"$RAW" | tr -d '\r'
}

# raw_responses: how many responses RAW holds.
raw_responses() {
	grep -c '^HTTP/1\.[01] [0-9]' <<<"$RAW"
}

# raw_body: the JSON body of the first response in RAW.
raw_body() {
	sed -n '/^\r\{0,1\}$/,$p' <<<"$RAW" | sed 1d >"$TMP/raw.json"
	echo "$TMP/raw.json"
}

CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 5
fx_team "$CUR" T1 Everyone
fx_in "$CUR" T1 M001
sync_csv "$CUR"
FIRST=$SYNC
list_all /v1/members "$TMP/members.before"

# A push that, applied, would delete four members of five.
SMALL=$TMP/small
fx_new "$SMALL"
fx_people "$SMALL" 1
fx_team "$SMALL" T1 Everyone

t "setup: the org has five members and one sync"
expect_sync Success
expect_eq "members" 5 "$(wc -l <"$TMP/members.before" | tr -d ' ')"

t "POST /v1/syncs with a dryRun that is not true or false, or misspelt: 400, no sync, members unchanged"
req GET /v1/syncs
SYNCS_BEFORE=$(jqr .total)
for q in 'dryRun=tru' 'dryRun=on' 'dryRun=1' 'dryRun=yes' 'dryRun=TRUE' 'dryRun=' 'dryRun' \
	'dryRun=true&dryRun=true' 'dryRun=false&dryRun=true'; do
	push_csv "$SMALL" "?$q"
	expect_refused dryRun
done
for q in 'dry_run=true' 'dryrun=true' 'DryRun=true' 'dryRun%20=true'; do
	push_csv "$SMALL" "?$q"
	expect_status 400
	expect_jq "?$q: error code" .error.code bad_parameter
	expect_jq "?$q: names what was sent" '.error.details[0].field' "$(sed 's/=.*//; s/%20/ /' <<<"$q")"
	expect_match "?$q: says what the route takes" 'mode, dryRun' "$(jqr .error.message)"
done
push_csv "$SMALL" '?dryRun=true&mode=sideways'
expect_refused mode
req GET /v1/syncs
expect_jq "no sync registered" .total "$SYNCS_BEFORE"
expect_jq "the newest sync is still the first" '.items[0].id' "$FIRST"
list_all /v1/members "$TMP/members.after"
cmp -s "$TMP/members.before" "$TMP/members.after" || fail "the members changed"
expect_eq "members" 5 "$(wc -l <"$TMP/members.after" | tr -d ' ')"

t "POST /v1/syncs?dryRun=true plans without applying; dryRun=false applies"
sync_csv "$SMALL" '?dryRun=true'
expect_sync Success
expect_count "dry run" .dryRun true
expect_count "would delete four" .counts.members.deleted 4
expect_eq "members after the dry run" 5 "$(member_count)"
sync_csv "$CUR" '?dryRun=false&mode=full'
expect_sync Success
expect_count "not a dry run" .dryRun false

t "integers are digits only, within their range: limit 1..500, offset from 0"
for limit in 0 501 1000 -1 +5 10abc ' 5' 5.0 0x10 1e2 99999999999999999999 ''; do
	req GET "/v1/members?limit=$(urlencode "$limit")"
	expect_refused limit
	expect_match "limit=$limit: says what it accepts" 'from 1 to 500' "$(jqr .error.message)"
done
req GET '/v1/members?limit=5&limit=5'
expect_refused limit
expect_match "twice: says so" 'twice' "$(jqr .error.message)"
for offset in -1 abc 1.5 ''; do
	req GET "/v1/members?offset=$offset"
	expect_refused offset
done
for path in /v1/syncs /v1/teams; do
	req GET "$path?limit=0"
	expect_refused limit
	req GET "$path?limit=501"
	expect_refused limit
done
req GET '/v1/members?limit=500'
expect_status 200
req GET '/v1/members?limit=1&offset=0'
expect_status 200
expect_jq "limit 1" '.items | length' 1

t "a sync id in a path is digits only: a sign, a space, a fraction or trailing bytes find no sync"
req GET /v1/syncs/1
expect_status 200
for id in +1 %201 1%20 1abc 1.0 0x1 1e0 -1 0 99999999999999999999; do
	req GET "/v1/syncs/$id"
	expect_status 404
	expect_jq "$id: no such sync" .error.code not_found
done

t "cursors and enums are checked: before, state, mode, format"
for before in 0 -3 abc ''; do
	req GET "/v1/syncs?before=$before"
	expect_refused before
done
for state in Active ACTIVE gone ''; do
	req GET "/v1/members?state=$state"
	expect_refused state
	[ -n "$state" ] && expect_match "state: lists the states" 'created, invited, active, deactivated' "$(jqr .error.message)"
done
req GET "/v1/syncs/$FIRST/report?format=xml"
expect_refused format
req GET "/v1/syncs/$FIRST/report?format=csv"
expect_status 200
expect_match "format=csv" '^text/csv' "$(header Content-Type)"

t "a refusal names every parameter at fault, in the error shape of SPEC §6"
req GET '/v1/members?limit=0&offset=x&colour=blue&state=active'
expect_status 400
expect_jq "fields" '[.error.details[].field] | join(",")' limit,offset,colour
expect_true "shape" '.error | (.code == "bad_parameter") and (.message | type) == "string" and
	(.details | all(has("field") and has("message")))'

t "routes without query parameters refuse any"
for path in /healthz /metrics /v1/openapi.json /v1/settings /v1/roles /v1/properties "/v1/syncs/$FIRST" \
	/v1/members/M001 /v1/members/M001/visible-teams /v1/teams/T1; do
	req GET "$path?verbose=true"
	expect_refused verbose
	expect_match "$path: says it takes none" 'takes no query parameters' "$(jqr .error.message)"
done
req POST "/v1/syncs/$FIRST/approve?force=true"
expect_refused force
OUTBOX=$(db_query 'SELECT count(*) FROM outbox')
req POST /v1/members/M002/invite?resend=true
expect_refused resend
expect_eq "no invitation queued" "$OUTBOX" "$(db_query 'SELECT count(*) FROM outbox')"

t "a required parameter: DELETE /v1/properties without name answers 400 naming it"
req DELETE /v1/properties
expect_refused name
expect_match "says it is required" required "$(jqr .error.message)"

t "GET /v1/members: the next links, followed to the end, give every member exactly once"
BIG=$TMP/big
fx_new "$BIG"
fx_people "$BIG" 1234
fx_team "$BIG" T1 Everyone
fx_team "$BIG" T2 Odd
for ((i = 1; i <= 1234; i += 2)); do fx_in "$BIG" T2 "$(printf 'M%03d' "$i")"; done
sync_csv "$BIG"
expect_sync Success
list_all '/v1/members?limit=100' "$TMP/big.listed"
expect_eq "pages" 13 "$LIST_PAGES"
expect_eq "members" 1234 "$(wc -l <"$TMP/big.listed" | tr -d ' ')"
expect_eq "each once" 1234 "$(jq -r .externalMemberId "$TMP/big.listed" | sort -u | wc -l | tr -d ' ')"
cut -d, -f1 "$BIG/members.csv" | sed 1d | sort >"$TMP/big.own"
jq -r .externalMemberId "$TMP/big.listed" | sort >"$TMP/big.ids"
cmp -s "$TMP/big.own" "$TMP/big.ids" || fail "the members listed are not the org's"
req GET '/v1/members?limit=100'
expect_jq "total" .total 1234
expect_jq "next" .next '/v1/members?limit=100&offset=100'
req GET '/v1/members?limit=100&offset=1200'
expect_jq "the last page" '.items | length' 34
expect_jq "has no next" .next null

t "GET /v1/members: next links keep the filters"
list_all '/v1/members?team=T2&state=created&limit=50' "$TMP/odd.listed"
expect_eq "members of T2" 617 "$(wc -l <"$TMP/odd.listed" | tr -d ' ')"
expect_eq "each once" 617 "$(jq -r .externalMemberId "$TMP/odd.listed" | sort -u | wc -l | tr -d ' ')"
expect_eq "pages" 13 "$LIST_PAGES"
req GET '/v1/members?team=T2&state=created&limit=50'
expect_jq "next" .next '/v1/members?state=created&team=T2&limit=50&offset=50'
expect_jq "total" .total 617

t "GET /v1/syncs: next links, followed to the end, give every sync once, newest first"
for i in 1 2 3 4 5; do
	sync_csv "$BIG" '?dryRun=true'
done
req GET /v1/syncs
TOTAL=$(jqr .total)
list_all '/v1/syncs?limit=3' "$TMP/syncs.listed"
expect_eq "syncs" "$TOTAL" "$(wc -l <"$TMP/syncs.listed" | tr -d ' ')"
expect_eq "pages" "$(((TOTAL + 2) / 3))" "$LIST_PAGES"
expect_eq "newest first, each once" "$(jq -r .id "$TMP/syncs.listed" | sort -rn | uniq | tr '\n' ' ')" \
	"$(jq -r .id "$TMP/syncs.listed" | tr '\n' ' ')"
jq -s . "$TMP/syncs.listed" >"$TMP/syncs.array"
expect_true "times are RFC 3339, UTC" \
	'all(.[]; [.createdAt, .startedAt, .finishedAt] | all(test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$")))' \
	"$TMP/syncs.array"

t "a well-formed raw request is answered and its connection kept (the control of the cases below)"
raw "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
expect_eq "status" 200 "$(raw_status)"
expect_eq "connection kept" 0 "$RAW_CLOSED"

t "a small body refused from its headers (a wrong key) is read first: 401, and the connection kept"
raw "POST /v1/properties HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer osk_wrong\r\nContent-Type: application/json\r\nContent-Length: 18\r\n\r\n{\"name\":\"held1\"}  "
expect_eq "status" 401 "$(raw_status)"
expect_eq "connection kept (the body was read, nothing left to reset it)" 0 "$RAW_CLOSED"
expect_eq "one response only" 1 "$(raw_responses)"

t "two Authorization headers: 400 as JSON, and the connection closed"
raw "GET /v1/settings HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $KEY\r\nAuthorization: Bearer $KEY\r\n\r\n"
expect_eq "status" 400 "$(raw_status)"
expect_jq "error code" .error.code bad_request "$(raw_body)"
expect_match "names the header" Authorization "$(jqr .error.message "$TMP/raw.json")"
expect_match "Connection: close" $'Connection: close\r' "$RAW"
expect_eq "connection closed" 1 "$RAW_CLOSED"
raw "GET /healthz HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer a\r\nauthorization: Bearer b\r\n\r\n"
expect_eq "on an open route too, in any case" 400 "$(raw_status)"

t "Content-Length with Transfer-Encoding: 400 as JSON, connection closed, the rest never read as a request"
body='0\r\n\r\nGET /v1/settings HTTP/1.1\r\nHost: localhost\r\n\r\n'
raw "POST /v1/properties HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $KEY\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n$body"
expect_eq "status" 400 "$(raw_status)"
expect_jq "error code" .error.code bad_request "$(raw_body)"
expect_match "names both headers" 'Content-Length and Transfer-Encoding' "$(jqr .error.message "$TMP/raw.json")"
expect_eq "connection closed" 1 "$RAW_CLOSED"
expect_eq "one response only" 1 "$(raw_responses)"

t "two Content-Length headers, or a transfer coding other than chunked: 400, connection closed"
raw "POST /v1/properties HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $KEY\r\nContent-Type: application/json\r\nContent-Length: 2\r\nContent-Length: 14\r\n\r\n{}"
expect_eq "status" 400 "$(raw_status)"
expect_eq "connection closed" 1 "$RAW_CLOSED"
raw "POST /v1/properties HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer $KEY\r\nTransfer-Encoding: gzip\r\n\r\n"
expect_eq "status" 400 "$(raw_status)"
expect_match "says what is read" 'only Transfer-Encoding read is chunked' "$(jqr .error.message "$(raw_body)")"
expect_eq "connection closed" 1 "$RAW_CLOSED"
req GET /v1/properties
expect_jq "no property was added" '.items | length' 0

t "multipart: a part other than members, teams, teamsMappings: 400 naming it, no sync"
req GET /v1/syncs
SYNCS_BEFORE=$(jqr .total)
req POST '/v1/syncs' -F "members=@$SMALL/members.csv" -F "teams=@$SMALL/teams.csv" \
	-F "teamsMapping=@$SMALL/teams-mappings.csv"
expect_status 400
expect_jq "error code" .error.code bad_multipart
expect_match "names the part" "'teamsMapping'" "$(jqr .error.message)"
expect_match "says what is expected" 'expected members, teams, teamsMappings' "$(jqr .error.message)"
req POST '/v1/syncs' -F "members=@$SMALL/members.csv" -F "teams=@$SMALL/teams.csv" \
	-F "teamsMappings=@$SMALL/teams-mappings.csv" -F "notes=hello"
expect_status 400
expect_match "an extra part" "'notes'" "$(jqr .error.message)"
req GET /v1/syncs
expect_jq "no sync registered" .total "$SYNCS_BEFORE"

t "multipart: a part sent twice: 400 naming it, no sync (the two are not joined)"
HALF=$TMP/half
fx_new "$HALF"
fx_member "$HALF" M002 m002@acme.example
for dup in members teams teamsMappings; do
	case $dup in
	members) file=$HALF/members.csv ;;
	teams) file=$SMALL/teams.csv ;;
	teamsMappings) file=$SMALL/teams-mappings.csv ;;
	esac
	req POST '/v1/syncs' -F "members=@$SMALL/members.csv" -F "teams=@$SMALL/teams.csv" \
		-F "teamsMappings=@$SMALL/teams-mappings.csv" -F "$dup=@$file"
	expect_status 400
	expect_jq "$dup twice: error code" .error.code bad_multipart
	expect_match "$dup twice: names it" "part $dup is sent twice" "$(jqr .error.message)"
done
printf 'externalMemberId,email\n' >"$TMP/header-only.csv"
req POST '/v1/syncs' -F "members=@$TMP/header-only.csv" -F "members=@$SMALL/members.csv" \
	-F "teams=@$SMALL/teams.csv" -F "teamsMappings=@$SMALL/teams-mappings.csv"
expect_status 400
expect_match "members twice, the first header-only" 'part members is sent twice' "$(jqr .error.message)"
req GET /v1/syncs
expect_jq "no sync registered" .total "$SYNCS_BEFORE"
expect_eq "members unchanged" 1234 "$(member_count)"

# --- ids with reserved and non-ASCII characters --------------------------------------

ODD_MEMBERS=('a/b' '100%' 'what?' 'with space' 'é日本' 'a+b' 'M001/visible-teams' '#frag' 'semi;colon' '..')
ODD_TEAMS=('T/1' 'T 2' 'T?3' 'Ünïcødé')
jq -n --args '{
	members: [$ARGS.positional | to_entries[] | {externalMemberId: .value, email: "odd\(.key)@acme.example"}],
	teams: [{externalTeamId: "T/1", teamName: "Slash"}, {externalTeamId: "T 2", teamName: "Space"},
		{externalTeamId: "T?3", teamName: "Question"}, {externalTeamId: "Ünïcødé", teamName: "Unicode"}],
	teamMappings: [
		{externalTeamId: "T/1", externalMemberId: "a/b", isMember: true, isManager: true},
		{externalTeamId: "T/1", externalSubteamId: "T 2"},
		{externalTeamId: "T 2", externalMemberId: "100%", isMember: true, isManager: false},
		{externalTeamId: "T?3", externalMemberId: "what?", isMember: true, isManager: false},
		{externalTeamId: "Ünïcødé", externalMemberId: "é日本", isMember: true, isManager: false}]
	}' "${ODD_MEMBERS[@]}" >"$TMP/odd.json"

t "setup: an org whose ids hold '/', '%', '?', '#', ';', spaces and non-ASCII"
sync_json "$TMP/odd.json" '?mode=partial'
expect_sync Success
expect_count "members" .counts.members.created "${#ODD_MEMBERS[@]}"

t "GET /v1/members/{id}: each segment decoded once, after the split: a%2Fb is member a/b"
for id in "${ODD_MEMBERS[@]}"; do
	req GET "/v1/members/$(urlencode "$id")"
	expect_status 200
	expect_jq "member '$id'" .externalMemberId "$id"
done
req GET /v1/members/a%2fb
expect_jq "lower-case escape" .externalMemberId a/b
req GET /v1/members/a/b
expect_status 404
expect_jq "a/b unescaped is another path" .error.code not_found
req GET /v1/members/M001%2Fvisible-teams
expect_jq "an id that looks like a route" .externalMemberId M001/visible-teams
req GET /v1/members/a+b
expect_jq "'+' in a path is a plus" .externalMemberId a+b

t "visible-teams and invite find such members; teams and the team filter find such teams"
req GET /v1/members/a%2Fb/visible-teams
expect_status 200
expect_jq "a/b manages T/1 and sees T 2" '[.items[].externalTeamId] | sort | join(",")' 'T 2,T/1'
req POST /v1/members/with%20space/invite
expect_status 202
expect_jq "invited" .externalMemberId 'with space'
for id in "${ODD_TEAMS[@]}"; do
	req GET "/v1/teams/$(urlencode "$id")"
	expect_status 200
	expect_jq "team '$id'" .externalTeamId "$id"
done
req GET /v1/teams/T%2F1
expect_jq "T/1's subteam" '.subteams[0].externalTeamId' 'T 2'
req GET "/v1/members?team=$(urlencode 'T?3')"
expect_jq "members of T?3" '[.items[].externalMemberId] | join(",")' 'what?'
req GET "/v1/members?team=T+2"
expect_jq "'+' in a query is a space" '[.items[].externalMemberId] | join(",")' '100%'
list_all "/v1/members?team=$(urlencode 'Ünïcødé')&limit=1"
expect_eq "next links keep an encoded filter" 'é日本' "$(jq -r .externalMemberId "$TMP/list.all")"

t "DELETE /v1/properties/{name} decodes the name once"
req_json POST /v1/properties '{"name":"cost/center"}'
expect_status 201
req DELETE /v1/properties/cost%2Fcenter
expect_status 204
req GET /v1/properties
expect_jq "deleted" '.items | length' 0

t "a %00, a broken escape or invalid UTF-8 in a path segment: 400 bad_path naming the parameter"
for seg in a%00b %00 %zz 100% %4 %ff %c0%af %ed%a0%80; do
	req GET "/v1/members/$seg"
	expect_status 400
	expect_jq "$seg: error code" .error.code bad_path
	expect_jq "$seg: names the parameter" '.error.details[0].field' externalMemberId
done
req GET /v1/teams/%00/
expect_status 404
req GET /v1/syncs/%ff/report
expect_jq "names the sync id" '.error.details[0].field' id
req GET /v1/%ff/members
expect_status 404
req GET "/v1/members?team=a%00b"
expect_refused team

finish
