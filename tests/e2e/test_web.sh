#!/usr/bin/env bash
# The web UI's server side: its files and their Content-Security-Policy,
# sign-in by the API key and by a mailed one-time link (read from the
# outbox here; tests/browser reads it from an SMTP server), the session
# cookie's attributes, CSRF and origin checks on changes, sign-out, and the
# ends of a session: the key rotated, the Administrator removed.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api
orgsync admin add boss@acme.example --org "$ORG_ID" --db "$DB_URL" >/dev/null
JAR=$TMP/cookies

# sreq METHOD PATH [CURL ARGS...]: a request with the session cookie and no key.
sreq() {
	local saved=$KEY
	KEY=
	req "$@" -b "$JAR" -c "$JAR"
	KEY=$saved
}

t "GET / is the UI's page under a CSP without inline scripts; its files are served, nothing else"
req GET /
expect_status 200
expect_match "content type" "text/html" "$(header Content-Type)"
csp=$(header Content-Security-Policy)
expect_match "script-src self" "script-src 'self'" "$csp"
[[ $csp == *unsafe-inline* ]] && fail "the CSP allows unsafe-inline: $csp"
expect_match "no framing" "frame-ancestors 'none'" "$csp"
req GET /ui/app.js
expect_status 200
expect_match "javascript" "text/javascript" "$(header Content-Type)"
req GET /ui/app.css
expect_status 200
for bad in /ui/..%2Fsrc%2Fserver%2Fopenapi.json /ui/index.html /ui/.hidden /ui/api.d.ts; do
	req GET "$bad"
	expect_status 404
done

t "the API key signs in: 201 with a CSRF token, an HttpOnly SameSite=Strict cookie"
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary "{\"apiKey\":\"$ORG_KEY\"}"
expect_status 201
CSRF=$(jqr .csrfToken)
expect_match "actor" '^key:[0-9a-f]{16}$' "$(jqr .actor)"
cookie=$(header Set-Cookie)
expect_match "HttpOnly" "HttpOnly" "$cookie"
expect_match "SameSite=Strict" "SameSite=Strict" "$cookie"
expect_match "expiring" "Max-Age=28800" "$cookie"
[[ $cookie == *Secure* ]] && fail "Secure on plain HTTP: the cookie would never come back"
grep -q "$ORG_KEY" "$TMP/server.err" && fail "the key reached the log"

t "a wrong key or a malformed body is refused"
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary '{"apiKey":"osk_nope"}'
expect_status 401
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary '{"apiKey":"x","token":"y"}'
expect_status 400

t "reads work with the cookie; a change needs the CSRF token and this origin"
sreq GET /v1/settings
expect_status 200
sreq PATCH /v1/settings -H 'Content-Type: application/json' --data-binary '{"autoInvite":true}'
expect_status 403
expect_jq "code" .error.code csrf
sreq PATCH /v1/settings -H 'Content-Type: application/json' -H "X-CSRF-Token: ${CSRF}x" --data-binary '{"autoInvite":true}'
expect_status 403
sreq PATCH /v1/settings -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" \
	-H 'Origin: https://evil.example' --data-binary '{"autoInvite":true}'
expect_status 403
expect_jq "code" .error.code cross_origin
sreq PATCH /v1/settings -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" \
	-H 'Sec-Fetch-Site: cross-site' --data-binary '{"autoInvite":true}'
expect_status 403
req GET /v1/settings
expect_jq "nothing changed" .autoInvite false
sreq PATCH /v1/settings -H 'Content-Type: application/json' -H "X-CSRF-Token: $CSRF" \
	-H "Origin: $BASE" -H 'Sec-Fetch-Site: same-origin' --data-binary '{"autoInvite":true}'
expect_status 200
expect_jq "changed" .autoInvite true

t "sign-in from a page of another site is refused"
sreq POST /v1/session -H 'Content-Type: application/json' -H 'Origin: https://evil.example' \
	--data-binary "{\"apiKey\":\"$ORG_KEY\"}"
expect_status 403

t "a sign-in link goes to an Administrator through the outbox, once, and signs in once"
sreq POST /v1/session/link -H 'Content-Type: application/json' --data-binary '{"email":"Boss@Acme.example"}'
expect_status 202
sreq POST /v1/session/link -H 'Content-Type: application/json' --data-binary '{"email":"nobody@acme.example"}'
expect_status 202
expect_eq "links queued (the stranger gets none)" 1 \
	"$(db_query "SELECT count(*) FROM outbox WHERE json_extract(payload, '\$.type') = 'signin.link'")"
TOKEN=$(db_query "SELECT json_extract(payload, '\$.token') FROM outbox WHERE json_extract(payload, '\$.type') = 'signin.link'")
expect_match "a token" '^[A-Za-z0-9_-]{43}$' "$TOKEN"
expect_eq "stored hashed only" 0 "$(db_query "SELECT count(*) FROM signin_links WHERE instr(hex(token_hash), hex('$TOKEN')) > 0")"
rm -f "$JAR"
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary "{\"token\":\"$TOKEN\"}"
expect_status 201
expect_jq "actor" .actor admin:boss@acme.example
ADMIN_CSRF=$(jqr .csrfToken)
cp "$JAR" "$TMP/admin.jar"
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary "{\"token\":\"$TOKEN\"}"
expect_status 401
for i in 1 2 3 4; do
	sreq POST /v1/session/link -H 'Content-Type: application/json' --data-binary '{"email":"boss@acme.example"}'
done
expect_eq "at most 3 live links" 4 \
	"$(db_query "SELECT count(*) FROM signin_links")"

t "a change made in the session is audited with the Administrator's email"
cp "$TMP/admin.jar" "$JAR"
sreq PATCH /v1/settings -H 'Content-Type: application/json' -H "X-CSRF-Token: $ADMIN_CSRF" --data-binary '{"autoInvite":false}'
expect_status 200
req GET '/v1/audit?action=settings.update&limit=1'
expect_jq "actor" '.items[0].actor' admin:boss@acme.example

t "sign-out ends the session and removes the cookie"
sreq DELETE /v1/session -H "X-CSRF-Token: $ADMIN_CSRF"
expect_status 204
expect_match "cookie removed" "Max-Age=0" "$(header Set-Cookie)"
cp "$TMP/admin.jar" "$JAR"
sreq GET /v1/session
expect_status 401

t "rotating the key ends the sessions opened with the old one, not the Administrators'"
rm -f "$JAR"
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary "{\"apiKey\":\"$ORG_KEY\"}"
KEY_CSRF=$(jqr .csrfToken)
cp "$JAR" "$TMP/key.jar"
rm -f "$JAR"
sreq POST /v1/session/link -H 'Content-Type: application/json' --data-binary '{"email":"boss@acme.example"}'
TOKEN=$(db_query "SELECT json_extract(payload, '\$.token') FROM outbox WHERE json_extract(payload, '\$.type') = 'signin.link' AND json_extract(payload, '\$.token') IS NOT NULL ORDER BY id DESC LIMIT 1")
sreq POST /v1/session -H 'Content-Type: application/json' --data-binary "{\"token\":\"$TOKEN\"}"
expect_status 201
cp "$JAR" "$TMP/admin.jar"
cp "$TMP/key.jar" "$JAR"
sreq POST /v1/keys/rotate -H "X-CSRF-Token: $KEY_CSRF"
expect_status 200
NEW_KEY=$(jqr .apiKey)
sreq GET /v1/settings
expect_status 401
cp "$TMP/admin.jar" "$JAR"
sreq GET /v1/settings
expect_status 200
KEY=$NEW_KEY
req GET /v1/settings
expect_status 200

t "an Administrator removed is signed out"
orgsync admin remove boss@acme.example --org "$ORG_ID" --db "$DB_URL" >/dev/null
sreq GET /v1/settings
expect_status 401

finish
