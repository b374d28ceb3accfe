/*
 * mailmsg: the text of an email as RFC 5322 and MIME want it, from UTF-8
 * parts: headers with RFC 2047 encoded-words for non-ASCII display names
 * and subjects, a text/plain UTF-8 body sent 8bit, or quoted-printable
 * when a line would pass the 998 bytes SMTP allows, CRLF line ends. Pure
 * functions over struct buf, no I/O; sending (and dot-stuffing) is
 * libcurl's, in delivery.c.
 */
#ifndef ORGSYNC_MAILMSG_H
#define ORGSYNC_MAILMSG_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

enum {
	MAILMSG_LINE_MAX = 998, /* bytes of a line, CRLF excluded (RFC 5322 §2.1.1) */
	MAILMSG_NAME_MAX = 256,
	MAILMSG_ADDR_MAX = 256,
};

struct mailmsg {
	const char *from_name, *from_addr; /* name may be NULL or "" */
	const char *to_name, *to_addr;
	const char *subject;
	const char *body;                  /* UTF-8 text, lines ending LF (or CRLF) */
	const char *message_id;            /* "id@domain", without the angle brackets */
	const char *delivery_id;           /* X-Orgsync-Delivery; NULL: none */
	int64_t date;                      /* unix seconds */
};

/*
 * Appends text as the value of a header that starts used columns into its
 * line: printable ASCII as is, anything else as RFC 2047 "B" encoded-words
 * of whole UTF-8 characters, each at most 75 characters, folded so that no
 * line passes 76. Control characters (CR and LF included) become spaces:
 * no value can add a header. 0, or -1 when out of memory.
 */
int mailmsg_encode_words(struct buf *out, const char *text, size_t used);

/* Appends a mailbox: `addr`, `Name <addr>`, `"Na,me" <addr>` or encoded-words <addr>. */
int mailmsg_mailbox(struct buf *out, const char *name, const char *addr, size_t used);

/*
 * Reads "Name <address>", "\"Name\" <address>" or "address" (the form of
 * serve --smtp-from). 0, or -1 when it is none of those or the address is
 * not valid (org_email_valid).
 */
int mailmsg_parse_mailbox(const char *s, char name[MAILMSG_NAME_MAX],
			  char addr[MAILMSG_ADDR_MAX]);

/* Appends body with CRLF line ends as quoted-printable (RFC 2045 §6.7), lines <= 76. */
int mailmsg_qp(struct buf *out, const char *body);

/* The whole message (headers, blank line, body) into out. 0, or -1 when out of memory. */
int mailmsg_build(const struct mailmsg *m, struct buf *out);

#endif
