#include "format/report.h"

#include "format/csv.h"
#include "format/names.h"

int format_report_text(const struct report *r, FILE *out)
{
	size_t i;

	for (i = 0; i < r->count; i++) {
		const struct issue *is = &r->issues[i];

		fputs(*is->file ? is->file : "orgsync", out);
		if (is->line)
			fprintf(out, ":%u", is->line);
		if (is->line && is->column)
			fprintf(out, ":%u", is->column);
		fprintf(out, ": %s: %s [%s]", format_severity_name(is->severity), is->message,
			format_issue_code_name(is->code));
		if (*is->record_id && *is->field)
			fprintf(out, " (record %s, field %s)", is->record_id, is->field);
		else if (*is->record_id)
			fprintf(out, " (record %s)", is->record_id);
		else if (*is->field)
			fprintf(out, " (field %s)", is->field);
		putc('\n', out);
	}
	if (r->dropped)
		fprintf(out, "... and %zu more issues not listed\n", r->dropped);
	return ferror(out) ? -1 : 0;
}

json_t *format_report_json(const struct report *r, size_t max)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; a && i < r->count && i < max; i++) {
		const struct issue *is = &r->issues[i];

		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:s, s:s}",
						   "severity", format_severity_name(is->severity),
						   "code", format_issue_code_name(is->code),
						   "file", is->file, "line", (json_int_t)is->line,
						   "column", (json_int_t)is->column, "field", is->field,
						   "recordId", is->record_id, "message", is->message));
	}
	return a;
}

static const char *text_of(const json_t *is, const char *key)
{
	const char *s = json_string_value(json_object_get(is, key));

	return s ? s : "";
}

int format_report_from_json(const json_t *issues, struct report *r, struct buf *unknown)
{
	const json_t *is;
	size_t i;

	json_array_foreach(issues, i, is) {
		const char *sev = json_string_value(json_object_get(is, "severity"));
		const char *code = json_string_value(json_object_get(is, "code"));
		const char *msg = text_of(is, "message");
		struct issue_loc loc = {
			text_of(is, "file"),
			(uint32_t)json_integer_value(json_object_get(is, "line")),
			(uint32_t)json_integer_value(json_object_get(is, "column")),
			text_of(is, "field"),
			text_of(is, "recordId"),
		};
		int c = format_issue_code_parse(code), s = format_severity_parse(sev);

		if (c < 0 || s < 0) {
			if (buf_printf(unknown, "%s:%u: %s: %s [%s]\n", *loc.file ? loc.file : "orgsync",
				       loc.line, sev ? sev : "issue", msg, code ? code : "?"))
				return -1;
			continue;
		}
		/* One r cannot hold for want of memory is counted there as dropped. */
		report_add(r, (enum issue_severity)s, (enum issue_code)c, &loc, "%s", msg);
	}
	return 0;
}

int format_report_csv(const struct report *r, struct buf *out)
{
	size_t i;

	if (buf_puts(out, "severity,code,file,line,column,field,recordId,message\n"))
		return -1;
	for (i = 0; i < r->count; i++) {
		const struct issue *is = &r->issues[i];

		if (buf_printf(out, "%s,%s,", format_severity_name(is->severity),
			       format_issue_code_name(is->code)) ||
		    format_csv_field(out, is->file, FORMAT_CSV_SPREADSHEET) ||
		    buf_printf(out, ",%u,%u,", is->line, is->column) ||
		    format_csv_field(out, is->field, FORMAT_CSV_SPREADSHEET) || buf_putc(out, ',') ||
		    format_csv_field(out, is->record_id, FORMAT_CSV_SPREADSHEET) ||
		    buf_putc(out, ',') || format_csv_field(out, is->message, FORMAT_CSV_SPREADSHEET) ||
		    buf_putc(out, '\n'))
			return -1;
	}
	return 0;
}
