/*
 * bench/flood: what member ids crafted to collide cost the ingest, with and
 * without the key they were crafted for (docs/security.md, hash flooding).
 *
 * A child process takes a key it knows (keyhash_set_key_for_tests) and
 * searches N ids whose hashes under that key share their low 16 bits, so
 * that they all want the first WINDOW slots of a 65,536-slot table (the
 * member id table of an org of up to 32,768 members): what anyone could do
 * offline if the tables had an unkeyed or fixed hash. It writes them as a
 * members file and times the ingest of that file under that key. This
 * process, keyed as every orgsync process is (a key drawn at start, never
 * set), times the ingest of the same file and of a file of ordinary ids
 * (the same shape, consecutive numbers). Each figure is the best of
 * --repeat runs, and the ratios are to the ordinary ids in this process:
 *
 *   crafted ids, this process's key       ~1: the key defeats the crafting
 *   crafted ids, the key they were built for  >> 1: the attack the key
 *                                         stops (and proof that this
 *                                         benchmark would see it come back)
 *
 * usage: flood [--members N] [--repeat R] [--max-ratio X] [--min-attack Y]
 * Exits 1 when crafted ids cost more than X times ordinary ones (default 2)
 * under this process's key, or less than Y times (default 5) under theirs.
 * Unlike the ingest benchmark a miss is an exit status: flooding costs an
 * order of magnitude, far beyond this machine's noise.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ingest/ingest.h"
#include "model/org.h"
#include "model/report.h"
#include "util/keyhash.h"
#include "util/os.h"

enum { TABLE_BITS = 16, WINDOW = 64, MAX_REPEAT = 100 };

/* The key the ids are crafted for; any fixed value serves. */
static const uint8_t CRAFT_KEY[KEYHASH_KEY_LEN] = "flood-bench-key";

struct files {
	char dir[64];
	char ordinary[128], crafted[128], teams[128], mappings[128];
};

static double now(void)
{
	return (double)os_now_ns() * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Best and median of r ingests of members_path; -1 when one failed. */
static int time_ingest(const struct files *f, const char *members_path, int r, uint32_t expect,
		       double *best, double *median)
{
	double secs[MAX_REPEAT];
	struct ingest_opts opts = { .any_property = true };
	int i, rc = 0;

	for (i = 0; i < r && rc == 0; i++) {
		struct ingest_input m = { "members.csv", members_path, NULL, 0 };
		struct ingest_input t = { "teams.csv", f->teams, NULL, 0 };
		struct ingest_input p = { "teams-mappings.csv", f->mappings, NULL, 0 };
		struct org org;
		struct report rep;
		double t0 = now();

		org_init(&org);
		report_init(&rep);
		if (ingest_csv(&m, &t, &p, &opts, &org, &rep, NULL) != INGEST_OK ||
		    org.nmembers != expect) {
			fprintf(stderr, "flood: ingest of %s failed or lost members (%u of %u)\n",
				members_path, org.nmembers, expect);
			rc = -1;
		}
		org_free(&org);
		report_free(&rep);
		secs[i] = now() - t0;
	}
	if (rc)
		return rc;
	qsort(secs, (size_t)r, sizeof(secs[0]), cmp_double);
	*best = secs[0];
	*median = secs[r / 2];
	return 0;
}

/* The next decimal number in place (snprintf per try would cost more than the hash). */
static void increment(char *digits, size_t n)
{
	while (n > 0 && digits[n - 1] == '9')
		digits[--n] = '0';
	if (n > 0)
		digits[n - 1]++;
}

/* Writes a members file of n rows: consecutive ids, or (crafted) the next
 * ones whose hash under the current key falls in the first WINDOW slots. */
static int write_members(const char *path, uint32_t n, int crafted)
{
	FILE *out = fopen(path, "w");
	char id[] = "E0000000000";
	const size_t len = sizeof(id) - 1;
	uint32_t i;
	int rc;

	if (!out)
		return -1;
	fputs("externalMemberId,email,firstName,lastName\n", out);
	for (i = 0; i < n; i++) {
		while (crafted && (keyhash_bytes(id, len) & ((1u << TABLE_BITS) - 1)) >= WINDOW)
			increment(id + 1, len - 1);
		fprintf(out, "%s,m%u@flood.example,First,Last\n", id, i);
		increment(id + 1, len - 1);
	}
	rc = ferror(out) ? -1 : 0;
	if (fclose(out))
		rc = -1;
	return rc;
}

static int write_text(const char *path, const char *text)
{
	FILE *out = fopen(path, "w");
	int rc;

	if (!out)
		return -1;
	fputs(text, out);
	rc = ferror(out) ? -1 : 0;
	if (fclose(out))
		rc = -1;
	return rc;
}

/*
 * The child: under CRAFT_KEY, crafts the ids into f->crafted and times
 * their ingest; sends back the craft time, best and median.
 */
static int child_craft(const struct files *f, uint32_t n, int r, int fd)
{
	double res[3], t0;

	keyhash_set_key_for_tests(CRAFT_KEY);
	t0 = now();
	if (write_members(f->crafted, n, 1))
		return 1;
	res[0] = now() - t0;
	if (time_ingest(f, f->crafted, r, n, &res[1], &res[2]))
		return 1;
	return write(fd, res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 1;
}

static void usage(void)
{
	fputs("usage: flood [--members N] [--repeat R] [--max-ratio X] [--min-attack Y]\n", stderr);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "members", required_argument, NULL, 'n' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "max-ratio", required_argument, NULL, 'x' },
		{ "min-attack", required_argument, NULL, 'y' },
		{ NULL, 0, NULL, 0 },
	};
	uint32_t n = 20000;
	int r = 3, c, fd[2], status, rc = 2;
	double max_ratio = 2, min_attack = 5, craft[3] = { 0 }, ord_best, ord_med, cr_best, cr_med;
	struct files f;
	bool ok_key, ok_attack;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'n': n = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'r': r = atoi(optarg); break;
		case 'x': max_ratio = atof(optarg); break;
		case 'y': min_attack = atof(optarg); break;
		default: usage(); return 2;
		}
	}
	if (optind != argc || n < 100 || n > (1u << (TABLE_BITS - 1)) || r < 1 || r > MAX_REPEAT) {
		usage();
		return 2;
	}
	keyhash_init();
	snprintf(f.dir, sizeof(f.dir), "/tmp/orgsync-flood.XXXXXX");
	if (!mkdtemp(f.dir)) {
		perror("flood: mkdtemp");
		return 2;
	}
	snprintf(f.ordinary, sizeof(f.ordinary), "%s/ordinary.csv", f.dir);
	snprintf(f.crafted, sizeof(f.crafted), "%s/crafted.csv", f.dir);
	snprintf(f.teams, sizeof(f.teams), "%s/teams.csv", f.dir);
	snprintf(f.mappings, sizeof(f.mappings), "%s/teams-mappings.csv", f.dir);
	if (write_text(f.teams, "externalTeamId,teamName\n") ||
	    write_text(f.mappings, "externalTeamId,externalMemberId,externalSubteamId,isMember,"
				   "isManager\n") ||
	    write_members(f.ordinary, n, 0) || pipe(fd)) {
		perror("flood: writing the inputs");
		goto out;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("flood: fork");
		goto out;
	}
	if (pid == 0) {
		close(fd[0]);
		_exit(child_craft(&f, n, r, fd[1]));
	}
	close(fd[1]);
	if (read(fd[0], craft, sizeof(craft)) != (ssize_t)sizeof(craft) ||
	    waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "flood: the crafting child failed\n");
		close(fd[0]);
		goto out;
	}
	close(fd[0]);
	if (time_ingest(&f, f.ordinary, r, n, &ord_best, &ord_med) ||
	    time_ingest(&f, f.crafted, r, n, &cr_best, &cr_med))
		goto out;

	printf("flood: %u member ids; crafted in %.2f s to share the first %d slots of a "
	       "%u-slot table under a known key\n", n, craft[0], WINDOW, 1u << TABLE_BITS);
	printf("%-44s %8s %9s %10s\n", "ingest of", "best s", "median s", "x ordinary");
	printf("%-44s %8.4f %9.4f %10.2f\n", "ordinary ids, this process's key", ord_best, ord_med,
	       1.0);
	printf("%-44s %8.4f %9.4f %10.2f\n", "crafted ids, this process's key", cr_best, cr_med,
	       cr_best / ord_best);
	printf("%-44s %8.4f %9.4f %10.2f\n", "crafted ids, the key they were crafted for",
	       craft[1], craft[2], craft[1] / ord_best);
	ok_key = cr_best / ord_best <= max_ratio;
	ok_attack = craft[1] / ord_best >= min_attack;
	printf("target: crafted ids cost <= %.1fx ordinary ones under this process's key: %s\n",
	       max_ratio, ok_key ? "ok" : "MISSED");
	printf("check: under the key they were crafted for they cost >= %.1fx (the benchmark "
	       "sees flooding): %s\n", min_attack, ok_attack ? "ok" : "MISSED");
	rc = ok_key && ok_attack ? 0 : 1;
out:
	unlink(f.ordinary);
	unlink(f.crafted);
	unlink(f.teams);
	unlink(f.mappings);
	rmdir(f.dir);
	return rc;
}
