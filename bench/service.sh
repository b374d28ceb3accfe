#!/usr/bin/env bash
# Service benchmark: syncs of a generated org over HTTP against `orgsync serve`
# on SQLite, next to the floor measured in the same run: the sqlite3 CLI's
# .import of the same three CSV files into fresh tables.
#   bench/service.sh BUILD_DIR [MEMBERS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-100000}
BIN=$(realpath "$BUILD/orgsync")
DATA=bench/data/m$N-s42
WORK=$(mktemp -d)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

[ -f "$DATA/members.csv" ] || "$BIN" gen --members "$N" --seed 42 --out "$DATA" >/dev/null

# The floor: sqlite3 .import of the three files into fresh tables.
t=$(now)
sqlite3 "$WORK/floor.db" <<SQL
.mode csv
.import $DATA/members.csv members
.import $DATA/teams.csv teams
.import $DATA/teams-mappings.csv mappings
SQL
floor=$(elapsed "$t")

"$BIN" serve --db "sqlite:$WORK/svc.db" --listen 127.0.0.1:0 >"$WORK/out" 2>"$WORK/err" &
PID=$!
for _ in $(seq 100); do grep -q port "$WORK/out" 2>/dev/null && break; sleep 0.05; done
URL=http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$WORK/out")
KEY=$("$BIN" org create bench --db "sqlite:$WORK/svc.db" | sed -n 's/^api key (shown once): //p')
api() { curl -sf -H "Authorization: Bearer $KEY" "$@"; }
api -X PATCH -d '{"provisioning":{"method":"api"},"riskThreshold":{"members":{"percent":null},"teams":{"percent":null},"idSwapPercent":null}}' \
	"$URL/v1/settings" >/dev/null
api -d '{"name":"department"}' "$URL/v1/properties" >/dev/null

# push DIR -> seconds from the request to a final status; prints status and counts to fd 3.
push() {
	local t id s
	t=$(now)
	id=$(api -F "members=@$1/members.csv" -F "teams=@$1/teams.csv" \
		-F "teamsMappings=@$1/teams-mappings.csv" "$URL/v1/syncs" | jq -r .id)
	while s=$(api "$URL/v1/syncs/$id") && [ "$(jq -r .status <<<"$s")" = Pending ]; do sleep 0.01; done
	elapsed "$t"
	jq -c '{status, members: .counts.members}' <<<"$s" >&3
}

exec 3>"$WORK/statuses"
first=$(push "$DATA")
noop=$(push "$DATA")
# 1 % of the members get a new job title.
mkdir -p "$WORK/changed"
cp "$DATA"/teams.csv "$DATA"/teams-mappings.csv "$WORK/changed/"
awk -F, -v OFS=, 'NR > 1 && NR % 100 == 0 && $5 !~ /"/ { $5 = "Changed title " NR } { print }' \
	"$DATA/members.csv" >"$WORK/changed/members.csv"
changed=$(push "$WORK/changed")
rss=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$PID/status")

printf '\nservice benchmark, %s members (%s), %s\n' "$N" "$DATA" "$(date -u +%F)"
printf '%-44s %8s %10s %8s\n' measurement seconds "x floor" target
printf '%-44s %8.3f %10s %8s\n' "floor: sqlite3 .import of the 3 CSV files" "$floor" 1.00 ""
printf '%-44s %8.3f %10.2f %8s\n' "first sync (HTTP in, applied, final status)" "$first" "$(echo "$first / $floor" | bc -l)" "<= 3x"
printf '%-44s %8.3f %10s %8s\n' "no-op resync" "$noop" "" "<= 1 s"
printf '%-44s %8.3f %10s %8s\n' "1 % changed resync" "$changed" "" "<= 1.5 s"
printf '%-44s %8s %10s %8s\n' "service peak RSS (MiB)" "$rss" "" "<= 400"
echo "statuses:"; sed 's/^/  /' "$WORK/statuses"
echo "where the service spent it (ms, from its log):"; grep '"sync"' "$WORK/err" | sed 's/^/  /'
echo "request log:"; grep -v '"sync"' "$WORK/err" | grep POST | sed 's/^/  /' || true
