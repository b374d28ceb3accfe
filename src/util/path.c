#include "util/path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_sep(enum path_style s, char c)
{
	return c == '/' || (s == PATH_WINDOWS && c == '\\');
}

static bool has_drive(enum path_style s, const char *p)
{
	return s == PATH_WINDOWS && ((p[0] >= 'A' && p[0] <= 'Z') || (p[0] >= 'a' && p[0] <= 'z')) &&
	       p[1] == ':';
}

/*
 * "C:data" is relative to the current folder of drive C, which is not the
 * config file's folder either: it is taken as given, like an absolute name.
 */
bool path_is_absolute(enum path_style s, const char *p)
{
	return is_sep(s, p[0]) || has_drive(s, p);
}

/* The length of the folder part of p with its last separator ("C:" for
 * "C:name"); 0 when p has none. */
static size_t dir_len(enum path_style s, const char *p)
{
	size_t n = strlen(p);

	while (n > 0 && !is_sep(s, p[n - 1]))
		n--;
	if (n == 0 && has_drive(s, p))
		return 2;
	return n;
}

const char *path_basename(enum path_style s, const char *p)
{
	const char *base = p;

	if (has_drive(s, p))
		base = p + 2;
	for (; *p; p++)
		if (is_sep(s, *p))
			base = p + 1;
	return base;
}

int path_join(enum path_style s, const char *dir, const char *name, char **out)
{
	size_t n = strlen(dir);
	const char *sep = "/";

	if (s == PATH_WINDOWS) {
		if (strchr(dir, '\\'))
			sep = "\\";
		if (n == 0 || is_sep(s, dir[n - 1]) || (n == 2 && has_drive(s, dir)))
			sep = "";
	}
	*out = malloc(n + strlen(sep) + strlen(name) + 1);
	if (!*out)
		return -1;
	sprintf(*out, "%s%s%s", dir, sep, name);
	return 0;
}

int path_beside(enum path_style s, const char *file, const char *name, char **out)
{
	size_t n = dir_len(s, file);

	if (path_is_absolute(s, name))
		n = 0;
	*out = malloc(n + strlen(name) + 1);
	if (!*out)
		return -1;
	memcpy(*out, file, n);
	strcpy(*out + n, name);
	return 0;
}
