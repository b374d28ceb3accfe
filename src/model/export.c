#include "model/export.h"

#include <string.h>
#include <yajl/yajl_gen.h>

/*
 * RFC 4180 quoting and nothing else: a value starting with = or - is data
 * (an id, a negative number) that must read back byte for byte. The
 * formula guard of spreadsheet-bound CSV belongs to the sync report
 * (server/api.c), never here.
 */
static int put_field(FILE *out, const char *s)
{
	const char *p;

	if (!strpbrk(s, ",\"\r\n"))
		return fputs(s, out) < 0 ? -1 : 0;
	if (putc('"', out) == EOF)
		return -1;
	for (p = s; *p; p++) {
		if (*p == '"' && putc('"', out) == EOF)
			return -1;
		if (putc(*p, out) == EOF)
			return -1;
	}
	return putc('"', out) == EOF ? -1 : 0;
}

static void put_langs(FILE *out, const struct member *m)
{
	uint8_t i;

	for (i = 0; i < m->nlangs; i++)
		fprintf(out, "%s%s", i ? ";" : "", org_lang_code((enum lang)m->langs[i]));
}

static void put_products(FILE *out, const struct member *m)
{
	int p, n = 0;

	for (p = 0; p < PRODUCT_COUNT; p++)
		if (m->products & (1u << p))
			fprintf(out, "%s%s", n++ ? ";" : "", org_product_name((enum product)p));
}

static int finish(FILE *out)
{
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

int export_members_csv(const struct org *o, FILE *out)
{
	uint32_t i, k;

	fputs("externalMemberId,email,firstName,lastName,jobTitle,imageUrl,"
	      "languagePreferences,productAssignations", out);
	for (k = 0; k < o->nprops; k++) {
		putc(',', out);
		put_field(out, o->prop_names[k]);
	}
	putc('\n', out);
	for (i = 0; i < o->nmembers; i++) {
		const struct member *m = &o->members[i];
		const char *const f[] = { m->external_id, m->email, m->first_name, m->last_name,
					  m->job_title, m->image_url };
		size_t j;

		for (j = 0; j < sizeof(f) / sizeof(f[0]); j++) {
			put_field(out, f[j]);
			putc(',', out);
		}
		put_langs(out, m);
		putc(',', out);
		put_products(out, m);
		for (k = 0; k < o->nprops; k++) {
			const char *v = org_member_prop(m, k);

			putc(',', out);
			put_field(out, v ? v : "");
		}
		if (putc('\n', out) == EOF)
			return -1;
	}
	return finish(out);
}

int export_teams_csv(const struct org *o, FILE *out)
{
	uint32_t i;

	fputs("externalTeamId,teamName\n", out);
	for (i = 0; i < o->nteams; i++) {
		put_field(out, o->teams[i].external_id);
		putc(',', out);
		put_field(out, o->teams[i].name);
		if (putc('\n', out) == EOF)
			return -1;
	}
	return finish(out);
}

int export_mappings_csv(const struct org *o, FILE *out)
{
	uint32_t i;

	fputs("externalTeamId,externalMemberId,externalSubteamId,isMember,isManager\n", out);
	for (i = 0; i < o->nmappings; i++) {
		const struct mapping *m = &o->mappings[i];

		put_field(out, o->teams[m->team].external_id);
		if (m->kind == MAPPING_MEMBER) {
			putc(',', out);
			put_field(out, o->members[m->child].external_id);
			fprintf(out, ",,%s,%s", m->is_member ? "true" : "false",
				m->is_manager ? "true" : "false");
		} else {
			fputs(",,", out);
			put_field(out, o->teams[m->child].external_id);
			fputs(",,", out);
		}
		if (putc('\n', out) == EOF)
			return -1;
	}
	return finish(out);
}

static void write_cb(void *ctx, const char *s, size_t len)
{
	fwrite(s, 1, len, ctx);
}

static void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static void gen_kv(yajl_gen g, const char *k, const char *v)
{
	gen_str(g, k);
	gen_str(g, v);
}

static void gen_member(yajl_gen g, const struct org *o, const struct member *m)
{
	uint32_t k;
	int p;

	yajl_gen_map_open(g);
	gen_kv(g, "externalMemberId", m->external_id);
	gen_kv(g, "email", m->email);
	gen_kv(g, "firstName", m->first_name);
	gen_kv(g, "lastName", m->last_name);
	gen_kv(g, "jobTitle", m->job_title);
	gen_kv(g, "imageUrl", m->image_url);
	gen_str(g, "languagePreferences");
	yajl_gen_array_open(g);
	for (k = 0; k < m->nlangs; k++)
		gen_str(g, org_lang_code((enum lang)m->langs[k]));
	yajl_gen_array_close(g);
	gen_str(g, "productAssignations");
	yajl_gen_array_open(g);
	for (p = 0; p < PRODUCT_COUNT; p++)
		if (m->products & (1u << p))
			gen_str(g, org_product_name((enum product)p));
	yajl_gen_array_close(g);
	for (k = 0; k < m->nprops; k++)
		gen_kv(g, o->prop_names[m->props[k].index], m->props[k].value);
	yajl_gen_map_close(g);
}

static void gen_mapping(yajl_gen g, const struct org *o, const struct mapping *m)
{
	yajl_gen_map_open(g);
	gen_kv(g, "externalTeamId", o->teams[m->team].external_id);
	gen_str(g, "externalMemberId");
	if (m->kind == MAPPING_MEMBER)
		gen_str(g, o->members[m->child].external_id);
	else
		yajl_gen_null(g);
	gen_str(g, "externalSubteamId");
	if (m->kind == MAPPING_SUBTEAM)
		gen_str(g, o->teams[m->child].external_id);
	else
		yajl_gen_null(g);
	gen_str(g, "isMember");
	yajl_gen_bool(g, m->is_member);
	gen_str(g, "isManager");
	yajl_gen_bool(g, m->is_manager);
	yajl_gen_map_close(g);
}

static void gen_org(yajl_gen g, const struct org *o, int pretty)
{
	uint32_t i;

	yajl_gen_config(g, yajl_gen_beautify, pretty);
	yajl_gen_config(g, yajl_gen_indent_string, "  ");
	yajl_gen_map_open(g);
	gen_str(g, "members");
	yajl_gen_array_open(g);
	for (i = 0; i < o->nmembers; i++)
		gen_member(g, o, &o->members[i]);
	yajl_gen_array_close(g);
	gen_str(g, "teams");
	yajl_gen_array_open(g);
	for (i = 0; i < o->nteams; i++) {
		yajl_gen_map_open(g);
		gen_kv(g, "externalTeamId", o->teams[i].external_id);
		gen_kv(g, "teamName", o->teams[i].name);
		yajl_gen_map_close(g);
	}
	yajl_gen_array_close(g);
	gen_str(g, "teamMappings");
	yajl_gen_array_open(g);
	for (i = 0; i < o->nmappings; i++)
		gen_mapping(g, o, &o->mappings[i]);
	yajl_gen_array_close(g);
	yajl_gen_map_close(g);
}

int export_json(const struct org *o, FILE *out, int pretty)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -1;
	yajl_gen_config(g, yajl_gen_print_callback, write_cb, out);
	gen_org(g, o, pretty);
	yajl_gen_free(g);
	if (!pretty)
		putc('\n', out);
	return finish(out);
}

struct buf_sink {
	struct buf *out;
	int failed;
};

static void write_buf_cb(void *ctx, const char *s, size_t len)
{
	struct buf_sink *sink = ctx;

	if (buf_append(sink->out, s, len) != 0)
		sink->failed = 1;
}

int export_json_buf(const struct org *o, struct buf *out, int pretty)
{
	struct buf_sink sink = { out, 0 };
	yajl_gen g = yajl_gen_alloc(NULL);

	if (!g)
		return -1;
	yajl_gen_config(g, yajl_gen_print_callback, write_buf_cb, &sink);
	gen_org(g, o, pretty);
	yajl_gen_free(g);
	if (!pretty && buf_putc(out, '\n') != 0)
		sink.failed = 1;
	return sink.failed ? -1 : 0;
}
