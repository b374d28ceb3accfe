/*
 * util: strmap (the index under every lookup of the model), the keyed hash
 * under it, and the arena and buf it works beside. Contracts from the
 * headers: duplicates keep the first value, ASCII-only folding, growth
 * without losing keys; SipHash-1-3 under a key drawn anew by each process;
 * arena blocks aligned and disjoint; buf always NUL-terminated and
 * unchanged on failure.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit/check.h"

#include "util/arena.h"
#include "util/buf.h"
#include "util/keyhash.h"
#include "util/strmap.h"

#define S(lit) lit, sizeof(lit) - 1

/* ---- strmap ---- */

static void test_strmap_empty_map(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("get on a never-used map", 0, strmap_get(&m, S("E001"), &v));
	CHECK_EQ("set on a never-used map", -1, strmap_set(&m, S("E001"), 5));
	CHECK_EQ("count after failed set", 0, m.count);
	strmap_free(&m);
}

static void test_strmap_put_get(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("put alpha", 0, strmap_put(&m, S("alpha"), 1, NULL));
	CHECK_EQ("put beta", 0, strmap_put(&m, S("beta"), 2, NULL));
	CHECK_EQ("count", 2, m.count);
	CHECK_EQ("get alpha found", 1, strmap_get(&m, S("alpha"), &v));
	CHECK_EQ("get alpha value", 1, v);
	CHECK_EQ("get beta found", 1, strmap_get(&m, S("beta"), &v));
	CHECK_EQ("get beta value", 2, v);
	CHECK_EQ("get gamma (absent)", 0, strmap_get(&m, S("gamma"), &v));
	CHECK_EQ("get with NULL value pointer", 1, strmap_get(&m, S("alpha"), NULL));
	CHECK_EQ("exact map is case-sensitive", 0, strmap_get(&m, S("ALPHA"), &v));
	strmap_free(&m);
}

static void test_strmap_duplicate_keeps_first(void **state)
{
	struct strmap m;
	uint32_t existing = 12345, v = 0;
	char again[] = "E001";

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("first put", 0, strmap_put(&m, S("E001"), 7, NULL));
	CHECK_EQ("second put of the same key", 1, strmap_put(&m, S("E001"), 9, &existing));
	CHECK_EQ("existing value reported", 7, existing);
	CHECK_EQ("value after duplicate put", 1, strmap_get(&m, S("E001"), &v));
	CHECK_EQ("duplicate put must not overwrite", 7, v);
	CHECK_EQ("count after duplicate put", 1, m.count);
	CHECK_EQ("duplicate put with NULL existing", 1, strmap_put(&m, S("E001"), 9, NULL));
	CHECK_EQ("same bytes from another pointer", 1, strmap_put(&m, again, 4, 3, &existing));
	CHECK_EQ("existing via another pointer", 7, existing);
	strmap_free(&m);
}

static void test_strmap_set(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	assert_int_equal(strmap_put(&m, S("T1"), 1, NULL), 0);
	CHECK_EQ("set present key", 0, strmap_set(&m, S("T1"), 42));
	CHECK_EQ("get after set", 1, strmap_get(&m, S("T1"), &v));
	CHECK_EQ("value after set", 42, v);
	CHECK_EQ("set absent key", -1, strmap_set(&m, S("T2"), 5));
	CHECK_EQ("set absent key does not insert", 0, strmap_get(&m, S("T2"), &v));
	CHECK_EQ("count after set", 1, m.count);
	strmap_free(&m);
}

/* Keys are (pointer, length): prefixes and "" are distinct keys. */
static void test_strmap_length_is_the_key(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("put E1", 0, strmap_put(&m, S("E1"), 1, NULL));
	CHECK_EQ("put E10", 0, strmap_put(&m, S("E10"), 10, NULL));
	CHECK_EQ("put E100", 0, strmap_put(&m, S("E100"), 100, NULL));
	CHECK_EQ("put empty key", 0, strmap_put(&m, S(""), 999, NULL));
	CHECK_EQ("put a", 0, strmap_put(&m, S("a"), 5, NULL));
	CHECK_EQ("count", 5, m.count);
	CHECK_EQ("E10 found", 1, strmap_get(&m, S("E10"), &v));
	CHECK_EQ("E10 value", 10, v);
	CHECK_EQ("E1 found", 1, strmap_get(&m, S("E1"), &v));
	CHECK_EQ("E1 value", 1, v);
	CHECK_EQ("E100 read as 3 bytes is E10", 1, strmap_get(&m, "E100", 3, &v));
	CHECK_EQ("E100 read as 3 bytes value", 10, v);
	CHECK_EQ("empty key found", 1, strmap_get(&m, "xyz", 0, &v));
	CHECK_EQ("empty key value", 999, v);
	CHECK_EQ("E1000 absent", 0, strmap_get(&m, S("E1000"), &v));
	CHECK_EQ("E absent", 0, strmap_get(&m, S("E"), &v));
	strmap_free(&m);
}

static void test_strmap_ascii_ci(void **state)
{
	struct strmap m;
	uint32_t v = 0, existing = 0;

	(void)state;
	strmap_init(&m, STRMAP_ASCII_CI);
	CHECK_EQ("put mixed case", 0, strmap_put(&m, S("Alice.Tremblay@Example.COM"), 1, NULL));
	CHECK_EQ("get lower case", 1, strmap_get(&m, S("alice.tremblay@example.com"), &v));
	CHECK_EQ("get lower case value", 1, v);
	CHECK_EQ("get upper case", 1, strmap_get(&m, S("ALICE.TREMBLAY@EXAMPLE.COM"), &v));
	CHECK_EQ("put again in lower case", 1,
		 strmap_put(&m, S("alice.tremblay@example.com"), 2, &existing));
	CHECK_EQ("existing of the case-folded duplicate", 1, existing);
	CHECK_EQ("set through another case", 0, strmap_set(&m, S("ALICE.tremblay@example.com"), 8));
	CHECK_EQ("get after set", 1, strmap_get(&m, S("Alice.Tremblay@Example.COM"), &v));
	CHECK_EQ("value after set", 8, v);
	CHECK_EQ("count", 1, m.count);
	strmap_free(&m);
}

/*
 * Only A-Z fold. Bytes 0x20 apart that are not ASCII letters stay distinct:
 * '@'/'`', '['/'{', and UTF-8 continuation bytes (É is C3 89, é is C3 A9).
 */
static void test_strmap_ascii_ci_folds_nothing_else(void **state)
{
	static const char *const upper_e = "\xC3\x89lodie@X.com"; /* Élodie@X.com */
	static const char *const lower_e = "\xC3\xA9lodie@x.com"; /* élodie@x.com */
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_ASCII_CI);
	CHECK_EQ("put \xC3\x89lodie@X.com", 0, strmap_put(&m, upper_e, strlen(upper_e), 1, NULL));
	CHECK_EQ("put \xC3\xA9lodie@x.com (É does not fold to é)", 0,
		 strmap_put(&m, lower_e, strlen(lower_e), 2, NULL));
	CHECK_EQ("get \xC3\x89lodie@X.com", 1, strmap_get(&m, upper_e, strlen(upper_e), &v));
	CHECK_EQ("value of \xC3\x89lodie@X.com", 1, v);
	CHECK_EQ("get \xC3\xA9lodie@x.com", 1, strmap_get(&m, lower_e, strlen(lower_e), &v));
	CHECK_EQ("value of \xC3\xA9lodie@x.com", 2, v);
	CHECK_EQ("get \xC3\x89LODIE@x.COM (ASCII part folded)", 1,
		 strmap_get(&m, S("\xC3\x89LODIE@x.COM"), &v));
	CHECK_EQ("value of \xC3\x89LODIE@x.COM", 1, v);
	CHECK_EQ("put a@b", 0, strmap_put(&m, S("a@b"), 3, NULL));
	CHECK_EQ("put a`b ('@' and '`' do not fold)", 0, strmap_put(&m, S("a`b"), 4, NULL));
	CHECK_EQ("put x[y", 0, strmap_put(&m, S("x[y"), 5, NULL));
	CHECK_EQ("put x{y ('[' and '{' do not fold)", 0, strmap_put(&m, S("x{y"), 6, NULL));
	CHECK_EQ("put z^", 0, strmap_put(&m, S("z^"), 7, NULL));
	CHECK_EQ("put z~ ('^' and '~' do not fold)", 0, strmap_put(&m, S("z~"), 8, NULL));
	CHECK_EQ("count", 8, m.count);
	strmap_free(&m);

	CHECK_EQ("ci_equal ABC abc", 1, strmap_ci_equal("ABC", "abc", 3));
	CHECK_EQ("ci_equal @ `", 0, strmap_ci_equal("@", "`", 1));
	CHECK_EQ("ci_equal [ {", 0, strmap_ci_equal("[", "{", 1));
	CHECK_EQ("ci_equal É é", 0, strmap_ci_equal("\xC3\x89", "\xC3\xA9", 2));
	CHECK_EQ("ci_equal Ç ç", 0, strmap_ci_equal("\xC3\x87", "\xC3\xA7", 2));
	CHECK_EQ("ci_equal only len bytes", 1, strmap_ci_equal("abcX", "ABCy", 3));
	CHECK_EQ("ci_equal len 0", 1, strmap_ci_equal("a", "b", 0));
}

/* Exact maps fold nothing, not even ASCII. */
static void test_strmap_exact_folds_nothing(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("put E001", 0, strmap_put(&m, S("E001"), 1, NULL));
	CHECK_EQ("put e001", 0, strmap_put(&m, S("e001"), 2, NULL));
	CHECK_EQ("get e001", 1, strmap_get(&m, S("e001"), &v));
	CHECK_EQ("value of e001", 2, v);
	strmap_free(&m);
}

static void test_strmap_reserve(void **state)
{
	struct strmap m;
	const struct strmap_slot *slots;
	char keys[1000][8];
	uint32_t i, cap, v;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	CHECK_EQ("reserve 1000", 0, strmap_reserve(&m, 1000));
	cap = m.cap;
	if (cap < 2000 || (cap & (cap - 1)))
		fail_msg("reserve 1000: cap %u is not a power of two >= 2000", cap);
	slots = m.slots;
	for (i = 0; i < 1000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%u", i);
		CHECK_EQ(keys[i], 0, strmap_put(&m, keys[i], strlen(keys[i]), i, NULL));
	}
	CHECK_EQ("cap unchanged after 1000 reserved puts", cap, m.cap);
	if (m.slots != slots)
		fail_msg("reserve 1000: table was rehashed while filling reserved room");
	CHECK_EQ("reserve less than present", 0, strmap_reserve(&m, 10));
	CHECK_EQ("cap after smaller reserve", cap, m.cap);
	for (i = 0; i < 1000; i++) {
		CHECK_EQ(keys[i], 1, strmap_get(&m, keys[i], strlen(keys[i]), &v));
		CHECK_EQ(keys[i], i, v);
	}
	strmap_free(&m);
}

/*
 * Asking for more than a uint32 table can hold fails, and leaves the map
 * as it was; n * 2 must not wrap around into a small, "satisfied" request.
 */
static void test_strmap_reserve_too_many(void **state)
{
	static const size_t huge[] = {
		(size_t)1 << 31, SIZE_MAX / 2, SIZE_MAX / 2 + 1, SIZE_MAX / 2 + 2, SIZE_MAX,
	};
	struct strmap m;
	uint32_t v = 0;
	size_t i;

	(void)state;
	strmap_init(&m, STRMAP_EXACT);
	assert_int_equal(strmap_put(&m, S("kept"), 1, NULL), 0);
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		int rc = strmap_reserve(&m, huge[i]);

		if (rc != -1)
			fail_msg("strmap_reserve(%zu): expected -1, got %d (cap %u)", huge[i], rc,
				 m.cap);
		CHECK_EQ("key kept after failed reserve", 1, strmap_get(&m, S("kept"), &v));
		CHECK_EQ("value kept after failed reserve", 1, v);
	}
	strmap_free(&m);
}

static void test_strmap_free_and_reuse(void **state)
{
	struct strmap m;
	uint32_t v = 0;

	(void)state;
	strmap_init(&m, STRMAP_ASCII_CI);
	strmap_free(&m); /* never used */
	assert_int_equal(strmap_put(&m, S("A@x.com"), 1, NULL), 0);
	strmap_free(&m);
	assert_null(m.slots);
	CHECK_EQ("cap after free", 0, m.cap);
	CHECK_EQ("count after free", 0, m.count);
	CHECK_EQ("flags kept after free", STRMAP_ASCII_CI, m.flags);
	CHECK_EQ("get after free", 0, strmap_get(&m, S("a@x.com"), &v));
	CHECK_EQ("put after free", 0, strmap_put(&m, S("B@x.com"), 2, NULL));
	CHECK_EQ("reused map still folds", 1, strmap_get(&m, S("b@X.COM"), &v));
	CHECK_EQ("value in reused map", 2, v);
	strmap_free(&m);
}

/* Two-step insertion: a key goes in only when it is new in both maps. */
static void test_strmap_probe_put_at(void **state)
{
	struct strmap ids, emails;
	struct strmap_pos pid, pemail;
	uint32_t v = 0;

	(void)state;
	strmap_init(&ids, STRMAP_EXACT);
	strmap_init(&emails, STRMAP_ASCII_CI);
	assert_int_equal(strmap_reserve(&ids, 1), 0);
	assert_int_equal(strmap_reserve(&emails, 1), 0);
	CHECK_EQ("probe new id", 0, strmap_probe(&ids, S("E001"), &pid, &v));
	CHECK_EQ("probe new email", 0, strmap_probe(&emails, S("Noel@Maple.example"), &pemail, &v));
	strmap_put_at(&ids, &pid, "E001", 0);
	strmap_put_at(&emails, &pemail, "Noel@Maple.example", 0);
	CHECK_EQ("ids count after put_at", 1, ids.count);
	CHECK_EQ("emails count after put_at", 1, emails.count);
	CHECK_EQ("get after put_at", 1, strmap_get(&emails, S("noel@maple.EXAMPLE"), &v));
	CHECK_EQ("value after put_at", 0, v);

	/* E002 is new, its email is not: nothing is inserted anywhere */
	assert_int_equal(strmap_reserve(&ids, 2), 0);
	assert_int_equal(strmap_reserve(&emails, 2), 0);
	CHECK_EQ("probe E002", 0, strmap_probe(&ids, S("E002"), &pid, &v));
	v = 99;
	CHECK_EQ("probe taken email", 1, strmap_probe(&emails, S("NOEL@maple.example"), &pemail, &v));
	CHECK_EQ("value of the taken email", 0, v);
	CHECK_EQ("ids count after refused pair", 1, ids.count);
	CHECK_EQ("E002 not inserted", 0, strmap_get(&ids, S("E002"), &v));
	CHECK_EQ("probe with NULL value", 1, strmap_probe(&ids, S("E001"), &pid, NULL));
	strmap_free(&ids);
	strmap_free(&emails);
}

/* An id map: every 64-bit value is a key, 0 and all ones included. */
static void test_strmap_ids(void **state)
{
	static const uint64_t ids[] = { 0, 1, 7ull << 32, UINT64_MAX, 0x8000000000000000ull };
	enum { N = sizeof(ids) / sizeof(ids[0]) };
	struct strmap m;
	uint32_t v = 0, i;

	(void)state;
	strmap_init(&m, STRMAP_ID);
	CHECK_EQ("get in an empty id map", 0, strmap_get_id(&m, 0, &v));
	strmap_prefetch_id(&m, 0); /* no slots yet: nothing to load */
	for (i = 0; i < N; i++)
		CHECK_EQ("put a new id", 0, strmap_put_id(&m, ids[i], i, NULL));
	CHECK_EQ("count", N, m.count);
	for (i = 0; i < N; i++) {
		v = 99;
		CHECK_EQ("get a present id", 1, strmap_get_id(&m, ids[i], &v));
		CHECK_EQ("its value", i, v);
	}
	CHECK_EQ("put 0 again", 1, strmap_put_id(&m, 0, 42, &v));
	CHECK_EQ("the first value stays", 0, v);
	CHECK_EQ("get 0 after the duplicate", 1, strmap_get_id(&m, 0, &v));
	CHECK_EQ("value of 0 after the duplicate", 0, v);
	CHECK_EQ("2 is absent", 0, strmap_get_id(&m, 2, &v));
	CHECK_EQ("7 alone is absent (the high half matters)", 0, strmap_get_id(&m, 7, NULL));
	CHECK_EQ("get with NULL value", 1, strmap_get_id(&m, UINT64_MAX, NULL));
	strmap_free(&m);
	CHECK_EQ("get after free", 0, strmap_get_id(&m, 1, &v));
	CHECK_EQ("flags kept after free", STRMAP_ID, m.flags);
}

/* Ids put one at a time grow the map; reserved room takes them without a rehash. */
static void test_strmap_ids_grow(void **state)
{
	enum { N = 200000 };
	const struct strmap_slot *slots;
	struct strmap m;
	uint32_t v, i, cap;

	(void)state;
	strmap_init(&m, STRMAP_ID);
	for (i = 0; i < N; i++)
		if (strmap_put_id(&m, (uint64_t)i * 0x9e3779b97f4a7c15ull, i, NULL) != 0)
			fail_msg("put of id %u did not return 0", i);
	for (i = 0; i < N; i++) {
		if (strmap_get_id(&m, (uint64_t)i * 0x9e3779b97f4a7c15ull, &v) != 1 || v != i)
			fail_msg("id %u: not found after growth, or another value (%u)", i, v);
		strmap_prefetch_id(&m, (uint64_t)i);
	}
	CHECK_EQ("no stray id", 0, strmap_get_id(&m, 3, NULL));
	strmap_free(&m);

	CHECK_EQ("reserve", 0, strmap_reserve(&m, 1000));
	cap = m.cap;
	slots = m.slots;
	for (i = 0; i < 1000; i++)
		CHECK_EQ("put into reserved room", 0, strmap_put_id(&m, i, i, NULL));
	CHECK_EQ("cap unchanged after 1000 reserved puts", cap, m.cap);
	if (m.slots != slots)
		fail_msg("reserve 1000: id map was rehashed while filling reserved room");
	strmap_free(&m);
}

static int cmp_slot_hash(const void *pa, const void *pb)
{
	const struct strmap_slot *a = pa, *b = pb;

	return a->hash < b->hash ? -1 : a->hash > b->hash;
}

/*
 * Keys of many lengths, each in a heap block of its own size, in numbers
 * where 32-bit hashes collide: keys with the same hash must still tell
 * each other apart by their bytes, and comparing them must not read past
 * the shorter key (ASan checks every byte a comparison reads).
 */
static void check_collisions(int flags, const char *what)
{
	enum { N = 300000 };
	char **keys = calloc(N, sizeof(*keys));
	struct strmap_slot *copy;
	struct strmap m;
	char tmp[32], name[96];
	uint32_t i, v, same = 0;

	assert_non_null(keys);
	strmap_init(&m, flags);
	for (i = 0; i < N; i++) {
		int n = snprintf(tmp, sizeof(tmp), "%.*s%u", (int)(i % 9), "xxxxxxxxx", i * 2654435761u);

		keys[i] = malloc((size_t)n + 1);
		assert_non_null(keys[i]);
		memcpy(keys[i], tmp, (size_t)n + 1);
		if (strmap_put(&m, keys[i], (size_t)n, i, NULL) != 0)
			fail_msg("%s: put of key %u \"%s\" did not return 0", what, i, keys[i]);
	}
	/* count the pairs that share a full hash, so a run says what it covered */
	copy = malloc((size_t)m.cap * sizeof(*copy));
	assert_non_null(copy);
	memcpy(copy, m.slots, (size_t)m.cap * sizeof(*copy));
	qsort(copy, m.cap, sizeof(*copy), cmp_slot_hash);
	for (i = 1; i < m.cap; i++)
		if (copy[i].key && copy[i - 1].key && copy[i].hash == copy[i - 1].hash)
			same++;
	free(copy);
	print_message("%s: %d keys, %u pairs sharing a 32-bit hash\n", what, N, same);
	for (i = 0; i < N; i++) {
		v = UINT32_MAX;
		if (!strmap_get(&m, keys[i], strlen(keys[i]), &v) || v != i) {
			snprintf(name, sizeof(name), "%s: get of \"%s\"", what, keys[i]);
			CHECK_EQ(name, i, v);
		}
	}
	strmap_free(&m);
	for (i = 0; i < N; i++)
		free(keys[i]);
	free(keys);
}

static void test_strmap_full_hash_collisions(void **state)
{
	(void)state;
	check_collisions(STRMAP_EXACT, "exact map");
	check_collisions(STRMAP_ASCII_CI, "ASCII case-folded map");
}

/* A million keys through every rehash: each still found with its value. */
static void test_strmap_million_keys(void **state)
{
	enum { N = 1000000, W = 32 };
	char *keys = malloc((size_t)N * W);
	struct strmap exact, ci;
	uint32_t i, v, existing;
	char name[64], probe[W];

	(void)state;
	assert_non_null(keys);
	strmap_init(&exact, STRMAP_EXACT);
	strmap_init(&ci, STRMAP_ASCII_CI);
	for (i = 0; i < N; i++) {
		char *k = keys + (size_t)i * W;
		size_t len = (size_t)snprintf(k, W, "User%u@Maple.Example", i);

		if (strmap_put(&exact, k, len, i, NULL) != 0 || strmap_put(&ci, k, len, i, NULL) != 0)
			fail_msg("put of key %u (%s) did not return 0", i, k);
	}
	CHECK_EQ("exact count", N, exact.count);
	CHECK_EQ("ci count", N, ci.count);
	if ((size_t)exact.cap < 2 * (size_t)N)
		fail_msg("load factor over one half: cap %u for %d keys", exact.cap, N);
	for (i = 0; i < N; i++) {
		const char *k = keys + (size_t)i * W;
		size_t len = strlen(k), j;

		v = UINT32_MAX;
		if (!strmap_get(&exact, k, len, &v) || v != i) {
			snprintf(name, sizeof(name), "exact get of key %u", i);
			CHECK_EQ(name, i, v);
		}
		/* the case-folded map answers the lower-case spelling */
		for (j = 0; j <= len; j++)
			probe[j] = (char)((k[j] >= 'A' && k[j] <= 'Z') ? k[j] + 32 : k[j]);
		v = UINT32_MAX;
		if (!strmap_get(&ci, probe, len, &v) || v != i) {
			snprintf(name, sizeof(name), "ci get of %s", probe);
			CHECK_EQ(name, i, v);
		}
		if (i % 97 == 0) {
			existing = UINT32_MAX;
			if (strmap_put(&exact, k, len, 0, &existing) != 1 || existing != i) {
				snprintf(name, sizeof(name), "re-put of key %u", i);
				CHECK_EQ(name, i, existing);
			}
		}
	}
	CHECK_EQ("absent key past the end", 0, strmap_get(&exact, S("User1000000@Maple.Example"), &v));
	CHECK_EQ("lower-case key in exact map", 0, strmap_get(&exact, S("user5@maple.example"), &v));
	CHECK_EQ("count after re-puts", N, exact.count);
	strmap_free(&exact);
	strmap_free(&ci);
	free(keys);
}

/* ---- keyhash ---- */

/* The argument that makes this program print one hash under its own key and exit. */
static const char PRINT_PROBE[] = "--print-keyhash-probe";

static const uint8_t KEY_ZERO[KEYHASH_KEY_LEN];
/* The key CPython derives from PYTHONHASHSEED=1 (its LCG), for keyed vectors. */
static const uint8_t KEY_PY1[KEYHASH_KEY_LEN] = { 0x29, 0x23, 0xbe, 0x84, 0xe1, 0x6c, 0xd6, 0xae,
						  0x52, 0x90, 0x49, 0xf1, 0xf1, 0xbb, 0xe9, 0xeb };

/*
 * SipHash-1-3 vectors from CPython 3.11, whose bytes hash is SipHash-1-3:
 * `PYTHONHASHSEED=0 python3 -c 'print(hash(b"a") & (2**64 - 1))'` (an
 * all-zero key), and the same with PYTHONHASHSEED=1 (KEY_PY1). Lengths
 * cover the empty tail, a whole word, and several words with a tail.
 */
static void test_keyhash_vectors(void **state)
{
	static const char seq[] = "\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
				  "\x10\x11\x12\x13\x14\x15\x16\x17\x18\x19\x1a\x1b\x1c\x1d\x1e\x1f\x20";
	static const struct {
		const uint8_t *key;
		const char *in;
		size_t len;
		uint64_t want;
	} v[] = {
		{ KEY_ZERO, "a", 1, 0x407448d2b89b1813ull },
		{ KEY_ZERO, "abcdefgh", 8, 0x3f7b849c0b8e35eaull },
		{ KEY_ZERO, "E0000001", 8, 0x940632f0460e4f30ull },
		{ KEY_ZERO, "zoe@maple.example", 17, 0x4770363328e7b41aull },
		{ KEY_ZERO, seq, 15, 0xf30eb725bb91c9eaull },
		{ KEY_ZERO, seq, 16, 0x8972188433a5c5b7ull },
		{ KEY_ZERO, seq, 33, 0x7fb71d24dfa4c9f6ull },
		{ KEY_PY1, "a", 1, 0xd6300bc9f7cc0e73ull },
		{ KEY_PY1, "E0000001", 8, 0x851af227be88edb1ull },
		{ KEY_PY1, "zoe@maple.example", 17, 0x2b80fc549cac7277ull },
		{ KEY_PY1, seq, 16, 0x12e9d283f9f37002ull },
		{ KEY_PY1, seq, 33, 0x936512292dbf5292ull },
	};
	uint64_t x;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint64_t got;

		keyhash_set_key_for_tests(v[i].key);
		got = keyhash_bytes(v[i].in, v[i].len);
		if (got != v[i].want)
			fail_msg("vector %zu (%zu bytes): expected %016llx, got %016llx", i, v[i].len,
				 (unsigned long long)v[i].want, (unsigned long long)got);
	}
	/* The integer form is the hash of the word's 8 little-endian bytes. */
	keyhash_set_key_for_tests(KEY_PY1);
	x = 0x0706050403020100ull;
	CHECK_EQ("u64 is the hash of its 8 bytes", (long long)keyhash_bytes(seq, 8),
		 (long long)keyhash_u64(x));
}

/* The folded hash is the hash of the folded bytes, whatever the key and length. */
static void test_keyhash_folded(void **state)
{
	static const char alphabet[] = "AZaz@`[{^~09.-_\xC3\x89\xC3\xA9\x80\xff";
	char in[70], folded[70];
	uint32_t x = 12345;
	size_t len, i;
	int rep;

	(void)state;
	keyhash_set_key_for_tests(KEY_PY1);
	for (rep = 0; rep < 200; rep++) {
		len = (size_t)rep % sizeof(in);
		for (i = 0; i < len; i++) {
			x = x * 1103515245u + 12345u;
			in[i] = alphabet[(x >> 16) % (sizeof(alphabet) - 1)];
			folded[i] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
		}
		if (keyhash_bytes_ascii_ci(in, len) != keyhash_bytes(folded, len))
			fail_msg("folded hash of %zu bytes (case %d) differs from the hash of the "
				 "folded bytes", len, rep);
	}
	CHECK_EQ("exact hash keeps case apart", 0, keyhash_bytes(S("Zoe")) == keyhash_bytes(S("zoe")));
}

/*
 * Under a key it knows, the test can do what an attacker without the key
 * cannot: find keys whose hashes share their low 12 bits, so that they all
 * want the same slot of a 4096-slot table. The map must still find each
 * one (and tell them from their case variants), and under another key the
 * same keys must spread out again.
 */
static void test_strmap_keyed_collisions(void **state)
{
	enum { N = 300, BITS = 12 };
	static char keys[N][16];
	static const uint8_t other[KEYHASH_KEY_LEN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
							14, 15, 16 };
	struct strmap m;
	uint32_t found = 0, i, v, longest, run, j;
	uint64_t c;

	(void)state;
	keyhash_set_key_for_tests(KEY_PY1);
	for (c = 0; found < N; c++) {
		/* small letters and digits: the folded hash is the same */
		int len = snprintf(keys[found], sizeof(keys[found]), "e%09llu", (unsigned long long)c);

		if ((keyhash_bytes(keys[found], (size_t)len) & ((1u << BITS) - 1)) == 0x5a5)
			found++;
	}
	for (int flags = STRMAP_EXACT; flags <= STRMAP_ASCII_CI; flags++) {
		strmap_init(&m, flags);
		assert_int_equal(strmap_reserve(&m, 1u << (BITS - 1)), 0);
		CHECK_EQ("cap of the colliding table", 1u << BITS, m.cap);
		for (i = 0; i < N; i++)
			CHECK_EQ(keys[i], 0, strmap_put(&m, keys[i], strlen(keys[i]), i, NULL));
		for (i = 0; i < N; i++) {
			CHECK_EQ(keys[i], 1, strmap_get(&m, keys[i], strlen(keys[i]), &v));
			CHECK_EQ(keys[i], i, v);
		}
		CHECK_EQ("E000... is e000... only ignoring case", flags == STRMAP_ASCII_CI,
			 strmap_get(&m, (char[]){ 'E', keys[0][1], keys[0][2], keys[0][3], keys[0][4],
						  keys[0][5], keys[0][6], keys[0][7], keys[0][8],
						  keys[0][9], 0 }, 10, NULL));
		for (longest = run = j = 0; j < m.cap; j++) {
			run = m.slots[j].key ? run + 1 : 0;
			longest = run > longest ? run : longest;
		}
		if (longest < N)
			fail_msg("under the key they were built for, %u keys should form one run; "
				 "the longest is %u", N, longest);
		strmap_free(&m);
	}

	keyhash_set_key_for_tests(other);
	strmap_init(&m, STRMAP_EXACT);
	assert_int_equal(strmap_reserve(&m, 1u << (BITS - 1)), 0);
	for (i = 0; i < N; i++)
		CHECK_EQ(keys[i], 0, strmap_put(&m, keys[i], strlen(keys[i]), i, NULL));
	for (longest = run = j = 0; j < m.cap; j++) {
		run = m.slots[j].key ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	if (longest > 20)
		fail_msg("under another key the same %u keys should spread: longest run %u", N,
			 longest);
	strmap_free(&m);
}

/*
 * The same for ids (the plan's (team, child) pairs, the rate limiter's
 * keys): under the key they were found for, ids that share the low bits
 * of their hash form one run and are all still found; under another key
 * they spread.
 */
static void test_strmap_keyed_id_collisions(void **state)
{
	enum { N = 300, BITS = 12 };
	static const uint8_t other[KEYHASH_KEY_LEN] = { 1, 2, 3 };
	uint64_t ids[N], c;
	uint32_t found = 0, i, v, longest, run, j;
	struct strmap m;

	(void)state;
	keyhash_set_key_for_tests(KEY_PY1);
	for (c = 0; found < N; c++)
		if ((keyhash_u64(c << 32 | 7) & ((1u << BITS) - 1)) == 0x5a5)
			ids[found++] = c << 32 | 7;
	strmap_init(&m, STRMAP_ID);
	assert_int_equal(strmap_reserve(&m, 1u << (BITS - 1)), 0);
	CHECK_EQ("cap of the colliding table", 1u << BITS, m.cap);
	for (i = 0; i < N; i++)
		CHECK_EQ("put a colliding id", 0, strmap_put_id(&m, ids[i], i, NULL));
	for (i = 0; i < N; i++) {
		CHECK_EQ("get a colliding id", 1, strmap_get_id(&m, ids[i], &v));
		CHECK_EQ("its value", i, v);
	}
	for (longest = run = j = 0; j < m.cap; j++) {
		run = m.slots[j].hash ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	if (longest < N)
		fail_msg("under the key they were built for, %u ids should form one run; the "
			 "longest is %u", N, longest);
	strmap_free(&m);

	keyhash_set_key_for_tests(other);
	assert_int_equal(strmap_reserve(&m, 1u << (BITS - 1)), 0);
	for (i = 0; i < N; i++)
		CHECK_EQ("put under another key", 0, strmap_put_id(&m, ids[i], i, NULL));
	for (longest = run = j = 0; j < m.cap; j++) {
		run = m.slots[j].hash ? run + 1 : 0;
		longest = run > longest ? run : longest;
	}
	if (longest > 20)
		fail_msg("under another key the same %u ids should spread: longest run %u", N,
			 longest);
	strmap_free(&m);
}

/* Runs this program with PRINT_PROBE and reads the hash it prints. */
static uint64_t probe_in_child(const char *self)
{
	int fd[2];
	pid_t pid;
	char out[64] = "";
	ssize_t n;
	int status;

	assert_int_equal(pipe(fd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fd[1], STDOUT_FILENO);
		close(fd[0]);
		close(fd[1]);
		execl(self, self, PRINT_PROBE, (char *)NULL);
		_exit(127);
	}
	close(fd[1]);
	n = read(fd[0], out, sizeof(out) - 1);
	close(fd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (n <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s %s: no hash printed (exit status %d)", self, PRINT_PROBE, status);
	return strtoull(out, NULL, 16);
}

/*
 * Each process draws its own key: the same string hashes differently in
 * two fresh processes (each a new exec, so nothing is inherited), which a
 * fixed or unset key would not do. Two 64-bit hashes of independent keys
 * agree with probability 2^-64.
 */
static void test_keyhash_differs_between_processes(void **state)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	uint64_t a, b;

	(void)state;
	assert_true(n > 0);
	self[n] = '\0';
	a = probe_in_child(self);
	b = probe_in_child(self);
	if (a == b)
		fail_msg("two processes hash the probe alike (%016llx): the key is not drawn per "
			 "process", (unsigned long long)a);
	CHECK_EQ("not the all-zero key", 0, a == 0x940632f0460e4f30ull);
}

/* ---- arena ---- */

static void test_arena_alignment_and_disjoint_blocks(void **state)
{
	enum { N = 20000 };
	static const size_t aligns[] = { 1, 2, 4, 8, 16, _Alignof(max_align_t) };
	struct arena a;
	unsigned char **ptrs = calloc(N, sizeof(*ptrs));
	size_t *sizes = calloc(N, sizeof(*sizes));
	size_t i, j, sum = 0;

	(void)state;
	assert_non_null(ptrs);
	assert_non_null(sizes);
	arena_init(&a);
	assert_null(a.head);
	CHECK_EQ("fresh arena total", 0, a.total);
	for (i = 0; i < N; i++) {
		size_t align = aligns[i % 6];

		sizes[i] = 1 + (i * 7919) % 300;
		ptrs[i] = arena_alloc(&a, sizes[i], align);
		if (!ptrs[i])
			fail_msg("alloc %zu (size %zu, align %zu) returned NULL", i, sizes[i], align);
		if ((uintptr_t)ptrs[i] % align)
			fail_msg("alloc %zu: %p not aligned to %zu", i, (void *)ptrs[i], align);
		memset(ptrs[i], (int)(i & 0xFF), sizes[i]);
		sum += sizes[i];
	}
	/* any overlap would have overwritten an earlier block's pattern */
	for (i = 0; i < N; i++)
		for (j = 0; j < sizes[i]; j++)
			if (ptrs[i][j] != (unsigned char)(i & 0xFF))
				fail_msg("alloc %zu byte %zu overwritten: %02X", i, j, ptrs[i][j]);
	if (a.total < sum)
		fail_msg("total %zu smaller than the %zu bytes handed out", a.total, sum);
	arena_free(&a);
	free(ptrs);
	free(sizes);
}

static void test_arena_large_block(void **state)
{
	enum { BIG = 3 * 1024 * 1024 };
	struct arena a;
	char *small1, *big, *small2;

	(void)state;
	arena_init(&a);
	small1 = arena_alloc(&a, 10, 1);
	assert_non_null(small1);
	memset(small1, 'a', 10);
	big = arena_alloc(&a, BIG, 8);
	assert_non_null(big);
	memset(big, 'b', BIG);
	small2 = arena_alloc(&a, 10, 1);
	assert_non_null(small2);
	memset(small2, 'c', 10);
	CHECK_EQ("small block before a big one intact", 'a', small1[9]);
	CHECK_EQ("big block first byte", 'b', big[0]);
	CHECK_EQ("big block last byte", 'b', big[BIG - 1]);
	if (a.total < BIG + 20)
		fail_msg("total %zu after a %d-byte block", a.total, BIG);
	arena_free(&a);
}

static void test_arena_strndup(void **state)
{
	struct arena a;
	char src[] = "Fran\xC3\xA7ois-Xavier";
	char *p, *q, *e;

	(void)state;
	arena_init(&a);
	p = arena_strndup(&a, src, 9); /* "François" is 9 bytes */
	assert_non_null(p);
	assert_string_equal(p, "Fran\xC3\xA7ois");
	q = arena_strndup(&a, "a\0b", 3);
	assert_non_null(q);
	assert_memory_equal(q, "a\0b\0", 4);
	e = arena_strndup(&a, "xyz", 0);
	assert_non_null(e);
	assert_string_equal(e, "");
	src[0] = 'X'; /* a copy, not a view */
	assert_string_equal(p, "Fran\xC3\xA7ois");
	arena_free(&a);
}

/* Many small strings across many blocks all survive, then free resets. */
static void test_arena_many_strings_and_reuse(void **state)
{
	enum { N = 200000 };
	struct arena a;
	char **strs = calloc(N, sizeof(*strs));
	char want[32];
	size_t i;

	(void)state;
	assert_non_null(strs);
	arena_init(&a);
	for (i = 0; i < N; i++) {
		int n = snprintf(want, sizeof(want), "E%06zu", i);

		strs[i] = arena_strndup(&a, want, (size_t)n);
		assert_non_null(strs[i]);
	}
	for (i = 0; i < N; i++) {
		snprintf(want, sizeof(want), "E%06zu", i);
		if (strcmp(strs[i], want) != 0)
			fail_msg("string %zu: expected %s, got %s", i, want, strs[i]);
	}
	arena_free(&a);
	assert_null(a.head);
	CHECK_EQ("used after free", 0, a.used);
	CHECK_EQ("total after free", 0, a.total);
	strs[0] = arena_strndup(&a, S("again"));
	assert_non_null(strs[0]);
	assert_string_equal(strs[0], "again");
	arena_free(&a);
	arena_free(&a); /* twice is harmless */
	free(strs);
}

/* ---- buf ---- */

static void test_buf_append_family(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b);
	assert_null(b.data);
	CHECK_EQ("fresh len", 0, b.len);
	buf_reset(&b); /* no data yet: harmless */
	assert_null(b.data);
	CHECK_EQ("append nothing", 0, buf_append(&b, "", 0));
	assert_non_null(b.data);
	assert_string_equal(b.data, "");
	CHECK_EQ("puts", 0, buf_puts(&b, "Hel\xC3\xA8ne"));
	CHECK_EQ("putc", 0, buf_putc(&b, ','));
	CHECK_EQ("append", 0, buf_append(&b, "Zo\xC3\xAB;xyz", 4));
	assert_string_equal(b.data, "Hel\xC3\xA8ne,Zo\xC3\xAB");
	CHECK_EQ("len after appends", 12, b.len);
	CHECK_EQ("NUL after data", '\0', b.data[b.len]);
	if (b.cap <= b.len)
		fail_msg("cap %zu leaves no room for the NUL after %zu bytes", b.cap, b.len);
	buf_reset(&b);
	CHECK_EQ("len after reset", 0, b.len);
	assert_string_equal(b.data, "");
	CHECK_EQ("binary append", 0, buf_append(&b, "a\0b", 3));
	CHECK_EQ("binary len", 3, b.len);
	assert_memory_equal(b.data, "a\0b\0", 4);
	buf_free(&b);
	assert_null(b.data);
	CHECK_EQ("len after free", 0, b.len);
	CHECK_EQ("cap after free", 0, b.cap);
	buf_free(&b); /* twice is harmless */
}

static void test_buf_printf_and_growth(void **state)
{
	struct buf b;
	char want[8];
	size_t i;

	(void)state;
	buf_init(&b);
	CHECK_EQ("printf", 0, buf_printf(&b, "%s:%u:%d", "members.csv", 12u, -3));
	assert_string_equal(b.data, "members.csv:12:-3");
	CHECK_EQ("printf empty", 0, buf_printf(&b, "%s", ""));
	CHECK_EQ("len after empty printf", 17, b.len);
	CHECK_EQ("printf appends", 0, buf_printf(&b, " %s", "No\xC3\xABl"));
	assert_string_equal(b.data, "members.csv:12:-3 No\xC3\xABl");
	buf_reset(&b);
	for (i = 0; i < 10000; i++)
		if (buf_printf(&b, "%05zu", i) != 0)
			fail_msg("printf number %zu failed", i);
	CHECK_EQ("len after 10000 printf", 50000, b.len);
	for (i = 0; i < 10000; i += 997) {
		snprintf(want, sizeof(want), "%05zu", i);
		if (memcmp(b.data + i * 5, want, 5) != 0)
			fail_msg("printf number %zu: expected %s at offset %zu", i, want, i * 5);
	}
	CHECK_EQ("NUL after printf data", '\0', b.data[b.len]);
	buf_free(&b);
}

static void test_buf_reserve(void **state)
{
	struct buf b;
	const char *data;
	int i;

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_puts(&b, "x"), 0);
	CHECK_EQ("reserve 1000", 0, buf_reserve(&b, 1000));
	if (b.cap < b.len + 1000 + 1)
		fail_msg("reserve 1000 after 1 byte: cap %zu", b.cap);
	data = b.data;
	for (i = 0; i < 1000; i++)
		assert_int_equal(buf_putc(&b, 'y'), 0);
	if (b.data != data)
		fail_msg("reserved room was not used: buffer moved");
	CHECK_EQ("len after reserved appends", 1001, b.len);
	CHECK_EQ("reserve 0", 0, buf_reserve(&b, 0));
	buf_free(&b);
}

static void on_alarm(int sig)
{
	static const char msg[] = "buf_reserve of a huge size did not return (cap doubling "
				  "overflows to 0 and loops forever)\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0)
		_exit(98);
	_exit(97);
}

/* Sizes that cannot be met fail with -1 and leave the buffer as it was. */
static void test_buf_reserve_impossible(void **state)
{
	static const size_t huge[] = {
		SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 3, SIZE_MAX / 2 + 2, SIZE_MAX / 2 + 1,
	};
	struct buf b;
	size_t i, cap;

	(void)state;
	buf_init(&b);
	assert_int_equal(buf_puts(&b, "abc"), 0);
	cap = b.cap;
	signal(SIGALRM, on_alarm);
	for (i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		int rc;

		alarm(5);
		rc = buf_reserve(&b, huge[i]);
		alarm(0);
		if (rc != -1)
			fail_msg("buf_reserve(%zu): expected -1, got %d", huge[i], rc);
		CHECK_EQ("len unchanged after failed reserve", 3, b.len);
		CHECK_EQ("cap unchanged after failed reserve", cap, b.cap);
		assert_string_equal(b.data, "abc");
	}
	alarm(5);
	CHECK_EQ("append of an impossible length", -1, buf_append(&b, "z", SIZE_MAX - 1));
	alarm(0);
	signal(SIGALRM, SIG_DFL);
	assert_string_equal(b.data, "abc");
	buf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], PRINT_PROBE)) {
		keyhash_init();
		printf("%016llx\n", (unsigned long long)keyhash_bytes(S("E0000001")));
		return 0;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strmap_empty_map),
		cmocka_unit_test(test_strmap_put_get),
		cmocka_unit_test(test_strmap_duplicate_keeps_first),
		cmocka_unit_test(test_strmap_set),
		cmocka_unit_test(test_strmap_length_is_the_key),
		cmocka_unit_test(test_strmap_ascii_ci),
		cmocka_unit_test(test_strmap_ascii_ci_folds_nothing_else),
		cmocka_unit_test(test_strmap_exact_folds_nothing),
		cmocka_unit_test(test_strmap_reserve),
		cmocka_unit_test(test_strmap_reserve_too_many),
		cmocka_unit_test(test_strmap_free_and_reuse),
		cmocka_unit_test(test_strmap_probe_put_at),
		cmocka_unit_test(test_strmap_ids),
		cmocka_unit_test(test_strmap_ids_grow),
		cmocka_unit_test(test_strmap_full_hash_collisions),
		cmocka_unit_test(test_strmap_million_keys),
		cmocka_unit_test(test_keyhash_vectors),
		cmocka_unit_test(test_keyhash_folded),
		cmocka_unit_test(test_strmap_keyed_collisions),
		cmocka_unit_test(test_strmap_keyed_id_collisions),
		cmocka_unit_test(test_keyhash_differs_between_processes),
		cmocka_unit_test(test_arena_alignment_and_disjoint_blocks),
		cmocka_unit_test(test_arena_large_block),
		cmocka_unit_test(test_arena_strndup),
		cmocka_unit_test(test_arena_many_strings_and_reuse),
		cmocka_unit_test(test_buf_append_family),
		cmocka_unit_test(test_buf_printf_and_growth),
		cmocka_unit_test(test_buf_reserve),
		cmocka_unit_test(test_buf_reserve_impossible),
	};

	return cmocka_run_group_tests_name("strmap, arena, buf", tests, NULL, NULL);
}
