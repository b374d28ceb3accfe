/* Unit tests of the per-key token buckets (src/server/ratelimit.c), on a
 * clock the tests move by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "check.h"
#include "server/ratelimit.h"

static struct ratelimit *make(double rate, double burst)
{
	struct ratelimit *rl = NULL;

	if (ratelimit_new(rate, burst, &rl) != 0)
		fail_msg("ratelimit_new(%g, %g) failed", rate, burst);
	return rl;
}

static void test_bad_arguments(void **state)
{
	struct ratelimit *rl = NULL;

	(void)state;
	CHECK_EQ("rate 0", -1, ratelimit_new(0, 10, &rl));
	CHECK_EQ("negative rate", -1, ratelimit_new(-1, 10, &rl));
	CHECK_EQ("burst below one", -1, ratelimit_new(5, 0.5, &rl));
	assert_null(rl);
}

/* A burst passes at once, the next request waits; tokens come back at the rate. */
static void test_burst_then_rate(void **state)
{
	struct ratelimit *rl = make(2, 5);
	int64_t t = 1000;
	int i;

	(void)state;
	for (i = 0; i < 5; i++)
		CHECK_EQ("within the burst", 0, ratelimit_take(rl, 7, t));
	CHECK_EQ("past the burst: wait a second", 1, ratelimit_take(rl, 7, t));
	CHECK_EQ("a refused request costs nothing", 1, ratelimit_take(rl, 7, t + 100));
	CHECK_EQ("half a second later one token is back", 0, ratelimit_take(rl, 7, t + 500));
	CHECK_EQ("and used", 1, ratelimit_take(rl, 7, t + 500));
	CHECK_EQ("a full refill after 2.5 s", 0, ratelimit_take(rl, 7, t + 3000));
	for (i = 0; i < 4; i++)
		CHECK_EQ("the burst again", 0, ratelimit_take(rl, 7, t + 3000));
	CHECK_EQ("no more than the burst is saved up", 1, ratelimit_take(rl, 7, t + 3000));
	ratelimit_free(rl);
}

/* Retry-After is the whole seconds until a token: slow rates wait longer. */
static void test_retry_after(void **state)
{
	struct ratelimit *rl = make(0.1, 1);

	(void)state;
	CHECK_EQ("first", 0, ratelimit_take(rl, 1, 0));
	CHECK_EQ("ten seconds per token", 10, ratelimit_take(rl, 1, 0));
	CHECK_EQ("four seconds later: six to go", 6, ratelimit_take(rl, 1, 4000));
	CHECK_EQ("a clock going back is not a refill", 6, ratelimit_take(rl, 1, 0));
	ratelimit_free(rl);
}

/* One key's traffic never costs another key a token. */
static void test_keys_are_separate(void **state)
{
	struct ratelimit *rl = make(1, 2);

	(void)state;
	CHECK_EQ("a 1", 0, ratelimit_take(rl, 1, 0));
	CHECK_EQ("a 2", 0, ratelimit_take(rl, 1, 0));
	CHECK_EQ("a 3 refused", 1, ratelimit_take(rl, 1, 0));
	CHECK_EQ("b 1", 0, ratelimit_take(rl, 2, 0));
	CHECK_EQ("b 2", 0, ratelimit_take(rl, 2, 0));
	CHECK_EQ("b 3 refused", 1, ratelimit_take(rl, 2, 0));
	ratelimit_free(rl);
}

/*
 * Thousands of keys: the table grows, forgets buckets that refilled, and
 * keeps the state of those that have not (a busy key stays limited while
 * the table is rebuilt around it).
 */
static void test_many_keys(void **state)
{
	struct ratelimit *rl = make(1, 3);
	int64_t k;
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		CHECK_EQ("busy key", 0, ratelimit_take(rl, -5, 0));
	for (k = 1; k <= 20000; k++)
		CHECK_EQ("one request per key", 0, ratelimit_take(rl, k, k / 100));
	CHECK_EQ("the busy key is still limited", 1, ratelimit_take(rl, -5, 200));
	for (k = 1; k <= 20000; k++)
		CHECK_EQ("later, every key has its burst back", 0,
			 ratelimit_take(rl, k, 100000 + k));
	ratelimit_free(rl);
}

/*
 * Keys that all stay limited: nothing can be forgotten, so the buckets
 * grow, and each key must still find its own (spent) bucket afterwards,
 * ids that differ only in their high half or sign included.
 */
static void test_many_busy_keys(void **state)
{
	struct ratelimit *rl = make(1, 2);
	int64_t k;

	(void)state;
	for (k = 0; k < 5000; k++) {
		CHECK_EQ("first of the burst", 0, ratelimit_take(rl, k << 32, 0));
		CHECK_EQ("second of the burst", 0, ratelimit_take(rl, k << 32, 0));
		CHECK_EQ("other sign, own bucket", 0, ratelimit_take(rl, -k - 1, 0));
	}
	for (k = 0; k < 5000; k++) {
		CHECK_EQ("every busy key is still limited", 1, ratelimit_take(rl, k << 32, 10));
		CHECK_EQ("the other sign has one token left", 0, ratelimit_take(rl, -k - 1, 10));
	}
	ratelimit_free(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_burst_then_rate),
		cmocka_unit_test(test_retry_after),
		cmocka_unit_test(test_keys_are_separate),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_many_busy_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
