/*
 * status: the states the service records of a sync and of an outbox
 * message, and the kinds of message. Only the values: their names, as
 * the API and the database spell them, are in format/names.h.
 */
#ifndef ORGSYNC_STATUS_H
#define ORGSYNC_STATUS_H

enum sync_status {
	SYNC_PENDING,
	SYNC_PAUSED,
	SYNC_REJECTED,
	SYNC_SUCCESS,
	SYNC_WARNING,
	SYNC_FAILED,
	SYNC_STATUS_COUNT
};

/*
 * queued -> sending (leased) -> sent | retrying -> ... -> dead
 * (store.h tells who moves a message along).
 */
enum delivery_status {
	DELIVERY_QUEUED,
	DELIVERY_SENDING,
	DELIVERY_SENT,
	DELIVERY_RETRYING,
	DELIVERY_DEAD,
	DELIVERY_STATUS_COUNT
};

/* What an outbox message is: an email to a new member, one to an
 * administrator, or a signed webhook call. */
enum delivery_kind {
	DELIVERY_KIND_INVITATION,
	DELIVERY_KIND_NOTIFICATION,
	DELIVERY_KIND_WEBHOOK,
	DELIVERY_KIND_COUNT
};

#endif
