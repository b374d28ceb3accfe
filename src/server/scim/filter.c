#include "server/scim/filter.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "server/scim/schema.h"

/* --- lexing ------------------------------------------------------------------ */

struct lexer {
	const char *text, *p;
	char *err;
	size_t errlen;
	int depth;
	int failed;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct lexer *lx, const char *fmt, ...)
{
	char what[160];
	va_list ap;

	if (lx->failed)
		return SCIM_FILTER_EINVAL;
	lx->failed = 1;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (lx->err && lx->errlen)
		snprintf(lx->err, lx->errlen, "%s at position %zu", what,
			 (size_t)(lx->p - lx->text) + 1);
	return SCIM_FILTER_EINVAL;
}

static void skip_space(struct lexer *lx)
{
	while (*lx->p == ' ' || *lx->p == '\t' || *lx->p == '\r' || *lx->p == '\n')
		lx->p++;
}

/* Characters of an attribute path: ATTRNAME, '.', and a URN's ':' (RFC 7644 §3.10). */
static bool path_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '$' || c == '.' || c == ':';
}

/* Whether the next word is kw (any case) followed by a space, '(' or the end. */
static bool next_word(struct lexer *lx, const char *kw)
{
	size_t n = strlen(kw);
	char c;

	if (strncasecmp(lx->p, kw, n) != 0)
		return false;
	c = lx->p[n];
	return c == '\0' || c == ' ' || c == '\t' || c == '(' || c == '[' || c == ')' || c == ']';
}

static void path_clear(struct scim_attr_path *p)
{
	free(p->schema);
	free(p->attr);
	free(p->sub);
	memset(p, 0, sizeof(*p));
}

static char *dup_n(const char *s, size_t n)
{
	char *d = malloc(n + 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/*
 * Splits "urn:...:User:name.givenName" into schema, attr and sub. The
 * schema is everything up to the last ':' of a name that starts "urn:"
 * (a URN's own dots, as in "2.0", stay in it).
 */
static int split_path(struct lexer *lx, const char *s, size_t n, struct scim_attr_path *out)
{
	const char *name = s, *dot, *end = s + n;
	size_t i;

	memset(out, 0, sizeof(*out));
	if (n >= 4 && !strncasecmp(s, "urn:", 4)) {
		for (i = n; i > 4 && s[i - 1] != ':'; i--)
			;
		out->schema = dup_n(s, i > 4 ? i - 1 : 3);
		if (!out->schema)
			return SCIM_FILTER_ENOMEM;
		name = s + i;
	}
	if (name == end)
		return fail(lx, "an attribute name is missing after the schema");
	dot = memchr(name, '.', (size_t)(end - name));
	out->attr = dup_n(name, dot ? (size_t)(dot - name) : (size_t)(end - name));
	if (dot && dot + 1 < end)
		out->sub = dup_n(dot + 1, (size_t)(end - dot - 1));
	if (!out->attr || (dot && dot + 1 < end && !out->sub))
		return SCIM_FILTER_ENOMEM;
	if (!*out->attr || (dot && (dot + 1 == end || memchr(dot + 1, '.', (size_t)(end - dot - 1)))))
		return fail(lx, "'%.*s' is not an attribute path", (int)n, s);
	if (!isalpha((unsigned char)out->attr[0]) && out->attr[0] != '$')
		return fail(lx, "'%.*s' is not an attribute name", (int)n, s);
	return SCIM_FILTER_OK;
}

/* Reads an attribute path at the cursor. */
static int read_path(struct lexer *lx, struct scim_attr_path *out)
{
	const char *start = lx->p;

	while (path_char(*lx->p))
		lx->p++;
	if (lx->p == start)
		return fail(lx, "an attribute name was expected");
	return split_path(lx, start, (size_t)(lx->p - start), out);
}

static const struct {
	const char *name;
	enum scim_op op;
} ops[] = {
	{ "eq", SCIM_OP_EQ }, { "ne", SCIM_OP_NE }, { "co", SCIM_OP_CO }, { "sw", SCIM_OP_SW },
	{ "ew", SCIM_OP_EW }, { "gt", SCIM_OP_GT }, { "ge", SCIM_OP_GE }, { "lt", SCIM_OP_LT },
	{ "le", SCIM_OP_LE }, { "pr", SCIM_OP_PR },
};

/*
 * A comparison value: a JSON string, number, true, false or null (any
 * case for the words, as some clients capitalise them), or, as
 * Microsoft's clients send them, a bare word up to the next space or
 * bracket, taken as a string.
 */
static int read_value(struct lexer *lx, json_t **out)
{
	const char *start = lx->p;
	json_error_t je;
	size_t n;

	if (*lx->p == '"') {
		const char *q = lx->p + 1;

		while (*q && *q != '"') {
			if (*q == '\\' && q[1])
				q++;
			q++;
		}
		if (*q != '"')
			return fail(lx, "a string value is not closed");
		*out = json_loadb(lx->p, (size_t)(q - lx->p) + 1, JSON_DECODE_ANY, &je);
		if (!*out)
			return fail(lx, "a string value is not valid (%s)", je.text);
		lx->p = q + 1;
		return SCIM_FILTER_OK;
	}
	while (*lx->p && *lx->p != ' ' && *lx->p != '\t' && *lx->p != ')' && *lx->p != ']')
		lx->p++;
	n = (size_t)(lx->p - start);
	if (!n)
		return fail(lx, "a value was expected");
	if (n == 4 && !strncasecmp(start, "true", 4))
		*out = json_true();
	else if (n == 5 && !strncasecmp(start, "false", 5))
		*out = json_false();
	else if (n == 4 && !strncasecmp(start, "null", 4))
		*out = json_null();
	else if (!(*out = json_loadb(start, n, JSON_DECODE_ANY, NULL)) || !json_is_number(*out)) {
		json_decref(*out);
		*out = json_stringn(start, n);
		if (!*out)
			return fail(lx, "a value is not UTF-8");
	}
	return SCIM_FILTER_OK;
}

static struct scim_filter *node(enum scim_op op)
{
	struct scim_filter *f = calloc(1, sizeof(*f));

	if (f)
		f->op = op;
	return f;
}

static int parse_or(struct lexer *lx, struct scim_filter **out);

/* attrPath "pr" | attrPath compareOp compValue | attrPath "[" valFilter "]" */
static int parse_attr_expr(struct lexer *lx, struct scim_filter **out)
{
	struct scim_filter *f = node(SCIM_OP_EQ);
	size_t i;
	int rc;

	if (!f)
		return SCIM_FILTER_ENOMEM;
	*out = f;
	rc = read_path(lx, &f->path);
	if (rc)
		return rc;
	if (*lx->p == '[') {
		lx->p++;
		f->op = SCIM_OP_VALUE_PATH;
		if (f->path.sub)
			return fail(lx, "a value filter follows an attribute, not a sub-attribute");
		if (++lx->depth > SCIM_FILTER_DEPTH)
			return fail(lx, "the filter nests deeper than %d", SCIM_FILTER_DEPTH);
		rc = parse_or(lx, &f->left);
		lx->depth--;
		if (rc)
			return rc;
		skip_space(lx);
		if (*lx->p != ']')
			return fail(lx, "']' was expected");
		lx->p++;
		return SCIM_FILTER_OK;
	}
	skip_space(lx);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (next_word(lx, ops[i].name))
			break;
	if (i == sizeof(ops) / sizeof(ops[0]))
		return fail(lx, "an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr) was expected");
	f->op = ops[i].op;
	lx->p += 2;
	if (f->op == SCIM_OP_PR)
		return SCIM_FILTER_OK;
	skip_space(lx);
	return read_value(lx, &f->value);
}

/* "not" "(" filter ")" | "(" filter ")" | attrExpr */
static int parse_unary(struct lexer *lx, struct scim_filter **out)
{
	bool negate = false;
	int rc;

	skip_space(lx);
	if (next_word(lx, "not")) {
		const char *after = lx->p + 3;

		while (*after == ' ' || *after == '\t')
			after++;
		if (*after == '(') {
			negate = true;
			lx->p = after;
		}
	}
	if (*lx->p != '(') {
		if (negate)
			return fail(lx, "'(' was expected after not");
		return parse_attr_expr(lx, out);
	}
	lx->p++;
	if (++lx->depth > SCIM_FILTER_DEPTH)
		return fail(lx, "the filter nests deeper than %d", SCIM_FILTER_DEPTH);
	if (negate) {
		*out = node(SCIM_OP_NOT);
		if (!*out)
			return SCIM_FILTER_ENOMEM;
		rc = parse_or(lx, &(*out)->left);
	} else {
		rc = parse_or(lx, out);
	}
	lx->depth--;
	if (rc)
		return rc;
	skip_space(lx);
	if (*lx->p != ')')
		return fail(lx, "')' was expected");
	lx->p++;
	return SCIM_FILTER_OK;
}

/* Both levels of binary operators: "and" binds tighter than "or" (RFC 7644 §3.4.2.2). */
static int parse_binary(struct lexer *lx, struct scim_filter **out, bool or)
{
	int rc = or ? parse_binary(lx, out, false) : parse_unary(lx, out);

	while (!rc) {
		struct scim_filter *f;

		skip_space(lx);
		if (!next_word(lx, or ? "or" : "and"))
			break;
		lx->p += or ? 2 : 3;
		f = node(or ? SCIM_OP_OR : SCIM_OP_AND);
		if (!f)
			return SCIM_FILTER_ENOMEM;
		f->left = *out;
		*out = f;
		rc = or ? parse_binary(lx, &f->right, false) : parse_unary(lx, &f->right);
	}
	return rc;
}

static int parse_or(struct lexer *lx, struct scim_filter **out)
{
	return parse_binary(lx, out, true);
}

int scim_filter_parse(const char *text, struct scim_filter **out, char *err, size_t errlen)
{
	struct lexer lx = { text, text, err, errlen, 0, 0 };
	int rc;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	rc = parse_or(&lx, out);
	if (!rc) {
		skip_space(&lx);
		if (*lx.p)
			rc = fail(&lx, "unexpected '%c'", *lx.p);
	}
	if (rc) {
		scim_filter_free(*out);
		*out = NULL;
		if (rc == SCIM_FILTER_ENOMEM && err && errlen)
			snprintf(err, errlen, "out of memory");
	}
	return rc;
}

void scim_filter_free(struct scim_filter *f)
{
	if (!f)
		return;
	path_clear(&f->path);
	json_decref(f->value);
	scim_filter_free(f->left);
	scim_filter_free(f->right);
	free(f);
}

int scim_path_parse(const char *text, struct scim_path *out, char *err, size_t errlen)
{
	struct lexer lx = { text, text, err, errlen, 0, 0 };
	int rc;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	skip_space(&lx);
	rc = read_path(&lx, &out->attr);
	if (!rc && *lx.p == '[') {
		lx.p++;
		if (out->attr.sub)
			rc = fail(&lx, "a value filter follows an attribute, not a sub-attribute");
		if (!rc)
			rc = parse_or(&lx, &out->filter);
		skip_space(&lx);
		if (!rc && *lx.p != ']')
			rc = fail(&lx, "']' was expected");
		if (!rc && *++lx.p == '.') {
			const char *start = ++lx.p;

			while (isalnum((unsigned char)*lx.p) || *lx.p == '_' || *lx.p == '-' ||
			       *lx.p == '$')
				lx.p++;
			out->sub = dup_n(start, (size_t)(lx.p - start));
			if (!out->sub)
				rc = SCIM_FILTER_ENOMEM;
			else if (!*out->sub)
				rc = fail(&lx, "a sub-attribute name was expected");
		}
	}
	if (!rc) {
		skip_space(&lx);
		if (*lx.p)
			rc = fail(&lx, "unexpected '%c'", *lx.p);
	}
	if (rc)
		scim_path_free(out);
	return rc;
}

void scim_path_free(struct scim_path *p)
{
	path_clear(&p->attr);
	scim_filter_free(p->filter);
	free(p->sub);
	memset(p, 0, sizeof(*p));
}

/* --- evaluation ----------------------------------------------------------------- */

json_t *scim_json_get(const json_t *obj, const char *name)
{
	const char *key = scim_json_key(obj, name);

	return key ? json_object_get(obj, key) : NULL;
}

const char *scim_json_key(const json_t *obj, const char *name)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj) || !name)
		return NULL;
	if (json_object_get(obj, name))
		return json_object_iter_key(json_object_iter_at((json_t *)obj, name));
	json_object_foreach((json_t *)obj, key, v)
		if (!strcasecmp(key, name))
			return key;
	return NULL;
}

/* The object holding the path's attribute: the resource, or its extension's object. */
static json_t *holder(const json_t *resource, const struct scim_attr_path *p)
{
	if (p->schema && scim_schema_is_extension(p->schema))
		return scim_json_get(resource, p->schema);
	return (json_t *)resource;
}

json_t *scim_attr_lookup(const json_t *resource, const struct scim_attr_path *p)
{
	json_t *v = scim_json_get(holder(resource, p), p->attr);

	if (!v && !p->schema) {
		/* An extension's attribute named without its URN ("department"). */
		const char *key;
		json_t *ext;

		json_object_foreach((json_t *)resource, key, ext)
			if (json_is_object(ext) && scim_schema_is_extension(key) &&
			    (v = scim_json_get(ext, p->attr)))
				break;
	}
	if (!v || !p->sub)
		return v;
	return json_is_object(v) ? scim_json_get(v, p->sub) : NULL;
}

/* Seconds since the epoch and nanoseconds of an RFC 3339 date-time; false if not one. */
/* Exactly n decimal digits at s, as a number in *out. */
static bool digits(const char *s, int n, int *out)
{
	int i;

	*out = 0;
	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		*out = *out * 10 + (s[i] - '0');
	}
	return true;
}

static bool parse_time(const char *s, int64_t *secs, long *nanos)
{
	struct tm tm = { 0 };
	int y, mo, d, h, mi, sec, off = 0;
	long frac = 0, scale = 100000000;
	const char *p;

	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
	    !digits(s + 17, 2, &sec))
		return false;
	p = s + 19;
	if (*p == '.') {
		for (p++; isdigit((unsigned char)*p); p++, scale /= 10)
			frac += scale ? (*p - '0') * scale : 0;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;

		if (strlen(p) != 6 || !digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om))
			return false;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		return false;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*secs = (int64_t)timegm(&tm) - off;
	*nanos = frac;
	return true;
}

bool scim_time_compare(const char *a, const char *b, int *cmp)
{
	int64_t sa, sb;
	long na, nb;

	if (!parse_time(a, &sa, &na) || !parse_time(b, &sb, &nb))
		return false;
	*cmp = sa != sb ? (sa < sb ? -1 : 1) : na != nb ? (na < nb ? -1 : 1) : 0;
	return true;
}

/* strstr, strncmp and strcmp, with or without ASCII case. */
static bool str_op(enum scim_op op, const char *a, const char *b, bool exact, int *order)
{
	size_t la = strlen(a), lb = strlen(b);

	switch (op) {
	case SCIM_OP_CO:
		return exact ? strstr(a, b) != NULL : strcasestr(a, b) != NULL;
	case SCIM_OP_SW:
		return la >= lb && (exact ? strncmp(a, b, lb) : strncasecmp(a, b, lb)) == 0;
	case SCIM_OP_EW:
		return la >= lb && (exact ? strcmp(a + la - lb, b) : strcasecmp(a + la - lb, b)) == 0;
	default:
		*order = exact ? strcmp(a, b) : strcasecmp(a, b);
		return true;
	}
}

/* Whether an ordering answers the operator. */
static bool ordered(enum scim_op op, int c)
{
	switch (op) {
	case SCIM_OP_EQ:
		return c == 0;
	case SCIM_OP_NE:
		return c != 0;
	case SCIM_OP_GT:
		return c > 0;
	case SCIM_OP_GE:
		return c >= 0;
	case SCIM_OP_LT:
		return c < 0;
	case SCIM_OP_LE:
		return c <= 0;
	default:
		return false;
	}
}

/* One attribute value against the filter's operator and value. */
static bool compare(const struct scim_filter *f, const json_t *v, unsigned flags)
{
	const json_t *want = f->value;
	int c = 0;

	if (json_is_null(want))
		return f->op == SCIM_OP_EQ ? json_is_null(v) : f->op == SCIM_OP_NE && !json_is_null(v);
	if (json_is_boolean(v)) {
		/* "True" as a string names the boolean too (Microsoft's clients send it). */
		bool b = json_is_true(v), w;

		if (json_is_boolean(want))
			w = json_is_true(want);
		else if (json_is_string(want) && !strcasecmp(json_string_value(want), "true"))
			w = true;
		else if (json_is_string(want) && !strcasecmp(json_string_value(want), "false"))
			w = false;
		else
			return false;
		return f->op == SCIM_OP_EQ ? b == w : f->op == SCIM_OP_NE && b != w;
	}
	if (json_is_number(v) && json_is_number(want)) {
		double a = json_number_value(v), b = json_number_value(want);

		c = a < b ? -1 : a > b;
		return ordered(f->op, c);
	}
	if (json_is_string(v)) {
		char num[64];
		const char *a = json_string_value(v), *b = json_string_value(want);

		if (!b && json_is_number(want)) {
			/* A bare number compared with a string attribute: its text. */
			if (json_is_integer(want))
				snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(want));
			else
				snprintf(num, sizeof(num), "%.17g", json_real_value(want));
			b = num;
		}
		if (!b)
			return false;
		if ((flags & SCIM_ATTR_DATETIME) && f->op != SCIM_OP_CO && f->op != SCIM_OP_SW &&
		    f->op != SCIM_OP_EW && scim_time_compare(a, b, &c))
			return ordered(f->op, c);
		if (!str_op(f->op, a, b, flags & SCIM_ATTR_CASE_EXACT, &c))
			return false;
		return f->op == SCIM_OP_CO || f->op == SCIM_OP_SW || f->op == SCIM_OP_EW ||
		       ordered(f->op, c);
	}
	return false;
}

/* Whether a value is there in the sense of "pr": not null, not "", not [] nor {}. */
static bool present(const json_t *v)
{
	if (!v || json_is_null(v))
		return false;
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	if (json_is_object(v))
		return json_object_size(v) > 0;
	return true;
}

/* A comparison or pr, over every value of a multi-valued attribute. */
static bool match_attr(const struct scim_filter *f, const json_t *resource)
{
	const struct scim_attr_path *p = &f->path;
	unsigned flags = scim_schema_flags(p->schema, p->attr, p->sub);
	json_t *v = scim_attr_lookup(resource, &(struct scim_attr_path){ p->schema, p->attr, NULL });
	json_t *e;
	size_t i;

	if (!json_is_array(v)) {
		if (p->sub)
			v = json_is_object(v) ? scim_json_get(v, p->sub) : NULL;
		if (f->op == SCIM_OP_PR)
			return present(v);
		if (!v)
			return f->op == SCIM_OP_NE && !json_is_null(f->value);
		return compare(f, v, flags);
	}
	/* Multi-valued: the sub-attribute of each value, "value" when none is named. */
	if (f->op == SCIM_OP_PR && !p->sub)
		return present(v);
	json_array_foreach(v, i, e) {
		json_t *x = json_is_object(e) ? scim_json_get(e, p->sub ? p->sub : "value") : e;

		if (f->op == SCIM_OP_PR ? present(x) : x && compare(f, x, flags))
			return true;
	}
	return false;
}

bool scim_filter_match(const struct scim_filter *f, const json_t *resource)
{
	json_t *v, *e;
	size_t i;

	switch (f->op) {
	case SCIM_OP_AND:
		return scim_filter_match(f->left, resource) && scim_filter_match(f->right, resource);
	case SCIM_OP_OR:
		return scim_filter_match(f->left, resource) || scim_filter_match(f->right, resource);
	case SCIM_OP_NOT:
		return !scim_filter_match(f->left, resource);
	case SCIM_OP_VALUE_PATH:
		v = scim_attr_lookup(resource, &f->path);
		if (json_is_object(v))
			return scim_filter_match(f->left, v);
		json_array_foreach(v, i, e)
			if (json_is_object(e) && scim_filter_match(f->left, e))
				return true;
		return false;
	default:
		return match_attr(f, resource);
	}
}
