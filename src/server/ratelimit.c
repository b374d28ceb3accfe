#include "server/ratelimit.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/keyhash.h"

struct bucket {
	int64_t key;
	double tokens;    /* as of at_ms */
	int64_t at_ms;
	bool used;
};

struct ratelimit {
	pthread_mutex_t lock;
	double rate, burst;
	struct bucket *slots; /* open addressing, linear probing; cap is a power of two */
	size_t cap, count;
};

enum { FIRST_CAP = 64 };

int ratelimit_new(double rate, double burst, struct ratelimit **out)
{
	struct ratelimit *rl;

	if (!(rate > 0) || !(burst >= 1) || !isfinite(rate) || !isfinite(burst))
		return -1;
	keyhash_init();
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return -1;
	rl->slots = calloc(FIRST_CAP, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return -1;
	}
	rl->cap = FIRST_CAP;
	rl->rate = rate;
	rl->burst = burst;
	pthread_mutex_init(&rl->lock, NULL);
	*out = rl;
	return 0;
}

void ratelimit_free(struct ratelimit *rl)
{
	if (!rl)
		return;
	pthread_mutex_destroy(&rl->lock);
	free(rl->slots);
	free(rl);
}

/* Keyed (keyhash) like every table a client's traffic fills. */
static size_t slot_of(int64_t key, size_t cap)
{
	return (size_t)keyhash_bytes(&key, sizeof(key)) & (cap - 1);
}

static double refilled(const struct ratelimit *rl, const struct bucket *b, int64_t now_ms)
{
	double t = b->tokens;

	if (now_ms > b->at_ms)
		t += (double)(now_ms - b->at_ms) * rl->rate / 1000.0;
	return t < rl->burst ? t : rl->burst;
}

/*
 * Rebuilds the table without the buckets that have refilled (a fresh bucket
 * is the same thing), doubling it when what is left would still fill more
 * than a quarter of it. There is no delete in linear probing; this is it.
 */
static int rebuild(struct ratelimit *rl, int64_t now_ms)
{
	size_t cap = rl->cap > FIRST_CAP ? rl->cap : FIRST_CAP, kept = 0, i, j;
	struct bucket *slots;

	for (i = 0; i < rl->cap; i++)
		if (rl->slots[i].used && refilled(rl, &rl->slots[i], now_ms) < rl->burst)
			kept++;
	while (kept * 4 > cap)
		cap *= 2;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -1;
	for (i = 0; i < rl->cap; i++) {
		const struct bucket *b = &rl->slots[i];

		if (!b->used || refilled(rl, b, now_ms) >= rl->burst)
			continue;
		for (j = slot_of(b->key, cap); slots[j].used; j = (j + 1) & (cap - 1))
			;
		slots[j] = *b;
	}
	free(rl->slots);
	rl->slots = slots;
	rl->cap = cap;
	rl->count = kept;
	return 0;
}

static struct bucket *find(struct ratelimit *rl, int64_t key, int64_t now_ms)
{
	size_t i;

	for (i = slot_of(key, rl->cap); rl->slots[i].used; i = (i + 1) & (rl->cap - 1))
		if (rl->slots[i].key == key)
			return &rl->slots[i];
	if ((rl->count + 1) * 2 > rl->cap) {
		if (rebuild(rl, now_ms) < 0)
			return NULL;
		for (i = slot_of(key, rl->cap); rl->slots[i].used; i = (i + 1) & (rl->cap - 1))
			;
	}
	rl->slots[i] = (struct bucket){ key, rl->burst, now_ms, true };
	rl->count++;
	return &rl->slots[i];
}

unsigned ratelimit_take(struct ratelimit *rl, int64_t key, int64_t now_ms)
{
	struct bucket *b;
	unsigned wait = 0;

	pthread_mutex_lock(&rl->lock);
	b = find(rl, key, now_ms);
	if (b) {
		b->tokens = refilled(rl, b, now_ms);
		b->at_ms = now_ms > b->at_ms ? now_ms : b->at_ms;
		if (b->tokens >= 1)
			b->tokens -= 1;
		else
			wait = (unsigned)ceil((1 - b->tokens) / rl->rate);
	}
	pthread_mutex_unlock(&rl->lock);
	return wait;
}
