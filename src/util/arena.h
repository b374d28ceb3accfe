/*
 * arena: a bump allocator for the many small strings of one ingest.
 * Owns every block it hands out; arena_free() releases them all at once.
 * Not thread-safe; one arena per org being built. Does not shrink or reuse.
 */
#ifndef ORGSYNC_ARENA_H
#define ORGSYNC_ARENA_H

#include <stddef.h>

struct arena_block;

struct arena {
	struct arena_block *head; /* block currently bumped */
	struct arena_block *spare; /* the next large block, faulted in ahead */
	size_t used;              /* bytes used in head */
	size_t total;             /* bytes reserved over all blocks */
};

void arena_init(struct arena *a);
void arena_free(struct arena *a);

/* align must be a power of two. Returns NULL only when out of memory. */
void *arena_alloc(struct arena *a, size_t size, size_t align);

/* Copies s[0..len) and a terminating NUL into the arena. */
char *arena_strndup(struct arena *a, const char *s, size_t len);

#endif
