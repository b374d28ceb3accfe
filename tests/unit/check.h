/*
 * check: assertions for the unit tests that name the case and show the
 * expected and the actual value when they fail (cmocka's assert_* show
 * only the values). Include after <cmocka.h> and <string.h>.
 */
#ifndef ORGSYNC_TEST_CHECK_H
#define ORGSYNC_TEST_CHECK_H

#define CHECK_EQ(what, expected, actual)                                                  \
	do {                                                                              \
		long long e_ = (long long)(expected), a_ = (long long)(actual);           \
		if (e_ != a_)                                                             \
			fail_msg("%s: expected %lld, got %lld", (what), e_, a_);          \
	} while (0)

#define CHECK_STR(what, expected, actual)                                                 \
	do {                                                                              \
		const char *e_ = (expected), *a_ = (actual);                              \
		if (!e_ || !a_ || strcmp(e_, a_) != 0)                                    \
			fail_msg("%s: expected \"%s\", got \"%s\"", (what),               \
				 e_ ? e_ : "(null)", a_ ? a_ : "(null)");                 \
	} while (0)

#endif
