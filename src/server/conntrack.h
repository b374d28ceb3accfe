/*
 * conntrack: the deadline for a client to send a complete request header.
 * libmicrohttpd's timeout only counts silence, so a client trickling a
 * byte every few seconds (slow loris) would hold a connection for ever.
 * conntrack owns one record per open connection and a thread that, once a
 * second, shuts down the socket of any connection that has been waiting
 * for its request header longer than the deadline (counted from the
 * connection's start, or from the end of its previous request). The
 * daemon then closes it as it would a client that hung up.
 */
#ifndef ORGSYNC_CONNTRACK_H
#define ORGSYNC_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>

struct conntrack;

/* timeout_s: seconds allowed for a request header (>= 1). -1 on failure. */
int conntrack_start(unsigned timeout_s, struct conntrack **out);
/* Stops the thread and frees every record. Call after the daemon has stopped. */
void conntrack_stop(struct conntrack *ct);

/* A connection opened on socket fd: *ctx gets its record (NULL if out of memory). */
void conntrack_open(struct conntrack *ct, int fd, void **ctx);
/* The connection is closing (before its socket is closed): forgets *ctx. */
void conntrack_close(struct conntrack *ct, void **ctx);
/* A request header is complete (busy) or a request ended (waiting again). */
void conntrack_busy(void *ctx, bool busy);
/* How many connections the deadline has cut. */
uint64_t conntrack_cut(struct conntrack *ct);

#endif
