/*
 * The JSON payload reader (SPEC §2): yajl tokenizes as a stream and a small
 * state machine follows the payload's shape (top object, section arrays,
 * record objects, list arrays), handing each value to the builder. Nothing
 * but the current record is held, whatever the payload's size.
 *
 * yajl reports no positions. During a callback it knows how far into the
 * current chunk it has read (the end of the token just lexed); a cursor
 * that only moves forward turns that offset into a line, and notes the
 * first byte after the previous token that is not blank, ',' or ':' —
 * which is where the current token starts, since every other token (keys,
 * values, brackets) fires a callback. Each byte is looked at once or twice,
 * and positions do not depend on how the input was cut into chunks.
 *
 * The same cursor watches the \u escapes, which yajl decodes out of
 * sight: it turns a lone high surrogate into '?' (or, before another
 * escape, into whatever code point the two make), so a lone surrogate can
 * only be caught in the raw bytes. Backslashes are found by memchr from
 * one to the next, like newlines; a payload without any costs nothing.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>

#include "format/parts.h"
#include "ingest/builder.h"
#include "util/os.h"
#include "util/utf8.h"

enum {
	READ_CHUNK = 64 * 1024,
	KEY_CACHE = 32,      /* distinct record keys remembered per section */
	KEY_CACHE_TEXT = 48, /* longest key remembered, NUL included */
	NAME_SHOWN = 128,    /* longest key quoted in a message, NUL included */
};

static const unsigned char BOM[3] = { 0xEF, 0xBB, 0xBF };

struct section {
	const char *name;
	size_t len;
	enum ingest_kind kind;
	bool legacy;
	const char *fields; /* for the unknown-field warning */
};

/* Indexed dialect * KIND_COUNT + kind. */
static const struct section sections[] = {
	{ "members", 7, KIND_MEMBERS, false, NULL },
	{ "teams", 5, KIND_TEAMS, false, "externalTeamId, teamName" },
	{ "teamMappings", 12, KIND_MAPPINGS, false,
	  "externalTeamId, externalMemberId, externalSubteamId, isMember, isManager" },
	{ "users", 5, KIND_MEMBERS, true, NULL },
	{ "groups", 6, KIND_TEAMS, true, "id, name" },
	{ "mappings", 8, KIND_MAPPINGS, true, "groupId, userId, subGroupId, isMember, isManager" },
};

enum {
	NSECTIONS = sizeof(sections) / sizeof(sections[0]),
	SEC_SETTINGS = NSECTIONS, /* the legacy settings object */
	SEC_UNKNOWN,              /* warned about, value ignored */
	SEC_SKIP,                 /* already reported, value ignored */
};

enum dialect { DIALECT_NONE = -1, DIALECT_CURRENT = 0, DIALECT_LEGACY = 1 };

enum state {
	ST_TOP,      /* before the top-level value */
	ST_ROOT,     /* in the top-level object */
	ST_SECTION,  /* in a section array: each element is one record */
	ST_RECORD,   /* in a record object */
	ST_LIST,     /* in the array given for a list field */
	ST_SETTINGS, /* in the legacy settings object */
	ST_DONE,     /* after the top-level value */
};

enum vtype { V_NULL, V_BOOL, V_NUMBER, V_STRING, V_OBJECT, V_ARRAY };

static const char *const type_names[] = {
	"null", "a boolean", "a number", "a string", "an object", "an array",
};

enum key_type { KEY_IGNORE, KEY_FIELD, KEY_PROP };

/* What a record key means, resolved once per spelling and section. */
struct key_slot {
	uint8_t len;
	uint8_t type;   /* enum key_type */
	int16_t field;
	int32_t prop;
	char text[KEY_CACHE_TEXT];
};

struct pos {
	uint32_t line, col;
};

struct ingest_json_stream {
	yajl_handle h;
	struct builder b;
	struct report *rep;
	char *name;
	struct ingest_opts opts;
	int err;               /* INGEST_ENOMEM once memory ran out */
	bool stopped;          /* parsing ended early (reported): later input is ignored */

	/* where in the payload's shape we are */
	enum state state;
	uint32_t skip;         /* nesting depth inside a value being skipped */
	int root_key;          /* what the pending top-level value is: section or SEC_* */
	int section;           /* section being read */
	bool root_object;
	bool seen[NSECTIONS];
	int dialect;           /* enum dialect */
	int first_section;     /* the section that set the dialect */
	bool mixed;
	bool settings;
	struct pos settings_pos;
	uint32_t settings_keys;
	bool list_bad;         /* the list being read had a non-string already */
	bool legacy_fields;

	/* the record key whose value comes next */
	uint8_t key_type;
	int key_field;
	int key_prop;
	const char *key_text;  /* as the input spelled it, for messages */
	char key_shown[NAME_SHOWN];
	struct key_slot slots[KEY_CACHE];
	unsigned nslots, hint;

	/* unknown names warned about: per kind, then the top level */
	struct strmap warned[KIND_COUNT + 1];
	struct arena warned_names;

	/* positions: chunk being parsed, cursor, start of the current token */
	const unsigned char *chunk;
	uint64_t chunk_base, chunk_len;
	uint64_t total;        /* payload bytes fed to yajl, BOM excluded */
	uint64_t cur_off;      /* bytes before it are accounted for */
	uint64_t next_nl;      /* the chunk's first newline at or after cur_off, or UINT64_MAX */
	uint64_t line_start;   /* offset of the first byte of the cursor's line */
	uint32_t line;         /* the cursor's line, 1-based */
	/* \u escapes: the escape being read (it may span chunks), and the
	 * first lone surrogate seen, reported by the string's callback */
	uint64_t next_bs;      /* the chunk's first backslash not yet looked at, or UINT64_MAX */
	uint64_t esc_start;    /* offset of the escape's backslash */
	char esc[12];          /* its bytes so far: \uD83D\uDE00 at most */
	uint8_t esc_len;
	bool lone;
	uint64_t lone_off;
	char lone_text[7];     /* \uD800 */
	uint64_t tok_start;
	bool start_known;      /* tok_start is set for the token being lexed */
	int prev_byte;         /* the last byte of the previous chunk, or -1 */
	unsigned bom_matched;
	bool bom_done;
	bool nonblank;
};

/* Bytes between tokens: yajl's whitespace (\v and \f included) and separators. */
static bool is_gap(unsigned char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\v' || c == '\f' ||
	       c == ',' || c == ':';
}

/* Offset of the first newline of the current chunk at or after off, or UINT64_MAX. */
static uint64_t find_nl(const struct ingest_json_stream *s, uint64_t off)
{
	uint64_t end = s->chunk_base + s->chunk_len;
	const unsigned char *nl;

	if (off >= end)
		return UINT64_MAX;
	nl = memchr(s->chunk + (off - s->chunk_base), '\n', (size_t)(end - off));
	return nl ? s->chunk_base + (uint64_t)(nl - s->chunk) : UINT64_MAX;
}

/* Offset of the first backslash of the current chunk at or after off, or UINT64_MAX. */
static uint64_t find_bs(const struct ingest_json_stream *s, uint64_t off)
{
	uint64_t end = s->chunk_base + s->chunk_len;
	const unsigned char *bs;

	if (off >= end)
		return UINT64_MAX;
	bs = memchr(s->chunk + (off - s->chunk_base), '\\', (size_t)(end - off));
	return bs ? s->chunk_base + (uint64_t)(bs - s->chunk) : UINT64_MAX;
}

/* A new chunk is being parsed; base is its offset in the payload. */
static void set_chunk(struct ingest_json_stream *s, const unsigned char *data, size_t len,
		      uint64_t base)
{
	s->chunk = data;
	s->chunk_len = len;
	s->chunk_base = base;
	s->next_nl = find_nl(s, base);
	s->next_bs = find_bs(s, base);
}

/* The 4 hex digits at h as a number, or -1 (yajl then reports the escape). */
static long hex4(const char *h)
{
	long v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = h[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			v |= (c | 0x20) - 'a' + 10;
		else
			return -1;
	}
	return v;
}

static void lone_surrogate(struct ingest_json_stream *s)
{
	if (s->lone)
		return;
	s->lone = true;
	s->lone_off = s->esc_start;
	memcpy(s->lone_text, s->esc, 6);
	s->lone_text[6] = '\0';
}

/*
 * Reads the escape one byte further; returns true when it is over. Only a
 * \u escape of a surrogate needs more than its second byte: a high one
 * (D800-DBFF) must be followed at once by an escaped low one (DC00-DFFF),
 * and a low one alone is never right. \\ ends at its second backslash,
 * which therefore starts no escape.
 */
static bool escape_step(struct ingest_json_stream *s)
{
	const char *e = s->esc;
	size_t n = s->esc_len;
	long cp;

	if (n < 2)
		return false;
	if (e[1] != 'u')
		return true;
	if (n == 6) {
		cp = hex4(e + 2);
		if (cp >= 0xDC00 && cp <= 0xDFFF)
			lone_surrogate(s);
		return !(cp >= 0xD800 && cp <= 0xDBFF);
	}
	if ((n == 7 && e[6] != '\\') || (n == 8 && e[7] != 'u')) {
		lone_surrogate(s);
		return true;
	}
	if (n == 12) {
		cp = hex4(e + 8);
		if (cp >= 0 && !(cp >= 0xDC00 && cp <= 0xDFFF))
			lone_surrogate(s);
		return true;
	}
	return false;
}

/* Follows the escapes in [from, to) of the current chunk. */
static void scan_escapes(struct ingest_json_stream *s, uint64_t from, uint64_t to)
{
	while (from < to) {
		if (!s->esc_len) {
			if (s->next_bs >= to)
				return;
			from = s->next_bs;
			s->esc_start = from;
		}
		s->esc[s->esc_len++] = (char)s->chunk[from - s->chunk_base];
		from++;
		if (escape_step(s)) {
			s->esc_len = 0;
			s->next_bs = find_bs(s, from);
		}
	}
}

/*
 * Moves the cursor to offset to, counting newlines and noting where the
 * next token starts. Only bytes of the current chunk can be scanned: a
 * chunk is always scanned to its end before the next one comes. Newlines
 * are found by memchr from one to the next, not token by token: a
 * minified payload costs one call per chunk.
 */
static void scan_to(struct ingest_json_stream *s, uint64_t to)
{
	uint64_t base = s->chunk_base;
	size_t i, lim;

	if (to <= s->cur_off)
		return;
	i = s->cur_off > base ? (size_t)(s->cur_off - base) : 0;
	s->cur_off = to;
	if (to <= base)
		return;
	lim = to - base < s->chunk_len ? (size_t)(to - base) : (size_t)s->chunk_len;
	if (s->esc_len || s->next_bs < base + lim)
		scan_escapes(s, base + i, base + lim);
	if (!s->start_known && i < lim) {
		while (i < lim && i < s->chunk_len && is_gap(s->chunk[i]))
			i++;
		if (i < lim) {
			s->start_known = true;
			s->tok_start = base + i;
		}
	}
	while (s->next_nl < base + lim) {
		s->line++;
		s->line_start = s->next_nl + 1;
		s->next_nl = find_nl(s, s->next_nl + 1);
	}
}

/* Line and column of an offset at or after the cursor's line start. */
static struct pos pos_of(const struct ingest_json_stream *s, uint64_t off)
{
	uint64_t col = off >= s->line_start ? off - s->line_start + 1 : 1;

	return (struct pos){ s->line, col > UINT32_MAX ? UINT32_MAX : (uint32_t)col };
}

/*
 * Called first by every callback: the token yajl just lexed ends at the
 * offset it has consumed. Returns where that token starts. Tokens hold no
 * newline, so the cursor's line is the token's line.
 */
static struct pos token(struct ingest_json_stream *s)
{
	uint64_t end = s->chunk_base + yajl_get_bytes_consumed(s->h);
	uint64_t start;

	scan_to(s, end);
	start = s->start_known ? s->tok_start : end;
	s->start_known = false;
	return pos_of(s, start);
}

/* A name as quoted in messages: cut to a sane length on a UTF-8 boundary. */
static const char *shown(char *dst, size_t cap, const char *name, size_t len)
{
	if (len >= cap) {
		len = cap - 1;
		while (len && ((unsigned char)name[len] & 0xC0) == 0x80)
			len--;
	}
	memcpy(dst, name, len);
	dst[len] = '\0';
	return dst;
}

__attribute__((format(printf, 6, 7)))
static void issue(struct ingest_json_stream *s, enum issue_severity sev, enum issue_code code,
		  struct pos p, const char *field, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (report_add(s->rep, sev, code, &(struct issue_loc){ s->name, p.line, p.col, field, NULL },
		       "%s", msg) < 0)
		s->err = INGEST_ENOMEM;
}

static void set_err(struct ingest_json_stream *s, int rc)
{
	if (rc < 0 && !s->err)
		s->err = INGEST_ENOMEM;
}

/* One warning per unknown name and kind (KIND_COUNT: the top level). */
static void warn_unknown(struct ingest_json_stream *s, unsigned kind, const char *key, size_t len,
			 struct pos p)
{
	char name[NAME_SHOWN];
	char *copy;

	if (strmap_get(&s->warned[kind], key, len, NULL))
		return;
	copy = arena_strndup(&s->warned_names, key, len);
	if (!copy || strmap_put(&s->warned[kind], copy, len, 0, NULL) < 0) {
		s->err = INGEST_ENOMEM;
		return;
	}
	shown(name, sizeof(name), key, len);
	if (kind == KIND_COUNT)
		issue(s, ISSUE_WARNING, CODE_UNKNOWN_FIELD, p, name,
		      "'%s' is not a section of the payload; it is ignored (sections: %s)", name,
		      s->dialect == DIALECT_LEGACY ? "users, groups, mappings"
						   : "members, teams, teamMappings");
	else
		issue(s, ISSUE_WARNING, CODE_UNKNOWN_FIELD, p, name,
		      "'%s' is not a field of %s; it is ignored (fields: %s)", name,
		      sections[s->section].name, sections[s->section].fields);
}

/* ---- the legacy settings object: every key is refused, naming its new home */

static void settings_key(struct ingest_json_stream *s, const char *key, size_t len, struct pos p)
{
	static const struct {
		const char *name;
		const char *where;
	} moved[] = {
		{ "syncAdmin", "the admin context now comes from the API key; Administrators are "
			       "managed with `orgsync admin add`" },
		{ "inviteNewUsers", "it is now the provisioning setting autoInvite "
				    "(PATCH /v1/settings)" },
	};
	const char *where = "it now lives in the provisioning settings (PATCH /v1/settings)";
	char name[NAME_SHOWN];
	size_t i;

	s->settings_keys++;
	for (i = 0; i < sizeof(moved) / sizeof(moved[0]); i++)
		if (strlen(moved[i].name) == len && strmap_ci_equal(moved[i].name, key, len))
			where = moved[i].where;
	shown(name, sizeof(name), key, len);
	issue(s, ISSUE_FATAL, CODE_LEGACY_SETTINGS, p, name,
	      "the legacy setting '%s' is no longer accepted in the payload: %s; remove it",
	      name, where);
}

static void settings_empty(struct ingest_json_stream *s)
{
	issue(s, ISSUE_FATAL, CODE_LEGACY_SETTINGS, s->settings_pos, "settings",
	      "the legacy 'settings' section is no longer accepted in the payload: settings now "
	      "live in the provisioning settings (PATCH /v1/settings); remove it");
}

/* ---- the top level */

static int find_section(const char *key, size_t len)
{
	size_t i;

	for (i = 0; i < NSECTIONS; i++)
		if (sections[i].len == len && strmap_ci_equal(sections[i].name, key, len))
			return (int)i;
	if (len == 8 && strmap_ci_equal("settings", key, len))
		return SEC_SETTINGS;
	return SEC_UNKNOWN;
}

static void root_key(struct ingest_json_stream *s, const char *key, size_t len, struct pos p)
{
	int sec = find_section(key, len);
	int d;

	s->root_key = sec;
	if (sec == SEC_SETTINGS) {
		s->settings = true;
		s->settings_pos = p;
		return;
	}
	if (sec == SEC_UNKNOWN) {
		warn_unknown(s, KIND_COUNT, key, len, p);
		return;
	}
	s->root_key = SEC_SKIP;
	if (s->seen[sec]) {
		issue(s, ISSUE_FATAL, CODE_JSON_STRUCTURE, p, sections[sec].name,
		      "the '%s' section appears twice; give each section once", sections[sec].name);
		return;
	}
	s->seen[sec] = true;
	d = sections[sec].legacy ? DIALECT_LEGACY : DIALECT_CURRENT;
	if (s->dialect != DIALECT_NONE && s->dialect != d) {
		const struct section *cur = &sections[d == DIALECT_CURRENT ? sec : s->first_section];
		const struct section *old = &sections[d == DIALECT_LEGACY ? sec : s->first_section];

		if (!s->mixed)
			issue(s, ISSUE_FATAL, CODE_MIXED_FORMATS, p, sections[sec].name,
			      "'%s' belongs to the legacy payload and '%s' to the current one; a "
			      "payload uses one format (current: members, teams, teamMappings)",
			      old->name, cur->name);
		s->mixed = true;
		return;
	}
	if (s->dialect == DIALECT_NONE) {
		s->dialect = d;
		s->first_section = sec;
	}
	s->root_key = sec;
}

static void root_value(struct ingest_json_stream *s, enum vtype t, struct pos p)
{
	int sec = s->root_key;

	if (sec < NSECTIONS) {
		if (t == V_ARRAY) {
			s->section = sec;
			s->nslots = 0;
			s->hint = 0;
			builder_begin_file(&s->b, sections[sec].kind, s->name, sections[sec].legacy);
			s->state = ST_SECTION;
			return;
		}
		issue(s, ISSUE_FATAL, CODE_JSON_STRUCTURE, p, sections[sec].name,
		      "the '%s' section must be an array of objects, found %s",
		      sections[sec].name, type_names[t]);
	} else if (sec == SEC_SETTINGS) {
		if (t == V_OBJECT) {
			s->settings_keys = 0;
			s->state = ST_SETTINGS;
			return;
		}
		settings_empty(s);
	}
}

static void top_value(struct ingest_json_stream *s, enum vtype t, struct pos p)
{
	if (t == V_OBJECT) {
		s->root_object = true;
		s->state = ST_ROOT;
		return;
	}
	issue(s, ISSUE_FATAL, CODE_JSON_STRUCTURE, p, NULL,
	      "the payload must be a JSON object {\"members\": [...], \"teams\": [...], "
	      "\"teamMappings\": [...]}, found %s", type_names[t]);
	if (t != V_ARRAY)
		s->state = ST_DONE;
}

static void missing_sections(struct ingest_json_stream *s)
{
	int d = s->dialect;
	int k;

	if (d == DIALECT_NONE)
		d = s->settings ? DIALECT_LEGACY : DIALECT_CURRENT;
	for (k = 0; k < KIND_COUNT; k++) {
		const struct section *sec = &sections[d * KIND_COUNT + k];

		if (!s->seen[d * KIND_COUNT + k])
			issue(s, ISSUE_FATAL, CODE_MISSING_SECTION, (struct pos){ 0, 0 }, sec->name,
			      "the '%s' section is missing; the payload needs %s, each an array "
			      "(an empty one is fine)", sec->name,
			      d == DIALECT_LEGACY ? "users, groups and mappings"
						  : "members, teams and teamMappings");
	}
}

/* ---- records */

static bool is_list_field(const struct ingest_json_stream *s, int field)
{
	return sections[s->section].kind == KIND_MEMBERS && (field == MF_LANGS || field == MF_PRODUCTS);
}

static bool is_bool_field(const struct ingest_json_stream *s, int field)
{
	return sections[s->section].kind == KIND_MAPPINGS &&
	       (field == XF_IS_MEMBER || field == XF_IS_MANAGER);
}

static struct key_slot *cached_key(struct ingest_json_stream *s, const char *key, size_t len)
{
	unsigned i, j = s->hint;

	/* Records repeat their keys in the same order: try the one after the last hit first. */
	for (i = 0; i < s->nslots; i++) {
		struct key_slot *k = &s->slots[j];

		if (++j == s->nslots)
			j = 0;
		if (k->len == len && memcmp(k->text, key, len) == 0) {
			s->hint = j;
			return k;
		}
	}
	return NULL;
}

/* A record key met before in this section: the same bytes, checked and resolved then. */
static bool use_cached_key(struct ingest_json_stream *s, const char *key, size_t len)
{
	const struct key_slot *hit = cached_key(s, key, len);

	if (!hit)
		return false;
	s->key_type = hit->type;
	s->key_field = hit->field;
	s->key_prop = hit->prop;
	s->key_text = hit->text;
	return true;
}

/* A record key met for the first time in this section. */
static void record_key(struct ingest_json_stream *s, const char *key, size_t len, struct pos p)
{
	enum ingest_kind kind = sections[s->section].kind;
	struct key_slot k = { 0, KEY_IGNORE, -1, -1, { 0 } }, *hit;
	bool legacy = false;
	int field;

	field = builder_field_by_name(kind, key, len, &legacy);
	if (field >= 0) {
		k.type = KEY_FIELD;
		k.field = (int16_t)field;
		s->legacy_fields |= legacy;
	} else if (kind == KIND_MEMBERS) {
		int prop = builder_property(&s->b, key, len, p.line, p.col);

		if (prop < -1) {
			s->err = INGEST_ENOMEM;
			return;
		}
		if (prop >= 0) {
			k.type = KEY_PROP;
			k.prop = prop;
		}
	} else {
		warn_unknown(s, kind, key, len, p);
	}
	s->key_type = k.type;
	s->key_field = k.field;
	s->key_prop = k.prop;
	if (len < KEY_CACHE_TEXT && s->nslots < KEY_CACHE) {
		hit = &s->slots[s->nslots++];
		*hit = k;
		hit->len = (uint8_t)len;
		memcpy(hit->text, key, len);
		hit->text[len] = '\0';
		s->hint = 0;
		s->key_text = hit->text;
	} else {
		s->key_text = shown(s->key_shown, sizeof(s->key_shown), key, len);
	}
}

static const char *expected(const struct ingest_json_stream *s)
{
	if (s->key_type == KEY_FIELD && is_list_field(s, s->key_field))
		return "a string or an array of strings";
	if (s->key_type == KEY_FIELD && is_bool_field(s, s->key_field))
		return "a boolean or a string";
	return "a string";
}

static void field_value(struct ingest_json_stream *s, enum vtype t, const char *text, size_t len,
			struct pos p)
{
	struct builder *b = &s->b;
	int f = s->key_field, rc = 0;

	if (t == V_NULL || s->key_type == KEY_IGNORE)
		return;
	if (s->key_type == KEY_PROP && (t == V_STRING || t == V_NUMBER || t == V_BOOL)) {
		/* A property holds text: numbers and booleans as the payload wrote them. */
		rc = builder_prop_value(b, s->key_prop, text, len, p.line, p.col);
	} else if (s->key_type == KEY_FIELD && (t == V_STRING || t == V_NUMBER)) {
		rc = builder_value(b, f, text, len, p.line, p.col);
	} else if (s->key_type == KEY_FIELD && t == V_BOOL && is_bool_field(s, f)) {
		rc = builder_bool(b, f, text[0] == 't', p.line, p.col);
	} else if (s->key_type == KEY_FIELD && t == V_ARRAY && is_list_field(s, f)) {
		s->list_bad = false;
		s->state = ST_LIST;
	} else {
		rc = builder_invalid(b, s->key_text, p.line, p.col, "expected %s for '%s', found %s",
				     expected(s), s->key_text, type_names[t]);
	}
	set_err(s, rc);
}

static void list_value(struct ingest_json_stream *s, enum vtype t, const char *text, size_t len,
		       struct pos p)
{
	int rc = 0;

	if (t == V_STRING) {
		rc = builder_list_item(&s->b, s->key_field, text, len, p.line, p.col);
	} else if (!s->list_bad) {
		/* One error per list is enough to skip the record. */
		rc = builder_invalid(&s->b, s->key_text, p.line, p.col,
				     "expected a string in the list '%s', found %s",
				     s->key_text, type_names[t]);
		s->list_bad = true;
	}
	set_err(s, rc);
}

/*
 * An element of a section that is not an object is its own record, and
 * an invalid one. It is reported without builder_record_end(): there is
 * nothing in it to check, and "email is required" would only add noise.
 */
static void element(struct ingest_json_stream *s, enum vtype t, struct pos p)
{
	const char *name = sections[s->section].name;

	builder_record_begin(&s->b, p.line);
	if (t == V_OBJECT) {
		s->key_type = KEY_IGNORE;
		s->state = ST_RECORD;
		return;
	}
	set_err(s, builder_invalid(&s->b, name, p.line, p.col,
				   "expected an object (one record) for each element of '%s', found %s",
				   name, type_names[t]));
}

/* ---- yajl callbacks */

/*
 * A lone surrogate met by the cursor belongs to the string just lexed:
 * only strings hold backslashes, and the cursor has just reached its end
 * (tokens hold no newline, so the escape is on the token's line).
 */
static bool escapes_ok(struct ingest_json_stream *s)
{
	if (!s->lone)
		return true;
	issue(s, ISSUE_FATAL, CODE_INVALID_UTF8, pos_of(s, s->lone_off), NULL,
	      "a string holds a lone UTF-16 surrogate (%s), half of a character: write the "
	      "character itself, or both halves of its pair (\\ud83d\\ude00 for U+1F600)",
	      s->lone_text);
	s->stopped = true;
	return false;
}

/*
 * yajl checks the shape of UTF-8 only: it lets overlong forms, UTF-16
 * surrogates and code points past U+10FFFF through, raw or from \u
 * escapes, and NUL from \u0000. The model holds none of them (the CSV
 * reader refuses them too), so a string holding one ends the parse.
 * yajl refuses raw control bytes, so a NUL can only come from an escape;
 * escaped strings come from yajl's decode buffer, never from the chunk.
 */
static bool text_ok(struct ingest_json_stream *s, const char *text, size_t len, struct pos p)
{
	uintptr_t t = (uintptr_t)text, c = (uintptr_t)s->chunk;
	bool in_chunk = t >= c && t - c < s->chunk_len;

	if (!escapes_ok(s))
		return false;
	if (utf8_valid_prefix(text, len) == len && (in_chunk || !memchr(text, '\0', len)))
		return true;
	if (memchr(text, '\0', len))
		issue(s, ISSUE_FATAL, CODE_INVALID_UTF8, p, NULL,
		      "a string holds a NUL character (\\u0000), which no field can store; remove it");
	else
		issue(s, ISSUE_FATAL, CODE_INVALID_UTF8, p, NULL,
		      "a string is not valid UTF-8 (an overlong form, a UTF-16 surrogate or a code "
		      "point above U+10FFFF, raw or as a \\u escape); save the payload as UTF-8");
	s->stopped = true;
	return false;
}

static int proceed(const struct ingest_json_stream *s)
{
	return !s->err && !s->stopped;
}

/*
 * A value starts (a scalar also ends). A container either moves the state
 * machine into it or, when it is not where the shape wants one, is skipped
 * whole: the handlers below report it and leave the state as it was.
 */
static int value(struct ingest_json_stream *s, enum vtype t, const char *text, size_t len)
{
	struct pos p = token(s);
	enum state before = s->state;
	bool container = t == V_OBJECT || t == V_ARRAY;

	if (t == V_STRING && !text_ok(s, text, len, p))
		return 0;
	if (s->skip) {
		s->skip += container;
		return 1;
	}
	switch (s->state) {
	case ST_TOP:
		top_value(s, t, p);
		break;
	case ST_ROOT:
		root_value(s, t, p);
		break;
	case ST_SECTION:
		element(s, t, p);
		break;
	case ST_RECORD:
		field_value(s, t, text, len, p);
		break;
	case ST_LIST:
		list_value(s, t, text, len, p);
		break;
	case ST_SETTINGS:
	case ST_DONE:
		break;
	}
	if (container && s->state == before)
		s->skip = 1;
	return proceed(s);
}

static int cb_null(void *ctx)
{
	return value(ctx, V_NULL, "", 0);
}

static int cb_boolean(void *ctx, int v)
{
	return value(ctx, V_BOOL, v ? "true" : "false", v ? 4 : 5);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
	return value(ctx, V_NUMBER, s, len);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
	return value(ctx, V_STRING, (const char *)s, len);
}

static int cb_start_map(void *ctx)
{
	return value(ctx, V_OBJECT, "", 0);
}

static int cb_start_array(void *ctx)
{
	return value(ctx, V_ARRAY, "", 0);
}

static int cb_map_key(void *ctx, const unsigned char *ukey, size_t len)
{
	struct ingest_json_stream *s = ctx;
	const char *key = (const char *)ukey;
	struct pos p = token(s);

	if (!s->skip && s->state == ST_RECORD && !s->lone && use_cached_key(s, key, len))
		return proceed(s);
	if (!text_ok(s, key, len, p))
		return 0;
	if (s->skip)
		return 1;
	if (s->state == ST_RECORD)
		record_key(s, key, len, p);
	else if (s->state == ST_ROOT)
		root_key(s, key, len, p);
	else if (s->state == ST_SETTINGS)
		settings_key(s, key, len, p);
	return proceed(s);
}

/* The end of an object or array (yajl checks they match). */
static int cb_end(void *ctx)
{
	struct ingest_json_stream *s = ctx;

	token(s);
	if (s->skip) {
		if (--s->skip == 0 && s->state == ST_TOP)
			s->state = ST_DONE;
		return 1;
	}
	switch (s->state) {
	case ST_ROOT:
		s->state = ST_DONE;
		break;
	case ST_SECTION:
		s->state = ST_ROOT;
		break;
	case ST_RECORD:
		set_err(s, builder_record_end(&s->b));
		s->state = ST_SECTION;
		break;
	case ST_LIST:
		s->state = ST_RECORD;
		break;
	case ST_SETTINGS:
		if (!s->settings_keys)
			settings_empty(s);
		s->state = ST_ROOT;
		break;
	case ST_TOP:
	case ST_DONE:
		break;
	}
	return proceed(s);
}

static const yajl_callbacks callbacks = {
	.yajl_null = cb_null,
	.yajl_boolean = cb_boolean,
	.yajl_number = cb_number,
	.yajl_string = cb_string,
	.yajl_start_map = cb_start_map,
	.yajl_map_key = cb_map_key,
	.yajl_end_map = cb_end,
	.yajl_start_array = cb_start_array,
	.yajl_end_array = cb_end,
};

/* ---- driving yajl */

/* The byte before an offset yajl stopped at: in the chunk, or the one before it. */
static int byte_before(const struct ingest_json_stream *s, uint64_t off)
{
	if (off == s->chunk_base)
		return s->prev_byte;
	if (off < s->chunk_base || off - s->chunk_base > s->chunk_len)
		return -1;
	return s->chunk[off - s->chunk_base - 1];
}

/*
 * yajl stopped: a callback cancelled (out of memory, or a string already
 * reported), or malformed JSON. A syntax error is placed at the start of
 * the token that broke the grammar when one was seen after the last good
 * token. Else the culprit is a separator yajl just read (",,"), or the
 * byte it stopped before (it un-reads a bad character); at the end of
 * input the error is at the end. Only bytes every chunking has at hand
 * are looked at, so the place does not depend on the chunking.
 */
static void stop(struct ingest_json_stream *s, yajl_status st, bool at_end)
{
	unsigned char *e;
	uint64_t off;
	struct pos p;
	size_t n;

	if (st == yajl_status_client_canceled) {
		if (!s->stopped && !s->err)
			s->err = INGEST_ENOMEM;
		s->stopped = true;
		return;
	}
	s->stopped = true;
	off = s->chunk_base + yajl_get_bytes_consumed(s->h);
	if (off > s->total)
		off = s->total; /* the blank yajl_complete_parse feeds itself */
	scan_to(s, off);
	if (s->start_known)
		off = s->tok_start;
	else if (!at_end && (byte_before(s, off) == ',' || byte_before(s, off) == ':'))
		off--;
	p = pos_of(s, off);
	e = yajl_get_error(s->h, 0, NULL, 0);
	n = e ? strlen((const char *)e) : 0;
	while (n && (e[n - 1] == '\n' || e[n - 1] == '.' || e[n - 1] == ' '))
		n--;
	issue(s, ISSUE_FATAL, CODE_JSON_SYNTAX, p, NULL, "malformed JSON: %.*s", (int)n,
	      e ? (const char *)e : "yajl gave no reason");
	if (e)
		yajl_free_error(s->h, e);
}

static void parse(struct ingest_json_stream *s, const unsigned char *data, size_t len)
{
	yajl_status st;
	size_t i;

	if (s->stopped || !len)
		return;
	for (i = 0; !s->nonblank && i < len; i++)
		s->nonblank = !(data[i] == ' ' || data[i] == '\t' || data[i] == '\r' || data[i] == '\n');
	set_chunk(s, data, len, s->total);
	s->total += len;
	st = yajl_parse(s->h, data, len);
	if (st != yajl_status_ok)
		stop(s, st, false);
	else
		scan_to(s, s->total); /* the next chunk will not hold these bytes */
	s->prev_byte = data[len - 1];
}

static int status(const struct ingest_json_stream *s)
{
	if (s->err)
		return s->err;
	return s->stopped ? INGEST_EINVALID : INGEST_OK;
}

static void stream_free(struct ingest_json_stream *s)
{
	int k;

	if (s->h)
		yajl_free(s->h);
	builder_free(&s->b);
	for (k = 0; k <= KIND_COUNT; k++)
		strmap_free(&s->warned[k]);
	arena_free(&s->warned_names);
	free(s->name);
	free(s);
}

int ingest_json_stream_new(const char *name, const struct ingest_opts *opts,
			   struct org *org, struct report *rep,
			   struct ingest_json_stream **out)
{
	struct ingest_json_stream *s;
	int k;

	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return INGEST_ENOMEM;
	if (opts)
		s->opts = *opts;
	s->rep = rep;
	s->state = ST_TOP;
	s->dialect = DIALECT_NONE;
	s->line = 1;
	s->prev_byte = -1;
	s->next_nl = UINT64_MAX;
	for (k = 0; k <= KIND_COUNT; k++)
		strmap_init(&s->warned[k], STRMAP_EXACT);
	arena_init(&s->warned_names);
	if (builder_init(&s->b, org, rep, &s->opts) != INGEST_OK)
		goto fail;
	s->name = strdup(name ? name : parts_info[PART_JSON].file);
	s->h = yajl_alloc(&callbacks, NULL, s);
	if (!s->name || !s->h)
		goto fail;
	yajl_config(s->h, yajl_allow_comments, 0);
	yajl_config(s->h, yajl_dont_validate_strings, 0);
	yajl_config(s->h, yajl_allow_trailing_garbage, 0);
	yajl_config(s->h, yajl_allow_multiple_values, 0);
	yajl_config(s->h, yajl_allow_partial_values, 0);
	*out = s;
	return INGEST_OK;
fail:
	stream_free(s);
	return INGEST_ENOMEM;
}

/* Bytes held as the start of a BOM turned out to be payload: parse them. */
static void replay_bom(struct ingest_json_stream *s)
{
	size_t n = s->bom_matched < sizeof(BOM) ? s->bom_matched : 0;

	s->bom_done = true;
	parse(s, BOM, n);
}

/*
 * Returns INGEST_OK while more input is welcome, INGEST_EINVALID once the
 * payload is known to be malformed (later input is ignored: the caller may
 * stop sending), INGEST_ENOMEM. In every case finish() is still due.
 */
int ingest_json_stream_feed(struct ingest_json_stream *s, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;

	/* A BOM may arrive a byte at a time; bytes that turn out not to be one are replayed. */
	while (!s->bom_done && len) {
		if (*p == BOM[s->bom_matched]) {
			p++;
			len--;
			s->bom_done = ++s->bom_matched == sizeof(BOM);
		} else {
			replay_bom(s);
		}
	}
	parse(s, p, len);
	return status(s);
}

int ingest_json_stream_finish(struct ingest_json_stream *s, struct ingest_info *info)
{
	struct report *rep = s->rep;
	yajl_status st;
	int rc;

	if (!s->bom_done)
		replay_bom(s);
	if (!s->stopped && !s->nonblank) {
		issue(s, ISSUE_FATAL, CODE_JSON_SYNTAX, pos_of(s, s->total), NULL,
		      "empty payload: expected a JSON object {\"members\": [...], \"teams\": [...], "
		      "\"teamMappings\": [...]}");
		s->stopped = true;
	}
	if (!s->stopped) {
		/* yajl parses one blank of its own to end a trailing number. */
		set_chunk(s, (const unsigned char *)" ", 1, s->total);
		st = yajl_complete_parse(s->h);
		if (st != yajl_status_ok)
			stop(s, st, true);
	}
	if (!s->stopped && s->root_object && !s->mixed)
		missing_sections(s);
	if (!s->err && !report_count(rep, ISSUE_FATAL))
		set_err(s, builder_finish(&s->b));
	if (info) {
		info->json = true;
		info->legacy = s->dialect == DIALECT_LEGACY || s->settings || s->legacy_fields ||
			       s->b.any_legacy;
	}
	if (s->err)
		rc = s->err;
	else
		rc = report_count(rep, ISSUE_FATAL) ? INGEST_EINVALID : INGEST_OK;
	stream_free(s);
	if (rc != INGEST_ENOMEM)
		report_sort(rep);
	return rc;
}

int ingest_json(const struct ingest_input *in, const struct ingest_opts *opts,
		struct org *org, struct report *rep, struct ingest_info *info)
{
	struct ingest_json_stream *s = NULL;
	const char *name;
	char *chunk = NULL;
	FILE *f = NULL;
	size_t n;
	int rc;

	if (info) {
		info->json = true;
		info->legacy = false;
	}
	if (!in) {
		report_add(rep, ISSUE_FATAL, CODE_FILE_MISSING,
			   &(struct issue_loc){ parts_info[PART_JSON].file, 0, 0, "", "" },
			   "no JSON payload was given");
		return INGEST_EINVALID;
	}
	name = in->name ? in->name : in->path ? in->path : parts_info[PART_JSON].file;
	if (in->path) {
		f = os_fopen(in->path, "rb");
		if (!f) {
			int e = errno;

			report_add(rep, ISSUE_FATAL, e == ENOENT ? CODE_FILE_MISSING : CODE_FILE_UNREADABLE,
				   &(struct issue_loc){ name, 0, 0, "", "" },
				   "cannot open %s: %s", in->path, strerror(e));
			return INGEST_EINVALID;
		}
		chunk = malloc(READ_CHUNK);
		if (!chunk) {
			rc = INGEST_ENOMEM;
			goto out;
		}
	}
	rc = ingest_json_stream_new(name, opts, org, rep, &s);
	if (rc)
		goto out;
	if (!f) {
		ingest_json_stream_feed(s, in->data, in->data ? in->len : 0);
	} else {
		while ((n = fread(chunk, 1, READ_CHUNK, f)) > 0)
			if (ingest_json_stream_feed(s, chunk, n) != INGEST_OK)
				break;
		if (ferror(f) && !s->stopped) {
			issue(s, ISSUE_FATAL, CODE_FILE_UNREADABLE, pos_of(s, s->total), NULL,
			      "read error: %s", strerror(errno));
			s->stopped = true;
		}
	}
	rc = ingest_json_stream_finish(s, info);
out:
	if (f)
		fclose(f);
	free(chunk);
	return rc;
}

int ingest_json_source(const struct ingest_source *in, const struct ingest_opts *opts,
		       struct org *org, struct report *rep, struct ingest_info *info)
{
	struct ingest_json_stream *s = NULL;
	char *chunk;
	size_t n = 0;
	bool failed;
	int rc;

	if (info) {
		info->json = true;
		info->legacy = false;
	}
	if (!in)
		return ingest_json(NULL, opts, org, rep, info);
	chunk = malloc(READ_CHUNK);
	if (!chunk)
		return INGEST_ENOMEM;
	rc = ingest_json_stream_new(in->name ? in->name : parts_info[PART_JSON].file, opts, org, rep,
				    &s);
	if (rc)
		goto out;
	while (!(failed = in->read(in->ctx, chunk, READ_CHUNK, &n) < 0) && n > 0)
		if (ingest_json_stream_feed(s, chunk, n) != INGEST_OK)
			break;
	if (failed && !s->stopped) {
		issue(s, ISSUE_FATAL, CODE_FILE_UNREADABLE, pos_of(s, s->total), NULL,
		      "read error: %s", strerror(errno));
		s->stopped = true;
	}
	rc = ingest_json_stream_finish(s, info);
out:
	free(chunk);
	return rc;
}
