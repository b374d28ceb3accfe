#!/usr/bin/env bash
# The web UI in Debian's chromium, driven by playwright-core (tests/browser/ui.mjs):
# a fresh `orgsync serve` with a local SMTP server (the delivery tests'), an
# org with an Administrator, a sample org pushed with the API key; then
# sign-in by link and by key, settings, history, plans, approve and reject,
# the org chart, search, escaping, CSRF, and axe on every page. Screenshots
# go to tests/browser/out/. Prints "browser: N passed, M failed".
#   ORGSYNC=build/orgsync tests/browser/run.sh
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
ORGSYNC=${ORGSYNC:-build/orgsync}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
for need in node /usr/bin/chromium; do
	command -v "$need" >/dev/null || { echo "not ok - browser: $need is not installed (scripts/install-deps.sh test)"; echo "browser: 0 passed, 1 failed"; exit 1; }
done
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/@axe-core/playwright ]; then
	echo "not ok - browser: node_modules is missing (npm ci)"
	echo "browser: 0 passed, 1 failed"
	exit 1
fi
TMP=$(mktemp -d "${TMPDIR:-/tmp}/orgsync-browser.XXXXXX")
SINK=
SERVER=
cleanup() {
	[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null
	[ -n "$SINK" ] && kill "$SINK" 2>/dev/null && wait "$SINK" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$TMP/mail" tests/browser/out
"$PY" tests/support/smtp_sink.py --dir "$TMP/mail" --port 0 --port-file "$TMP/smtp.port" 2>"$TMP/sink.err" &
SINK=$!
for _ in $(seq 100); do [ -s "$TMP/smtp.port" ] && break; sleep 0.05; done
PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
DB=sqlite:$TMP/db
out=$($ORGSYNC org create Acme --db "$DB" 2>&1)
KEY=$(sed -n 's/^api key (shown once): //p' <<<"$out")
ORG=$(sed -n 's/^organization \([0-9][0-9]*\) created: .*/\1/p' <<<"$out")
$ORGSYNC admin add admin@acme.example --org "$ORG" --db "$DB" >/dev/null || exit 1
$ORGSYNC serve --db "$DB" --listen "127.0.0.1:$PORT" --quiet --public-url "$BASE" \
	--smtp-url "smtp://127.0.0.1:$(cat "$TMP/smtp.port")" --smtp-from "orgsync <orgsync@acme.example>" \
	>"$TMP/server.out" 2>"$TMP/server.err" &
SERVER=$!
for _ in $(seq 100); do curl -sf "$BASE/healthz" >/dev/null && break; sleep 0.1; done
BASE=$BASE KEY=$KEY MAILDIR=$TMP/mail ADMIN=admin@acme.example OUT=tests/browser/out \
	node tests/browser/ui.mjs
rc=$?
[ $rc -eq 0 ] || { echo "# server log:"; tail -5 "$TMP/server.err"; }
exit $rc
