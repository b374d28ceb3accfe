#include "util/arena.h"
#include "util/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Blocks double from 16 KiB to 16 MiB: a small org stays small, and a
 * 1M-member org takes a dozen blocks, on huge pages.
 */
enum { ARENA_MIN_BLOCK = 16 * 1024, ARENA_MAX_BLOCK = 16 * 1024 * 1024 };

struct arena_block {
	struct arena_block *next;
	size_t size;
	max_align_t data[];
};

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->spare = NULL;
	a->used = 0;
	a->total = 0;
}

void arena_free(struct arena *a)
{
	struct arena_block *b = a->head;

	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(a->spare);
	arena_init(a);
}

static struct arena_block *new_block(size_t size)
{
	struct arena_block *b = malloc(sizeof(*b) + size);

	if (!b)
		return NULL;
	b->size = size;
	mem_hint_huge(b, sizeof(*b) + size);
	return b;
}

/*
 * Once blocks are large, the next one is allocated one step ahead and
 * faulted in on another core while this one fills.
 */
static int grow(struct arena *a, size_t need)
{
	size_t size = a->head ? a->head->size * 2 : ARENA_MIN_BLOCK;
	struct arena_block *b;

	if (size > ARENA_MAX_BLOCK)
		size = ARENA_MAX_BLOCK;
	if (size < need)
		size = need;
	if (a->spare && a->spare->size >= size) {
		b = a->spare;
		a->spare = NULL;
	} else {
		b = new_block(size);
		if (!b)
			return -1;
	}
	b->next = a->head;
	a->head = b;
	a->used = 0;
	a->total += b->size;
	if (!a->spare && b->size >= ARENA_MAX_BLOCK / 4) {
		a->spare = new_block(ARENA_MAX_BLOCK);
		if (a->spare)
			mem_prefault_async(a->spare->data, a->spare->size);
	}
	return 0;
}

void *arena_alloc(struct arena *a, size_t size, size_t align)
{
	size_t off;

	if (a->head) {
		off = (a->used + align - 1) & ~(align - 1);
		if (off + size <= a->head->size) {
			a->used = off + size;
			return (char *)a->head->data + off;
		}
	}
	if (grow(a, size + align) < 0)
		return NULL;
	off = 0;
	a->used = size;
	return (char *)a->head->data + off;
}

char *arena_strndup(struct arena *a, const char *s, size_t len)
{
	char *p = arena_alloc(a, len + 1, 1);

	if (!p)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
