/*
 * store: the public entry points. Chooses the backend from the URL, checks
 * arguments, and keeps the secrets out of the backends: API keys and
 * invitation tokens are generated, parsed and hashed here, so a backend
 * only ever stores and compares hashes.
 */
#include "store/backend.h"
#include "store/store_rows.h"
#include "format/names.h"

#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#define KEY_PREFIX "osk_"

enum {
	KEY_PREFIX_LEN = sizeof(KEY_PREFIX) - 1,
	KEY_ID_BYTES = STORE_KEY_ID_LEN / 2,
	SECRET_BYTES = 32,
	SECRET_LEN = 43, /* base64url of 32 bytes, unpadded */
	KEY_LEN = KEY_PREFIX_LEN + STORE_KEY_ID_LEN + 1 + SECRET_LEN,
};

_Static_assert((int)KEY_LEN < (int)STORE_KEY_MAX, "an API key fits STORE_KEY_MAX");
_Static_assert((int)SECRET_LEN < (int)STORE_TOKEN_MAX, "a token fits STORE_TOKEN_MAX");

/* --- helpers shared with the backends ------------------------------------ */

int store_set_error(struct store *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return code;
}

static int out_of_range(struct store *s, int64_t v, const char *what)
{
	return store_set_error(s, STORE_EIO, "%s out of range: %lld", what, (long long)v);
}

int store_fit_int(struct store *s, int64_t v, const char *what, int *out)
{
	if (v < INT_MIN || v > INT_MAX)
		return out_of_range(s, v, what);
	*out = (int)v;
	return STORE_OK;
}

int store_fit_u32(struct store *s, int64_t v, const char *what, uint32_t *out)
{
	if (v < 0 || v > UINT32_MAX)
		return out_of_range(s, v, what);
	*out = (uint32_t)v;
	return STORE_OK;
}

int store_fit_size(struct store *s, int64_t v, const char *what, size_t *out)
{
	/* Compared as uint64_t: SIZE_MAX may be below INT64_MAX (32 bits) or above it. */
	if (v < 0 || (uint64_t)v > SIZE_MAX)
		return out_of_range(s, v, what);
	*out = (size_t)v;
	return STORE_OK;
}

int store_fit_products(struct store *s, int64_t v, uint8_t *out)
{
	_Static_assert(PRODUCT_COUNT <= 8, "a member's products fit a uint8_t");

	if (v < 0 || v >= 1 << PRODUCT_COUNT)
		return out_of_range(s, v, "a member's products");
	*out = (uint8_t)v;
	return STORE_OK;
}

void store_hash(const void *data, size_t len, uint8_t out[STORE_HASH_LEN])
{
	crypto_generichash(out, STORE_HASH_LEN, data, len, NULL, 0);
}

/* base64url of n random bytes, unpadded, into dst (room for the NUL included). */
static void random_base64url(char *dst, size_t dstlen, size_t n)
{
	unsigned char raw[SECRET_BYTES];

	randombytes_buf(raw, n);
	sodium_bin2base64(dst, dstlen, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof(raw));
}

void store_token_new(char token[STORE_TOKEN_MAX], uint8_t hash[STORE_HASH_LEN])
{
	random_base64url(token, STORE_TOKEN_MAX, SECRET_BYTES);
	store_hash(token, SECRET_LEN, hash);
}

void store_email_key(char *dst, const char *src, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		char c = src[i];

		dst[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	dst[len] = '\0';
}

char *store_invitation_payload(const char *external_id, const char *email, const char *first_name,
			       const char *last_name, const char *token)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "memberId", external_id, "email", email,
			      "firstName", first_name ? first_name : "", "lastName",
			      last_name ? last_name : "", "token", token);
	char *text;

	if (!o)
		return NULL;
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return text;
}

/* --- keys ------------------------------------------------------------------ */

static bool is_base64url(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * A new key: the id part is public (it finds the row), the secret part is
 * what proves possession; the hash covers the whole text.
 */
static void key_new(char key[STORE_KEY_MAX], char key_id[STORE_KEY_ID_LEN + 1],
		    uint8_t hash[STORE_HASH_LEN])
{
	unsigned char id[KEY_ID_BYTES];

	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(key_id, STORE_KEY_ID_LEN + 1, id, sizeof(id));
	memcpy(key, KEY_PREFIX, KEY_PREFIX_LEN);
	memcpy(key + KEY_PREFIX_LEN, key_id, STORE_KEY_ID_LEN);
	key[KEY_PREFIX_LEN + STORE_KEY_ID_LEN] = '_';
	random_base64url(key + KEY_PREFIX_LEN + STORE_KEY_ID_LEN + 1,
			 STORE_KEY_MAX - (KEY_PREFIX_LEN + STORE_KEY_ID_LEN + 1), SECRET_BYTES);
	store_hash(key, KEY_LEN, hash);
}

/*
 * Accepts exactly the shape key_new makes. Reads at most KEY_LEN + 1 bytes
 * of key, so garbage of any length (unterminated within reason) is safe.
 */
static bool key_parse(const char *key, char key_id[STORE_KEY_ID_LEN + 1])
{
	size_t i;

	if (strnlen(key, KEY_LEN + 1) != KEY_LEN || memcmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    key[KEY_PREFIX_LEN + STORE_KEY_ID_LEN] != '_' ||
	    !is_base64url(key + KEY_PREFIX_LEN + STORE_KEY_ID_LEN + 1, SECRET_LEN))
		return false;
	for (i = 0; i < STORE_KEY_ID_LEN; i++) {
		char c = key[KEY_PREFIX_LEN + i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
			return false;
		key_id[i] = c;
	}
	key_id[STORE_KEY_ID_LEN] = '\0';
	return true;
}

/* --- the public interface ------------------------------------------------- */

int store_open(const char *url, struct store **out, char *err, size_t errlen)
{
	const char *path = url;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (sodium_init() < 0) {
		if (err)
			snprintf(err, errlen, "libsodium failed to initialise");
		return STORE_EIO;
	}
	if (!url || !*url) {
		if (err)
			snprintf(err, errlen, "no database given");
		return STORE_EINVAL;
	}
	if (strncmp(url, "postgres://", 11) == 0 || strncmp(url, "postgresql://", 13) == 0)
		return store_postgres_open(url, out, err, errlen);
	if (strncmp(url, "sqlite:", 7) == 0)
		path = url + 7;
	if (!*path) {
		if (err)
			snprintf(err, errlen, "no database path in '%s'", url);
		return STORE_EINVAL;
	}
	return store_sqlite_open(path, out, err, errlen);
}

void store_close(struct store *s)
{
	if (s)
		s->ops->close(s);
}

const char *store_error(const struct store *s)
{
	return s ? s->err : "no store";
}

int store_org_create(struct store *s, const char *name, int64_t *org_id,
		     char key_out[STORE_KEY_MAX])
{
	char key_id[STORE_KEY_ID_LEN + 1];
	uint8_t hash[STORE_HASH_LEN];
	int rc;

	if (!name || !*name || !org_id || !key_out)
		return store_set_error(s, STORE_EINVAL, "an organization needs a name");
	key_new(key_out, key_id, hash);
	rc = s->ops->org_create(s, name, key_id, hash, org_id);
	if (rc)
		sodium_memzero(key_out, STORE_KEY_MAX);
	return rc;
}

int store_org_get(struct store *s, int64_t org_id, char **name)
{
	if (name)
		*name = NULL;
	return s->ops->org_get(s, org_id, name);
}

int store_key_rotate(struct store *s, int64_t org_id, char key_out[STORE_KEY_MAX])
{
	char key_id[STORE_KEY_ID_LEN + 1];
	uint8_t hash[STORE_HASH_LEN];
	int rc;

	if (!key_out)
		return STORE_EINVAL;
	key_new(key_out, key_id, hash);
	rc = s->ops->key_replace(s, org_id, key_id, hash);
	if (rc)
		sodium_memzero(key_out, STORE_KEY_MAX);
	return rc;
}

int store_key_ids(struct store *s, int64_t org_id, char ***ids, size_t *n)
{
	if (!ids || !n)
		return STORE_EINVAL;
	*ids = NULL;
	*n = 0;
	return s->ops->key_ids(s, org_id, ids, n);
}

bool store_key_public_id(const char *key, char id[STORE_KEY_ID_MAX])
{
	_Static_assert(STORE_KEY_ID_MAX == STORE_KEY_ID_LEN + 1, "a key id and its NUL");
	return key && id && key_parse(key, id);
}

int store_key_auth(struct store *s, const char *key, int64_t *org_id)
{
	char key_id[STORE_KEY_ID_LEN + 1];
	uint8_t hash[STORE_HASH_LEN];

	if (!key || !org_id || !key_parse(key, key_id))
		return STORE_ENOTFOUND;
	store_hash(key, KEY_LEN, hash);
	return s->ops->key_auth(s, key_id, hash, org_id);
}

int store_org_list(struct store *s, struct store_org_row **rows, size_t *n)
{
	if (!rows || !n)
		return STORE_EINVAL;
	*rows = NULL;
	*n = 0;
	return s->ops->org_list(s, rows, n);
}

void store_org_rows_free(struct store_org_row *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		free(rows[i].name);
	free(rows);
}

int store_admin_add(struct store *s, int64_t org_id, const char *email)
{
	if (!email || !org_email_valid(email, strlen(email)))
		return store_set_error(s, STORE_EINVAL, "'%s' is not a valid email address",
				       email ? email : "");
	return s->ops->admin_add(s, org_id, email);
}

int store_admin_list(struct store *s, int64_t org_id, struct store_admin **admins, size_t *n)
{
	if (!admins || !n)
		return STORE_EINVAL;
	*admins = NULL;
	*n = 0;
	return s->ops->admin_list(s, org_id, admins, n);
}

void store_admins_free(struct store_admin *admins, size_t n)
{
	size_t i;

	for (i = 0; admins && i < n; i++) {
		free(admins[i].email);
		free(admins[i].external_id);
	}
	free(admins);
}

int store_admin_remove(struct store *s, int64_t org_id, const char *email)
{
	if (!email || !*email)
		return store_set_error(s, STORE_EINVAL, "no email address");
	return s->ops->admin_remove(s, org_id, email);
}

int store_member_role(struct store *s, int64_t org_id, const char *email, int *role)
{
	if (!email || !role)
		return STORE_EINVAL;
	return s->ops->member_role(s, org_id, email, role);
}

int store_settings_get(struct store *s, int64_t org_id, char **json)
{
	if (!json)
		return STORE_EINVAL;
	*json = NULL;
	return s->ops->settings_get(s, org_id, json);
}

int store_settings_put(struct store *s, int64_t org_id, const char *json)
{
	json_error_t jerr;
	json_t *root;
	bool object;

	if (!json)
		return store_set_error(s, STORE_EINVAL, "no settings document");
	root = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return store_set_error(s, STORE_EINVAL, "settings: %s (line %d, column %d)",
				       jerr.text, jerr.line, jerr.column);
	object = json_is_object(root);
	json_decref(root);
	if (!object)
		return store_set_error(s, STORE_EINVAL, "settings must be a JSON object");
	return s->ops->settings_put(s, org_id, json);
}

int store_properties_list(struct store *s, int64_t org_id, char ***names, size_t *n)
{
	if (!names || !n)
		return STORE_EINVAL;
	*names = NULL;
	*n = 0;
	return s->ops->properties_list(s, org_id, names, n);
}

int store_property_add(struct store *s, int64_t org_id, const char *name)
{
	if (!name || !*name)
		return store_set_error(s, STORE_EINVAL, "a property needs a name");
	return s->ops->property_add(s, org_id, name);
}

int store_property_delete(struct store *s, int64_t org_id, const char *name)
{
	if (!name)
		return STORE_EINVAL;
	return s->ops->property_delete(s, org_id, name);
}

void store_strings_free(char **v, size_t n)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int store_org_load(struct store *s, int64_t org_id, struct org *out, struct store_ids *ids)
{
	if (!out || !ids)
		return STORE_EINVAL;
	ids->members = NULL;
	ids->teams = NULL;
	return s->ops->org_load(s, org_id, out, ids);
}

void store_ids_free(struct store_ids *ids)
{
	if (!ids)
		return;
	free(ids->members);
	free(ids->teams);
	ids->members = NULL;
	ids->teams = NULL;
}

int store_apply(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		const struct org *stored, const struct store_ids *ids, const struct plan *p)
{
	return store_apply_finish(s, org_id, sync_id, desired, stored, ids, p, NULL);
}

/* Pending is where a sync starts, never where one finishes. */
static bool final_status(int status)
{
	return status > SYNC_PENDING && status < SYNC_STATUS_COUNT;
}

int store_apply_finish(struct store *s, int64_t org_id, int64_t sync_id, const struct org *desired,
		       const struct org *stored, const struct store_ids *ids, const struct plan *p,
		       const struct sync_outcome *done)
{
	if (!desired || !stored || !ids || !p)
		return STORE_EINVAL;
	if (done && !final_status(done->status))
		return store_set_error(s, STORE_EINVAL, "%d is not a final status", done->status);
	if (done && done->plan && !done->plan->next)
		return store_set_error(s, STORE_EINVAL, "a plan needs its entries");
	return s->ops->apply(s, org_id, sync_id, desired, stored, ids, p, done);
}

void store_sync_row_free(struct sync_row *r)
{
	if (!r)
		return;
	free(r->reason);
	free(r->counts_json);
	free(r->risk_json);
	free(r->decided_by);
	free(r->decision_reason);
	r->reason = r->counts_json = r->risk_json = r->decided_by = r->decision_reason = NULL;
}

void store_sync_rows_free(struct sync_row *rows, size_t n)
{
	size_t i;

	if (!rows)
		return;
	for (i = 0; i < n; i++)
		store_sync_row_free(&rows[i]);
	free(rows);
}

/* Copies of these go into fixed fields of struct sync_row: refuse what would not fit. */
static bool meta_ok(const struct sync_meta *m)
{
	return m && m->source && m->mode && m->format &&
	       strlen(m->source) < sizeof(((struct sync_row *)0)->source) &&
	       strlen(m->mode) < sizeof(((struct sync_row *)0)->mode) &&
	       strlen(m->format) < sizeof(((struct sync_row *)0)->format) &&
	       (!m->owner || (*m->owner && m->lease_ms > 0));
}

/* A part held in memory, read as a source. */
struct mem_source {
	const char *data;
	size_t len, pos;
};

static int mem_read(void *ctx, void *buf, size_t cap, size_t *got)
{
	struct mem_source *m = ctx;

	*got = m->len - m->pos < cap ? m->len - m->pos : cap;
	memcpy(buf, m->data + m->pos, *got);
	m->pos += *got;
	return 0;
}

int store_sync_begin_sources(struct store *s, int64_t org_id, const struct sync_meta *m,
			     const struct store_source *parts, size_t nparts, int64_t *sync_id,
			     int64_t *running)
{
	int64_t unused;
	size_t i;

	if (!sync_id || !meta_ok(m) || m->nparts)
		return store_set_error(s, STORE_EINVAL, "a sync needs a source, mode and format");
	for (i = 0; i < nparts; i++)
		if (!parts[i].name || !*parts[i].name || (!parts[i].read && parts[i].len))
			return store_set_error(s, STORE_EINVAL, "a payload part needs a name");
	*sync_id = 0;
	if (!running)
		running = &unused;
	*running = 0;
	return s->ops->sync_begin(s, org_id, m, parts, nparts, sync_id, running);
}

int store_sync_begin(struct store *s, int64_t org_id, const struct sync_meta *m,
		     int64_t *sync_id, int64_t *running)
{
	struct store_source *src = NULL;
	struct mem_source *mem = NULL;
	struct sync_meta bare;
	size_t i, n;
	int rc;

	if (!sync_id || !meta_ok(m))
		return store_set_error(s, STORE_EINVAL, "a sync needs a source, mode and format");
	n = m->nparts;
	for (i = 0; i < n; i++)
		if (!m->parts[i].name || !*m->parts[i].name || (!m->parts[i].data && m->parts[i].len))
			return store_set_error(s, STORE_EINVAL, "a payload part needs a name");
	src = calloc(n + 1, sizeof(*src));
	mem = calloc(n + 1, sizeof(*mem));
	if (!src || !mem) {
		rc = store_set_error(s, STORE_ENOMEM, "out of memory");
		goto out;
	}
	for (i = 0; i < n; i++) {
		mem[i] = (struct mem_source){ m->parts[i].data, m->parts[i].len, 0 };
		src[i] = (struct store_source){ m->parts[i].name, m->parts[i].len, mem_read, &mem[i] };
	}
	bare = *m;
	bare.parts = NULL;
	bare.nparts = 0;
	rc = store_sync_begin_sources(s, org_id, &bare, src, n, sync_id, running);
out:
	free(src);
	free(mem);
	return rc;
}

int store_sync_pending(struct store *s, int64_t org_id, int64_t *running)
{
	*running = 0;
	return s->ops->sync_pending(s, org_id, running);
}

int store_sync_payload_put(struct store *s, int64_t sync_id, const char *part, const void *data,
			   size_t len)
{
	if (!part || !*part || (!data && len))
		return STORE_EINVAL;
	return s->ops->payload_put(s, sync_id, part, data, len);
}

int store_sync_payload_get(struct store *s, int64_t sync_id, const char *part, void **data,
			   size_t *len)
{
	if (!part || !data || !len)
		return STORE_EINVAL;
	*data = NULL;
	*len = 0;
	return s->ops->payload_get(s, sync_id, part, data, len);
}

struct store_blob {
	struct store *s;
	void *h;
};

int store_sync_payload_open(struct store *s, int64_t sync_id, const char *part,
			    struct store_blob **out, uint64_t *len)
{
	struct store_blob *b;
	int rc;

	if (!part || !out || !len)
		return STORE_EINVAL;
	*out = NULL;
	*len = 0;
	b = calloc(1, sizeof(*b));
	if (!b)
		return store_set_error(s, STORE_ENOMEM, "out of memory");
	b->s = s;
	rc = s->ops->payload_open(s, sync_id, part, &b->h, len);
	if (rc) {
		free(b);
		return rc;
	}
	*out = b;
	return STORE_OK;
}

int store_blob_read(struct store_blob *b, void *buf, size_t cap, size_t *got)
{
	*got = 0;
	return b->s->ops->blob_read(b->s, b->h, buf, cap, got);
}

void store_blob_close(struct store_blob *b)
{
	if (!b)
		return;
	b->s->ops->blob_close(b->s, b->h);
	free(b);
}

int store_sync_claim(struct store *s, const char *owner, int64_t now, int64_t lease_ms,
		     int64_t *sync_id, int64_t *org_id, int *attempts)
{
	int unused;

	if (!owner || !*owner || lease_ms <= 0 || !sync_id || !org_id)
		return STORE_EINVAL;
	return s->ops->sync_claim(s, owner, now, lease_ms, sync_id, org_id,
				  attempts ? attempts : &unused);
}

int store_sync_renew(struct store *s, int64_t sync_id, const char *owner, int64_t now,
		     int64_t lease_ms)
{
	if (!owner || !*owner || lease_ms <= 0)
		return STORE_EINVAL;
	return s->ops->sync_renew(s, sync_id, owner, now, lease_ms);
}

int store_sync_finish(struct store *s, int64_t sync_id, int status, const char *reason,
		      const char *counts_json, const char *risk_json, const struct report *rep)
{
	const struct sync_outcome done = { status, reason, counts_json, risk_json, rep, NULL, NULL };

	return store_sync_record(s, sync_id, &done);
}

int store_sync_record(struct store *s, int64_t sync_id, const struct sync_outcome *done)
{
	if (!done || !final_status(done->status))
		return store_set_error(s, STORE_EINVAL, "not a final status");
	if (done->plan && !done->plan->next)
		return store_set_error(s, STORE_EINVAL, "a plan needs its entries");
	return s->ops->sync_finish(s, sync_id, done);
}

int store_sync_plan(struct store *s, int64_t org_id, int64_t sync_id, int type, uint64_t from,
		    size_t limit, struct store_plan_page *out)
{
	if (!out)
		return STORE_EINVAL;
	memset(out, 0, sizeof(*out));
	if (type < -1 || type > 2)
		return store_set_error(s, STORE_EINVAL, "no plan entry type %d", type);
	return s->ops->sync_plan(s, org_id, sync_id, type, from, limit, out);
}

void store_plan_page_free(struct store_plan_page *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->count; i++) {
		free(p->rows[i].type);
		free(p->rows[i].action);
		free(p->rows[i].subject);
		free(p->rows[i].detail);
		free(p->rows[i].changes);
	}
	free(p->rows);
	p->rows = NULL;
	p->count = 0;
}

int store_sync_transition(struct store *s, int64_t org_id, int64_t sync_id, int from, int to,
			  const char *reason)
{
	if (from < 0 || from >= SYNC_STATUS_COUNT || to < 0 || to >= SYNC_STATUS_COUNT)
		return store_set_error(s, STORE_EINVAL, "unknown sync status");
	return s->ops->sync_transition(s, org_id, sync_id, from, to, reason);
}

int store_sync_decide(struct store *s, int64_t org_id, int64_t sync_id,
		      const struct sync_decision *d)
{
	if (!d || !d->actor || !*d->actor)
		return store_set_error(s, STORE_EINVAL, "a decision needs an actor");
	return s->ops->sync_decide(s, org_id, sync_id, d);
}

int store_sync_get(struct store *s, int64_t org_id, int64_t sync_id, struct sync_row *out)
{
	if (!out)
		return STORE_EINVAL;
	memset(out, 0, sizeof(*out));
	return s->ops->sync_get(s, org_id, sync_id, out);
}

int store_sync_by_number(struct store *s, int64_t org_id, int64_t number, struct sync_row *out)
{
	if (!out)
		return STORE_EINVAL;
	memset(out, 0, sizeof(*out));
	return s->ops->sync_by_number(s, org_id, number, out);
}

int store_sync_list(struct store *s, int64_t org_id, int64_t before, size_t limit,
		    struct sync_row **rows, size_t *n)
{
	if (!rows || !n)
		return STORE_EINVAL;
	*rows = NULL;
	*n = 0;
	if (limit == 0)
		return STORE_OK;
	return s->ops->sync_list(s, org_id, before, limit, rows, n);
}

int store_sync_count(struct store *s, int64_t org_id, size_t *n)
{
	if (!n)
		return STORE_EINVAL;
	*n = 0;
	return s->ops->sync_count(s, org_id, n);
}

int store_sync_report(struct store *s, int64_t org_id, int64_t sync_id, struct report *rep)
{
	if (!rep)
		return STORE_EINVAL;
	return s->ops->sync_report(s, org_id, sync_id, rep);
}

int store_invite(struct store *s, int64_t org_id, const char *external_id,
		 char token_out[STORE_TOKEN_MAX])
{
	uint8_t hash[STORE_HASH_LEN];
	int rc;

	if (!external_id || !token_out)
		return STORE_EINVAL;
	store_token_new(token_out, hash);
	rc = s->ops->invite(s, org_id, external_id, token_out, hash);
	if (rc)
		sodium_memzero(token_out, STORE_TOKEN_MAX);
	return rc;
}

int store_org_version(struct store *s, int64_t org_id, int64_t *version)
{
	if (!version)
		return STORE_EINVAL;
	return s->ops->org_version(s, org_id, version);
}

int store_autocheckpoint(struct store *s, bool on)
{
	return s->ops->autocheckpoint(s, on);
}

int store_checkpoint(struct store *s)
{
	return s->ops->checkpoint(s);
}

int store_outbox_add(struct store *s, int64_t org_id, const char *kind, const char *recipient,
		     const char *payload)
{
	if (!kind || !recipient || !payload)
		return STORE_EINVAL;
	return s->ops->outbox_add(s, org_id, kind, recipient, payload);
}

int store_invitation_accept(struct store *s, const char *token, int64_t *org_id,
			    int64_t *member_id)
{
	uint8_t hash[STORE_HASH_LEN];
	int64_t unused_org, unused_member;

	if (!token || strnlen(token, SECRET_LEN + 1) != SECRET_LEN ||
	    !is_base64url(token, SECRET_LEN))
		return STORE_ENOTFOUND;
	store_hash(token, SECRET_LEN, hash);
	return s->ops->invitation_accept(s, hash, org_id ? org_id : &unused_org,
					 member_id ? member_id : &unused_member);
}

int store_tx_begin(struct store *s)
{
	return s->ops->tx_begin(s);
}

int store_tx_end(struct store *s, int rc)
{
	return s->ops->tx_end(s, rc);
}

/* NULL, or one JSON text (any value, not only an object). */
static bool json_or_null(const char *text)
{
	json_t *v;

	if (!text)
		return true;
	v = json_loads(text, JSON_DECODE_ANY, NULL);
	json_decref(v);
	return v != NULL;
}

int store_audit_add(struct store *s, int64_t org_id, const char *actor, const char *action,
		    const char *target, const char *old_json, const char *new_json)
{
	if (!actor || !*actor || !action || !*action || !target)
		return store_set_error(s, STORE_EINVAL, "an audit entry needs an actor, an action "
				       "and a target");
	if (!json_or_null(old_json) || !json_or_null(new_json))
		return store_set_error(s, STORE_EINVAL, "audit values must be JSON");
	return s->ops->audit_add(s, org_id, actor, action, target, old_json, new_json);
}

int store_audit_list(struct store *s, int64_t org_id, const struct audit_filter *f,
		     struct audit_entry **rows, size_t *n)
{
	if (!f || !rows || !n)
		return STORE_EINVAL;
	*rows = NULL;
	*n = 0;
	if (f->limit == 0)
		return STORE_OK;
	return s->ops->audit_list(s, org_id, f, rows, n);
}

int store_audit_count(struct store *s, int64_t org_id, const struct audit_filter *f, size_t *n)
{
	if (!f || !n)
		return STORE_EINVAL;
	*n = 0;
	return s->ops->audit_count(s, org_id, f, n);
}

void store_audit_free(struct audit_entry *rows, size_t n)
{
	size_t i;

	if (!rows)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].actor);
		free(rows[i].action);
		free(rows[i].target);
		free(rows[i].old_json);
		free(rows[i].new_json);
	}
	free(rows);
}

/* --- delivery ---------------------------------------------------------------- */

int store_delivery_claim(struct store *s, enum delivery_channel ch, int64_t now, int64_t lease_ms,
			 size_t max, struct store_delivery **out, size_t *n)
{
	if (!out || !n || lease_ms <= 0)
		return STORE_EINVAL;
	*out = NULL;
	*n = 0;
	if (max == 0)
		return STORE_OK;
	return s->ops->delivery_claim(s, ch, now, lease_ms, max, out, n);
}

int store_delivery_record(struct store *s, const struct store_delivery_outcome *o, size_t n,
			  int64_t now)
{
	size_t i;

	if (!o && n)
		return STORE_EINVAL;
	for (i = 0; i < n; i++)
		if (o[i].status != DELIVERY_SENT && o[i].status != DELIVERY_RETRYING &&
		    o[i].status != DELIVERY_DEAD && o[i].status != DELIVERY_QUEUED)
			return store_set_error(s, STORE_EINVAL, "%d is not an outcome", o[i].status);
	return n ? s->ops->delivery_record(s, o, n, now) : STORE_OK;
}

int store_delivery_list(struct store *s, int64_t org_id, int64_t before_row, size_t limit,
			struct store_delivery **out, size_t *n)
{
	if (!out || !n)
		return STORE_EINVAL;
	*out = NULL;
	*n = 0;
	if (limit == 0)
		return STORE_OK;
	return s->ops->delivery_list(s, org_id, before_row, limit, out, n);
}

void store_deliveries_free(struct store_delivery *v, size_t n)
{
	store_rows_free(&store_rows_claimed, v, n);
}

int store_delivery_retry(struct store *s, int64_t org_id, const char *id, int64_t now)
{
	if (!id || strlen(id) >= STORE_DELIVERY_ID_MAX)
		return STORE_ENOTFOUND;
	return s->ops->delivery_retry(s, org_id, id, now);
}

int store_delivery_counts(struct store *s, uint64_t counts[3][DELIVERY_STATUS_COUNT])
{
	if (!counts)
		return STORE_EINVAL;
	memset(counts, 0, sizeof(uint64_t) * 3 * DELIVERY_STATUS_COUNT);
	return s->ops->delivery_counts(s, counts);
}

int store_delivery_next_due(struct store *s, enum delivery_channel ch, int64_t *when)
{
	if (!when)
		return STORE_EINVAL;
	return s->ops->delivery_next_due(s, ch, when);
}

/* --- SCIM -------------------------------------------------------------------- */

void store_uuid7(char out[STORE_SCIM_ID_MAX], int64_t ms)
{
	unsigned char r[10];

	randombytes_buf(r, sizeof(r));
	snprintf(out, STORE_SCIM_ID_MAX, "%08x-%04x-7%03x-%04x-%02x%02x%02x%02x%02x%02x",
		 (unsigned)((uint64_t)ms >> 16), (unsigned)(ms & 0xffff),
		 (unsigned)(((r[0] << 8) | r[1]) & 0xfff),
		 (unsigned)((((r[2] << 8) | r[3]) & 0x3fff) | 0x8000), r[4], r[5], r[6], r[7], r[8],
		 r[9]);
}

/* A SCIM id as a key: what store_uuid7 makes, or a shorter text (no id
 * is longer); anything longer cannot be one. */
static bool scim_id_ok(const char *id)
{
	return id && *id && strnlen(id, STORE_SCIM_ID_MAX) < STORE_SCIM_ID_MAX;
}

void store_scim_user_clear(struct store_scim_user *u)
{
	free(u->external_id);
	free(u->email);
	free(u->first_name);
	free(u->last_name);
	free(u->job_title);
	free(u->image_url);
	free(u->langs);
	free(u->attrs);
	memset(u, 0, sizeof(*u));
}

void store_scim_users_free(struct store_scim_user *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		store_scim_user_clear(&rows[i]);
	free(rows);
}

void store_scim_group_clear(struct store_scim_group *g)
{
	free(g->external_id);
	free(g->name);
	free(g->attrs);
	memset(g, 0, sizeof(*g));
}

void store_scim_groups_free(struct store_scim_group *rows, size_t n)
{
	size_t i;

	for (i = 0; rows && i < n; i++)
		store_scim_group_clear(&rows[i]);
	free(rows);
}

void store_scim_refs_free(struct store_scim_ref *refs, size_t n)
{
	size_t i;

	for (i = 0; refs && i < n; i++)
		free(refs[i].display);
	free(refs);
}

int store_scim_user_get(struct store *s, int64_t org_id, const char *key, bool by_name,
			struct store_scim_user *out)
{
	memset(out, 0, sizeof(*out));
	if (!key || (!by_name && !scim_id_ok(key)))
		return STORE_ENOTFOUND;
	return s->ops->scim_user_get(s, org_id, key, by_name, out);
}

int store_scim_users(struct store *s, int64_t org_id, struct store_scim_user **rows, size_t *n)
{
	*rows = NULL;
	*n = 0;
	return s->ops->scim_users(s, org_id, rows, n);
}

int store_scim_user_put(struct store *s, int64_t org_id, struct store_scim_user *u, bool create)
{
	if (!u->email || !*u->email)
		return store_set_error(s, STORE_EINVAL, "a member needs an email (userName)");
	if (!create && !scim_id_ok(u->id))
		return STORE_ENOTFOUND;
	return s->ops->scim_user_put(s, org_id, u, create);
}

int store_scim_user_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_id_ok(id) ? s->ops->scim_user_delete(s, org_id, id) : STORE_ENOTFOUND;
}

int store_scim_user_role(struct store *s, int64_t org_id, const char *id, bool admin)
{
	return scim_id_ok(id) ? s->ops->scim_user_role(s, org_id, id, admin) : STORE_ENOTFOUND;
}

int store_scim_admins(struct store *s, int64_t org_id, struct store_scim_ref **refs, size_t *n)
{
	*refs = NULL;
	*n = 0;
	return s->ops->scim_admins(s, org_id, refs, n);
}

int store_scim_group_get(struct store *s, int64_t org_id, const char *id,
			 struct store_scim_group *out)
{
	memset(out, 0, sizeof(*out));
	return scim_id_ok(id) ? s->ops->scim_group_get(s, org_id, id, out) : STORE_ENOTFOUND;
}

int store_scim_groups(struct store *s, int64_t org_id, struct store_scim_group **rows, size_t *n)
{
	*rows = NULL;
	*n = 0;
	return s->ops->scim_groups(s, org_id, rows, n);
}

int store_scim_group_members(struct store *s, int64_t org_id, const char *id,
			     struct store_scim_ref **refs, size_t *n)
{
	*refs = NULL;
	*n = 0;
	return scim_id_ok(id) ? s->ops->scim_group_members(s, org_id, id, refs, n)
			      : STORE_ENOTFOUND;
}

int store_scim_group_put(struct store *s, int64_t org_id, struct store_scim_group *g, bool create)
{
	if (!g->name || !*g->name)
		return store_set_error(s, STORE_EINVAL, "a team needs a name (displayName)");
	if (!create && !scim_id_ok(g->id))
		return STORE_ENOTFOUND;
	return s->ops->scim_group_put(s, org_id, g, create);
}

int store_scim_group_delete(struct store *s, int64_t org_id, const char *id)
{
	return scim_id_ok(id) ? s->ops->scim_group_delete(s, org_id, id) : STORE_ENOTFOUND;
}

int store_scim_group_link(struct store *s, int64_t org_id, const char *id, const char *ref,
			  bool add)
{
	if (!scim_id_ok(id) || !scim_id_ok(ref))
		return STORE_ENOTFOUND;
	return s->ops->scim_group_link(s, org_id, id, ref, add);
}

/* --- web sign-in and sessions ------------------------------------------------------ */

/* Hashes a presented token of the shape store_token_new makes; false for any other text. */
static bool token_hash(const char *token, uint8_t hash[STORE_HASH_LEN])
{
	if (!token || strnlen(token, SECRET_LEN + 1) != SECRET_LEN || !is_base64url(token, SECRET_LEN))
		return false;
	store_hash(token, SECRET_LEN, hash);
	return true;
}

int store_signin_request(struct store *s, const char *email, int64_t ttl_ms, store_signin_fn each,
			 void *ctx)
{
	char *key;
	size_t len;
	int rc;

	if (!email || !each || ttl_ms <= 0)
		return STORE_EINVAL;
	len = strlen(email);
	key = malloc(len + 1);
	if (!key)
		return STORE_ENOMEM;
	store_email_key(key, email, len);
	rc = s->ops->signin_request(s, key, ttl_ms, each, ctx);
	free(key);
	return rc;
}

int store_signin_redeem(struct store *s, const char *token, int64_t *org_id, char **email)
{
	uint8_t hash[STORE_HASH_LEN];

	if (!org_id || !email)
		return STORE_EINVAL;
	*email = NULL;
	if (!token_hash(token, hash))
		return STORE_ENOTFOUND;
	return s->ops->signin_redeem(s, hash, org_id, email);
}

int store_session_create(struct store *s, const struct store_session *sess, const char *key_id,
			 const char *admin_email, char token_out[STORE_TOKEN_MAX])
{
	uint8_t hash[STORE_HASH_LEN];
	char *email_key = NULL;
	int rc;

	if (!sess || !token_out || !sess->actor[0])
		return STORE_EINVAL;
	if (admin_email) {
		email_key = malloc(strlen(admin_email) + 1);
		if (!email_key)
			return STORE_ENOMEM;
		store_email_key(email_key, admin_email, strlen(admin_email));
	}
	store_token_new(token_out, hash);
	rc = s->ops->session_create(s, hash, sess, key_id, email_key);
	if (rc)
		sodium_memzero(token_out, STORE_TOKEN_MAX);
	free(email_key);
	return rc;
}

int store_session_get(struct store *s, const char *token, struct store_session *out)
{
	uint8_t hash[STORE_HASH_LEN];

	if (!out)
		return STORE_EINVAL;
	if (!token_hash(token, hash))
		return STORE_ENOTFOUND;
	return s->ops->session_get(s, hash, out);
}

int store_session_delete(struct store *s, const char *token)
{
	uint8_t hash[STORE_HASH_LEN];

	if (!token_hash(token, hash))
		return STORE_OK;
	return s->ops->session_delete(s, hash);
}
