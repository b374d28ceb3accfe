/* The option layer (util/opt.h) on the terminal: help on stdout, refusals on stderr. */
#include <stdio.h>

#include "cli/cli.h"
#include "util/buf.h"
#include "util/opt.h"

int cli_options(const struct opt_cmd *cmd, int usage_exit, int argc, char **argv, void *cfg,
		int *first)
{
	char err[256];
	struct buf help;
	int rc = opt_parse(cmd, argc, argv, cfg, first, err, sizeof(err));

	if (rc == OPT_OK)
		return -1;
	if (rc != OPT_HELP) {
		fprintf(stderr, "orgsync %s: %s\n%ssee 'orgsync %s --help'\n", cmd->name, err,
			cmd->usage, cmd->name);
		return usage_exit;
	}
	buf_init(&help);
	rc = opt_help(cmd, &help);
	if (rc == 0)
		fputs(help.data, stdout);
	else
		fprintf(stderr, "orgsync %s: out of memory\n", cmd->name);
	buf_free(&help);
	return rc == 0 ? EXIT_OK : usage_exit;
}
