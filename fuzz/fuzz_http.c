/*
 * libFuzzer target for the HTTP edge. Each input is the bytes a client
 * sends on one connection, served in-process by the real daemon (started
 * without a listening socket, handed a loopback connection): libmicrohttpd's
 * request and multipart parsing, routing, authentication and every /v1
 * handler, against a SQLite database set up once with two organizations.
 *
 * In the input, KEY2 stands for the second organization's API key, KEY for
 * the first's and TOKEN for a valid invitation token, so that authenticated
 * routes are reached. The target aborts when a response does not start
 * with an HTTP/1.x status line, on a 500 or any 5xx from a handler, when the
 * daemon does not finish in time, when an API key comes back in a response,
 * or when a client that did not authenticate as the first organization
 * gets to see any of its data.
 *
 * Syncs are registered but never processed (no worker is started). After
 * an input that wrote something, what it changed that would steer later
 * inputs elsewhere (a Pending sync, the Paused one, settings, properties, a
 * used invitation) is put back, so that an input behaves the same whenever
 * it runs; members' invitation states are left as they are.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/tcp.h>
#include <microhttpd.h>
#include <poll.h>
#include <sanitizer/common_interface_defs.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "format/names.h"
#include "server/http.h"
#include "server/orgcache.h"
#include "server/service.h"
#include "sync/lease.h"
#include "sync/sync.h"
#include "store/store.h"
#include "util/buf.h"
#include "util/os.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Only the first organization's data holds this string. */
#define MARK "zq7xmark"

enum {
	RESPONSE_MAX = 8 << 20,
	DEADLINE_MS = 5000,      /* for the whole exchange; the daemon's own timeout is 10 s */
	STALL_US = 3000,
	CHECKPOINT_EVERY = 512,  /* resets */
};

static const char org1_payload[] =
	"{\"members\":["
	"{\"externalMemberId\":\"m-alice\",\"email\":\"alice@" MARK ".example\",\"firstName\":\"Alice\","
	"\"lastName\":\"Smith\",\"jobTitle\":\"" MARK " lead\",\"languagePreferences\":[\"en\",\"fr\"],"
	"\"productAssignations\":[\"Skills\"],\"costCenter\":\"CC-" MARK "\"},"
	"{\"externalMemberId\":\"m-bob\",\"email\":\"bob@" MARK ".example\",\"firstName\":\"Bob\","
	"\"languagePreferences\":[\"xx\"]},"
	"{\"externalMemberId\":\"m-carol\",\"email\":\"carol@" MARK ".example\"},"
	"{\"externalMemberId\":\"m-dave\",\"email\":\"dave@" MARK ".example\"}],"
	"\"teams\":[{\"externalTeamId\":\"T1\",\"teamName\":\"" MARK " Eng\"},"
	"{\"externalTeamId\":\"T2\",\"teamName\":\"Web\"},"
	"{\"externalTeamId\":\"T3\",\"teamName\":\"Ops\"}],"
	"\"teamMappings\":["
	"{\"externalTeamId\":\"T1\",\"externalMemberId\":\"m-alice\","
	"\"isMember\":true,\"isManager\":true},"
	"{\"externalTeamId\":\"T2\",\"externalMemberId\":\"m-bob\","
	"\"isMember\":true,\"isManager\":false},"
	"{\"externalTeamId\":\"T3\",\"externalMemberId\":\"m-carol\","
	"\"isMember\":true,\"isManager\":true},"
	"{\"externalTeamId\":\"T1\",\"externalSubteamId\":\"T2\","
	"\"isMember\":false,\"isManager\":false},"
	"{\"externalTeamId\":\"T2\",\"externalSubteamId\":\"T3\","
	"\"isMember\":false,\"isManager\":false}]}";

/* The same ids as the first organization's: a mix-up between the two shows. */
static const char org2_payload[] =
	"{\"members\":[{\"externalMemberId\":\"m-alice\",\"email\":\"alice@globex.example\"}],"
	"\"teams\":[{\"externalTeamId\":\"T1\",\"teamName\":\"Globex\"}],"
	"\"teamMappings\":[{\"externalTeamId\":\"T1\",\"externalMemberId\":\"m-alice\","
	"\"isMember\":true,\"isManager\":false}]}";

static const char org1_settings[] =
	"{\"provisioning\":{\"method\":\"api\"},"
	"\"riskThreshold\":{\"members\":{\"percent\":10,\"count\":null},"
	"\"teams\":{\"percent\":10,\"count\":null},\"idSwapPercent\":5},"
	"\"autoInvite\":false,\"notificationEmails\":[\"ops@" MARK ".example\"],"
	"\"webhooks\":[{\"url\":\"https://hooks." MARK ".example/x\",\"secret\":\"s\"}],"
	"\"mode\":\"full\"}";

static const char org2_settings[] =
	"{\"provisioning\":{\"method\":\"api\"},"
	"\"riskThreshold\":{\"members\":{\"percent\":50,\"count\":null},"
	"\"teams\":{\"percent\":50,\"count\":null},\"idSwapPercent\":5},"
	"\"autoInvite\":true,\"notificationEmails\":[],\"webhooks\":[],\"mode\":\"partial\"}";

static const char paused_reason[] = "paused by the risk threshold (" MARK ")";
static const char paused_counts[] =
	"{\"members\":{\"created\":0,\"updated\":0,\"reactivated\":0,\"deactivated\":3,\"deleted\":0,"
	"\"unchanged\":1,\"rekeyed\":0},\"teams\":{\"created\":0,\"renamed\":0,\"deleted\":0,"
	"\"unchanged\":3},\"mappings\":{\"added\":0,\"removed\":2,\"changed\":0},\"invitations\":0}";
static const char paused_risk[] =
	"{\"paused\":true,\"trips\":[{\"limit\":\"members\",\"configured\":10.0,\"actual\":75.0,"
	"\"affected\":3,\"of\":4}]}";

struct tenant {
	int64_t id;
	char key[STORE_KEY_MAX];
	const char *settings;
	const char *property;    /* the one property defined, or NULL */
};

static struct service svc;
static struct store *st;         /* this thread's, for setup and resets */
static struct tenant orgs[2];
static int64_t paused_id;
static char token[STORE_TOKEN_MAX];
static char dir[256], url[300];
static int listener = -1;
static struct sockaddr_in listen_addr;
static unsigned long resets;
static bool verbose;             /* FUZZ_HTTP_VERBOSE set: each response goes to stderr */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* The database goes with the process, however it ends (sanitizer reports included). */
static void remove_database(void)
{
	if (*dir)
		nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	*dir = '\0';
}

static void fail(const char *what, const char *detail)
{
	fprintf(stderr, "fuzz_http: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	remove_database();
	abort();
}

/* --- setup ------------------------------------------------------------------ */

static void close_store(void *s)
{
	store_close(s);
}

static void cleanup(void)
{
	http_stop(&svc);
	if (listener >= 0)
		close(listener);
	while (svc.prepared) {
		struct sync_prepared *next = svc.prepared->next;

		sync_prepared_free(svc.prepared);
		svc.prepared = next;
	}
	orgcache_clear();
	store_close(st);
	st = NULL;
	pthread_setspecific(svc.store_key, NULL);
	remove_database();
}

/* The worker this target plays. */
#define FUZZ_OWNER "fuzz:1:worker"

/* Registers a sync with its payload and claims it, as the worker would. */
static int64_t begin_sync(int64_t org, const char *payload)
{
	const struct store_part part = { "json", payload, strlen(payload) };
	int64_t id = 0, claimed = 0, claimed_org = 0;

	if (store_sync_begin(st, org, &(struct sync_meta){ "API Provisioning", "full", "json", false,
							   &part, 1, NULL, 0 },
			     &id, NULL) != STORE_OK ||
	    store_sync_claim(st, FUZZ_OWNER, os_wall_ms(), 600000, &claimed, &claimed_org, NULL) !=
		    STORE_OK || claimed != id)
		fail("cannot register a sync", store_error(st));
	return id;
}

static void pause_sync(int64_t id)
{
	if (store_sync_finish(st, id, SYNC_PAUSED, paused_reason, paused_counts, paused_risk, NULL) !=
	    STORE_OK)
		fail("cannot pause the sync", store_error(st));
}

static void new_token(void)
{
	if (store_invite(st, orgs[0].id, "m-dave", token) != STORE_OK)
		fail("cannot invite", store_error(st));
}

static void setup_org(struct tenant *t, const char *name, const char *settings,
		      const char *property, const char *payload)
{
	int status;

	if (store_org_create(st, name, &t->id, t->key) != STORE_OK ||
	    store_settings_put(st, t->id, settings) != STORE_OK ||
	    (property && store_property_add(st, t->id, property) != STORE_OK))
		fail("cannot create an organization", store_error(st));
	t->settings = settings;
	t->property = property;
	status = sync_process(st, begin_sync(t->id, payload), t->id, NULL, NULL, NULL);
	if (status != SYNC_SUCCESS && status != SYNC_WARNING)
		fail("the first sync did not apply", format_sync_status_name(status));
}

static void start_listener(void)
{
	socklen_t len = sizeof(listen_addr);

	listen_addr.sin_family = AF_INET;
	listen_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 ||
	    listen(listener, 16) < 0 || getsockname(listener, (struct sockaddr *)&listen_addr, &len) < 0)
		fail("cannot listen on the loopback", strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	(void)argc;
	(void)argv;
	signal(SIGPIPE, SIG_IGN);
	verbose = getenv("FUZZ_HTTP_VERBOSE") != NULL;
	snprintf(dir, sizeof(dir), "%s/orgsync-fuzz-XXXXXX", tmp && strlen(tmp) < 200 ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		*dir = '\0';
		fail("cannot make a directory", strerror(errno));
	}
	__sanitizer_set_death_callback(remove_database);
	snprintf(url, sizeof(url), "sqlite:%s/db.sqlite", dir);

	svc.cfg = (struct service_config){
		.db_url = url,
		.listen = NULL,
		.max_body = 64 * 1024,
		.threads = 0, /* no pool: the daemon's own thread serves */
		.max_connections = 64,
		.conn_timeout = 10,
		.header_timeout = 10,
		.max_header_bytes = 16384,
		.shutdown_grace = 1,
		.quiet = true,
	};
	svc.started_ms = os_now_ms();
	pthread_mutex_init(&svc.lock, NULL);
	pthread_cond_init(&svc.wake, NULL);
	pthread_cond_init(&svc.ingest_done, NULL);
	pthread_key_create(&svc.store_key, close_store);
	atexit(cleanup);
	st = service_store(&svc);
	if (!st)
		fail("cannot open the database", url);

	setup_org(&orgs[0], "acme", org1_settings, "costCenter", org1_payload);
	setup_org(&orgs[1], "globex", org2_settings, NULL, org2_payload);
	if (store_admin_add(st, orgs[0].id, "root@" MARK ".example") != STORE_OK)
		fail("cannot add an administrator", store_error(st));
	paused_id = begin_sync(orgs[0].id, org1_payload);
	pause_sync(paused_id);
	new_token();
	store_checkpoint(st);

	if (http_start(&svc) < 0)
		fail("the daemon did not start", NULL);
	start_listener();
	return 0;
}

/* --- one exchange ----------------------------------------------------------- */

static const char *memfind(const char *h, size_t hl, const char *n)
{
	return hl ? memmem(h, hl, n, strlen(n)) : NULL;
}

static int64_t now_us(void)
{
	return os_now_ns() / 1000;
}

/* Copies the input, replacing the placeholders wherever they are; whether TOKEN was one. */
static bool build_request(const uint8_t *data, size_t size, struct buf *out)
{
	static const struct {
		const char *name;
		int what; /* 0, 1: orgs[what].key; 2: the token */
	} subst[] = { { "KEY2", 1 }, { "KEY", 0 }, { "TOKEN", 2 } };
	enum { NSUBST = sizeof(subst) / sizeof(subst[0]) };
	const char *p = (const char *)data, *end = p + size;
	bool used_token = false;
	size_t i;

	while (p < end) {
		for (i = 0; i < NSUBST; i++) {
			size_t n = strlen(subst[i].name);

			if ((size_t)(end - p) < n || memcmp(p, subst[i].name, n) != 0)
				continue;
			buf_puts(out, subst[i].what == 2 ? token : orgs[subst[i].what].key);
			used_token |= subst[i].what == 2;
			p += n;
			break;
		}
		if (i == NSUBST)
			buf_putc(out, *p++);
	}
	return used_token;
}

static size_t count(const char *h, size_t hl, const char *n)
{
	const char *end = h + hl, *m;
	size_t k = 0;

	while ((m = memfind(h, (size_t)(end - h), n)) != NULL) {
		k++;
		h = m + 1;
	}
	return k;
}

/*
 * Whether the request holds a key only as credentials: in the Authorization
 * headers of its first request. Anywhere else (a body, the path) a key may
 * be quoted back to the client that sent it, which shows it nobody else.
 */
static bool keys_only_as_credentials(const struct buf *req)
{
	const char *p = req->data, *end, *line, *eol, *head_end, *crlf, *lf;
	size_t in_auth[2] = { 0, 0 };
	int i;

	if (!req->len)
		return true;
	end = p + req->len;
	crlf = memfind(p, req->len, "\r\n\r\n");
	lf = memfind(p, req->len, "\n\n");
	head_end = crlf && (!lf || crlf < lf) ? crlf : lf ? lf : end;
	for (line = p; line < head_end; line = eol + 1) {
		eol = memchr(line, '\n', (size_t)(head_end - line));
		if (!eol)
			eol = head_end;
		if (eol - line > 14 && !strncasecmp(line, "Authorization:", 14))
			for (i = 0; i < 2; i++)
				in_auth[i] += count(line, (size_t)(eol - line), orgs[i].key);
	}
	for (i = 0; i < 2; i++)
		if (count(p, req->len, orgs[i].key) != in_auth[i])
			return false;
	return true;
}

/*
 * A loopback TCP connection whose server end goes to the daemon (on a
 * socketpair libmicrohttpd would log its failing TCP options every time).
 * *peek is a second descriptor of the server end, to see what the daemon
 * has not read yet.
 */
static int connect_daemon(int *peek)
{
	struct sockaddr_storage peer;
	socklen_t plen = sizeof(peer);
	int c, s;

	c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c < 0 || (connect(c, (struct sockaddr *)&listen_addr, sizeof(listen_addr)) < 0 &&
		      errno != EINPROGRESS))
		fail("cannot connect", strerror(errno));
	s = accept4(listener, (struct sockaddr *)&peer, &plen, SOCK_CLOEXEC);
	if (s < 0 || (*peek = fcntl(s, F_DUPFD_CLOEXEC, 0)) < 0)
		fail("cannot accept", strerror(errno));
	/* libmicrohttpd owns s from here on, even when it refuses it. */
	if (MHD_add_connection(svc.daemon, s, (struct sockaddr *)&peer, plen) != MHD_YES)
		fail("the daemon refused a connection", NULL);
	return c;
}

/*
 * How many requests the input seems to hold: its request lines, at least
 * one. A body that looks like one only makes the exchange wait longer.
 */
static size_t requests_in(const struct buf *req)
{
	const char *p = req->data, *end, *v;
	size_t n = 0;

	if (!req->len)
		return 1;
	end = p + req->len;
	while ((v = memfind(p, (size_t)(end - p), " HTTP/1.")) != NULL) {
		p = v + 8;
		if (end - p > 2 && (p[1] == '\r' || p[1] == '\n'))
			n++;
	}
	return n ? n : 1;
}

/*
 * Where the response starting at p ends, going by its Content-Length (a 1xx
 * has no body); NULL when that cannot be told from what is there. *final:
 * whether it is a final (not 1xx) response.
 */
static const char *response_end(const char *p, const char *end, bool *final)
{
	const char *hend = memfind(p, (size_t)(end - p), "\r\n\r\n");
	const char *cl;
	unsigned long long len;

	if (!hend || end - p < 10)
		return NULL;
	*final = p[9] != '1';
	if (!*final)
		return hend + 4;
	cl = memfind(p, (size_t)(hend - p), "\r\nContent-Length: ");
	if (!cl || (len = strtoull(cl + 18, NULL, 10)) > (unsigned long long)(end - hend - 4))
		return NULL;
	return hend + 4 + len;
}

/* How many final (not 1xx) responses have come back whole, going by their Content-Length. */
static size_t responses_in(const struct buf *resp)
{
	const char *p = resp->data, *end, *next;
	size_t n = 0;
	bool final;

	if (!resp->len)
		return 0;
	end = p + resp->len;
	while (end - p > 12 && !memcmp(p, "HTTP/1.", 7) && (next = response_end(p, end, &final))) {
		n += final;
		p = next;
	}
	return n;
}

/* Where an exchange stands, to tell when the request side may end. */
struct progress {
	size_t expected;        /* requests the input seems to hold */
	int64_t moved_us;       /* when anything last changed */
	int unread;             /* bytes the daemon has not read yet, those on their way included */
	size_t got;             /* response bytes */
};

/*
 * Whether to end the request side now, everything being sent. The end is
 * what makes the daemon close, after the response it is writing; it must
 * come after the daemon has read every byte, or it goes unseen (epoll is
 * edge-triggered, and a short read is taken for an empty socket) until the
 * daemon's idle timeout. It is sent once every request is answered, or,
 * everything read, after STALL_US without change (a request left
 * incomplete, a HEAD answer without a body, a request line that was only
 * in a body; or a slow handler, which then ends the input's pipeline
 * early). A daemon that closes first shuts its side down: that is the end
 * of the exchange whatever this says.
 */
static bool time_to_end(int peek, const struct buf *req, const struct buf *resp,
			struct progress *pr)
{
	struct tcp_info ti = { 0 };
	socklen_t tlen = sizeof(ti);
	int unread = 0;

	if (ioctl(peek, FIONREAD, &unread) < 0 ||
	    getsockopt(peek, IPPROTO_TCP, TCP_INFO, &ti, &tlen) < 0)
		return true;
	/* Bytes still on their way in count as unread: the end must come after them. */
	unread += (int)(req->len - ti.tcpi_bytes_received);
	if (unread != pr->unread || resp->len != pr->got) {
		pr->unread = unread;
		pr->got = resp->len;
		pr->moved_us = now_us();
	}
	if (unread)
		return false;
	return pr->expected == 1 || responses_in(resp) >= pr->expected ||
	       now_us() - pr->moved_us > STALL_US;
}

/* Sends req on a new connection and reads what comes back until the daemon closes it. */
static void exchange(const struct buf *req, struct buf *resp)
{
	/* A reset, not a close, ends it: no TIME_WAIT is left behind per input. */
	static const struct linger reset_on_close = { 1, 0 };
	struct progress pr = { requests_in(req), now_us(), -1, 0 };
	int64_t deadline = now_us() + DEADLINE_MS * 1000;
	size_t off = 0;
	char chunk[16384];
	int peek;
	int c = connect_daemon(&peek);

	for (;;) {
		struct pollfd pfd = { c, POLLIN, 0 };
		int64_t left = deadline - now_us();
		ssize_t n;

		if (left <= 0) {
			fprintf(stderr, "fuzz_http: sent %zu of %zu bytes%s, %d unread, %zu back\n", off,
				req->len, peek < 0 ? " and the end" : "", pr.unread, resp->len);
			fail("the daemon did not finish in time", req->data ? req->data : "");
		}
		if (off < req->len)
			pfd.events |= POLLOUT;
		if (off == req->len && peek >= 0) {
			if (time_to_end(peek, req, resp, &pr)) {
				shutdown(c, SHUT_WR);
				close(peek);
				peek = -1;
			} else {
				left = 0; /* look again soon */
				sched_yield();
			}
		}
		if (poll(&pfd, 1, (int)((left + 999) / 1000)) < 0) {
			if (errno == EINTR)
				continue;
			fail("poll", strerror(errno));
		}
		if (pfd.revents & POLLOUT) {
			n = send(c, req->data + off, req->len - off, MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				off = req->len; /* the daemon closed early: what it said still counts */
			else if (n > 0)
				off += (size_t)n;
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = read(c, chunk, sizeof(chunk));
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				break;
			if (n > 0 && resp->len < RESPONSE_MAX)
				buf_append(resp, chunk, (size_t)n);
		}
	}
	if (peek >= 0)
		close(peek);
	setsockopt(c, SOL_SOCKET, SO_LINGER, &reset_on_close, sizeof(reset_on_close));
	close(c);
}

/* --- checks ----------------------------------------------------------------- */

static void check_status_line(const char *s, size_t len)
{
	if (len < 13 || (memcmp(s, "HTTP/1.1 ", 9) != 0 && memcmp(s, "HTTP/1.0 ", 9) != 0) ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' || s[11] < '0' || s[11] > '9' ||
	    (s[12] != ' ' && s[12] != '\r'))
		fail("a response does not start with an HTTP/1.x status line", s);
	if (!memcmp(s + 9, "500", 3))
		fail("a 500 response", s);
}

/*
 * Checks each response's status line, walking from one to the next while
 * their lengths tell where they end; the walk stops at the first it cannot
 * delimit (a HEAD answer has a length but no body).
 */
static void check_responses(const struct buf *resp)
{
	const char *p = resp->data, *end, *next;
	bool final;

	if (!resp->len)
		return;
	end = p + resp->len;
	while (p < end) {
		check_status_line(p, (size_t)(end - p));
		next = response_end(p, end, &final);
		if (!next)
			break;
		p = next;
		if (final && p < end && memcmp(p, "HTTP/1.", 7) != 0)
			break;
	}
}

/* --- putting the state back ---------------------------------------------------- */

static void reset_properties(const struct tenant *t)
{
	char **names = NULL;
	size_t n = 0, i;
	bool found = false;

	if (store_properties_list(st, t->id, &names, &n) != STORE_OK)
		fail("cannot list properties", store_error(st));
	for (i = 0; i < n; i++) {
		if (t->property && !strcmp(names[i], t->property))
			found = true;
		else if (store_property_delete(st, t->id, names[i]) != STORE_OK)
			fail("cannot delete a property", store_error(st));
	}
	store_strings_free(names, n);
	if (t->property && !found && store_property_add(st, t->id, t->property) != STORE_OK)
		fail("cannot add a property", store_error(st));
}

static void reset(bool used_token)
{
	struct sync_row row = { 0 };
	int64_t id, org;
	char *text = NULL;
	int i;

	/* What the input registered or approved: nothing processes it here. */
	while (store_sync_claim(st, FUZZ_OWNER, os_wall_ms(), 600000, &id, &org, NULL) == STORE_OK) {
		sync_prepared_free(service_take_prepared(&svc, id));
		if (id == paused_id)
			pause_sync(id);
		else if (store_sync_finish(st, id, SYNC_FAILED, "not processed", NULL, NULL, NULL))
			fail("cannot finish a sync", store_error(st));
	}
	/* Rejected, or superseded by a new sync. */
	if (store_sync_get(st, orgs[0].id, paused_id, &row) != STORE_OK)
		fail("the paused sync is gone", store_error(st));
	if (row.status != SYNC_PAUSED)
		pause_sync(paused_id);
	store_sync_row_free(&row);
	for (i = 0; i < 2; i++) {
		if (settings_get(st, orgs[i].id, &text) != STORE_OK)
			fail("cannot read settings", store_error(st));
		if (strcmp(text, orgs[i].settings) != 0 &&
		    store_settings_put(st, orgs[i].id, orgs[i].settings) != STORE_OK)
			fail("cannot put settings back", store_error(st));
		free(text);
		reset_properties(&orgs[i]);
	}
	if (used_token)
		new_token();
	/* Nothing else checkpoints: without it the log would grow all run long. */
	if (++resets % CHECKPOINT_EVERY == 0)
		store_checkpoint(st);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned long long ok_before = atomic_load(&svc.metrics.responses[2]);
	unsigned long long bad_before = atomic_load(&svc.metrics.responses[5]);
	struct buf req, resp;
	bool used_token;
	int i;

	buf_init(&req);
	buf_init(&resp);
	used_token = build_request(data, size, &req);
	exchange(&req, &resp);
	if (verbose)
		fprintf(stderr, "--- %zu bytes back\n%s\n", resp.len, resp.data ? resp.data : "");

	check_responses(&resp);
	if (atomic_load(&svc.metrics.responses[5]) != bad_before)
		fail("a handler answered 5xx", resp.data);
	for (i = 0; i < 2 && resp.len && keys_only_as_credentials(&req); i++)
		if (memfind(resp.data, resp.len, orgs[i].key))
			fail("a response shows an API key", resp.data);
	/* The fuzzer learns the key from the comparisons it watches: KEY is not the only way in. */
	if (resp.len && memfind(resp.data, resp.len, MARK) && !memfind(req.data, req.len, MARK) &&
	    !memfind(req.data, req.len, orgs[0].key))
		fail("the first organization's data reached another client", resp.data);

	/* Only a request that succeeded, with a method that writes, changed anything. */
	if (atomic_load(&svc.metrics.responses[2]) != ok_before &&
	    (memfind(req.data, req.len, "POST") || memfind(req.data, req.len, "PATCH") ||
	     memfind(req.data, req.len, "DELETE")))
		reset(used_token);
	buf_free(&req);
	buf_free(&resp);
	return 0;
}
