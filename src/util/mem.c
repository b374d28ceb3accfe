#include "util/mem.h"

#include <stdint.h>
#include <sys/mman.h>

void mem_hint_huge(void *p, size_t len)
{
	char *base = p;
	size_t head = (MEM_HUGE_PAGE - (uintptr_t)base % MEM_HUGE_PAGE) % MEM_HUGE_PAGE;
	size_t body;

	if (len < 2 * (size_t)MEM_HUGE_PAGE)
		return;
	body = (len - head) / MEM_HUGE_PAGE * MEM_HUGE_PAGE;
	madvise(base + head, body, MADV_HUGEPAGE);
}
