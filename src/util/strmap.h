/*
 * strmap: the open-addressing hash table, from a string key or a 64-bit
 * id to a uint32 value (usually an index into the caller's array). String
 * keys are borrowed, never copied: the caller keeps them alive (usually in
 * an org's arena) for the map's lifetime, NUL-terminated right after their
 * len bytes. A map built with STRMAP_ASCII_CI hashes and compares with
 * ASCII letters folded; other bytes (UTF-8 sequences included) compare
 * exactly, so folding never breaks a code point. A map built with
 * STRMAP_ID holds ids, stored in the slot, and takes the *_id functions.
 * Keys are hashed with keyhash (SipHash-1-3 under a per-process random
 * key), so the slots that tenant-supplied keys land in cannot be chosen
 * from outside.
 */
#ifndef ORGSYNC_STRMAP_H
#define ORGSYNC_STRMAP_H

#include <stddef.h>
#include <stdint.h>

enum strmap_flags { STRMAP_EXACT = 0, STRMAP_ASCII_CI = 1, STRMAP_ID = 2 };

/* 16 bytes: four slots a cache line, which is what lookups in a large map cost. */
struct strmap_slot {
	union {
		const char *key; /* a string map's */
		uint64_t id;     /* an id map's */
	};
	uint32_t hash; /* 0: empty slot; else the key's hash with its top bit set */
	uint32_t value;
};

struct strmap {
	struct strmap_slot *slots;
	uint32_t cap; /* power of two, or 0 */
	uint32_t count;
	int flags;
};

/* Where a key is, or would go: from strmap_probe, for strmap_put_at. */
struct strmap_pos {
	uint32_t slot;
	uint32_t hash;
};

/* Also draws the process's hash key on first use (keyhash_init). */
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

/*
 * Two-step insertion, for inserting into several maps only when the key is
 * new in all of them. strmap_probe needs room for one more key (reserve
 * count + 1 first); returns 1 when found (*value filled), 0 when not, with
 * *pos where it goes. strmap_put_at stores it there; no other insertion
 * into that map may come between the two.
 */
int strmap_probe(const struct strmap *m, const char *key, size_t len,
		 struct strmap_pos *pos, uint32_t *value);
void strmap_put_at(struct strmap *m, const struct strmap_pos *pos, const char *key,
		   uint32_t value);

/*
 * Starts loading the slot where key would be, so that a probe a little
 * later (when its record is complete) does not wait on memory. Returns
 * the key's hash in this map, for strmap_probe_hashed.
 */
uint32_t strmap_prefetch(const struct strmap *m, const char *key, size_t len);

/* strmap_probe with the hash strmap_prefetch returned for this key and map. */
int strmap_probe_hashed(const struct strmap *m, const char *key, size_t len, uint32_t hash,
			struct strmap_pos *pos, uint32_t *value);

/*
 * The same for a map built with STRMAP_ID: every id is a key (0 too).
 * strmap_reserve and strmap_free serve both kinds; the string functions
 * above must not be used on an id map, nor these on a string map.
 */
int strmap_put_id(struct strmap *m, uint64_t id, uint32_t value, uint32_t *existing);
int strmap_get_id(const struct strmap *m, uint64_t id, uint32_t *value);
void strmap_prefetch_id(const struct strmap *m, uint64_t id);

/* ASCII-only case-insensitive comparison of len bytes. */
int strmap_ci_equal(const char *a, const char *b, size_t len);

#endif
