/*
 * util/num: the one parser of whole numbers from untrusted text. Contracts
 * from the header: the whole string, decimal digits only (a '-' where
 * negatives are allowed), the range checked with overflow read as above
 * the maximum, the output untouched on a refusal, and a refusal explained
 * with the value and the bound it crossed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "unit/check.h"

#include "util/num.h"

static void test_num_accepts_whole_decimal_numbers(void **state)
{
	uint64_t u = 0;
	int64_t i = 0;

	(void)state;
	CHECK_EQ("'10' is a number", NUM_OK, num_u64("10", 1, 500, &u));
	CHECK_EQ("'10' reads as 10", 10, u);
	CHECK_EQ("leading zeros are decimal, not octal", NUM_OK, num_u64("010", 0, 500, &u));
	CHECK_EQ("'010' reads as 10", 10, u);
	CHECK_EQ("the maximum itself", NUM_OK, num_u64("500", 1, 500, &u));
	CHECK_EQ("the largest 64-bit value", NUM_OK,
		 num_u64("18446744073709551615", 0, UINT64_MAX, &u));
	CHECK_EQ("it reads whole", 1, u == UINT64_MAX);
	CHECK_EQ("a negative where allowed", NUM_OK, num_i64("-5", -10, 10, &i));
	CHECK_EQ("'-5' reads as -5", -5, i);
	CHECK_EQ("the smallest 64-bit value", NUM_OK,
		 num_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &i));
	CHECK_EQ("it reads whole", 1, i == INT64_MIN);
	CHECK_EQ("the largest signed value", NUM_OK,
		 num_i64("9223372036854775807", INT64_MIN, INT64_MAX, &i));
	CHECK_EQ("it reads whole", 1, i == INT64_MAX);
}

static void test_num_refuses_anything_but_digits(void **state)
{
	static const char *const bad[] = { "",    "10abc", "+5",  " 5",   "5 ",  "5.0", "0x10",
					   "1e3", "-",     "--1", "\t1",  "1\n", "١",   "-0",
					   "- 1", "5-",    "1,000" };
	uint64_t u = 77;
	int64_t i = 77;
	size_t k;

	(void)state;
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		if (num_u64(bad[k], 0, UINT64_MAX, &u) != NUM_ESYNTAX)
			fail_msg("num_u64('%s'): expected NUM_ESYNTAX", bad[k]);
		if (num_i64(bad[k], INT64_MIN, INT64_MAX, &i) != NUM_ESYNTAX)
			fail_msg("num_i64('%s'): expected NUM_ESYNTAX", bad[k]);
	}
	CHECK_EQ("unsigned: a sign is not a digit", NUM_ESYNTAX, num_u64("-1", 0, 10, &u));
	CHECK_EQ("NULL is no number", NUM_ESYNTAX, num_u64(NULL, 0, 10, &u));
	CHECK_EQ("the output is untouched on a refusal (u64)", 77, u);
	CHECK_EQ("the output is untouched on a refusal (i64)", 77, i);
}

static void test_num_range_and_overflow(void **state)
{
	uint64_t u = 77;
	int64_t i = 77;

	(void)state;
	CHECK_EQ("below the minimum", NUM_EBELOW, num_u64("0", 1, 500, &u));
	CHECK_EQ("above the maximum", NUM_EABOVE, num_u64("501", 1, 500, &u));
	CHECK_EQ("2^64 overflows: above", NUM_EABOVE,
		 num_u64("18446744073709551616", 0, UINT64_MAX, &u));
	CHECK_EQ("twenty nines: above", NUM_EABOVE, num_u64("99999999999999999999", 1, 500, &u));
	CHECK_EQ("2^63 overflows int64: above", NUM_EABOVE,
		 num_i64("9223372036854775808", INT64_MIN, INT64_MAX, &i));
	CHECK_EQ("-2^63-1 overflows int64: below", NUM_EBELOW,
		 num_i64("-9223372036854775809", INT64_MIN, INT64_MAX, &i));
	CHECK_EQ("a huge negative: below", NUM_EBELOW,
		 num_i64("-99999999999999999999999", INT64_MIN, INT64_MAX, &i));
	CHECK_EQ("negative below a positive minimum", NUM_EBELOW, num_i64("-1", 1, 500, &i));
	CHECK_EQ("the output is untouched (u64)", 77, u);
	CHECK_EQ("the output is untouched (i64)", 77, i);
}

static void test_num_explains_the_refusal(void **state)
{
	char msg[128];

	(void)state;
	num_explain_u64(num_u64("80x", 0, 65535, &(uint64_t){ 0 }), "80x", 0, 65535, msg,
			sizeof(msg));
	CHECK_STR("syntax", "'80x' is not decimal digits alone", msg);
	num_explain_u64(NUM_ESYNTAX, "", 0, 1, msg, sizeof(msg));
	CHECK_STR("empty", "the value is empty", msg);
	num_explain_u64(NUM_EBELOW, "0", 1024, 1048576, msg, sizeof(msg));
	CHECK_STR("below", "0 is below the minimum 1024", msg);
	num_explain_i64(NUM_EABOVE, "501", 1, 500, msg, sizeof(msg));
	CHECK_STR("above", "501 is above the maximum 500", msg);
	num_explain_i64(NUM_EBELOW, "-3", -2, 2, msg, sizeof(msg));
	CHECK_STR("negative bound", "-3 is below the minimum -2", msg);
	num_explain_u64(NUM_ESYNTAX, "0123456789012345678901234567890123456789xyz", 0, 1, msg,
			sizeof(msg));
	CHECK_STR("a long value is cut at 40 bytes",
		  "'0123456789012345678901234567890123456789' is not decimal digits alone", msg);
	num_explain_u64(NUM_EABOVE, "12345", 0, 9, msg, 8);
	CHECK_STR("a short buffer still ends", "12345 i", msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_num_accepts_whole_decimal_numbers),
		cmocka_unit_test(test_num_refuses_anything_but_digits),
		cmocka_unit_test(test_num_range_and_overflow),
		cmocka_unit_test(test_num_explains_the_refusal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
