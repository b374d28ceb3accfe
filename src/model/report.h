/*
 * report: the user-facing problems of one ingest or sync (SPEC §3, §5).
 * Each issue has a severity, a stable machine code, and where it is: file,
 * line, column, field, record id. The report owns every string it holds;
 * report_free() releases them. Internal errors (out of memory) are not
 * issues: functions return them as status codes. Writing a report and
 * reading one back is format/report.h's.
 */
#ifndef ORGSYNC_REPORT_H
#define ORGSYNC_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "util/arena.h"

enum issue_severity {
	ISSUE_FATAL,   /* structural: the whole input is refused (exit 2, HTTP 400) */
	ISSUE_ERROR,   /* record error: that record is skipped, the rest applies */
	ISSUE_WARNING, /* accepted, with something ignored (unknown column...) */
};

/* Stable codes; their spelling is part of the API (format/names.h). */
enum issue_code {
	/* structural */
	CODE_FILE_MISSING,
	CODE_FILE_UNREADABLE,
	CODE_INVALID_UTF8,
	CODE_CSV_QUOTING,
	CODE_MISSING_HEADER,
	CODE_MISSING_COLUMN,
	CODE_DUPLICATE_COLUMN,
	CODE_JSON_SYNTAX,
	CODE_JSON_STRUCTURE,
	CODE_MISSING_SECTION,
	CODE_LEGACY_SETTINGS,
	CODE_MIXED_FORMATS,
	CODE_TOO_LARGE,
	/* record */
	CODE_MISSING_VALUE,
	CODE_INVALID_EMAIL,
	CODE_INVALID_VALUE,
	CODE_DUPLICATE_MEMBER_ID,
	CODE_DUPLICATE_EMAIL,
	CODE_DUPLICATE_TEAM_ID,
	CODE_UNKNOWN_LANGUAGE,
	CODE_UNKNOWN_PRODUCT,
	CODE_EMPTY_NAME,
	CODE_INVALID_BOOLEAN,
	CODE_EXTRA_FIELDS,
	CODE_MAPPING_NO_TARGET,
	CODE_MAPPING_TWO_TARGETS,
	CODE_MAPPING_GRANTS_NOTHING,
	CODE_UNKNOWN_TEAM,
	CODE_UNKNOWN_MEMBER,
	CODE_UNKNOWN_SUBTEAM,
	CODE_TEAM_CYCLE,
	CODE_EMAIL_TAKEN,
	/* warning */
	CODE_UNKNOWN_PROPERTY,
	CODE_UNKNOWN_FIELD,
	CODE_DUPLICATE_MAPPING,
	CODE_KEPT_BY_SKIPPED_ROW, /* a stored record the sync would remove, kept for a skipped row */
	CODE_COUNT
};

struct issue {
	uint8_t severity;      /* enum issue_severity */
	uint16_t code;         /* enum issue_code */
	uint32_t line;         /* 1-based; 0 when not tied to a line */
	uint32_t column;       /* 1-based (CSV: field number; JSON: character); 0 unknown */
	const char *file;      /* display name ("members.csv"); never NULL */
	const char *field;     /* column header or JSON field; "" when none */
	const char *record_id; /* externalMemberId / externalTeamId...; "" when none */
	const char *message;   /* one sentence, says what to fix */
};

struct report {
	struct arena arena;
	struct issue *issues;
	size_t count, cap;
	size_t limit;             /* issues kept; past it only counted */
	size_t dropped;           /* issues not kept because of limit */
	size_t by_severity[3];    /* counts of all issues, kept or dropped */
};

enum { REPORT_DEFAULT_LIMIT = 100000 };

void report_init(struct report *r);
void report_free(struct report *r);

/* Where an issue is; a compound literal keeps call sites short. */
struct issue_loc {
	const char *file;
	uint32_t line;
	uint32_t column;
	const char *field;
	const char *record_id;
};

/*
 * Records an issue; strings are copied. Returns 0, or -1 when out of
 * memory (the issue is then counted as dropped).
 */
int report_add(struct report *r, enum issue_severity sev, enum issue_code code,
	       const struct issue_loc *loc, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static inline size_t report_count(const struct report *r, enum issue_severity s)
{
	return r->by_severity[s];
}

/* Sorts kept issues by file, then line, then column (stable). */
void report_sort(struct report *r);

#endif
