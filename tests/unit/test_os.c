/*
 * os: the monotonic clock that timeouts, rate limits and durations read.
 * It never goes back, its milliseconds are its nanoseconds divided, and a
 * sleep moves it by at least the time slept. The wall clock is Unix time
 * in milliseconds, as time() tells it in seconds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "util/os.h"

static void test_clock_never_goes_back(void **state)
{
	int64_t last = os_now_ns(), now;
	int i;

	(void)state;
	for (i = 0; i < 100000; i++) {
		now = os_now_ns();
		if (now < last)
			fail_msg("read %d: the clock went back from %lld to %lld ns", i,
				 (long long)last, (long long)now);
		last = now;
	}
}

static void test_clock_ms_is_ns_divided(void **state)
{
	int64_t before, ms, after;

	(void)state;
	before = os_now_ns();
	ms = os_now_ms();
	after = os_now_ns();
	if (ms < before / 1000000 || ms > after / 1000000)
		fail_msg("os_now_ms %lld is outside the ns reads around it [%lld, %lld] ms",
			 (long long)ms, (long long)(before / 1000000), (long long)(after / 1000000));
}

static void test_clock_follows_a_sleep(void **state)
{
	int64_t t0, ns, ms;

	(void)state;
	t0 = os_now_ns();
	ms = os_now_ms();
	os_sleep_ms(30);
	ns = os_now_ns() - t0;
	ms = os_now_ms() - ms;
	if (ns < 30 * 1000000LL || ns > 10 * 1000000000LL)
		fail_msg("a 30 ms sleep moved the clock by %lld ns", (long long)ns);
	/* Whole milliseconds on both ends: at most one lost to truncation. */
	if (ms < 29 || ms > 10000)
		fail_msg("a 30 ms sleep moved the clock by %lld ms", (long long)ms);
}

static void test_wall_clock_is_unix_ms(void **state)
{
	int64_t before, ms, after;

	(void)state;
	before = (int64_t)time(NULL);
	ms = os_wall_ms();
	after = (int64_t)time(NULL);
	if (ms / 1000 < before || ms / 1000 > after)
		fail_msg("os_wall_ms %lld is outside the time() reads around it [%lld, %lld] s",
			 (long long)ms, (long long)before, (long long)after);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clock_never_goes_back),
		cmocka_unit_test(test_clock_ms_is_ns_divided),
		cmocka_unit_test(test_clock_follows_a_sleep),
		cmocka_unit_test(test_wall_clock_is_unix_ms),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
