#!/usr/bin/env bash
# One sync per org at a time, on an org large enough for a sync to stay
# Pending a while (SPEC §4, §5, §8): Pending seen from outside, 409 while
# Pending, idempotence at scale, approval only of a Paused sync, and a
# sync interrupted by a crash taken up again once its lease ran out and
# finished exactly once.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

# Under a slow wrapper (valgrind) a smaller org keeps the file bearable.
if [ "$SLOW" -gt 1 ]; then BIG=${E2E_BIG:-5000}; else BIG=${E2E_BIG:-50000}; fi

# A short lease: a sync whose server was killed is taken up again after it.
LEASE_MS=2000
start_server --sync-lease-ms "$LEASE_MS"
new_org acme
KEY=$ORG_KEY
ORG_A=$ORG_ID
enable_api
req_json POST /v1/properties '{"name":"department"}'

G=$TMP/big
orgsync gen --members "$BIG" --out "$G" >/dev/null 2>&1 || {
	echo "not ok - $TEST_NAME: orgsync gen failed"
	exit 1
}
SMALL=$TMP/small
fx_new "$SMALL"
fx_member "$SMALL" S1 s1@acme.example

stored_members() {
	db_query "SELECT count(*) FROM members WHERE org_id = $ORG_A"
}

# attempt DIR: pushes DIR, then at once a small sync of the same org, then
# reads the first one back. BIG_ID, BIG_STATUS ($TMP/big.json), SECOND_ID,
# SECOND_STATUS ($TMP/second.json) and BIG_AFTER (the first one's status
# after the second push was answered).
attempt() {
	push_csv "$1"
	BIG_STATUS=$STATUS
	BIG_ID=$SYNC
	cp "$BODY" "$TMP/big.json"
	push_csv "$SMALL" '?mode=partial'
	SECOND_STATUS=$STATUS
	SECOND_ID=$SYNC
	cp "$BODY" "$TMP/second.json"
	req GET "/v1/syncs/$BIG_ID"
	BIG_AFTER=$(sed -n 's/.*"status":"\([A-Za-z]*\)".*/\1/p' "$BODY")
}

t "a sync is Pending right after POST: 202, status Pending, Location"
attempt "$G"
FIRST=$BIG_ID
expect_eq "POST status" 202 "$BIG_STATUS"
expect_jq "POST answer" .status Pending "$TMP/big.json"
expect_jq "startedAt" .startedAt null "$TMP/big.json"

t "a second sync while one is Pending: 409 sync_running naming it"
# The second push races with the end of the first: a 409 settles it, a 202
# while the first is still Pending is a failure, a 202 after it ended says
# nothing (the first ended too soon): then try again with the same input.
settled=
for try in 1 2 3 4; do
	[ "$try" -gt 1 ] && attempt "$G"
	if [ "$SECOND_STATUS" = 409 ]; then
		settled=1
		expect_jq "code" .error.code sync_running "$TMP/second.json"
		expect_match "message names the running sync" "(^|[^0-9])$BIG_ID([^0-9]|$)" \
			"$(jqr .error.message "$TMP/second.json")"
		expect_jq "details" '.error.details[0].runningSyncId' "$BIG_ID" "$TMP/second.json"
		break
	fi
	if [ "$SECOND_STATUS" = 202 ] && [ "$BIG_AFTER" = Pending ]; then
		settled=1
		fail "second sync accepted (202, sync $SECOND_ID) while sync $BIG_ID was still Pending"
	fi
	[ -n "$SECOND_ID" ] && wait_sync "$SECOND_ID"
	wait_sync "$BIG_ID"
	[ -n "$settled" ] && break
done
[ -n "$settled" ] || fail "the first sync always ended before the second push (answer: $SECOND_STATUS)"
wait_sync "$BIG_ID"

t "the big sync ends Success with every member created"
wait_sync "$FIRST"
expect_sync Success
expect_count "created" .counts.members.created "$BIG"
expect_eq "stored members" "$BIG" "$(stored_members)"

t "once it ended, the next sync is accepted; the same big input changes nothing"
sync_csv "$G"
expect_sync Success
expect_count "unchanged" .counts.members.unchanged "$BIG"
expect_count "member changes" \
	'.counts.members | [.created, .updated, .reactivated, .deactivated, .deleted, .rekeyed] | add' 0
expect_count "team changes" '.counts.teams | [.created, .renamed, .deleted] | add' 0
expect_count "mapping changes" '.counts.mappings | [.added, .removed, .changed] | add' 0

t "approve of a Pending sync is refused (409) and does not approve it in advance"
# 12 % of the members absent: over the default 10 %, so the sync must pause.
R=$TMP/risky
mkdir -p "$R"
head -n $((BIG * 88 / 100 + 1)) "$G/members.csv" >"$R/members.csv"
cp "$G/teams.csv" "$G/teams-mappings.csv" "$R/"
push_csv "$R"
expect_status 202
RISKY=$SYNC
req POST "/v1/syncs/$RISKY/approve"
if [ "$STATUS" = 202 ]; then
	fail "could not stage: sync $RISKY had paused before the approve request arrived"
fi
expect_status 409
expect_jq "code" .error.code not_paused
wait_sync "$RISKY"
expect_sync Paused
expect_eq "stored members" "$BIG" "$(stored_members)"
[ "$SYNC_STATUS" = Paused ] && req POST "/v1/syncs/$RISKY/reject"

t "a sync interrupted by a crash is taken up again after its lease and ends once, applied once"
orgsync gen --members "$BIG" --seed 2 --out "$TMP/other" >/dev/null 2>&1
no_risk_limits # the other org changes nearly everyone: it must apply, not pause
req GET /v1/members/E0000001
EMAIL_BEFORE=$(jqr .email)
COUNT_BEFORE=$(stored_members)
push_csv "$TMP/other"
expect_status 202
CRASHED=$SYNC
started=
for ((i = 0; i < WAIT_SECS * 100; i++)); do
	req GET "/v1/syncs/$CRASHED"
	if grep -q '"status":"Pending"' "$BODY" && ! grep -q '"startedAt":null' "$BODY"; then
		started=1
		break
	fi
	grep -q '"status":"Pending"' "$BODY" || break
	sleep 0.01
done
if [ -z "$started" ]; then
	fail "the sync was never seen in progress (status $(jqr .status)): the crash could not be staged"
else
	crash_server
	KILLED_AT=$(date +%s%3N)
	LEASE_END=$(db_query "SELECT lease_until FROM syncs WHERE id = (SELECT id FROM syncs
		WHERE org_id = $ORG_A AND number = $CRASHED)")
	start_server --sync-lease-ms "$LEASE_MS"
	wait_sync "$CRASHED"
	expect_sync Success
	FINISHED=$(db_query "SELECT finished_at FROM syncs WHERE org_id = $ORG_A
		AND number = $CRASHED")
	[ "${FINISHED:-0}" -ge "${LEASE_END:-0}" ] ||
		fail "finished at $FINISHED, before the lease's end $LEASE_END (killed at $KILLED_AT)"
	expect_eq "claimed twice" 2 "$(db_query "SELECT attempts FROM syncs
		WHERE org_id = $ORG_A AND number = $CRASHED")"
	expect_eq "no claim left" "" "$(db_query "SELECT claimed_by FROM syncs
		WHERE org_id = $ORG_A AND number = $CRASHED")"
	# Applied by one run only: it found the org as it was before the push (a
	# second apply would have found nothing left to change).
	expect_true "its counts are the changes from the org before the push" \
		'.counts.members.updated + .counts.members.created > 0' "$TMP/sync.json"
	req GET /v1/members/E0000001
	expect_jq "E0000001 as the pushed org has it" .email \
		"$(grep -m1 '^E0000001,' "$TMP/other/members.csv" | cut -d, -f2)"
	[ "$(jqr .email)" != "$EMAIL_BEFORE" ] || fail "E0000001 unchanged: $EMAIL_BEFORE"
fi

t "two services on one database: the holder of a sync killed, the other finishes it once"
push_csv "$G"
expect_status 202
SHARED=$SYNC
holder=
for ((i = 0; i < WAIT_SECS * 100; i++)); do
	holder=$(db_query "SELECT claimed_by FROM syncs
		WHERE org_id = $ORG_A AND number = $SHARED AND status = 'Pending'")
	[ -n "$holder" ] && break
	sleep 0.01
done
expect_eq "held by the first service" "$SERVER_PID" "$(cut -d: -f2 <<<"$holder")"
# Frozen, the holder can neither finish the sync nor renew its lease while
# the second service starts (under valgrind that takes longer than the sync).
kill -STOP "$SERVER_PID"
# shellcheck disable=SC2086 # $ORGSYNC may be a wrapper command line
$ORGSYNC serve --db "$DB_URL" --listen 127.0.0.1:0 --quiet \
	--sync-lease-ms "$LEASE_MS" >"$TMP/second.out" 2>"$TMP/second.err" &
SECOND_PID=$!
trap 'kill -KILL "$SECOND_PID" 2>/dev/null; cleanup' EXIT
second_port() {
	for ((i = 0; i < WAIT_SECS * 10; i++)); do
		SECOND_PORT=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$TMP/second.out")
		[ -n "$SECOND_PORT" ] && return 0
		sleep 0.1
	done
}
SECOND_PORT=
second_port
crash_server
# A start that waited for the frozen holder's lock goes on once it is gone.
[ -n "$SECOND_PORT" ] || second_port
if [ -z "$SECOND_PORT" ]; then
	fail "the second service did not start"
	note "$TMP/second.err"
else
	# The harness reads syncs through $BASE: the second service answers now.
	BASE=http://127.0.0.1:$SECOND_PORT
	wait_sync "$SHARED"
	expect_sync Success
	[ "$SYNC_STATUS" = Success ] || note "$TMP/second.err"
	expect_eq "claimed twice, by each service once" 2 "$(db_query "SELECT attempts
		FROM syncs WHERE org_id = $ORG_A AND number = $SHARED")"
	expect_true "applied by the second run: the org before the push had changes to make" \
		'.counts.members.updated + .counts.members.created > 0' "$TMP/sync.json"
fi
kill -TERM "$SECOND_PID" 2>/dev/null
wait "$SECOND_PID" 2>/dev/null
start_server --sync-lease-ms "$LEASE_MS"

t "after the restart the org takes syncs again"
sync_csv "$SMALL" '?mode=partial'
expect_sync Success
expect_count "created" .counts.members.created 1

finish
