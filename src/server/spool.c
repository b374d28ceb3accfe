#include "server/spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool {
	int fd;
	uint64_t size;
};

/* A named file for file systems without O_TMPFILE: its name lives only until unlink(). */
static int open_named(const char *dir)
{
	char path[4096];
	int fd, n;

	n = snprintf(path, sizeof(path), "%s/.orgsync-spool-XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = mkostemp(path, O_CLOEXEC); /* mode 0600 */
	if (fd < 0)
		return -errno;
	if (unlink(path) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

int spool_open(const char *dir, struct spool **out)
{
	struct spool *s;
	int fd;

	*out = NULL;
	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, S_IRUSR | S_IWUSR);
	if (fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL))
		fd = open_named(dir);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return fd;
	s = malloc(sizeof(*s));
	if (!s) {
		close(fd);
		return -ENOMEM;
	}
	s->fd = fd;
	s->size = 0;
	*out = s;
	return 0;
}

int spool_append(struct spool *s, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = pwrite(s->fd, p, len, (off_t)s->size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
		s->size += (uint64_t)n;
	}
	return 0;
}

uint64_t spool_size(const struct spool *s)
{
	return s->size;
}

void spool_close(struct spool *s)
{
	if (!s)
		return;
	close(s->fd);
	free(s);
}

int spool_range_read(void *range, void *buf, size_t cap, size_t *got)
{
	struct spool_range *r = range;
	uint64_t left = r->len - r->pos;
	ssize_t n;

	*got = 0;
	if (!left || !cap)
		return 0;
	if (cap > left)
		cap = (size_t)left;
	do
		n = pread(r->spool->fd, buf, cap, (off_t)(r->offset + r->pos));
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) { /* the file is shorter than what was appended: it cannot be */
		errno = EIO;
		return -1;
	}
	r->pos += (uint64_t)n;
	*got = (size_t)n;
	return 0;
}
