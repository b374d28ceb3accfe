/*
 * path: file names as a user writes them, in the style of the system the
 * program runs on: joining a folder and a name, telling an absolute name
 * from a relative one, finding the last component. The Windows style also
 * takes backslashes, drive letters (C:\data, C:data) and UNC names
 * (\\server\share); the POSIX style knows only '/'. Pure string work: the
 * file system is never asked. Both styles are built everywhere, so that
 * each can be tested anywhere.
 */
#ifndef ORGSYNC_PATH_H
#define ORGSYNC_PATH_H

#include <stdbool.h>

enum path_style { PATH_POSIX, PATH_WINDOWS };

#ifdef _WIN32
#define PATH_NATIVE PATH_WINDOWS
#else
#define PATH_NATIVE PATH_POSIX
#endif

/* Whether p names a file without reference to a current folder: "/x";
 * on Windows also "C:..." (any drive letter), "\x" and "\\server\share". */
bool path_is_absolute(enum path_style s, const char *p);

/* The last component of p (p itself when it has no separator). */
const char *path_basename(enum path_style s, const char *p);

/*
 * dir and name joined with a separator, in *out (caller frees). The
 * Windows style uses a backslash when dir has one, else '/', and adds none
 * after a separator or a bare drive ("C:"); the POSIX style always adds
 * '/'. 0, or -1 when out of memory.
 */
int path_join(enum path_style s, const char *dir, const char *name, char **out);

/*
 * name as seen from the folder that holds file (a config file's relative
 * paths): name itself when absolute or when file has no folder part, else
 * the folder part of file, up to and with its last separator ("C:" for
 * "C:config.json"), followed by name. 0, or -1 when out of memory.
 */
int path_beside(enum path_style s, const char *file, const char *name, char **out);

#endif
