/*
 * opt: command-line options as data. A command describes each option once
 * (struct opt: its names, type, the field of the command's config struct
 * it fills, range, default, help); from that one table come the
 * getopt_long tables, the defaults, the refusals (an unknown option, a
 * missing or repeated value, a number out of range or not in decimal
 * digits, an unexpected argument: each naming the option) and the --help
 * text. It prints nothing: refusals and help come back as text, for
 * src/cli to print.
 */
#ifndef ORGSYNC_OPT_H
#define ORGSYNC_OPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum opt_type {
	OPT_FLAG,    /* bool, set to true; may be repeated */
	OPT_STRING,  /* const char *, the argument itself (argv's, not copied) */
	OPT_ENUM,    /* int, the index of the argument in values */
	OPT_UINT,    /* unsigned */
	OPT_LONG,    /* long */
	OPT_SIZE,    /* size_t */
	OPT_U64,     /* uint64_t (or unsigned long long: the same 64 bits) */
	OPT_I64,     /* int64_t */
	OPT_DOUBLE,  /* double, given as a whole number */
	OPT_FUNC,    /* whatever fn makes of the argument */
	OPT_SECTION, /* not an option: a heading of the help (help is its text) */
};

/* Flags of an option. */
enum {
	OPT_HIDDEN = 1,     /* left out of the help (test-only settings) */
	OPT_NO_DEFAULT = 2, /* not given, the field keeps what the caller put there */
};

/*
 * One option. Numbers are whole, in [min, max] (the ranges are all of
 * unsigned values: an option that takes a negative number has yet to be
 * needed); def is the value of a number when the option is absent, and
 * of an enum the index. A string's default is sdef.
 */
struct opt {
	const char *name;  /* long name, without "--"; NULL ends a table (but for a section) */
	char short_name;   /* 'o' for -o, or 0 */
	enum opt_type type;
	unsigned flags;
	size_t offset;     /* of the field in the config struct */
	uint64_t min, max;
	uint64_t def;
	const char *sdef;
	const char *const *values; /* OPT_ENUM: NULL-terminated */
	/* OPT_FUNC: takes the argument into field; 0, or -1 with why in err. */
	int (*fn)(void *field, const char *arg, char *err, size_t errlen);
	const char *metavar; /* in the help: "FILE"; numbers default to N, enums to a|b */
	const char *help;    /* one paragraph, wrapped by opt_help; the default is appended */
};

/* A command: its help around the table. */
struct opt_cmd {
	const char *name;      /* "serve", for "orgsync serve --help" */
	const char *usage;     /* "usage: ..." lines, each ending in \n */
	const char *intro;     /* paragraphs after the usage; may be NULL */
	const struct opt *opts; /* the table, ended by an entry whose name is NULL */
	const char *outro;     /* after the options (exit codes); may be NULL */
	bool operands;         /* takes arguments that are not options */
};

enum opt_status {
	OPT_OK = 0,
	OPT_HELP = 1,     /* -h or --help was given: nothing else was checked */
	OPT_EUSAGE = -1,  /* refused: why in err */
	OPT_ENOMEM = -2,
};

/*
 * Sets the defaults into cfg, then takes argv[1..argc) by the table
 * (getopt_long's rules: options and operands in any order, "--" ends the
 * options, an unambiguous prefix of a long name is that option). *first
 * gets the index of the first operand (argv is permuted so that operands
 * come last). A string option points into argv.
 */
int opt_parse(const struct opt_cmd *cmd, int argc, char **argv, void *cfg, int *first,
	      char *err, size_t errlen);

/* Appends the command's help to out: usage, intro, options by section, outro. 0 or -1. */
int opt_help(const struct opt_cmd *cmd, struct buf *out);

#endif
