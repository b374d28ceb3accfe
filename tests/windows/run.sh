#!/usr/bin/env bash
# orgsync.exe under wine, against the Linux build: validate and convert give
# the same bytes and exit codes on the sample and legacy orgs (also from CRLF
# files, UTF-8 file names, backslash and drive-letter paths); push --config
# reads an Officevibe config.json beside its Data folder; push --wait reaches
# a Linux `orgsync serve` on a free loopback port over http and over https
# with a private CA (--cacert), with Linux's exit codes (0, 2, 5, 6).
#   ORGSYNC=build/orgsync ORGSYNC_EXE=build-win/orgsync.exe tests/windows/run.sh
# Ends with "windows: N passed, M failed". wine runs headless in its own
# prefix under $TMP (the first start makes it: 10-60 s).
# shellcheck shell=bash
ORGSYNC=${ORGSYNC:-build/orgsync}
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/../e2e/lib.sh"
TEST_NAME=windows

EXE=$(realpath "${ORGSYNC_EXE:-build-win/orgsync.exe}")
LINUX=$(realpath "$ORGSYNC")
for tool in wine openssl; do
	if ! command -v $tool >/dev/null; then
		echo "not ok - windows: $tool is not installed (scripts/install-deps.sh windows)"
		exit 1
	fi
done
[ -x "$EXE" ] || { echo "not ok - windows: no $EXE (make windows)"; exit 1; }

export WINEPREFIX=$TMP/wine WINEDEBUG=-all WINEARCH=win64
# No Mono or Gecko install prompt, no display needed: console programs only.
export WINEDLLOVERRIDES="mscoree,mshtml=" DISPLAY=
t0=$(date +%s)
wineboot -i >"$TMP/wineboot.log" 2>&1
wineserver -w
echo "# wine prefix made in $(($(date +%s) - t0)) s"

# win ARGS...: runs orgsync.exe; WOUT, WERR, WRC get stdout, stderr, exit code.
# lin ARGS...: the same with the Linux build into LOUT, LERR, LRC.
win() {
	wine "$EXE" "$@" >"$TMP/w.out" 2>"$TMP/w.err" </dev/null
	WRC=$?
	WOUT=$(cat "$TMP/w.out")
	WERR=$(cat "$TMP/w.err")
}
lin() {
	"$LINUX" "$@" >"$TMP/l.out" 2>"$TMP/l.err" </dev/null
	LRC=$?
	LOUT=$(cat "$TMP/l.out")
	LERR=$(cat "$TMP/l.err")
}

# same_as_linux ARGS...: both builds, the same arguments: same bytes, same code.
same_as_linux() {
	lin "$@"
	win "$@"
	expect_eq "exit code" "$LRC" "$WRC"
	cmp -s "$TMP/l.out" "$TMP/w.out" || fail "stdout differs: $(diff "$TMP/l.out" "$TMP/w.out" | head -5)"
	cmp -s "$TMP/l.err" "$TMP/w.err" || fail "stderr differs: $(diff "$TMP/l.err" "$TMP/w.err" | head -5)"
}

# A Windows name for a Linux path: wine maps drive Z: to /.
winpath() {
	local p
	p=$(realpath "$1")
	echo "Z:${p//\//\\}"
}

t "--version; help names the client commands alone"
same_as_linux --version
win help
expect_eq "exit code of help" 0 "$WRC"
expect_match "help" 'push' "$WOUT"
grep -q '^  serve' <<<"$WOUT" && fail "help offers serve, which orgsync.exe does not hold"

for org in current legacy; do
	for fmt in text json; do
		t "validate examples/$org --format $fmt: the Linux build's bytes"
		same_as_linux validate --dir "examples/$org" --format "$fmt"
	done
	t "convert examples/$org to JSON on stdout: the Linux build's bytes"
	same_as_linux convert --dir "examples/$org" --to json -o -
	t "convert examples/$org to a CSV folder: the same three files, LF line ends"
	lin convert --dir "examples/$org" -o "$TMP/lin-$org"
	win convert --dir "examples/$org" -o "$TMP/win-$org"
	expect_eq "exit code" "$LRC" "$WRC"
	expect_eq "stderr" "$LERR" "$WERR"
	for f in members.csv teams.csv teams-mappings.csv; do
		cmp -s "$TMP/lin-$org/$f" "$TMP/win-$org/$f" || fail "$f differs"
	done
	grep -q $'\r' "$TMP/win-$org/members.csv" && fail "a CR in the written members.csv"
	t "convert examples/$org again over the same folder (files replaced)"
	win convert --dir "examples/$org" -o "$TMP/win-$org"
	expect_eq "exit code" "$LRC" "$WRC"
done

t "an invalid org: exit 2 and the same messages"
mkdir -p "$TMP/bad"
printf 'externalMemberId,email\n"unclosed,a@b.c\n' >"$TMP/bad/members.csv"
printf 'externalTeamId,teamName\n' >"$TMP/bad/teams.csv"
printf 'externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n' \
	>"$TMP/bad/teams-mappings.csv"
same_as_linux validate --dir "$TMP/bad"
expect_eq "exit code" 2 "$WRC"

t "CRLF files: the same result as from the LF files"
mkdir -p "$TMP/crlf"
for f in examples/current/*.csv; do sed 's/$/\r/' "$f" >"$TMP/crlf/$(basename "$f")"; done
same_as_linux validate --dir "$TMP/crlf"
lin validate --dir examples/current
expect_eq "summary line" "$(tail -n 1 <<<"$LOUT")" "$(tail -n 1 <<<"$WOUT")"

t "UTF-8 file and folder names"
U="$TMP/données-Ω"
mkdir -p "$U"
cp examples/current/members.csv "$U/membres-é.csv"
cp examples/current/teams.csv "$U/équipes.csv"
cp examples/current/teams-mappings.csv "$U/liens-ü.csv"
same_as_linux validate --members "$U/membres-é.csv" --teams "$U/équipes.csv" \
	--mappings "$U/liens-ü.csv"
expect_eq "exit code" 0 "$WRC"
win convert --dir examples/current --to json -o "$U/sortie-ß.json"
expect_eq "convert to a UTF-8 name" 0 "$WRC"
[ -f "$U/sortie-ß.json" ] || fail "no $U/sortie-ß.json"

t "backslashes and a drive letter: --dir Z:\\...\\examples\\current"
lin validate --dir examples/current
win validate --dir "$(winpath examples/current)"
expect_eq "exit code" "$LRC" "$WRC"
expect_eq "summary line" "$(tail -n 1 <<<"$LOUT")" "$(tail -n 1 <<<"$WOUT")"
win validate --members 'examples\current\members.csv' --teams 'examples\current\teams.csv' \
	--mappings 'examples\current\teams-mappings.csv'
expect_eq "exit code, relative backslash paths" "$LRC" "$WRC"

# --- push ---------------------------------------------------------------------------------

start_server
new_org acme
KEY=$ORG_KEY
enable_api
HTTP=$BASE

t "push --wait over http: Success (0), as on Linux"
# The sample org with no unknown column: a clean Success.
mkdir -p "$TMP/clean"
cut -d, -f1-8 examples/current/members.csv >"$TMP/clean/members.csv"
cp examples/current/teams.csv examples/current/teams-mappings.csv "$TMP/clean/"
lin validate --dir "$TMP/clean"
[ "$LRC" = 0 ] || fail "the clean sample is not clean: $LOUT"
ORGSYNC_API_KEY=$KEY lin push --url "$HTTP" --dir "$TMP/clean" --wait
ORGSYNC_API_KEY=$KEY win push --url "$HTTP" --dir "$TMP/clean" --wait
expect_eq "Linux exit code" 0 "$LRC"
expect_eq "Windows exit code" 0 "$WRC"
expect_match "Windows result" '^sync [0-9]+: Success' "$WOUT"

t "push --wait of an invalid org: 2 on both, nothing sent"
ORGSYNC_API_KEY=$KEY lin push --url "$HTTP" --dir "$TMP/bad" --wait
ORGSYNC_API_KEY=$KEY win push --url "$HTTP" --dir "$TMP/bad" --wait
expect_eq "Linux exit code" 2 "$LRC"
expect_eq "Windows exit code" 2 "$WRC"

t "push with a wrong key: 5 on both"
ORGSYNC_API_KEY=osk_wrong lin push --url "$HTTP" --dir "$TMP/clean" --wait
ORGSYNC_API_KEY=osk_wrong win push --url "$HTTP" --dir "$TMP/clean" --wait
expect_eq "Linux exit code" 5 "$LRC"
expect_eq "Windows exit code" 5 "$WRC"
expect_match "message" 'refused the API key' "$WERR"

t "push to a closed port: 6 on both"
CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ORGSYNC_API_KEY=$KEY lin push --url "http://127.0.0.1:$CLOSED" --dir "$TMP/clean" --wait --retries 0
ORGSYNC_API_KEY=$KEY win push --url "http://127.0.0.1:$CLOSED" --dir "$TMP/clean" --wait --retries 0
expect_eq "Linux exit code" 6 "$LRC"
expect_eq "Windows exit code" 6 "$WRC"

# officevibe_config FILE SEP NESTED: a config.json as Windows editors write it (a BOM,
# CRLF), its CSV paths relative (.\Data\users.csv with SEP '\'), its keys under
# "Configuration" when NESTED is 1 (the Officevibe file), at the top level when 0.
officevibe_config() {
	local file=$1 sep=$2 nested=$3 in=""

	[ "$nested" = 1 ] && in="  "
	{
		printf '\xef\xbb\xbf{\r\n'
		[ "$nested" = 1 ] && printf '  "Configuration": {\r\n'
		printf '%s  "ApiUrl": "%s",\r\n%s  "ApiKey": "%s",\r\n' "$in" "$HTTP" "$in" "$KEY"
		for kv in UsersCsv=users GroupsCsv=groups MappingCsv=groups-mapping; do
			printf '%s  "%s": ".%sData%s%s.csv",\r\n' "$in" "${kv%=*}" "$sep" "$sep" "${kv#*=}"
		done
		printf '%s  "SyncManagerEmail": "",\r\n%s  "InviteNewUsers": false\r\n' "$in" "$in"
		[ "$nested" = 1 ] && printf '  }\r\n'
		printf '}\r\n'
	} >"$file"
}

CFG="$TMP/Officevibe Sync"
mkdir -p "$CFG/Data"
cp "$TMP/clean/members.csv" "$CFG/Data/users.csv"
cp "$TMP/clean/teams.csv" "$CFG/Data/groups.csv"
cp "$TMP/clean/teams-mappings.csv" "$CFG/Data/groups-mapping.csv"
accepted=0
for nested in 1 0; do
	t "push --config (keys $([ $nested = 1 ] && echo under Configuration || echo at the top level), a BOM, CRLF, .\\Data\\ paths): as on Linux"
	officevibe_config "$CFG/config.json" '\\' $nested
	officevibe_config "$CFG/config-linux.json" / $nested
	# From another folder; Windows names the config by a drive-letter path.
	cd "$TMP" || exit 1
	lin push --config "$CFG/config-linux.json" --wait
	win push --config "$(winpath "$CFG/config.json")" --wait
	cd "$E2E_ROOT" || exit 1
	expect_eq "exit code" "$LRC" "$WRC"
	expect_eq "the result line" "$(head -n 1 <<<"$LOUT" | sed 's/^sync [0-9]*/sync N/')" \
		"$(head -n 1 <<<"$WOUT" | sed 's/^sync [0-9]*/sync N/')"
	[ "$CASE_FAILED" -eq 0 ] || note "$TMP/w.err"
	[ "$WRC" = 0 ] && accepted=$((accepted + 1))
done
t "push --config: both forms of the file are pushed with Success (0)"
[ $accepted -eq 2 ] || fail "of the nested and the flat config.json, $accepted pushed with Success"

stop_server

# --- https with a private CA --------------------------------------------------------------

PKI=$TMP/pki
mkdir -p "$PKI"
pki_make() {
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

	openssl req -x509 "${ec[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 2 \
		-subj "/CN=orgsync windows test CA" &&
		openssl req "${ec[@]}" -keyout "$PKI/server.key" -out "$PKI/server.csr" \
			-subj "/CN=localhost" &&
		printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
			"keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" >"$PKI/server.ext" &&
		openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
			-CAcreateserial -days 2 -extfile "$PKI/server.ext" -out "$PKI/server.pem" &&
		openssl req -x509 "${ec[@]}" -keyout "$PKI/stranger.key" -out "$PKI/stranger.pem" \
			-days 2 -subj "/CN=another CA"
}
if ! pki_make >"$TMP/openssl.log" 2>&1; then
	echo "not ok - windows: the test certificates could not be made"
	exit 1
fi
SERVER_SCHEME=https
CURL_OPTS=(--cacert "$PKI/ca.pem")
start_server --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"
# By name: wine's WinHTTP does not match IP addresses in a certificate.
HTTPS=https://localhost:$PORT

t "push --wait over https with --cacert: Success (0), as on Linux"
ORGSYNC_API_KEY=$KEY lin push --url "$HTTPS" --cacert "$PKI/ca.pem" --dir "$TMP/clean" --wait
ORGSYNC_API_KEY=$KEY win push --url "$HTTPS" --cacert "$(winpath "$PKI/ca.pem")" \
	--dir "$TMP/clean" --wait
expect_eq "Linux exit code" 0 "$LRC"
expect_eq "Windows exit code" 0 "$WRC"
expect_match "Windows result" '^sync [0-9]+: Success' "$WOUT"

t "https without --cacert: 6 on both (the system does not trust the CA)"
ORGSYNC_API_KEY=$KEY lin push --url "$HTTPS" --dir "$TMP/clean" --wait --retries 0
ORGSYNC_API_KEY=$KEY win push --url "$HTTPS" --dir "$TMP/clean" --wait --retries 0
expect_eq "Linux exit code" 6 "$LRC"
expect_eq "Windows exit code" 6 "$WRC"
expect_match "message" 'TLS failure' "$WERR"

t "https with another CA's --cacert: 6 on both"
ORGSYNC_API_KEY=$KEY lin push --url "$HTTPS" --cacert "$PKI/stranger.pem" --dir "$TMP/clean" \
	--wait --retries 0
ORGSYNC_API_KEY=$KEY win push --url "$HTTPS" --cacert "$PKI/stranger.pem" --dir "$TMP/clean" \
	--wait --retries 0
expect_eq "Linux exit code" 6 "$LRC"
expect_eq "Windows exit code" 6 "$WRC"
expect_match "message" 'not issued by a CA of --cacert' "$WERR"

t "--cacert of a file that holds no certificate: 5"
echo "not a certificate" >"$TMP/junk.pem"
ORGSYNC_API_KEY=$KEY win push --url "$HTTPS" --cacert "$TMP/junk.pem" --dir "$TMP/clean" --wait
expect_eq "Windows exit code" 5 "$WRC"

stop_server
wineserver -k 2>/dev/null
finish
