#include "util/os.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int os_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

FILE *os_fopen(const char *path, const char *mode)
{
	return fopen(path, mode);
}

int os_readable(const char *path)
{
	return access(path, R_OK);
}

int64_t os_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

int os_mkdir(const char *path)
{
	return mkdir(path, 0777);
}

int os_replace(const char *from, const char *to)
{
	return rename(from, to);
}

int os_remove(const char *path)
{
	return unlink(path);
}

long os_pid(void)
{
	return (long)getpid();
}

bool os_isatty(FILE *f)
{
	return isatty(fileno(f)) == 1;
}

int64_t os_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t os_now_ms(void)
{
	return os_now_ns() / 1000000;
}

int64_t os_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void os_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int os_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void os_memzero(void *p, size_t len)
{
	explicit_bzero(p, len);
}

int os_parse_ip(const char *s, unsigned char out[16], size_t *len)
{
	if (inet_pton(AF_INET, s, out) == 1) {
		*len = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		*len = 16;
		return 0;
	}
	return -1;
}
