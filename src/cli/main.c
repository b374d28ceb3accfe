/* orgsync: git-style dispatch of the subcommands. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "util/keyhash.h"
#include "util/os.h"

#ifndef ORGSYNC_VERSION
#define ORGSYNC_VERSION "0.1.0"
#endif

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary; /* NULL: hidden from help */
};

static const struct command commands[] = {
	{ "validate", cmd_validate, "check an org's files locally, with line-numbered errors" },
	{ "convert", cmd_convert, "turn any accepted input (legacy or current) into the current format" },
	{ "push", cmd_push, "send the org to the service as a sync (--wait for its result)" },
	{ "plan", cmd_plan, "a dry run against the service, shown as a diff of the org" },
#ifndef ORGSYNC_CLIENT_ONLY
	{ "serve", cmd_serve, "run the provisioning service (HTTP API on a database)" },
	{ "import", cmd_import, "run a sync from local files on the service's database" },
	{ "org", cmd_org, "create an organization (and its first API key), list them" },
	{ "key", cmd_key, "rotate an organization's API key" },
	{ "admin", cmd_admin, "add, remove and list an organization's Administrators" },
	{ "gen", cmd_gen, NULL },
#endif
};

static void usage(FILE *out)
{
	size_t i;

	fputs("usage: orgsync <command> [options]\n\n"
	      "orgsync keeps an organization's members, teams and managers in step with its HRIS.\n\n"
	      "Commands:\n", out);
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fputs("  help       this help; 'orgsync help <command>' or 'orgsync <command> --help'\n"
	      "  version    print the version\n\n"
	      "Exit codes: 0 success, 1 warnings, 2 invalid input, 3 paused, 4 rejected or failed,\n"
	      "5 authentication or configuration, 6 network.\n", out);
}

static const struct command *find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (os_init(&argc, &argv) != 0) {
		fputs("orgsync: cannot read the command line\n", stderr);
		return EXIT_INVALID;
	}
	/* Before any thread or table: every hash table of the run uses this key. */
	keyhash_init();
	if (argc < 2) {
		usage(stderr);
		return EXIT_INVALID;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		if (argc > 2 && (c = find(argv[2])) != NULL) {
			char *help_argv[] = { argv[2], "--help", NULL };

			return c->run(2, help_argv);
		}
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("orgsync %s\n", ORGSYNC_VERSION);
		return EXIT_OK;
	}
	c = find(argv[1]);
	if (!c) {
		fprintf(stderr, "orgsync: '%s' is not a command; see 'orgsync help'\n", argv[1]);
		return EXIT_INVALID;
	}
	return c->run(argc - 1, argv + 1);
}
