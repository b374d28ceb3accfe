/*
 * libFuzzer target for the JSON payload reader. Each input is read twice:
 * whole through ingest_json(), then through the stream API in small
 * irregular chunks. Both must give the same status, org and report
 * (positions included), or the target aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/ingest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void differ(const char *what)
{
	fprintf(stderr, "whole and chunked reads differ: %s\n", what);
	abort();
}

static void compare(const struct org *a, const struct report *ra,
		    const struct org *b, const struct report *rb)
{
	size_t i;

	if (a->nmembers != b->nmembers || a->nteams != b->nteams ||
	    a->nmappings != b->nmappings || a->nprops != b->nprops)
		differ("org counts");
	if (ra->count != rb->count || ra->dropped != rb->dropped)
		differ("issue counts");
	for (i = 0; i < ra->count; i++) {
		const struct issue *x = &ra->issues[i], *y = &rb->issues[i];

		if (x->severity != y->severity || x->code != y->code || x->line != y->line ||
		    x->column != y->column || strcmp(x->field, y->field) != 0 ||
		    strcmp(x->record_id, y->record_id) != 0 || strcmp(x->message, y->message) != 0)
			differ(x->message);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct ingest_opts opts = { NULL, 0, true };
	const struct ingest_input in = { "payload.json", NULL, (const char *)data, size };
	struct ingest_json_stream *s;
	struct report rep, rep2;
	struct org org, org2;
	uint32_t seed = (uint32_t)size * 2654435761u;
	size_t off = 0;
	int rc, rc2;

	org_init(&org);
	report_init(&rep);
	rc = ingest_json(&in, &opts, &org, &rep, NULL);

	org_init(&org2);
	report_init(&rep2);
	rc2 = ingest_json_stream_new("payload.json", &opts, &org2, &rep2, &s);
	if (rc2 == INGEST_OK) {
		while (off < size) {
			size_t n;

			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 7;
			if (n > size - off)
				n = size - off;
			if (ingest_json_stream_feed(s, (const char *)data + off, n) != INGEST_OK)
				break;
			off += n;
		}
		rc2 = ingest_json_stream_finish(s, NULL);
	}
	if (rc != INGEST_ENOMEM && rc2 != INGEST_ENOMEM) {
		if (rc != rc2)
			differ("status");
		compare(&org, &rep, &org2, &rep2);
	}

	org_free(&org2);
	report_free(&rep2);
	org_free(&org);
	report_free(&rep);
	return 0;
}
