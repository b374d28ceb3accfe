#include "util/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

size_t utf8_valid_prefix(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		unsigned char lo = 0x80, hi = 0xBF;

		/* Most HR data is ASCII: skip 8 bytes at a time while it is. */
		if (c < 0x80) {
			uint64_t w;

			while (i + 32 <= len) {
				uint64_t x[4];

				memcpy(x, s + i, 32);
				if ((x[0] | x[1] | x[2] | x[3]) & 0x8080808080808080ull)
					break;
				i += 32;
			}
			while (i + 8 <= len) {
				memcpy(&w, s + i, 8);
				if (w & 0x8080808080808080ull)
					break;
				i += 8;
			}
			while (i < len && s[i] < 0x80)
				i++;
			continue;
		}
		if (c >= 0xC2 && c <= 0xDF) {
			n = 1;
		} else if (c >= 0xE0 && c <= 0xEF) {
			n = 2;
			if (c == 0xE0)
				lo = 0xA0; /* overlong */
			else if (c == 0xED)
				hi = 0x9F; /* surrogates */
		} else if (c >= 0xF0 && c <= 0xF4) {
			n = 3;
			if (c == 0xF0)
				lo = 0x90; /* overlong */
			else if (c == 0xF4)
				hi = 0x8F; /* above U+10FFFF */
		} else {
			return i;
		}
		if (i + n >= len)
			return i; /* truncated sequence */
		if (s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k <= n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xBF)
				return i;
		i += n + 1;
	}
	return len;
}

size_t utf8_cut(const char *s, size_t len)
{
	size_t i = len;

	/* Back up over continuation bytes to the start of the last sequence. */
	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return 0;
	if ((unsigned char)s[i - 1] < 0x80)
		return len;
	/* s[i - 1] leads a sequence: keep it only when it is complete. */
	{
		unsigned char c = (unsigned char)s[i - 1];
		size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;

		return len - (i - 1) >= need ? len : i - 1;
	}
}

size_t utf8_vformat(char *dst, size_t cap, const char *fmt, va_list ap)
{
	int n = vsnprintf(dst, cap, fmt, ap);
	size_t len = utf8_cut(dst, n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1);

	dst[len] = '\0';
	return len;
}
