/*
 * builder: the one place where records become model (private to ingest).
 * The CSV and JSON readers only tokenize; they hand each record's values to
 * the builder, which validates them (SPEC §3), reports problems with their
 * location and adds valid records to the org. Mapping rows are kept raw
 * until builder_finish(), because JSON sections come in any order; it then
 * resolves ids, merges duplicates and breaks cycles.
 * Values passed in are copied: callers may reuse their buffers at once.
 */
#ifndef ORGSYNC_BUILDER_H
#define ORGSYNC_BUILDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ingest/ingest.h"
#include "util/buf.h"

enum ingest_kind { KIND_MEMBERS, KIND_TEAMS, KIND_MAPPINGS, KIND_COUNT };

enum member_field {
	MF_ID, MF_EMAIL, MF_FIRST_NAME, MF_LAST_NAME, MF_JOB_TITLE, MF_IMAGE_URL,
	MF_LANGS, MF_PRODUCTS, MF_COUNT
};
enum team_field { TF_ID, TF_NAME, TF_COUNT };
enum mapping_field { XF_TEAM, XF_MEMBER, XF_SUBTEAM, XF_IS_MEMBER, XF_IS_MANAGER, XF_COUNT };

enum { BUILDER_MAX_FIELDS = MF_COUNT };

/*
 * Field of a kind named by a CSV header or JSON key (ASCII case ignored),
 * current or legacy spelling. Returns the field, or -1 when unknown;
 * *legacy (may be NULL) says the name is a legacy spelling.
 */
int builder_field_by_name(enum ingest_kind kind, const char *name, size_t len, bool *legacy);

/* The spelling shown in reports for a field of a kind. */
const char *builder_field_name(enum ingest_kind kind, int field, bool legacy);

struct builder_value {
	uint32_t off, len;   /* into the record scratch buffer */
	uint32_t line, col;
	bool set;
	bool is_bool, bool_val; /* JSON booleans */
	uint16_t nitems;     /* list items appended for list fields */
};

struct raw_mapping; /* builder.c */

struct builder {
	struct org *org;
	struct report *rep;
	const struct ingest_opts *opts;
	/* current file */
	enum ingest_kind kind;
	const char *file;
	bool legacy;
	bool any_legacy;
	/* current record */
	uint32_t line;
	bool invalid;        /* a reader reported this record already */
	uint32_t reported;   /* fields (bits) the reader reported: not "missing" too */
	uint32_t id_hash;    /* the record's member id in by_member_id (prefetched) */
	uint32_t email_hash; /* its email in by_email */
	struct buf scratch;
	struct builder_value vals[BUILDER_MAX_FIELDS];
	struct buf list_items; /* (off,len) pairs of list items, per field */
	struct buf props;      /* (prop index, off, len) triples */
	/* custom property names met: name -> prop index or UINT32_MAX (unknown) */
	struct strmap prop_seen;
	struct arena names;    /* keys of prop_seen */
	/* Kinds whose input has ended: once members and teams have, mapping
	 * rows resolve on arrival; before (JSON sections in another order)
	 * they wait, raw, for builder_finish(). */
	bool done[KIND_COUNT];
	bool started[KIND_COUNT];
	struct raw_mapping *maps;
	size_t nmaps, cap_maps;
	uint32_t *map_cols;    /* per org mapping: column of its team, of its child */
	uint32_t last_team;    /* team of the previous mapping row, or UINT32_MAX */
	uint32_t cap_cols;
	const char *maps_file;
	bool maps_legacy;
};

int builder_init(struct builder *b, struct org *org, struct report *rep,
		 const struct ingest_opts *opts);
void builder_free(struct builder *b);

/* Starts a new input; file is the display name, kept by the caller. */
void builder_begin_file(struct builder *b, enum ingest_kind kind, const char *file, bool legacy);

/*
 * A custom-property column/key of the members input. Returns its prop
 * index, or -1 when the org does not define it (one warning per name, at
 * line/col) or out of memory (-2).
 */
int builder_property(struct builder *b, const char *name, size_t len, uint32_t line, uint32_t col);

/* About n records of kind are coming: sizes the org for them. */
int builder_expect(struct builder *b, enum ingest_kind kind, size_t n);

/* A record of the current kind starts at line. */
void builder_record_begin(struct builder *b, uint32_t line);

/*
 * A field's text. List fields (languages, products) are split on ';';
 * boolean fields parse true/false/1/0/yes/no. Surrounding blanks are
 * trimmed. Returns 0 or INGEST_ENOMEM.
 */
int builder_value(struct builder *b, int field, const char *s, size_t len,
		  uint32_t line, uint32_t col);

/* One element of a JSON array given for a list field. */
int builder_list_item(struct builder *b, int field, const char *s, size_t len,
		      uint32_t line, uint32_t col);

/* A JSON boolean given for a boolean field. */
int builder_bool(struct builder *b, int field, bool v, uint32_t line, uint32_t col);

/* A custom property value (prop from builder_property, >= 0). */
int builder_prop_value(struct builder *b, int prop, const char *s, size_t len,
		       uint32_t line, uint32_t col);

/*
 * The reader found this record malformed (a JSON number where a string
 * belongs, an object where a list belongs...): report it and skip the
 * record at builder_record_end(). field_name is what the input called it.
 */
int builder_invalid(struct builder *b, const char *field_name, uint32_t line, uint32_t col,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* The same with a specific code (CODE_EXTRA_FIELDS...). */
int builder_reject(struct builder *b, enum issue_code code, const char *field_name,
		   uint32_t line, uint32_t col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Validates the record and adds it (or reports it). 0 or INGEST_ENOMEM. */
int builder_record_end(struct builder *b);

/* Resolves mapping rows into org mappings, drops cycles. 0 or INGEST_ENOMEM. */
int builder_finish(struct builder *b);

#endif
