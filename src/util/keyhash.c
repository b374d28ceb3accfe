#include "util/keyhash.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/os.h"

static uint64_t k0, k1;
static pthread_once_t drawn = PTHREAD_ONCE_INIT;

static void set_key(const uint8_t key[KEYHASH_KEY_LEN])
{
	memcpy(&k0, key, 8);
	memcpy(&k1, key + 8, 8);
}

static void draw(void)
{
	uint8_t key[KEYHASH_KEY_LEN];

	/* Without the system's randomness the process stops: no table is ever
	 * keyed with something predictable. */
	if (os_random(key, sizeof(key)) != 0)
		abort();
	set_key(key);
	os_memzero(key, sizeof(key));
}

void keyhash_init(void)
{
	pthread_once(&drawn, draw);
}

void keyhash_set_key_for_tests(const uint8_t key[KEYHASH_KEY_LEN])
{
	keyhash_init();
	set_key(key);
}

/* SipHash (Aumasson and Bernstein) with one compression and three
 * finalization rounds: the variant redis, Python and Rust key their tables
 * with, fast on the short strings of an org and still a PRF to anyone who
 * does not hold the key. */
struct sip {
	uint64_t v0, v1, v2, v3;
};

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline void sipround(struct sip *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline struct sip sip_start(void)
{
	return (struct sip){ k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
			     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull };
}

static inline void sip_word(struct sip *s, uint64_t m)
{
	s->v3 ^= m;
	sipround(s);
	s->v0 ^= m;
}

/* last: the final word, the message's length in its top byte. */
static inline uint64_t sip_end(struct sip *s, uint64_t last)
{
	sip_word(s, last);
	s->v2 ^= 0xff;
	sipround(s);
	sipround(s);
	sipround(s);
	return s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
}

/* Folds the ASCII capitals of 8 bytes at once; other bytes stay as they are. */
static inline uint64_t fold8(uint64_t w)
{
	const uint64_t low7 = w & 0x7f7f7f7f7f7f7f7full;
	const uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full; /* high bit: byte >= 'A' */
	const uint64_t gt_z = low7 + 0x2525252525252525ull; /* high bit: byte > 'Z' */

	return w | (((ge_a & ~gt_z & ~w) & 0x8080808080808080ull) >> 2);
}

static inline uint64_t sip_bytes(const char *p, size_t len, int ci)
{
	struct sip s = sip_start();
	uint64_t w;
	size_t i = 0;

	for (; i + 8 <= len; i += 8) {
		memcpy(&w, p + i, 8);
		sip_word(&s, ci ? fold8(w) : w);
	}
	w = 0;
	memcpy(&w, p + i, len - i);
	if (ci)
		w = fold8(w);
	return sip_end(&s, w | (uint64_t)len << 56);
}

uint64_t keyhash_bytes(const void *p, size_t len)
{
	return sip_bytes(p, len, 0);
}

uint64_t keyhash_bytes_ascii_ci(const void *p, size_t len)
{
	return sip_bytes(p, len, 1);
}

uint64_t keyhash_u64(uint64_t x)
{
	struct sip s = sip_start();

	sip_word(&s, x);
	return sip_end(&s, (uint64_t)8 << 56);
}
