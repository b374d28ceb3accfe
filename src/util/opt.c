#include "util/opt.h"

#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/num.h"

/* getopt_long's value of option i of a table (above every short name). */
#define LONG_VAL(i) (0x100 + (int)(i))

enum { HELP_COLUMN = 24, HELP_WIDTH = 80 };

static bool is_option(const struct opt *o)
{
	return o->type != OPT_SECTION;
}

static bool takes_value(const struct opt *o)
{
	return o->type != OPT_FLAG;
}

static bool at_end(const struct opt *o)
{
	return !o->name && o->type != OPT_SECTION;
}

static size_t count(const struct opt *opts)
{
	size_t n = 0;

	while (!at_end(&opts[n]))
		n++;
	return n;
}

/* Writes a number into its field, in the field's type. */
static void store_number(const struct opt *o, void *field, uint64_t v)
{
	switch (o->type) {
	case OPT_UINT: *(unsigned *)field = (unsigned)v; break;
	case OPT_LONG: *(long *)field = (long)v; break;
	case OPT_SIZE: *(size_t *)field = (size_t)v; break;
	/* memcpy: the field may be an unsigned long long, uint64_t's twin under another name. */
	case OPT_U64: memcpy(field, &v, sizeof(v)); break;
	case OPT_I64: *(int64_t *)field = (int64_t)v; break;
	case OPT_DOUBLE: *(double *)field = (double)v; break;
	default: break;
	}
}

static bool is_number(const struct opt *o)
{
	return o->type >= OPT_UINT && o->type <= OPT_DOUBLE;
}

/* The largest value a number's field holds (a double, every whole number up to 2^53 exactly). */
static uint64_t field_max(const struct opt *o)
{
	switch (o->type) {
	case OPT_UINT: return UINT_MAX;
	case OPT_LONG: return LONG_MAX;
	case OPT_SIZE: return SIZE_MAX;
	case OPT_I64: return INT64_MAX;
	case OPT_DOUBLE: return UINT64_C(1) << 53;
	default: return UINT64_MAX;
	}
}

/*
 * The defaults, each checked against its own range, and each range against
 * its field: a table that breaks either is refused, by every run of the
 * command and so by its tests.
 */
static int set_defaults(const struct opt *opts, void *cfg, char *err, size_t errlen)
{
	const struct opt *o;
	char *field;

	for (o = opts; !at_end(o); o++) {
		field = (char *)cfg + o->offset;
		if (!is_option(o) || (o->flags & OPT_NO_DEFAULT))
			continue;
		if (is_number(o) && o->max > field_max(o)) {
			snprintf(err, errlen, "--%s: the maximum %" PRIu64 " does not fit the field",
				 o->name, o->max);
			return OPT_EUSAGE;
		}
		if (is_number(o) && (o->def < o->min || o->def > o->max)) {
			snprintf(err, errlen, "--%s: the default %" PRIu64 " is outside %" PRIu64
				 " to %" PRIu64, o->name, o->def, o->min, o->max);
			return OPT_EUSAGE;
		}
		if (is_number(o))
			store_number(o, field, o->def);
		else if (o->type == OPT_STRING)
			*(const char **)field = o->sdef;
		else if (o->type == OPT_ENUM)
			*(int *)field = (int)o->def;
		else if (o->type == OPT_FLAG)
			*(bool *)field = false;
	}
	return OPT_OK;
}

/* "text or json", "a, b or c": an enum's values for a refusal. */
static void list_values(const struct opt *o, char *out, size_t len)
{
	size_t n = 0, i, used = 0;

	while (o->values[n])
		n++;
	out[0] = '\0';
	for (i = 0; i < n && used < len; i++)
		used += (size_t)snprintf(out + used, len - used, "%s%s",
					 i == 0 ? "" : i + 1 == n ? " or " : ", ", o->values[i]);
}

/* Takes the argument of option o into cfg. */
static int take(const struct opt *o, const char *arg, void *cfg, char *err, size_t errlen)
{
	char *field = (char *)cfg + o->offset, why[96], values[128];
	uint64_t v = 0;
	int rc, i;

	switch (o->type) {
	case OPT_FLAG:
		*(bool *)field = true;
		return OPT_OK;
	case OPT_STRING:
		*(const char **)field = arg;
		return OPT_OK;
	case OPT_ENUM:
		for (i = 0; o->values[i]; i++)
			if (!strcmp(o->values[i], arg)) {
				*(int *)field = i;
				return OPT_OK;
			}
		list_values(o, values, sizeof(values));
		snprintf(err, errlen, "--%s wants %s, not '%.40s'", o->name, values, arg);
		return OPT_EUSAGE;
	case OPT_FUNC:
		if (o->fn(field, arg, why, sizeof(why)) == 0)
			return OPT_OK;
		snprintf(err, errlen, "--%s: %s", o->name, why);
		return OPT_EUSAGE;
	default:
		break;
	}
	rc = num_u64(arg, o->min, o->max, &v);
	if (rc != NUM_OK) {
		num_explain_u64(rc, arg, o->min, o->max, why, sizeof(why));
		snprintf(err, errlen, "--%s wants a whole number from %" PRIu64 " to %" PRIu64
			 ", not '%.40s': %s", o->name, o->min, o->max, arg, why);
		return OPT_EUSAGE;
	}
	store_number(o, field, v);
	return OPT_OK;
}

/* The option getopt_long answered c for, or NULL (-h, or not one of ours). */
static const struct opt *option_of(const struct opt *opts, size_t n, int c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (is_option(&opts[i]) && (c == LONG_VAL(i) || (opts[i].short_name &&
								 c == opts[i].short_name)))
			return &opts[i];
	return NULL;
}

/* The long names and the short ones ("h" and "o:"...), getopt_long's way. */
static int make_tables(const struct opt *opts, size_t n, struct option **longs, char **shorts)
{
	size_t i, l = 0, s = 0;

	*longs = calloc(n + 2, sizeof(**longs));
	*shorts = calloc(2 * n + 3, 1);
	if (!*longs || !*shorts)
		return OPT_ENOMEM;
	/* A leading ':' tells a missing value (':') from an unknown option ('?'). */
	(*shorts)[s++] = ':';
	(*shorts)[s++] = 'h';
	for (i = 0; i < n; i++) {
		if (!is_option(&opts[i]))
			continue;
		(*longs)[l].name = opts[i].name;
		(*longs)[l].has_arg = takes_value(&opts[i]) ? required_argument : no_argument;
		(*longs)[l++].val = LONG_VAL(i);
		if (opts[i].short_name) {
			(*shorts)[s++] = opts[i].short_name;
			if (takes_value(&opts[i]))
				(*shorts)[s++] = ':';
		}
	}
	(*longs)[l].name = "help";
	(*longs)[l].val = 'h';
	return OPT_OK;
}

/* How many long names start with the len bytes of name. */
static size_t prefixes(const struct opt *opts, size_t n, const char *name, size_t len)
{
	size_t i, found = 0;

	for (i = 0; i < n; i++)
		if (is_option(&opts[i]) && !strncmp(opts[i].name, name, len))
			found++;
	return found;
}

/* What getopt_long could not take, as a refusal naming it. */
static void refusal(const struct opt *opts, size_t n, int c, const char *arg, char *err,
		    size_t errlen)
{
	const struct opt *o = option_of(opts, n, optopt);
	int len = (int)strcspn(arg, "=");

	if (c == ':' && o)
		snprintf(err, errlen, "--%s needs a value (%s)", o->name,
			 o->metavar ? o->metavar : is_number(o) ? "a whole number" : "a value");
	else if (o && !takes_value(o))
		snprintf(err, errlen, "--%s takes no value: '%.60s'", o->name, arg);
	else if (optopt && optopt < 0x100)
		snprintf(err, errlen, "unknown option '-%c'", optopt);
	else if (!strncmp(arg, "--", 2) && prefixes(opts, n, arg + 2, (size_t)len - 2) > 1)
		snprintf(err, errlen, "'%.*s' is the start of several options: spell it out",
			 len > 60 ? 60 : len, arg);
	else
		snprintf(err, errlen, "unknown option '%.*s'", len > 60 ? 60 : len, arg);
}

int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *cfg, int *first,
	      char *err, size_t errlen)
{
	size_t n = count(cmd->opts);
	struct option *longs = NULL;
	char *shorts = NULL;
	bool *given = calloc(n + 1, sizeof(*given));
	const struct opt *o;
	int c, rc;

	err[0] = '\0';
	rc = given ? make_tables(cmd->opts, n, &longs, &shorts) : OPT_ENOMEM;
	if (rc == OPT_OK)
		rc = set_defaults(cmd->opts, cfg, err, errlen);
	if (rc != OPT_OK)
		goto out;
	/* 0, not 1: getopt_long forgets where it stood in an earlier argv. */
	optind = 0;
	opterr = 0;
	while (rc == OPT_OK && (c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		o = option_of(cmd->opts, n, c);
		if (c == 'h' && !o) {
			rc = OPT_HELP;
		} else if (!o) {
			refusal(cmd->opts, n, c, argv[optind - 1], err, errlen);
			rc = OPT_EUSAGE;
		} else if (given[o - cmd->opts] && takes_value(o)) {
			snprintf(err, errlen, "--%s is given twice: give it once", o->name);
			rc = OPT_EUSAGE;
		} else {
			given[o - cmd->opts] = true;
			rc = take(o, optarg, cfg, err, errlen);
		}
	}
	if (rc == OPT_OK && !cmd->operands && optind < argc) {
		snprintf(err, errlen, "unexpected argument '%.60s'", argv[optind]);
		rc = OPT_EUSAGE;
	}
	*first = optind;
out:
	if (rc == OPT_ENOMEM)
		snprintf(err, errlen, "out of memory");
	free(shorts);
	free(longs);
	free(given);
	return rc;
}

/* Appends text from column col on, wrapped at HELP_WIDTH, continued at HELP_COLUMN. */
static int wrap(struct buf *out, size_t col, const char *text)
{
	size_t word;
	int rc = 0;

	while (*text && rc == 0) {
		word = strcspn(text, " ");
		if (col > HELP_COLUMN && col + 1 + word > HELP_WIDTH) {
			rc = buf_printf(out, "\n%*s", HELP_COLUMN, "");
			col = HELP_COLUMN;
		} else if (col > HELP_COLUMN) {
			rc = buf_putc(out, ' ');
			col++;
		}
		if (rc == 0)
			rc = buf_append(out, text, word);
		col += word;
		text += word;
		text += strspn(text, " ");
	}
	return rc;
}

/* The default of o as the help shows it, into out ("" when none). */
static void default_text(const struct opt *o, char *out, size_t len)
{
	out[0] = '\0';
	if (o->flags & OPT_NO_DEFAULT)
		return;
	/* A size in whole MiB is shown in MiB too: 268435456 = 256 MiB. */
	if (o->type == OPT_SIZE && o->def >= 1 << 20 && o->def % (1 << 20) == 0)
		snprintf(out, len, "%" PRIu64 " = %" PRIu64 " MiB", o->def, o->def >> 20);
	else if (is_number(o))
		snprintf(out, len, "%" PRIu64, o->def);
	else if (o->type == OPT_ENUM)
		snprintf(out, len, "%s", o->values[o->def]);
	else if (o->type == OPT_STRING && o->sdef)
		snprintf(out, len, "%s", o->sdef);
}

/* "  -o, --output OUT" then the help from HELP_COLUMN (on the next line if the names reach it). */
static int help_line(struct buf *out, const struct opt *o)
{
	char def[96], meta[128], names[192];
	size_t i, used = 0;
	struct buf text;
	int rc;

	meta[0] = '\0';
	if (o->metavar) {
		snprintf(meta, sizeof(meta), " %s", o->metavar);
	} else if (o->type == OPT_ENUM) {
		for (i = 0; o->values[i] && used < sizeof(meta); i++)
			used += (size_t)snprintf(meta + used, sizeof(meta) - used, "%s%s",
						 i ? "|" : " ", o->values[i]);
	} else if (is_number(o)) {
		snprintf(meta, sizeof(meta), " N");
	}
	if (o->short_name)
		snprintf(names, sizeof(names), "  -%c, --%s%s", o->short_name, o->name, meta);
	else
		snprintf(names, sizeof(names), "  --%s%s", o->name, meta);
	rc = strlen(names) + 2 > HELP_COLUMN
		     ? buf_printf(out, "%s\n%*s", names, HELP_COLUMN, "")
		     : buf_printf(out, "%-*s", HELP_COLUMN, names);
	default_text(o, def, sizeof(def));
	buf_init(&text);
	if (rc == 0)
		rc = *def ? buf_printf(&text, "%s (default %s)", o->help, def)
			  : buf_puts(&text, o->help);
	if (rc == 0)
		rc = wrap(out, HELP_COLUMN, text.data);
	if (rc == 0)
		rc = buf_putc(out, '\n');
	buf_free(&text);
	return rc;
}

int opt_help(const struct opt_cmd *cmd, struct buf *out)
{
	const struct opt *o;
	bool apart = true; /* a blank line is owed before the next option */
	int rc = buf_puts(out, cmd->usage);

	if (rc == 0 && cmd->intro)
		rc = buf_printf(out, "\n%s", cmd->intro);
	for (o = cmd->opts; rc == 0 && !at_end(o); o++) {
		if (o->type == OPT_SECTION) {
			rc = buf_printf(out, "\n%s\n", o->help);
			apart = false;
		} else if (!(o->flags & OPT_HIDDEN)) {
			rc = apart ? buf_putc(out, '\n') : 0;
			apart = false;
			if (rc == 0)
				rc = help_line(out, o);
		}
	}
	if (rc == 0 && cmd->outro)
		rc = buf_printf(out, "\n%s", cmd->outro);
	return rc;
}
