#!/usr/bin/env bash
# Requests that arrive together (SPEC §4, §5, §8): parallel pushes to one org
# (one sync at a time: one accepted, the others 409 naming it, no overlap,
# the last accepted input stored), parallel pushes to different orgs (all
# accepted, each org holding only its own members), and approve and reject
# racing on one Paused sync (one decision wins, the others 409 not_paused).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# BIG: the org pushed in parallel, large enough for its sync to outlast the
# other uploads (plain: 0.3-0.5 s of sync against about 0.1 s of upload each).
if [ "$SLOW" -gt 1 ]; then BIG=${E2E_BIG:-2000}; else BIG=${E2E_BIG:-20000}; fi
if [ "$SLOW" -gt 1 ]; then TENANT=${E2E_TENANT:-300}; else TENANT=${E2E_TENANT:-1500}; fi
PUSHES=${E2E_PUSHES:-8}
ORGS=${E2E_ORGS:-6}
ROUNDS=${E2E_ROUNDS:-5}
DECIDERS=${E2E_DECIDERS:-10} # approve requests, and as many reject requests, per round
# Several syncs of thousands of members queue behind each other here.
WAIT_SECS=$((WAIT_SECS * 3))

# The per-key rate limit would answer these bursts with 429.
start_server --rate-limit 0

# gen_org DIR MEMBERS SEED: a generated org, or the file stops (nothing to test without it).
gen_org() {
	if ! orgsync gen --members "$2" --seed "$3" --out "$1" >/dev/null 2>&1; then
		echo "not ok - $TEST_NAME: orgsync gen --members $2 --seed $3 failed"
		exit 1
	fi
}

# prefix_ids DIR PREFIX: puts PREFIX before every member and team id of DIR,
# so that orgs made by the same generator share no id. (A record may span
# lines, a quoted job title with a line break: only lines starting with an
# id are changed.)
prefix_ids() {
	sed -i -E "s/^(E[0-9]{7},)/$2\1/" "$1/members.csv"
	sed -i -E "s/^(T[0-9]{6},)/$2\1/" "$1/teams.csv"
	awk -F, -v OFS=, -v p="$2" 'NR > 1 { for (i = 1; i <= 3; i++) if ($i != "") $i = p $i } { print }' \
		"$1/teams-mappings.csv" >"$1/m.tmp" && mv "$1/m.tmp" "$1/teams-mappings.csv"
}

# email_of DIR ID: the email of member ID in DIR's members.csv (ids and emails are never quoted).
email_of() {
	grep -m1 "^$2," "$1/members.csv" | cut -d, -f2
}

# stored_members ORG_ID: members of the org in the database that are not deactivated.
stored_members() {
	db_query "SELECT count(*) FROM members WHERE org_id = $1 AND state <> 'deactivated'"
}

BG_PIDS=()
# bg_push OUT KEY DIR: POST /v1/syncs of DIR in the background (a process of
# its own, so that the uploads run side by side); OUT.code gets the status
# (000: no answer), OUT.body the body, OUT.err curl's complaint.
bg_push() {
	curl -sS --max-time $((120 * SLOW)) -o "$1.body" -w '%{http_code}' \
		-H "Authorization: Bearer $2" -F "members=@$3/members.csv" -F "teams=@$3/teams.csv" \
		-F "teamsMappings=@$3/teams-mappings.csv" "$BASE/v1/syncs" >"$1.code" 2>"$1.err" &
	BG_PIDS+=($!)
}

# bg_wait: waits for the background pushes only (a plain wait would wait for the server).
bg_wait() {
	local pid
	for pid in ${BG_PIDS[@]+"${BG_PIDS[@]}"}; do wait "$pid"; done
	BG_PIDS=()
}

# sync_times ID: "ID STATUS createdAt startedAt finishedAt" of a sync of the org of $KEY,
# the times (RFC 3339, UTC, milliseconds) in milliseconds since the epoch.
sync_times() {
	req GET "/v1/syncs/$1"
	jq -r 'def ms: if . == null then null
		else (.[0:19] + "Z" | fromdateiso8601) * 1000 + (.[20:23] | tonumber) end;
		"\(.id) \(.status) \(.createdAt | ms) \(.startedAt | ms) \(.finishedAt | ms)"' \
		"$BODY" 2>/dev/null || echo "$1 HTTP-$STATUS null null null"
}

# --- parallel pushes to one org -------------------------------------------------------

new_org acme
KEY=$ORG_KEY
ACME=$ORG_ID
ACME_KEY=$ORG_KEY
enable_api
no_risk_limits
req_json POST /v1/properties '{"name":"department"}'

# The org starts with BIG members; push i brings BIG + i members of seed i:
# every push updates the whole org (a long sync), and its member count names it.
gen_org "$TMP/base" "$BIG" 100
for ((i = 1; i <= PUSHES; i++)); do gen_org "$TMP/push$i" $((BIG + i)) "$i"; done

t "the org is loaded with $BIG members first"
sync_csv "$TMP/base"
expect_sync Success
expect_eq "stored members" "$BIG" "$(stored_members "$ACME")"

t "$PUSHES parallel pushes to one org: each answered 202 or 409, nothing else"
mkdir -p "$TMP/par"
for ((i = 1; i <= PUSHES; i++)); do bg_push "$TMP/par/$i" "$ACME_KEY" "$TMP/push$i"; done
bg_wait
ACCEPTED=() # "SYNC_ID PUSH_NUMBER" of each 202
REFUSED=() # the push number of each 409
for ((i = 1; i <= PUSHES; i++)); do
	code=$(cat "$TMP/par/$i.code" 2>/dev/null)
	case $code in
	202) ACCEPTED+=("$(jqr .id "$TMP/par/$i.body") $i") ;;
	409) REFUSED+=("$i") ;;
	*)
		fail "push $i: HTTP ${code:-000} ($(head -c 200 "$TMP/par/$i.err"))"
		note "$TMP/par/$i.body"
		;;
	esac
done
echo "# $PUSHES parallel pushes of $BIG+ members: ${#ACCEPTED[@]} accepted, ${#REFUSED[@]} refused with 409"
expect_eq "202 + 409" "$PUSHES" $((${#ACCEPTED[@]} + ${#REFUSED[@]}))
[ ${#ACCEPTED[@]} -ge 1 ] || fail "no push was accepted"
# Each sync lasts several times an upload: some pushes must have found one Pending.
[ ${#REFUSED[@]} -ge 1 ] || fail "no push was refused: the syncs never met"
ACCEPTED_IDS=" $(for a in ${ACCEPTED[@]+"${ACCEPTED[@]}"}; do echo "${a% *}"; done | sort -n | tr '\n' ' ')"

t "each 409 says sync_running and names one of the accepted syncs"
# One jq for all the answers: it takes tens of milliseconds to start.
if [ ${#REFUSED[@]} -gt 0 ]; then
	files=()
	for i in "${REFUSED[@]}"; do files+=("$TMP/par/$i.body"); done
	jq -r '[input_filename, .error.code, (.error.details[0].runningSyncId | tostring), .error.message] | @tsv' \
		"${files[@]}" >"$TMP/par/refusals" 2>&1 ||
		{ fail "a 409 answer is not JSON"; note "$TMP/par/refusals"; }
	while IFS=$'\t' read -r f code running message; do
		f=$(basename "$f" .body)
		expect_eq "push $f: code" sync_running "$code"
		[[ $ACCEPTED_IDS == *" $running "* ]] ||
			fail "push $f: names sync '$running', not one of the accepted:$ACCEPTED_IDS"
		expect_match "push $f: the message names sync $running" "(^|[^0-9])$running([^0-9]|\$)" "$message"
	done <"$TMP/par/refusals"
fi

t "the accepted syncs all end Success and never overlap in time"
: >"$TMP/par/times"
for id in $ACCEPTED_IDS; do
	wait_sync "$id"
	[ "$SYNC_STATUS" = Success ] || { fail "sync $id: $SYNC_STATUS"; note "$TMP/sync.json"; }
	sync_times "$id" >>"$TMP/par/times"
done
# Ordered by start, each sync starts after the previous one finished; and,
# since a push is refused while one is Pending, was created after it too
# (give or take 100 ms: a push reads the clock just before it looks for a
# Pending sync, the worker just before it records the end).
prev=
while read -r id status created started finished; do
	if [ "$started" = null ] || [ "$finished" = null ]; then
		fail "sync $id ($status): startedAt $started, finishedAt $finished"
		continue
	fi
	if [ -n "$prev" ]; then
		read -r pid _ _ _ pfinished <<<"$prev"
		[ "$started" -ge "$pfinished" ] ||
			fail "sync $id started at $started, before sync $pid finished at $pfinished"
		[ "$created" -ge $((pfinished - 100 * SLOW)) ] ||
			fail "sync $id was accepted at $created while sync $pid was Pending (until $pfinished)"
	fi
	prev="$id $status $created $started $finished"
done < <(sort -k4,4n "$TMP/par/times")

t "the stored org is the last accepted push"
last=$(printf '%s\n' ${ACCEPTED[@]+"${ACCEPTED[@]}"} | sort -n | tail -1)
LAST_ID=${last% *}
LAST_DIR=$TMP/push${last#* }
N_LAST=$((BIG + ${last#* }))
expect_eq "stored members (push ${last#* }, sync $LAST_ID)" "$N_LAST" "$(stored_members "$ACME")"
KEY=$ACME_KEY
for id in E0000001 "$(printf 'E%07d' $((BIG / 2)))" "$(printf 'E%07d' "$N_LAST")"; do
	req GET "/v1/members/$id"
	expect_status 200
	expect_jq "$id email" .email "$(email_of "$LAST_DIR" "$id")"
done
req GET "/v1/teams/T000002"
expect_status 200
expect_jq "T000002 name" .teamName "$(grep -m1 '^T000002,' "$LAST_DIR/teams.csv" | cut -d, -f2-)"

# --- parallel pushes to different orgs ---------------------------------------------------

ORG_IDS=()
ORG_KEYS=()
for ((o = 1; o <= ORGS; o++)); do
	new_org "tenant$o"
	ORG_IDS+=("$ORG_ID")
	ORG_KEYS+=("$ORG_KEY")
	KEY=$ORG_KEY
	enable_api
	req_json POST /v1/properties '{"name":"department"}'
	# Sizes differ too: an org with another's members would show in its count.
	gen_org "$TMP/tenant$o" $((TENANT + 100 * o)) $((200 + o))
	prefix_ids "$TMP/tenant$o" "X$o-"
done

t "$ORGS orgs pushed at once, each with its own key: all 202"
mkdir -p "$TMP/ten"
for ((o = 1; o <= ORGS; o++)); do bg_push "$TMP/ten/$o" "${ORG_KEYS[o - 1]}" "$TMP/tenant$o"; done
bg_wait
TENANT_SYNC=()
for ((o = 1; o <= ORGS; o++)); do
	code=$(cat "$TMP/ten/$o.code" 2>/dev/null)
	if [ "$code" != 202 ]; then
		fail "org $o: HTTP ${code:-000} ($(head -c 200 "$TMP/ten/$o.err"))"
		note "$TMP/ten/$o.body"
	fi
	TENANT_SYNC+=("$(jqr .id "$TMP/ten/$o.body")")
done

t "the $ORGS syncs all end Success"
for ((o = 1; o <= ORGS; o++)); do
	KEY=${ORG_KEYS[o - 1]}
	wait_sync "${TENANT_SYNC[o - 1]}"
	[ "$SYNC_STATUS" = Success ] || { fail "org $o, sync ${TENANT_SYNC[o - 1]}: $SYNC_STATUS"; note "$TMP/sync.json"; }
done

t "each org lists exactly its own members and teams, none of another org's"
for ((o = 1; o <= ORGS; o++)); do
	KEY=${ORG_KEYS[o - 1]}
	list_all "/v1/members?limit=500" "$TMP/ten/members$o"
	jq -r '.externalMemberId' "$TMP/ten/members$o" >"$TMP/ten/listed$o"
	sort "$TMP/ten/listed$o" >"$TMP/ten/listed$o.sorted"
	grep -oE "^X$o-E[0-9]{7}" "$TMP/tenant$o/members.csv" | sort >"$TMP/ten/own$o"
	expect_eq "org $o: members listed" "$(wc -l <"$TMP/ten/own$o")" "$(wc -l <"$TMP/ten/listed$o")"
	foreign=$(grep -cv "^X$o-" "$TMP/ten/listed$o")
	expect_eq "org $o: members listed with another org's prefix" 0 "$foreign"
	cmp -s "$TMP/ten/own$o" "$TMP/ten/listed$o.sorted" || fail "org $o: the listed ids differ from its own"
	list_all /v1/teams "$TMP/ten/teams$o"
	expect_eq "org $o: teams" "$(grep -cE "^X$o-T[0-9]{6}," "$TMP/tenant$o/teams.csv")" \
		"$(wc -l <"$TMP/ten/teams$o" | tr -d ' ')"
	expect_eq "org $o: teams with another org's prefix" 0 \
		"$(jq -s "[.[].externalTeamId | select(startswith(\"X$o-\") | not)] | length" "$TMP/ten/teams$o")"
	expect_eq "org $o: stored members" "$(wc -l <"$TMP/ten/own$o")" "$(stored_members "${ORG_IDS[o - 1]}")"
done

t "an org's key cannot read another org's member or sync: sync ids are the org's own"
KEY=$ACME_KEY
req GET /v1/members/X1-E0000001
expect_status 404
KEY=${ORG_KEYS[0]}
req GET /v1/members/E0000001
expect_status 404
req GET /v1/members/X1-E0000001
expect_status 200
expect_eq "org 1's sync is its first" 1 "${TENANT_SYNC[0]}"
req GET "/v1/syncs/$LAST_ID"
expect_status 404 # acme's sync $LAST_ID: org 1 has one sync only
req GET "/v1/syncs/${TENANT_SYNC[0]}/plan?type=member&limit=500"
expect_status 200
expect_jq "org 1's sync 1 plans org 1's members only" \
	'[.items[].externalMemberId | select(startswith("X1-") | not)] | length' 0
KEY=$ACME_KEY
req GET /v1/syncs/1/plan?type=member
expect_jq "acme's sync 1 plans acme's members only" \
	'[.items[].externalMemberId | select(startswith("X") and contains("-"))] | length' 0

# --- approve and reject racing on one Paused sync ----------------------------------------

new_org race
KEY=$ORG_KEY
RACE_ORG=$ORG_ID
enable_api
# Over 2 members removed pauses a sync: each round removes 3.
req_json PATCH /v1/settings '{"riskThreshold":{"members":{"percent":null,"count":2}}}'
CUR=$TMP/cur
fx_new "$CUR"
fx_people "$CUR" 100 P

t "the race org starts with 100 members"
sync_csv "$CUR"
expect_sync Success
expect_eq "stored members" 100 "$(stored_members "$RACE_ORG")"

# race ID: DECIDERS approve and DECIDERS reject requests on sync ID, sent at
# once by one curl on as many connections, in a shuffled order (the first
# one sent tends to win); $TMP/race/codes gets "NAME STATUS" lines
# (approve3 409), $TMP/race/NAME.body each answer.
race() {
	local args=() name
	rm -rf "$TMP/race"
	mkdir -p "$TMP/race"
	for name in $( (seq -f 'approve%.0f' "$DECIDERS"; seq -f 'reject%.0f' "$DECIDERS") | shuf); do
		[ ${#args[@]} -gt 0 ] && args+=(--next)
		args+=(-sS --max-time $((60 * SLOW)) -X POST -H "Authorization: Bearer $KEY"
			-o "$TMP/race/$name.body" -w "$name %{http_code}\n" "$BASE/v1/syncs/$1/${name%%[0-9]*}")
	done
	curl --no-progress-meter -sS --parallel --parallel-immediate --parallel-max $((2 * DECIDERS)) "${args[@]}" \
		>"$TMP/race/codes" 2>"$TMP/race/err"
}

APPROVED=0
REJECTED=0
for ((round = 1; round <= ROUNDS; round++)); do
	gone=()
	for ((k = 3 * round - 2; k <= 3 * round; k++)); do gone+=("$(printf 'P%03d' "$k")"); done
	t "round $round: ${gone[*]} removed → Paused"
	fx_copy "$CUR" "$TMP/next"
	for id in "${gone[@]}"; do fx_drop "$TMP/next" members.csv "^$id,"; done
	before=$(stored_members "$RACE_ORG")
	sync_csv "$TMP/next"
	expect_sync Paused
	[ "$SYNC_STATUS" = Paused ] || continue
	PAUSED=$SYNC

	t "round $round: $DECIDERS approve and $DECIDERS reject at once: one wins, the others 409 not_paused"
	race "$PAUSED"
	winners=$(awk '$2 ~ /^2/' "$TMP/race/codes")
	nwin=$(grep -c . <<<"$winners")
	expect_eq "answers" $((2 * DECIDERS)) "$(wc -l <"$TMP/race/codes")"
	[ "$nwin" -eq 1 ] || fail "winning answers (2xx): $nwin: $(tr '\n' ' ' <<<"$winners")"
	# The losers' answers, all read by one jq.
	losers=$(awk '$2 == 409 { printf "%s/%s.body ", dir, $1 }' dir="$TMP/race" "$TMP/race/codes")
	others=$(awk '$2 != 409 && $2 !~ /^2/' "$TMP/race/codes")
	[ -z "$others" ] || { fail "answers neither 2xx nor 409: $(tr '\n' ' ' <<<"$others")"; }
	if [ -n "$losers" ]; then
		# shellcheck disable=SC2086
		codes=$(jq -r '.error.code' $losers 2>&1 | sort | uniq -c | sed 's/^ *//')
		expect_eq "the 409s' codes" "$(($(wc -l <"$TMP/race/codes") - 1)) not_paused" "$codes"
	fi
	[ -s "$TMP/race/err" ] && { fail "curl: $(head -c 300 "$TMP/race/err")"; }
	# Several winners: already failed, and the org's state says nothing more.
	[ "$nwin" -le 1 ] || continue
	winner=${winners%% *}

	case $winner in
	approve*)
		APPROVED=$((APPROVED + 1))
		t "round $round: approve won: 202 Pending, then Success with the 3 members removed"
		expect_eq "winner's status" 202 "${winners#* }"
		# Success already, if the worker took it between the answer's two steps.
		expect_match "winner's answer" '^(Pending|Success)$' "$(jqr .status "$TMP/race/$winner.body")"
		wait_sync "$PAUSED"
		expect_sync Success
		expect_count "deleted" .counts.members.deleted 3
		expect_eq "stored members" $((before - 3)) "$(stored_members "$RACE_ORG")"
		for id in "${gone[@]}"; do
			req GET "/v1/members/$id"
			expect_status 404
		done
		fx_copy "$TMP/next" "$CUR"
		;;
	reject*)
		REJECTED=$((REJECTED + 1))
		t "round $round: reject won: 200 Rejected, the org unchanged"
		expect_eq "winner's status" 200 "${winners#* }"
		expect_jq "winner's answer" .status Rejected "$TMP/race/$winner.body"
		sleep 0.2 # an approval slipped in would have started to apply by now
		req GET "/v1/syncs/$PAUSED"
		expect_jq "status" .status Rejected
		expect_eq "stored members" "$before" "$(stored_members "$RACE_ORG")"
		for id in "${gone[@]}"; do
			req GET "/v1/members/$id"
			expect_status 200
		done
		;;
	*)
		fail "no winner"
		cat "$TMP/race/codes" >>"$TMP/case.log"
		;;
	esac
done
echo "# approve/reject races: $APPROVED won by approve, $REJECTED by reject, over $ROUNDS rounds"

t "after the races the org holds 100 minus 3 per approval; the server logged no database error"
expect_eq "stored members" $((100 - 3 * APPROVED)) "$(stored_members "$RACE_ORG")"
expect_eq "database errors logged" 0 "$(grep -c '"error":"database"' "$TMP/server.err")"

finish
