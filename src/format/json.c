#include "format/json.h"

#include <string.h>
#include <yajl/yajl_gen.h>

#include "format/names.h"

int format_json_string(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const char *run = s;

	if (buf_putc(out, '"'))
		return -1;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
		size_t n = 6;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t') {
			esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : (char)c;
			n = 2;
		}
		if (buf_append(out, run, (size_t)(s - run)) || buf_append(out, esc, n))
			return -1;
		run = s + 1;
	}
	return buf_puts(out, run) || buf_putc(out, '"') ? -1 : 0;
}

/* Where yajl's output goes: a stream or a buffer; failed sticks. */
struct sink {
	FILE *file;
	struct buf *buf;
	int failed;
};

static void sink_write(void *ctx, const char *s, size_t len)
{
	struct sink *k = ctx;

	if (k->file ? fwrite(s, 1, len, k->file) != len : buf_append(k->buf, s, len) != 0)
		k->failed = 1;
}

static yajl_gen sink_gen(struct sink *k, int pretty)
{
	yajl_gen g = yajl_gen_alloc(NULL);

	if (g) {
		yajl_gen_config(g, yajl_gen_print_callback, sink_write, k);
		yajl_gen_config(g, yajl_gen_beautify, pretty);
		yajl_gen_config(g, yajl_gen_indent_string, "  ");
	}
	return g;
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
		gen_str(g, format_lang_code((enum lang)m->langs[k]));
	yajl_gen_array_close(g);
	gen_str(g, "productAssignations");
	yajl_gen_array_open(g);
	for (p = 0; p < PRODUCT_COUNT; p++)
		if (m->products & (1u << p))
			gen_str(g, format_product_name((enum product)p));
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

/* The payload, then a newline when compact (pretty ends with one). */
static int gen_org(struct sink *k, const struct org *o, int pretty)
{
	yajl_gen g = sink_gen(k, pretty);
	uint32_t i;

	if (!g)
		return -1;
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
	yajl_gen_free(g);
	if (!pretty)
		sink_write(k, "\n", 1);
	return k->failed ? -1 : 0;
}

int format_json_org(const struct org *o, FILE *out, int pretty)
{
	struct sink k = { out, NULL, 0 };

	if (gen_org(&k, o, pretty))
		return -1;
	return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}

int format_json_org_buf(const struct org *o, struct buf *out, int pretty)
{
	struct sink k = { NULL, out, 0 };

	return gen_org(&k, o, pretty);
}

static void gen_value(yajl_gen g, const json_t *v)
{
	const char *key;
	json_t *item;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		yajl_gen_map_open(g);
		json_object_foreach((json_t *)v, key, item) {
			gen_str(g, key);
			gen_value(g, item);
		}
		yajl_gen_map_close(g);
		break;
	case JSON_ARRAY:
		yajl_gen_array_open(g);
		json_array_foreach(v, i, item)
			gen_value(g, item);
		yajl_gen_array_close(g);
		break;
	case JSON_STRING:
		yajl_gen_string(g, (const unsigned char *)json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER:
		yajl_gen_integer(g, json_integer_value(v));
		break;
	case JSON_REAL:
		yajl_gen_double(g, json_real_value(v));
		break;
	case JSON_TRUE:
	case JSON_FALSE:
		yajl_gen_bool(g, json_is_true(v));
		break;
	case JSON_NULL:
		yajl_gen_null(g);
		break;
	}
}

int format_json_pretty(const json_t *doc, FILE *out)
{
	struct sink k = { out, NULL, 0 };
	yajl_gen g = sink_gen(&k, 1);

	if (!g)
		return -1;
	yajl_gen_config(g, yajl_gen_indent_string, "    ");
	gen_value(g, doc);
	yajl_gen_free(g);
	return k.failed ? -1 : 0;
}
