#!/usr/bin/env bash
# Run by run.sh after the test files: every answer they received (recorded
# by lib.sh's req into ORGSYNC_RECORD_DIR) is validated against the schema
# its route and status have in GET /v1/openapi.json
# (tests/support/check_responses.py).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

DIR=${1:?the directory of recorded answers}
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import jsonschema' 2>/dev/null; then
	skip_unless_required "answers hold to the OpenAPI schemas" \
		"python3-jsonschema is not installed (apt-get install -y python3-jsonschema)"
	finish
fi
unset ORGSYNC_RECORD_DIR
start_server
req GET /v1/openapi.json
cp "$BODY" "$TMP/openapi.json"
"$PY" tests/support/check_responses.py "$TMP/openapi.json" "$DIR" >"$TMP/check.out" 2>&1
rc=$?
sed "s/ - responses: / - $TEST_NAME: /" "$TMP/check.out" | grep -v '^# '
grep '^# ' "$TMP/check.out"
t "every recorded answer holds to its route's documented status and schema"
[ $rc -eq 0 ] || fail "see the not ok lines above"
finish
