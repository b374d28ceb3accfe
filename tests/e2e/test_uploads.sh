#!/usr/bin/env bash
# Memory under concurrent uploads (SPEC §8): a sync's body goes to an
# unnamed spool file as it arrives, is ingested from there two at a time
# and stored in the database in pieces, so the service's memory does not
# grow with the number or the size of the uploads in flight. Eight 100 MB
# uploads at once (JSON to one org: one 202, seven 409 naming it; CSV in
# multipart to eight orgs: eight 202, then eight syncs done) keep the
# service's peak RSS within UPLOAD_RSS_MIB (default 300) of its idle RSS.
# The payloads are small orgs padded to 100 MB with whitespace, which the
# readers skip: what is measured is the body path, not an org's model. A
# refused request is answered before its body is read; an upload cut off
# leaves no file and no sync.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

UPLOAD_MB=${UPLOAD_MB:-100}
UPLOAD_RSS_MIB=${UPLOAD_RSS_MIB:-300}
UPLOADS=8
SPOOL=$TMP/spool
mkdir -p "$SPOOL"

# kib FIELD: a field of the server's /proc status (VmRSS, VmHWM), in KiB.
kib() {
	awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SERVER_PID/status"
}

# spool_fds: the server's open files in the spool directory (unnamed: "(deleted)" or O_TMPFILE's).
spool_fds() {
	local n=0 fd target
	for fd in /proc/"$SERVER_PID"/fd/*; do
		target=$(readlink "$fd" 2>/dev/null) || continue
		[[ $target == "$SPOOL"/* ]] && n=$((n + 1))
	done
	echo "$n"
}

# wait_for_zero_spool_fds: up to a few seconds for the server to close its spool files.
wait_for_zero_spool_fds() {
	local i
	for ((i = 0; i < 50 * SLOW; i++)); do
		[ "$(spool_fds)" = 0 ] && return 0
		sleep 0.1
	done
	return 1
}

# ASan keeps freed memory in a quarantine (256 MiB by default) that would
# read as growth: a small one keeps its checks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16" \
	start_server --spool-dir "$SPOOL" --rate-limit 0
# an_org NAME: a new org, API provisioning on, with the generated orgs' custom property.
an_org() {
	new_org "$1"
	KEY=$ORG_KEY
	enable_api
	req_json POST /v1/properties '{"name":"department"}'
}

an_org acme
ACME_KEY=$KEY
new_org inactive
INACTIVE_KEY=$ORG_KEY
KEY=$ACME_KEY

# A small org, as JSON and as CSV, each padded to UPLOAD_MB with whitespace.
orgsync gen --members 20 --seed 3 --out "$TMP/small" >/dev/null 2>&1
orgsync convert --dir "$TMP/small" --to json -o "$TMP/small.json" >/dev/null 2>&1
pad() {
	head -c $((UPLOAD_MB * 1000000)) /dev/zero | tr '\0' ' '
}
{
	printf '{'
	pad
	tail -c +2 "$TMP/small.json"
} >"$TMP/big.json"
mkdir -p "$TMP/big"
cp "$TMP/small/teams.csv" "$TMP/small/teams-mappings.csv" "$TMP/big/"
# Rows of blanks are what spreadsheets leave behind: the reader skips them.
{
	cat "$TMP/small/members.csv"
	pad | fold -w 999
} >"$TMP/big/members.csv"

t "a refused sync is answered from its headers: no byte of its body is read"
got=$(curl -s -o "$BODY" -w '%{http_code} %{size_upload}' -H "Authorization: Bearer $INACTIVE_KEY" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$TMP/big.json" \
	"$BASE/v1/syncs")
expect_eq "API provisioning off: status" 403 "${got% *}"
expect_jq "code" .error.code provisioning_inactive
expect_eq "API provisioning off: bytes sent" 0 "${got#* }"
got=$(curl -s -o "$BODY" -w '%{http_code} %{size_upload}' -H "Authorization: Bearer osk_nope" \
	-H 'Content-Type: application/json' -H 'Expect: 100-continue' --data-binary "@$TMP/big.json" \
	"$BASE/v1/syncs")
expect_eq "a bad key: status" 401 "${got% *}"
expect_eq "a bad key: bytes sent" 0 "${got#* }"

t "a body held in memory (any route but a sync's) is refused past 1 MiB"
head -c 2000000 /dev/zero | tr '\0' ' ' >"$TMP/two-mb.json"
req PATCH /v1/settings -H 'Content-Type: application/json' --data-binary "@$TMP/two-mb.json"
expect_status 413
expect_jq "code" .error.code too_large
expect_match "the limit named" 1048576 "$(jqr .error.message)"

t "a body is spooled to an unnamed file while it arrives"
curl -s -o /dev/null --limit-rate 2M -H "Authorization: Bearer $KEY" \
	-H 'Content-Type: application/json' --data-binary "@$TMP/big.json" "$BASE/v1/syncs" &
CUT=$!
for ((i = 0; i < 50 * SLOW; i++)); do
	[ "$(spool_fds)" != 0 ] && break
	sleep 0.1
done
sleep 1
expect_eq "spool files open" 1 "$(spool_fds)"
expect_eq "files with a name in the spool directory" "" "$(ls -A "$SPOOL")"

t "an upload cut off mid-body leaves no spool file and no sync"
kill -KILL "$CUT" 2>/dev/null
wait "$CUT" 2>/dev/null
wait_for_zero_spool_fds
expect_eq "spool files open" 0 "$(spool_fds)"
expect_eq "files in the spool directory" "" "$(ls -A "$SPOOL")"
req GET /v1/syncs
expect_jq "syncs of the org" .total 0

if [ "$SLOW" -gt 1 ]; then
	skip "eight 100 MB uploads at once" "under valgrind: they measure the service's memory, not its wrapper's"
	finish
fi

# uploads KEY... : UPLOADS uploads at once, the i-th with the i-th key
# (cycling), all at the same pace so that they end together; statuses in
# $TMP/up.N.status, bodies in $TMP/up.N.json. The JSON payload, or with
# "csv" first the multipart one.
uploads() {
	local kind=json pids=() i keys
	if [ "$1" = csv ]; then
		kind=csv
		shift
	fi
	keys=("$@")
	for ((i = 0; i < UPLOADS; i++)); do
		if [ $kind = json ]; then
			set -- -H 'Content-Type: application/json' --data-binary "@$TMP/big.json"
		else
			set -- -F "members=@$TMP/big/members.csv" -F "teams=@$TMP/big/teams.csv" \
				-F "teamsMappings=@$TMP/big/teams-mappings.csv"
		fi
		curl -s -o "$TMP/up.$i.json" -w '%{http_code}' --max-time $((60 * SLOW)) \
			--limit-rate 40M -H "Authorization: Bearer ${keys[$((i % ${#keys[@]}))]}" "$@" \
			"$BASE/v1/syncs" >"$TMP/up.$i.status" &
		pids+=($!)
	done
	wait "${pids[@]}"
}

# statuses: the sorted statuses of the last uploads ("202 409 409 ...").
statuses() {
	local f
	for f in "$TMP"/up.*.status; do
		echo "$(cat "$f")"
	done | sort | tr '\n' ' ' | sed 's/ $//'
}

IDLE=$(kib VmRSS)

t "8 uploads of ${UPLOAD_MB} MB (JSON) to one org at once: one sync at a time, the others 409 naming it"
t0=${EPOCHREALTIME/./}
uploads "$KEY"
note_secs=$(((${EPOCHREALTIME/./} - t0) / 1000))
# Usually one 202 and seven 409; a sync that ends before the last upload is
# registered lets that one in too (PostgreSQL takes a payload faster than the
# sync lasts). What may never be is two Pending at once.
expect_match "statuses" '^(202|409)( (202|409)){7}$' "$(statuses)"
accepted=()
for ((i = 0; i < UPLOADS; i++)); do
	[ "$(cat "$TMP/up.$i.status")" = 202 ] && accepted+=("$(jq -r .id "$TMP/up.$i.json")")
done
[ "${#accepted[@]}" -ge 1 ] || fail "no upload was accepted"
for ((i = 0; i < UPLOADS; i++)); do
	if [ "$(cat "$TMP/up.$i.status")" = 409 ]; then
		named=$(jq -r '.error.details[0].runningSyncId' "$TMP/up.$i.json")
		[[ " ${accepted[*]} " == *" $named "* ]] ||
			fail "upload $i: the running sync named, $named, is none of those accepted (${accepted[*]})"
	fi
done
prev_end=
for id in $(printf '%s\n' "${accepted[@]}" | sort -n); do
	wait_sync "$id"
	expect_sync Success
	created=$(jqr .createdAt "$TMP/sync.json")
	if [ -n "$prev_end" ] && [[ "$created" < "$prev_end" ]]; then
		fail "sync $id was registered at $created, while the one before ran until $prev_end"
	fi
	prev_end=$(jqr .finishedAt "$TMP/sync.json")
done
echo "# $TEST_NAME: peak RSS $(((${PEAK:=$(kib VmHWM)} - IDLE) / 1024)) MiB above idle so far"
echo "# $TEST_NAME: 8 x ${UPLOAD_MB} MB JSON to one org in ${note_secs} ms"

t "eight orgs, 8 uploads of ${UPLOAD_MB} MB (CSV, multipart) at once: eight 202, then eight syncs done"
keys=()
for ((i = 1; i <= UPLOADS; i++)); do
	an_org "org$i"
	keys+=("$KEY")
done
t0=${EPOCHREALTIME/./}
uploads csv "${keys[@]}"
note_secs=$(((${EPOCHREALTIME/./} - t0) / 1000))
expect_eq "statuses" "202 202 202 202 202 202 202 202" "$(statuses)"
for ((i = 0; i < UPLOADS; i++)); do
	KEY=${keys[$i]}
	wait_sync "$(jq -r .id "$TMP/up.$i.json")"
	expect_sync Success
done
echo "# $TEST_NAME: 8 x ${UPLOAD_MB} MB CSV to eight orgs in ${note_secs} ms"

t "the service's peak RSS stayed within ${UPLOAD_RSS_MIB} MiB of idle"
PEAK=$(kib VmHWM)
echo "# $TEST_NAME: idle $((IDLE / 1024)) MiB, peak $((PEAK / 1024)) MiB: $(((PEAK - IDLE) / 1024)) MiB for 16 uploads of ${UPLOAD_MB} MB, 8 at a time"
expect_match "peak - idle <= ${UPLOAD_RSS_MIB} MiB (peak $PEAK KiB, idle $IDLE KiB)" '^yes$' \
	"$([ $((PEAK - IDLE)) -le $((UPLOAD_RSS_MIB * 1024)) ] && echo yes || echo no)"

t "no spool file is left once the uploads are answered"
wait_for_zero_spool_fds
expect_eq "spool files open" 0 "$(spool_fds)"
expect_eq "files in the spool directory" "" "$(ls -A "$SPOOL")"

finish
