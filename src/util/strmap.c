#include "util/strmap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/keyhash.h"
#include "util/mem.h"

static void free_slots(struct strmap_slot *slots, uint32_t cap);

static inline unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/*
 * Set in the hash of every occupied slot, so that an empty slot is one
 * with hash 0 whatever the kind of key (an id map has no NULL to mark it).
 * A slot's index takes at most 31 bits of the hash, so this one costs no
 * spread.
 */
#define SLOT_USED ((uint32_t)1 << 31)

/*
 * SipHash-1-3 under the process's secret key: nobody outside can compute
 * ids or emails that share a slot. A case-insensitive map hashes the
 * folded bytes, so keys equal ignoring ASCII case share their hash.
 */
static inline uint32_t hash_bytes(const char *s, size_t len, int ci)
{
	return (uint32_t)(ci ? keyhash_bytes_ascii_ci(s, len) : keyhash_bytes(s, len)) | SLOT_USED;
}

static inline uint32_t hash_id(uint64_t id)
{
	return (uint32_t)keyhash_u64(id) | SLOT_USED;
}

int strmap_ci_equal(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return 0;
	return 1;
}

/* Stops at the stored key's NUL: a shorter key with the same hash is never overread. */
static int keys_equal(const struct strmap *m, const struct strmap_slot *s,
		      const char *key, size_t len, uint32_t h)
{
	const unsigned char *a = (const unsigned char *)s->key, *b = (const unsigned char *)key;
	size_t i;

	if (s->hash != h)
		return 0;
	if (m->flags & STRMAP_ASCII_CI) {
		for (i = 0; i < len; i++)
			if (!a[i] || fold(a[i]) != fold(b[i]))
				return 0;
	} else {
		for (i = 0; i < len; i++)
			if (!a[i] || a[i] != b[i])
				return 0;
	}
	return a[len] == '\0';
}

void strmap_init(struct strmap *m, int flags)
{
	keyhash_init();
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
	m->flags = flags;
}

void strmap_free(struct strmap *m)
{
	free_slots(m->slots, m->cap);
	strmap_init(m, m->flags);
}

/* Tables this large come straight from the kernel: zeroed, on huge pages. */
static bool mapped(uint32_t cap)
{
	return (size_t)cap * sizeof(struct strmap_slot) >= 2 * (size_t)MEM_HUGE_PAGE;
}

static struct strmap_slot *alloc_slots(uint32_t cap)
{
	size_t bytes = (size_t)cap * sizeof(struct strmap_slot);
	void *p;

	if (!mapped(cap))
		return calloc(cap, sizeof(struct strmap_slot));
	p = mem_map_zeroed(bytes);
	if (p) {
		mem_hint_huge(p, bytes);
		mem_prefault_async(p, bytes);
	}
	return p;
}

static void free_slots(struct strmap_slot *slots, uint32_t cap)
{
	if (mapped(cap))
		mem_unmap(slots, (size_t)cap * sizeof(struct strmap_slot));
	else
		free(slots);
}

static int rehash(struct strmap *m, uint32_t cap)
{
	struct strmap_slot *slots = alloc_slots(cap);
	uint32_t i;

	if (!slots)
		return -1;
	for (i = 0; i < m->cap; i++) {
		const struct strmap_slot *s = &m->slots[i];
		uint32_t j;

		if (!s->hash)
			continue;
		for (j = s->hash & (cap - 1); slots[j].hash; j = (j + 1) & (cap - 1))
			;
		slots[j] = *s;
	}
	free_slots(m->slots, m->cap);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int strmap_reserve(struct strmap *m, size_t n)
{
	uint32_t cap = m->cap ? m->cap : 16;

	if (n > (size_t)1 << 30)
		return -1;
	/* Keep the load factor at or under one half: probes stay short. */
	while ((size_t)cap < n * 2) {
		if (cap >= (1u << 31))
			return -1;
		cap *= 2;
	}
	return cap == m->cap ? 0 : rehash(m, cap);
}

int strmap_probe_hashed(const struct strmap *m, const char *key, size_t len, uint32_t h,
			struct strmap_pos *pos, uint32_t *value)
{
	uint32_t j;

	pos->hash = h;
	pos->slot = 0;
	if (!m->cap)
		return 0;
	for (j = h & (m->cap - 1); m->slots[j].hash; j = (j + 1) & (m->cap - 1)) {
		if (keys_equal(m, &m->slots[j], key, len, h)) {
			pos->slot = j;
			if (value)
				*value = m->slots[j].value;
			return 1;
		}
	}
	pos->slot = j;
	return 0;
}

int strmap_probe(const struct strmap *m, const char *key, size_t len,
		 struct strmap_pos *pos, uint32_t *value)
{
	return strmap_probe_hashed(m, key, len, hash_bytes(key, len, m->flags & STRMAP_ASCII_CI),
				   pos, value);
}

uint32_t strmap_prefetch(const struct strmap *m, const char *key, size_t len)
{
	uint32_t h = hash_bytes(key, len, m->flags & STRMAP_ASCII_CI);

	if (m->cap)
		__builtin_prefetch(&m->slots[h & (m->cap - 1)]);
	return h;
}

void strmap_put_at(struct strmap *m, const struct strmap_pos *pos, const char *key,
		   uint32_t value)
{
	m->slots[pos->slot].key = key;
	m->slots[pos->slot].hash = pos->hash;
	m->slots[pos->slot].value = value;
	m->count++;
}

int strmap_put(struct strmap *m, const char *key, size_t len, uint32_t value,
	       uint32_t *existing)
{
	struct strmap_pos pos;

	if (strmap_reserve(m, (size_t)m->count + 1) < 0)
		return -1;
	if (strmap_probe(m, key, len, &pos, existing))
		return 1;
	strmap_put_at(m, &pos, key, value);
	return 0;
}

int strmap_get(const struct strmap *m, const char *key, size_t len,
	       uint32_t *value)
{
	struct strmap_pos pos;

	return strmap_probe(m, key, len, &pos, value);
}

int strmap_set(struct strmap *m, const char *key, size_t len, uint32_t value)
{
	struct strmap_pos pos;

	if (!strmap_probe(m, key, len, &pos, NULL))
		return -1;
	m->slots[pos.slot].value = value;
	return 0;
}

/* Where id is, or would go (a map with room for one more key). */
static int probe_id(const struct strmap *m, uint64_t id, uint32_t h, uint32_t *slot)
{
	uint32_t j;

	for (j = h & (m->cap - 1); m->slots[j].hash; j = (j + 1) & (m->cap - 1)) {
		if (m->slots[j].hash == h && m->slots[j].id == id) {
			*slot = j;
			return 1;
		}
	}
	*slot = j;
	return 0;
}

int strmap_put_id(struct strmap *m, uint64_t id, uint32_t value, uint32_t *existing)
{
	uint32_t h = hash_id(id), j;

	if (strmap_reserve(m, (size_t)m->count + 1) < 0)
		return -1;
	if (probe_id(m, id, h, &j)) {
		if (existing)
			*existing = m->slots[j].value;
		return 1;
	}
	m->slots[j].id = id;
	m->slots[j].hash = h;
	m->slots[j].value = value;
	m->count++;
	return 0;
}

int strmap_get_id(const struct strmap *m, uint64_t id, uint32_t *value)
{
	uint32_t j;

	if (!m->cap || !probe_id(m, id, hash_id(id), &j))
		return 0;
	if (value)
		*value = m->slots[j].value;
	return 1;
}

void strmap_prefetch_id(const struct strmap *m, uint64_t id)
{
	if (m->cap)
		__builtin_prefetch(&m->slots[hash_id(id) & (m->cap - 1)]);
}
