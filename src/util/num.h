/*
 * num: the one parser of whole numbers written by someone else (options,
 * query parameters, path ids, headers). A number is the whole string:
 * decimal digits only, a '-' in front where negatives are allowed; no
 * sign '+', no space, no base prefix, no exponent, no trailing byte. Out
 * of range (overflow included) is told apart from not a number, so that
 * the caller can say which. Formatting the refusal is num_explain's.
 */
#ifndef ORGSYNC_NUM_H
#define ORGSYNC_NUM_H

#include <stddef.h>
#include <stdint.h>

enum num_status {
	NUM_OK = 0,
	NUM_ESYNTAX = -1, /* empty, or not decimal digits */
	NUM_EBELOW = -2,  /* a number below min */
	NUM_EABOVE = -3,  /* a number above max, or too large for 64 bits */
};

/* s as a number in [min, max] into *out (untouched on failure). */
int num_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
int num_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * Why s was refused (the status num_u64 or num_i64 answered for it, with
 * the same range), as a clause: "'80x' is not decimal digits alone", "0 is
 * below the minimum 1024", "501 is above the maximum 500". A value is
 * quoted back up to 40 bytes. Always NUL-terminates out (len > 0).
 */
void num_explain_u64(int status, const char *s, uint64_t min, uint64_t max, char *out,
		     size_t len);
void num_explain_i64(int status, const char *s, int64_t min, int64_t max, char *out, size_t len);

#endif
