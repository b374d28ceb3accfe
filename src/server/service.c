#include "server/service.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "format/names.h"
#include "server/delivery.h"
#include "server/http.h"
#include "server/log.h"
#include "server/orgcache.h"
#include "server/spool.h"
#include "sync/sync.h"
#include "util/os.h"

static void close_store(void *st)
{
	store_close(st);
}

struct store *service_store(struct service *svc)
{
	struct store *st = pthread_getspecific(svc->store_key);
	char err[256];

	if (st)
		return st;
	if (store_open(svc->cfg.db_url, &st, err, sizeof(err)) != STORE_OK) {
		log_msg("error", "cannot open the database: %s", err);
		return NULL;
	}
	/* No request pays for a checkpoint: the worker does them (below). */
	store_autocheckpoint(st, false);
	pthread_setspecific(svc->store_key, st);
	return st;
}

/* At most this many inputs wait in memory; past it the oldest is read back later. */
enum { PREPARED_MAX = 4 };

void service_lock(struct service *svc)
{
	pthread_mutex_lock(&svc->lock);
}

void service_unlock(struct service *svc)
{
	pthread_mutex_unlock(&svc->lock);
}

/* Called with the lock held (service_lock). */
void service_put_prepared(struct service *svc, struct sync_prepared *p)
{
	struct sync_prepared **pp, *drop = NULL;
	int n = 0;

	p->next = svc->prepared;
	svc->prepared = p;
	for (pp = &svc->prepared; *pp; pp = &(*pp)->next)
		if (++n == PREPARED_MAX) {
			drop = (*pp)->next;
			(*pp)->next = NULL;
			break;
		}
	while (drop) {
		struct sync_prepared *next = drop->next;

		sync_prepared_free(drop);
		drop = next;
	}
}

bool service_ingest_begin(struct service *svc, unsigned wait_ms)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000;
	if (until.tv_nsec >= 1000000000) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&svc->lock);
	while (svc->ingests >= SERVICE_INGESTS && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&svc->ingest_done, &svc->lock, &until);
	if (svc->ingests < SERVICE_INGESTS) {
		svc->ingests++;
		rc = 0;
	}
	pthread_mutex_unlock(&svc->lock);
	return rc == 0;
}

void service_ingest_end(struct service *svc)
{
	pthread_mutex_lock(&svc->lock);
	svc->ingests--;
	pthread_cond_signal(&svc->ingest_done);
	pthread_mutex_unlock(&svc->lock);
}

const char *service_spool_dir(const struct service *svc)
{
	const char *tmp = getenv("TMPDIR");

	if (svc->spool_dir[0])
		return svc->spool_dir;
	if (svc->cfg.spool_dir)
		return svc->cfg.spool_dir;
	return tmp && *tmp ? tmp : "/tmp";
}

/*
 * Settles where request bodies are spooled and checks that a file can be
 * made there: beside a SQLite database by default, on the disk that the
 * operator already sized for the payloads and protects like the data.
 */
static int resolve_spool(struct service *svc)
{
	const char *url = svc->cfg.db_url, *path, *slash;
	struct spool *probe = NULL;
	int rc;

	if (svc->cfg.spool_dir) {
		snprintf(svc->spool_dir, sizeof(svc->spool_dir), "%s", svc->cfg.spool_dir);
	} else if (url && strncmp(url, "postgres", 8) != 0) {
		path = strncmp(url, "sqlite:", 7) == 0 ? url + 7 : url;
		slash = strrchr(path, '/');
		if (!slash)
			snprintf(svc->spool_dir, sizeof(svc->spool_dir), ".");
		else
			snprintf(svc->spool_dir, sizeof(svc->spool_dir), "%.*s",
				 slash == path ? 1 : (int)(slash - path), path);
	}
	rc = spool_open(service_spool_dir(svc), &probe);
	spool_close(probe);
	if (rc) {
		fprintf(stderr, "orgsync serve: cannot write request bodies to %s: %s (choose a "
			"directory with --spool-dir)\n", service_spool_dir(svc), strerror(-rc));
		return -1;
	}
	return 0;
}

struct sync_prepared *service_take_prepared(struct service *svc, int64_t sync_id)
{
	struct sync_prepared **pp, *found = NULL;

	pthread_mutex_lock(&svc->lock);
	for (pp = &svc->prepared; *pp; pp = &(*pp)->next) {
		if ((*pp)->sync_id == sync_id) {
			found = *pp;
			*pp = found->next;
			break;
		}
	}
	pthread_mutex_unlock(&svc->lock);
	return found;
}

void service_wake_worker(struct service *svc)
{
	pthread_mutex_lock(&svc->lock);
	pthread_cond_signal(&svc->wake);
	pthread_mutex_unlock(&svc->lock);
}

/* One log record per sync, with its phase times. */
static void log_sync(int64_t sync_id, int64_t org_id, const struct sync_result *res)
{
	log_write(json_pack("{s:I, s:I, s:s, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "sync",
			    (json_int_t)sync_id, "org", (json_int_t)org_id, "status",
			    format_sync_status_name(res->status), "ms", "ingest",
			    (json_int_t)res->ms[PHASE_INGEST], "load", (json_int_t)res->ms[PHASE_LOAD],
			    "plan", (json_int_t)res->ms[PHASE_PLAN], "apply",
			    (json_int_t)res->ms[PHASE_APPLY], "finish", (json_int_t)res->ms[PHASE_FINISH],
			    "total", (json_int_t)res->total_ms));
}

static int64_t lease_ms(const struct service *svc)
{
	return svc->cfg.sync_lease_ms ? svc->cfg.sync_lease_ms : SERVICE_SYNC_LEASE_MS;
}

/*
 * Runs a sync this process claimed, its lease renewed meanwhile. Without a
 * renewer (no connection to spare) it still runs: a sync longer than the
 * lease may then be taken up by another process, and the store lets only
 * one of the two finish it.
 */
static void run_claimed(struct service *svc, struct store *st, int64_t sync_id, int64_t org_id,
			int attempts, struct sync_result *res)
{
	struct lease *lease = NULL;
	char err[256];

	if (attempts > SYNC_MAX_ATTEMPTS) {
		sync_prepared_free(service_take_prepared(svc, sync_id));
		memset(res, 0, sizeof(*res));
		res->status = sync_give_up(st, sync_id, svc->owner, attempts);
		log_msg("warn", "sync %lld was interrupted %d times: it ends Failed without running",
			(long long)sync_id, attempts - 1);
		log_sync(sync_id, org_id, res);
		return;
	}
	if (lease_start(svc->cfg.db_url, sync_id, svc->owner, lease_ms(svc), &lease, err,
			sizeof(err)) < 0)
		log_msg("warn", "sync %lld runs without renewing its lease: %s", (long long)sync_id,
			err);
	sync_process(st, sync_id, org_id, svc->owner, service_take_prepared(svc, sync_id), res);
	if (res->status == SYNC_PENDING || (lease && lease_lost(lease)))
		log_msg("warn", "sync %lld: the lease ran out and another process took it over%s",
			(long long)sync_id,
			res->status == SYNC_PENDING ? "; this one recorded nothing" : "");
	lease_stop(lease);
	log_sync(sync_id, org_id, res);
}

/*
 * Takes Pending syncs one at a time. It polls as well as waits to be woken:
 * another process on the same database may have queued the sync.
 */
void *service_worker_main(void *arg)
{
	struct service *svc = arg;
	struct store *st = service_store(svc);

	for (;;) {
		int64_t sync_id, org_id;
		struct timespec until;
		struct sync_result res;
		int attempts = 0;
		int64_t t0;
		bool claimed;

		pthread_mutex_lock(&svc->lock);
		if (svc->stopping) {
			pthread_mutex_unlock(&svc->lock);
			break;
		}
		/* Under the lock: a request registers a sync and its payload under it too. */
		claimed = st && store_sync_claim(st, svc->owner, os_wall_ms(), lease_ms(svc),
						 &sync_id, &org_id, &attempts) == STORE_OK;
		pthread_mutex_unlock(&svc->lock);
		if (claimed) {
			t0 = os_now_ms();
			atomic_store(&svc->syncing, true);
			run_claimed(svc, st, sync_id, org_id, attempts, &res);
			atomic_store(&svc->syncing, false);
			if (res.status > SYNC_PENDING && res.status < 6)
				atomic_fetch_add(&svc->metrics.syncs_done[res.status], 1);
			delivery_wake(svc); /* the sync's messages and invitations are queued */
			/* The monotonic clock never goes back: the difference is >= 0. */
			atomic_fetch_add(&svc->metrics.sync_ms_total, (uint64_t)(os_now_ms() - t0));
			/* The sync's status is already visible: the checkpoint delays nobody. */
			store_checkpoint(st);
			continue;
		}
		if (st)
			store_checkpoint(st);
		if (!st)
			st = service_store(svc);
		pthread_mutex_lock(&svc->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		if (!svc->stopping)
			pthread_cond_timedwait(&svc->wake, &svc->lock, &until);
		pthread_mutex_unlock(&svc->lock);
	}
	return NULL;
}

static int wait_for_stop(void)
{
	sigset_t set;
	int sig = 0;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigwait(&set, &sig);
	return sig;
}

int service_run(const struct service_config *cfg)
{
	static struct service svc;
	sigset_t set;
	int rc = 1;

	memset(&svc, 0, sizeof(svc));
	svc.cfg = *cfg;
	svc.started_ms = os_now_ms();
	pthread_mutex_init(&svc.lock, NULL);
	pthread_cond_init(&svc.wake, NULL);
	pthread_cond_init(&svc.ingest_done, NULL);
	pthread_key_create(&svc.store_key, close_store);
	/* Every thread inherits the mask: only wait_for_stop() sees the signals. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	lease_owner_id(svc.owner);
	if (resolve_spool(&svc) < 0 || !service_store(&svc))
		goto out;
	if (delivery_start(&svc) < 0)
		goto out;
	if (pthread_create(&svc.worker, NULL, service_worker_main, &svc) != 0)
		goto out;
	svc.worker_started = true;
	if (http_start(&svc) < 0)
		goto out;
	printf("orgsync serve: listening on %s://%s (port %u), database %s\n",
	       cfg->tls_cert ? "https" : "http", cfg->listen, http_port(&svc), cfg->db_url);
	fflush(stdout);
	wait_for_stop();
	log_msg("info", "stopping: finishing requests and the sync in progress");
	http_drain(&svc);
	rc = 0;
out:
	http_stop(&svc);
	if (svc.worker_started) {
		pthread_mutex_lock(&svc.lock);
		svc.stopping = true;
		pthread_cond_broadcast(&svc.wake);
		pthread_mutex_unlock(&svc.lock);
		pthread_join(svc.worker, NULL);
	}
	delivery_stop(&svc);
	while (svc.prepared) {
		struct sync_prepared *next = svc.prepared->next;

		sync_prepared_free(svc.prepared);
		svc.prepared = next;
	}
	orgcache_clear();
	close_store(pthread_getspecific(svc.store_key));
	pthread_setspecific(svc.store_key, NULL);
	pthread_key_delete(svc.store_key);
	return rc;
}
