/*
 * mem: hints to the kernel about large, randomly accessed allocations.
 * An org of a million members lives in a few hundred MB touched at random
 * (hash probes, index lookups); on 4 KiB pages that costs a page fault per
 * page and a TLB miss per probe, and on a virtual machine the kernel's
 * zeroing of fresh pages alone is a fifth of an ingest. Huge pages cut the
 * first two; prefaulting on another core takes the third off the path.
 */
#ifndef ORGSYNC_MEM_H
#define ORGSYNC_MEM_H

#include <stddef.h>

enum { MEM_HUGE_PAGE = 2 * 1024 * 1024 };

/* Advises huge pages for the 2 MiB-aligned interior of [p, p + len).
 * A hint only: where the kernel declines, nothing changes. */
void mem_hint_huge(void *p, size_t len);

/*
 * Faults [p, p + len) in, writable, from a short-lived thread, so that the
 * kernel zeroes those pages while this thread does other work. Contents
 * never change (MADV_POPULATE_WRITE), so the region may be written, or
 * even freed, meanwhile. Where unsupported, nothing happens.
 */
void mem_prefault_async(void *p, size_t len);

/* Zero-filled memory straight from the kernel (lazily faulted); NULL when
 * out of memory. For large tables: no memset pass over them. */
void *mem_map_zeroed(size_t len);
void mem_unmap(void *p, size_t len);

#endif
