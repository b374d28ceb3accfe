/*
 * bench/ingest: how far our ingest (parse + validate + build the org and
 * its report) is from what the parsing libraries alone can do on the same
 * files. The floor is a raw libcsv pass (resp. yajl pass) whose callbacks
 * only count: no ingest can be faster than tokenizing its input once, so
 * "ours / floor" says what validation and the model cost, independently of
 * how fast or noisy the machine is (both figures come from the same run).
 *
 * Every run of every measurement happens in a fresh forked child, which
 * reports its wall time and its own peak RSS through a pipe: the parent
 * stays small, and one measurement's heap never hides another's peak.
 *
 * usage: ingest [--repeat R] [--json] [--max-ratio X] [--max-rss MIB] DIR
 * DIR holds members.csv, teams.csv, teams-mappings.csv and/or org.json
 * (as written by `orgsync gen`). With targets given, a line per target
 * says whether our figures met it; missing one is reported, not an exit
 * status, because a noisy machine should not fail a build.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_parse.h>

#include "ingest/ingest.h"
#include "model/org.h"
#include "model/report.h"
#include "util/os.h"

enum { CHUNK = 1 << 20, MAX_REPEAT = 100 };

static const char *const CSV_FILES[3] = { "members.csv", "teams.csv", "teams-mappings.csv" };

/* What one run in a child sends back. */
struct run_result {
	int ok;              /* 1 when the run completed */
	double secs;
	long maxrss_kib;
	uint64_t rows;       /* data records met (floor) or built (ours) */
	uint64_t bytes;
	uint32_t members, teams, mappings;
	uint64_t errors, warnings, fatals;
};

/* One line of the table. */
struct measurement {
	const char *name;
	const char *key;     /* for --json */
	int floor;           /* index of its floor in the table, or -1 */
	double best, median;
	long maxrss_kib;
	struct run_result last;
};

struct bench {
	const char *dir;
	char csv_paths[3][4096];
	char json_path[4096];
	bool have_csv, have_json;
	int repeat;
	double max_ratio;    /* targets; 0 = none */
	double max_rss_mib;
};

static double now(void)
{
	return (double)os_now_ns() * 1e-9;
}

/* ---- floors ---- */

struct csv_count {
	uint64_t fields, rows;
};

static void csv_count_field(void *s, size_t len, void *ctx)
{
	(void)s;
	(void)len;
	((struct csv_count *)ctx)->fields++;
}

static void csv_count_row(int c, void *ctx)
{
	(void)c;
	((struct csv_count *)ctx)->rows++;
}

/* A raw libcsv pass over one file in 1 MiB reads. Returns 0 or -1. */
static int csv_floor_file(const char *path, char *chunk, struct csv_count *cnt, uint64_t *bytes)
{
	struct csv_parser p;
	int fd, rc = -1;
	ssize_t n;

	if (csv_init(&p, CSV_STRICT) != 0)
		return -1;
	fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "ingest: %s: %s\n", path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, CHUNK)) > 0) {
		*bytes += (uint64_t)n;
		if (csv_parse(&p, chunk, (size_t)n, csv_count_field, csv_count_row, cnt) != (size_t)n) {
			fprintf(stderr, "ingest: %s: %s\n", path, csv_strerror(csv_error(&p)));
			goto out;
		}
	}
	if (n < 0) {
		fprintf(stderr, "ingest: %s: %s\n", path, strerror(errno));
		goto out;
	}
	if (csv_fini(&p, csv_count_field, csv_count_row, cnt) != 0) {
		fprintf(stderr, "ingest: %s: %s\n", path, csv_strerror(csv_error(&p)));
		goto out;
	}
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	csv_free(&p);
	return rc;
}

static int run_csv_floor(const struct bench *b, struct run_result *res)
{
	struct csv_count cnt = { 0, 0 };
	char *chunk = malloc(CHUNK);
	int rc = -1;

	if (!chunk)
		return -1;
	for (int i = 0; i < 3; i++) {
		uint64_t before = cnt.rows;

		if (csv_floor_file(b->csv_paths[i], chunk, &cnt, &res->bytes))
			goto out;
		if (cnt.rows > before)
			cnt.rows--; /* the header line */
	}
	res->rows = cnt.rows;
	rc = 0;
out:
	free(chunk);
	return rc;
}

/* Counts the records: the objects inside the top-level arrays. */
struct json_count {
	uint64_t values, records;
	int depth;
};

static int js_value(void *ctx)
{
	((struct json_count *)ctx)->values++;
	return 1;
}

static int js_null(void *ctx)
{
	return js_value(ctx);
}

static int js_bool(void *ctx, int v)
{
	(void)v;
	return js_value(ctx);
}

static int js_number(void *ctx, const char *s, size_t len)
{
	(void)s;
	(void)len;
	return js_value(ctx);
}

static int js_string(void *ctx, const unsigned char *s, size_t len)
{
	(void)s;
	(void)len;
	return js_value(ctx);
}

static int js_start_map(void *ctx)
{
	struct json_count *c = ctx;

	if (++c->depth == 3)
		c->records++;
	return 1;
}

static int js_end(void *ctx)
{
	((struct json_count *)ctx)->depth--;
	return 1;
}

static int js_start_array(void *ctx)
{
	((struct json_count *)ctx)->depth++;
	return 1;
}

static const yajl_callbacks JSON_COUNT = {
	.yajl_null = js_null,
	.yajl_boolean = js_bool,
	.yajl_number = js_number,
	.yajl_string = js_string,
	.yajl_start_map = js_start_map,
	.yajl_map_key = js_string,
	.yajl_end_map = js_end,
	.yajl_start_array = js_start_array,
	.yajl_end_array = js_end,
};

/* A raw yajl pass (UTF-8 validated, as yajl does by default) in 1 MiB reads. */
static int run_json_floor(const struct bench *b, struct run_result *res)
{
	struct json_count cnt = { 0, 0, 0 };
	yajl_handle h = NULL;
	char *chunk = malloc(CHUNK);
	int fd = -1, rc = -1;
	ssize_t n;

	if (!chunk)
		goto out;
	h = yajl_alloc(&JSON_COUNT, NULL, &cnt);
	if (!h)
		goto out;
	fd = open(b->json_path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "ingest: %s: %s\n", b->json_path, strerror(errno));
		goto out;
	}
	while ((n = read(fd, chunk, CHUNK)) > 0) {
		res->bytes += (uint64_t)n;
		if (yajl_parse(h, (const unsigned char *)chunk, (size_t)n) != yajl_status_ok)
			goto parse_error;
	}
	if (n < 0) {
		fprintf(stderr, "ingest: %s: %s\n", b->json_path, strerror(errno));
		goto out;
	}
	if (yajl_complete_parse(h) != yajl_status_ok)
		goto parse_error;
	res->rows = cnt.records;
	rc = 0;
	goto out;
parse_error:
	{
		unsigned char *msg = yajl_get_error(h, 0, NULL, 0);

		fprintf(stderr, "ingest: %s: %s\n", b->json_path, (const char *)msg);
		yajl_free_error(h, msg);
	}
out:
	if (fd >= 0)
		close(fd);
	if (h)
		yajl_free(h);
	free(chunk);
	return rc;
}

/* ---- ours ---- */

static void file_bytes(const char *path, uint64_t *bytes)
{
	struct stat st;

	if (stat(path, &st) == 0)
		*bytes += (uint64_t)st.st_size;
}

static void org_result(const struct org *o, const struct report *rep, struct run_result *res)
{
	res->members = o->nmembers;
	res->teams = o->nteams;
	res->mappings = o->nmappings;
	res->rows = (uint64_t)o->nmembers + o->nteams + o->nmappings;
	res->fatals = report_count(rep, ISSUE_FATAL);
	res->errors = report_count(rep, ISSUE_ERROR);
	res->warnings = report_count(rep, ISSUE_WARNING);
}

/* Our whole CSV ingest: read, validate, build the org and report, free them. */
static int run_csv_ours(const struct bench *b, struct run_result *res)
{
	static const struct ingest_opts opts = { .any_property = true };
	struct ingest_input in[3];
	struct report rep;
	struct org org;
	int rc;

	for (int i = 0; i < 3; i++) {
		in[i] = (struct ingest_input){ .name = CSV_FILES[i], .path = b->csv_paths[i] };
		file_bytes(b->csv_paths[i], &res->bytes);
	}
	org_init(&org);
	report_init(&rep);
	rc = ingest_csv(&in[0], &in[1], &in[2], &opts, &org, &rep, NULL);
	org_result(&org, &rep, res);
	org_free(&org);
	report_free(&rep);
	return rc == INGEST_OK ? 0 : -1;
}

static int run_json_ours(const struct bench *b, struct run_result *res)
{
	static const struct ingest_opts opts = { .any_property = true };
	struct ingest_input in = { .name = "org.json", .path = b->json_path };
	struct report rep;
	struct org org;
	int rc;

	file_bytes(b->json_path, &res->bytes);
	org_init(&org);
	report_init(&rep);
	rc = ingest_json(&in, &opts, &org, &rep, NULL);
	org_result(&org, &rep, res);
	org_free(&org);
	report_free(&rep);
	return rc == INGEST_OK ? 0 : -1;
}

/* ---- runner ---- */

typedef int (*run_fn)(const struct bench *b, struct run_result *res);

static int write_all(int fd, const void *p, size_t n)
{
	const char *c = p;

	while (n) {
		ssize_t w = write(fd, c, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		c += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Runs fn once in a fresh child; its time and peak RSS come back through a pipe. */
static int run_in_child(const struct bench *b, run_fn fn, struct run_result *res)
{
	struct run_result r = { 0 };
	int fds[2], status;
	ssize_t got;
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		struct rusage ru;
		double t0;

		close(fds[0]);
		t0 = now();
		r.ok = fn(b, &r) == 0;
		r.secs = now() - t0;
		getrusage(RUSAGE_SELF, &ru);
		r.maxrss_kib = ru.ru_maxrss;
		_exit(write_all(fds[1], &r, sizeof(r)) ? 1 : 0);
	}
	close(fds[1]);
	do
		got = read(fds[0], &r, sizeof(r));
	while (got < 0 && errno == EINTR);
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (got != (ssize_t)sizeof(r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "ingest: the measuring process failed (%s)\n",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no result");
		return -1;
	}
	*res = r;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int measure(const struct bench *b, run_fn fn, struct measurement *m)
{
	double secs[MAX_REPEAT] = { 0 };
	int n = b->repeat;

	m->maxrss_kib = 0;
	for (int i = 0; i < n; i++) {
		if (run_in_child(b, fn, &m->last))
			return -1;
		if (!m->last.ok) {
			fprintf(stderr, "ingest: %s failed (%" PRIu64 " structural errors)\n",
				m->name, m->last.fatals);
			return -1;
		}
		secs[i] = m->last.secs;
		if (m->last.maxrss_kib > m->maxrss_kib)
			m->maxrss_kib = m->last.maxrss_kib;
	}
	qsort(secs, (size_t)n, sizeof(secs[0]), cmp_double);
	m->best = secs[0];
	m->median = n % 2 ? secs[n / 2] : (secs[n / 2 - 1] + secs[n / 2]) / 2;
	return 0;
}

/* ---- output ---- */

static void human_rate(char *buf, size_t cap, double v)
{
	if (v >= 1e6)
		snprintf(buf, cap, "%.2f M", v / 1e6);
	else if (v >= 1e3)
		snprintf(buf, cap, "%.1f k", v / 1e3);
	else
		snprintf(buf, cap, "%.0f", v);
}

/* Rows: the data records of the input, as counted by the floor pass. */
static uint64_t rows_of(const struct measurement *ms, int i)
{
	const struct measurement *m = &ms[i];

	return m->floor >= 0 ? ms[m->floor].last.rows : m->last.rows;
}

static void print_table(const struct bench *b, const struct measurement *ms, int n)
{
	printf("%s (repeat %d; best and median wall time; peak RSS of a fresh process)\n",
	       b->dir, b->repeat);
	printf("%-22s %10s %10s %10s %9s %10s %8s\n", "measurement", "best s", "median s",
	       "rows/s", "MB/s", "peak RSS", "x floor");
	for (int i = 0; i < n; i++) {
		const struct measurement *m = &ms[i];
		char rate[32], ratio[32];

		human_rate(rate, sizeof(rate), (double)rows_of(ms, i) / m->best);
		if (m->floor >= 0)
			snprintf(ratio, sizeof(ratio), "%.2f", m->best / ms[m->floor].best);
		else
			snprintf(ratio, sizeof(ratio), "1.00");
		printf("%-22s %10.3f %10.3f %10s %9.1f %6.1f MiB %8s\n", m->name, m->best,
		       m->median, rate, (double)m->last.bytes / 1e6 / m->best,
		       (double)m->maxrss_kib / 1024.0, ratio);
	}
	for (int i = 0; i < n; i++) {
		const struct run_result *r = &ms[i].last;

		if (ms[i].floor < 0)
			continue;
		printf("%s: %" PRIu32 " members, %" PRIu32 " teams, %" PRIu32 " mappings; "
		       "%" PRIu64 " errors, %" PRIu64 " warnings\n", ms[i].name, r->members,
		       r->teams, r->mappings, r->errors, r->warnings);
	}
}

/* One line per target and measurement of ours: the figure, the target, ok or MISSED. */
static void print_targets(const struct bench *b, const struct measurement *ms, int n)
{
	for (int i = 0; i < n; i++) {
		const struct measurement *m = &ms[i];
		double ratio, rss = (double)m->maxrss_kib / 1024.0;

		if (m->floor < 0)
			continue;
		ratio = m->best / ms[m->floor].best;
		if (b->max_ratio > 0)
			printf("target: %s at %.2fx its floor (<= %.1fx): %s\n", m->name, ratio,
			       b->max_ratio, ratio <= b->max_ratio ? "ok" : "MISSED");
		if (b->max_rss_mib > 0)
			printf("target: %s peak RSS %.0f MiB (<= %.0f MiB): %s\n", m->name, rss,
			       b->max_rss_mib, rss <= b->max_rss_mib ? "ok" : "MISSED");
	}
}

static void print_json(const struct bench *b, const struct measurement *ms, int n)
{
	printf("{\"dir\":\"");
	for (const char *p = b->dir; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		if ((unsigned char)*p >= 0x20)
			putchar(*p);
	}
	printf("\",\"repeat\":%d,\"measurements\":[", b->repeat);
	for (int i = 0; i < n; i++) {
		const struct measurement *m = &ms[i];
		uint64_t rows = rows_of(ms, i);

		printf("%s\n{\"name\":\"%s\",\"best_s\":%.6f,\"median_s\":%.6f,\"rows\":%" PRIu64
		       ",\"bytes\":%" PRIu64 ",\"rows_per_s\":%.0f,\"mb_per_s\":%.2f,"
		       "\"peak_rss_kib\":%ld,\"floor\":%s%s%s,\"ratio\":%.3f",
		       i ? "," : "", m->key, m->best, m->median, rows, m->last.bytes,
		       (double)rows / m->best, (double)m->last.bytes / 1e6 / m->best,
		       m->maxrss_kib, m->floor >= 0 ? "\"" : "",
		       m->floor >= 0 ? ms[m->floor].key : "null", m->floor >= 0 ? "\"" : "",
		       m->floor >= 0 ? m->best / ms[m->floor].best : 1.0);
		if (m->floor >= 0)
			printf(",\"members\":%" PRIu32 ",\"teams\":%" PRIu32 ",\"mappings\":%" PRIu32
			       ",\"errors\":%" PRIu64 ",\"warnings\":%" PRIu64, m->last.members,
			       m->last.teams, m->last.mappings, m->last.errors, m->last.warnings);
		putchar('}');
	}
	printf("\n]}\n");
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ingest [--repeat R] [--json] [--max-ratio X] [--max-rss MIB] DIR\n"
		"Times our CSV/JSON ingest of the org in DIR against a raw libcsv/yajl pass.\n"
		"  --repeat R       runs per measurement, each in a fresh process (default 3, max %d)\n"
		"  --json           print the figures as JSON instead of a table\n"
		"  --max-ratio X    target: our best time within X times the floor's\n"
		"  --max-rss MIB    target: our peak RSS within MIB MiB\n", MAX_REPEAT);
}

static int path_in(char *buf, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(buf, cap, "%s/%s", dir, name);

	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "json", no_argument, NULL, 'j' },
		{ "max-ratio", required_argument, NULL, 'x' },
		{ "max-rss", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench b = { .repeat = 3 };
	struct measurement ms[4];
	bool json = false;
	int n = 0, c;
	double *target;
	char *end;
	long v;

	while ((c = getopt_long(argc, argv, "r:jx:m:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			errno = 0;
			v = strtol(optarg, &end, 10);
			if (errno || *end || v < 1 || v > MAX_REPEAT) {
				fprintf(stderr, "ingest: --repeat must be 1 to %d\n", MAX_REPEAT);
				return 2;
			}
			b.repeat = (int)v;
			break;
		case 'j':
			json = true;
			break;
		case 'x':
		case 'm':
			target = c == 'x' ? &b.max_ratio : &b.max_rss_mib;
			errno = 0;
			*target = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(*target > 0)) {
				fprintf(stderr, "ingest: --%s needs a positive number\n",
					c == 'x' ? "max-ratio" : "max-rss");
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	b.dir = argv[optind];
	b.have_csv = true;
	for (int i = 0; i < 3; i++) {
		if (path_in(b.csv_paths[i], sizeof(b.csv_paths[i]), b.dir, CSV_FILES[i]) ||
		    access(b.csv_paths[i], R_OK) != 0)
			b.have_csv = false;
	}
	b.have_json = !path_in(b.json_path, sizeof(b.json_path), b.dir, "org.json") &&
		      access(b.json_path, R_OK) == 0;
	if (!b.have_csv && !b.have_json) {
		fprintf(stderr, "ingest: %s holds neither members.csv, teams.csv and "
			"teams-mappings.csv nor org.json\n", b.dir);
		return 2;
	}

	if (b.have_csv) {
		ms[n] = (struct measurement){ .name = "csv floor (libcsv)", .key = "csv_floor",
					      .floor = -1 };
		if (measure(&b, run_csv_floor, &ms[n]))
			return 1;
		n++;
		ms[n] = (struct measurement){ .name = "csv ingest (ours)", .key = "csv_ingest",
					      .floor = n - 1 };
		if (measure(&b, run_csv_ours, &ms[n]))
			return 1;
		n++;
	}
	if (b.have_json) {
		ms[n] = (struct measurement){ .name = "json floor (yajl)", .key = "json_floor",
					      .floor = -1 };
		if (measure(&b, run_json_floor, &ms[n]))
			return 1;
		n++;
		ms[n] = (struct measurement){ .name = "json ingest (ours)", .key = "json_ingest",
					      .floor = n - 1 };
		if (measure(&b, run_json_ours, &ms[n]))
			return 1;
		n++;
	}
	if (json) {
		print_json(&b, ms, n);
	} else {
		print_table(&b, ms, n);
		print_targets(&b, ms, n);
	}
	return 0;
}
