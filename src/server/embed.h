/*
 * embed: files built into the binary at make time (scripts/embed.sh
 * generates the table from web/ and the OpenAPI operations), so that the
 * service needs nothing beside itself at run time. Each file's bytes are
 * followed by a NUL that len does not count: text files read as C strings.
 */
#ifndef ORGSYNC_EMBED_H
#define ORGSYNC_EMBED_H

#include <stddef.h>

struct embedded {
	const char *name; /* the path it was built from: "web/app.js" */
	const unsigned char *data;
	size_t len;
};

extern const struct embedded embedded_files[];
extern const size_t embedded_count;

/* The file built from that path, or NULL. */
const struct embedded *embedded_find(const char *name);

#endif
