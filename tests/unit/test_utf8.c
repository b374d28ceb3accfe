/*
 * utf8_valid_prefix(): RFC 3629 validation. Named cases pin the offset of
 * the first invalid byte; an independent decoder then checks every 1-, 2-
 * and 3-byte sequence and a wide slice of 4-byte ones. Each named case is
 * copied into a heap block of exactly its length, so a read past the end
 * shows under ASan and valgrind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/utf8.h"

struct utf8_case {
	const char *name;
	const char *bytes;
	size_t len;
	size_t expected;
};

/* sizeof of a literal counts its NUL: L() gives the bytes without it. */
#define L(s) s, sizeof(s) - 1
/* A valid case: the whole input is the valid prefix. */
#define V(name, s) { name, s, sizeof(s) - 1, sizeof(s) - 1 }

/* Runs s[0..len) from an exact-size heap copy and returns the result. */
static size_t prefix_exact(const char *s, size_t len)
{
	char *copy = malloc(len ? len : 1);
	size_t got;

	assert_non_null(copy);
	if (len)
		memcpy(copy, s, len);
	got = utf8_valid_prefix(copy, len);
	free(copy);
	return got;
}

static void run_cases(const struct utf8_case *cases, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		size_t got = prefix_exact(cases[i].bytes, cases[i].len);

		if (got != cases[i].expected)
			fail_msg("case \"%s\": expected %zu, got %zu", cases[i].name,
				 cases[i].expected, got);
	}
}

#define RUN(cases) run_cases(cases, sizeof(cases) / sizeof(cases[0]))

/* utf8_cut never splits a sequence: the kept prefix is valid, and as long as can be. */
static void test_cut_between_characters(void **state)
{
	static const struct {
		const char *s;
		size_t len, want;
	} cases[] = {
		{ "abc", 3, 3 },
		{ "ab\xC3\xA9", 4, 4 },          /* é complete */
		{ "ab\xC3\xA9", 3, 2 },          /* é cut after its lead byte */
		{ "a\xE7\x8E\x8B", 4, 4 },       /* 王 complete */
		{ "a\xE7\x8E\x8B", 3, 1 },       /* 王 cut after two bytes */
		{ "a\xE7\x8E\x8B", 2, 1 },
		{ "\xF0\x9F\x98\x80z", 4, 4 },  /* an emoji, then z outside the cut */
		{ "\xF0\x9F\x98\x80", 3, 0 },
		{ "", 0, 0 },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t got = utf8_cut(cases[i].s, cases[i].len);

		if (got != cases[i].want)
			fail_msg("case %zu: utf8_cut(len %zu) = %zu, expected %zu", i, cases[i].len, got,
				 cases[i].want);
		assert_int_equal(utf8_valid_prefix(cases[i].s, got), got);
	}
}

static void test_valid_text(void **state)
{
	static const struct utf8_case cases[] = {
		V("empty", ""),
		V("ascii word", "hello"),
		V("ascii 100 bytes",
		  "0123456789012345678901234567890123456789012345678901234567890123456789"
		  "012345678901234567890123456789"),
		V("NUL bytes are ASCII", "a\0b\0"),
		V("DEL", "\x7f"),
		V("2-byte e-acute", "\xC3\xA9"),
		V("2-byte name Elodie", "\xC3\x89lodie"),
		V("2-byte lowest U+0080", "\xC2\x80"),
		V("2-byte highest U+07FF", "\xDF\xBF"),
		V("3-byte lowest U+0800", "\xE0\xA0\x80"),
		V("3-byte euro sign", "\xE2\x82\xAC"),
		V("3-byte just below surrogates U+D7FF", "\xED\x9F\xBF"),
		V("3-byte just above surrogates U+E000", "\xEE\x80\x80"),
		V("3-byte highest U+FFFF", "\xEF\xBF\xBF"),
		V("3-byte BOM", "\xEF\xBB\xBF"),
		V("4-byte lowest U+10000", "\xF0\x90\x80\x80"),
		V("4-byte emoji U+1F600", "\xF0\x9F\x98\x80"),
		V("4-byte highest U+10FFFF", "\xF4\x8F\xBF\xBF"),
		V("mixed French name and emoji",
		  "Fran\xC3\xA7ois No\xC3\xABl \xE2\x82\xAC \xF0\x9F\x98\x80 Zo\xC3\xAB"),
		V("multibyte across the 8-byte stride",
		  "abcdefg\xC3\xA9hijklmnopq\xE2\x82\xACrs"),
	};

	(void)state;
	RUN(cases);
}

static void test_overlong_forms(void **state)
{
	static const struct utf8_case cases[] = {
		{ "C0 80 (overlong NUL)", L("\xC0\x80"), 0 },
		{ "C1 BF (overlong U+007F)", L("\xC1\xBF"), 0 },
		{ "E0 80 80 (overlong NUL)", L("\xE0\x80\x80"), 0 },
		{ "E0 9F BF (overlong U+07FF)", L("\xE0\x9F\xBF"), 0 },
		{ "F0 80 80 80 (overlong NUL)", L("\xF0\x80\x80\x80"), 0 },
		{ "F0 8F BF BF (overlong U+FFFF)", L("\xF0\x8F\xBF\xBF"), 0 },
		{ "overlong after ASCII", L("abc\xC0\x80"), 3 },
		{ "overlong 3-byte after 2-byte", L("\xC3\xA9\xE0\x80\x80"), 2 },
	};

	(void)state;
	RUN(cases);
}

static void test_surrogates_and_range(void **state)
{
	static const struct utf8_case cases[] = {
		{ "ED A0 80 (U+D800, first surrogate)", L("\xED\xA0\x80"), 0 },
		{ "ED BF BF (U+DFFF, last surrogate)", L("\xED\xBF\xBF"), 0 },
		{ "surrogate pair as CESU-8", L("\xED\xA0\xBD\xED\xB8\x80"), 0 },
		{ "F4 90 80 80 (U+110000)", L("\xF4\x90\x80\x80"), 0 },
		{ "F4 BF BF BF", L("\xF4\xBF\xBF\xBF"), 0 },
		{ "F5 80 80 80 (lead above F4)", L("\xF5\x80\x80\x80"), 0 },
		{ "F7 BF BF BF", L("\xF7\xBF\xBF\xBF"), 0 },
		{ "F8 5-byte lead", L("\xF8\x88\x80\x80\x80"), 0 },
		{ "FC 6-byte lead", L("\xFC\x84\x80\x80\x80\x80"), 0 },
		{ "FE", L("\xFE"), 0 },
		{ "FF", L("\xFF"), 0 },
		{ "surrogate after text", L("ok \xED\xA0\x80"), 3 },
		{ "above U+10FFFF after emoji", L("\xF0\x9F\x98\x80\xF4\x90\x80\x80"), 4 },
	};

	(void)state;
	RUN(cases);
}

static void test_bad_continuations(void **state)
{
	static const struct utf8_case cases[] = {
		{ "lone continuation 80", L("\x80"), 0 },
		{ "lone continuation BF", L("\xBF"), 0 },
		{ "continuation after ASCII", L("abc\x80" "def"), 3 },
		{ "2-byte lead then ASCII", L("\xC3\x28"), 0 },
		{ "2-byte lead then lead", L("\xC3\xC3\xA9"), 0 },
		{ "3-byte lead, 2nd byte ASCII", L("\xE2\x28\xA1"), 0 },
		{ "3-byte lead, 3rd byte ASCII", L("\xE2\x82\x28"), 0 },
		{ "3-byte lead, 3rd byte C0", L("\xE2\x82\xC0"), 0 },
		{ "4-byte lead, 2nd byte ASCII", L("\xF0\x28\x8C\xBC"), 0 },
		{ "4-byte lead, 3rd byte ASCII", L("\xF0\x9F\x28\x80"), 0 },
		{ "4-byte lead, 4th byte ASCII", L("\xF0\x9F\x98\x28"), 0 },
		{ "extra continuation after 2-byte", L("\xC3\xA9\x80"), 2 },
		{ "extra continuation after 4-byte", L("\xF0\x9F\x98\x80\xBF"), 4 },
		{ "invalid after two 3-byte chars",
		  L("\xE6\x97\xA5\xE6\x9C\xAC\xED\xA0\x80"), 6 },
		{ "Latin-1 e-acute in a name", L("Ren\xE9" "e"), 3 },
		{ "Elodie then C0", L("\xC3\x89lodie\xC0"), 7 },
	};

	(void)state;
	RUN(cases);
}

static void test_truncated_at_end(void **state)
{
	static const struct utf8_case cases[] = {
		{ "C3 alone", L("\xC3"), 0 },
		{ "ASCII then C3", L("ok\xC3"), 2 },
		{ "E2 alone", L("\xE2"), 0 },
		{ "E2 82 (one byte short)", L("ab\xE2\x82"), 2 },
		{ "F0 alone", L("\xF0"), 0 },
		{ "F0 9F (two short)", L("\xF0\x9F"), 0 },
		{ "F0 9F 98 (one short)", L("ab\xF0\x9F\x98"), 2 },
		{ "valid emoji then cut emoji", L("\xF0\x9F\x98\x80\xF0\x9F\x98"), 4 },
	};

	(void)state;
	RUN(cases);
}

/* The length is the whole input: bytes past it are neither read nor judged. */
static void test_length_bounds(void **state)
{
	static const struct utf8_case cases[] = {
		{ "len stops before an invalid byte", "ab\xFF", 2, 2 },
		{ "len cuts a 2-byte char", "\xC3\xA9", 1, 0 },
		{ "len cuts a 3-byte char after text", "xy\xE2\x82\xAC", 4, 2 },
		{ "len cuts a 4-byte char", "\xF0\x9F\x98\x80", 3, 0 },
		{ "len zero on invalid bytes", "\xFF\xFF", 0, 0 },
	};

	(void)state;
	RUN(cases);
}

/*
 * An invalid byte at every offset of an ASCII buffer, so that it falls at
 * each position of the 8-byte ASCII stride and in the tail after it.
 */
static void test_invalid_byte_at_each_offset(void **state)
{
	enum { N = 37 };
	static const unsigned char bad[] = { 0x80, 0xBF, 0xC0, 0xC1, 0xF5, 0xFF };
	char buf[N];
	size_t pos, b;

	(void)state;
	for (b = 0; b < sizeof(bad); b++) {
		for (pos = 0; pos < N; pos++) {
			size_t got;

			memset(buf, 'a', N);
			buf[pos] = (char)bad[b];
			got = prefix_exact(buf, N);
			if (got != pos)
				fail_msg("byte %02X at offset %zu of %d ASCII bytes: expected %zu, got %zu",
					 bad[b], pos, N, pos, got);
		}
	}
}

/* A valid multibyte character at every offset: the whole buffer is valid. */
static void test_valid_char_at_each_offset(void **state)
{
	enum { N = 37 };
	static const char *const chars[] = { "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80" };
	char buf[N];
	size_t pos, c;

	(void)state;
	for (c = 0; c < 3; c++) {
		size_t clen = strlen(chars[c]);

		for (pos = 0; pos + clen <= N; pos++) {
			size_t got;

			memset(buf, 'z', N);
			memcpy(buf + pos, chars[c], clen);
			got = prefix_exact(buf, N);
			if (got != N)
				fail_msg("%zu-byte char at offset %zu: expected %d (valid), got %zu",
					 clen, pos, N, got);
			/* and cut by the end of the buffer: invalid at its lead byte */
			if (clen > 1 && pos + clen == N) {
				got = prefix_exact(buf, N - 1);
				if (got != pos)
					fail_msg("%zu-byte char cut at end, lead at %zu: expected %zu, got %zu",
						 clen, pos, pos, got);
			}
		}
	}
}

/*
 * A second, arithmetic reading of RFC 3629: decode the code point and
 * judge it by value (shortest form, no surrogates, <= U+10FFFF).
 */
static size_t ref_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	uint32_t cp, min;

	while (i < len) {
		unsigned c = s[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			n = 2, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			n = 3, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			n = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return i;
		}
		if (i + n > len)
			return i;
		for (k = 1; k < n; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return i;
		i += n;
	}
	return len;
}

static void check_against_ref(const unsigned char *s, size_t len)
{
	size_t want = ref_prefix(s, len);
	size_t got = utf8_valid_prefix((const char *)s, len);

	if (got != want) {
		char hex[3 * 8 + 1] = "";
		size_t i;

		for (i = 0; i < len && i < 8; i++)
			snprintf(hex + 3 * i, 4, "%02X ", s[i]);
		fail_msg("bytes %s(len %zu): expected %zu, got %zu", hex, len, want, got);
	}
}

static void test_exhaustive_short_sequences(void **state)
{
	unsigned char s[3];
	unsigned a, b, c;

	(void)state;
	for (a = 0; a < 256; a++) {
		s[0] = (unsigned char)a;
		check_against_ref(s, 1);
		for (b = 0; b < 256; b++) {
			s[1] = (unsigned char)b;
			check_against_ref(s, 2);
		}
	}
	/* Every 3-byte sequence whose lead byte opens a 3-byte character. */
	for (a = 0xE0; a <= 0xEF; a++)
		for (b = 0; b < 256; b++)
			for (c = 0; c < 256; c++) {
				s[0] = (unsigned char)a;
				s[1] = (unsigned char)b;
				s[2] = (unsigned char)c;
				check_against_ref(s, 3);
			}
}

static void test_exhaustive_four_byte_leads(void **state)
{
	static const unsigned char edge[] = { 0x00, 0x41, 0x7F, 0x80, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF };
	unsigned char s[4];
	unsigned a, b;
	size_t c, d;

	(void)state;
	for (a = 0xF0; a <= 0xFF; a++)
		for (b = 0; b < 256; b++)
			for (c = 0; c < sizeof(edge); c++)
				for (d = 0; d < sizeof(edge); d++) {
					s[0] = (unsigned char)a;
					s[1] = (unsigned char)b;
					s[2] = edge[c];
					s[3] = edge[d];
					check_against_ref(s, 4);
				}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cut_between_characters),
		cmocka_unit_test(test_valid_text),
		cmocka_unit_test(test_overlong_forms),
		cmocka_unit_test(test_surrogates_and_range),
		cmocka_unit_test(test_bad_continuations),
		cmocka_unit_test(test_truncated_at_end),
		cmocka_unit_test(test_length_bounds),
		cmocka_unit_test(test_invalid_byte_at_each_offset),
		cmocka_unit_test(test_valid_char_at_each_offset),
		cmocka_unit_test(test_exhaustive_short_sequences),
		cmocka_unit_test(test_exhaustive_four_byte_leads),
	};

	return cmocka_run_group_tests_name("utf8", tests, NULL, NULL);
}
