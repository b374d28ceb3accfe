#!/usr/bin/env bash
# The org chart of the web UI on a 1,000-team, 100,000-member org, in
# headless chromium (bench/webui.mjs): first paint of the chart (from the
# navigation's start, and from the page's own start), the time to show the
# top 3 levels (1 + 10 + 100 teams, 11 requests) and to open every level
# (1,000 teams), median of RUNS; and the size of the UI's JS and CSS.
#   bench/webui.sh BUILD_DIR [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$1/orgsync
RUNS=${2:-5}
TMP=$(mktemp -d)
SERVER=
trap '[ -n "$SERVER" ] && kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
python3 - "$TMP/org.json" <<'PY'
import json, sys
# 1 root, 10 under it, 10 under each of those, the other 889 under the 100;
# 100 members a team, the first of each its manager.
teams = [{"externalTeamId": "T0000", "teamName": "Company"}]
maps, parents, level2 = [], ["T0000"], []
for i in range(1, 1000):
    tid = "T%04d" % i
    teams.append({"externalTeamId": tid, "teamName": "Team %d" % i})
    parent = "T0000" if i <= 10 else "T%04d" % (1 + (i - 11) // 10) if i <= 110 else "T%04d" % (11 + (i - 111) % 100)
    maps.append({"externalTeamId": parent, "externalSubteamId": tid})
members = []
for m in range(100000):
    mid = "M%06d" % m
    members.append({"externalMemberId": mid, "email": "m%06d@bench.example" % m, "firstName": "First%d" % m, "lastName": "Last%d" % m})
    maps.append({"externalTeamId": "T%04d" % (m // 100), "externalMemberId": mid, "isMember": True, "isManager": m % 100 == 0})
json.dump({"members": members, "teams": teams, "teamMappings": maps}, open(sys.argv[1], "w"))
PY
out=$($BIN org create Bench --db "sqlite:$TMP/db")
KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
$BIN serve --db "sqlite:$TMP/db" --listen "127.0.0.1:$PORT" --quiet --max-body 1000000000 >"$TMP/out" 2>&1 &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
curl -sf -X PATCH -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	--data-binary '{"provisioning":{"method":"api"}}' "http://127.0.0.1:$PORT/v1/settings" >/dev/null
id=$(curl -sf -X POST -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
	--data-binary "@$TMP/org.json" "http://127.0.0.1:$PORT/v1/syncs" | jq .id)
for _ in $(seq 600); do
	st=$(curl -sf -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/v1/syncs/$id" | jq -r .status)
	[ "$st" != Pending ] && break
	sleep 0.2
done
echo "org: 1000 teams, 100000 members (sync $id: $st)"
BASE=http://127.0.0.1:$PORT KEY=$KEY RUNS=$RUNS node bench/webui.mjs
echo "UI size: $(cat web/app.js web/app.css web/index.html | wc -c) bytes uncompressed" \
	"(app.js $(wc -c <web/app.js), app.css $(wc -c <web/app.css), index.html $(wc -c <web/index.html))"
