#!/usr/bin/env bash
# Scale-out (SPEC §8): two `orgsync serve` processes on different ports and
# one PostgreSQL database. Syncs of 20 orgs pushed to both at once each end
# exactly once; a process killed (SIGKILL) in the middle of a sync leaves
# it to the other once its lease runs out; a local webhook receiver counts
# what the two deliver, and no status event comes under two delivery ids.
# SQLite serves one machine: there every case is skipped, visibly.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if [ "${ORGSYNC_DB:-sqlite}" != postgres ]; then
	for c in "20 orgs pushed to two services at once: every sync ends once" \
		"a service killed mid-sync: the other finishes it after the lease" \
		"no status event delivered under two delivery ids"; do
		skip "$c" "two services share a database on PostgreSQL only (ORGSYNC_DB=postgres)"
	done
	finish
fi

PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
ORGS=20
LEASE_MS=2000
SECRET=whsec-scaleout-0123456789
HOOKLOG=$TMP/hooks.log
HOOK_PID=
B_PID=
: >"$HOOKLOG"
stop_others() {
	[ -n "$HOOK_PID" ] && kill "$HOOK_PID" 2>/dev/null && wait "$HOOK_PID" 2>/dev/null
	[ -n "$B_PID" ] && kill -KILL "$B_PID" 2>/dev/null && wait "$B_PID" 2>/dev/null
	HOOK_PID=
	B_PID=
}
trap 'stop_others; cleanup' EXIT

"$PY" tests/support/webhook_receiver.py --secret "$SECRET" --log "$HOOKLOG" \
	--mode "$TMP/hooks.mode" --port-file "$TMP/hook.port" 2>>"$TMP/hook.err" &
HOOK_PID=$!
for ((i = 0; i < 100 * SLOW; i++)); do [ -s "$TMP/hook.port" ] && break; sleep 0.05; done
HOOK_PORT=$(cat "$TMP/hook.port" 2>/dev/null)
[ -n "$HOOK_PORT" ] || { echo "not ok - $TEST_NAME: the webhook receiver did not start"; exit 1; }

LEASE_OPT=()
if $ORGSYNC serve --help 2>&1 | grep -q -- --sync-lease-ms; then
	LEASE_OPT=(--sync-lease-ms "$LEASE_MS")
fi
SERVE_OPTS=(--webhook-allow-private ${LEASE_OPT[@]+"${LEASE_OPT[@]}"})

# Service A is the harness's server; B is a second process on the same database.
start_server "${SERVE_OPTS[@]}"
A=$BASE
start_b() {
	: >"$TMP/b.out"
	# shellcheck disable=SC2086
	$ORGSYNC serve --db "$DB_URL" --listen 127.0.0.1:0 "${SERVE_OPTS[@]}" \
		>"$TMP/b.out" 2>>"$TMP/b.err" &
	B_PID=$!
	for ((i = 0; i < 300 * SLOW; i++)); do
		B_PORT=$(sed -n 's/.*(port \([0-9][0-9]*\)).*/\1/p' "$TMP/b.out")
		[ -n "$B_PORT" ] && break
		sleep 0.1
	done
	[ -n "$B_PORT" ] || { echo "not ok - $TEST_NAME: the second server did not start"; exit 1; }
	B=http://127.0.0.1:$B_PORT
}
start_b

# setup_org NAME: an org (ORG_ID, KEY) set up on A: the receiver as its webhook,
# no risk limit, the generator's custom property defined.
setup_org() {
	new_org "$1"
	KEY=$ORG_KEY
	BASE=$A
	enable_api
	no_risk_limits
	req_json PATCH /v1/settings \
		"{\"webhooks\":[{\"url\":\"http://127.0.0.1:$HOOK_PORT/hook\",\"secret\":\"$SECRET\"}]}"
	[ "$STATUS" = 200 ] || { echo "not ok - $TEST_NAME: webhook setting answered $STATUS"; exit 1; }
	req_json POST /v1/properties '{"name":"department"}'
	[ "$STATUS" = 201 ] || { echo "not ok - $TEST_NAME: POST /v1/properties answered $STATUS"; exit 1; }
}

KEYS=()
for ((i = 1; i <= ORGS; i++)); do
	setup_org "org$i"
	KEYS+=("$KEY")
	orgsync gen --members 400 --seed "$i" --out "$TMP/org$i" >/dev/null
done

t "20 orgs pushed to two services at once: every sync ends once"
SYNCS=()
for ((i = 0; i < ORGS; i++)); do
	KEY=${KEYS[$i]}
	BASE=$([ $((i % 2)) -eq 0 ] && echo "$A" || echo "$B")
	push_csv "$TMP/org$((i + 1))"
	expect_eq "org$((i + 1)) accepted by $BASE" 202 "$STATUS"
	SYNCS+=("$SYNC")
done
for ((i = 0; i < ORGS; i++)); do
	KEY=${KEYS[$i]}
	BASE=$([ $((i % 2)) -eq 0 ] && echo "$B" || echo "$A") # read back from the other one
	wait_sync "${SYNCS[$i]}"
	expect_eq "org$((i + 1)) sync ${SYNCS[$i]}" Success "$SYNC_STATUS"
	expect_eq "org$((i + 1)) members created" 400 "$(jq -r .counts.members.created "$TMP/sync.json")"
done
expect_eq "syncs that ended Success" "$ORGS" \
	"$(db_query "SELECT count(*) FROM syncs WHERE status = 'Success'")"
expect_eq "syncs in any other status" 0 \
	"$(db_query "SELECT count(*) FROM syncs WHERE status <> 'Success'")"
expect_eq "members stored" $((ORGS * 400)) "$(db_query "SELECT count(*) FROM members")"

if [ ${#LEASE_OPT[@]} -eq 0 ]; then
	skip "a service killed mid-sync: the other finishes it after the lease" \
		"this build has no --sync-lease-ms (the lease-based queue)"
else
	t "a service killed mid-sync: the other finishes it after the lease"
	setup_org big
	orgsync gen --members 60000 --seed 7 --out "$TMP/big" >/dev/null
	# Only B runs: A stops first, so B's worker is the one that claims.
	stop_server
	BASE=$B
	push_csv "$TMP/big"
	expect_eq "accepted by B" 202 "$STATUS"
	BIG=$SYNC
	started=
	for ((i = 0; i < 500 * SLOW; i++)); do
		started=$(db_query "SELECT started_at FROM syncs WHERE status = 'Pending' AND claimed_by IS NOT NULL")
		[ -n "$started" ] && break
		sleep 0.01
	done
	expect_ne "B claimed the sync" "" "$started"
	kill -KILL "$B_PID"
	wait "$B_PID" 2>/dev/null
	B_PID=
	expect_eq "still Pending after B died" Pending \
		"$(db_query "SELECT status FROM syncs WHERE number = $BIG AND org_id = $ORG_ID")"
	start_server "${SERVE_OPTS[@]}"
	WAIT_SECS=$((WAIT_SECS + 60 * SLOW))
	wait_sync "$BIG"
	expect_eq "finished by A" Success "$SYNC_STATUS"
	expect_eq "attempts" 2 \
		"$(db_query "SELECT attempts FROM syncs WHERE number = $BIG AND org_id = $ORG_ID")"
	expect_eq "members of the big org" 60000 \
		"$(db_query "SELECT count(*) FROM members WHERE org_id = $ORG_ID")"
fi

t "no status event delivered under two delivery ids"
# Every sync's registration (Pending) and its end, once each, for each org.
want=$((2 * $(db_query "SELECT count(*) FROM syncs")))
for ((i = 0; i < 300 * SLOW; i++)); do
	got=$(jq -r 'select(.answer == 200) | .body | fromjson
		| "\(.org.id) \(.sync.id) \(.sync.status)"' "$HOOKLOG" | sort -u | wc -l)
	[ "$got" -ge "$want" ] && break
	sleep 0.1
done
expect_eq "distinct status events received" "$want" "$got"
expect_eq "every call signed" 0 "$(jq -r 'select(.valid | not) | .id' "$HOOKLOG" | wc -l)"
expect_eq "events received under more than one delivery id" "" \
	"$(jq -r 'select(.answer == 200) | (.body | fromjson) as $b
		| "\($b.org.id) \($b.sync.id) \($b.sync.status) \(.id)"' "$HOOKLOG" |
		sort -u | awk '{ k = $1 " " $2 " " $3; if (seen[k]++) print k }')"

finish
