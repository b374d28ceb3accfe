#include "util/mem.h"

#include <stdint.h>
#include <sys/mman.h>

void mem_hint_huge(void *p, size_t len)
{
	uintptr_t start = ((uintptr_t)p + MEM_HUGE_PAGE - 1) & ~(uintptr_t)(MEM_HUGE_PAGE - 1);
	uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(MEM_HUGE_PAGE - 1);

	if (len < 2 * (size_t)MEM_HUGE_PAGE || end <= start)
		return;
	madvise((void *)start, end - start, MADV_HUGEPAGE);
}
