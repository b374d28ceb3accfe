#!/usr/bin/env bash
# End-to-end tests of the orgsync command line: the real binary on real files.
# ORGSYNC may hold a wrapper ("valgrind -q ... build/orgsync").
set -uo pipefail
cd "$(dirname "$0")/../.."
ORGSYNC=${ORGSYNC:-build/orgsync}
DATA=tests/data/csv
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect_exit CODE NAME -- CMD...: runs CMD, output in $TMP/out, checks the exit code.
expect_exit() {
	local want=$1 name=$2
	shift 3
	"$@" >"$TMP/out" 2>"$TMP/err"
	local got=$?
	if [ "$got" -eq "$want" ]; then ok; else
		ko "$name: exit $got, expected $want"; sed 's/^/  | /' "$TMP/out" "$TMP/err" | head -20 >&2
	fi
}

# expect_in FILE TEXT NAME
expect_in() {
	if grep -qF -- "$2" "$1"; then ok; else ko "$3: '$2' not in output"; sed 's/^/  | /' "$1" | head -20 >&2; fi
}

expect_not_in() {
	if grep -qF -- "$2" "$1"; then ko "$3: '$2' unexpectedly in output"; else ok; fi
}

same_files() {
	if cmp -s "$1" "$2"; then ok; else ko "$3: $1 differs from $2"; diff "$1" "$2" | head -20 >&2; fi
}

csv3() { echo --members "$1" --teams "$2" --mappings "$3"; }
H_T=$TMP/teams.csv
H_X=$TMP/maps.csv
printf 'externalTeamId,teamName\n' >"$H_T"
printf 'externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n' >"$H_X"

# --- help and dispatch
expect_exit 0 help -- $ORGSYNC help
expect_in "$TMP/out" "validate" help
expect_in "$TMP/out" "convert" help
expect_not_in "$TMP/out" " gen " "gen is hidden"
expect_exit 0 "validate --help" -- $ORGSYNC validate --help
expect_in "$TMP/out" "--format" "validate --help"
expect_exit 0 "help convert" -- $ORGSYNC help convert
expect_in "$TMP/out" "--to csv|json" "help convert"
expect_exit 2 "unknown command" -- $ORGSYNC frobnicate
expect_in "$TMP/err" "'frobnicate' is not a command" "unknown command"
expect_exit 2 "no input" -- $ORGSYNC validate
expect_in "$TMP/err" "no input" "no input"

# --- the sample orgs
if [ -d examples/current ] && [ -f examples/current/members.csv ]; then
	expect_exit 0 "validate current example" -- $ORGSYNC validate --dir examples/current
	expect_in "$TMP/out" "current CSV:" "current example format"
	expect_exit 0 "validate legacy example" -- $ORGSYNC validate --dir examples/legacy
	expect_in "$TMP/out" "legacy CSV:" "legacy example format"
	expect_exit 0 "validate current JSON example" -- $ORGSYNC validate --json examples/current/org.json
	expect_exit 0 "validate legacy JSON example" -- $ORGSYNC validate --json examples/legacy/org.json
	expect_in "$TMP/out" "legacy JSON" "legacy JSON example format"

	expect_exit 0 "convert legacy CSV" -- $ORGSYNC convert --dir examples/legacy -o "$TMP/from-legacy"
	for f in members.csv teams.csv teams-mappings.csv; do
		same_files "$TMP/from-legacy/$f" "examples/current/$f" "legacy CSV converts to current $f"
	done
	expect_exit 0 "convert current CSV" -- $ORGSYNC convert --dir examples/current -o "$TMP/from-current"
	for f in members.csv teams.csv teams-mappings.csv; do
		same_files "$TMP/from-current/$f" "examples/current/$f" "current CSV is canonical: $f"
	done
	expect_exit 0 "convert legacy JSON to CSV" -- \
		$ORGSYNC convert --json examples/legacy/org.json -o "$TMP/from-legacy-json"
	for f in members.csv teams.csv teams-mappings.csv; do
		same_files "$TMP/from-legacy-json/$f" "examples/current/$f" "legacy JSON converts to current $f"
	done
	expect_exit 0 "convert current CSV to JSON" -- \
		$ORGSYNC convert --dir examples/current --to json -o "$TMP/a.json"
	expect_exit 0 "convert current JSON to JSON" -- \
		$ORGSYNC convert --json examples/current/org.json --to json -o "$TMP/b.json"
	same_files "$TMP/a.json" "$TMP/b.json" "CSV and JSON examples are the same org"
	expect_exit 0 "JSON round trip back to CSV" -- $ORGSYNC convert --json "$TMP/a.json" -o "$TMP/rt"
	same_files "$TMP/rt/members.csv" examples/current/members.csv "JSON round trip"
	expect_exit 0 "convert to stdout" -- $ORGSYNC convert --dir examples/current --to json --compact -o -
	expect_in "$TMP/out" '"teamMappings":[' "compact JSON on stdout"

	expect_exit 2 "legacy settings rejected" -- $ORGSYNC validate --json examples/legacy/with-settings.json
	expect_in "$TMP/out" "[legacy_settings]" "settings code"
	expect_in "$TMP/out" "syncAdmin" "settings names syncAdmin"
	expect_in "$TMP/out" "inviteNewUsers" "settings names inviteNewUsers"
	expect_exit 2 "convert refuses settings" -- \
		$ORGSYNC convert --json examples/legacy/with-settings.json --to json -o "$TMP/never.json"
	if [ -e "$TMP/never.json" ]; then ko "invalid input wrote an output"; else ok; fi
else
	ko "examples/ are missing"
fi

# --- validation outcomes and their exit codes
expect_exit 0 "header-only files are a valid empty org" -- \
	$ORGSYNC validate $(csv3 $DATA/members_header_only.csv $DATA/teams_header_only.csv $DATA/mappings_header_only.csv)
expect_in "$TMP/out" "0 members, 0 teams, 0 mappings" "empty org counts"
expect_exit 2 "missing file" -- $ORGSYNC validate --members $DATA/members_header_only.csv --teams "$H_T"
expect_in "$TMP/out" "[file_missing]" "missing mappings file"
expect_exit 2 "unreadable file" -- $ORGSYNC validate $(csv3 "$TMP/nope.csv" "$H_T" "$H_X")
expect_in "$TMP/out" "nope.csv" "unreadable file named"
expect_exit 2 "missing column" -- $ORGSYNC validate $(csv3 $DATA/members_missing_email_column.csv "$H_T" "$H_X")
expect_in "$TMP/out" "members_missing_email_column.csv:1: fatal: the required column 'email' is missing" "missing column message"
expect_exit 1 "quoted newline" -- $ORGSYNC validate $(csv3 $DATA/quoted_newline_then_bad_email.csv "$H_T" "$H_X")
expect_in "$TMP/out" "quoted_newline_then_bad_email.csv:4:2: error:" "line of the record after a quoted newline"
expect_exit 2 "invalid UTF-8" -- $ORGSYNC validate $(csv3 $DATA/invalid_utf8_latin1.csv "$H_T" "$H_X")
expect_in "$TMP/out" "byte offset 47" "invalid UTF-8 offset"
expect_exit 2 "unclosed quote" -- $ORGSYNC validate $(csv3 $DATA/unclosed_quote.csv "$H_T" "$H_X")
expect_in "$TMP/out" "[csv_quoting]" "unclosed quote code"
expect_exit 2 "stray quote" -- $ORGSYNC validate $(csv3 $DATA/quote_inside_unquoted_field.csv "$H_T" "$H_X")
expect_exit 1 "duplicates" -- $ORGSYNC validate --format json $(csv3 $DATA/duplicate_id_and_email.csv "$H_T" "$H_X")
expect_in "$TMP/out" '"code": "duplicate_member_id"' "duplicate id in JSON report"
expect_in "$TMP/out" '"code": "duplicate_email"' "duplicate email in JSON report"
expect_in "$TMP/out" '"status": "warnings"' "JSON status"
expect_exit 1 "unknown properties" -- $ORGSYNC validate --properties department \
	$(csv3 $DATA/two_unknown_property_columns.csv "$H_T" "$H_X")
[ "$(grep -c '\[unknown_property\]' "$TMP/out")" -eq 2 ] && ok || ko "one warning per unknown column"
expect_exit 0 "properties accepted by default" -- $ORGSYNC validate $(csv3 $DATA/two_unknown_property_columns.csv "$H_T" "$H_X")
expect_in "$TMP/out" "2 custom properties" "extra columns are properties"
expect_exit 1 "unknown product and language" -- $ORGSYNC validate $(csv3 $DATA/unknown_product_and_language.csv "$H_T" "$H_X")
expect_in "$TMP/out" "[unknown_product]" "unknown product"
expect_in "$TMP/out" "[unknown_language]" "unknown language"
expect_exit 0 "BOM, CRLF, header case" -- $ORGSYNC validate $(csv3 $DATA/bom_crlf_header_case.csv "$H_T" "$H_X")
expect_exit 1 "cycle and unknown refs" -- $ORGSYNC validate $(csv3 $DATA/members_header_only.csv $DATA/teams_three.csv $DATA/mappings_cycle_and_unknown.csv)
expect_in "$TMP/out" "T1 > T2 > T3 > T1" "cycle named"
expect_in "$TMP/out" "[unknown_member]" "unknown member"
expect_in "$TMP/out" "[unknown_team]" "unknown team"
expect_exit 2 "convert -o - needs json" -- $ORGSYNC convert --dir examples/current -o -
expect_exit 1 "convert refuses to skip rows" -- \
	$ORGSYNC convert $(csv3 $DATA/duplicate_id_and_email.csv "$H_T" "$H_X") -o "$TMP/dups"
expect_in "$TMP/err" "[duplicate_email]" "convert prints the rows it would skip"
expect_in "$TMP/err" "nothing was written" "convert says it wrote nothing"
if [ -e "$TMP/dups" ]; then ko "convert with invalid rows created its output folder"; else ok; fi
expect_exit 1 "convert --drop-invalid" -- \
	$ORGSYNC convert $(csv3 $DATA/duplicate_id_and_email.csv "$H_T" "$H_X") -o "$TMP/dups" --drop-invalid
[ "$(($(wc -l <"$TMP/dups/members.csv")))" -eq 2 ] && ok || ko "convert keeps the first of duplicates"
expect_in "$TMP/err" "dropped duplicate_id_and_email.csv:4 record 'E2': email 'A@X.COM' is already used" \
	"--drop-invalid names the dropped row"

# A converted org is pushed as the whole truth: a row convert left out would be
# a member removed. One bad row, in each input dialect, writes nothing.
if [ -f examples/current/members.csv ]; then
	cp -r examples/current "$TMP/cur-bad"
	sed -i '3s/,[^,]*@maplefir.example,/,not-an-email,/' "$TMP/cur-bad/members.csv"
	bad_id=$(sed -n '3s/,.*//p' "$TMP/cur-bad/members.csv")
	expect_exit 1 "convert: one invalid member row" -- $ORGSYNC convert --dir "$TMP/cur-bad" -o "$TMP/cur-out"
	expect_in "$TMP/err" "members.csv:3:2: error: 'not-an-email' is not a valid email address" \
		"convert reports file, line and column"
	expect_in "$TMP/err" "(record $bad_id, field email)" "convert reports record and field"
	if [ -e "$TMP/cur-out" ]; then ko "convert created an output for an input with an invalid row"; else ok; fi

	# An earlier conversion stays exactly as it was.
	$ORGSYNC convert --dir examples/current -o "$TMP/keep" 2>/dev/null
	$ORGSYNC convert --dir examples/current --to json -o "$TMP/keep.json" 2>/dev/null
	cp -r "$TMP/keep" "$TMP/keep-before"
	cp "$TMP/keep.json" "$TMP/keep-before.json"
	expect_exit 1 "convert over an earlier output" -- $ORGSYNC convert --dir "$TMP/cur-bad" -o "$TMP/keep"
	for f in members.csv teams.csv teams-mappings.csv; do
		same_files "$TMP/keep/$f" "$TMP/keep-before/$f" "an invalid row leaves the earlier $f alone"
	done
	[ "$(ls "$TMP/keep" | wc -l)" -eq 3 ] && ok || ko "no temporary file left in the output folder"
	expect_exit 1 "convert to JSON over an earlier output" -- \
		$ORGSYNC convert --dir "$TMP/cur-bad" --to json -o "$TMP/keep.json"
	same_files "$TMP/keep.json" "$TMP/keep-before.json" "an invalid row leaves the earlier JSON alone"
	expect_exit 1 "convert to stdout with an invalid row" -- \
		$ORGSYNC convert --dir "$TMP/cur-bad" --to json -o -
	[ -s "$TMP/out" ] && ko "convert printed an org with an invalid row on stdout" || ok

	expect_exit 1 "convert --drop-invalid writes the rest" -- \
		$ORGSYNC convert --dir "$TMP/cur-bad" -o "$TMP/cur-out" --drop-invalid
	expect_in "$TMP/err" "orgsync convert: dropped members.csv:3 record '$bad_id': 'not-an-email' is not a valid email address" \
		"--drop-invalid names the member"
	[ "$(($(wc -l <"$TMP/cur-out/members.csv") + 1))" -eq "$(wc -l <examples/current/members.csv)" ] && ok ||
		ko "--drop-invalid leaves exactly the invalid member out"
	expect_not_in "$TMP/cur-out/members.csv" "$bad_id," "--drop-invalid: the member is not in the output"

	# Legacy CSV: a language no mapping knows.
	cp -r examples/legacy "$TMP/leg-bad"
	sed -i '3s/,Français,/,Klingon,/' "$TMP/leg-bad/users.csv"
	expect_exit 1 "convert: one invalid legacy user" -- $ORGSYNC convert --dir "$TMP/leg-bad" -o "$TMP/leg-out"
	expect_in "$TMP/err" "[unknown_language]" "legacy: the row is reported"
	if [ -e "$TMP/leg-out" ]; then ko "legacy: an output was created"; else ok; fi
	expect_exit 1 "legacy --drop-invalid" -- \
		$ORGSYNC convert --dir "$TMP/leg-bad" -o "$TMP/leg-out" --drop-invalid
	expect_in "$TMP/err" "dropped users.csv:3 record 'E002'" "legacy: the dropped user is named"
	expect_not_in "$TMP/leg-out/members.csv" "E002," "legacy: the user is left out"

	# Legacy JSON to JSON: a team without a name (its mappings go with it).
	sed '0,/"name": "Leadership"/s//"name": ""/' examples/legacy/org.json >"$TMP/leg-bad.json"
	expect_exit 1 "convert: one invalid legacy group" -- \
		$ORGSYNC convert --json "$TMP/leg-bad.json" --to json -o "$TMP/leg-bad-out.json"
	expect_in "$TMP/err" "[empty_name]" "legacy JSON: the group is reported"
	if [ -e "$TMP/leg-bad-out.json" ]; then ko "legacy JSON: an output was created"; else ok; fi
	expect_exit 1 "legacy JSON --drop-invalid" -- \
		$ORGSYNC convert --json "$TMP/leg-bad.json" --to json -o "$TMP/leg-bad-out.json" --drop-invalid
	expect_in "$TMP/err" "record 'T02': the team has no name" "legacy JSON: the dropped group is named"
	expect_in "$TMP/err" "record 'T01/T02'" "legacy JSON: its dropped mapping is named"
	expect_not_in "$TMP/leg-bad-out.json" '"T02"' "legacy JSON: the group is left out"
fi

# The data CSVs round-trip ids exactly: no formula guard here (the report CSV
# of the service has one; these files are read back by orgsync, not run).
printf 'externalMemberId,email\n"=HYPERLINK(""http://x"",""y"")",a@x.example\n-5,b@x.example\n@SUM(A1),c@x.example\n' \
	>"$TMP/formula.csv"
expect_exit 0 "convert keeps formula-like ids" -- \
	$ORGSYNC convert $(csv3 "$TMP/formula.csv" "$H_T" "$H_X") -o "$TMP/formula-out"
expect_in "$TMP/formula-out/members.csv" '"=HYPERLINK(""http://x"",""y"")",a@x.example' "=HYPERLINK id kept"
expect_in "$TMP/formula-out/members.csv" '-5,b@x.example' "-5 id kept"
expect_in "$TMP/formula-out/members.csv" '@SUM(A1),c@x.example' "@SUM id kept"

# Warnings that leave nothing out do not hold the output back.
expect_exit 1 "convert with ignored columns" -- $ORGSYNC convert --properties department \
	$(csv3 $DATA/two_unknown_property_columns.csv "$H_T" "$H_X") -o "$TMP/warned"
expect_in "$TMP/err" "[unknown_property]" "convert warns about ignored columns"
[ -f "$TMP/warned/members.csv" ] && ok || ko "a warning alone still writes the output"

# --- the generator: deterministic, valid, errors on request
expect_exit 0 "gen" -- $ORGSYNC gen --members 2000 --seed 7 --out "$TMP/g1"
expect_exit 0 "gen again" -- $ORGSYNC gen --members 2000 --seed 7 --out "$TMP/g2"
for f in members.csv teams.csv teams-mappings.csv; do same_files "$TMP/g1/$f" "$TMP/g2/$f" "gen is deterministic: $f"; done
expect_exit 0 "gen other seed" -- $ORGSYNC gen --members 2000 --seed 8 --out "$TMP/g3"
if cmp -s "$TMP/g1/members.csv" "$TMP/g3/members.csv"; then ko "seed changes the org"; else ok; fi
expect_exit 0 "generated org is valid" -- $ORGSYNC validate --dir "$TMP/g1"
expect_in "$TMP/out" "2000 members, 250 teams" "generated sizes"
expect_exit 0 "gen json" -- $ORGSYNC gen --members 2000 --seed 7 --format json --out "$TMP/gj"
expect_exit 0 "gen json to csv" -- $ORGSYNC convert --json "$TMP/gj/org.json" -o "$TMP/gjc"
expect_exit 0 "gen csv to canonical csv" -- $ORGSYNC convert --dir "$TMP/g1" -o "$TMP/g1c"
for f in members.csv teams.csv teams-mappings.csv; do
	same_files "$TMP/gjc/$f" "$TMP/g1c/$f" "generated JSON and CSV are the same org: $f"
done
expect_exit 0 "gen legacy" -- $ORGSYNC gen --members 2000 --seed 7 --legacy --out "$TMP/gl"
expect_exit 0 "generated legacy org is valid" -- $ORGSYNC validate --dir "$TMP/gl"
expect_in "$TMP/out" "legacy CSV: 2000 members" "generated legacy"
expect_exit 0 "gen with errors" -- $ORGSYNC gen --members 2000 --seed 7 --errors 2% --out "$TMP/ge"
expect_exit 1 "injected errors are found" -- $ORGSYNC validate --dir "$TMP/ge"
expect_exit 2 "gen bad args" -- $ORGSYNC gen --members -5 --out "$TMP/gx"

# serve's limits are checked before anything starts, naming the option and its range.
expect_exit 5 "serve: header limit below its range" -- \
	$ORGSYNC serve --db "sqlite:$TMP/never.db" --max-header-bytes 5
expect_in "$TMP/err" "--max-header-bytes wants a whole number from 1024 to 1048576, not '5'" \
	"serve: header limit message"
expect_exit 5 "serve: negative rate limit" -- $ORGSYNC serve --db "sqlite:$TMP/never.db" --rate-limit -1
expect_in "$TMP/err" "--rate-limit wants a whole number from 0" "serve: rate limit message"
expect_exit 5 "serve: zero header timeout" -- \
	$ORGSYNC serve --db "sqlite:$TMP/never.db" --header-timeout 0
if [ ! -e "$TMP/never.db" ]; then ok; else ko "serve with a bad option created its database"; fi
for port in 80x +80 " 80" "" 65536 99999999999999999999; do
	expect_exit 5 "serve: port '$port' is refused" -- \
		timeout 20 $ORGSYNC serve --db "sqlite:$TMP/never-port.db" --listen "127.0.0.1:$port"
	expect_in "$TMP/err" "--listen wants HOST:PORT, not '127.0.0.1:$port'" "serve: port '$port' named"
done

# Every command's options come from one table: each refusal names the option, with the command's
# usage exit code (5 for serve and the database commands, 2 for the others), before anything runs.
expect_exit 2 "validate: an unknown option" -- $ORGSYNC validate --dir examples/current --colour red
expect_in "$TMP/err" "orgsync validate: unknown option '--colour'" "validate: unknown option named"
expect_exit 2 "validate: an argument it does not take" -- $ORGSYNC validate --dir examples/current extra
expect_in "$TMP/err" "unexpected argument 'extra'" "validate: the stray argument named"
expect_exit 2 "convert: a value given twice" -- $ORGSYNC convert --dir examples/current -o "$TMP/x1" -o "$TMP/x2"
expect_in "$TMP/err" "--output is given twice" "convert: the repeated option named"
[ ! -e "$TMP/x1" ] && [ ! -e "$TMP/x2" ] && ok || ko "convert with a repeated option wrote something"
expect_exit 2 "convert: an enum value not listed" -- $ORGSYNC convert --dir examples/current --to xml -o -
expect_in "$TMP/err" "--to wants csv or json, not 'xml'" "convert: the enum values listed"
expect_exit 2 "push: trailing garbage in a number" -- $ORGSYNC push --dir examples/current --retries 3x
expect_in "$TMP/err" "--retries wants a whole number from 0 to 100, not '3x'" "push: --retries named"
expect_exit 2 "plan: a sign in a number" -- $ORGSYNC plan --dir examples/current --limit +5
expect_in "$TMP/err" "--limit wants a whole number from 1 to" "plan: --limit named"
expect_exit 2 "push: a missing value" -- $ORGSYNC push --dir examples/current --api-key
expect_in "$TMP/err" "--api-key needs a value" "push: the missing value named"
expect_exit 2 "push: a value given to a flag" -- $ORGSYNC push --dir examples/current --wait=yes
expect_in "$TMP/err" "--wait takes no value" "push: the flag named"
expect_exit 2 "gen: a seed in hex" -- $ORGSYNC gen --seed 0x10 --out "$TMP/gx"
expect_in "$TMP/err" "--seed wants a whole number" "gen: --seed named"
expect_exit 5 "admin: an org id with trailing garbage" -- $ORGSYNC admin list --org 1x --db "sqlite:$TMP/never-opt.db"
expect_in "$TMP/err" "--org wants a whole number from 1 to" "admin: --org named"
expect_exit 5 "serve: the database given twice" -- \
	timeout 20 $ORGSYNC serve --db "sqlite:$TMP/never-opt.db" --db "sqlite:$TMP/never-opt2.db" \
	--listen 127.0.0.1:0
expect_in "$TMP/err" "--db is given twice" "serve: --db named"
expect_exit 5 "serve: a number with trailing garbage" -- $ORGSYNC serve --db "sqlite:$TMP/never-opt.db" --threads 4x
expect_in "$TMP/err" "--threads wants a whole number from 1 to 1024, not '4x'" "serve: --threads named"
expect_exit 5 "serve: overflow" -- $ORGSYNC serve --db "sqlite:$TMP/never-opt.db" --max-body 99999999999999999999
expect_in "$TMP/err" "is above the maximum 1099511627776" "serve: overflow is above the maximum"
[ ! -e "$TMP/never-opt.db" ] && [ ! -e "$TMP/never-opt2.db" ] && ok || ko "a refused option opened a database"
expect_exit 0 "serve --help" -- $ORGSYNC serve --help
expect_in "$TMP/out" "--max-header-bytes N" "serve --help lists --max-header-bytes"
expect_in "$TMP/out" "(default 16384)" "serve --help gives its default"
expect_not_in "$TMP/out" "--delivery-backoff-ms" "serve --help hides the test-only options"

# The database holds personal data: a new one is private whatever the umask.
expect_exit 0 "org create on a new database" -- \
	bash -c "umask 022; exec $ORGSYNC org create acme --db sqlite:$TMP/private.db"
mode=$(stat -c %a "$TMP/private.db" 2>/dev/null)
if [ "$mode" = 600 ]; then ok; else ko "a new database is mode 600, not '$mode'"; fi

# --- tenant administration on the database
ADB="sqlite:$TMP/admin.db"
# ORGSYNC_DB=postgres: the admin commands on a fresh database of the server ORGSYNC_TEST_DB names.
if [ "${ORGSYNC_DB:-}" = postgres ]; then
	ADB=${ORGSYNC_TEST_DB}orgsync_cli_$$
	psql -XqAt "${ORGSYNC_TEST_DB}postgres" -c "CREATE DATABASE orgsync_cli_$$" >/dev/null || ko "CREATE DATABASE"
	trap 'psql -XqAt "${ORGSYNC_TEST_DB}postgres" -c "DROP DATABASE IF EXISTS orgsync_cli_$$ WITH (FORCE)" >/dev/null 2>&1; rm -rf "$TMP"' EXIT
fi
expect_exit 0 "org create acme" -- $ORGSYNC org create acme --db "$ADB"
expect_exit 0 "org create beta" -- $ORGSYNC org create "Beta Inc" --db "$ADB"
expect_exit 2 "admin add: malformed email" -- $ORGSYNC admin add bob@ --org 1 --db "$ADB"
expect_in "$TMP/err" "'bob@' is not a valid email address" "admin add names the malformed email"
for bad in "no-at-sign.example" "a@b" "a..b@x.example" "a b@x.example" "@x.example"; do
	expect_exit 2 "admin add refuses '$bad'" -- $ORGSYNC admin add "$bad" --org 1 --db "$ADB"
done
expect_exit 2 "a malformed email is refused before the database opens" -- \
	$ORGSYNC admin add bob@ --org 1 --db "sqlite:$TMP/never-admin.db"
if [ ! -e "$TMP/never-admin.db" ]; then ok; else ko "admin add with a bad email created a database"; fi
expect_exit 0 "admin add" -- $ORGSYNC admin add Boss@Acme.example --org 1 --db "$ADB"
expect_exit 0 "admin add another" -- $ORGSYNC admin add eve@acme.example --org 1 --db "$ADB"
expect_exit 0 "admin list" -- $ORGSYNC admin list --org 1 --db "$ADB"
[ "$(wc -l <"$TMP/out")" -eq 2 ] && ok || ko "admin list: one line per Administrator"
if grep -qE '^Boss@Acme\.example	[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$' "$TMP/out"; then ok; else
	ko "admin list: email, tab, RFC 3339 UTC time"; sed 's/^/  | /' "$TMP/out" >&2
fi
expect_exit 0 "admin list json" -- $ORGSYNC admin list --org 1 --db "$ADB" --format json
expect_in "$TMP/out" '"email": "eve@acme.example"' "admin list json: email"
expect_in "$TMP/out" '"addedAt": "' "admin list json: addedAt"
expect_in "$TMP/out" '"state": "active"' "admin list json: state"
expect_exit 0 "admin list of another org" -- $ORGSYNC admin list --org 2 --db "$ADB"
[ -s "$TMP/out" ] && ko "org 2 has no Administrators" || ok
expect_exit 0 "admin remove, other case" -- $ORGSYNC admin remove BOSS@acme.EXAMPLE --org 1 --db "$ADB"
expect_in "$TMP/out" "no longer an Administrator" "admin remove says what it did"
expect_exit 0 "admin list after remove" -- $ORGSYNC admin list --org 1 --db "$ADB"
expect_not_in "$TMP/out" "Boss@" "a removed Administrator is not listed"
expect_in "$TMP/out" "eve@acme.example" "the other Administrator stays"
expect_exit 2 "admin remove of a plain member" -- $ORGSYNC admin remove boss@acme.example --org 1 --db "$ADB"
expect_in "$TMP/err" "boss@acme.example is a member of organization 1 but not an Administrator" \
	"admin remove: a member, not an Administrator"
expect_exit 2 "admin remove of a stranger" -- $ORGSYNC admin remove nobody@acme.example --org 1 --db "$ADB"
expect_in "$TMP/err" "no member of organization 1 has the email nobody@acme.example" "admin remove: no such member"
expect_exit 5 "admin list of an unknown org" -- $ORGSYNC admin list --org 9 --db "$ADB"
expect_in "$TMP/err" "there is no organization 9" "unknown org named"
expect_exit 5 "admin list needs --org" -- $ORGSYNC admin list --db "$ADB"
expect_exit 5 "admin: unknown verb" -- $ORGSYNC admin promote x@y.example --org 1 --db "$ADB"
expect_exit 0 "org list" -- $ORGSYNC org list --db "$ADB"
if grep -qE '^1	acme	[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z	2$' "$TMP/out" &&
	grep -qE '^2	Beta Inc	[0-9-]{10}T[0-9:]{8}Z	0$' "$TMP/out"; then ok; else
	ko "org list: id, name, created, member count"; sed 's/^/  | /' "$TMP/out" >&2
fi
expect_exit 0 "org list json" -- $ORGSYNC org list --db "$ADB" --format json
expect_in "$TMP/out" '"name": "Beta Inc"' "org list json: name"
expect_in "$TMP/out" '"members": 2' "org list json: member count"
expect_exit 0 "help lists admin remove" -- $ORGSYNC help admin
expect_in "$TMP/out" "orgsync admin remove EMAIL" "admin --help: remove"
expect_in "$TMP/out" "orgsync admin list" "admin --help: list"
expect_exit 0 "help lists org list" -- $ORGSYNC help org
expect_in "$TMP/out" "orgsync org list" "org --help: list"

echo "cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
