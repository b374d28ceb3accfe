/*
 * cli: the orgsync command line. main.c dispatches argv[1] to one
 * cmd_<name>() per subcommand file; each returns the process exit code.
 * Only this folder prints to the terminal or calls exit().
 */
#ifndef ORGSYNC_CLI_H
#define ORGSYNC_CLI_H

/* Exit codes shared by every subcommand (SPEC §7). */
enum cli_exit {
	EXIT_OK = 0,
	EXIT_WARNING = 1,
	EXIT_INVALID = 2,
	EXIT_PAUSED = 3,
	EXIT_REJECTED = 4,
	EXIT_CONFIG = 5,
	EXIT_NETWORK = 6,
};

struct opt_cmd;

/*
 * Takes argv by cmd's option table (util/opt.h) into cfg. Returns -1 to go
 * on, the operands from argv[*first]; else the exit code: EXIT_OK once
 * the help is printed, usage_exit once the refusal is.
 */
int cli_options(const struct opt_cmd *cmd, int usage_exit, int argc, char **argv, void *cfg,
		int *first);

int cmd_validate(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_org(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_push(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_import(int argc, char **argv);

#endif
