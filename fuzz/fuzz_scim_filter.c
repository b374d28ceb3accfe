/*
 * libFuzzer target for the SCIM expressions (scim/filter.c): the input's
 * first line is a filter, its second a PATCH path, the rest a resource
 * (JSON) to evaluate the filter against. Whatever the text, parsing must
 * end (nesting is bounded), refuse with a message or give a tree, and
 * evaluation must answer the same twice; a filter and its negation never
 * both match. Otherwise the target aborts.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/scim/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next line of data (copied, NUL-terminated); *rest moves past it. */
static char *line(const uint8_t **p, size_t *left)
{
	const uint8_t *nl = memchr(*p, '\n', *left);
	size_t n = nl ? (size_t)(nl - *p) : *left;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, *p, n);
	s[n] = '\0';
	*p += nl ? n + 1 : n;
	*left -= nl ? n + 1 : n;
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t left = size;
	char *ftext = line(&p, &left), *ptext = line(&p, &left), err[200];
	struct scim_filter *f = NULL;
	struct scim_path path;
	json_t *res = json_loadb((const char *)p, left, 0, NULL);

	if (scim_filter_parse(ftext, &f, err, sizeof(err)) == SCIM_FILTER_OK) {
		struct scim_filter not = { .op = SCIM_OP_NOT, .left = f };
		bool a, b;

		if (!f)
			abort();
		if (res) {
			a = scim_filter_match(f, res);
			b = scim_filter_match(f, res);
			if (a != b || (a && scim_filter_match(&not, res)))
				abort();
		}
		scim_filter_free(f);
	} else if (!err[0]) {
		abort();
	}
	if (scim_path_parse(ptext, &path, err, sizeof(err)) == SCIM_FILTER_OK)
		scim_path_free(&path);
	else if (!err[0])
		abort();
	json_decref(res);
	free(ftext);
	free(ptext);
	return 0;
}
