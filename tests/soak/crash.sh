#!/usr/bin/env bash
# A sync never half-happens. Each iteration pushes a large org that differs
# from the stored one (inserts, updates, deactivations, moves between teams,
# new managers, renamed and re-parented teams), kills the server with SIGKILL
# at a random moment of the sync, restarts it on the same database and
# checks that the stored org is exactly the state before or exactly the
# state after, that the sync's status says which, that no sync stays
# Pending (one claimed by the killed server is taken up again once its
# lease ran out, and applied then), and that SQLite finds the database
# intact. With ORGSYNC_DB=postgres the same on PostgreSQL (tests/e2e/lib.sh),
# whose own checks replace SQLite's integrity check.
#
#   tests/soak/crash.sh [ITERATIONS] [MEMBERS]      (default 300 20000)
#   ORGSYNC=build-asan/orgsync tests/soak/crash.sh 100
#
# tests/e2e/test_crash.sh sources this file with 30 iterations. Output: the
# "ok - NAME: CASE" lines of tests/e2e/lib.sh, one case per kill, and a
# summary line "# crash: N kills: ...". Exits non-zero when a case failed.

set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

ITERATIONS=${1:-300}
MEMBERS=${2:-20000}
# The random delay before the kill spans this much of one measured sync (percent).
SPAN_PERCENT=120
# The claim of a sync (serve --sync-lease-ms): one the killed server held is
# taken up by the restarted one after this.
LEASE_MS=2000

if ! [[ $ITERATIONS =~ ^[0-9]+$ && $MEMBERS =~ ^[0-9]+$ ]] || [ "$MEMBERS" -lt 100 ]; then
	echo "usage: tests/soak/crash.sh [ITERATIONS] [MEMBERS >= 100]" >&2
	exit 2
fi

# The binary is copied when it is one: a rebuild during a long run must not
# swap it under the restarts. $ORGSYNC_RUN is what was asked for, for messages.
ORGSYNC_RUN=$ORGSYNC
if [ -f "$ORGSYNC" ] && cp "$ORGSYNC" "$TMP/orgsync"; then
	ORGSYNC=$TMP/orgsync
fi

# Under valgrind one sync of this size takes minutes and a kill proves
# nothing more than it does natively: say so and stop.
case $ORGSYNC in
*valgrind*)
	skip "crash consistency" "under valgrind: one sync takes minutes, and a kill proves nothing more"
	finish
	;;
esac

# --- the two orgs -------------------------------------------------------------------

# derive_members A DONOR B: B's members.csv from A's. Records may span lines
# (quoted job titles), so a record starts at a line "E<digits>,". Of member
# number n: n%20==3 is removed (deactivated), n%20==11 gets a new email,
# n%20==13 takes the donor's names, job, languages, products and
# department; the donor's members n%20==7 join as new members N<digits>.
# The ids of the removed and of the new members go to B/removed and B/fresh.
derive_members() {
	awk -v donorfile="$2/members.csv" -v removed="$3/removed" -v fresh="$3/fresh" '
	function split3(rec) {
		id = substr(rec, 1, index(rec, ",") - 1)
		rest = substr(rec, length(id) + 2)
		email = substr(rest, 1, index(rest, ",") - 1)
		rest = substr(rest, length(email) + 2)
		n = substr(id, 2) + 0
	}
	function mine(rec) {
		if (rec == "") return
		split3(rec)
		if (n % 20 == 3) { print id > removed; return }
		if (n % 20 == 11) sub(/@example\.com$/, "@changed.example.com", email)
		if (n % 20 == 13) rest = donor[id]
		print id "," email "," rest
	}
	function theirs(rec) {
		if (rec == "") return
		split3(rec)
		donor[id] = rest
		if (n % 20 != 7) return
		sub(/@example\.com$/, "@new.example.com", email)
		extra[++nextra] = "N" substr(id, 2) "," email "," rest
		print "N" substr(id, 2) > fresh
	}
	BEGIN {
		getline line < donorfile
		while ((getline line < donorfile) > 0) {
			if (line ~ /^E[0-9]+,/) { theirs(rec); rec = line } else rec = rec "\n" line
		}
		theirs(rec)
		rec = ""
	}
	FNR == 1 { print; next }
	/^E[0-9]+,/ { mine(rec); rec = $0; next }
	{ rec = rec "\n" $0 }
	END {
		mine(rec)
		for (i = 1; i <= nextra; i++) print extra[i]
	}' "$1/members.csv" >"$3/members.csv"
}

# derive_teams A B: B's teams.csv: team number t%25==4 renamed, 20 new teams U<digits>.
derive_teams() {
	awk 'NR > 1 && substr($0, 2, 6) % 25 == 4 {
		if (sub(/"$/, " (renamed)\"") == 0) $0 = $0 " (renamed)"
	}
	{ print }
	END { for (k = 1; k <= 20; k++) printf "U%06d,New team %d\n", k, k }' \
		"$1/teams.csv" >"$2/teams.csv"
}

# derive_mappings A B: B's teams-mappings.csv: the removed members' rows go;
# member n%20==17 moves to a new team (and no longer manages his old one);
# teams t%10==5 get a new member as manager (their managers stay members);
# subteams s%50==9 move under the root T000001; the new teams hang under
# the root and the remaining new members join them.
derive_mappings() {
	awk -F, -v OFS=, -v removed="$2/removed" -v fresh="$2/fresh" '
	BEGIN {
		while ((getline l < removed) > 0) gone[l] = 1
		while ((getline l < fresh) > 0) nf[++nfresh] = l
	}
	NR == 1 { print; next }
	$3 != "" {
		if (substr($3, 2) % 50 == 9) $1 = "T000001"
		print
		next
	}
	$2 in gone { next }
	$4 == "true" && substr($2, 2) % 20 == 17 {
		$1 = sprintf("U%06d", int(substr($2, 2) / 20) % 20 + 1)
		$5 = "false"
		print
		next
	}
	$5 == "true" && substr($1, 2) % 10 == 5 {
		if (!($1 in boss) && used < nfresh) {
			boss[$1] = nf[++used]
			print $1, boss[$1], "", "false", "true"
		}
		if ($4 == "true") { $5 = "false"; print }
		next
	}
	{ print }
	END {
		for (k = 1; k <= 20; k++) printf "T000001,,U%06d,,\n", k
		for (j = used + 1; j <= nfresh; j++)
			printf "U%06d,%s,,true,false\n", j % 20 + 1, nf[j]
	}' "$1/teams-mappings.csv" >"$2/teams-mappings.csv"
}

# make_orgs: org A (seed 1) and org B, A changed by a mix of every kind of
# change an apply makes, some taken from a donor org (seed 2).
make_orgs() {
	local s
	for s in 1 2; do
		if ! orgsync gen --members "$MEMBERS" --seed "$s" --out "$TMP/gen$s" >/dev/null 2>&1; then
			echo "not ok - $TEST_NAME: orgsync gen --members $MEMBERS --seed $s failed"
			exit 1
		fi
	done
	mv "$TMP/gen1" "$TMP/A"
	mkdir -p "$TMP/B"
	derive_members "$TMP/A" "$TMP/gen2" "$TMP/B"
	derive_teams "$TMP/A" "$TMP/B"
	derive_mappings "$TMP/A" "$TMP/B"
	rm -rf "$TMP/gen2"
}

# --- the database, read behind the server's back -----------------------------------------

# sql QUERY: one query on the database (the server may be writing: wait for locks).
sql() {
	db_query "$1" 2>&1
}

# org_hash: a digest of what a sync decides in the org: its properties, its
# members (ids, emails, names, profile, products, property values, role,
# state), its teams and its mappings named by external ids. Left out, as a
# sync may change them without changing the org: row ids (a member
# reactivated keeps his row, but a team or mapping dropped and made again
# gets a new one), created_at/updated_at, the org's version stamp, and the
# syncs, payloads, issues, invitations and outbox (the history, not the org).
org_hash() {
	db_query "
		SELECT 'property', name FROM properties WHERE org_id = $ORG_ID ORDER BY name;
		SELECT 'member', external_id, email, email_key, first_name, last_name, job_title,
			image_url, langs, products, role, state
			FROM members WHERE org_id = $ORG_ID ORDER BY external_id;
		SELECT 'value', m.external_id, p.name, v.value FROM member_props v
			JOIN members m ON m.id = v.member_id JOIN properties p ON p.id = v.property_id
			WHERE v.org_id = $ORG_ID ORDER BY m.external_id, p.name;
		SELECT 'team', external_id, name FROM teams WHERE org_id = $ORG_ID ORDER BY external_id;
		SELECT 'mapping', t.external_id, coalesce(m.external_id, '<null>'),
			coalesce(s.external_id, '<null>'), p.is_member, p.is_manager
			FROM mappings p JOIN teams t ON t.id = p.team_id
			LEFT JOIN members m ON m.id = p.member_id
			LEFT JOIN teams s ON s.id = p.subteam_id
			WHERE p.org_id = $ORG_ID
			ORDER BY t.external_id, coalesce(m.external_id, ''), coalesce(s.external_id, '');" 2>&1 | sha256sum | cut -c1-16
}

# last_sync_id: the newest sync of the org (0: none), to tell a new one.
last_sync_id() {
	sql "SELECT coalesce(max(id), 0) FROM syncs WHERE org_id = $ORG_ID"
}

# activate_some: half the members B removes (n%40==3) accept their
# invitation, so that B deactivates those and deletes the others (never
# invited). Written in the database with the server stopped: through the
# API it takes an invitation and a request per member. The org's version
# stamp moves, as with any change of its records.
activate_some() {
	stop_server
	sql "UPDATE members SET state = 'active' WHERE org_id = $ORG_ID
		AND external_id LIKE 'E%' AND CAST(substr(external_id, 2) AS INTEGER) % 40 = 3;
		UPDATE orgs SET version = version + 1 WHERE id = $ORG_ID;" >/dev/null
	start_server --sync-lease-ms "$LEASE_MS"
}

# --- timing ------------------------------------------------------------------------------

now_ms() {
	date +%s%3N
}

# sleep_ms MS
sleep_ms() {
	sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"
}

# random_ms MAX: uniform in [0, MAX] (two $RANDOM: 30 bits).
random_ms() {
	echo $((((RANDOM << 15) | RANDOM) % ($1 + 1)))
}

# timed_sync NAME: syncs org NAME (A or B) to its end on a server just
# restarted, as every sync after a kill runs (one that has not loaded the
# org yet is slower); SYNC_MS gets the time from the start of the upload to
# the end of the sync.
timed_sync() {
	local t0
	stop_server
	start_server --sync-lease-ms "$LEASE_MS"
	t0=$(now_ms)
	sync_csv "$TMP/$1"
	SYNC_MS=$(($(now_ms) - t0))
}

# push_bg NAME: pushes org NAME in the background (the server will die under
# it); $TMP/push.out gets "HTTP-STATUS SYNC-ID" when curl returns.
push_bg() {
	rm -f "$TMP/push.out"
	(
		push_csv "$TMP/$1"
		echo "$STATUS ${SYNC:-}" >"$TMP/push.out"
	) &
	PUSH_PID=$!
}

# --- one kill ------------------------------------------------------------------------------

KILLS=0
N_BEFORE=0
N_AFTER=0
N_RERUN=0
N_UNREGISTERED=0
N_MIXED=0
N_STUCK=0
N_WRONG=0
N_CORRUPT=0
ABORT=

# kill_once I: one iteration: push the other org, kill, restart, judge.
kill_once() {
	local i=$1 from=$CUR to delay before after prev t0 restart ids code pushed hash
	local id='' status=none reason='' started=0 attempts=0 outcome integrity

	if [ "$from" = A ]; then to=B; else to=A; fi
	before=${HASH[$from]}
	after=${HASH[$to]}
	rm -f "$TMP/sync.json"
	prev=$(last_sync_id)
	delay=$(random_ms "$MAX_DELAY_MS")
	t0=$(now_ms)
	push_bg "$to"
	sleep_ms "$delay"
	crash_server
	wait "$PUSH_PID" 2>/dev/null
	read -r code pushed 2>/dev/null <"$TMP/push.out" || code=none
	restart=$(now_ms)
	start_server --sync-lease-ms "$LEASE_MS"
	KILLS=$((KILLS + 1))

	# Numbers, as the API names syncs (ids have gaps on PostgreSQL).
	ids=$(sql "SELECT number FROM syncs WHERE org_id = $ORG_ID AND id > $prev ORDER BY id" |
		tr '\n' ' ' | sed 's/ $//')
	if [ -n "$ids" ] && [ "$ids" = "${ids% *}" ]; then
		id=$ids
		if wait_sync "$id"; then
			status=$SYNC_STATUS
			reason=$(jqr '.reason // ""' "$TMP/sync.json")
			started=$(sql "SELECT coalesce(started_at, 0) FROM syncs WHERE org_id = $ORG_ID AND number = $id")
			attempts=$(sql "SELECT attempts FROM syncs WHERE org_id = $ORG_ID AND number = $id")
		else
			status=$SYNC_STATUS
		fi
	fi
	# Two readers at once: the check of the whole file takes as long as the hash.
	if [ -n "$PG_DBNAME" ]; then
		echo ok >"$TMP/integrity" &
	else
		sql 'PRAGMA integrity_check' >"$TMP/integrity" &
	fi
	hash=$(org_hash)
	wait $!
	integrity=$(tr '\n' ' ' <"$TMP/integrity" | sed 's/ $//')

	if [ "$status" = timeout ] || [ "$status" = Pending ]; then
		outcome=stuck
		N_STUCK=$((N_STUCK + 1))
	elif [ "$hash" = "$before" ] && [ -z "$id" ]; then
		outcome="before registration"
		N_UNREGISTERED=$((N_UNREGISTERED + 1))
	elif [ "$hash" = "$before" ]; then
		outcome=before
		N_BEFORE=$((N_BEFORE + 1))
	elif [ "$hash" = "$after" ]; then
		outcome=after
		N_AFTER=$((N_AFTER + 1))
		if [ "$status" = Success ] && { [ "$started" -ge "$restart" ] || [ "$attempts" -gt 1 ]; }; then
			N_RERUN=$((N_RERUN + 1))
			outcome="after, run after the restart"
		fi
	else
		outcome=mixed
		N_MIXED=$((N_MIXED + 1))
	fi

	t "kill $i/$ITERATIONS, $from -> $to, at $delay ms (of $MAX_DELAY_MS): $outcome${id:+, sync $id $status}"
	expect_eq "PRAGMA integrity_check" ok "$integrity"
	[ "$integrity" = ok ] || N_CORRUPT=$((N_CORRUPT + 1))
	expect_match "the push ended with 202 or no final answer" '^(202|000|100)$' "$code"
	[ "$code" = 202 ] && expect_eq "the sync found is the one the push answered" "$pushed" "$id"
	[ -n "$ids" ] && expect_eq "one new sync" "$id" "$ids"
	case $outcome in
	stuck)
		fail "sync $id still $status after $WAIT_SECS s"
		;;
	mixed)
		fail "the org is neither the state before ($before) nor after ($after): $hash"
		;;
	"before registration") ;;
	before)
		N_WRONG=$((N_WRONG + 1))
		fail "registered but not applied: expected it taken up again once its lease ran" \
			"out, got $status: '$reason'"
		;;
	after*)
		if [ "$status" != Success ]; then
			N_WRONG=$((N_WRONG + 1))
			fail "applied: expected Success, got $status: '$reason'"
		fi
		;;
	esac
	if [ "$CASE_FAILED" -ne 0 ]; then
		fail "the kill came $((restart - t0)) ms after the push began (drawn: $delay ms);" \
			"again: ORGSYNC=$ORGSYNC_RUN tests/soak/crash.sh $ITERATIONS $MEMBERS"
		[ -f "$TMP/sync.json" ] && note "$TMP/sync.json"
	fi
	case $outcome in
	after*) CUR=$to ;;
	mixed) resync ;;
	stuck) ABORT="a sync stayed Pending" ;;
	esac
}

# resync: after a mixed state, a full sync of A makes the org known again
# (the remaining kills still count); when it does not, stop.
resync() {
	timed_sync A
	if [ "$SYNC_STATUS" = Success ] && [ "$(org_hash)" = "${HASH[A]}" ]; then
		CUR=A
	else
		ABORT="the org could not be brought back to state A (sync $SYNC_STATUS)"
	fi
}

# --- the run ----------------------------------------------------------------------------------

declare -A HASH

start_server --sync-lease-ms "$LEASE_MS"
new_org crash
KEY=$ORG_KEY
enable_api
no_risk_limits
req_json POST /v1/properties '{"name":"department"}'
make_orgs

t "warm-up: A, B, A, B ($MEMBERS members) each end Success; A and B differ"
WARM=()
for name in A B A B; do
	timed_sync "$name"
	expect_sync Success
	[ "${#WARM[@]}" -eq 0 ] && activate_some
	HASH[$name]=$(org_hash)
	WARM+=("$SYNC_MS")
	[ "${#WARM[@]}" -eq 4 ] && CHANGES=$(jq -c .counts "$TMP/sync.json" 2>/dev/null)
done
expect_ne "hash of A and of B" "${HASH[A]}" "${HASH[B]}"

t "state hashes are reproducible: A again from state B gives A's hash"
timed_sync A
expect_sync Success
expect_eq "hash of A" "${HASH[A]}" "$(org_hash)"
WARM+=("$SYNC_MS")
CUR=A
end_case

# The span of the kill: one sync from a steady state (the 3rd to 5th ones),
# their median (a busy machine slows one now and then), so that a slower
# build (ASan) keeps the same spread.
ONE_SYNC_MS=$(printf '%s\n' "${WARM[@]:2}" | sort -n | sed -n 2p)
MAX_DELAY_MS=$((ONE_SYNC_MS * SPAN_PERCENT / 100))
# A sync re-run after the restart must end within this bound (after its lease).
BOUND=$((ONE_SYNC_MS * 10 / 1000 + 5 + LEASE_MS / 1000))
[ "$BOUND" -gt "$WAIT_SECS" ] && WAIT_SECS=$BOUND
echo "# $TEST_NAME: $MEMBERS members; warm-up syncs ${WARM[*]} ms; kills drawn in [0, $MAX_DELAY_MS] ms; Pending bound $WAIT_SECS s"
echo "# $TEST_NAME: A -> B changes: ${CHANGES:-?}"

if [ "$FAILED" -gt 0 ] || [ "$CASE_FAILED" -ne 0 ]; then
	t "kills skipped: the warm-up failed"
	fail "see above"
else
	for ((it = 1; it <= ITERATIONS; it++)); do
		kill_once "$it"
		if [ -n "$ABORT" ]; then
			t "the remaining $((ITERATIONS - it)) kills were not run"
			fail "$ABORT"
			break
		fi
	done
fi

[ "$N_CORRUPT" -eq 0 ] && INTEGRITY=ok || INTEGRITY="$N_CORRUPT failed"
end_case
echo "# $TEST_NAME: $KILLS kills: $N_BEFORE before, $N_AFTER after ($N_RERUN run after the restart)," \
	"$N_UNREGISTERED before registration; $N_MIXED mixed, $N_STUCK stuck, $N_WRONG wrong status;" \
	"integrity $INTEGRITY"
finish
