#include "util/mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Below this, a thread costs more than the zeroing it would overlap. */
enum { PREFAULT_MIN = 4 * 1024 * 1024 };

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

struct prefault {
	char *start;
	size_t len;
};

static void *prefault_main(void *arg)
{
	struct prefault *pf = arg;

	madvise(pf->start, pf->len, MADV_POPULATE_WRITE);
	free(pf);
	return NULL;
}

void mem_prefault_async(void *p, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *base = p;
	size_t head = (page - (uintptr_t)base % page) % page;
	struct prefault *pf;
	pthread_attr_t attr;
	pthread_t t;

	if (len < PREFAULT_MIN || len <= head)
		return;
	pf = malloc(sizeof(*pf));
	if (!pf)
		return;
	pf->start = base + head;
	pf->len = (len - head) / page * page;
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, prefault_main, pf) != 0)
		free(pf);
	pthread_attr_destroy(&attr);
}

void *mem_map_zeroed(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void mem_unmap(void *p, size_t len)
{
	if (p)
		munmap(p, len);
}
