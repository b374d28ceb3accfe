/*
 * spool: a request body too large to hold in memory, kept on disk as it
 * arrives, then read back in pieces (by the ingest, then by the store). The
 * file has no name from the start (O_TMPFILE, or created 0600 and unlinked
 * at once where the file system lacks it), so nothing is left behind
 * whatever becomes of the request or the process: closing it frees it.
 * It does not parse what it holds.
 */
#ifndef ORGSYNC_SPOOL_H
#define ORGSYNC_SPOOL_H

#include <stddef.h>
#include <stdint.h>

struct spool;

/* Creates an empty spool in dir. 0, or -errno (the directory is missing,
 * not writable...). Caller closes with spool_close(). */
int spool_open(const char *dir, struct spool **out);
/* Appends len bytes. 0, or -errno: -ENOSPC and -EDQUOT when the disk is full. */
int spool_append(struct spool *s, const void *data, size_t len);
/* Bytes appended so far. */
uint64_t spool_size(const struct spool *s);
void spool_close(struct spool *s);

/*
 * A range of a spool read from its start to its end in pieces, as ingest
 * inputs and store payload parts pull their bytes: spool_range_read() fills
 * buf with up to cap bytes and sets *got (0 at the end of the range);
 * 0, or -1 on a read error (errno says which).
 */
struct spool_range {
	struct spool *spool;
	uint64_t offset, len;
	uint64_t pos; /* bytes of the range already read */
};

int spool_range_read(void *range, void *buf, size_t cap, size_t *got);

#endif
