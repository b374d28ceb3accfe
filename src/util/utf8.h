/*
 * utf8: validation of UTF-8 text as RFC 3629 defines it (no overlong forms,
 * no surrogates, nothing above U+10FFFF). Pure functions, no allocation.
 */
#ifndef ORGSYNC_UTF8_H
#define ORGSYNC_UTF8_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Returns len when s[0..len) is valid UTF-8, else the offset of the first
 * byte of the first invalid sequence. A sequence cut by the end of the
 * buffer is invalid: callers validate whole lines or whole fields.
 */
size_t utf8_valid_prefix(const char *s, size_t len);

/*
 * A length <= len that does not split a UTF-8 sequence of s: where text is
 * truncated to a buffer, the cut must fall between characters.
 */
size_t utf8_cut(const char *s, size_t len);

/*
 * vsnprintf into dst[cap] (cap >= 1), the cut falling between characters
 * when the text does not fit: returns the length kept, where dst ends.
 */
size_t utf8_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
