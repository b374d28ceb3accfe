/*
 * The CSV reader: libcsv tokenizes, the builder validates. Input is fed to
 * libcsv one physical line at a time, so that every callback knows the
 * line it fires on; a record's first line is that line minus the newlines
 * quoted inside its fields. Each line is UTF-8 validated before parsing,
 * which names the exact byte of a bad sequence.
 */
#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "format/parts.h"
#include "ingest/builder.h"
#include "util/os.h"
#include "util/utf8.h"

enum { CHUNK = 1 << 20, COL_IGNORE = -1, COL_PROP = 1 << 16 };
static const char BOM[] = "\xEF\xBB\xBF";

struct csv_reader {
	struct builder *b;
	struct report *rep;
	const char *file;
	enum ingest_kind kind;
	struct csv_parser parser;
	uint64_t offset;      /* bytes of the file fed so far */
	uint64_t line_offset; /* file offset of the current line's start */
	uint32_t line;        /* physical line being fed, 1-based */
	uint32_t rec_line;    /* first line of the current record */
	uint32_t rec_nl;      /* newlines in the record's fields so far */
	uint32_t field;       /* index of the next field in the record */
	uint32_t row_end_line; /* line where the last complete record ended */
	bool header_done;
	bool nonempty;        /* the record has a non-empty field */
	bool line_quoted;     /* the line being fed has a double quote */
	bool fatal;
	int status;           /* INGEST_ENOMEM once memory ran out */
	struct buf header;    /* header cells, NUL-separated, while reading it */
	int *cols;            /* per column: field, COL_PROP + prop, or COL_IGNORE */
	uint32_t ncols;
	bool legacy;
};

static uint32_t count_nl(const char *s, size_t len)
{
	uint32_t n = 0;
	const char *end = s + len;

	while ((s = memchr(s, '\n', (size_t)(end - s))) != NULL) {
		n++;
		s++;
	}
	return n;
}

__attribute__((format(printf, 5, 6)))
static void fatal(struct csv_reader *r, enum issue_code code, uint32_t line, uint32_t col,
		  const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report_add(r->rep, ISSUE_FATAL, code, &(struct issue_loc){ r->file, line, col, NULL, NULL },
		   "%s", msg);
	r->fatal = true;
}

/* The header cells as an array of pointers into r->header. */
static const char **header_cells(const struct csv_reader *r, uint32_t n)
{
	const char **cells;
	size_t off = 0;
	uint32_t i;

	cells = malloc((n ? n : 1) * sizeof(*cells));
	if (!cells)
		return NULL;
	for (i = 0; i < n; i++) {
		cells[i] = r->header.data && off < r->header.len ? r->header.data + off : "";
		off += strlen(cells[i]) + 1;
	}
	return cells;
}

/* Current spellings that legacy files never have: they mark a current file. */
static bool current_only(enum ingest_kind kind, int field)
{
	switch (kind) {
	case KIND_MEMBERS:
		return field == MF_ID || field == MF_LANGS || field == MF_PRODUCTS;
	case KIND_TEAMS:
		return true;
	default:
		return field == XF_TEAM || field == XF_MEMBER || field == XF_SUBTEAM;
	}
}

static int detect_dialect(struct csv_reader *r, const char **cells, uint32_t n)
{
	const char *cur = NULL, *old = NULL;
	uint32_t i;

	for (i = 0; i < n; i++) {
		bool legacy;
		int f = builder_field_by_name(r->kind, cells[i], strlen(cells[i]), &legacy);

		if (f < 0)
			continue;
		if (legacy && !old)
			old = cells[i];
		else if (!legacy && current_only(r->kind, f) && !cur)
			cur = cells[i];
	}
	if (cur && old) {
		fatal(r, CODE_MIXED_FORMATS, 1, 0,
		      "the header mixes the current column '%s' with the legacy column '%s'; "
		      "use one format per file", cur, old);
		return -1;
	}
	/* A users.csv without an id column keys members by email: legacy too. */
	r->legacy = old != NULL || (r->kind == KIND_MEMBERS && !cur);
	return 0;
}

static void list_columns(struct buf *out, const char **cells, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", cells[i]);
}

static void require(struct csv_reader *r, const bool *seen, int field, const char **cells,
		    uint32_t n)
{
	struct buf found;

	if (seen[field])
		return;
	buf_init(&found);
	list_columns(&found, cells, n);
	fatal(r, CODE_MISSING_COLUMN, 1, 0, "the required column '%s' is missing (columns found: %s)",
	      builder_field_name(r->kind, field, r->legacy), found.data ? found.data : "none");
	buf_free(&found);
}

static void check_required(struct csv_reader *r, const bool *seen, const char **cells, uint32_t n)
{
	switch (r->kind) {
	case KIND_MEMBERS:
		if (!r->legacy)
			require(r, seen, MF_ID, cells, n);
		require(r, seen, MF_EMAIL, cells, n);
		break;
	case KIND_TEAMS:
		require(r, seen, TF_ID, cells, n);
		require(r, seen, TF_NAME, cells, n);
		break;
	default:
		require(r, seen, XF_TEAM, cells, n);
		if (!seen[XF_MEMBER] && !seen[XF_SUBTEAM])
			require(r, seen, XF_MEMBER, cells, n);
		break;
	}
}

static int map_column(struct csv_reader *r, const char **cells, uint32_t i, bool *seen)
{
	const char *name = cells[i];
	size_t len = strlen(name);
	int f = builder_field_by_name(r->kind, name, len, NULL);
	uint32_t j;

	for (j = 0; j < i; j++) {
		if (strlen(cells[j]) == len && strmap_ci_equal(cells[j], name, len) && len) {
			fatal(r, CODE_DUPLICATE_COLUMN, 1, i + 1,
			      "column '%s' appears twice (columns %u and %u)", name, j + 1, i + 1);
			return 0;
		}
	}
	if (!len) {
		r->cols[i] = COL_IGNORE; /* spreadsheets add empty trailing columns */
	} else if (f >= 0) {
		if (seen[f]) {
			fatal(r, CODE_DUPLICATE_COLUMN, 1, i + 1,
			      "columns '%s' and another one both give %s", name,
			      builder_field_name(r->kind, f, r->legacy));
			return 0;
		}
		seen[f] = true;
		r->cols[i] = f;
	} else if (r->kind == KIND_MEMBERS) {
		int p = builder_property(r->b, name, len, 1, i + 1);

		if (p == -2)
			return INGEST_ENOMEM;
		r->cols[i] = p >= 0 ? COL_PROP + p : COL_IGNORE;
	} else {
		report_add(r->rep, ISSUE_WARNING, CODE_UNKNOWN_FIELD,
			   &(struct issue_loc){ r->file, 1, i + 1, name, NULL },
			   "column '%s' is not part of this file's format; it is ignored", name);
		r->cols[i] = COL_IGNORE;
	}
	return 0;
}

static int end_header(struct csv_reader *r)
{
	bool seen[BUILDER_MAX_FIELDS] = { false };
	const uint32_t n = r->ncols;
	const char **cells = header_cells(r, n);
	uint32_t i;
	int rc = INGEST_ENOMEM;

	r->cols = malloc((n ? n : 1) * sizeof(*r->cols));
	if (!cells || !r->cols)
		goto out;
	rc = INGEST_OK;
	if (detect_dialect(r, cells, n) < 0)
		goto out;
	builder_begin_file(r->b, r->kind, r->file, r->legacy);
	for (i = 0; i < n && !r->fatal; i++)
		if ((rc = map_column(r, cells, i, seen)) != 0)
			goto out;
	if (!r->fatal)
		check_required(r, seen, cells, n);
out:
	free(cells);
	r->header_done = true;
	return rc;
}

static int trim_copy(struct buf *out, const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (buf_append(out, s, len) < 0 || buf_putc(out, '\0') < 0)
		return INGEST_ENOMEM;
	return INGEST_OK;
}

static void on_field(void *data, size_t len, void *ctx)
{
	struct csv_reader *r = ctx;
	const char *s = data ? data : "";
	/* Only a quoted field holds a line break, and its last line has the quote. */
	uint32_t nl = r->line_quoted ? count_nl(s, len) : 0, line;
	int rc = INGEST_OK;

	if (r->fatal || r->status)
		return;
	if (r->field == 0) {
		r->rec_line = r->line - nl;
		r->rec_nl = 0;
		r->nonempty = false;
		if (r->header_done)
			builder_record_begin(r->b, r->rec_line);
	}
	line = r->rec_line + r->rec_nl;
	r->rec_nl += nl;
	if (!r->header_done) {
		rc = trim_copy(&r->header, s, len);
		r->ncols++;
	} else if (r->field < r->ncols) {
		int c = r->cols[r->field];

		if (len)
			r->nonempty = true;
		if (c >= COL_PROP)
			rc = builder_prop_value(r->b, c - COL_PROP, s, len, line, r->field + 1);
		else if (c >= 0)
			rc = builder_value(r->b, c, s, len, line, r->field + 1);
	} else if (len) {
		r->nonempty = true;
		rc = builder_reject(r->b, CODE_EXTRA_FIELDS, "", line, r->field + 1,
				    "the row has more fields than the header's %u columns", r->ncols);
	}
	if (rc)
		r->status = rc;
	r->field++;
}

static void on_row(int term, void *ctx)
{
	struct csv_reader *r = ctx;
	int rc = INGEST_OK;

	(void)term;
	if (r->fatal || r->status)
		return;
	if (!r->header_done)
		rc = end_header(r);
	else if (r->nonempty) /* rows of empty cells are spreadsheet residue */
		rc = builder_record_end(r->b);
	if (rc)
		r->status = rc;
	r->field = 0;
	r->row_end_line = r->line;
}

/* Feeds s[0..len): whole lines, except at the end of a long line's piece. */
static int feed(struct csv_reader *r, const char *s, size_t len)
{
	const char *end = s + len;

	while (s < end && !r->fatal && !r->status) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
		size_t bad = utf8_valid_prefix(s, n);
		const char *nul = memchr(s, '\0', bad);

		if (nul) {
			fatal(r, CODE_INVALID_UTF8, r->line, (uint32_t)(r->offset + (uint64_t)(nul - s) - r->line_offset + 1),
			      "a NUL byte at byte offset %llu; this is not a text file",
			      (unsigned long long)(r->offset + (uint64_t)(nul - s)));
			break;
		}
		if (bad < n) {
			uint64_t at = r->offset + bad;

			fatal(r, CODE_INVALID_UTF8, r->line, (uint32_t)(at - r->line_offset + 1),
			      "invalid UTF-8 at byte offset %llu (line %u, byte %llu of the line); "
			      "save the file as UTF-8", (unsigned long long)at, r->line,
			      (unsigned long long)(at - r->line_offset + 1));
			break;
		}
		/* A line longer than a read piece comes in parts: the flag is per line. */
		if (r->offset == r->line_offset)
			r->line_quoted = false;
		r->line_quoted |= memchr(s, '"', n) != NULL;
		if (csv_parse(&r->parser, s, n, on_field, on_row, r) != n) {
			fatal(r, CODE_CSV_QUOTING, r->line, 0,
			      "malformed quoting: %s; quote a field that holds a comma, quote or line "
			      "break, and double the quotes inside it", csv_strerror(csv_error(&r->parser)));
			break;
		}
		r->offset += n;
		s += n;
		if (nl) {
			r->line++;
			r->line_offset = r->offset;
		}
	}
	return r->status;
}

/*
 * Sizes the org for the rows to come, from the line density of the first
 * piece: growth by doubling would copy and rehash the largest tables
 * several times over.
 */
static int expect_rows(struct csv_reader *r, const char *sample, size_t len, uint64_t total)
{
	uint32_t nl = count_nl(sample, len);

	if (!len || !nl || total <= len)
		return INGEST_OK;
	return builder_expect(r->b, r->kind, (size_t)(total / len * nl + nl));
}

/* Where a file's piece may be cut without splitting a UTF-8 sequence. */
static size_t safe_cut(const char *s, size_t len)
{
	size_t i = len;

	while (i > 0 && ((unsigned char)s[i - 1] & 0xC0) == 0x80 && len - i < 3)
		i--;
	if (i > 0 && (unsigned char)s[i - 1] >= 0xC0)
		i--;
	return i;
}

/* The last '\n' in p[0, len), NULL when none (memrchr() is glibc's alone). */
static const char *last_newline(const char *p, size_t len)
{
	while (len > 0)
		if (p[--len] == '\n')
			return p + len;
	return NULL;
}

/* A FILE as feed_pull() reads it. */
static int read_file(void *ctx, void *buf, size_t cap, size_t *got)
{
	FILE *f = ctx;

	*got = fread(buf, 1, cap, f);
	return *got == 0 && ferror(f) ? -1 : 0;
}

/*
 * Streams what pull yields through feed() in CHUNK pieces, cut at line
 * ends. total is the size expected (0: unknown), for expect_rows().
 */
static int feed_pull(struct csv_reader *r, int (*pull)(void *ctx, void *buf, size_t cap, size_t *got),
		     void *ctx, uint64_t total)
{
	char *chunk = malloc(CHUNK);
	size_t have = 0;
	bool first = true;
	int rc = INGEST_ENOMEM;

	if (!chunk)
		goto out;
	rc = INGEST_OK;
	for (;;) {
		size_t got = 0, len, cut;
		const char *last;

		if (pull(ctx, chunk + have, CHUNK - have, &got) < 0) {
			fatal(r, CODE_FILE_UNREADABLE, r->line, 0, "read error: %s", strerror(errno));
			break;
		}
		len = have + got;
		if (first && len >= 3 && memcmp(chunk, BOM, 3) == 0) {
			memmove(chunk, chunk + 3, len - 3);
			len -= 3;
			r->offset = r->line_offset = 3;
		}
		if (first && (rc = expect_rows(r, chunk, len, total)))
			break;
		first = false;
		if (len == 0)
			break;
		last = got ? last_newline(chunk, len) : NULL;
		cut = got == 0 ? len : last ? (size_t)(last - chunk) + 1 : safe_cut(chunk, len);
		if (cut == 0)
			cut = len; /* a sequence longer than a chunk is invalid anyway */
		if ((rc = feed(r, chunk, cut)) != 0 || r->fatal)
			break;
		have = len - cut;
		memmove(chunk, chunk + cut, have);
		if (got == 0 && have == 0)
			break;
	}
out:
	free(chunk);
	return rc;
}

static const char *display_name(const struct ingest_input *in, const char *fallback)
{
	const char *slash;

	if (in && in->name)
		return in->name;
	if (in && in->path) {
		slash = strrchr(in->path, '/');
		return slash ? slash + 1 : in->path;
	}
	return fallback;
}

static int read_input(struct csv_reader *r, const struct ingest_input *in)
{
	const char *data = in->data;
	size_t len = in->len;
	struct stat st;
	FILE *f;
	int rc;

	if (in->path) {
		f = os_fopen(in->path, "rb");
		if (!f) {
			fatal(r, CODE_FILE_UNREADABLE, 0, 0, "cannot open %s: %s", in->path, strerror(errno));
			return INGEST_OK;
		}
		rc = feed_pull(r, read_file, f,
			       fstat(fileno(f), &st) == 0 ? (uint64_t)st.st_size : 0);
		fclose(f);
		return rc;
	}
	if (len >= 3 && memcmp(data, BOM, 3) == 0) {
		data += 3;
		len -= 3;
		r->offset = r->line_offset = 3;
	}
	rc = expect_rows(r, data, len < CHUNK ? len : CHUNK, len);
	return rc ? rc : feed(r, data, len);
}

/* Reads one file, given as an input (in) or as a source (src); neither: it is missing. */
static int read_one(struct builder *b, struct report *rep, enum ingest_kind kind,
		    const struct ingest_input *in, const struct ingest_source *src,
		    const char *fallback, bool *legacy)
{
	struct csv_reader r = { 0 };
	int rc = INGEST_OK;

	r.b = b;
	r.rep = rep;
	r.kind = kind;
	r.line = 1;
	r.file = src ? (src->name ? src->name : fallback) : display_name(in, fallback);
	buf_init(&r.header);
	if (!src && (!in || (!in->path && !in->data))) {
		fatal(&r, CODE_FILE_MISSING, 0, 0, "%s is missing: members, teams and mappings are "
		      "all required (an org without teams still sends a header line)", r.file);
		return INGEST_OK;
	}
	if (csv_init(&r.parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return INGEST_ENOMEM;
	rc = src ? feed_pull(&r, src->read, src->ctx, src->size) : read_input(&r, in);
	if (!rc && !r.fatal) {
		if (csv_fini(&r.parser, on_field, on_row, &r) != 0)
			fatal(&r, CODE_CSV_QUOTING, r.row_end_line + 1, 0,
			      "a quoted field opened after line %u is never closed", r.row_end_line);
		else
			rc = r.status;
	}
	if (!rc && !r.fatal && !r.header_done)
		fatal(&r, CODE_MISSING_HEADER, 1, 0, "the file is empty; it needs at least its header line");
	*legacy |= r.legacy;
	csv_free(&r.parser);
	buf_free(&r.header);
	free(r.cols);
	return rc;
}

/* The three files in order, each an input or a source (in or src may be NULL). */
static int read_all(const struct ingest_input *const in[3], const struct ingest_source *const src[3],
		    const struct ingest_opts *opts, struct org *org, struct report *rep,
		    struct ingest_info *info)
{
	static const enum ingest_kind kinds[3] = { KIND_MEMBERS, KIND_TEAMS, KIND_MAPPINGS };
	struct builder b;
	bool legacy = false;
	int i, rc = INGEST_OK;

	builder_init(&b, org, rep, opts);
	for (i = 0; i < 3 && !rc; i++)
		rc = read_one(&b, rep, kinds[i], in ? in[i] : NULL, src ? src[i] : NULL,
			      parts_info[i].file, &legacy);
	if (!rc && !report_count(rep, ISSUE_FATAL))
		rc = builder_finish(&b);
	builder_free(&b);
	if (info) {
		info->legacy = legacy;
		info->json = false;
	}
	if (rc)
		return rc;
	report_sort(rep);
	return report_count(rep, ISSUE_FATAL) ? INGEST_EINVALID : INGEST_OK;
}

int ingest_csv(const struct ingest_input *members, const struct ingest_input *teams,
	       const struct ingest_input *mappings, const struct ingest_opts *opts,
	       struct org *org, struct report *rep, struct ingest_info *info)
{
	const struct ingest_input *in[3] = { members, teams, mappings };

	return read_all(in, NULL, opts, org, rep, info);
}

int ingest_csv_sources(const struct ingest_source *members, const struct ingest_source *teams,
		       const struct ingest_source *mappings, const struct ingest_opts *opts,
		       struct org *org, struct report *rep, struct ingest_info *info)
{
	const struct ingest_source *src[3] = { members, teams, mappings };

	return read_all(NULL, src, opts, org, rep, info);
}
