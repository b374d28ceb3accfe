#include "util/os.h"

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
/* winsock2 before windows.h, which would bring in the old winsock. */
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <bcrypt.h>
#include <shellapi.h>

/* UTF-8 → UTF-16, malloc'ed; NULL (errno set) when s is not UTF-8 or out of memory. */
static wchar_t *wide(const char *s)
{
	int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, NULL, 0);
	wchar_t *w;

	if (n <= 0) {
		errno = EINVAL;
		return NULL;
	}
	w = malloc((size_t)n * sizeof(*w));
	if (w && MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, s, -1, w, n) != n) {
		free(w);
		errno = EINVAL;
		return NULL;
	}
	return w;
}

static char *narrow(const wchar_t *w)
{
	int n = WideCharToMultiByte(CP_UTF8, 0, w, -1, NULL, 0, NULL, NULL);
	char *s;

	if (n <= 0)
		return NULL;
	s = malloc((size_t)n);
	if (s && WideCharToMultiByte(CP_UTF8, 0, w, -1, s, n, NULL, NULL) != n) {
		free(s);
		return NULL;
	}
	return s;
}

/* The last Win32 error as an errno, for the callers' strerror(). */
static int errno_of_last_error(void)
{
	switch (GetLastError()) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
	case ERROR_INVALID_DRIVE:
		return ENOENT;
	case ERROR_ACCESS_DENIED:
	case ERROR_SHARING_VIOLATION:
	case ERROR_LOCK_VIOLATION:
		return EACCES;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS:
		return EEXIST;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return ENOMEM;
	case ERROR_DISK_FULL:
		return ENOSPC;
	default:
		return EIO;
	}
}

/*
 * The argv strings are kept for the life of the process, as the C
 * runtime's are: they are never freed.
 */
int os_init(int *argc, char ***argv)
{
	wchar_t **wargv;
	char **args;
	int n, i;

	_setmode(_fileno(stdin), _O_BINARY);
	_setmode(_fileno(stdout), _O_BINARY);
	_setmode(_fileno(stderr), _O_BINARY);
	/* Files opened later are binary too: what is written is what the
	 * Linux build writes, byte for byte. */
	_fmode = _O_BINARY;
	SetConsoleOutputCP(CP_UTF8);
	wargv = CommandLineToArgvW(GetCommandLineW(), &n);
	if (!wargv)
		return -1;
	args = calloc((size_t)n + 1, sizeof(*args));
	for (i = 0; args && i < n; i++)
		if (!(args[i] = narrow(wargv[i])))
			args = NULL; /* the strings so far leak: the process is about to exit */
	LocalFree(wargv);
	if (!args)
		return -1;
	*argc = n;
	*argv = args;
	return 0;
}

FILE *os_fopen(const char *path, const char *mode)
{
	wchar_t *wpath = wide(path), *wmode = wide(mode);
	FILE *f = wpath && wmode ? _wfopen(wpath, wmode) : NULL;

	free(wpath);
	free(wmode);
	return f;
}

int os_readable(const char *path)
{
	wchar_t *w = wide(path);
	int rc = w ? _waccess(w, 4) : -1;

	free(w);
	return rc;
}

int64_t os_file_size(const char *path)
{
	WIN32_FILE_ATTRIBUTE_DATA fa;
	wchar_t *w = wide(path);
	int64_t size = -1;

	if (w && GetFileAttributesExW(w, GetFileExInfoStandard, &fa))
		size = (int64_t)fa.nFileSizeHigh << 32 | fa.nFileSizeLow;
	else if (w)
		errno = errno_of_last_error();
	free(w);
	return size;
}

int os_mkdir(const char *path)
{
	wchar_t *w = wide(path);
	int rc = -1;

	if (w && CreateDirectoryW(w, NULL))
		rc = 0;
	else if (w)
		errno = errno_of_last_error();
	free(w);
	return rc;
}

int os_replace(const char *from, const char *to)
{
	wchar_t *wf = wide(from), *wt = wide(to);
	int rc = -1;

	/* rename() on Windows refuses to replace an existing file. */
	if (wf && wt && MoveFileExW(wf, wt, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
		rc = 0;
	else if (wf && wt)
		errno = errno_of_last_error();
	free(wf);
	free(wt);
	return rc;
}

int os_remove(const char *path)
{
	wchar_t *w = wide(path);
	int rc = w ? _wunlink(w) : -1;

	free(w);
	return rc;
}

long os_pid(void)
{
	return (long)GetCurrentProcessId();
}

bool os_isatty(FILE *f)
{
	DWORD mode;
	HANDLE h = (HANDLE)_get_osfhandle(_fileno(f));

	return h != INVALID_HANDLE_VALUE && GetConsoleMode(h, &mode);
}

/* The counter's frequency is fixed at boot; split so that count * 10^9 cannot overflow. */
int64_t os_now_ns(void)
{
	LARGE_INTEGER count, freq;

	QueryPerformanceCounter(&count);
	QueryPerformanceFrequency(&freq);
	return count.QuadPart / freq.QuadPart * 1000000000 +
	       count.QuadPart % freq.QuadPart * 1000000000 / freq.QuadPart;
}

int64_t os_now_ms(void)
{
	return os_now_ns() / 1000000;
}

int64_t os_wall_ms(void)
{
	/* 100 ns intervals since 1601-01-01 UTC; the Unix epoch is 11644473600 s later. */
	FILETIME ft;
	ULARGE_INTEGER t;

	GetSystemTimeAsFileTime(&ft);
	t.LowPart = ft.dwLowDateTime;
	t.HighPart = ft.dwHighDateTime;
	/* The quotient is below 2^51: it fits. */
	return (int64_t)(t.QuadPart / 10000) - INT64_C(11644473600000);
}

void os_sleep_ms(long ms)
{
	Sleep((DWORD)ms);
}

int os_random(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;

		if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, n, BCRYPT_USE_SYSTEM_PREFERRED_RNG)))
			return -1;
		p += n;
		len -= n;
	}
	return 0;
}

void os_memzero(void *p, size_t len)
{
	SecureZeroMemory(p, len);
}

int os_parse_ip(const char *s, unsigned char out[16], size_t *len)
{
	/* inet_pton() of ws2_32 works without WSAStartup(). */
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
