/* orgsync org / key / admin: tenant administration on the database, without HTTP. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

static int open_db(const char *url, struct store **st)
{
	char err[256];

	if (!url) {
		fputs("orgsync: say which database: --db sqlite:PATH\n", stderr);
		return -1;
	}
	if (store_open(url, st, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "orgsync: cannot open the database: %s\n", err);
		return -1;
	}
	return 0;
}

/* Parses --db and --org; leaves the positional arguments from optind. */
static int parse(int argc, char **argv, const char *help, const char **db, int64_t *org)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "org", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'd') {
			*db = optarg;
		} else if (c == 'o') {
			*org = strtoll(optarg, &end, 10);
			if (*end || *org <= 0) {
				fprintf(stderr, "orgsync: --org takes an organization id\n");
				return EXIT_CONFIG;
			}
		} else if (c == 'h') {
			fputs(help, stdout);
			return EXIT_OK;
		} else {
			fputs(help, stderr);
			return EXIT_CONFIG;
		}
	}
	return -1;
}

static int need_org(struct store *st, int64_t org)
{
	if (!org) {
		fputs("orgsync: say which organization: --org ID\n", stderr);
		return -1;
	}
	if (store_org_get(st, org, NULL) != STORE_OK) {
		fprintf(stderr, "orgsync: there is no organization %" PRId64 "\n", org);
		return -1;
	}
	return 0;
}

int cmd_org(int argc, char **argv)
{
	static const char help[] =
		"usage: orgsync org create NAME --db sqlite:PATH\n\n"
		"Creates an organization and prints its id and first API key. The key is shown\n"
		"this once and stored only as a hash: keep it now.\n";
	const char *db = NULL;
	int64_t org = 0;
	struct store *st = NULL;
	char key[STORE_KEY_MAX];
	int rc = parse(argc, argv, help, &db, &org);

	if (rc != -1)
		return rc;
	if (optind + 2 != argc || strcmp(argv[optind], "create") != 0 || !*argv[optind + 1]) {
		fputs(help, stderr);
		return EXIT_CONFIG;
	}
	if (open_db(db, &st) < 0)
		return EXIT_CONFIG;
	rc = store_org_create(st, argv[optind + 1], &org, key);
	if (rc == STORE_OK)
		printf("organization %" PRId64 " created: %s\napi key (shown once): %s\n", org,
		       argv[optind + 1], key);
	else
		fprintf(stderr, "orgsync org create: %s\n", store_error(st));
	store_close(st);
	return rc == STORE_OK ? EXIT_OK : EXIT_CONFIG;
}

int cmd_key(int argc, char **argv)
{
	static const char help[] =
		"usage: orgsync key rotate --org ID --db sqlite:PATH\n\n"
		"Replaces the organization's API keys by a new one, printed once. The old keys\n"
		"stop working at once.\n";
	const char *db = NULL;
	int64_t org = 0;
	struct store *st = NULL;
	char key[STORE_KEY_MAX];
	int rc = parse(argc, argv, help, &db, &org);

	if (rc != -1)
		return rc;
	if (optind + 1 != argc || strcmp(argv[optind], "rotate") != 0) {
		fputs(help, stderr);
		return EXIT_CONFIG;
	}
	if (open_db(db, &st) < 0)
		return EXIT_CONFIG;
	rc = need_org(st, org) < 0 ? -1 : store_key_rotate(st, org, key);
	if (rc == STORE_OK)
		printf("api key (shown once): %s\n", key);
	else if (rc != -1)
		fprintf(stderr, "orgsync key rotate: %s\n", store_error(st));
	store_close(st);
	return rc == STORE_OK ? EXIT_OK : EXIT_CONFIG;
}

int cmd_admin(int argc, char **argv)
{
	static const char help[] =
		"usage: orgsync admin add EMAIL --org ID --db sqlite:PATH\n\n"
		"Makes EMAIL an Administrator of the organization (creating the member if\n"
		"needed). Administrators are managed here, never by syncs.\n";
	const char *db = NULL;
	int64_t org = 0;
	struct store *st = NULL;
	int rc = parse(argc, argv, help, &db, &org);

	if (rc != -1)
		return rc;
	if (optind + 2 != argc || strcmp(argv[optind], "add") != 0 || !strchr(argv[optind + 1], '@')) {
		fputs(help, stderr);
		return EXIT_CONFIG;
	}
	if (open_db(db, &st) < 0)
		return EXIT_CONFIG;
	rc = need_org(st, org) < 0 ? -1 : store_admin_add(st, org, argv[optind + 1]);
	if (rc == STORE_OK)
		printf("%s is an Administrator of organization %" PRId64 "\n", argv[optind + 1], org);
	else if (rc != -1)
		fprintf(stderr, "orgsync admin add: %s\n", store_error(st));
	store_close(st);
	return rc == STORE_OK ? EXIT_OK : EXIT_CONFIG;
}
