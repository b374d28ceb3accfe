#!/usr/bin/env bash
# `orgsync convert` never loses a row silently. A sync is the whole truth:
# a member missing from what is pushed is removed, while a skipped (invalid)
# row protects the member it names (SPEC §3). A conversion that left the
# invalid row out used to turn the second into the first.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api
no_risk_limits

HRIS=$TMP/hris
fx_new "$HRIS"
fx_people "$HRIS" 5
fx_team "$HRIS" T1 Company
for i in 1 2 3 4 5; do fx_in "$HRIS" T1 "M00$i"; done

t "the org is in the service"
sync_csv "$HRIS"
expect_sync Success
expect_eq "members" 5 "$(member_count)"

# Tonight's export has one bad row.
fx_sed "$HRIS" members.csv 's/^M003,m003@acme.example,/M003,m003-at-acme.example,/'

t "the export pushed as it is: the bad row is skipped, M003 stays"
sync_csv "$HRIS" "?dryRun=true"
expect_sync Warning
expect_count "deleted" .counts.members.deleted 0
expect_count "deactivated" .counts.members.deactivated 0

t "convert refuses to write a conversion without M003"
orgsync convert --dir "$HRIS" -o "$TMP/converted" >"$TMP/out" 2>&1
expect_eq "exit status" 1 "$?"
[ -e "$TMP/converted" ] && fail "convert wrote $TMP/converted"
grep -q "members.csv:4:2: error: 'm003-at-acme.example' is not a valid email address" "$TMP/out" ||
	{ fail "the bad row is not reported"; note "$TMP/out"; }

t "--drop-invalid writes it, names M003, and a sync of it would remove M003"
orgsync convert --dir "$HRIS" -o "$TMP/converted" --drop-invalid >"$TMP/out" 2>&1
expect_eq "exit status" 1 "$?"
grep -q "dropped members.csv:4 record 'M003'" "$TMP/out" || { fail "M003 not named"; note "$TMP/out"; }
sync_csv "$TMP/converted" "?dryRun=true"
expect_sync Success
expect_count "M003 would go, and nothing says so" .counts.members.deleted 1
expect_eq "nothing changed (dry run)" 5 "$(member_count)"

finish
