#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

static inline unsigned char fold(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* FNV-1a: short keys dominate (ids, emails), where it beats fancier hashes. */
static uint32_t hash_bytes(const char *s, size_t len, int ci)
{
	uint32_t h = 2166136261u;
	size_t i;

	if (ci) {
		for (i = 0; i < len; i++)
			h = (h ^ fold((unsigned char)s[i])) * 16777619u;
	} else {
		for (i = 0; i < len; i++)
			h = (h ^ (unsigned char)s[i]) * 16777619u;
	}
	return h;
}

int strmap_ci_equal(const char *a, const char *b, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (fold((unsigned char)a[i]) != fold((unsigned char)b[i]))
			return 0;
	return 1;
}

static int keys_equal(const struct strmap *m, const struct strmap_slot *s,
		      const char *key, size_t len, uint32_t h)
{
	if (s->hash != h || s->len != len)
		return 0;
	if (m->flags & STRMAP_ASCII_CI)
		return strmap_ci_equal(s->key, key, len);
	return memcmp(s->key, key, len) == 0;
}

void strmap_init(struct strmap *m, int flags)
{
	m->slots = NULL;
	m->cap = 0;
	m->count = 0;
	m->flags = flags;
}

void strmap_free(struct strmap *m)
{
	free(m->slots);
	strmap_init(m, m->flags);
}

static int rehash(struct strmap *m, uint32_t cap)
{
	struct strmap_slot *slots = calloc(cap, sizeof(*slots));
	uint32_t i;

	if (!slots)
		return -1;
	for (i = 0; i < m->cap; i++) {
		const struct strmap_slot *s = &m->slots[i];
		uint32_t j;

		if (!s->key)
			continue;
		for (j = s->hash & (cap - 1); slots[j].key; j = (j + 1) & (cap - 1))
			;
		slots[j] = *s;
	}
	free(m->slots);
	m->slots = slots;
	m->cap = cap;
	return 0;
}

int strmap_reserve(struct strmap *m, size_t n)
{
	uint32_t cap = m->cap ? m->cap : 16;

	/* Keep the load factor at or under one half: probes stay short. */
	while ((size_t)cap < n * 2) {
		if (cap >= (1u << 31))
			return -1;
		cap *= 2;
	}
	return cap == m->cap ? 0 : rehash(m, cap);
}

static struct strmap_slot *find(const struct strmap *m, const char *key,
				size_t len, uint32_t h)
{
	uint32_t j;

	if (!m->cap)
		return NULL;
	for (j = h & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1))
		if (keys_equal(m, &m->slots[j], key, len, h))
			return &m->slots[j];
	return NULL;
}

int strmap_put(struct strmap *m, const char *key, size_t len, uint32_t value,
	       uint32_t *existing)
{
	uint32_t h = hash_bytes(key, len, m->flags & STRMAP_ASCII_CI);
	struct strmap_slot *s = find(m, key, len, h);
	uint32_t j;

	if (s) {
		if (existing)
			*existing = s->value;
		return 1;
	}
	if (len > UINT32_MAX || strmap_reserve(m, (size_t)m->count + 1) < 0)
		return -1;
	for (j = h & (m->cap - 1); m->slots[j].key; j = (j + 1) & (m->cap - 1))
		;
	m->slots[j].key = key;
	m->slots[j].len = (uint32_t)len;
	m->slots[j].hash = h;
	m->slots[j].value = value;
	m->count++;
	return 0;
}

int strmap_get(const struct strmap *m, const char *key, size_t len,
	       uint32_t *value)
{
	const struct strmap_slot *s =
		find(m, key, len, hash_bytes(key, len, m->flags & STRMAP_ASCII_CI));

	if (!s)
		return 0;
	if (value)
		*value = s->value;
	return 1;
}

int strmap_set(struct strmap *m, const char *key, size_t len, uint32_t value)
{
	struct strmap_slot *s =
		find(m, key, len, hash_bytes(key, len, m->flags & STRMAP_ASCII_CI));

	if (!s)
		return -1;
	s->value = value;
	return 0;
}
