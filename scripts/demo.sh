#!/usr/bin/env bash
# make demo: the sample org through orgsync, locally and through the service.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-build/orgsync}")
OUT=$PWD/build/demo
PORT=${ORGSYNC_DEMO_PORT:-8080}
rm -rf "$OUT" && mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n' "$1"; [ $# -gt 1 ] && printf '$ %s\n' "$2"; }

step "Validate the sample org (current CSV format)" "orgsync validate --dir examples/current"
"$BIN" validate --dir examples/current

step "The same org in the legacy Officevibe format, converted to the current one" \
	"orgsync convert --dir examples/legacy -o $OUT/converted"
"$BIN" convert --dir examples/legacy -o "$OUT/converted"
for f in members.csv teams.csv teams-mappings.csv; do
	cmp -s "$OUT/converted/$f" "examples/current/$f" && echo "  $f: identical to examples/current/$f" ||
		echo "  $f: DIFFERS from examples/current/$f"
done

step "A file with mistakes: each one named with file, line and column" \
	"orgsync validate --members tests/data/csv/quoted_newline_then_bad_email.csv ..."
"$BIN" validate --members tests/data/csv/quoted_newline_then_bad_email.csv \
	--teams tests/data/csv/teams_three.csv --mappings tests/data/csv/mappings_cycle_and_unknown.csv

# --- the service
DB=$OUT/orgsync.db
if curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz"; then
	PORT=0 # something already listens there: take any free port
fi
step "Start the service on SQLite" "orgsync serve --db sqlite:$DB --listen 127.0.0.1:$PORT"
nohup "$BIN" serve --db "sqlite:$DB" --listen "127.0.0.1:$PORT" >"$OUT/serve.out" 2>"$OUT/serve.log" &
PID=$!
for _ in $(seq 50); do grep -q "port" "$OUT/serve.out" 2>/dev/null && break; sleep 0.1; done
PORT=$(sed -n 's/.*(port \([0-9]*\)).*/\1/p' "$OUT/serve.out")
URL=http://127.0.0.1:$PORT
cat "$OUT/serve.out"

step "Create an organization (its API key is shown once)" "orgsync org create 'Maple & Fir' --db sqlite:$DB"
"$BIN" org create "Maple & Fir Outdoor Co." --db "sqlite:$DB" | tee "$OUT/org.txt"
KEY=$(sed -n 's/^api key (shown once): //p' "$OUT/org.txt")
api() { curl -s -H "Authorization: Bearer $KEY" "$@"; }

step "Activate API provisioning and define the custom property" \
	"PATCH /v1/settings {\"provisioning\":{\"method\":\"api\"}}; POST /v1/properties"
api -X PATCH -d '{"provisioning":{"method":"api"}}' "$URL/v1/settings" | jq -c .provisioning
api -d '{"name":"department"}' "$URL/v1/properties" | jq -c .

export ORGSYNC_API_KEY=$KEY
step "Push the sample org with the client, and wait for the result" \
	"ORGSYNC_API_KEY=... orgsync push --url $URL --dir examples/current --wait"
"$BIN" push --url "$URL" --dir examples/current --wait
echo "(exit $?: 0 Success, 1 Warning, 2 invalid, 3 Paused, 4 Rejected/Failed, 5 auth/config, 6 network)"

step "Push a changed copy: one member gone, one team renamed, one new hire"
mkdir -p "$OUT/changed"
cp examples/current/*.csv "$OUT/changed/"
gone=$(sed -n '3p' "$OUT/changed/members.csv" | cut -d, -f1)
sed -i '3d' "$OUT/changed/members.csv"
grep -v ",$gone," examples/current/teams-mappings.csv >"$OUT/changed/teams-mappings.csv"
echo "E900,new.hire@maple-fir.example,Nouvelle,Recrue,Trainee,,fr,Officevibe,Sales" >>"$OUT/changed/members.csv"
team=$(sed -n '3p' "$OUT/changed/teams.csv" | cut -d, -f1)
sed -i "3s/,.*/,Renamed Team/" "$OUT/changed/teams.csv"
echo "$(sed -n '2p' examples/current/teams-mappings.csv | cut -d, -f1),E900,,true,false" >>"$OUT/changed/teams-mappings.csv"
echo "removed $gone, renamed team $team, added E900"
step "Preview it first: a dry run, as a readable diff" "orgsync plan --url $URL --dir $OUT/changed"
"$BIN" plan --url "$URL" --dir "$OUT/changed"
step "Push it" "orgsync push --url $URL --dir $OUT/changed --wait"
"$BIN" push --url "$URL" --dir "$OUT/changed" --wait

cat <<EOT

The service is still running (pid $PID) at $URL, database $DB.
  Open $URL/ in a browser and sign in with the API key: history, plans, settings, the org chart.
  export ORGSYNC_API_KEY=$KEY
  curl -H "Authorization: Bearer \$ORGSYNC_API_KEY" $URL/v1/members
  curl -H "Authorization: Bearer \$ORGSYNC_API_KEY" $URL/v1/syncs
  curl $URL/metrics
Stop it with: kill $PID
Logs: $OUT/serve.log
EOT
