/* Unit tests of delivery's pure parts: RFC 2047 headers and message text
 * (src/server/mailmsg.c), the emails and webhook body (delivery.c), the
 * signature and settings secrets (webhook.c), the backoff schedule, and
 * the classification of addresses webhooks may not reach (netcheck.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <jansson.h>
#include <sodium.h>

#include "check.h"
#include "server/delivery.h"
#include "server/mailmsg.h"
#include "server/netcheck.h"
#include "server/webhook.h"

/* Decodes the value of one header made of encoded-words (as a reader does). */
static void decode_words(const char *value, char *out, size_t outlen)
{
	size_t n = 0;
	const char *p = value;

	while ((p = strstr(p, "=?UTF-8?B?")) != NULL) {
		const char *end = strstr(p + 10, "?=");
		size_t bin = 0;

		assert_non_null(end);
		assert_int_equal(0, sodium_base642bin((unsigned char *)out + n, outlen - n - 1, p + 10,
						      (size_t)(end - p - 10), NULL, &bin, NULL,
						      sodium_base64_VARIANT_ORIGINAL));
		n += bin;
		p = end + 2;
	}
	out[n] = '\0';
}

/* Every line of text (CRLF-separated) at most max bytes. */
static void lines_within(const char *what, const char *text, size_t max)
{
	const char *p = text, *nl;

	while (*p) {
		nl = strstr(p, "\r\n");
		if (!nl)
			nl = p + strlen(p);
		if ((size_t)(nl - p) > max)
			fail_msg("%s: a line of %zu bytes, over %zu: %.*s", what, (size_t)(nl - p), max,
				 (int)(nl - p), p);
		p = *nl ? nl + 2 : nl;
	}
}

static void test_encoded_words(void **state)
{
	static const char *const names[] = { "Zoë Åsa Ñúñez", "渡辺", ("Société Ærø invites you to "
					       "join them at a very long organization name indeed"),
					      "ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé ünïcödé" };
	char decoded[512];
	struct buf b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		buf_init(&b);
		assert_int_equal(0, mailmsg_encode_words(&b, names[i], 9));
		if (strncmp(b.data, "=?UTF-8?B?", 10) != 0)
			fail_msg("%s: expected an encoded-word, got %s", names[i], b.data);
		if (strstr(b.data, "\r\n \r\n"))
			fail_msg("%s: an empty folded line in %s", names[i], b.data);
		decode_words(b.data, decoded, sizeof(decoded));
		CHECK_STR(names[i], names[i], decoded);
		/* As a header, after the 9 columns of "Subject: ". */
		{
			struct buf line;

			buf_init(&line);
			buf_printf(&line, "Subject: %s", b.data);
			lines_within(names[i], line.data, 76);
			buf_free(&line);
		}
		buf_free(&b);
	}
	buf_init(&b);
	assert_int_equal(0, mailmsg_encode_words(&b, "Plain ASCII subject", 9));
	CHECK_STR("ASCII as is", "Plain ASCII subject", b.data);
	buf_reset(&b);
	assert_int_equal(0, mailmsg_encode_words(&b, "Bcc: x\r\nInjected: yes", 9));
	CHECK_STR("no header injection", "Bcc: x  Injected: yes", b.data);
	buf_reset(&b);
	assert_int_equal(0, mailmsg_encode_words(&b, "looks =?like?= a word", 9));
	if (strncmp(b.data, "=?UTF-8?B?", 10) != 0)
		fail_msg("text that looks encoded is encoded: %s", b.data);
	buf_free(&b);
}

static void test_mailbox(void **state)
{
	char name[MAILMSG_NAME_MAX], addr[MAILMSG_ADDR_MAX];
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(0, mailmsg_mailbox(&b, "Doe, Jane \"JD\"", "jane@x.example", 4));
	CHECK_STR("quoted", "\"Doe, Jane \\\"JD\\\"\" <jane@x.example>", b.data);
	buf_reset(&b);
	assert_int_equal(0, mailmsg_mailbox(&b, "", "jane@x.example", 4));
	CHECK_STR("bare", "jane@x.example", b.data);
	buf_free(&b);
	assert_int_equal(0, mailmsg_parse_mailbox("Orgsync <noreply@x.example>", name, addr));
	CHECK_STR("name", "Orgsync", name);
	CHECK_STR("addr", "noreply@x.example", addr);
	assert_int_equal(0, mailmsg_parse_mailbox("\"Org, Sync\" <a@x.example>", name, addr));
	CHECK_STR("quoted name", "Org, Sync", name);
	assert_int_equal(0, mailmsg_parse_mailbox("a@x.example", name, addr));
	CHECK_STR("bare addr", "a@x.example", addr);
	CHECK_EQ("no address", -1, mailmsg_parse_mailbox("Orgsync", name, addr));
	CHECK_EQ("bad address", -1, mailmsg_parse_mailbox("X <not an address>", name, addr));
	CHECK_EQ("text after >", -1, mailmsg_parse_mailbox("X <a@x.example> y", name, addr));
}

static void test_build_8bit_and_qp(void **state)
{
	struct mailmsg m = { "Orgsync", "noreply@x.example", "渡辺", "w@x.example", "Héllo",
			     "Line one\nLine two, ünïcode\n", "dlv_1@x.example", "dlv_1",
			     1700000000 };
	char *longline = malloc(3001);
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_int_equal(0, mailmsg_build(&m, &b));
	if (!strstr(b.data, "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n") ||
	    !strstr(b.data, "\r\nMessage-ID: <dlv_1@x.example>\r\n") ||
	    !strstr(b.data, "\r\nMIME-Version: 1.0\r\n") ||
	    !strstr(b.data, "\r\nContent-Type: text/plain; charset=UTF-8\r\n") ||
	    !strstr(b.data, "\r\nContent-Transfer-Encoding: 8bit\r\n") ||
	    !strstr(b.data, "\r\nTo: =?UTF-8?B?5rih6L66?= <w@x.example>\r\n") ||
	    !strstr(b.data, "\r\n\r\nLine one\r\nLine two, ünïcode\r\n"))
		fail_msg("message headers or body not as expected:\n%s", b.data);
	lines_within("8bit message", b.data, MAILMSG_LINE_MAX);
	/* A line past 998 bytes: the body goes quoted-printable. */
	memset(longline, 'a', 3000);
	longline[3000] = '\0';
	longline[10] = '=';
	m.body = longline;
	buf_reset(&b);
	assert_int_equal(0, mailmsg_build(&m, &b));
	if (!strstr(b.data, "Content-Transfer-Encoding: quoted-printable\r\n") ||
	    !strstr(b.data, "aaaaaaaaaa=3Daaa"))
		fail_msg("expected a quoted-printable body:\n%.400s", b.data);
	lines_within("quoted-printable message", b.data, 76);
	buf_reset(&b);
	assert_int_equal(0, mailmsg_qp(&b, "trailing space \nÅ\n"));
	CHECK_STR("qp", "trailing space=20\r\n=C3=85\r\n", b.data);
	buf_free(&b);
	free(longline);
}

static void test_compose(void **state)
{
	struct delivery_mail m;
	char err[256];
	const char *paused =
		"{\"type\":\"sync.status\",\"org\":{\"id\":1},\"sync\":{\"id\":12,\"status\":\"Paused\","
		"\"reason\":\"paused by the risk threshold\",\"risk\":{\"paused\":true,\"trips\":[{"
		"\"message\":\"members is 50.0, over the limit of 10.0 (5 of 10)\"}]},\"counts\":null}}";

	(void)state;
	assert_int_equal(0, delivery_compose("invitation",
					     "{\"memberId\":\"M1\",\"email\":\"z@x.example\","
					     "\"firstName\":\"Zoë\",\"lastName\":\"Åsa\",\"token\":\"T0K\"}",
					     1700000000000, "Acme", "https://o.example", &m, err,
					     sizeof(err)));
	CHECK_STR("to name", "Zoë Åsa", m.to_name);
	CHECK_STR("subject", "Acme invites you to join them", m.subject);
	if (!strstr(m.body, "https://o.example/invitations/T0K\n") ||
	    !strstr(m.body, "2023-11-21 22:13 UTC"))
		fail_msg("invitation body: %s", m.body);
	delivery_mail_free(&m);
	CHECK_EQ("an invitation without its token", -1,
		 delivery_compose("invitation", "{\"email\":\"z@x.example\"}", 0, "Acme", "x", &m,
				  err, sizeof(err)));
	assert_int_equal(0, delivery_compose("notification", paused, 0, "Acme", "https://o.example",
					     &m, err, sizeof(err)));
	CHECK_STR("paused subject", "[orgsync] Acme: sync 12 is paused: approve or reject it",
		  m.subject);
	if (!strstr(m.body, "  - members is 50.0, over the limit of 10.0 (5 of 10)\n") ||
	    !strstr(m.body, "https://o.example/v1/syncs/12/approve") ||
	    !strstr(m.body, "https://o.example/v1/syncs/12/reject"))
		fail_msg("paused body: %s", m.body);
	delivery_mail_free(&m);
	assert_int_equal(0, delivery_compose("notification",
					     "{\"sync\":{\"id\":3,\"status\":\"Failed\",\"reason\":"
					     "\"the database failed\"}}",
					     0, "Acme", "https://o.example", &m, err, sizeof(err)));
	CHECK_STR("failed subject", "[orgsync] Acme: sync 3 is Failed", m.subject);
	if (!strstr(m.body, "Failed: the database failed"))
		fail_msg("failed body: %s", m.body);
	delivery_mail_free(&m);
	assert_int_equal(0, delivery_compose("notification",
					     "{\"sync\":{\"id\":4,\"status\":\"Warning\"},\"issues\":"
					     "{\"error\":2,\"warning\":1}}",
					     0, "Acme", "https://o.example", &m, err, sizeof(err)));
	if (!strstr(m.body, "2 error(s)") || !strstr(m.body, "1 warning(s)") ||
	    !strstr(m.body, "https://o.example/v1/syncs/4/report"))
		fail_msg("warning body: %s", m.body);
	delivery_mail_free(&m);
}

static void test_webhook_body_and_signature(void **state)
{
	char sig[WEBHOOK_SIGNATURE_LEN + 1];
	char *body = delivery_webhook_body("dlv_ab", "{\"type\":\"sync.status\"}");

	(void)state;
	CHECK_STR("body", "{\"id\":\"dlv_ab\",\"type\":\"sync.status\"}", body);
	free(body);
	body = delivery_webhook_body("dlv_ab", "{}");
	CHECK_STR("empty body", "{\"id\":\"dlv_ab\"}", body);
	free(body);
	webhook_sign("key", 1700000000, "{\"a\":1}", 7, sig);
	/* echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key */
	CHECK_STR("signature",
		  "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03", sig);
}

static void test_settings_secrets(void **state)
{
	json_t *current = json_loads("{\"webhooks\":[{\"url\":\"https://h.example/a\",\"secret\":"
				     "\"0123456789abcdef\"}]}", 0, NULL);
	json_t *merged = json_loads("{\"webhooks\":[{\"url\":\"https://h.example/a\","
				    "\"hasSecret\":true}]}", 0, NULL);
	json_t *shown;
	char err[256];

	(void)state;
	assert_int_equal(0, webhook_settings_merge(current, merged, false, err, sizeof(err)));
	CHECK_STR("kept", "0123456789abcdef", webhook_secret(merged, "https://h.example/a"));
	shown = webhook_settings_redact(merged);
	CHECK_EQ("hidden", 0, json_object_get(json_array_get(json_object_get(shown, "webhooks"), 0),
					      "secret") != NULL);
	CHECK_EQ("hasSecret", 1, json_is_true(json_object_get(
					 json_array_get(json_object_get(shown, "webhooks"), 0),
					 "hasSecret")));
	json_decref(shown);
	json_decref(merged);
	merged = json_loads("{\"webhooks\":[{\"url\":\"https://h.example/b\"}]}", 0, NULL);
	CHECK_EQ("a new URL needs a secret", -1,
		 webhook_settings_merge(current, merged, false, err, sizeof(err)));
	json_decref(merged);
	merged = json_loads("{\"webhooks\":[{\"url\":\"https://169.254.169.254/\",\"secret\":"
			    "\"0123456789abcdef\"}]}", 0, NULL);
	CHECK_EQ("metadata refused", -1, webhook_settings_merge(current, merged, false, err,
								 sizeof(err)));
	if (!strstr(err, "webhooks[0].url"))
		fail_msg("the message names the field: %s", err);
	CHECK_EQ("allowed with the option", 0,
		 webhook_settings_merge(current, merged, true, err, sizeof(err)));
	json_decref(merged);
	json_decref(current);
}

static void test_backoff(void **state)
{
	unsigned a;

	(void)state;
	for (a = 1; a <= 40; a++) {
		uint64_t bound = a > 30 ? 3600000 : 1000ull << (a - 1);

		if (bound > 3600000)
			bound = 3600000;
		CHECK_EQ("zero jitter", 0, delivery_backoff(a, 1000, 3600000, 0));
		CHECK_EQ("full jitter reaches the bound", bound,
			 delivery_backoff(a, 1000, 3600000, UINT32_MAX));
		if (delivery_backoff(a, 1000, 3600000, UINT32_MAX / 2) > bound / 2 + 1)
			fail_msg("attempt %u: half the range is over half the bound", a);
	}
	CHECK_EQ("first retry", 1000, delivery_backoff(1, 1000, 3600000, UINT32_MAX));
	CHECK_EQ("third retry", 4000, delivery_backoff(3, 1000, 3600000, UINT32_MAX));
	CHECK_EQ("capped", 3600000, delivery_backoff(1000, 1000, 3600000, UINT32_MAX));
}

static void test_classify(void **state)
{
	static const struct {
		const char *ip;
		enum netcheck_class c;
	} cases[] = {
		{ "127.0.0.1", NETCHECK_LOOPBACK },     { "127.1", NETCHECK_LOOPBACK },
		{ "10.1.2.3", NETCHECK_PRIVATE },       { "172.16.0.1", NETCHECK_PRIVATE },
		{ "172.31.255.255", NETCHECK_PRIVATE }, { "172.32.0.1", NETCHECK_PUBLIC },
		{ "192.168.1.1", NETCHECK_PRIVATE },    { "169.254.169.254", NETCHECK_LINK_LOCAL },
		{ "0.0.0.0", NETCHECK_UNSPECIFIED },    { "100.64.0.1", NETCHECK_CGNAT },
		{ "100.128.0.1", NETCHECK_PUBLIC },     { "224.0.0.1", NETCHECK_MULTICAST },
		{ "255.255.255.255", NETCHECK_RESERVED }, { "192.0.2.1", NETCHECK_RESERVED },
		{ "8.8.8.8", NETCHECK_PUBLIC },         { "::1", NETCHECK_LOOPBACK },
		{ "::", NETCHECK_UNSPECIFIED },         { "fc00::1", NETCHECK_PRIVATE },
		{ "fd12:3456::1", NETCHECK_PRIVATE },   { "fe80::1", NETCHECK_LINK_LOCAL },
		{ "febf::1", NETCHECK_LINK_LOCAL },     { "ff02::1", NETCHECK_MULTICAST },
		{ "::ffff:127.0.0.1", NETCHECK_LOOPBACK }, { "::ffff:169.254.169.254", NETCHECK_LINK_LOCAL },
		{ "64:ff9b::10.0.0.1", NETCHECK_PRIVATE }, { "2002:7f00:1::", NETCHECK_LOOPBACK },
		{ "2001:db8::1", NETCHECK_RESERVED },   { "2606:4700::1111", NETCHECK_PUBLIC },
	};
	enum netcheck_class c;
	char err[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (netcheck_classify_text(cases[i].ip, &c) < 0)
			fail_msg("%s: not read as an address", cases[i].ip);
		if (c != cases[i].c)
			fail_msg("%s: expected %s, got %s", cases[i].ip,
				 netcheck_class_name(cases[i].c), netcheck_class_name(c));
	}
	CHECK_EQ("a name is not an address", -1, netcheck_classify_text("example.com", &c));
	CHECK_EQ("https public", 0, netcheck_url("https://8.8.8.8/hook", false, err, sizeof(err)));
	CHECK_EQ("http refused", -1, netcheck_url("http://h.example/", false, err, sizeof(err)));
	CHECK_EQ("http with the option", 0, netcheck_url("http://127.0.0.1:9/", true, err,
							  sizeof(err)));
	CHECK_EQ("loopback", -1, netcheck_url("https://127.0.0.1/", false, err, sizeof(err)));
	CHECK_EQ("IPv6 loopback", -1, netcheck_url("https://[::1]:8443/", false, err, sizeof(err)));
	CHECK_EQ("credentials", -1, netcheck_url("https://u:p@h.example/", false, err, sizeof(err)));
	CHECK_EQ("not a URL", -1, netcheck_url("hooks", false, err, sizeof(err)));
	CHECK_EQ("a name passes until it is resolved", 0,
		 netcheck_url("https://localhost/", false, err, sizeof(err)));
	{
		char pin[300];

		CHECK_EQ("localhost resolves to loopback", -1,
			 netcheck_resolve("https://localhost:8443/x", pin, sizeof(pin), err,
					  sizeof(err)));
		if (!strstr(err, "loopback"))
			fail_msg("the refusal says why: %s", err);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoded_words),
		cmocka_unit_test(test_mailbox),
		cmocka_unit_test(test_build_8bit_and_qp),
		cmocka_unit_test(test_compose),
		cmocka_unit_test(test_webhook_body_and_signature),
		cmocka_unit_test(test_settings_secrets),
		cmocka_unit_test(test_backoff),
		cmocka_unit_test(test_classify),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
