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

struct service_config {
	const char *db_url;
	const char *listen;          /* "127.0.0.1:8080" */
	size_t max_body;             /* bytes; larger bodies get 413 */
	unsigned threads;            /* HTTP thread pool size */
	unsigned max_connections;
	unsigned conn_timeout;       /* seconds of silence before a connection is dropped */
	bool quiet;                  /* no request log */
};

struct service_metrics {
	atomic_ullong requests;
	atomic_ullong responses[6];  /* by status class: [2]=2xx ... [5]=5xx */
	atomic_ullong syncs_done[6]; /* by final enum sync_status */
	atomic_ullong sync_ms_total;
};

struct service {
	struct service_config cfg;
	struct MHD_Daemon *daemon;
	pthread_key_t store_key;     /* this thread's struct store */
	pthread_t worker;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;
	bool worker_started;
	struct service_metrics metrics;
	uint64_t started_ms;
};

/* Runs the service until a stop signal. Returns 0, or 1 when it cannot start. */
int service_run(const struct service_config *cfg);

/* This thread's database handle (opened on first use); NULL when it fails. */
struct store *service_store(struct service *svc);

/* Tells the worker a sync is waiting. */
void service_wake_worker(struct service *svc);

/* The sync worker's loop (worker.c). */
void *service_worker_main(void *svc);

/* Milliseconds since the epoch. */
uint64_t service_now_ms(void);

#endif
