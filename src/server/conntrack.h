/*
 * conntrack: deadlines for slow clients. libmicrohttpd's timeout only
 * counts silence, so a client trickling a byte every few seconds would
 * hold a connection for ever: through its header (slow loris) or its body.
 * conntrack owns one record per open connection and a thread that, once a
 * second, shuts down the socket of a connection that has waited for its
 * request header longer than the deadline (counted from the connection's
 * start, or from the end of its previous request), or whose body, past
 * that same deadline, arrives slower than a minimum average rate. The
 * daemon then closes it as it would a client that hung up. A request being
 * handled has no deadline.
 */
#ifndef ORGSYNC_CONNTRACK_H
#define ORGSYNC_CONNTRACK_H

#include <stddef.h>
#include <stdint.h>

struct conntrack;

/* Where a connection is in its request. */
enum conn_phase {
	CONN_HEADER,  /* waiting for a request header */
	CONN_BODY,    /* receiving a request body */
	CONN_HANDLED, /* the request is complete: being handled or answered */
};

/* timeout_s: seconds allowed for a request header (>= 1); min_rate: the
 * slowest average body rate, bytes per second (0: none). -1 on failure. */
int conntrack_start(unsigned timeout_s, unsigned min_rate, struct conntrack **out);
/* Stops the thread and frees every record. Call after the daemon has stopped. */
void conntrack_stop(struct conntrack *ct);

/* A connection opened on socket fd: *ctx gets its record (NULL if out of memory). */
void conntrack_open(struct conntrack *ct, int fd, void **ctx);
/* The connection is closing (before its socket is closed): forgets *ctx. */
void conntrack_close(struct conntrack *ct, void **ctx);
/* The connection moves to phase (CONN_HEADER and CONN_BODY restart its clock). */
void conntrack_phase(void *ctx, enum conn_phase phase);
/* n more bytes of the request body arrived. */
void conntrack_body(void *ctx, size_t n);
/* How many connections the deadline has cut. */
uint64_t conntrack_cut(struct conntrack *ct);

#endif
