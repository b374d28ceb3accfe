/* orgsync serve: the provisioning service. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "server/delivery.h"
#include "server/scim/scim.h"
#include "server/service.h"

static const char help[] =
	"usage: orgsync serve --db sqlite:PATH [--listen HOST:PORT] [options]\n\n"
	"Runs the provisioning service: the HTTP API of organizations' members, teams\n"
	"and syncs. Stops cleanly on SIGTERM or Ctrl-C, finishing work in flight.\n\n"
	"  --db URL              sqlite:PATH (or a path); created and migrated if needed\n"
	"  --listen HOST:PORT    address to listen on (default 127.0.0.1:8080; port 0 = any)\n"
	"  --max-body BYTES      largest request body (default 268435456 = 256 MiB)\n"
	"  --spool-dir DIR       where sync bodies are written as they arrive, unnamed\n"
	"                        files freed when the request ends (default: the\n"
	"                        database's directory)\n"
	"  --threads N           HTTP threads (default 4)\n"
	"  --max-connections N   simultaneous connections (default 256)\n"
	"  --timeout SECONDS     idle connection timeout (default 30)\n"
	"  --max-connections-per-ip N\n"
	"                        simultaneous connections from one address (default 128;\n"
	"                        0 = no limit, e.g. behind a reverse proxy that limits)\n"
	"  --header-timeout SECONDS\n"
	"                        time a client has to send a complete request header,\n"
	"                        from connecting or from its previous answer (default 10)\n"
	"  --min-body-rate BYTES a request body slower than this many bytes per second\n"
	"                        on average, once --header-timeout has passed, is cut\n"
	"                        off (default 1024; 0 = no minimum)\n"
	"  --max-header-bytes N  request headers, all together (default 16384; more: 431);\n"
	"                        a URL longer than 4096 bytes gets 414\n"
	"  --rate-limit N        requests per second per API key (default 100; 0 = no\n"
	"                        limit); more get 429 with Retry-After\n"
	"  --rate-burst N        requests a key may make at once (default 200)\n"
	"  --scim-write-rate N   SCIM writes (POST, PUT, PATCH, DELETE, Bulk) per second\n"
	"                        per organization (default 50; 0 = no limit); more get 429\n"
	"  --scim-write-burst N  SCIM writes an organization may make at once (default 500)\n"
	"  --sync-lease-ms N     how long a sync's claim holds without renewal (default\n"
	"                        30000): a sync whose process died is taken up again by\n"
	"                        any service on the database after this; renewed at a\n"
	"                        third of it while the sync runs\n"
	"  --shutdown-grace SECONDS\n"
	"                        on SIGTERM, how long requests in flight may take to\n"
	"                        finish (default 30); the sync in progress always ends\n"
	"  --tls-cert FILE       serve HTTPS with this PEM certificate (the chain: server\n"
	"                        certificate first, then intermediates); needs --tls-key\n"
	"  --tls-key FILE        the certificate's PEM private key, unencrypted (mode 0600);\n"
	"                        TLS 1.2 and 1.3 only\n"
	"  --quiet               no request log on standard error\n\n"
	"Delivery (invitations, notification emails, webhooks; docs/delivery.md):\n"
	"  --public-url URL      the service's address as members' browsers reach it: the\n"
	"                        base of the links in emails (default http://LISTEN)\n"
	"  --smtp-url URL        send emails through this SMTP server: smtp://HOST:PORT\n"
	"                        (STARTTLS when offered) or smtps://HOST:PORT; credentials\n"
	"                        from ORGSYNC_SMTP_USER and ORGSYNC_SMTP_PASSWORD only.\n"
	"                        Without it, emails wait in the outbox\n"
	"  --smtp-from MAILBOX   the sender, \"Name <address>\" (needed with --smtp-url)\n"
	"  --webhook-allow-private\n"
	"                        let webhooks use http and reach loopback, private and\n"
	"                        link-local addresses (tests, closed networks)\n";

enum {
	OPT_PUBLIC_URL = 0x400,
	OPT_SMTP_URL,
	OPT_SMTP_FROM,
	OPT_WEBHOOK_ALLOW_PRIVATE,
	OPT_SCIM_WRITE_RATE,
	OPT_SCIM_WRITE_BURST,
	OPT_SYNC_LEASE_MS,
	/* Test-only, not in --help: they shrink the delivery schedule to seconds. */
	OPT_DELIVERY_BACKOFF_MS,
	OPT_DELIVERY_GIVE_UP_MS,
	OPT_DELIVERY_LEASE_MS,
};

/* A whole number in [min, max]. */
static int number(const char *s, unsigned long long min, unsigned long long max,
		  unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s == '-')
		return -1;
	v = strtoull(s, &end, 10);
	if (*end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* The numeric options: where each goes, and its range. */
struct numeric {
	int opt;
	unsigned long long min, max;
};

static const struct numeric numerics[] = {
	{ 'b', 1, 1ull << 40 }, { 't', 1, 1024 },     { 'c', 1, 100000 }, { 'T', 1, 86400 },
	{ 'P', 0, 100000 },     { 'H', 1, 3600 },     { 'M', 1024, 1 << 20 },
	{ 'r', 0, 1000000 },    { 'B', 1, 10000000 }, { 'g', 0, 86400 }, { 'R', 0, 1u << 30 },
	{ OPT_DELIVERY_BACKOFF_MS, 1, 3600000 }, { OPT_DELIVERY_GIVE_UP_MS, 1, 7ull * 86400000 },
	{ OPT_DELIVERY_LEASE_MS, 100, 3600000 },
	{ OPT_SCIM_WRITE_RATE, 0, 1000000 }, { OPT_SCIM_WRITE_BURST, 1, 10000000 },
	{ OPT_SYNC_LEASE_MS, 300, 86400000 },
};

static void set_numeric(struct service_config *cfg, int opt, unsigned long long v)
{
	switch (opt) {
	case 'b': cfg->max_body = (size_t)v; break;
	case 't': cfg->threads = (unsigned)v; break;
	case 'c': cfg->max_connections = (unsigned)v; break;
	case 'T': cfg->conn_timeout = (unsigned)v; break;
	case 'P': cfg->max_conn_per_ip = (unsigned)v; break;
	case 'H': cfg->header_timeout = (unsigned)v; break;
	case 'M': cfg->max_header_bytes = (size_t)v; break;
	case 'r': cfg->rate_limit = (double)v; break;
	case 'B': cfg->rate_burst = (unsigned)v; break;
	case 'R': cfg->min_body_rate = (unsigned)v; break;
	case OPT_DELIVERY_BACKOFF_MS: cfg->delivery_backoff_ms = (unsigned)v; break;
	case OPT_DELIVERY_GIVE_UP_MS: cfg->delivery_give_up_ms = v; break;
	case OPT_DELIVERY_LEASE_MS: cfg->delivery_lease_ms = (unsigned)v; break;
	case OPT_SCIM_WRITE_RATE: cfg->scim_write_rate = (double)v; break;
	case OPT_SCIM_WRITE_BURST: cfg->scim_write_burst = (unsigned)v; break;
	case OPT_SYNC_LEASE_MS: cfg->sync_lease_ms = (unsigned)v; break;
	default: cfg->shutdown_grace = (unsigned)v; break;
	}
}

/* Parses a numeric option into cfg; -1 (after saying why) when out of range. */
static int numeric_option(struct service_config *cfg, int opt, const char *name, const char *arg)
{
	unsigned long long v;
	size_t i;

	for (i = 0; i < sizeof(numerics) / sizeof(numerics[0]); i++) {
		if (numerics[i].opt != opt)
			continue;
		if (number(arg, numerics[i].min, numerics[i].max, &v) < 0) {
			fprintf(stderr, "orgsync serve: --%s wants a whole number from %llu to %llu, "
				"not '%s'\n", name, numerics[i].min, numerics[i].max, arg);
			return -1;
		}
		set_numeric(cfg, opt, v);
		return 0;
	}
	return -1;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "listen", required_argument, NULL, 'l' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "spool-dir", required_argument, NULL, 'S' },
		{ "threads", required_argument, NULL, 't' },
		{ "max-connections", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "max-connections-per-ip", required_argument, NULL, 'P' },
		{ "header-timeout", required_argument, NULL, 'H' },
		{ "max-header-bytes", required_argument, NULL, 'M' },
		{ "rate-limit", required_argument, NULL, 'r' },
		{ "rate-burst", required_argument, NULL, 'B' },
		{ "shutdown-grace", required_argument, NULL, 'g' },
		{ "min-body-rate", required_argument, NULL, 'R' },
		{ "public-url", required_argument, NULL, OPT_PUBLIC_URL },
		{ "smtp-url", required_argument, NULL, OPT_SMTP_URL },
		{ "smtp-from", required_argument, NULL, OPT_SMTP_FROM },
		{ "webhook-allow-private", no_argument, NULL, OPT_WEBHOOK_ALLOW_PRIVATE },
		{ "delivery-backoff-ms", required_argument, NULL, OPT_DELIVERY_BACKOFF_MS },
		{ "delivery-give-up-ms", required_argument, NULL, OPT_DELIVERY_GIVE_UP_MS },
		{ "delivery-lease-ms", required_argument, NULL, OPT_DELIVERY_LEASE_MS },
		{ "scim-write-rate", required_argument, NULL, OPT_SCIM_WRITE_RATE },
		{ "scim-write-burst", required_argument, NULL, OPT_SCIM_WRITE_BURST },
		{ "sync-lease-ms", required_argument, NULL, OPT_SYNC_LEASE_MS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct service_config cfg = {
		.listen = "127.0.0.1:8080",
		.max_body = 256u << 20,
		.threads = 4,
		.max_connections = 256,
		.conn_timeout = 30,
		.max_conn_per_ip = 128,
		.header_timeout = 10,
		.min_body_rate = 1024,
		.max_header_bytes = 16384,
		.rate_limit = 100,
		.rate_burst = 200,
		.scim_write_rate = SCIM_WRITE_RATE,
		.scim_write_burst = SCIM_WRITE_BURST,
		.shutdown_grace = 30,
		.sync_lease_ms = 30000,
	};
	char err[512];
	int c, idx = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "h", opts, &idx)) != -1) {
		switch (c) {
		case 'd': cfg.db_url = optarg; break;
		case 'l': cfg.listen = optarg; break;
		case 'q': cfg.quiet = true; break;
		case 'C': cfg.tls_cert = optarg; break;
		case 'K': cfg.tls_key = optarg; break;
		case 'S': cfg.spool_dir = optarg; break;
		case 'b': case 't': case 'c': case 'T': case 'P': case 'H': case 'M': case 'r':
		case 'B': case 'g': case 'R': case OPT_DELIVERY_BACKOFF_MS: case OPT_DELIVERY_GIVE_UP_MS:
		case OPT_DELIVERY_LEASE_MS:
		case OPT_SCIM_WRITE_RATE: case OPT_SCIM_WRITE_BURST: case OPT_SYNC_LEASE_MS:
			if (numeric_option(&cfg, c, opts[idx].name, optarg) < 0)
				return EXIT_CONFIG;
			break;
		case OPT_PUBLIC_URL: cfg.public_url = optarg; break;
		case OPT_SMTP_URL: cfg.smtp_url = optarg; break;
		case OPT_SMTP_FROM: cfg.smtp_from = optarg; break;
		case OPT_WEBHOOK_ALLOW_PRIVATE: cfg.webhook_allow_private = true; break;
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
	if (delivery_check_config(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "orgsync serve: %s\n", err);
		return EXIT_CONFIG;
	}
	return service_run(&cfg) == 0 ? EXIT_OK : EXIT_CONFIG;
}
