#!/usr/bin/env bash
# make demo: runs the sample org through orgsync and says what happened.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/orgsync}
OUT=build/demo
rm -rf "$OUT" && mkdir -p "$OUT"

step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "Validate the sample org (current CSV format)" \
	"orgsync validate --dir examples/current"
"$BIN" validate --dir examples/current
echo "(exit $?: 0 valid, 1 warnings, 2 invalid)"

step "Validate the same org in the legacy Officevibe format" \
	"orgsync validate --dir examples/legacy"
"$BIN" validate --dir examples/legacy

step "Convert the legacy files to the current format" \
	"orgsync convert --dir examples/legacy -o $OUT/converted"
"$BIN" convert --dir examples/legacy -o "$OUT/converted"
if diff -r -q "$OUT/converted" examples/current >/dev/null 2>&1 ||
	{ cmp -s "$OUT/converted/members.csv" examples/current/members.csv &&
	  cmp -s "$OUT/converted/teams.csv" examples/current/teams.csv &&
	  cmp -s "$OUT/converted/teams-mappings.csv" examples/current/teams-mappings.csv; }; then
	echo "the converted files are identical to examples/current"
else
	echo "the converted files differ from examples/current:"; diff -r "$OUT/converted" examples/current | head -20
fi

step "Convert to the JSON payload" "orgsync convert --dir examples/current --to json -o $OUT/org.json"
"$BIN" convert --dir examples/current --to json -o "$OUT/org.json"
head -c 400 "$OUT/org.json"; echo " ..."

step "A file with mistakes: every problem named with file, line and column" \
	"orgsync validate --members tests/data/csv/quoted_newline_then_bad_email.csv ..."
"$BIN" validate --members tests/data/csv/quoted_newline_then_bad_email.csv \
	--teams tests/data/csv/teams_three.csv --mappings tests/data/csv/mappings_cycle_and_unknown.csv
echo "(exit $?)"

step "A legacy payload with a settings section is refused" \
	"orgsync validate --json examples/legacy/with-settings.json"
"$BIN" validate --json examples/legacy/with-settings.json
echo "(exit $?)"

cat <<EOT

Where to look:
  examples/current/, examples/legacy/   the sample org in both formats
  $OUT/converted/                  what 'convert' wrote
  orgsync help, orgsync <command> --help
EOT
