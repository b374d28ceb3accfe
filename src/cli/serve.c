/* orgsync serve: the provisioning service. */
#include <stddef.h>
#include <stdio.h>

#include "cli/cli.h"
#include "server/delivery.h"
#include "server/scim/scim.h"
#include "server/service.h"
#include "util/opt.h"

#define CFG(field) offsetof(struct service_config, field)

static const struct opt options[] = {
	{ .name = "db", .type = OPT_STRING, .offset = CFG(db_url), .metavar = "URL",
	  .help = "sqlite:PATH (or a path) or postgres://...; created and migrated if needed" },
	{ .name = "listen", .type = OPT_STRING, .offset = CFG(listen), .sdef = "127.0.0.1:8080",
	  .metavar = "HOST:PORT", .help = "address to listen on; port 0 = any" },
	{ .name = "max-body", .type = OPT_SIZE, .offset = CFG(max_body), .min = 1,
	  .max = 1ull << 40, .def = 256u << 20, .metavar = "BYTES",
	  .help = "largest request body" },
	{ .name = "spool-dir", .type = OPT_STRING, .offset = CFG(spool_dir), .metavar = "DIR",
	  .help = "where sync bodies are written as they arrive, unnamed files freed when the "
		  "request ends (default: the database's directory)" },
	{ .name = "threads", .type = OPT_UINT, .offset = CFG(threads), .min = 1, .max = 1024,
	  .def = 4, .help = "HTTP threads" },
	{ .name = "max-connections", .type = OPT_UINT, .offset = CFG(max_connections), .min = 1,
	  .max = 100000, .def = 256, .help = "simultaneous connections" },
	{ .name = "timeout", .type = OPT_UINT, .offset = CFG(conn_timeout), .min = 1,
	  .max = 86400, .def = 30, .metavar = "SECONDS", .help = "idle connection timeout" },
	{ .name = "max-connections-per-ip", .type = OPT_UINT, .offset = CFG(max_conn_per_ip),
	  .max = 100000, .def = 128,
	  .help = "simultaneous connections from one address; 0 = no limit, e.g. behind a "
		  "reverse proxy that limits" },
	{ .name = "header-timeout", .type = OPT_UINT, .offset = CFG(header_timeout), .min = 1,
	  .max = 3600, .def = 10, .metavar = "SECONDS",
	  .help = "time a client has to send a complete request header, from connecting or "
		  "from its previous answer" },
	{ .name = "min-body-rate", .type = OPT_UINT, .offset = CFG(min_body_rate),
	  .max = 1u << 30, .def = 1024, .metavar = "BYTES",
	  .help = "a request body slower than this many bytes per second on average, once "
		  "--header-timeout has passed, is cut off; 0 = no minimum" },
	{ .name = "max-header-bytes", .type = OPT_SIZE, .offset = CFG(max_header_bytes),
	  .min = 1024, .max = 1 << 20, .def = 16384,
	  .help = "request headers, all together (more: 431); a URL longer than 4096 bytes "
		  "gets 414" },
	{ .name = "rate-limit", .type = OPT_DOUBLE, .offset = CFG(rate_limit), .max = 1000000,
	  .def = 100,
	  .help = "requests per second per API key (0 = no limit); more get 429 with "
		  "Retry-After" },
	{ .name = "rate-burst", .type = OPT_UINT, .offset = CFG(rate_burst), .min = 1,
	  .max = 10000000, .def = 200, .help = "requests a key may make at once" },
	{ .name = "scim-write-rate", .type = OPT_DOUBLE, .offset = CFG(scim_write_rate),
	  .max = 1000000, .def = SCIM_WRITE_RATE,
	  .help = "SCIM writes (POST, PUT, PATCH, DELETE, Bulk) per second per organization "
		  "(0 = no limit); more get 429" },
	{ .name = "scim-write-burst", .type = OPT_UINT, .offset = CFG(scim_write_burst),
	  .min = 1, .max = 10000000, .def = SCIM_WRITE_BURST,
	  .help = "SCIM writes an organization may make at once" },
	{ .name = "sync-lease-ms", .type = OPT_UINT, .offset = CFG(sync_lease_ms), .min = 300,
	  .max = 86400000, .def = 30000, .metavar = "MS",
	  .help = "how long a sync's claim holds without renewal: a sync whose process died is "
		  "taken up again by any service on the database after this; renewed at a third "
		  "of it while the sync runs" },
	{ .name = "shutdown-grace", .type = OPT_UINT, .offset = CFG(shutdown_grace),
	  .max = 86400, .def = 30, .metavar = "SECONDS",
	  .help = "on SIGTERM, how long requests in flight may take to finish; the sync in "
		  "progress always ends" },
	{ .name = "tls-cert", .type = OPT_STRING, .offset = CFG(tls_cert), .metavar = "FILE",
	  .help = "serve HTTPS with this PEM certificate (the chain: server certificate "
		  "first, then intermediates); needs --tls-key" },
	{ .name = "tls-key", .type = OPT_STRING, .offset = CFG(tls_key), .metavar = "FILE",
	  .help = "the certificate's PEM private key, unencrypted (mode 0600); TLS 1.2 and "
		  "1.3 only" },
	{ .name = "quiet", .type = OPT_FLAG, .offset = CFG(quiet),
	  .help = "no request log on standard error" },
	{ .type = OPT_SECTION,
	  .help = "Delivery (invitations, notification emails, webhooks; docs/delivery.md):" },
	{ .name = "public-url", .type = OPT_STRING, .offset = CFG(public_url), .metavar = "URL",
	  .help = "the service's address as members' browsers reach it: the base of the "
		  "links in emails (default http://LISTEN)" },
	{ .name = "smtp-url", .type = OPT_STRING, .offset = CFG(smtp_url), .metavar = "URL",
	  .help = "send emails through this SMTP server: smtp://HOST:PORT (STARTTLS when "
		  "offered) or smtps://HOST:PORT; credentials from ORGSYNC_SMTP_USER and "
		  "ORGSYNC_SMTP_PASSWORD only. Without it, emails wait in the outbox" },
	{ .name = "smtp-from", .type = OPT_STRING, .offset = CFG(smtp_from), .metavar = "MAILBOX",
	  .help = "the sender, \"Name <address>\" (needed with --smtp-url)" },
	{ .name = "webhook-allow-private", .type = OPT_FLAG,
	  .offset = CFG(webhook_allow_private),
	  .help = "let webhooks use http and reach loopback, private and link-local addresses "
		  "(tests, closed networks)" },
	/* Test-only: they shrink the delivery schedule to seconds; 0 is the service's default. */
	{ .name = "delivery-backoff-ms", .type = OPT_UINT, .flags = OPT_HIDDEN | OPT_NO_DEFAULT,
	  .offset = CFG(delivery_backoff_ms), .min = 1, .max = 3600000 },
	{ .name = "delivery-give-up-ms", .type = OPT_U64, .flags = OPT_HIDDEN | OPT_NO_DEFAULT,
	  .offset = CFG(delivery_give_up_ms), .min = 1, .max = 7ull * 86400000 },
	{ .name = "delivery-lease-ms", .type = OPT_UINT, .flags = OPT_HIDDEN | OPT_NO_DEFAULT,
	  .offset = CFG(delivery_lease_ms), .min = 100, .max = 3600000 },
	{ .name = NULL },
};

static const struct opt_cmd command = {
	.name = "serve",
	.usage = "usage: orgsync serve --db sqlite:PATH [--listen HOST:PORT] [options]\n",
	.intro = "Runs the provisioning service: the HTTP API of organizations' members, teams\n"
		 "and syncs. Stops cleanly on SIGTERM or Ctrl-C, finishing work in flight.\n",
	.opts = options,
};

int cmd_serve(int argc, char **argv)
{
	struct service_config cfg = { 0 };
	char err[512];
	int first, rc = cli_options(&command, EXIT_CONFIG, argc, argv, &cfg, &first);

	if (rc != -1)
		return rc;
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
