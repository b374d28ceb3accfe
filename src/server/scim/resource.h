/*
 * scim/resource: what the SCIM modules share inside src/server/scim/ (not
 * an interface for the rest of the service, which includes scim/scim.h):
 * one operation on a User or a Group as a request or a Bulk operation
 * asks for it, its outcome, and what both resource types use
 * (rendering times and versions, the audit trail). users.c maps Users onto
 * members, groups.c Groups onto teams and the role group.
 */
#ifndef ORGSYNC_SCIM_RESOURCE_H
#define ORGSYNC_SCIM_RESOURCE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "server/http.h"
#include "server/scim/schema.h"
#include "store/store.h"

/* The SCIM base path: resources are at /scim/v2/Users/{id} and so on. */
#define SCIM_BASE "/scim/v2"

/* The id and displayName of the role group of Administrators (SPEC §6, /v1/roles). */
#define SCIM_ROLE_GROUP_ID "orgsync-role-administrator"
#define SCIM_ROLE_GROUP_NAME "orgsync-Administrators"

/* One operation's context: the request (for the audit's actor), the org, the store. */
struct scim_call {
	struct http_req *r;
	struct store *st;
	int64_t org_id;
};

/* An operation's outcome: a status and a resource (or an error to answer). */
struct scim_result {
	unsigned status;
	json_t *doc;                  /* the resource; NULL for 204 and errors */
	char id[STORE_SCIM_ID_MAX];   /* the resource's id (Location of a 201) */
	char version[24];             /* its ETag, "W/\"...\"" */
	const char *scim_type;        /* errors: RFC 7644 §3.12, or NULL */
	char detail[300];             /* errors: what is wrong */
};

/* Fills an error outcome; returns -1. */
int scim_fail(struct scim_result *res, unsigned status, const char *scim_type, const char *fmt,
	      ...) __attribute__((format(printf, 4, 5)));
/* The outcome of a store error (409 for a conflict, 404, else 500). */
int scim_store_fail(struct scim_result *res, struct scim_call *c, int rc, const char *what);

/* A time (unix ms) as SCIM writes it (RFC 3339); NULL for 0. */
json_t *scim_time(int64_t ms);
/*
 * Finishes a resource: meta.resourceType, created, lastModified, location,
 * and version, a weak ETag. The tag is a hash of what the resource is
 * made from (parts: n texts, NULL ones skipped), or, when parts is NULL,
 * of everything in the resource: either way it changes with any change a
 * client can see. Copied into version (may be NULL).
 */
void scim_finish(json_t *doc, const char *type, const char *id, int64_t created,
		 int64_t modified, const char *const *parts, size_t n, char version[24]);
/* Whether an If-Match header allows a change of a resource at version (NULL: no header). */
bool scim_if_match(const char *header, const char *version);

/* Records a write in the audit trail, in the caller's transaction (old
 * and new, which may be NULL, are stolen). */
int scim_audit(struct scim_call *c, const char *action, const char *target, json_t *old,
	       json_t *new);

/* The org's autoInvite setting (a member created over SCIM is invited like one a sync creates). */
bool scim_auto_invite(struct scim_call *c);

/*
 * Users: method GET (one), POST (id NULL), PUT, PATCH, DELETE on a User,
 * with its body (NULL for GET and DELETE) and the If-Match header (NULL
 * when none). Returns 0 or -1; res says what to answer either way.
 */
int scim_users_op(struct scim_call *c, const char *method, const char *id, const json_t *body,
		  const char *if_match, struct scim_result *res);
/* The member's resource (*out, a new reference): NULL with 0 when there is none. */
int scim_user_render(const struct store_scim_user *u, json_t **out, char version[24]);

/* Groups: the same for Groups (teams and the role group). */
int scim_groups_op(struct scim_call *c, const char *method, const char *id, const json_t *body,
		   const char *if_match, struct scim_result *res);
/*
 * Every Group (the role group last, when it has members or always is
 * true), rendered; with_members false leaves members out (and saves
 * reading them). *out gets a new array.
 */
int scim_groups_all(struct scim_call *c, bool with_members, bool always, json_t **out);

#endif
