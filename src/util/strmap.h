/*
 * strmap: open-addressing hash table from a string key to a uint32 value.
 * Keys are borrowed, never copied: the caller keeps them alive (usually in
 * an org's arena) for the map's lifetime. A map built with STRMAP_ASCII_CI
 * hashes and compares with ASCII letters folded; other bytes (UTF-8
 * sequences included) compare exactly, so folding never breaks a code point.
 */
#ifndef ORGSYNC_STRMAP_H
#define ORGSYNC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

enum strmap_flags { STRMAP_EXACT = 0, STRMAP_ASCII_CI = 1 };

struct strmap_slot {
	const char *key; /* NULL: empty slot */
	uint32_t len;
	uint32_t hash;
	uint32_t value;
};

struct strmap {
	struct strmap_slot *slots;
	uint32_t cap; /* power of two, or 0 */
	uint32_t count;
	int flags;
};

void strmap_init(struct strmap *m, int flags);
void strmap_free(struct strmap *m);

/*
 * Inserts key -> value unless the key is present. Returns 0 when inserted,
 * 1 when present (*existing gets its value, if not NULL), -1 out of memory.
 */
int strmap_put(struct strmap *m, const char *key, size_t len, uint32_t value,
	       uint32_t *existing);

/* Returns 1 and fills *value when found, 0 otherwise. */
int strmap_get(const struct strmap *m, const char *key, size_t len,
	       uint32_t *value);

/* Replaces the value of a present key; returns 0, or -1 when absent. */
int strmap_set(struct strmap *m, const char *key, size_t len, uint32_t value);

/* Reserves room for n keys without rehashing; -1 out of memory. */
int strmap_reserve(struct strmap *m, size_t n);

/* ASCII-only case folding helpers shared with callers that compare keys. */
int strmap_ci_equal(const char *a, const char *b, size_t len);

#endif
