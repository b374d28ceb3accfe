#include "server/orgcache.h"

#include <pthread.h>
#include <stdlib.h>

/* A handful: enough for the orgs being read at once, bounded in memory. */
enum { SLOTS = 4 };

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct org_snapshot *slots[SLOTS];
static uint64_t tick;

static void snapshot_free(struct org_snapshot *s)
{
	if (!s)
		return;
	org_free(&s->org);
	store_ids_free(&s->ids);
	free(s);
}

/* Looks for a current entry; takes a reference. Called with the lock held. */
static struct org_snapshot *find(int64_t org_id, int64_t version)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		struct org_snapshot *s = slots[i];

		if (s && s->org_id == org_id && s->version == version) {
			s->refs++;
			s->used = ++tick;
			return s;
		}
	}
	return NULL;
}

/*
 * Where a fresh snapshot goes: the org's idle stale entry, else an empty
 * slot, else the least recently used idle entry; -1 when all are busy.
 * Called with the lock held.
 */
static int pick_slot(int64_t org_id)
{
	int i, lru = -1;

	for (i = 0; i < SLOTS; i++)
		if (slots[i] && slots[i]->org_id == org_id && !slots[i]->refs)
			return i;
	for (i = 0; i < SLOTS; i++)
		if (!slots[i])
			return i;
	for (i = 0; i < SLOTS; i++)
		if (!slots[i]->refs && (lru < 0 || slots[i]->used < slots[lru]->used))
			lru = i;
	return lru;
}

/* Caches s; returns the idle entry it replaced, to free after unlocking. */
static struct org_snapshot *insert(struct org_snapshot *s)
{
	struct org_snapshot *old;
	int i = pick_slot(s->org_id);

	if (i < 0)
		return NULL; /* every slot busy: s lives for its request only */
	old = slots[i];
	slots[i] = s;
	s->cached = 1;
	return old;
}

int orgcache_get(struct store *st, int64_t org_id, struct org_snapshot **out)
{
	struct org_snapshot *s, *old;
	int64_t version;
	int rc;

	*out = NULL;
	/* The stamp is read before the load: a write in between only makes
	 * the entry look stale, never a stale entry look current. */
	rc = store_org_version(st, org_id, &version);
	if (rc)
		return rc;
	pthread_mutex_lock(&lock);
	s = find(org_id, version);
	pthread_mutex_unlock(&lock);
	if (s) {
		*out = s;
		return STORE_OK;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return STORE_ENOMEM;
	s->org_id = org_id;
	s->version = version;
	s->refs = 1;
	org_init(&s->org);
	rc = store_org_load(st, org_id, &s->org, &s->ids);
	if (rc) {
		snapshot_free(s);
		return rc;
	}
	pthread_mutex_lock(&lock);
	s->used = ++tick;
	old = insert(s);
	pthread_mutex_unlock(&lock);
	snapshot_free(old);
	*out = s;
	return STORE_OK;
}

void orgcache_put(struct org_snapshot *s)
{
	int last;

	if (!s)
		return;
	pthread_mutex_lock(&lock);
	last = --s->refs == 0 && !s->cached;
	pthread_mutex_unlock(&lock);
	if (last)
		snapshot_free(s);
}

void orgcache_clear(void)
{
	int i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < SLOTS; i++) {
		if (slots[i] && !slots[i]->refs) {
			snapshot_free(slots[i]);
			slots[i] = NULL;
		}
	}
	pthread_mutex_unlock(&lock);
}
