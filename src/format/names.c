#include "format/names.h"

#include <string.h>

#include "util/strmap.h"

static const char *const lang_codes[LANG_COUNT] = { "en", "fr", "es", "pt", "de" };
static const char *const lang_names[LANG_COUNT] = {
	"English", "Français", "Español", "Português", "Deutsche",
};
static const char *const product_names[PRODUCT_COUNT] = {
	"Officevibe", "Skills", "LMS", "Pingboard", "Onboarding", "Performance", "Workleap AI",
};
static const char *const role_names[ROLE_COUNT] = { "Member", "Administrator" };
const char *const format_state_names[STATE_COUNT + 1] = {
	"created", "invited", "active", "deactivated", NULL,
};
static const char *const severity_names[] = { "fatal", "error", "warning" };
static const char *const code_names[CODE_COUNT] = {
	[CODE_FILE_MISSING] = "file_missing",
	[CODE_FILE_UNREADABLE] = "file_unreadable",
	[CODE_INVALID_UTF8] = "invalid_utf8",
	[CODE_CSV_QUOTING] = "csv_quoting",
	[CODE_MISSING_HEADER] = "missing_header",
	[CODE_MISSING_COLUMN] = "missing_column",
	[CODE_DUPLICATE_COLUMN] = "duplicate_column",
	[CODE_JSON_SYNTAX] = "json_syntax",
	[CODE_JSON_STRUCTURE] = "json_structure",
	[CODE_MISSING_SECTION] = "missing_section",
	[CODE_LEGACY_SETTINGS] = "legacy_settings",
	[CODE_MIXED_FORMATS] = "mixed_formats",
	[CODE_TOO_LARGE] = "too_large",
	[CODE_MISSING_VALUE] = "missing_value",
	[CODE_INVALID_EMAIL] = "invalid_email",
	[CODE_INVALID_VALUE] = "invalid_value",
	[CODE_DUPLICATE_MEMBER_ID] = "duplicate_member_id",
	[CODE_DUPLICATE_EMAIL] = "duplicate_email",
	[CODE_DUPLICATE_TEAM_ID] = "duplicate_team_id",
	[CODE_UNKNOWN_LANGUAGE] = "unknown_language",
	[CODE_UNKNOWN_PRODUCT] = "unknown_product",
	[CODE_EMPTY_NAME] = "empty_name",
	[CODE_INVALID_BOOLEAN] = "invalid_boolean",
	[CODE_EXTRA_FIELDS] = "extra_fields",
	[CODE_MAPPING_NO_TARGET] = "mapping_no_target",
	[CODE_MAPPING_TWO_TARGETS] = "mapping_two_targets",
	[CODE_MAPPING_GRANTS_NOTHING] = "mapping_grants_nothing",
	[CODE_UNKNOWN_TEAM] = "unknown_team",
	[CODE_UNKNOWN_MEMBER] = "unknown_member",
	[CODE_UNKNOWN_SUBTEAM] = "unknown_subteam",
	[CODE_TEAM_CYCLE] = "team_cycle",
	[CODE_EMAIL_TAKEN] = "email_taken",
	[CODE_UNKNOWN_PROPERTY] = "unknown_property",
	[CODE_UNKNOWN_FIELD] = "unknown_field",
	[CODE_DUPLICATE_MAPPING] = "duplicate_mapping",
	[CODE_KEPT_BY_SKIPPED_ROW] = "kept_by_skipped_row",
};
static const char *const sync_status_names[SYNC_STATUS_COUNT] = {
	[SYNC_PENDING] = "Pending", [SYNC_PAUSED] = "Paused",   [SYNC_REJECTED] = "Rejected",
	[SYNC_SUCCESS] = "Success", [SYNC_WARNING] = "Warning", [SYNC_FAILED] = "Failed",
};
static const char *const delivery_status_names[DELIVERY_STATUS_COUNT] = {
	[DELIVERY_QUEUED] = "queued", [DELIVERY_SENDING] = "sending", [DELIVERY_SENT] = "sent",
	[DELIVERY_RETRYING] = "retrying", [DELIVERY_DEAD] = "dead",
};
static const char *const delivery_kind_names[DELIVERY_KIND_COUNT] = {
	[DELIVERY_KIND_INVITATION] = "invitation", [DELIVERY_KIND_NOTIFICATION] = "notification",
	[DELIVERY_KIND_WEBHOOK] = "webhook",
};

#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const char *name_of(const char *const *table, int n, int value, const char *fallback)
{
	return value >= 0 && value < n ? table[value] : fallback;
}

static int find_exact(const char *const *table, int n, const char *s)
{
	int i;

	for (i = 0; s && i < n; i++)
		if (strcmp(table[i], s) == 0)
			return i;
	return -1;
}

static int find_ci(const char *const *table, int n, const char *s, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (strlen(table[i]) == len && strmap_ci_equal(table[i], s, len))
			return i;
	return -1;
}

const char *format_lang_code(enum lang l)
{
	return name_of(lang_codes, LANG_COUNT, (int)l, "");
}

int format_lang_parse(const char *s, size_t len)
{
	int l = find_ci(lang_codes, LANG_COUNT, s, len);

	if (l < 0)
		l = find_ci(lang_names, LANG_COUNT, s, len);
	/* Deutsch is how German speakers spell it; the legacy tool wrote Deutsche. */
	if (l < 0 && len == 7 && strmap_ci_equal(s, "Deutsch", 7))
		l = LANG_DE;
	return l;
}

const char *format_product_name(enum product p)
{
	return name_of(product_names, PRODUCT_COUNT, (int)p, "");
}

int format_product_parse(const char *s, size_t len)
{
	return find_ci(product_names, PRODUCT_COUNT, s, len);
}

const char *format_role_name(enum role r)
{
	return role_names[r == ROLE_ADMINISTRATOR];
}

int format_role_parse(const char *s)
{
	return find_exact(role_names, ROLE_COUNT, s);
}

const char *format_state_name(enum member_state s)
{
	return name_of(format_state_names, STATE_COUNT, (int)s, "");
}

int format_state_parse(const char *s)
{
	return find_exact(format_state_names, STATE_COUNT, s);
}

const char *format_severity_name(enum issue_severity sev)
{
	return name_of(severity_names, COUNT(severity_names), (int)sev, "unknown");
}

int format_severity_parse(const char *s)
{
	return find_exact(severity_names, COUNT(severity_names), s);
}

const char *format_issue_code_name(enum issue_code code)
{
	return name_of(code_names, CODE_COUNT, (int)code, "unknown");
}

int format_issue_code_parse(const char *s)
{
	return find_exact(code_names, CODE_COUNT, s);
}

const char *format_sync_status_name(int status)
{
	return name_of(sync_status_names, SYNC_STATUS_COUNT, status, "Unknown");
}

int format_sync_status_parse(const char *s)
{
	return find_exact(sync_status_names, SYNC_STATUS_COUNT, s);
}

const char *format_delivery_status_name(int status)
{
	return name_of(delivery_status_names, DELIVERY_STATUS_COUNT, status, "unknown");
}

int format_delivery_status_parse(const char *s)
{
	return find_exact(delivery_status_names, DELIVERY_STATUS_COUNT, s);
}

const char *format_delivery_kind_name(int kind)
{
	return name_of(delivery_kind_names, DELIVERY_KIND_COUNT, kind, "unknown");
}

int format_delivery_kind_parse(const char *s)
{
	return find_exact(delivery_kind_names, DELIVERY_KIND_COUNT, s);
}
