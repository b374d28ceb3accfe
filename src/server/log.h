/*
 * log: the service's log, one JSON object per line on standard error.
 * Every record is built with jansson and written by log_write(), never by
 * printf of what a client or a tenant sent: a path, an id or a database
 * message that holds quotes or line breaks stays inside its own field, so
 * no request can forge a field or a line. Strings are capped at
 * LOG_FIELD_MAX bytes with a marker. The module logs what it is given:
 * callers never give it a secret (keys, tokens, passwords).
 */
#ifndef ORGSYNC_LOG_H
#define ORGSYNC_LOG_H

#include <jansson.h>

/* The most bytes a string of a record holds, the marker of a cut included. */
enum { LOG_FIELD_MAX = 1024 };

/*
 * Text for a record from bytes that may not be UTF-8 (a path as sent):
 * what is not UTF-8 is written as \xHH, so the record is never lost for
 * it. NULL gives null. New reference.
 */
json_t *log_text(const char *s);

/*
 * Writes rec (stolen; NULL writes nothing) as one line: "ts" (milliseconds
 * since the epoch) first unless rec has one, then rec's fields in order,
 * every string, nested ones included, cut to LOG_FIELD_MAX.
 */
void log_write(json_t *rec);

/* A record {"ts", "level", "msg"}; the message's arguments may be anything. */
__attribute__((format(printf, 2, 3)))
void log_msg(const char *level, const char *fmt, ...);

#endif
