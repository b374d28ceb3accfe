#!/usr/bin/env bash
# The vendors' own SCIM test suites, read from ../shared/testdata/scim-suites
# (never copied here): Okta's SCIM 2.0 SPEC Test (a Runscope export, run by
# tests/scim/runscope.js with its initial script) against an org holding
# one member made by a CSV sync, and Microsoft's Postman collection (every
# folder but "Get Token", run by newman) against an empty org. Each case
# reports the assertions passed of the total.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

SUITES=${SHARED:-$E2E_ROOT/../shared}/testdata/scim-suites
if [ ! -f "$SUITES/Okta-SCIM-20-SPEC-Test.json" ] || ! command -v node >/dev/null; then
	skip_unless_required "the vendors' SCIM suites" \
		"node (apt-get install -y nodejs npm) or the suites in $SUITES (set SHARED) missing"
	finish
fi

start_server
new_org okta
KEY=$ORG_KEY
enable_api
O=$TMP/org
fx_new "$O"
fx_member "$O" E1 jane.doe@acme.example Jane Doe
sync_csv "$O"
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'

t "Okta's SCIM 2.0 SPEC Test: every assertion"
node tests/scim/runscope.js "$SUITES/Okta-SCIM-20-SPEC-Test.json" \
	"$SUITES/Initial_Script_Spec.txt" "$BASE/scim/v2" "Bearer $KEY" >"$TMP/okta.out" 2>&1
okta=$(sed -n 's/^assertions: \([0-9]*\) passed of \([0-9]*\).*/\1 of \2/p' "$TMP/okta.out")
echo "# Okta SPEC test: ${okta:-no result} assertions passed"
expect_eq "Okta assertions passed" "52 of 52" "$okta"
grep -q '^not ok' "$TMP/okta.out" && note "$TMP/okta.out"

t "Microsoft's Postman collection: every assertion but Get Token's"
NEWMAN=$(tests/scim/newman.sh 2>"$TMP/npm.err") || { fail "newman could not be installed"; note "$TMP/npm.err"; }
new_org microsoft
KEY=$ORG_KEY
req_json PATCH /v1/settings '{"provisioning":{"method":"scim"}}'
node -e 'const fs = require("fs"); const c = JSON.parse(fs.readFileSync(process.argv[1]));
	c.item = c.item.filter((i) => i.name !== "Get Token");
	fs.writeFileSync(process.argv[2], JSON.stringify(c));' \
	"$SUITES/SCIMReferenceCode-PostmanCollection.json" "$TMP/collection.json"
if [ -n "${NEWMAN:-}" ]; then
	"$NEWMAN" run "$TMP/collection.json" --env-var Protocol=http --env-var Server=127.0.0.1 \
		--env-var Port=":$PORT" --env-var Api=scim/v2 --env-var "token=$KEY" \
		--reporters cli,json --reporter-json-export "$TMP/newman.json" \
		--reporter-cli-no-banner --reporter-cli-no-summary >"$TMP/newman.out" 2>&1
	ms=$(node -e 'const s = require(process.argv[1]).run.stats.assertions;
		console.log(`${s.total - s.failed} of ${s.total}`)' "$TMP/newman.json" 2>/dev/null)
	echo "# Microsoft Postman collection: ${ms:-no result} assertions passed"
	expect_eq "Microsoft assertions passed" "107 of 107" "$ms"
	[ "$CASE_FAILED" -eq 0 ] || note "$TMP/newman.out"
fi

finish
