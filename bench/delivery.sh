#!/usr/bin/env bash
# Delivery benchmark (bench/README.md): first syncs of generated orgs with
# auto-invite on, against `orgsync serve` sending to a local SMTP server
# (tests/support/smtp_sink.py). In one run, by pairs: a sync applied while
# the outbox is idle ("quiet"), then at once another org's, applied while
# the first one's invitations are being sent ("busy"); then the time until
# every invitation of the pair reached the SMTP server, over the one
# connection the service keeps.
#   bench/delivery.sh BUILD_DIR [MEMBERS] [PAIRS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-10000}
PAIRS=${3:-3}
BIN=$(realpath "$BUILD/orgsync")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
DATA=bench/data/m$N-s42
WORK=$(mktemp -d)
PID=
SINK=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$SINK" ] && kill "$SINK" 2>/dev/null; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
[ -f "$DATA/members.csv" ] || "$BIN" gen --members "$N" --seed 42 --out "$DATA" >/dev/null

"$PY" tests/support/smtp_sink.py --dir "$WORK/mail" --port-file "$WORK/smtp.port" 2>"$WORK/sink.err" &
SINK=$!
for _ in $(seq 100); do [ -s "$WORK/smtp.port" ] && break; sleep 0.05; done
"$BIN" serve --db "sqlite:$WORK/svc.db" --listen 127.0.0.1:0 --quiet \
	--smtp-url "smtp://127.0.0.1:$(cat "$WORK/smtp.port")" --smtp-from 'Bench <bench@orgsync.example>' \
	--public-url https://orgsync.example.test >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q port "$WORK/out" 2>/dev/null && break; sleep 0.05; done
URL=http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$WORK/out")

# sync NAME -> registers a first sync of a new org NAME; prints "KEY ID ORG".
sync() {
	local key id out
	out=$("$BIN" org create "$1" --db "sqlite:$WORK/svc.db")
	key=$(sed -n 's/^api key (shown once): //p' <<<"$out")
	curl -sf -H "Authorization: Bearer $key" -X PATCH -d '{"provisioning":{"method":"api"},"autoInvite":true}' \
		"$URL/v1/settings" >/dev/null
	curl -sf -H "Authorization: Bearer $key" -d '{"name":"department"}' "$URL/v1/properties" >/dev/null
	id=$(curl -sf -H "Authorization: Bearer $key" -F "members=@$DATA/members.csv" -F "teams=@$DATA/teams.csv" \
		-F "teamsMappings=@$DATA/teams-mappings.csv" "$URL/v1/syncs" | jq -r .id)
	echo "$key $id $(sed -n 's/^organization \([0-9]*\) created.*/\1/p' <<<"$out")"
}

# wait_sync KEY ID ORG -> its apply time in ms, from the service's log of the org's (one) sync.
wait_sync() {
	while [ "$(curl -sf -H "Authorization: Bearer $1" "$URL/v1/syncs/$2" | jq -r .status)" = Pending ]; do
		sleep 0.01
	done
	sed -n "s/^{\"sync\":[0-9]*,\"org\":$3,.*\"apply\":\([0-9]*\),.*/\1/p" "$WORK/err"
}

received() { [ -f "$WORK/mail/received.log" ] && wc -l <"$WORK/mail/received.log" || echo 0; }

quiet=() busy=() rates=() ratios=()
for ((p = 1; p <= PAIRS; p++)); do
	read -r qk qid qorg < <(sync "quiet$p")
	quiet+=("$(wait_sync "$qk" "$qid" "$qorg")")
	t0=$(now)
	read -r bk bid borg < <(sync "busy$p")
	busy+=("$(wait_sync "$bk" "$bid" "$borg")")
	want=$((2 * N * p))
	while [ "$(received)" -lt "$want" ]; do sleep 0.05; done
	rates+=("$(echo "scale=0; 2 * $N / ($(now) - $t0)" | bc)")
	ratios+=("$(echo "scale=2; ${busy[-1]} / ${quiet[-1]}" | bc)")
	echo "pair $p: apply quiet ${quiet[-1]} ms, busy ${busy[-1]} ms; $((2 * N)) invitations at ${rates[-1]} messages/s"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
echo "members: $N per org; pairs: $PAIRS"
echo "apply (median): quiet $(median "${quiet[@]}") ms, while delivering $(median "${busy[@]}") ms;"
echo "  busy/quiet within a pair (median): $(median "${ratios[@]}")"
echo "delivery (median): $(median "${rates[@]}") messages/s to the local SMTP server, one connection"
sent=$(curl -sf "$URL/metrics" | sed -n 's/^orgsync_deliveries{kind="invitation",status="sent"} //p')
echo "invitations sent: $sent of $((2 * N * PAIRS))"
