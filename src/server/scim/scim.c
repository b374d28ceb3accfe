#include "server/scim/scim.h"

#include <inttypes.h>
#include <microhttpd.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/log.h"
#include "server/ratelimit.h"
#include "server/scim/filter.h"
#include "server/scim/resource.h"
#include "server/service.h"
#include "sync/settings.h"
#include "util/num.h"
#include "util/os.h"

#define SCIM_TYPE "application/scim+json"

/* --- answers ------------------------------------------------------------------ */

/* Answers doc (stolen) as application/scim+json with optional Location and ETag. */
static int send_doc(struct http_req *r, unsigned status, json_t *doc, const char *location,
		    const char *etag)
{
	const char *headers[5] = { NULL };
	int n = 0;

	if (location) {
		headers[n++] = MHD_HTTP_HEADER_LOCATION;
		headers[n++] = location;
	}
	if (etag && *etag) {
		headers[n++] = MHD_HTTP_HEADER_ETAG;
		headers[n++] = etag;
	}
	return http_json_typed(r, status, SCIM_TYPE, doc, headers);
}

static int send_error(struct http_req *r, unsigned status, const char *scim_type,
		      const char *detail, const char *hname, const char *hvalue)
{
	const char *headers[3] = { hname, hvalue, NULL };
	json_t *doc = json_pack("{s:[s], s:s%, s:s}", "schemas", SCIM_MSG_ERROR, "status", "000", 3,
				"detail", detail);

	/* RFC 7644 §3.12 and Okta: the status is a string. */
	json_object_set_new(doc, "status", json_sprintf("%u", status));
	if (scim_type)
		json_object_set_new(doc, "scimType", json_string(scim_type));
	return http_json_typed(r, status, SCIM_TYPE, doc, hname ? headers : NULL);
}

int scim_http_error(struct http_req *r, unsigned status, const char *code, const char *message,
		    const char *hname, const char *hvalue)
{
	const char *scim_type = NULL;

	if (!strcmp(code, "bad_parameter") || !strcmp(code, "bad_path"))
		scim_type = "invalidValue";
	else if (!strcmp(code, "too_large"))
		scim_type = "tooMany";
	return send_error(r, status, scim_type, message, hname, hvalue);
}

int scim_fail(struct scim_result *res, unsigned status, const char *scim_type, const char *fmt, ...)
{
	va_list ap;

	res->status = status;
	res->scim_type = scim_type;
	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	json_decref(res->doc);
	res->doc = NULL;
	return -1;
}

int scim_store_fail(struct scim_result *res, struct scim_call *c, int rc, const char *what)
{
	if (rc == STORE_ECONFLICT)
		return scim_fail(res, 409, "uniqueness", "%s", store_error(c->st));
	if (rc == STORE_ENOTFOUND)
		return scim_fail(res, 404, NULL, "no such %s", what);
	if (rc == STORE_EINVAL)
		return scim_fail(res, 400, "invalidValue", "%s", store_error(c->st));
	/* The store's message may name internals and quote tenant data: it goes to the log only. */
	log_write(json_pack("{s:s, s:s, s:o}", "rid", c->r ? c->r->request_id : "", "error",
			    "database", "detail", log_text(store_error(c->st))));
	return scim_fail(res, 500, NULL, "the database failed (%s)", what);
}

/* Answers an operation's outcome. */
static int send_result(struct http_req *r, struct scim_result *res, bool created_location)
{
	char location[160], etag[24];

	if (res->status >= 400)
		return send_error(r, res->status, res->scim_type, res->detail, NULL, NULL);
	if (!res->doc)
		return http_raw(r, res->status, SCIM_TYPE, "", 0);
	json_t *loc = json_object_get(json_object_get(res->doc, "meta"), "location");

	snprintf(location, sizeof(location), "%s", json_string_value(loc) ? json_string_value(loc)
									 : "");
	memcpy(etag, res->version, sizeof(etag));
	return send_doc(r, res->status, json_incref(res->doc), created_location ? location : NULL,
			etag);
}

/* --- shared by Users and Groups ------------------------------------------------- */

json_t *scim_time(int64_t ms)
{
	return ms > 0 ? http_time(ms) : NULL;
}

void scim_finish(json_t *doc, const char *type, const char *id, int64_t created,
		 int64_t modified, const char *const *parts, size_t n, char version[24])
{
	crypto_generichash_state st;
	unsigned char hash[8];
	char hex[17], tag[24], *text = NULL;
	json_t *meta;
	size_t i;

	json_object_del(doc, "meta");
	crypto_generichash_init(&st, NULL, 0, sizeof(hash));
	if (!parts) {
		text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
		crypto_generichash_update(&st, (const unsigned char *)(text ? text : ""),
					  text ? strlen(text) : 0);
	}
	/* Each part with its NUL: "ab" + "c" and "a" + "bc" hash apart. */
	for (i = 0; parts && i < n; i++)
		crypto_generichash_update(&st, (const unsigned char *)(parts[i] ? parts[i] : ""),
					  parts[i] ? strlen(parts[i]) + 1 : 0);
	crypto_generichash_final(&st, hash, sizeof(hash));
	free(text);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	snprintf(tag, sizeof(tag), "W/\"%s\"", hex);
	meta = json_pack("{s:s, s:s++, s:s}", "resourceType", type, "location", SCIM_BASE,
			 !strcmp(type, "User") ? "/Users/" : "/Groups/", id, "version", tag);
	if (created > 0)
		json_object_set_new(meta, "created", scim_time(created));
	if (modified > 0)
		json_object_set_new(meta, "lastModified", scim_time(modified));
	json_object_set_new(doc, "meta", meta);
	if (version)
		memcpy(version, tag, sizeof(tag));
}

bool scim_if_match(const char *header, const char *version)
{
	const char *bare = version + 2; /* without W/ */

	if (!header || !strcmp(header, "*"))
		return true;
	/* A strong or a weak form of the tag, alone or in a list. */
	return strstr(header, bare) != NULL;
}

int scim_audit(struct scim_call *c, const char *action, const char *target, json_t *old,
	       json_t *new)
{
	const char *h = http_header(c->r, MHD_HTTP_HEADER_AUTHORIZATION);
	char actor[32], id[STORE_KEY_ID_MAX];
	char *o = old ? json_dumps(old, JSON_COMPACT) : NULL, *n = new ? json_dumps(new, JSON_COMPACT)
								      : NULL;
	int rc;

	if (h && strlen(h) > 7 && store_key_public_id(h + 7, id))
		snprintf(actor, sizeof(actor), "key:%s", id);
	else
		snprintf(actor, sizeof(actor), "key:unknown");
	rc = (old && !o) || (new && !n)
		     ? STORE_ENOMEM
		     : store_audit_add(c->st, c->org_id, actor, action, target, o, n);
	free(o);
	free(n);
	json_decref(old);
	json_decref(new);
	return rc;
}

/* The org's settings, typed; false when they cannot be read. */
static bool org_settings(struct scim_call *c, struct settings *set)
{
	return settings_read(c->st, c->org_id, set) == STORE_OK;
}

bool scim_auto_invite(struct scim_call *c)
{
	struct settings set;

	return org_settings(c, &set) && set.auto_invite;
}

/* --- the gate: method, rate ------------------------------------------------------ */

static pthread_once_t writes_once = PTHREAD_ONCE_INIT;
static struct ratelimit *writes;
static struct service *writes_svc;

static void writes_init(void)
{
	const struct service_config *cfg = &writes_svc->cfg;

	if (cfg->scim_write_rate > 0)
		ratelimit_new(cfg->scim_write_rate, cfg->scim_write_burst, &writes);
}

/*
 * Opens a SCIM request: the org must provision by SCIM (403 otherwise,
 * SPEC §5), and a write must fit the org's SCIM write rate (429). Returns
 * -1 to go on, else the answer given.
 */
static int gate(struct http_req *r, struct scim_call *c, bool write)
{
	struct settings set;
	unsigned wait;
	char secs[16], msg[200];

	c->r = r;
	c->st = service_store(r->svc);
	c->org_id = r->org_id;
	if (!c->st)
		return send_error(r, 503, NULL, "the database cannot be reached", NULL, NULL);
	if (!org_settings(c, &set))
		return send_error(r, 500, NULL, "the settings cannot be read", NULL, NULL);
	if (set.method != METHOD_SCIM)
		return send_error(r, 403, NULL,
				  "SCIM provisioning is not active for this organization: set "
				  "provisioning.method to \"scim\" (PATCH /v1/settings)",
				  NULL, NULL);
	if (!write)
		return -1;
	writes_svc = r->svc;
	pthread_once(&writes_once, writes_init);
	if (!writes || !(wait = ratelimit_take(writes, r->org_id, os_now_ms())))
		return -1;
	snprintf(secs, sizeof(secs), "%u", wait);
	snprintf(msg, sizeof(msg), "this organization's SCIM writes are limited to %g per second "
		 "(bursts of %u); retry in %u s", r->svc->cfg.scim_write_rate,
		 r->svc->cfg.scim_write_burst, wait);
	return send_error(r, 429, NULL, msg, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

/* The request's JSON body (a new reference), or NULL after answering 400. */
static json_t *body_of(struct http_req *r, int *answered)
{
	json_error_t je;
	json_t *doc;
	char msg[300];

	if (!r->body.len) {
		*answered = send_error(r, 400, "invalidSyntax", "the request needs a JSON body", NULL,
				       NULL);
		return NULL;
	}
	doc = json_loadb(r->body.data, r->body.len, 0, &je);
	if (!doc || !json_is_object(doc)) {
		snprintf(msg, sizeof(msg), doc ? "the body is a JSON object"
					       : "malformed JSON at line %d, column %d: %s",
			 je.line, je.column, je.text);
		json_decref(doc);
		*answered = send_error(r, 400, "invalidSyntax", msg, NULL, NULL);
		return NULL;
	}
	return doc;
}

/* --- lists: filter, sort, page, project ------------------------------------------- */

/* What a list or a search asks for (query parameters, or a SearchRequest's members). */
struct query {
	const char *filter, *sort_by, *sort_order, *attributes, *excluded;
	int64_t start, count; /* count < 0: not given */
};

/* Reads startIndex and count as RFC 7644 §3.4.2.4 does: below 1 is 1, below 0 is 0. */
static int read_int(const char *s, const char *name, int64_t *out, char *err, size_t errlen)
{
	if (!s)
		return 0;
	if (num_i64(s, INT64_MIN, INT64_MAX, out) != NUM_OK) {
		snprintf(err, errlen, "%s is an integer, not '%.40s'", name, s);
		return -1;
	}
	return 0;
}

/* One entry of attributes or excludedAttributes: a path, or an extension's URN alone. */
struct projection {
	struct scim_path *paths;
	size_t n;
};

static void projection_free(struct projection *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		scim_path_free(&p->paths[i]);
	free(p->paths);
	memset(p, 0, sizeof(*p));
}

/* Parses a comma-separated list of attribute paths. */
static int projection_parse(const char *list, struct projection *p, char *err, size_t errlen)
{
	const char *s = list;

	memset(p, 0, sizeof(*p));
	while (s && *s) {
		size_t len, depth = 0, i;
		char *one;
		struct scim_path *paths;

		/* A comma inside a value filter is not a separator. */
		for (i = 0; s[i] && (s[i] != ',' || depth); i++)
			depth += s[i] == '[' ? 1 : s[i] == ']' && depth ? (size_t)-1 : 0;
		len = i;
		one = strndup(s, len);
		paths = realloc(p->paths, (p->n + 1) * sizeof(*p->paths));
		if (paths)
			p->paths = paths; /* the old array stays owned by p when this fails */
		if (!one || !paths) {
			free(one);
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		if (scim_schema_is_extension(one)) {
			memset(&p->paths[p->n], 0, sizeof(p->paths[0]));
			p->paths[p->n].attr.schema = one;
			p->n++;
		} else {
			int rc = scim_path_parse(one, &p->paths[p->n], err, errlen);

			free(one);
			if (rc)
				return -1;
			p->n++;
		}
		s += len + (s[len] == ',');
	}
	return 0;
}

/* The values of a multi-valued attribute that match a filter (a new array). */
static json_t *filtered(const json_t *arr, const struct scim_filter *f)
{
	json_t *out = json_array(), *e;
	size_t i;

	json_array_foreach(arr, i, e)
		if (!f || (json_is_object(e) && scim_filter_match(f, e)))
			json_array_append(out, e);
	return out;
}

/* Copies what path names from src into dst (attributes=). */
static void copy_path(json_t *dst, const json_t *src, const struct scim_path *p)
{
	json_t *from = (json_t *)src, *to = dst, *v;
	const char *key;

	if (p->attr.schema && scim_schema_is_extension(p->attr.schema)) {
		key = scim_json_key(src, p->attr.schema);
		if (!key)
			return;
		from = json_object_get(src, key);
		if (!p->attr.attr) {
			json_object_set(dst, key, from);
			return;
		}
		to = json_object_get(dst, key);
		if (!to) {
			to = json_object();
			json_object_set_new(dst, key, to);
		}
	}
	key = scim_json_key(from, p->attr.attr);
	if (!key)
		return;
	v = json_object_get(from, key);
	if (json_is_array(v) && p->filter) {
		json_object_set_new(to, key, filtered(v, p->filter));
	} else if (p->attr.sub && json_is_object(v)) {
		const char *sk = scim_json_key(v, p->attr.sub);
		json_t *part = json_object_get(to, key);

		if (!sk)
			return;
		if (!json_is_object(part)) {
			part = json_object();
			json_object_set_new(to, key, part);
		}
		json_object_set(part, sk, json_object_get(v, sk));
	} else if (p->attr.sub && json_is_array(v)) {
		json_t *arr = json_array(), *e;
		size_t i;

		json_array_foreach(v, i, e) {
			const char *sk = scim_json_key(e, p->attr.sub);

			if (sk)
				json_array_append_new(arr, json_pack("{s:O}", sk, json_object_get(e, sk)));
		}
		json_object_set_new(to, key, arr);
	} else {
		json_object_set(to, key, v);
	}
}

/* Removes what path names from doc (excludedAttributes=); id and schemas stay. */
static void drop_path(json_t *doc, const struct scim_path *p)
{
	json_t *holder = doc, *v;
	const char *key;

	if (p->attr.schema && scim_schema_is_extension(p->attr.schema)) {
		key = scim_json_key(doc, p->attr.schema);
		if (!key)
			return;
		if (!p->attr.attr) {
			json_object_del(doc, key);
			return;
		}
		holder = json_object_get(doc, key);
	}
	key = scim_json_key(holder, p->attr.attr);
	if (!key || !strcmp(key, "id") || !strcmp(key, "schemas"))
		return;
	v = json_object_get(holder, key);
	if (p->attr.sub && json_is_object(v)) {
		const char *sk = scim_json_key(v, p->attr.sub);

		if (sk)
			json_object_del(v, sk);
	} else {
		json_object_del(holder, key);
	}
}

/* The resource as the projection asks (a new reference). */
static json_t *project(const json_t *doc, const struct projection *want,
		       const struct projection *drop)
{
	json_t *out;
	size_t i;

	if (want->n) {
		out = json_pack("{s:O, s:O}", "schemas", json_object_get(doc, "schemas"), "id",
				json_object_get(doc, "id"));
		for (i = 0; i < want->n; i++)
			copy_path(out, doc, &want->paths[i]);
		return out;
	}
	out = json_deep_copy(doc);
	for (i = 0; i < drop->n; i++)
		drop_path(out, &drop->paths[i]);
	return out;
}

/* The value a resource is sorted by: a multi-valued attribute's primary value, else its first. */
static const char *sort_key(const json_t *doc, const struct scim_attr_path *p)
{
	json_t *v = scim_attr_lookup(doc, &(struct scim_attr_path){ p->schema, p->attr, NULL }), *e;
	size_t i;

	if (json_is_array(v)) {
		json_t *pick = json_array_get(v, 0);

		json_array_foreach(v, i, e)
			if (json_is_true(scim_json_get(e, "primary")))
				pick = e;
		v = json_is_object(pick) ? scim_json_get(pick, p->sub ? p->sub : "value") : pick;
	} else if (p->sub) {
		v = json_is_object(v) ? scim_json_get(v, p->sub) : NULL;
	}
	return json_string_value(v);
}

struct sorted {
	json_t *doc;
	const char *key;
	size_t pos;
};

static int descending;

/* Ascending by key ignoring case, absent values last, then in list order (stable). */
static int by_key(const void *a, const void *b)
{
	const struct sorted *x = a, *y = b;
	int c;

	if (!x->key || !y->key)
		c = x->key ? -1 : y->key ? 1 : 0;
	else if ((c = strcasecmp(x->key, y->key)) != 0 && descending)
		c = -c;
	if (!c)
		c = x->pos < y->pos ? -1 : x->pos > y->pos;
	return c;
}

static pthread_mutex_t sort_lock = PTHREAD_MUTEX_INITIALIZER;

/* Sorts the array in place by the sortBy path. */
static int sort_list(json_t *list, const char *sort_by, bool desc, char *err, size_t errlen)
{
	struct scim_path p;
	struct sorted *v;
	size_t n = json_array_size(list), i;

	if (scim_path_parse(sort_by, &p, err, errlen))
		return -1;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v) {
		scim_path_free(&p);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		v[i].doc = json_incref(json_array_get(list, i));
		v[i].key = sort_key(v[i].doc, &p.attr);
		v[i].pos = i;
	}
	/* qsort has no context argument: the direction is set under a lock. */
	pthread_mutex_lock(&sort_lock);
	descending = desc;
	qsort(v, n, sizeof(*v), by_key);
	pthread_mutex_unlock(&sort_lock);
	json_array_clear(list);
	for (i = 0; i < n; i++)
		json_array_append_new(list, v[i].doc);
	free(v);
	scim_path_free(&p);
	return 0;
}

/*
 * Whether a filter asks for one resource by a key an index answers
 * (userName eq "x", id eq "x"): *value then names it.
 */
static bool indexed(const struct scim_filter *f, const char *attr, const char **value)
{
	if (f->op != SCIM_OP_EQ || f->path.sub || !json_is_string(f->value) ||
	    strcasecmp(f->path.attr, attr) != 0 ||
	    (f->path.schema && strcasecmp(f->path.schema, SCIM_SCHEMA_USER) != 0 &&
	     strcasecmp(f->path.schema, SCIM_SCHEMA_GROUP) != 0))
		return false;
	*value = json_string_value(f->value);
	return true;
}

/* The candidates of a Users list: one member by index when the filter allows, else all. */
static int user_candidates(struct scim_call *c, const struct scim_filter *f, json_t **out)
{
	struct store_scim_user *rows = NULL, one;
	const char *key;
	size_t n = 0, i;
	json_t *list = json_array(), *doc;
	int rc;

	if (f && (indexed(f, "userName", &key) || indexed(f, "id", &key))) {
		rc = store_scim_user_get(c->st, c->org_id, key, !strcasecmp(f->path.attr, "userName"),
					 &one);
		if (rc == STORE_OK) {
			scim_user_render(&one, &doc, NULL);
			json_array_append_new(list, doc);
			store_scim_user_clear(&one);
		}
		*out = list;
		return rc == STORE_ENOTFOUND ? STORE_OK : rc;
	}
	rc = store_scim_users(c->st, c->org_id, &rows, &n);
	for (i = 0; !rc && i < n; i++) {
		scim_user_render(&rows[i], &doc, NULL);
		json_array_append_new(list, doc);
	}
	store_scim_users_free(rows, n);
	*out = list;
	return rc;
}

/* Whether a projection leaves members out (saves reading them). */
static bool wants_members(const struct projection *want, const struct projection *drop)
{
	size_t i;

	for (i = 0; i < drop->n; i++)
		if (drop->paths[i].attr.attr && !strcasecmp(drop->paths[i].attr.attr, "members"))
			return false;
	if (!want->n)
		return true;
	for (i = 0; i < want->n; i++)
		if (want->paths[i].attr.attr && !strcasecmp(want->paths[i].attr.attr, "members"))
			return true;
	return false;
}

/* Answers a list of Users or Groups (RFC 7644 §3.4.2) for q. */
static int answer_list(struct http_req *r, struct scim_call *c, enum scim_resource type,
		       const struct query *q)
{
	struct scim_filter *f = NULL;
	struct projection want = { 0 }, drop = { 0 };
	json_t *all = NULL, *page, *e, *doc;
	int64_t start = q->start < 1 ? 1 : q->start, count = q->count;
	size_t i, total = 0;
	char err[300];
	int rc;

	if (q->filter && scim_filter_parse(q->filter, &f, err, sizeof(err))) {
		rc = send_error(r, 400, "invalidFilter", err, NULL, NULL);
		goto out;
	}
	if ((q->attributes && projection_parse(q->attributes, &want, err, sizeof(err))) ||
	    (q->excluded && projection_parse(q->excluded, &drop, err, sizeof(err)))) {
		rc = send_error(r, 400, "invalidValue", err, NULL, NULL);
		goto out;
	}
	if (q->sort_order && strcasecmp(q->sort_order, "ascending") != 0 &&
	    strcasecmp(q->sort_order, "descending") != 0) {
		rc = send_error(r, 400, "invalidValue", "sortOrder is ascending or descending", NULL,
				NULL);
		goto out;
	}
	rc = type == SCIM_USER ? user_candidates(c, f, &all)
			       : scim_groups_all(c, wants_members(&want, &drop) ||
							    (f && !want.n && !drop.n),
						 f != NULL, &all);
	if (rc) {
		struct scim_result res = { 0 };

		scim_store_fail(&res, c, rc, "list");
		rc = send_result(r, &res, false);
		goto out;
	}
	/* Filtered in place: the matches keep their order. */
	for (i = 0; f && i < json_array_size(all);) {
		if (scim_filter_match(f, json_array_get(all, i)))
			i++;
		else
			json_array_remove(all, i);
	}
	if (q->sort_by &&
	    sort_list(all, q->sort_by, q->sort_order && !strcasecmp(q->sort_order, "descending"),
		      err, sizeof(err))) {
		rc = send_error(r, 400, "invalidValue", err, NULL, NULL);
		goto out;
	}
	total = json_array_size(all);
	if (count < 0 || count > SCIM_LIST_MAX)
		count = SCIM_LIST_MAX;
	page = json_array();
	for (i = (size_t)start - 1; i < total && (int64_t)json_array_size(page) < count; i++) {
		e = json_array_get(all, i);
		json_array_append_new(page, project(e, &want, &drop));
	}
	doc = json_pack("{s:[s], s:I, s:I, s:I, s:o}", "schemas", SCIM_MSG_LIST, "totalResults",
			(json_int_t)total, "itemsPerPage", (json_int_t)json_array_size(page),
			"startIndex", (json_int_t)start, "Resources", page);
	rc = send_doc(r, 200, doc, NULL, NULL);
out:
	json_decref(all);
	projection_free(&want);
	projection_free(&drop);
	scim_filter_free(f);
	return rc;
}

/* The query of a GET list, from its parameters. */
static int query_of(struct http_req *r, struct query *q)
{
	char err[160];

	*q = (struct query){ http_arg(r, "filter"), http_arg(r, "sortBy"), http_arg(r, "sortOrder"),
			     http_arg(r, "attributes"), http_arg(r, "excludedAttributes"), 1, -1 };
	if (read_int(http_arg(r, "startIndex"), "startIndex", &q->start, err, sizeof(err)) ||
	    read_int(http_arg(r, "count"), "count", &q->count, err, sizeof(err)))
		return send_error(r, 400, "invalidValue", err, NULL, NULL);
	if (q->count < -1)
		q->count = 0;
	return -1;
}

static int list(struct http_req *r, enum scim_resource type)
{
	struct scim_call c;
	struct query q;
	int rc;

	if ((rc = gate(r, &c, false)) != -1 || (rc = query_of(r, &q)) != -1)
		return rc;
	return answer_list(r, &c, type, &q);
}

/* POST /.search: the list's parameters as a SearchRequest (RFC 7644 §3.4.3). */
static int search(struct http_req *r, enum scim_resource type)
{
	struct scim_call c;
	struct query q = { 0 };
	json_t *body, *v;
	int rc, answered = 0;

	if ((rc = gate(r, &c, false)) != -1)
		return rc;
	body = body_of(r, &answered);
	if (!body)
		return answered;
	q.filter = json_string_value(scim_json_get(body, "filter"));
	q.sort_by = json_string_value(scim_json_get(body, "sortBy"));
	q.sort_order = json_string_value(scim_json_get(body, "sortOrder"));
	q.start = json_is_integer(v = scim_json_get(body, "startIndex")) ? json_integer_value(v) : 1;
	q.count = json_is_integer(v = scim_json_get(body, "count")) ? json_integer_value(v) : -1;
	if (q.count < -1)
		q.count = 0;
	/* The lists of attributes are arrays here; joined, they read as the parameters do. */
	char *lists[2] = { NULL, NULL };
	const char *names[2] = { "attributes", "excludedAttributes" };
	int i;

	for (i = 0; i < 2; i++) {
		json_t *a = scim_json_get(body, names[i]), *e;
		size_t k;
		struct buf b;

		if (!json_is_array(a))
			continue;
		buf_init(&b);
		json_array_foreach(a, k, e)
			if (json_is_string(e))
				buf_printf(&b, "%s%s", b.len ? "," : "", json_string_value(e));
		lists[i] = b.data ? b.data : NULL;
	}
	q.attributes = lists[0];
	q.excluded = lists[1];
	rc = answer_list(r, &c, type, &q);
	free(lists[0]);
	free(lists[1]);
	json_decref(body);
	return rc;
}

/* --- one resource --------------------------------------------------------------------- */

typedef int (*resource_op)(struct scim_call *c, const char *method, const char *id,
			   const json_t *body, const char *if_match, struct scim_result *res);

/* GET, POST, PUT, PATCH or DELETE of one User or Group, answered with its projection. */
static int one(struct http_req *r, resource_op op, bool with_body)
{
	struct scim_call c;
	struct scim_result res;
	struct projection want = { 0 }, drop = { 0 };
	const char *none_match = http_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool write = strcmp(r->method, "GET") != 0;
	json_t *body = NULL;
	char err[300];
	int rc, answered = 0;

	if ((rc = gate(r, &c, write)) != -1)
		return rc;
	if ((http_arg(r, "attributes") &&
	     projection_parse(http_arg(r, "attributes"), &want, err, sizeof(err))) ||
	    (http_arg(r, "excludedAttributes") &&
	     projection_parse(http_arg(r, "excludedAttributes"), &drop, err, sizeof(err)))) {
		rc = send_error(r, 400, "invalidValue", err, NULL, NULL);
		goto out;
	}
	if (with_body && !(body = body_of(r, &answered))) {
		rc = answered;
		goto out;
	}
	op(&c, r->method, r->params[0], body, http_header(r, MHD_HTTP_HEADER_IF_MATCH), &res);
	if (!write && res.status == 200 && none_match && scim_if_match(none_match, res.version) &&
	    strcmp(none_match, "*") != 0) {
		json_decref(res.doc);
		rc = http_raw(r, MHD_HTTP_NOT_MODIFIED, SCIM_TYPE, "", 0);
		goto out;
	}
	/* A PATCH answers 204 (Microsoft's clients expect it) unless attributes ask for the resource. */
	if (!strcmp(r->method, "PATCH") && res.status == 200 && !want.n && !drop.n) {
		json_decref(res.doc);
		res.doc = NULL;
		res.status = 204;
	}
	if (res.doc && (want.n || drop.n)) {
		json_t *p = project(res.doc, &want, &drop);

		json_decref(res.doc);
		res.doc = p;
	}
	rc = send_result(r, &res, res.status == 201);
	json_decref(res.doc);
out:
	json_decref(body);
	projection_free(&want);
	projection_free(&drop);
	return rc;
}

static int list_users(struct http_req *r)
{
	return list(r, SCIM_USER);
}

static int list_groups(struct http_req *r)
{
	return list(r, SCIM_GROUP);
}

static int search_users(struct http_req *r)
{
	return search(r, SCIM_USER);
}

static int search_groups(struct http_req *r)
{
	return search(r, SCIM_GROUP);
}

static int user_read(struct http_req *r)
{
	return one(r, scim_users_op, false);
}

static int user_write(struct http_req *r)
{
	return one(r, scim_users_op, true);
}

static int user_delete(struct http_req *r)
{
	return one(r, scim_users_op, false);
}

static int group_read(struct http_req *r)
{
	return one(r, scim_groups_op, false);
}

static int group_write(struct http_req *r)
{
	return one(r, scim_groups_op, true);
}

static int group_delete(struct http_req *r)
{
	return one(r, scim_groups_op, false);
}

/* --- Bulk (RFC 7644 §3.7) ------------------------------------------------------------ */

struct bulk_ids {
	json_t *map; /* bulkId -> the id its POST made */
};

/* Replaces "bulkId:X" strings in v (a deep copy) with the ids made; *missing names one unknown. */
static json_t *resolve(const json_t *v, const json_t *map, const char **missing)
{
	json_t *out, *e;
	const char *key;
	size_t i;

	if (json_is_string(v) && !strncmp(json_string_value(v), "bulkId:", 7)) {
		json_t *id = json_object_get(map, json_string_value(v) + 7);

		if (!id) {
			*missing = json_string_value(v);
			return json_incref((json_t *)v);
		}
		return json_incref(id);
	}
	if (json_is_array(v)) {
		out = json_array();
		json_array_foreach(v, i, e)
			json_array_append_new(out, resolve(e, map, missing));
		return out;
	}
	if (json_is_object(v)) {
		out = json_object();
		json_object_foreach((json_t *)v, key, e)
			json_object_set_new(out, key, resolve(e, map, missing));
		return out;
	}
	return json_incref((json_t *)v);
}

/* Runs one operation of a Bulk request; its outcome as the BulkResponse shows it. */
static json_t *bulk_one(struct scim_call *c, const json_t *op, json_t *ids, bool *failed)
{
	const char *method = json_string_value(scim_json_get(op, "method"));
	const char *path = json_string_value(scim_json_get(op, "path"));
	const char *bulk_id = json_string_value(scim_json_get(op, "bulkId"));
	const char *version = json_string_value(scim_json_get(op, "version"));
	const char *missing = NULL, *id = NULL, *rest;
	bool post;
	struct scim_result res = { 0 };
	json_t *data = NULL, *out, *resolved_path;
	resource_op fn = NULL;
	char upper[8];
	size_t i;

	for (i = 0; method && method[i] && i < sizeof(upper) - 1; i++)
		upper[i] = (char)(method[i] & ~0x20);
	upper[i] = '\0';
	resolved_path = path ? resolve(scim_json_get(op, "path"), ids, &missing) : NULL;
	path = json_string_value(resolved_path);
	if (path && !strncmp(path, "/Users", 6)) {
		fn = scim_users_op;
		rest = path + 6;
	} else if (path && !strncmp(path, "/Groups", 7)) {
		fn = scim_groups_op;
		rest = path + 7;
	} else {
		rest = "";
	}
	if (*rest == '/' && rest[1])
		id = rest + 1;
	post = !strcmp(upper, "POST");
	if (!method || (strcmp(upper, "POST") != 0 && strcmp(upper, "PUT") != 0 &&
			strcmp(upper, "PATCH") != 0 &&
			strcmp(upper, "DELETE") != 0))
		scim_fail(&res, 400, "invalidSyntax", "method is POST, PUT, PATCH or DELETE");
	else if (!fn || (*rest && *rest != '/') || post == (id != NULL))
		scim_fail(&res, 400, "invalidPath", "path is /Users or /Groups for a POST, "
			  "/Users/{id} or /Groups/{id} otherwise");
	else if (post && !bulk_id)
		scim_fail(&res, 400, "invalidSyntax", "a POST needs a bulkId");
	else if (strcmp(upper, "DELETE") != 0 && !json_is_object(scim_json_get(op, "data")))
		scim_fail(&res, 400, "invalidSyntax", "%s needs data, a JSON object", upper);
	else if ((data = resolve(scim_json_get(op, "data"), ids, &missing)), missing)
		scim_fail(&res, 409, "invalidValue", "%s names no operation before this one",
			  missing);
	else
		fn(c, upper, id, data, version, &res);
	out = json_pack("{s:s, s:s%}", "method", method ? method : "", "status", "000", 3);
	json_object_set_new(out, "status", json_sprintf("%u", res.status));
	if (bulk_id)
		json_object_set_new(out, "bulkId", json_string(bulk_id));
	if (res.status < 400) {
		if (*res.id)
			json_object_set_new(out, "location",
					    json_sprintf("%s%s/%s", SCIM_BASE,
							 fn == scim_users_op ? "/Users" : "/Groups",
							 res.id));
		if (*res.version)
			json_object_set_new(out, "version", json_string(res.version));
		if (bulk_id && *res.id && post)
			json_object_set_new(ids, bulk_id, json_string(res.id));
	} else {
		json_t *err = json_pack("{s:[s], s:s, s:s}", "schemas", SCIM_MSG_ERROR, "detail",
					res.detail, "status", "");

		json_object_set_new(err, "status", json_sprintf("%u", res.status));
		if (res.scim_type)
			json_object_set_new(err, "scimType", json_string(res.scim_type));
		json_object_set_new(out, "response", err);
		*failed = true;
	}
	json_decref(res.doc);
	json_decref(data);
	json_decref(resolved_path);
	return out;
}

static int bulk(struct http_req *r)
{
	struct scim_call c;
	json_t *body, *ops, *op, *results, *ids;
	int64_t fail_on = 0, errors = 0;
	char msg[160];
	int rc, answered = 0;
	size_t i;

	if ((rc = gate(r, &c, true)) != -1)
		return rc;
	if (r->body.len > SCIM_BULK_MAX_BYTES) {
		snprintf(msg, sizeof(msg), "a Bulk request is %d bytes at most", SCIM_BULK_MAX_BYTES);
		return send_error(r, 413, "tooMany", msg, NULL, NULL);
	}
	body = body_of(r, &answered);
	if (!body)
		return answered;
	ops = scim_json_get(body, "Operations");
	if (!json_is_array(ops)) {
		json_decref(body);
		return send_error(r, 400, "invalidSyntax", "a BulkRequest has an Operations list",
				  NULL, NULL);
	}
	if (json_array_size(ops) > SCIM_BULK_MAX_OPERATIONS) {
		json_decref(body);
		snprintf(msg, sizeof(msg), "a Bulk request has %d operations at most",
			 SCIM_BULK_MAX_OPERATIONS);
		return send_error(r, 413, "tooMany", msg, NULL, NULL);
	}
	if (json_is_integer(scim_json_get(body, "failOnErrors")))
		fail_on = json_integer_value(scim_json_get(body, "failOnErrors"));
	results = json_array();
	ids = json_object();
	json_array_foreach(ops, i, op) {
		bool failed = false;

		json_array_append_new(results, bulk_one(&c, op, ids, &failed));
		if (failed && ++errors >= fail_on && fail_on > 0)
			break;
	}
	json_decref(ids);
	json_decref(body);
	return send_doc(r, 200,
			json_pack("{s:[s], s:o}", "schemas", SCIM_MSG_BULK_RESPONSE, "Operations",
				  results),
			NULL, NULL);
}

/* --- discovery --------------------------------------------------------------------- */

static int service_config(struct http_req *r)
{
	struct scim_call c;
	int rc;

	if ((rc = gate(r, &c, false)) != -1)
		return rc;
	return send_doc(r, 200, scim_schema_service_config(SCIM_BASE), NULL, NULL);
}

static int discovery(struct http_req *r, json_t *(*make)(const char *base, const char *id))
{
	struct scim_call c;
	json_t *doc;
	int rc;

	if ((rc = gate(r, &c, false)) != -1)
		return rc;
	doc = make(SCIM_BASE, r->params[0]);
	if (!doc)
		return send_error(r, 404, NULL, "no such schema or resource type", NULL, NULL);
	return send_doc(r, 200, doc, NULL, NULL);
}

static int schemas(struct http_req *r)
{
	return discovery(r, scim_schema_schemas);
}

static int resource_types(struct http_req *r)
{
	return discovery(r, scim_schema_resource_types);
}

/* --- routes ---------------------------------------------------------------------- */

#define P_STRING(n, d) { .name = (n), .type = HTTP_PARAM_STRING, .description = (d) }
#define P_FILTER P_STRING("filter", "a filter (RFC 7644 §3.4.2.2): userName eq \"a@b.example\"")
#define P_ATTRIBUTES                                                                            \
	P_STRING("attributes", "only these attributes (and id), comma-separated"),              \
	P_STRING("excludedAttributes", "all but these attributes, comma-separated")

static const struct http_param list_params[] = {
	P_FILTER,
	P_STRING("sortBy", "the attribute to sort by"),
	P_STRING("sortOrder", "ascending (the default) or descending"),
	P_STRING("startIndex", "the first result, from 1"),
	P_STRING("count", "the most results (1000 at most)"),
	P_ATTRIBUTES,
	{ 0 },
};

static const struct http_param one_params[] = {
	P_ATTRIBUTES,
	{ 0 },
};

const struct route scim_routes[] = {
	{ "GET", "/scim/v2/Users", list_users, true, list_params },
	/* Microsoft's clients add a slash before the query. */
	{ "GET", "/scim/v2/Users/", list_users, true, list_params },
	{ "POST", "/scim/v2/Users", user_write, true, one_params },
	{ "POST", "/scim/v2/Users/.search", search_users, true, NULL },
	{ "GET", "/scim/v2/Users/{id}", user_read, true, one_params },
	{ "PUT", "/scim/v2/Users/{id}", user_write, true, one_params },
	{ "PATCH", "/scim/v2/Users/{id}", user_write, true, one_params },
	{ "DELETE", "/scim/v2/Users/{id}", user_delete, true, NULL },
	{ "GET", "/scim/v2/Groups", list_groups, true, list_params },
	{ "GET", "/scim/v2/Groups/", list_groups, true, list_params },
	{ "POST", "/scim/v2/Groups", group_write, true, one_params },
	{ "POST", "/scim/v2/Groups/.search", search_groups, true, NULL },
	{ "GET", "/scim/v2/Groups/{id}", group_read, true, one_params },
	{ "PUT", "/scim/v2/Groups/{id}", group_write, true, one_params },
	{ "PATCH", "/scim/v2/Groups/{id}", group_write, true, one_params },
	{ "DELETE", "/scim/v2/Groups/{id}", group_delete, true, NULL },
	{ "POST", "/scim/v2/Bulk", bulk, true, NULL },
	{ "GET", "/scim/v2/ServiceProviderConfig", service_config, true, NULL },
	/* Microsoft's reference clients read it here too. */
	{ "GET", "/scim/v2/serviceConfiguration", service_config, true, NULL },
	{ "GET", "/scim/v2/Schemas", schemas, true, NULL },
	{ "GET", "/scim/v2/Schemas/{id}", schemas, true, NULL },
	{ "GET", "/scim/v2/ResourceTypes", resource_types, true, NULL },
	{ "GET", "/scim/v2/ResourceTypes/{id}", resource_types, true, NULL },
};

const size_t scim_nroutes = sizeof(scim_routes) / sizeof(scim_routes[0]);
