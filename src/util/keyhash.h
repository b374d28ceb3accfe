/*
 * keyhash: the per-process secret key under every hash table that holds
 * what a tenant sent (member and team ids, emails, property names, mapping
 * pairs, rate limit keys), and SipHash-1-3 under that key. A table with an
 * unkeyed hash lets anyone compute offline many keys that share one probe
 * run, which turns each insertion into a scan of all the others; with a key
 * drawn at random in each process nobody can. It owns the key, not the
 * tables (strmap does, for the model, the plan and the rate limiter).
 */
#ifndef ORGSYNC_KEYHASH_H
#define ORGSYNC_KEYHASH_H

#include <stddef.h>
#include <stdint.h>

enum { KEYHASH_KEY_LEN = 16 };

/*
 * Draws the key from the system's generator (os_random), once per process,
 * whichever thread calls first (pthread_once); later calls return at once.
 * Every table calls it before its first hash (strmap_init), and main calls
 * it first. Without randomness it aborts the process: there is no fallback
 * to a key someone could guess.
 */
void keyhash_init(void);

/* SipHash-1-3 of len bytes under the key (keyhash_init must have run). */
uint64_t keyhash_bytes(const void *p, size_t len);

/* The same of the bytes with ASCII capitals folded to small letters: equal
 * to keyhash_bytes of the folded copy, other bytes (UTF-8) untouched. */
uint64_t keyhash_bytes_ascii_ci(const void *p, size_t len);

/* SipHash-1-3 of the 8 bytes of x (little-endian), for integer keys. */
uint64_t keyhash_u64(uint64_t x);

/*
 * Replaces the key: for the tests and benchmarks that need to know it (to
 * build colliding ids, or to check test vectors). Nothing in the service or
 * the CLI calls it. Call it before any table is built, from one thread.
 */
void keyhash_set_key_for_tests(const uint8_t key[KEYHASH_KEY_LEN]);

#endif
