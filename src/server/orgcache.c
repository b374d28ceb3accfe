#include "server/orgcache.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

/* A handful: enough for the orgs being read at once, bounded in memory. */
enum { SLOTS = 4 };

/*
 * A load under way. Requests that want the same org and version wait for
 * it rather than load their own copy: after a sync, every HTTP thread
 * would otherwise load the org at once, with that many copies in memory.
 * Freed by the last of its users (the loader and the waiters).
 */
struct load {
	struct load *next;
	int64_t org_id, version;
	struct org_snapshot *snap; /* holds a reference for each waiter */
	int rc, users;
	bool done;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loaded = PTHREAD_COND_INITIALIZER;
static struct org_snapshot *slots[SLOTS];
static struct load *loads;
static uint64_t tick;

static void snapshot_free(struct org_snapshot *s)
{
	if (!s)
		return;
	orgindex_free(&s->index);
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

/* Loads the org into a new snapshot with one reference. */
static int load_snapshot(struct store *st, int64_t org_id, int64_t version,
			 struct org_snapshot **out)
{
	struct org_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return STORE_ENOMEM;
	s->org_id = org_id;
	s->version = version;
	s->refs = 1;
	org_init(&s->org);
	rc = store_org_load(st, org_id, &s->org, &s->ids);
	/* Here rather than on first use: the snapshot is then read-only, and
	 * its readers need no lock; the build costs a fraction of the load. */
	if (!rc && orgindex_build(&s->org, &s->index) != ORG_OK)
		rc = STORE_ENOMEM;
	if (rc) {
		snapshot_free(s);
		return rc;
	}
	*out = s;
	return STORE_OK;
}

/* Drops a user of ld, freeing it after the last. Called with the lock held. */
static void load_leave(struct load *ld)
{
	if (--ld->users == 0)
		free(ld);
}

/* Waits for another request's load of the same org. Called with the lock held. */
static int load_wait(struct load *ld, struct org_snapshot **out)
{
	int rc;

	ld->users++;
	while (!ld->done)
		pthread_cond_wait(&loaded, &lock);
	*out = ld->snap;
	rc = ld->rc;
	load_leave(ld);
	return rc;
}

/*
 * Loads the org for this request and the requests that come to wait for
 * it meanwhile. Called with the lock held; releases it while loading.
 * *evicted: the idle entry the new one replaced, to free after unlocking.
 */
static int load_lead(struct store *st, int64_t org_id, int64_t version,
		     struct org_snapshot **out, struct org_snapshot **evicted)
{
	struct load *ld = calloc(1, sizeof(*ld)), **pp;
	struct org_snapshot *s = NULL;
	int rc;

	if (!ld)
		return STORE_ENOMEM;
	*ld = (struct load){ loads, org_id, version, NULL, STORE_OK, 1, false };
	loads = ld;
	pthread_mutex_unlock(&lock);
	rc = load_snapshot(st, org_id, version, &s);
	pthread_mutex_lock(&lock);
	if (!rc) {
		s->used = ++tick;
		s->refs += ld->users - 1;
		*evicted = insert(s);
	}
	for (pp = &loads; *pp != ld; pp = &(*pp)->next)
		;
	*pp = ld->next;
	ld->snap = s;
	ld->rc = rc;
	ld->done = true;
	pthread_cond_broadcast(&loaded);
	load_leave(ld);
	*out = s;
	return rc;
}

int orgcache_get(struct store *st, int64_t org_id, struct org_snapshot **out)
{
	struct org_snapshot *s, *evicted = NULL;
	struct load *ld;
	int64_t version;
	int rc = STORE_OK;

	*out = NULL;
	/* The stamp is read before the load: a write in between only makes
	 * the entry look stale, never a stale entry look current. */
	rc = store_org_version(st, org_id, &version);
	if (rc)
		return rc;
	pthread_mutex_lock(&lock);
	s = find(org_id, version);
	if (!s) {
		for (ld = loads; ld && (ld->org_id != org_id || ld->version != version);
		     ld = ld->next)
			;
		rc = ld ? load_wait(ld, &s) : load_lead(st, org_id, version, &s, &evicted);
	}
	pthread_mutex_unlock(&lock);
	snapshot_free(evicted);
	*out = s;
	return rc;
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
