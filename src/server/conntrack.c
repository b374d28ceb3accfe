#include "server/conntrack.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "util/os.h"

struct conn {
	struct conn *prev, *next;
	int fd;
	atomic_int phase;            /* enum conn_phase */
	atomic_int_least64_t since; /* os_now_ms() when the phase began */
	atomic_uint_least64_t bytes; /* of the body, in CONN_BODY */
	bool cut;
};

struct conntrack {
	pthread_mutex_t lock;       /* the list, and the sockets' lives (see reap) */
	pthread_cond_t wake;
	pthread_t thread;
	struct conn *head;
	uint64_t timeout_ms;
	uint64_t min_rate;           /* body bytes per second; 0: no rule */
	atomic_uint_least64_t cut;
	bool stopping;
};

/*
 * Runs under the lock. The daemon tells conntrack_close() about a
 * connection before it closes the socket, and conntrack_close() takes the
 * lock: so every fd seen here is still that connection's, never a number
 * the kernel has handed to a newer one.
 */
/* Whether c has had its time: called with the lock held. */
static bool overdue(const struct conntrack *ct, struct conn *c, int64_t now)
{
	uint64_t elapsed = (uint64_t)(now - atomic_load(&c->since));

	switch (atomic_load(&c->phase)) {
	case CONN_HEADER:
		return elapsed >= ct->timeout_ms;
	case CONN_BODY:
		return ct->min_rate && elapsed >= ct->timeout_ms &&
		       atomic_load(&c->bytes) * 1000u < ct->min_rate * elapsed;
	default:
		return false;
	}
}

static void reap(struct conntrack *ct, int64_t now)
{
	struct conn *c;

	for (c = ct->head; c; c = c->next) {
		if (c->cut || !overdue(ct, c, now))
			continue;
		if (shutdown(c->fd, SHUT_RDWR) == 0 || errno != EBADF) {
			c->cut = true;
			atomic_fetch_add(&ct->cut, 1);
		}
	}
}

static void *reaper_main(void *arg)
{
	struct conntrack *ct = arg;
	struct timespec until;

	pthread_mutex_lock(&ct->lock);
	while (!ct->stopping) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 1;
		pthread_cond_timedwait(&ct->wake, &ct->lock, &until);
		if (!ct->stopping)
			reap(ct, os_now_ms());
	}
	pthread_mutex_unlock(&ct->lock);
	return NULL;
}

int conntrack_start(unsigned timeout_s, unsigned min_rate, struct conntrack **out)
{
	struct conntrack *ct = calloc(1, sizeof(*ct));
	pthread_condattr_t attr;

	if (!ct || !timeout_s)
		goto fail;
	ct->timeout_ms = (uint64_t)timeout_s * 1000u;
	ct->min_rate = min_rate;
	pthread_mutex_init(&ct->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&ct->wake, &attr);
	pthread_condattr_destroy(&attr);
	if (pthread_create(&ct->thread, NULL, reaper_main, ct) != 0) {
		pthread_cond_destroy(&ct->wake);
		pthread_mutex_destroy(&ct->lock);
		goto fail;
	}
	*out = ct;
	return 0;
fail:
	free(ct);
	return -1;
}

void conntrack_stop(struct conntrack *ct)
{
	struct conn *c, *next;

	if (!ct)
		return;
	pthread_mutex_lock(&ct->lock);
	ct->stopping = true;
	pthread_cond_signal(&ct->wake);
	pthread_mutex_unlock(&ct->lock);
	pthread_join(ct->thread, NULL);
	for (c = ct->head; c; c = next) {
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&ct->wake);
	pthread_mutex_destroy(&ct->lock);
	free(ct);
}

void conntrack_open(struct conntrack *ct, int fd, void **ctx)
{
	struct conn *c = calloc(1, sizeof(*c));

	*ctx = c;
	if (!c)
		return;
	c->fd = fd;
	atomic_init(&c->phase, CONN_HEADER);
	atomic_init(&c->since, os_now_ms());
	atomic_init(&c->bytes, 0);
	pthread_mutex_lock(&ct->lock);
	c->next = ct->head;
	if (ct->head)
		ct->head->prev = c;
	ct->head = c;
	pthread_mutex_unlock(&ct->lock);
}

void conntrack_close(struct conntrack *ct, void **ctx)
{
	struct conn *c = *ctx;

	if (!c)
		return;
	pthread_mutex_lock(&ct->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		ct->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&ct->lock);
	free(c);
	*ctx = NULL;
}

void conntrack_phase(void *ctx, enum conn_phase phase)
{
	struct conn *c = ctx;

	if (!c)
		return;
	/* The clock first: the reaper never sees the new phase with the old time. */
	if (phase != CONN_HANDLED) {
		atomic_store(&c->bytes, 0);
		atomic_store(&c->since, os_now_ms());
	}
	atomic_store(&c->phase, (int)phase);
}

void conntrack_body(void *ctx, size_t n)
{
	struct conn *c = ctx;

	if (c)
		atomic_fetch_add(&c->bytes, n);
}

uint64_t conntrack_cut(struct conntrack *ct)
{
	return ct ? atomic_load(&ct->cut) : 0;
}
