#include "util/mem.h"

#include <windows.h>

/*
 * Windows has no advice to give: large pages need a privilege a client
 * does not hold, and committed pages are zeroed on first touch anyway. The
 * hints do nothing; the mapping is VirtualAlloc's.
 */
void mem_hint_huge(void *p, size_t len)
{
	(void)p;
	(void)len;
}

void mem_prefault_async(void *p, size_t len)
{
	(void)p;
	(void)len;
}

void *mem_map_zeroed(size_t len)
{
	return VirtualAlloc(NULL, len, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
}

void mem_unmap(void *p, size_t len)
{
	(void)len;
	if (p)
		VirtualFree(p, 0, MEM_RELEASE);
}
