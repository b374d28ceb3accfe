/*
 * A stand-in for the sync API, for the client's e2e tests (test_push.sh):
 * answers POST /v1/syncs with --fail-status (default 503) for the first
 * --fail requests, then with --status (default 202, sync 1); counts the
 * POSTs in --count-file and keeps the last body in --body-file. GET
 * /v1/syncs/1 answers --sync-status. Prints nothing but its port
 * (--port-file). Built by the test itself:
 *   cc -o stub tests/support/stub_server.c $(pkg-config --cflags --libs libmicrohttpd)
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int fail_n, fail_status = 503, ok_status = 202, count;
static const char *retry_after, *count_file, *body_file, *sync_status = "Success";

struct req {
	char *data;
	size_t len;
};

static void write_file(const char *path, const char *data, size_t len)
{
	FILE *f;

	if (!path || !(f = fopen(path, "wb")))
		return;
	fwrite(data, 1, len, f);
	fclose(f);
}

static enum MHD_Result answer(struct MHD_Connection *c, int status, const char *body,
			      const char *hname, const char *hvalue)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), (void *)body,
								 MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	MHD_add_response_header(r, "Content-Type", "application/json");
	MHD_add_response_header(r, "X-Request-Id", "stub-request");
	if (hname)
		MHD_add_response_header(r, hname, hvalue);
	rc = MHD_queue_response(c, (unsigned)status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct req *q = *state;
	char buf[256], n[16];

	(void)cls;
	(void)version;
	if (!q) {
		*state = calloc(1, sizeof(struct req));
		return *state ? MHD_YES : MHD_NO;
	}
	if (*size) {
		char *p = realloc(q->data, q->len + *size);

		if (!p)
			return MHD_NO;
		memcpy(p + q->len, data, *size);
		q->data = p;
		q->len += *size;
		*size = 0;
		return MHD_YES;
	}
	if (!strcmp(method, "POST") && !strncmp(url, "/v1/syncs", 9) && !url[9]) {
		count++;
		snprintf(n, sizeof(n), "%d\n", count);
		write_file(count_file, n, strlen(n));
		write_file(body_file, q->data ? q->data : "", q->len);
		if (count <= fail_n) {
			if (fail_status == 409)
				snprintf(buf, sizeof(buf), "{\"error\":{\"code\":\"sync_running\",\"message"
					 "\":\"sync 7 is still running\",\"details\":[{\"runningSyncId\":7}]}}");
			else
				snprintf(buf, sizeof(buf), "{\"error\":{\"code\":\"stub\",\"message\":"
					 "\"answer %d of the stub\",\"details\":[]}}", fail_status);
			return answer(c, fail_status, buf, retry_after ? "Retry-After" : NULL, retry_after);
		}
		if (ok_status != 202) {
			snprintf(buf, sizeof(buf), "{\"error\":{\"code\":\"bad_parameter\",\"message\":"
				 "\"the stub answers %d\",\"details\":[]}}", ok_status);
			return answer(c, ok_status, buf, NULL, NULL);
		}
		return answer(c, 202, "{\"id\":1,\"status\":\"Pending\"}", "Location", "/v1/syncs/1");
	}
	if (!strcmp(method, "GET") && !strcmp(url, "/v1/syncs/1")) {
		snprintf(buf, sizeof(buf), "{\"id\":1,\"status\":\"%s\",\"reason\":\"set by the stub\","
			 "\"counts\":null,\"risk\":null}", sync_status);
		return answer(c, 200, buf, NULL, NULL);
	}
	if (!strcmp(method, "GET") && !strcmp(url, "/v1/syncs/1/report"))
		return answer(c, 200, "{\"syncId\":1,\"issues\":[]}", NULL, NULL);
	return answer(c, 404, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such route\"}}",
		      NULL, NULL);
}

static void on_done(void *cls, struct MHD_Connection *c, void **state,
		    enum MHD_RequestTerminationCode why)
{
	struct req *q = *state;

	(void)cls;
	(void)c;
	(void)why;
	if (q)
		free(q->data);
	free(q);
	*state = NULL;
}

int main(int argc, char **argv)
{
	struct sockaddr_in addr = { 0 };
	const union MHD_DaemonInfo *info;
	struct MHD_Daemon *d;
	const char *port_file = NULL;
	sigset_t set;
	int i, sig;

	for (i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--port-file")) port_file = argv[i + 1];
		else if (!strcmp(argv[i], "--fail")) fail_n = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--fail-status")) fail_status = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--retry-after")) retry_after = argv[i + 1];
		else if (!strcmp(argv[i], "--status")) ok_status = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--count-file")) count_file = argv[i + 1];
		else if (!strcmp(argv[i], "--body-file")) body_file = argv[i + 1];
		else if (!strcmp(argv[i], "--sync-status")) sync_status = argv[i + 1];
		else return 2;
	}
	/* Blocked before the daemon's thread starts, so that it inherits the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	addr.sin_family = AF_INET;
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* One thread: the counts need no lock. */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
			     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
			     MHD_OPTION_NOTIFY_COMPLETED, on_done, NULL, MHD_OPTION_END);
	if (!d)
		return 1;
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	if (port_file) {
		char p[16];

		snprintf(p, sizeof(p), "%u\n", (unsigned)info->port);
		write_file(port_file, p, strlen(p));
	}
	sigwait(&set, &sig);
	MHD_stop_daemon(d);
	return 0;
}
