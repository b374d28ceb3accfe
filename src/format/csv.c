#include "format/csv.h"

#include <stdbool.h>
#include <string.h>

#include "format/names.h"

/* Rows are gathered in a buffer written out at this size and at the end. */
enum { FLUSH_AT = 64 * 1024 };

int format_csv_field(struct buf *out, const char *s, unsigned flags)
{
	bool formula = (flags & FORMAT_CSV_SPREADSHEET) && s[0] && strchr("=+-@\t\r", s[0]);
	const char *run = s, *p;

	if (!formula && !strpbrk(s, ",\"\r\n"))
		return buf_puts(out, s);
	if (buf_putc(out, '"') || (formula && buf_putc(out, '\'')))
		return -1;
	for (p = s; (p = strchr(p, '"')); run = p++)
		if (buf_append(out, run, (size_t)(p - run + 1)))
			return -1;
	return buf_puts(out, run) || buf_putc(out, '"') ? -1 : 0;
}

/* Writes what out holds once it is large, or always when last. */
static int drain(struct buf *out, FILE *f, int last)
{
	if (!last && out->len < FLUSH_AT)
		return 0;
	if (out->len && fwrite(out->data, 1, out->len, f) != out->len)
		return -1;
	buf_reset(out);
	return last && (fflush(f) != 0 || ferror(f)) ? -1 : 0;
}

static int put_list(struct buf *out, const struct member *m)
{
	uint8_t i;
	int p, n = 0;

	for (i = 0; i < m->nlangs; i++)
		if ((i && buf_putc(out, ';')) || buf_puts(out, format_lang_code((enum lang)m->langs[i])))
			return -1;
	if (buf_putc(out, ','))
		return -1;
	for (p = 0; p < PRODUCT_COUNT; p++)
		if ((m->products & (1u << p)) &&
		    ((n++ && buf_putc(out, ';')) || buf_puts(out, format_product_name((enum product)p))))
			return -1;
	return 0;
}

typedef int (*row_fn)(struct buf *out, const struct org *o, uint32_t i);

/* The header, then the n rows, gathered in a buffer written out by parts. */
static int write_file(const struct org *o, FILE *f, row_fn header, uint32_t n, row_fn row)
{
	struct buf out;
	uint32_t i;
	int rc;

	buf_init(&out);
	rc = header(&out, o, 0);
	for (i = 0; !rc && i < n; i++)
		rc = row(&out, o, i) || drain(&out, f, 0);
	rc = rc ? -1 : drain(&out, f, 1);
	buf_free(&out);
	return rc;
}

static int members_header(struct buf *out, const struct org *o, uint32_t unused)
{
	uint32_t k;

	(void)unused;
	if (buf_puts(out, "externalMemberId,email,firstName,lastName,jobTitle,imageUrl,"
		     "languagePreferences,productAssignations"))
		return -1;
	for (k = 0; k < o->nprops; k++)
		if (buf_putc(out, ',') || format_csv_field(out, o->prop_names[k], 0))
			return -1;
	return buf_putc(out, '\n');
}

static int member_row(struct buf *out, const struct org *o, uint32_t i)
{
	const struct member *m = &o->members[i];
	const char *const f[] = { m->external_id, m->email, m->first_name, m->last_name,
				  m->job_title, m->image_url };
	uint32_t k;
	size_t j;

	for (j = 0; j < sizeof(f) / sizeof(f[0]); j++)
		if (format_csv_field(out, f[j], 0) || buf_putc(out, ','))
			return -1;
	if (put_list(out, m))
		return -1;
	for (k = 0; k < o->nprops; k++) {
		const char *v = org_member_prop(m, k);

		if (buf_putc(out, ',') || format_csv_field(out, v ? v : "", 0))
			return -1;
	}
	return buf_putc(out, '\n');
}

int format_csv_members(const struct org *o, FILE *f)
{
	return write_file(o, f, members_header, o->nmembers, member_row);
}

static int teams_header(struct buf *out, const struct org *o, uint32_t unused)
{
	(void)o;
	(void)unused;
	return buf_puts(out, "externalTeamId,teamName\n");
}

static int team_row(struct buf *out, const struct org *o, uint32_t i)
{
	return format_csv_field(out, o->teams[i].external_id, 0) || buf_putc(out, ',') ||
	       format_csv_field(out, o->teams[i].name, 0) || buf_putc(out, '\n');
}

int format_csv_teams(const struct org *o, FILE *f)
{
	return write_file(o, f, teams_header, o->nteams, team_row);
}

static int mappings_header(struct buf *out, const struct org *o, uint32_t unused)
{
	(void)o;
	(void)unused;
	return buf_puts(out, "externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n");
}

static int mapping_row(struct buf *out, const struct org *o, uint32_t i)
{
	const struct mapping *m = &o->mappings[i];

	if (format_csv_field(out, o->teams[m->team].external_id, 0))
		return -1;
	if (m->kind == MAPPING_MEMBER)
		return buf_putc(out, ',') ||
		       format_csv_field(out, o->members[m->child].external_id, 0) ||
		       buf_printf(out, ",,%s,%s\n", m->is_member ? "true" : "false",
				  m->is_manager ? "true" : "false");
	return buf_puts(out, ",,") || format_csv_field(out, o->teams[m->child].external_id, 0) ||
	       buf_puts(out, ",,\n");
}

int format_csv_mappings(const struct org *o, FILE *f)
{
	return write_file(o, f, mappings_header, o->nmappings, mapping_row);
}
