/*
 * mem: hints to the kernel about large, randomly accessed allocations.
 * An org of a million members lives in a few hundred MB touched at random
 * (hash probes, index lookups); on 4 KiB pages that costs a page fault per
 * page and a TLB miss per probe. Transparent huge pages cut both.
 */
#ifndef ORGSYNC_MEM_H
#define ORGSYNC_MEM_H

#include <stddef.h>

enum { MEM_HUGE_PAGE = 2 * 1024 * 1024 };

/* Advises huge pages for the 2 MiB-aligned interior of [p, p + len).
 * A hint only: where the kernel declines, nothing changes. */
void mem_hint_huge(void *p, size_t len);

#endif
