#!/usr/bin/env bash
# Custom property definitions (SPEC §1, §6): input columns are matched
# ignoring case, so two definitions that differ only in case would name one
# column and make every file carrying it fail; the second is refused (409).
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api

t "a property is defined once"
req_json POST /v1/properties '{"name":"Department"}'
expect_status 201
expect_jq "name" .name Department

t "the same name again: 409 property_exists"
req_json POST /v1/properties '{"name":"Department"}'
expect_status 409
expect_jq "code" .error.code property_exists

t "a name differing only in case: 409 property_exists, naming the defined one"
for name in department DEPARTMENT dEpArTmEnT; do
	req_json POST /v1/properties "{\"name\":\"$name\"}"
	expect_status 409
	expect_jq "code for $name" .error.code property_exists
	expect_match "message for $name names Department" "'Department'" "$(jqr .error.message)"
done
req GET /v1/properties
expect_jq "one definition" '[.items[].name] | join(",")' Department

t "a file carrying the column syncs"
O=$TMP/org
fx_new "$O"
printf 'externalMemberId,email,firstName,lastName,Department\n' >"$O/members.csv"
printf 'M1,m1@acme.example,Ann,One,Sales\n' >>"$O/members.csv"
sync_csv "$O"
expect_sync Success
req GET /v1/members/M1
expect_status 200

t "once deleted, the name is free in any case"
req DELETE /v1/properties/Department
expect_status 204
req_json POST /v1/properties '{"name":"department"}'
expect_status 201

finish
