/*
 * service: one running `orgsync serve`: its configuration, the HTTP daemon,
 * the sync worker, per-thread database handles and the metrics. Owns them
 * all for the process's life; service_run() returns after SIGTERM/SIGINT
 * once in-flight requests and the sync being processed have finished.
 */
#ifndef ORGSYNC_SERVICE_H
#define ORGSYNC_SERVICE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "sync/lease.h"

struct service_config {
	const char *db_url;
	const char *listen;          /* "127.0.0.1:8080"; NULL: no socket, MHD_add_connection() only */
	size_t max_body;             /* bytes; larger bodies get 413 */
	const char *spool_dir;       /* where sync bodies are spooled; NULL: the database's directory */
	unsigned threads;            /* HTTP thread pool size */
	unsigned max_connections;
	unsigned conn_timeout;       /* seconds of silence before a connection is dropped */
	unsigned max_conn_per_ip;    /* simultaneous connections from one address; 0: no limit */
	unsigned header_timeout;     /* seconds a client has to send a complete request header */
	unsigned min_body_rate;      /* slowest average request body, bytes/s, after header_timeout */
	size_t max_header_bytes;     /* all request headers together; more gets 431 */
	double rate_limit;           /* requests per second per API key; 0: no limit */
	unsigned rate_burst;         /* requests per key allowed at once */
	double scim_write_rate;      /* SCIM write requests per second per org; 0: no limit */
	unsigned scim_write_burst;   /* SCIM write requests per org allowed at once */
	unsigned shutdown_grace;     /* seconds a stop waits for requests in flight */
	unsigned sync_lease_ms;      /* a sync's claim without renewal (the job queue) */
	bool quiet;                  /* no request log */
	const char *tls_cert;        /* PEM certificate (chain) file; NULL: plain HTTP */
	const char *tls_key;         /* PEM private key file, unencrypted; set with tls_cert */
	/* Delivery (delivery.h): */
	const char *public_url;      /* base of links in emails; NULL: http(s)://listen */
	const char *smtp_url;        /* smtp:// or smtps://; NULL: emails wait in the outbox */
	const char *smtp_from;       /* "Name <address>" */
	bool webhook_allow_private;  /* webhooks may be http and reach internal addresses */
	unsigned delivery_backoff_ms;          /* first retry delay's bound; 0: the default */
	unsigned long long delivery_give_up_ms; /* retry window; 0: the default (24 h) */
	unsigned delivery_lease_ms;            /* a claim's hold; 0: the default */
};

struct ratelimit;
struct conntrack;
struct delivery;

struct service_metrics {
	atomic_ullong requests;
	atomic_ullong responses[6];  /* by status class: [2]=2xx ... [5]=5xx */
	atomic_ullong syncs_done[6]; /* by final enum sync_status */
	atomic_ullong sync_ms_total;
	atomic_ullong rate_limited;  /* requests answered 429 */
};

struct service {
	struct service_config cfg;
	struct MHD_Daemon *daemon;
	struct ratelimit *rate;      /* NULL when cfg.rate_limit is 0 */
	struct conntrack *conns;     /* the request header deadline */
	atomic_uint in_flight;       /* requests begun and not yet ended */
	char *tls_cert_pem;          /* the files' text, which the daemon reads while it runs */
	char *tls_key_pem;           /* wiped before it is freed */
	char start_log[512];         /* libmicrohttpd's messages while the daemon starts */
	atomic_bool starting;        /* start_log is being filled */
	pthread_key_t store_key;     /* this thread's struct store */
	pthread_t worker;
	pthread_mutex_t lock;        /* worker state; a sync's registration vs its claim */
	pthread_cond_t wake;
	bool stopping;
	bool worker_started;
	struct service_metrics metrics;
	struct sync_prepared *prepared; /* inputs ingested by requests, under lock */
	struct delivery *delivery;   /* the outbox's senders (delivery.h) */
	atomic_bool syncing;         /* the worker is processing a sync: senders hold back */
	unsigned ingests;            /* payloads being ingested by requests, under lock */
	pthread_cond_t ingest_done;  /* signalled when one ends */
	char spool_dir[4096];        /* resolved at start; "" until then */
	char owner[LEASE_OWNER_MAX]; /* this process as the holder of the syncs it claims */
	int64_t started_ms;          /* os_now_ms() at start, for the uptime */
};

/* A sync's claim without renewal when cfg.sync_lease_ms is 0. */
enum { SERVICE_SYNC_LEASE_MS = 30000 };

/* Runs the service until a stop signal. Returns 0, or 1 when it cannot start. */
int service_run(const struct service_config *cfg);

/* This thread's database handle (opened on first use); NULL when it fails. */
struct store *service_store(struct service *svc);

/* Tells the worker a sync is waiting. */
void service_wake_worker(struct service *svc);

struct sync_prepared;

/* Holds off the worker's claims while a request registers a sync and its payload. */
void service_lock(struct service *svc);
void service_unlock(struct service *svc);

/* Hands a request's ingested input to the worker (taken by sync id). */
void service_put_prepared(struct service *svc, struct sync_prepared *p);
/* Takes the input prepared for sync_id, or NULL. */
struct sync_prepared *service_take_prepared(struct service *svc, int64_t sync_id);

/*
 * Payloads ingested by requests at once, at most: an ingested org costs
 * memory in proportion to its size, so this (with the prepared inputs
 * kept for the worker) is what bounds the memory of concurrent syncs.
 * service_ingest_begin() waits up to wait_ms for a turn; false when none
 * came (answer 503). Each true is paired with service_ingest_end().
 */
enum { SERVICE_INGESTS = 2 };
bool service_ingest_begin(struct service *svc, unsigned wait_ms);
void service_ingest_end(struct service *svc);

/*
 * Where request bodies are spooled: --spool-dir, else the directory of a
 * SQLite database (resolved at start), else $TMPDIR or /tmp.
 */
const char *service_spool_dir(const struct service *svc);

/* The sync worker's loop. */
void *service_worker_main(void *svc);

#endif
