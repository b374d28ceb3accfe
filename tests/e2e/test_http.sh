#!/usr/bin/env bash
# The HTTP edge (SPEC §6, §8): unknown routes, wrong methods, malformed
# bodies, request ids, and the request body limit.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api

t "unknown route: 404 not_found as JSON, with or without a key"
for path in /v1/nope /v2/syncs /v1/syncs/1/nope /v1/members/M1/teams /ui /nope/; do
	req GET "$path"
	expect_status 404
	expect_jq "GET $path error code" .error.code not_found
done
SAVED=$KEY
KEY=
req GET /v1/nope
expect_status 404
KEY=$SAVED

t "wrong method on a known route: 405 method_not_allowed with Allow"
req DELETE /v1/syncs
expect_status 405
expect_jq "error code" .error.code method_not_allowed
expect_true "body has details" '.error.details == []'
expect_match "Allow lists POST and GET" '^(POST, GET|GET, POST)$' "$(header Allow)"
req PUT /v1/settings -H 'Content-Type: application/json' --data-binary '{}'
expect_status 405
expect_match "Allow for settings" 'GET' "$(header Allow)"
expect_match "Allow for settings" 'PATCH' "$(header Allow)"
req GET /v1/syncs/1/approve
expect_status 405
expect_eq "Allow for approve" POST "$(header Allow)"
req POST /healthz
expect_status 405
req DELETE /v1/members/M1
expect_status 405

t "malformed JSON bodies: 400 with where it broke"
req_json POST /v1/properties '{"name": '
expect_status 400
expect_jq "code" .error.code malformed_json
expect_match "line and column" 'line [0-9]+, column [0-9]+' "$(jqr .error.message)"
req_json PATCH /v1/settings '[1,2'
expect_status 400
expect_jq "code" .error.code malformed_json
req_json PATCH /v1/settings '{"provisioning":{"method":"ftp"}}'
expect_status 400
expect_jq "code" .error.code invalid_setting
req_json PATCH /v1/settings '{"colour":"blue"}'
expect_status 400
expect_jq "code" .error.code invalid_setting
req GET /v1/settings
expect_jq "settings unchanged" .provisioning.method api

t "JSON sync payload of the wrong shape: 400 invalid_input"
printf '[1,2,3]' >"$TMP/array.json"
push_json "$TMP/array.json"
expect_status 400
expect_jq "code" .error.code invalid_input
printf '' >"$TMP/empty.json"
push_json "$TMP/empty.json"
expect_status 400

t "a request id is echoed when given, made up otherwise"
req GET /healthz -H 'X-Request-Id: test-req-42'
expect_eq "X-Request-Id" test-req-42 "$(header X-Request-Id)"
req GET /healthz
expect_match "X-Request-Id generated" '^[0-9a-f]{8,}$' "$(header X-Request-Id)"

t "errors are JSON with code, message and details"
req GET /v1/members/NOBODY
expect_status 404
expect_true "error shape" '.error | (.code | type) == "string" and (.message | type) == "string" and (.details | type) == "array"'
expect_match "content type" '^application/json' "$(header Content-Type)"

# --- the body limit: a server with --max-body 1000 on the same database

t "the server stops cleanly on SIGTERM (and restarts on the same database)"
stop_server
expect_eq "exit status" 0 "$?"
start_server --max-body 1000

t "a body over --max-body: 413 too_large (JSON)"
head -c 2000 /dev/zero | tr '\0' ' ' >"$TMP/big.json"
push_json "$TMP/big.json"
expect_status 413
expect_jq "code" .error.code too_large
expect_match "message names the limit" 1000 "$(jqr .error.message)"

t "a body over --max-body: 413 too_large (multipart)"
D=$TMP/d
fx_new "$D"
fx_people "$D" 40
push_csv "$D"
expect_status 413
expect_jq "code" .error.code too_large

t "a chunked body over --max-body (no Content-Length): 413"
req POST /v1/syncs -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
	--data-binary "@$TMP/big.json"
expect_status 413

t "under the limit the same server answers normally"
D2=$TMP/d2
fx_new "$D2"
fx_people "$D2" 3
sync_csv "$D2"
expect_sync Success
req GET /healthz
expect_status 200

finish
