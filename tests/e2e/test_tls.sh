#!/usr/bin/env bash
# HTTPS in the service (SPEC §7, §8): `orgsync serve --tls-cert --tls-key`
# with a certificate from a private CA made here with the openssl CLI;
# clients that trust the CA get through, others get a certificate error;
# plain HTTP and TLS 1.0/1.1 are refused; bad key material stops `serve`
# at start with a message naming the file.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

if ! command -v openssl >/dev/null; then
	skip_unless_required "HTTPS in the service" "openssl is not installed (apt-get install -y openssl)"
	finish
fi

# --- a private CA and a server certificate for 127.0.0.1 and localhost ------------------

PKI=$TMP/pki
mkdir -p "$PKI"

# pki_make: ca.pem/ca.key, server.pem/server.key signed by the CA (SAN IP:127.0.0.1,
# DNS:localhost), other.key (a valid key of no certificate) and a second CA, stranger.pem.
pki_make() {
	local ec=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes)

	openssl req -x509 "${ec[@]}" -keyout "$PKI/ca.key" -out "$PKI/ca.pem" -days 2 \
		-subj "/CN=orgsync e2e CA" &&
		openssl req "${ec[@]}" -keyout "$PKI/server.key" -out "$PKI/server.csr" \
			-subj "/CN=localhost" &&
		printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:localhost" "basicConstraints=CA:FALSE" \
			"keyUsage=digitalSignature" "extendedKeyUsage=serverAuth" >"$PKI/server.ext" &&
		openssl x509 -req -in "$PKI/server.csr" -CA "$PKI/ca.pem" -CAkey "$PKI/ca.key" \
			-CAcreateserial -days 2 -extfile "$PKI/server.ext" -out "$PKI/server.pem" &&
		openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/other.key" &&
		openssl req -x509 "${ec[@]}" -keyout "$PKI/stranger.key" -out "$PKI/stranger.pem" \
			-days 2 -subj "/CN=another CA"
}
if ! pki_make >"$TMP/openssl.log" 2>&1; then
	echo "not ok - $TEST_NAME: the test certificates could not be made"
	sed 's/^/    | /' "$TMP/openssl.log" | head -20
	exit 1
fi
chmod 600 "$PKI"/*.key

# serve_fails ARGS...: runs `serve` with ARGS, expecting it not to start;
# SERVE_RC and SERVE_ERR get its exit status and standard error.
serve_fails() {
	local db=$TMP/fail.db
	# shellcheck disable=SC2086
	timeout $((30 * SLOW)) $ORGSYNC serve --db "sqlite:$db" --listen 127.0.0.1:0 --quiet "$@" \
		>"$TMP/fail.out" 2>"$TMP/fail.err"
	SERVE_RC=$?
	SERVE_ERR=$(cat "$TMP/fail.err")
	if grep -q 'listening on' "$TMP/fail.out"; then fail "serve started: $(cat "$TMP/fail.out")"; fi
}

# --- the service over HTTPS ----------------------------------------------------------------

SERVER_SCHEME=https
CURL_OPTS=(--cacert "$PKI/ca.pem")
start_server --tls-cert "$PKI/server.pem" --tls-key "$PKI/server.key"

t "the start line says https://"
expect_match "listening line" 'listening on https://127\.0\.0\.1:0 \(port [0-9]+\)' \
	"$(cat "$TMP/server.out")"

t "GET /healthz over HTTPS with --cacert: 200"
KEY=
req GET /healthz
expect_status 200
expect_jq "health" .status ok
expect_eq "curl's error output" "" "$(cat "$TMP/curl.err")"

t "the certificate names localhost too (subjectAltName DNS)"
code=$(curl -sS --cacert "$PKI/ca.pem" -o /dev/null -w '%{http_code}' \
	"https://localhost:$PORT/healthz" 2>"$TMP/curl.err")
expect_eq "status via https://localhost" 200 "$code"
[ "$code" = 200 ] || note "$TMP/curl.err"

t "an authenticated GET over HTTPS"
new_org acme
KEY=$ORG_KEY
req GET /v1/members
expect_status 200
expect_jq "no members yet" '.items | length' 0
KEY=osk_0000000000000000_notarealsecretnotarealsecretnotarealsecre
req GET /v1/members
expect_status 401

t "a sync uploaded over HTTPS (multipart) is applied"
KEY=$ORG_KEY
enable_api
ORG=$TMP/org
fx_new "$ORG"
fx_people "$ORG" 50
fx_team "$ORG" T1 Everyone
for i in $(seq -w 1 50); do fx_in "$ORG" T1 "M0$i"; done
sync_csv "$ORG"
expect_sync Success
expect_count "members created" .counts.members.created 50
expect_eq "members listed" 50 "$(member_count)"

t "without the CA: certificate error (curl exit 60), no answer"
curl -sS -o "$TMP/out" "https://127.0.0.1:$PORT/healthz" 2>"$TMP/curl.err"
rc=$?
expect_eq "curl exit status" 60 "$rc"
expect_match "curl's message" 'certificate' "$(cat "$TMP/curl.err")"

t "a CA that did not sign the certificate: certificate error (curl exit 60)"
curl -sS --cacert "$PKI/stranger.pem" -o "$TMP/out" "https://127.0.0.1:$PORT/healthz" \
	2>"$TMP/curl.err"
expect_eq "curl exit status" 60 "$?"

t "plain http:// to the TLS port gets no HTTP answer"
code=$(curl -sS --max-time 10 -o "$TMP/out" -w '%{http_code}' "http://127.0.0.1:$PORT/healthz" \
	2>"$TMP/curl.err")
rc=$?
expect_ne "curl exit status" 0 "$rc"
expect_eq "HTTP status" 000 "$code"

t "TLS 1.2 and 1.3 are offered; 1.0 and 1.1 are refused"
code=$(curl -sS --cacert "$PKI/ca.pem" --tlsv1.2 --tls-max 1.2 -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$PORT/healthz" 2>"$TMP/curl.err")
expect_eq "status over TLS 1.2" 200 "$code"
code=$(curl -sS --cacert "$PKI/ca.pem" --tlsv1.3 -o /dev/null -w '%{http_code}' \
	"https://127.0.0.1:$PORT/healthz" 2>"$TMP/curl.err")
expect_eq "status over TLS 1.3" 200 "$code"
# openssl's client at security level 0 still speaks 1.0/1.1: only the server can refuse.
for v in tls1 tls1_1; do
	if openssl s_client -"$v" -cipher 'DEFAULT@SECLEVEL=0' -CAfile "$PKI/ca.pem" \
		-connect "127.0.0.1:$PORT" </dev/null >"$TMP/s_client.out" 2>&1; then
		fail "a -$v handshake succeeded"
		note "$TMP/s_client.out"
	fi
done

# --- push over TLS (the client of SPEC §7) -------------------------------------------------

# push_over_tls: `orgsync push --cacert` against this server; only when the
# client is built (`orgsync push --help` answers), skipped with a note otherwise.
push_over_tls() {
	if ! orgsync push --help >/dev/null 2>&1; then
		skip_unless_required "orgsync push --cacert over HTTPS" "this orgsync has no push command"
		return 0
	fi
	t "orgsync push --cacert over HTTPS: Success"
	fx_member "$ORG" M051 m051@acme.example
	fx_in "$ORG" T1 M051
	ORGSYNC_API_KEY=$ORG_KEY orgsync push --url "https://127.0.0.1:$PORT" --cacert "$PKI/ca.pem" \
		--members "$ORG/members.csv" --teams "$ORG/teams.csv" \
		--mappings "$ORG/teams-mappings.csv" --wait >"$TMP/push.out" 2>&1
	rc=$?
	expect_eq "push exit status" 0 "$rc"
	[ "$rc" = 0 ] || note "$TMP/push.out"
	expect_eq "members listed" 51 "$(member_count)"

	t "orgsync push without the CA: refused before anything is sent"
	fx_member "$ORG" M052 m052@acme.example
	ORGSYNC_API_KEY=$ORG_KEY orgsync push --url "https://127.0.0.1:$PORT" \
		--members "$ORG/members.csv" --teams "$ORG/teams.csv" \
		--mappings "$ORG/teams-mappings.csv" --wait --retries 0 >"$TMP/push.out" 2>&1
	rc=$?
	expect_eq "push exit status (6: network)" 6 "$rc"
	expect_match "push says why" '[Cc]ertificate' "$(cat "$TMP/push.out")"
	expect_eq "members listed" 51 "$(member_count)"
}
push_over_tls

# --- configurations that must not start ------------------------------------------------

t "a key that does not belong to the certificate: exit 5, the key file named"
serve_fails --tls-cert "$PKI/server.pem" --tls-key "$PKI/other.key"
expect_eq "exit status" 5 "$SERVE_RC"
expect_match "message names the key file" "--tls-key $PKI/other\\.key" "$SERVE_ERR"
expect_match "message gives the reason" 'do not match' "$SERVE_ERR"

t "a key file that does not exist: exit 5, the file named"
serve_fails --tls-cert "$PKI/server.pem" --tls-key "$PKI/nope.key"
expect_eq "exit status" 5 "$SERVE_RC"
expect_match "message" "cannot read --tls-key $PKI/nope\\.key: No such file" "$SERVE_ERR"

t "a certificate file that is not a certificate: exit 5, the file named"
serve_fails --tls-cert "$PKI/server.key" --tls-key "$PKI/server.key"
expect_eq "exit status" 5 "$SERVE_RC"
expect_match "message" "--tls-cert $PKI/server\\.key is not a PEM file" "$SERVE_ERR"

t "a corrupt certificate: exit 5, GnuTLS's reason after the file names"
{
	echo "-----BEGIN CERTIFICATE-----"
	echo "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	echo "-----END CERTIFICATE-----"
} >"$PKI/corrupt.pem"
serve_fails --tls-cert "$PKI/corrupt.pem" --tls-key "$PKI/server.key"
# GnuTLS (3.7) itself leaks the certificate it failed to parse: under valgrind
# that is exit 99, which says nothing about orgsync.
case $ORGSYNC in
*valgrind*) expect_match "exit status (99: GnuTLS's leak)" '^(5|99)$' "$SERVE_RC" ;;
*) expect_eq "exit status" 5 "$SERVE_RC" ;;
esac
expect_match "message" "TLS cannot start with --tls-cert $PKI/corrupt\\.pem" "$SERVE_ERR"

t "a key protected by a passphrase: exit 5, told to decrypt it"
openssl pkey -in "$PKI/server.key" -aes256 -passout pass:secret -out "$PKI/encrypted.key" 2>/dev/null
serve_fails --tls-cert "$PKI/server.pem" --tls-key "$PKI/encrypted.key"
expect_eq "exit status" 5 "$SERVE_RC"
expect_match "message" "--tls-key $PKI/encrypted\\.key is encrypted" "$SERVE_ERR"

t "--tls-cert without --tls-key, and the reverse: exit 5"
serve_fails --tls-cert "$PKI/server.pem"
expect_eq "exit status (cert only)" 5 "$SERVE_RC"
expect_match "message" 'go together \(--tls-key is missing\)' "$SERVE_ERR"
serve_fails --tls-key "$PKI/server.key"
expect_eq "exit status (key only)" 5 "$SERVE_RC"
expect_match "message" 'go together \(--tls-cert is missing\)' "$SERVE_ERR"

t "the key never reaches the logs"
key_line=$(sed -n 2p "$PKI/server.key")
if grep -qF -- "$key_line" "$TMP/server.out" "$TMP/server.err" "$TMP/fail.err"; then
	fail "a line of the private key was logged"
fi

finish
