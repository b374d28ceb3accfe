/* orgsync serve: the provisioning service. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/service.h"

static const char help[] =
	"usage: orgsync serve --db sqlite:PATH [--listen HOST:PORT] [options]\n\n"
	"Runs the provisioning service: the HTTP API of organizations' members, teams\n"
	"and syncs. Stops cleanly on SIGTERM or Ctrl-C, finishing work in flight.\n\n"
	"  --db URL              sqlite:PATH (or a path); created and migrated if needed\n"
	"  --listen HOST:PORT    address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
	"  --max-body BYTES      largest request body (default 268435456 = 256 MiB)\n"
	"  --threads N           HTTP threads (default 4)\n"
	"  --max-connections N   simultaneous connections (default 256)\n"
	"  --timeout SECONDS     idle connection timeout (default 30)\n"
	"  --tls-cert FILE       serve HTTPS with this PEM certificate (the chain: server\n"
	"                        certificate first, then intermediates); needs --tls-key\n"
	"  --tls-key FILE        the certificate's PEM private key, unencrypted (mode 0600);\n"
	"                        TLS 1.2 and 1.3 only\n"
	"  --quiet               no request log on standard error\n";

static int number(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (!*s || *end || v == 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct service_config cfg = {
		.listen = "127.0.0.1:8080",
		.max_body = 256u << 20,
		.threads = 4,
		.max_connections = 256,
		.conn_timeout = 30,
	};
	unsigned long long v;
	int c;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'd': cfg.db_url = optarg; break;
		case 'l': cfg.listen = optarg; break;
		case 'q': cfg.quiet = true; break;
		case 'C': cfg.tls_cert = optarg; break;
		case 'K': cfg.tls_key = optarg; break;
		case 'b':
		case 't':
		case 'c':
		case 'T':
			if (number(optarg, c == 'b' ? (1ull << 40) : 100000, &v) < 0) {
				fprintf(stderr, "orgsync serve: '%s' is not a valid number here\n", optarg);
				return EXIT_CONFIG;
			}
			if (c == 'b')
				cfg.max_body = (size_t)v;
			else if (c == 't')
				cfg.threads = (unsigned)v;
			else if (c == 'c')
				cfg.max_connections = (unsigned)v;
			else
				cfg.conn_timeout = (unsigned)v;
			break;
		case 'h':
			fputs(help, stdout);
			return EXIT_OK;
		default:
			fputs(help, stderr);
			return EXIT_CONFIG;
		}
	}
	if (!cfg.db_url) {
		fputs("orgsync serve: say where the database is: --db sqlite:PATH\n", stderr);
		return EXIT_CONFIG;
	}
	/* One without the other is a half-done setup: refuse it rather than serve plain HTTP. */
	if (!cfg.tls_cert != !cfg.tls_key) {
		fprintf(stderr, "orgsync serve: --tls-cert and --tls-key go together (%s is missing)\n",
			cfg.tls_cert ? "--tls-key" : "--tls-cert");
		return EXIT_CONFIG;
	}
	return service_run(&cfg) == 0 ? EXIT_OK : EXIT_CONFIG;
}
