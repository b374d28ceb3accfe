#include "util/num.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/*
 * The magnitude of the digits of s into *mag, saturating at UINT64_MAX
 * (then *over is set): a value too large for 64 bits is still "above"
 * rather than "not a number".
 */
static int magnitude(const char *s, uint64_t *mag, bool *over)
{
	uint64_t v = 0;
	unsigned d;

	*over = false;
	if (!*s)
		return NUM_ESYNTAX;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return NUM_ESYNTAX;
		d = (unsigned)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			*over = true;
		else
			v = v * 10 + d;
	}
	*mag = v;
	return NUM_OK;
}

int num_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	bool over;

	if (!s || magnitude(s, &v, &over) != NUM_OK)
		return NUM_ESYNTAX;
	if (over || v > max)
		return NUM_EABOVE;
	if (v < min)
		return NUM_EBELOW;
	*out = v;
	return NUM_OK;
}

int num_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	bool neg, over;
	uint64_t mag = 0;
	int64_t v;

	if (!s)
		return NUM_ESYNTAX;
	neg = *s == '-';
	/* "-0" is no way to write 0: one spelling per number. */
	if (magnitude(s + neg, &mag, &over) != NUM_OK || (neg && !over && !mag))
		return NUM_ESYNTAX;
	if (neg && (over || mag > (uint64_t)INT64_MAX + 1))
		return NUM_EBELOW;
	if (!neg && (over || mag > (uint64_t)INT64_MAX))
		return NUM_EABOVE;
	/* -2^63 has no positive counterpart: negate in unsigned arithmetic. */
	v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	if (v < min)
		return NUM_EBELOW;
	if (v > max)
		return NUM_EABOVE;
	*out = v;
	return NUM_OK;
}

static void explain(int status, const char *s, const char *min, const char *max, char *out,
		    size_t len)
{
	const char *v = s ? s : "";
	/* A value quoted back is cut short: it came from someone else. */
	int n = (int)strnlen(v, 40);

	if (status == NUM_EBELOW)
		snprintf(out, len, "%.*s is below the minimum %s", n, v, min);
	else if (status == NUM_EABOVE)
		snprintf(out, len, "%.*s is above the maximum %s", n, v, max);
	else if (!*v)
		snprintf(out, len, "the value is empty");
	else
		snprintf(out, len, "'%.*s' is not decimal digits alone", n, v);
}

void num_explain_u64(int status, const char *s, uint64_t min, uint64_t max, char *out,
		     size_t len)
{
	char lo[24], hi[24];

	snprintf(lo, sizeof(lo), "%" PRIu64, min);
	snprintf(hi, sizeof(hi), "%" PRIu64, max);
	explain(status, s, lo, hi, out, len);
}

void num_explain_i64(int status, const char *s, int64_t min, int64_t max, char *out, size_t len)
{
	char lo[24], hi[24];

	snprintf(lo, sizeof(lo), "%" PRId64, min);
	snprintf(hi, sizeof(hi), "%" PRId64, max);
	explain(status, s, lo, hi, out, len);
}
