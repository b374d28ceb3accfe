/*
 * delivery: what leaves the service (SPEC §9), sent from the outbox by
 * threads of every `orgsync serve`: one for emails over SMTP (libcurl, one
 * connection kept from message to message) when --smtp-url is set, one for
 * webhooks (signed POSTs, 2xx within 10 s). Each claims due messages with
 * a lease (store_delivery_claim), sends with no database lock held, then
 * records the outcomes in one short transaction: sent; retrying after an
 * exponential backoff with full jitter; dead when the receiver refused for
 * good (an SMTP 5xx to the recipient or the message) or once the retry
 * window (24 h) is over. It owns its threads, their curl handles and the
 * delivery metrics; it never touches a sync, which only writes the outbox.
 */
#ifndef ORGSYNC_DELIVERY_H
#define ORGSYNC_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/buf.h"

struct service;
struct service_config;

enum {
	DELIVERY_BACKOFF_MS = 10000,        /* the bound of the first retry's delay */
	DELIVERY_BACKOFF_CAP_MS = 3600000,  /* no delay longer than an hour */
	DELIVERY_GIVE_UP_MS = 86400000,     /* then dead */
	DELIVERY_LEASE_MS = 300000,         /* a claim's hold on its messages */
	DELIVERY_WEBHOOK_TIMEOUT_MS = 10000,
};

/*
 * Checks the delivery options of cfg (--smtp-url, --smtp-from,
 * --public-url): 0, or -1 with a message for the operator in err.
 */
int delivery_check_config(const struct service_config *cfg, char *err, size_t errlen);

/* Starts the sender threads (svc->delivery); says on stderr what is not
 * configured. 0, or -1 when a thread cannot start. */
int delivery_start(struct service *svc);

/* Stops the threads after the message being sent; frees svc->delivery. */
void delivery_stop(struct service *svc);

/* Tells the senders something was queued (they also poll, for other processes). */
void delivery_wake(struct service *svc);

/* The delivery lines of /metrics: messages by kind and status (from st), attempts. */
void delivery_metrics(struct service *svc, struct store *st, struct buf *out);

/*
 * The delay before retry number attempt (1 for the first retry): full
 * jitter, rnd scaled into [0, min(cap_ms, base_ms * 2^(attempt-1))].
 */
uint64_t delivery_backoff(unsigned attempt, uint64_t base_ms, uint64_t cap_ms, uint32_t rnd);

/* An email's variable parts, as delivery_compose writes them (owned). */
struct delivery_mail {
	char *to_name;
	char *subject;
	char *body;
};

/*
 * The email of an outbox message of kind "invitation" (payload
 * {memberId, email, firstName, lastName, token}, created_at its creation
 * in unix ms) or "notification" (a sync.status event, store.h, or a web
 * sign-in link {type: "signin.link", email, token, expiresAt}), for the
 * org named org_name, links under public_url. 0, or -1 with why in err
 * (a payload that lacks what the email needs).
 */
int delivery_compose(const char *kind, const char *payload, int64_t created_at,
		     const char *org_name, const char *public_url, struct delivery_mail *out,
		     char *err, size_t errlen);
void delivery_mail_free(struct delivery_mail *m);

/* The JSON body of a webhook call: payload with "id" (the delivery id) first. Caller frees. */
char *delivery_webhook_body(const char *delivery_id, const char *payload);

#endif
