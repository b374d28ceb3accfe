#include "sync/lease.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/os.h"

struct lease {
	struct store *st;
	int64_t sync_id, lease_ms;
	char owner[LEASE_OWNER_MAX];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stopping;  /* under lock */
	atomic_bool lost;
};

void lease_owner_id(char out[LEASE_OWNER_MAX])
{
	char host[64] = "";
	uint32_t rnd = 0;

	if (gethostname(host, sizeof(host) - 1) != 0)
		snprintf(host, sizeof(host), "unknown");
	if (os_random(&rnd, sizeof(rnd)) != 0)
		rnd = (uint32_t)time(NULL);
	snprintf(out, LEASE_OWNER_MAX, "%s:%ld:%08x", host, (long)getpid(), (unsigned)rnd);
}

/* The moment a third of the lease from now, on the monotonic clock the wait uses. */
static struct timespec next_renewal(int64_t lease_ms)
{
	struct timespec ts;
	int64_t ns;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ns = ts.tv_nsec + (lease_ms / 3) % 1000 * 1000000;
	ts.tv_sec += (time_t)(lease_ms / 3 / 1000 + ns / 1000000000);
	ts.tv_nsec = (long)(ns % 1000000000);
	return ts;
}

/*
 * Renews until stopped or lost. A renewal that fails for another reason
 * (the database busy with a long apply) is tried again at the next turn:
 * the lease is three turns long.
 */
static void *renew_main(void *arg)
{
	struct lease *l = arg;
	struct timespec until;

	pthread_mutex_lock(&l->lock);
	for (;;) {
		until = next_renewal(l->lease_ms);
		while (!l->stopping &&
		       pthread_cond_timedwait(&l->wake, &l->lock, &until) == 0)
			;
		if (l->stopping)
			break;
		pthread_mutex_unlock(&l->lock);
		if (store_sync_renew(l->st, l->sync_id, l->owner, os_wall_ms(), l->lease_ms) ==
		    STORE_ECONFLICT)
			atomic_store(&l->lost, true);
		pthread_mutex_lock(&l->lock);
		if (atomic_load(&l->lost))
			break;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int lease_start(const char *db_url, int64_t sync_id, const char *owner, int64_t lease_ms,
		struct lease **out, char *err, size_t errlen)
{
	struct lease *l = calloc(1, sizeof(*l));
	pthread_condattr_t attr;

	*out = NULL;
	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (store_open(db_url, &l->st, err, errlen) != STORE_OK) {
		free(l);
		return -1;
	}
	l->sync_id = sync_id;
	l->lease_ms = lease_ms;
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	pthread_mutex_init(&l->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&l->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&l->thread, NULL, renew_main, l) != 0) {
		snprintf(err, errlen, "cannot start the lease's thread");
		pthread_cond_destroy(&l->wake);
		pthread_mutex_destroy(&l->lock);
		store_close(l->st);
		free(l);
		return -1;
	}
	*out = l;
	return 0;
}

bool lease_lost(struct lease *l)
{
	return atomic_load(&l->lost);
}

void lease_stop(struct lease *l)
{
	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stopping = true;
	pthread_cond_signal(&l->wake);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->wake);
	pthread_mutex_destroy(&l->lock);
	store_close(l->st);
	free(l);
}
