/*
 * plan (format): a plan as the API and the store spell it (SPEC §4, §5).
 * The names of its actions and risk limits; its counts and its risk
 * result as compact JSON, and the counts read back from the service's
 * answer (the command line and the notifications print them); one
 * tripped limit in words; each change's old and new values as compact
 * JSON, the text a plan entry stores. Text out is malloc'd, the caller's
 * to free.
 */
#ifndef ORGSYNC_FORMAT_PLAN_H
#define ORGSYNC_FORMAT_PLAN_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "model/org.h"
#include "plan/plan.h"

/* create, update, reactivate, deactivate, delete, unchanged; "" out of range. */
const char *format_member_action_name(enum member_action a);
/* create, rename, delete, unchanged; "" out of range. */
const char *format_team_action_name(enum team_action a);
/* add, remove, change; "" out of range. */
const char *format_mapping_action_name(enum mapping_action a);
/* members.percent ... emptyInput.mappings, as the settings name each limit; "" out of range. */
const char *format_risk_kind_name(enum risk_kind k);

/*
 * {"members":{"created":…,"updated":…,…},"teams":{…},"mappings":{…},
 * "invitations":…}: 0, or -1 when out of memory.
 */
int format_counts_json(const struct plan_counts *c, char **out);

/*
 * The counts in such a document: 0, or -1 when doc is no object (all 0).
 * A count left out, or no integer from 0 to UINT32_MAX, reads 0.
 */
int format_counts_parse(const json_t *doc, struct plan_counts *c);

/* The kinds of record the counts count, one line each in words. */
enum format_counts_kind { FORMAT_COUNTS_MEMBERS, FORMAT_COUNTS_TEAMS, FORMAT_COUNTS_MAPPINGS };

/*
 * One kind's counts as the command line prints them, with no newline:
 *   members: 3 created, 1 updated, 0 reactivated, 0 deactivated, 0 deleted, 10 unchanged
 *   teams: 1 created, 0 renamed, 0 deleted, 4 unchanged
 *   mappings: 2 added, 0 removed, 1 changed
 * 0, or -1 on a write error.
 */
int format_counts_line(const struct plan_counts *c, enum format_counts_kind kind, FILE *out);

/* The three lines, each ended, the mappings' with "; 2 invitations": 0, or -1 on a write error. */
int format_counts_text(const struct plan_counts *c, FILE *out);

/*
 * One tripped limit in words: the reason of a pause and the trip's message
 * ("members.percent is 12.0, over the limit of 10.0 (12 of 100)").
 */
void format_trip_text(const struct risk_trip *t, char *out, size_t len);

/*
 * {"paused":…,"trips":[{"limit","configured","actual","affected","of",
 * "message"}…]}: 0, or -1 when out of memory.
 */
int format_risk_json(const struct risk_result *r, char **out);

/*
 * The old and new value of each field a change changes, as
 * {"field":{"old":…,"new":…},…}; *out is NULL when it changes none (a
 * change of an action that has no values: create, delete, add...). The
 * indexes of a change point into desired and stored as the plan's do.
 * 0, or -1 when out of memory.
 *   member (update, reactivate, deactivate): externalMemberId (re-keyed by
 *     email), email, firstName, lastName, jobTitle, imageUrl,
 *     languagePreferences and productAssignations (arrays of names),
 *     customProperties (the columns the sync sent that change, a value or
 *     null), state (for a reactivation or deactivation)
 *   team (rename): teamName
 *   mapping (change): isMember, isManager
 */
int format_plan_member_changes(const struct org *desired, const struct org *stored,
			       const struct member_change *mc, char **out);
int format_plan_team_changes(const struct org *desired, const struct org *stored,
			     const struct team_change *tc, char **out);
int format_plan_mapping_changes(const struct org *desired, const struct org *stored,
				const struct mapping_change *xc, char **out);

#endif
