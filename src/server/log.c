#include "server/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/os.h"
#include "util/utf8.h"

json_t *log_text(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t len, ok;
	struct buf out;
	json_t *v;

	if (!s)
		return json_null();
	len = strlen(s);
	ok = utf8_valid_prefix(s, len);
	if (ok == len)
		return json_stringn(s, len);
	buf_init(&out);
	while (len) {
		buf_append(&out, s, ok);
		s += ok;
		len -= ok;
		if (!len)
			break;
		buf_puts(&out, "\\x");
		buf_putc(&out, hex[(unsigned char)*s >> 4]);
		buf_putc(&out, hex[(unsigned char)*s & 15]);
		s++;
		len--;
		ok = utf8_valid_prefix(s, len);
	}
	v = json_stringn(out.data ? out.data : "", out.len);
	buf_free(&out);
	return v;
}

/* The string cut to LOG_FIELD_MAX bytes, its end saying how long it was. */
static json_t *capped(const char *s, size_t len)
{
	char marker[48], text[LOG_FIELD_MAX];
	size_t mlen, keep;

	mlen = (size_t)snprintf(marker, sizeof(marker), "...[cut: %zu bytes]", len);
	keep = utf8_cut(s, LOG_FIELD_MAX - mlen);
	memcpy(text, s, keep);
	memcpy(text + keep, marker, mlen);
	return json_stringn(text, keep + mlen);
}

/* Cuts every string of v (an object or array, walked to any depth). */
static void cap_strings(json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	if (json_is_object(v)) {
		json_object_foreach(v, key, item) {
			if (json_is_string(item) && json_string_length(item) > LOG_FIELD_MAX)
				json_object_set_new(v, key, capped(json_string_value(item),
								   json_string_length(item)));
			else
				cap_strings(item);
		}
	} else if (json_is_array(v)) {
		json_array_foreach(v, i, item) {
			if (json_is_string(item) && json_string_length(item) > LOG_FIELD_MAX)
				json_array_set_new(v, i, capped(json_string_value(item),
								json_string_length(item)));
			else
				cap_strings(item);
		}
	}
}

void log_write(json_t *rec)
{
	json_t *line;
	const char *key;
	json_t *v;
	char *text;

	if (!rec)
		return;
	if (json_object_get(rec, "ts")) {
		line = json_incref(rec);
	} else {
		line = json_pack("{s:I}", "ts", (json_int_t)os_wall_ms());
		json_object_foreach(rec, key, v)
			json_object_set(line, key, v);
	}
	json_decref(rec);
	if (!line)
		return;
	cap_strings(line);
	text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
	/* One call, so that lines of concurrent threads never interleave. */
	if (text)
		fprintf(stderr, "%s\n", text);
	free(text);
	json_decref(line);
}

void log_msg(const char *level, const char *fmt, ...)
{
	char msg[4 * LOG_FIELD_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_write(json_pack("{s:s, s:o}", "level", level, "msg", log_text(msg)));
}
