/*
 * names: every enum of the model as the formats, the API and the database
 * spell it, each table once, its encoder beside its decoder. A name
 * function answers the canonical spelling (or the fallback it documents
 * for a value out of range); a parse function answers the value, or -1
 * for a name it does not know (NULL included). The strings are static.
 */
#ifndef ORGSYNC_FORMAT_NAMES_H
#define ORGSYNC_FORMAT_NAMES_H

#include <stddef.h>

#include "model/org.h"
#include "model/report.h"
#include "model/status.h"

/* "en"...; "" out of range. Parsing takes s[0..len), any ASCII case, the
 * codes and the legacy names (English, Français, Español, Português,
 * Deutsche, and Deutsch). */
const char *format_lang_code(enum lang l);
int format_lang_parse(const char *s, size_t len);

/* The names of SPEC §1; "" out of range. Parsing: s[0..len), any ASCII case. */
const char *format_product_name(enum product p);
int format_product_parse(const char *s, size_t len);

/* "Member" or "Administrator": any value but ROLE_ADMINISTRATOR is a Member. */
const char *format_role_name(enum role r);
int format_role_parse(const char *s);

/* created, invited, active, deactivated; "" out of range. */
const char *format_state_name(enum member_state s);
int format_state_parse(const char *s);
/* The same names, NULL-terminated (the values a query parameter takes). */
extern const char *const format_state_names[STATE_COUNT + 1];

/* fatal, error, warning; "unknown" out of range. */
const char *format_severity_name(enum issue_severity sev);
int format_severity_parse(const char *s);

/* invalid_email...: part of the API; "unknown" out of range. */
const char *format_issue_code_name(enum issue_code code);
int format_issue_code_parse(const char *s);

/* Pending, Paused, Rejected, Success, Warning, Failed; "Unknown" out of range. */
const char *format_sync_status_name(int status);
int format_sync_status_parse(const char *s);

/* queued, sending, sent, retrying, dead; "unknown" out of range. */
const char *format_delivery_status_name(int status);
int format_delivery_status_parse(const char *s);

/* invitation, notification, webhook; "unknown" out of range. */
const char *format_delivery_kind_name(int kind);
int format_delivery_kind_parse(const char *s);

#endif
