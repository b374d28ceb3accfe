#!/usr/bin/env bash
# PostgreSQL next to SQLite, in one run: the first sync of a generated org
# and its 1 %-changed resync on each backend (the ratio PostgreSQL/SQLite),
# then ORGS orgs of ORG_MEMBERS members pushed at once to one service and
# to two services sharing the PostgreSQL database (the ratio two/one).
# The cluster is a throwaway one (scripts/pg-cluster.sh).
#   bench/postgres.sh BUILD_DIR [MEMBERS] [ORGS] [ORG_MEMBERS]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
N=${2:-100000}
ORGS=${3:-20}
ORG_N=${4:-10000}
BIN=$(realpath "$BUILD/orgsync")
DATA=bench/data/m$N-s42
SMALL=bench/data/m$ORG_N-s42
WORK=$(mktemp -d)
chmod 755 "$WORK" # the cluster runs as the postgres user when we are root
PIDS=()
stop_all() {
	local p
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	PIDS=()
}
trap 'stop_all; scripts/pg-cluster.sh stop "$WORK/pg" >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT

now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc; }

[ -f "$DATA/members.csv" ] || "$BIN" gen --members "$N" --seed 42 --out "$DATA" >/dev/null
[ -f "$SMALL/members.csv" ] || "$BIN" gen --members "$ORG_N" --seed 42 --out "$SMALL" >/dev/null
PGURL=$(scripts/pg-cluster.sh start "$WORK/pg")
psql -q "${PGURL}postgres" -c "CREATE DATABASE single" -c "CREATE DATABASE scale"

# serve DB: starts a service; SERVE_URL gets its URL, PIDS its pid.
serve() {
	local out="$WORK/out.$RANDOM"
	"$BIN" serve --db "$1" --listen 127.0.0.1:0 >"$out" 2>>"$WORK/err" &
	PIDS+=($!)
	for _ in $(seq 200); do grep -q port "$out" 2>/dev/null && break; sleep 0.05; done
	SERVE_URL="http://127.0.0.1:$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$out")"
}

# org DB URL NAME -> a key of a new org set up for benchmarks on that service.
org() {
	local key
	key=$("$BIN" org create "$3" --db "$1" | sed -n 's/^api key (shown once): //p')
	curl -sf -H "Authorization: Bearer $key" -X PATCH -d '{"provisioning":{"method":"api"},
		"riskThreshold":{"members":{"percent":null},"teams":{"percent":null},"idSwapPercent":null}}' \
		"$2/v1/settings" >/dev/null
	curl -sf -H "Authorization: Bearer $key" -d '{"name":"department"}' "$2/v1/properties" >/dev/null
	echo "$key"
}

# push URL KEY DIR -> waits for a final status; prints status and member counts to fd 3.
push() {
	local id s
	id=$(curl -sf -H "Authorization: Bearer $2" -F "members=@$3/members.csv" \
		-F "teams=@$3/teams.csv" -F "teamsMappings=@$3/teams-mappings.csv" "$1/v1/syncs" | jq -r .id)
	while s=$(curl -sf -H "Authorization: Bearer $2" "$1/v1/syncs/$id") &&
		[ "$(jq -r .status <<<"$s")" = Pending ]; do sleep 0.02; done
	jq -c '{status, members: .counts.members}' <<<"$s" >&3
}

# 1 % of the members get a new job title (as bench/service.sh does).
mkdir -p "$WORK/changed"
cp "$DATA"/teams.csv "$DATA"/teams-mappings.csv "$WORK/changed/"
awk -F, -v OFS=, 'NR > 1 && NR % 100 == 0 && $5 !~ /"/ { $5 = "Changed title " NR } { print }' \
	"$DATA/members.csv" >"$WORK/changed/members.csv"

exec 3>"$WORK/statuses"
declare -A first changed
for backend in sqlite postgres; do
	if [ "$backend" = sqlite ]; then db="sqlite:$WORK/svc.db"; else db="${PGURL}single"; fi
	serve "$db"
	url=$SERVE_URL
	key=$(org "$db" "$url" bench)
	t=$(now); push "$url" "$key" "$DATA"; first[$backend]=$(elapsed "$t")
	t=$(now); push "$url" "$key" "$WORK/changed"; changed[$backend]=$(elapsed "$t")
	stop_all
done

# ORGS orgs pushed at once: to one service, then spread over two on one database.
declare -A wall
for services in 1 2; do
	psql -q "${PGURL}postgres" -c "DROP DATABASE IF EXISTS scale" -c "CREATE DATABASE scale"
	urls=()
	for _ in $(seq "$services"); do
		serve "${PGURL}scale"
		urls+=("$SERVE_URL")
	done
	keys=()
	for i in $(seq "$ORGS"); do keys+=("$(org "${PGURL}scale" "${urls[0]}" "org$i")"); done
	t=$(now)
	jobs=()
	for i in $(seq 0 $((ORGS - 1))); do
		push "${urls[$((i % services))]}" "${keys[$i]}" "$SMALL" &
		jobs+=($!)
	done
	for j in "${jobs[@]}"; do wait "$j"; done
	wall[$services]=$(elapsed "$t")
	stop_all
done

ratio() { echo "$1 / $2" | bc -l; }
printf '\nPostgreSQL beside SQLite, %s members (%s), %s\n' "$N" "$DATA" "$(date -u +%F)"
printf '%-40s %9s %9s %8s %8s\n' measurement sqlite postgres "pg/sq" target
printf '%-40s %9.3f %9.3f %8.2f %8s\n' "first sync (s)" "${first[sqlite]}" "${first[postgres]}" \
	"$(ratio "${first[postgres]}" "${first[sqlite]}")" "<= 2x"
printf '%-40s %9.3f %9.3f %8.2f %8s\n' "1 % changed resync (s)" "${changed[sqlite]}" \
	"${changed[postgres]}" "$(ratio "${changed[postgres]}" "${changed[sqlite]}")" "<= 2x"
printf '\n%s orgs x %s members pushed at once, PostgreSQL\n' "$ORGS" "$ORG_N"
printf '%-40s %9s\n' "services" "wall (s)"
printf '%-40s %9.3f\n' "one" "${wall[1]}" "two, one database" "${wall[2]}"
printf '%-40s %9.2f\n' "ratio two/one" "$(ratio "${wall[2]}" "${wall[1]}")"
echo "statuses:"; sort "$WORK/statuses" | uniq -c | sed 's/^/  /'
