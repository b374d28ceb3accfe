#!/usr/bin/env bash
# Sync reports (SPEC §5): JSON and CSV by Accept; the CSV parses back (RFC
# 4180, read here by sqlite3's importer) into the same issues as the JSON.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

start_server
new_org acme
KEY=$ORG_KEY
enable_api

# An org whose rows give issues, some with commas, quotes and a line break in
# what the messages quote.
O=$TMP/org
mkdir -p "$O"
cat >"$O/members.csv" <<'EOF'
externalMemberId,email,firstName,lastName,languagePreferences,colour
M1,m1@acme.example,Ann,One,en,red
M2,"bad,""quoted"" email",Bob,Two,fr,blue
M3,m3@acme.example,Cy,Three,"xx,yy",green
M1,m1b@acme.example,Dup,Id,en,red
"M4
split",m4@acme.example,Di,Four,de,red
M5,M1@ACME.example,Eve,Five,en,red
EOF
cat >"$O/teams.csv" <<'EOF'
externalTeamId,teamName
T1,"Sales, East"
T2,
EOF
cat >"$O/teams-mappings.csv" <<'EOF'
externalTeamId,externalMemberId,externalSubteamId,isMember,isManager
T1,M1,,true,false
T9,M3,,true,false
T1,M404,,true,false
T1,,T1,,
T1,M3,,false,false
EOF

t "a sync with record errors ends Warning and counts its issues"
sync_csv "$O"
expect_sync Warning
ISSUES=$(jqr .issues "$TMP/sync.json")
expect_true "several issues" '.issues >= 6' "$TMP/sync.json"
req GET /v1/members/M1
expect_status 200
expect_jq "the good row applied" .email m1@acme.example

t "JSON report: one entry per issue, each with every field"
req GET "/v1/syncs/$SYNC/report"
expect_status 200
expect_match "content type" '^application/json' "$(header Content-Type)"
cp "$BODY" "$TMP/report.json"
expect_jq "issues" '.issues | length' "$ISSUES"
expect_jq "syncId" .syncId "$SYNC"
expect_true "fields" '[.issues[] | has("severity") and has("code") and has("file") and has("line") and
	has("column") and has("field") and has("recordId") and has("message")] | all'
expect_true "severities" '[.issues[].severity] - ["fatal", "error", "warning"] | length == 0'
expect_true "the unknown column is a warning naming it" \
	'[.issues[] | select(.severity == "warning" and .field == "colour")] | length == 1'
expect_true "the bad email names its line (3) and record" \
	'[.issues[] | select(.file == "members.csv" and .line == 3 and .field == "email" and .recordId == "M2")] | length == 1'
expect_true "the unknown team in the mappings names its line (3)" \
	'[.issues[] | select(.file == "teams-mappings.csv" and .line == 3)] | length >= 1'

t "CSV report (Accept: text/csv): the exact header, one row per issue"
req GET "/v1/syncs/$SYNC/report" -H 'Accept: text/csv'
expect_status 200
expect_match "content type" '^text/csv' "$(header Content-Type)"
cp "$BODY" "$TMP/report.csv"
expect_eq "header" "severity,code,file,line,column,field,recordId,message" "$(head -1 "$TMP/report.csv" | tr -d '\r')"

t "CSV report parses back (RFC 4180) into the JSON report's issues"
rows=$(sqlite3 :memory: ".import --csv $TMP/report.csv r" "SELECT count(*) FROM r" 2>&1)
expect_eq "rows" "$ISSUES" "$rows"
sqlite3 :memory: ".import --csv $TMP/report.csv r" ".mode json" "SELECT * FROM r" \
	>"$TMP/report-csv.json" 2>&1
norm='[.[] | {severity, code, file, line: (.line | tostring), column: (.column | tostring), field,
	recordId, message}]'
A=$(jq -c "$norm" "$TMP/report-csv.json" 2>&1)
B=$(jq -c ".issues | $norm" "$TMP/report.json" 2>&1)
expect_eq "CSV rows equal the JSON issues" "$B" "$A"
expect_true "a message with a comma or a quote survived" \
	'[.[] | select(.message | test("[,\"]"))] | length >= 1' "$TMP/report-csv.json"

t "?format=csv gives the same CSV"
req GET "/v1/syncs/$SYNC/report?format=csv"
expect_status 200
if ! cmp -s "$BODY" "$TMP/report.csv"; then fail "?format=csv differs from Accept: text/csv"; fi

t "a clean sync has an empty report: CSV is the header alone"
C=$TMP/clean
fx_new "$C"
fx_member "$C" M1 m1@acme.example
sync_csv "$C" "?mode=partial"
expect_sync Success
req GET "/v1/syncs/$SYNC/report" -H 'Accept: text/csv'
expect_eq "CSV lines" 1 "$(wc -l <"$BODY" | tr -d ' ')"
req GET "/v1/syncs/$SYNC/report"
expect_jq "JSON issues" '.issues | length' 0

t "CSV report: a cell that a spreadsheet would run as a formula starts with a quote"
# OWASP's advice for CSV meant for spreadsheets: = + - @ tab CR at the start
# of a cell get a leading ' inside the quotes. A legitimate -5 is quoted too:
# a report is read by people, not read back as data.
F=$TMP/formula
fx_new "$F"
cat >>"$F/members.csv" <<'EOF'
"=HYPERLINK(""http://x"",""y"")",not-an-email,Eve,Il
-5,also-not-an-email,Minus,Five
@SUM(A1),still-not-an-email,At,Sign
M9,m9@acme.example,Fine,Row
EOF
sync_csv "$F" "?mode=partial"
expect_sync Warning
req GET "/v1/syncs/$SYNC/report" -H 'Accept: text/csv'
expect_status 200
cp "$BODY" "$TMP/formula.csv"
grep -qF ",\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"," "$TMP/formula.csv" ||
	{ fail "the =HYPERLINK id is not neutralised"; note "$TMP/formula.csv"; }
grep -qF ",\"'-5\"," "$TMP/formula.csv" || { fail "the -5 id is not neutralised"; note "$TMP/formula.csv"; }
grep -qF ",\"'@SUM(A1)\"," "$TMP/formula.csv" || { fail "the @SUM id is not neutralised"; note "$TMP/formula.csv"; }
if grep -qE '(^|,)[=+@-]' "$TMP/formula.csv"; then
	fail "a cell starts with a formula character"; note "$TMP/formula.csv"
fi
req GET "/v1/syncs/$SYNC/report"
expect_true "the JSON report keeps the id exactly" \
	'[.issues[] | select(.recordId == "=HYPERLINK(\"http://x\",\"y\")")] | length == 1'

t "report of an unknown sync: 404"
req GET /v1/syncs/424242/report
expect_status 404

finish
