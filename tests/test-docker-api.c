/* SPDX-License-Identifier: GPL-2.0-only */
/* The Engine API client (daemon/sources/docker-api.c) against a fake
 * dockerd in this process: HTTP/1.1 on Unix sockets, one thread per
 * connection, scripted by the test (what /version says, the containers,
 * delays, the lines of /events). No root, no network. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "curl-glue.h"
#include "docker-api.h"

#include "unit-check.h"

#define MAX_LOG	 256
#define MAX_CTRS 8
#define IMAGE_HEX "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"

/* ---- the fake server; its state under srv_lock ---- */

struct fake_ctr {
	char id[65], name[64];
	const char *labels; /* a JSON object */
	bool running;
	int pid;
};

static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t srv_cond = PTHREAD_COND_INITIALIZER;
static struct {
	const char *api, *min_api;
	bool podman;
	struct fake_ctr ctrs[MAX_CTRS];
	unsigned n_ctrs;
	const char *extra_entry; /* one more raw entry in the list */
	unsigned n_bulk;	 /* more exited containers in the list */
	char slow_id[65];	 /* its inspect answers after 300 ms */
	unsigned list_delay_ms;
	bool events_400; /* /events answers as to a too new version */
	int events_fd;	 /* the /events connection, -1: none */
	unsigned n_subscribes, n_too_new;
	char paths[MAX_LOG][512];
	unsigned n_paths;
} srv;

static char dir[] = "/tmp/test-docker-api.XXXXXX";

static int send_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_chunk(int fd, const char *p, size_t len)
{
	char head[32];

	snprintf(head, sizeof(head), "%zx\r\n", len);
	if (send_all(fd, head, strlen(head)) < 0 || send_all(fd, p, len) < 0)
		return -EPIPE;
	return send_all(fd, "\r\n", 2);
}

static void send_body(int fd, const char *status, const char *body)
{
	char head[160];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n", status,
		 strlen(body));
	if (send_all(fd, head, strlen(head)) == 0)
		(void)send_all(fd, body, strlen(body));
}

static void ctr_json(char *buf, size_t size, const struct fake_ctr *c, bool inspect)
{
	if (inspect)
		snprintf(buf, size,
			 "{\"Id\":\"%s\",\"Name\":\"/%s\",\"State\":{\"Running\":%s,\"Pid\":%d},"
			 "\"Image\":\"sha256:" IMAGE_HEX "\","
			 "\"Config\":{\"Image\":\"busybox\",\"Labels\":%s}}",
			 c->id, c->name, c->running ? "true" : "false", c->running ? c->pid : 0,
			 c->labels ? c->labels : "null");
	else
		snprintf(buf, size,
			 "{\"Id\":\"%s\",\"Names\":[\"/%s\"],\"Image\":\"busybox\",\"State\":\"%s\","
			 "\"Labels\":%s}",
			 c->id, c->name, c->running ? "running" : "exited", c->labels ? c->labels : "{}");
}

#define LIST_SIZE (8u << 20)

/* Called locked; unlocks. */
static void serve_list(int fd)
{
	char *body = malloc(LIST_SIZE);
	size_t len = 0;

	if (!body)
		abort();
	len += (size_t)snprintf(body + len, LIST_SIZE - len, "[");
	for (unsigned i = 0; i < srv.n_ctrs; i++) {
		if (i)
			body[len++] = ',';
		ctr_json(body + len, LIST_SIZE - len, &srv.ctrs[i], false);
		len += strlen(body + len);
	}
	/* Exited ones, as Docker 20.10 lists them (one line each). */
	for (unsigned i = 0; i < srv.n_bulk; i++)
		len += (size_t)snprintf(
		    body + len, LIST_SIZE - len,
		    "%s{\"Id\":\"%064x\",\"Names\":[\"/bulk-%u\"],\"Image\":\"busybox\",\"ImageID\":\"sha256:"
		    "%064x\",\"Command\":\"sleep 1000\",\"Created\":1796068594,\"Ports\":[],\"Labels\":{"
		    "\"bpf.network.policy\":\"p%u\",\"com.docker.compose.project\":\"bulk\"},\"State\":"
		    "\"exited\",\"Status\":\"Exited (0) 1 minute ago\",\"HostConfig\":{\"NetworkMode\":"
		    "\"none\"},\"NetworkSettings\":{\"Networks\":{}},\"Mounts\":[]}",
		    len > 1 ? "," : "", i + 1, i + 1, i, i % 50);
	if (srv.extra_entry)
		len += (size_t)snprintf(body + len, LIST_SIZE - len, "%s%s", len > 1 ? "," : "",
					srv.extra_entry);
	snprintf(body + len, LIST_SIZE - len, "]");
	pthread_mutex_unlock(&srv_lock);
	send_body(fd, "200 OK", body);
	free(body);
}

static void serve_inspect(int fd, const char *what)
{
	char body[4096];
	bool slow = false;

	for (unsigned i = 0; i < srv.n_ctrs; i++) {
		const struct fake_ctr *c = &srv.ctrs[i];

		if (strcmp(c->id, what) == 0 || strcmp(c->name, what) == 0 ||
		    (strlen(what) >= 4 && strncmp(c->id, what, strlen(what)) == 0)) {
			ctr_json(body, sizeof(body), c, true);
			slow = strcmp(srv.slow_id, c->id) == 0;
			pthread_mutex_unlock(&srv_lock);
			if (slow)
				usleep(300 * 1000);
			send_body(fd, "200 OK", body);
			return;
		}
	}
	pthread_mutex_unlock(&srv_lock);
	send_body(fd, "404 Not Found", "{\"message\":\"No such container: x\"}");
}

/* Images by their name as it comes in the path (escaped). Called locked;
 * unlocks. */
static void serve_image(int fd, const char *what)
{
	static const struct {
		const char *path, *body;
	} images[] = {
	    {"evil%3A1/json", "{\"Id\":\"sha256:" IMAGE_HEX "\",\"Config\":{\"Labels\":"
			      "{\"bpf.network.policy\":\"allow-all\",\"other\":\"x\"}}}"},
	    {"sha256%3A" IMAGE_HEX "/json", "{\"Config\":{\"Labels\":{\"bpf.network.policy\":\"by-id\"}}}"},
	    {"registry.example%3A5000%2Fteam%2Fapp%40sha256%3Aab/json", "{\"Config\":{\"Labels\":null}}"},
	    {"plain/json", "{\"Config\":{}}"},
	    {"ctl/json", "{\"Config\":{\"Labels\":{\"bpf.network.policy\":\"a\\nb\"}}}"},
	    {"broken/json", "[\"not an object\"]"},
	};

	pthread_mutex_unlock(&srv_lock);
	for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
		if (strcmp(what, images[i].path) == 0)
			return send_body(fd, "200 OK", images[i].body);
	send_body(fd, "404 Not Found", "{\"message\":\"No such image: x\"}");
}

static void serve_events(int fd)
{
	static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
				   "Content-Type: application/json\r\n\r\n";
	char c;

	srv.events_fd = fd;
	srv.n_subscribes++;
	pthread_cond_broadcast(&srv_cond);
	pthread_mutex_unlock(&srv_lock);
	/* Docker's: headers at once, then lines as things happen. */
	(void)send_all(fd, head, sizeof(head) - 1);
	while (recv(fd, &c, 1, 0) > 0)
		;
	pthread_mutex_lock(&srv_lock);
	if (srv.events_fd == fd)
		srv.events_fd = -1;
	pthread_mutex_unlock(&srv_lock);
}

/* Called locked; unlocks. */
static void serve(int fd, const char *path)
{
	unsigned major, minor, max_major, max_minor;
	char rest[512], body[1024];
	int n = 0;

	if (srv.n_paths < MAX_LOG)
		snprintf(srv.paths[srv.n_paths++], sizeof(srv.paths[0]), "%s", path);
	if (strcmp(path, "/version") == 0) {
		snprintf(body, sizeof(body),
			 "{\"Version\":\"20.10.24\",\"ApiVersion\":\"%s\",\"MinAPIVersion\":\"%s\"%s}",
			 srv.api, srv.min_api,
			 srv.podman ? ",\"Components\":[{\"Name\":\"Podman Engine\",\"Version\":\"4.3.1\","
				      "\"Details\":{\"APIVersion\":\"4.3.1\",\"MinAPIVersion\":\"4.0.0\"}}]"
				    : ",\"Components\":[{\"Name\":\"Engine\",\"Version\":\"20.10.24\"}]");
		pthread_mutex_unlock(&srv_lock);
		return send_body(fd, "200 OK", body);
	}
	if (sscanf(path, "/v%u.%u%511s%n", &major, &minor, rest, &n) != 3 ||
	    sscanf(srv.api, "%u.%u", &max_major, &max_minor) != 2) {
		pthread_mutex_unlock(&srv_lock);
		return send_body(fd, "404 Not Found", "{\"message\":\"page not found\"}");
	}
	if (major * 1000 + minor > max_major * 1000 + max_minor) {
		srv.n_too_new++;
		pthread_mutex_unlock(&srv_lock);
		return send_body(fd, "400 Bad Request", "{\"message\":\"client version is too new\"}");
	}
	if (strncmp(rest, "/events?", 8) == 0 && srv.events_400) {
		pthread_mutex_unlock(&srv_lock);
		return send_body(fd, "400 Bad Request",
				 "{\"message\":\"client version 1.41 is too new.\\nMaximum: 1.40\"}");
	}
	if (strncmp(rest, "/events?", 8) == 0)
		return serve_events(fd);
	if (strcmp(rest, "/containers/json?all=1") == 0) {
		unsigned delay = srv.list_delay_ms;

		if (delay) {
			pthread_mutex_unlock(&srv_lock);
			usleep(delay * 1000);
			pthread_mutex_lock(&srv_lock);
		}
		return serve_list(fd);
	}
	if (strncmp(rest, "/images/", 8) == 0)
		return serve_image(fd, rest + 8);
	if (strncmp(rest, "/containers/", 12) == 0 && strlen(rest) > 17 &&
	    strcmp(rest + strlen(rest) - 5, "/json") == 0) {
		rest[strlen(rest) - 5] = '\0';
		return serve_inspect(fd, rest + 12);
	}
	pthread_mutex_unlock(&srv_lock);
	send_body(fd, "404 Not Found", "{\"message\":\"page not found\"}");
}

static void *connection_thread(void *arg)
{
	int fd = (int)(intptr_t)arg;
	char req[4096], path[512];
	size_t len = 0;

	while (!memmem(req, len, "\r\n\r\n", 4)) {
		ssize_t n = recv(fd, req + len, sizeof(req) - 1 - len, 0);

		if (n <= 0)
			goto out;
		len += (size_t)n;
	}
	req[len] = '\0';
	if (sscanf(req, "GET %511s HTTP/1.1", path) == 1) {
		pthread_mutex_lock(&srv_lock);
		serve(fd, path);
	}
out:
	close(fd);
	return NULL;
}

static void *accept_thread(void *arg)
{
	int listen_fd = (int)(intptr_t)arg;

	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		pthread_t t;

		if (fd < 0)
			break;
		if (pthread_create(&t, NULL, connection_thread, (void *)(intptr_t)fd) != 0)
			abort();
		pthread_detach(t);
	}
	return NULL;
}

/* A server on dir/name; its accept thread lives as long as the test. */
static void server_start(const char *name, char *path, size_t size)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	pthread_t t;

	snprintf(path, size, "%s/%s", dir, name);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0 ||
	    pthread_create(&t, NULL, accept_thread, (void *)(intptr_t)fd) != 0) {
		perror("test-docker-api: server");
		exit(1);
	}
	pthread_detach(t);
}

static void server_reset(void)
{
	pthread_mutex_lock(&srv_lock);
	memset(&srv, 0, sizeof(srv));
	srv.api = "1.41";
	srv.min_api = "1.12";
	srv.events_fd = -1;
	pthread_mutex_unlock(&srv_lock);
}

static void add_ctr(const char *id, const char *name, const char *labels, bool running, int pid)
{
	struct fake_ctr *c;

	pthread_mutex_lock(&srv_lock);
	c = &srv.ctrs[srv.n_ctrs++];
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->labels = labels;
	c->running = running;
	c->pid = pid;
	pthread_mutex_unlock(&srv_lock);
}

/* Writes raw bytes as a chunk of the live /events stream. */
static void push_raw(const char *p, size_t len)
{
	int fd;

	pthread_mutex_lock(&srv_lock);
	fd = srv.events_fd;
	pthread_mutex_unlock(&srv_lock);
	if (fd < 0 || send_chunk(fd, p, len) < 0)
		CHECKF(false, "no events stream to push to");
}

static void push_event(const char *action, const char *id, const char *attrs)
{
	char line[2048];
	int n = snprintf(line, sizeof(line),
			 "{\"status\":\"%s\",\"id\":\"%s\",\"Type\":\"container\",\"Action\":\"%s\","
			 "\"Actor\":{\"ID\":\"%s\",\"Attributes\":%s},\"scope\":\"local\",\"time\":1}\n",
			 action, id, action, id, attrs);

	push_raw(line, (size_t)n);
}

/* Ends the stream as dockerd does when it stops. */
static void drop_stream(void)
{
	pthread_mutex_lock(&srv_lock);
	if (srv.events_fd >= 0)
		shutdown(srv.events_fd, SHUT_RDWR);
	pthread_mutex_unlock(&srv_lock);
}

static bool served(const char *needle)
{
	bool found = false;

	pthread_mutex_lock(&srv_lock);
	for (unsigned i = 0; i < srv.n_paths && !found; i++)
		found = strstr(srv.paths[i], needle) != NULL;
	pthread_mutex_unlock(&srv_lock);
	return found;
}

/* ---- the client side: every callback becomes a line of the log ---- */

static char log_lines[MAX_LOG][512];
static unsigned n_log;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	va_list ap;

	if (n_log >= MAX_LOG)
		return;
	va_start(ap, fmt);
	vsnprintf(log_lines[n_log++], sizeof(log_lines[0]), fmt, ap);
	va_end(ap);
}

static void describe(char *buf, size_t size, const struct docker_container *ct)
{
	snprintf(buf, size,
		 "%.8s name=%s image=%s policy=%s project=%s service=%s pid=%d running=%d problem=%s", ct->id,
		 ct->name ?: "-", ct->image ?: "-", ct->policy ?: "-", ct->project ?: "-", ct->service ?: "-",
		 (int)ct->pid, ct->running, ct->problem ? "yes" : "-");
}

static void on_synced(void *userdata, struct docker_client *c, struct docker_container *const *v, size_t n)
{
	char d[400];

	(void)userdata;
	(void)c;
	logf_("synced %zu", n);
	for (size_t i = 0; i < n; i++) {
		/* A long list: its last entry. */
		if (n > 16 && i < n - 1)
			continue;
		describe(d, sizeof(d), v[i]);
		logf_("  %s", d);
	}
}

static void on_event(void *userdata, struct docker_client *c, enum docker_action a,
		     const struct docker_container *ct)
{
	char d[400];

	(void)userdata;
	(void)c;
	describe(d, sizeof(d), ct);
	logf_("%s %s", docker_action_name(a), d);
}

static void on_lost(void *userdata, struct docker_client *c, int error, const char *message)
{
	(void)userdata;
	(void)c;
	logf_("lost %d %s", error, message);
}

static void on_rejected(void *userdata, struct docker_client *c, const char *message)
{
	(void)userdata;
	(void)c;
	logf_("rejected %s", message);
}

static const struct docker_client_ops ops = {
    .synced = on_synced,
    .event = on_event,
    .lost = on_lost,
    .rejected = on_rejected,
};

static int log_find(const char *prefix, unsigned from)
{
	for (unsigned i = from; i < n_log; i++)
		if (strncmp(log_lines[i], prefix, strlen(prefix)) == 0)
			return (int)i;
	return -1;
}

static unsigned log_count(const char *prefix)
{
	unsigned n = 0;

	for (unsigned i = 0; i < n_log; i++)
		n += strncmp(log_lines[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void log_reset(void)
{
	n_log = 0;
}

static void log_dump(void)
{
	for (unsigned i = 0; i < n_log; i++)
		printf("    log[%u] %s\n", i, log_lines[i]);
}

static sd_event *event;
static struct np_curl *curl;

/* Runs the loop until the log has `count` lines starting with prefix;
 * false (and the log printed) after 10 s. */
static bool wait_for(const char *prefix, unsigned count)
{
	for (unsigned i = 0; i < 1000; i++) {
		if (log_count(prefix) >= count)
			return true;
		if (sd_event_run(event, 10 * 1000) < 0)
			break;
	}
	printf("  timed out waiting for %u x \"%s\"\n", count, prefix);
	log_dump();
	return false;
}

/* Runs the loop for a while, for what must not happen. */
static void settle(unsigned ms)
{
	for (unsigned i = 0; i < ms / 10; i++)
		(void)sd_event_run(event, 10 * 1000);
}

static bool wait_subscribed(unsigned n)
{
	for (unsigned i = 0; i < 1000; i++) {
		bool ok;

		pthread_mutex_lock(&srv_lock);
		ok = srv.n_subscribes >= n && srv.events_fd >= 0;
		pthread_mutex_unlock(&srv_lock);
		if (ok)
			return true;
		(void)sd_event_run(event, 10 * 1000);
	}
	return false;
}

static struct docker_client *client_new(const char *path)
{
	struct docker_client *c = NULL;

	log_reset();
	CHECK(docker_client_new(event, curl, path, "bpf.network.policy", &ops, NULL, &c) == 0);
	return c;
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_C "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define ID_D "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define LABELS_A                                                                                             \
	"{\"bpf.network.policy\":\"frontend\",\"com.docker.compose.project\":\"shop\","                      \
	"\"com.docker.compose.service\":\"web\"}"

static int served_index(const char *needle)
{
	int found = -1;

	pthread_mutex_lock(&srv_lock);
	for (unsigned i = 0; i < srv.n_paths && found < 0; i++)
		if (strstr(srv.paths[i], needle))
			found = (int)i;
	pthread_mutex_unlock(&srv_lock);
	return found;
}

static bool log_has(const char *line)
{
	for (unsigned i = 0; i < n_log; i++)
		if (strcmp(log_lines[i], line) == 0)
			return true;
	printf("  not in the log: \"%s\"\n", line);
	log_dump();
	return false;
}

/* Negotiation, the first sync, and events on a live stream. */
static void test_docker(void)
{
	char path[256];
	struct docker_client *c;
	int i_start, i_die, i_rename;

	server_reset();
	add_ctr(ID_A, "a-web", LABELS_A, true, 4242);
	add_ctr(ID_B, "b-old", NULL, false, 0);
	server_start("docker.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(c);
	if (!c)
		return;
	CHECK(!docker_client_connected(c));
	CHECK(!docker_client_api_version(c));
	CHECK(wait_for("synced", 1));
	CHECK(docker_client_connected(c));
	CHECK(docker_client_api_version(c) && strcmp(docker_client_api_version(c), "1.41") == 0);
	CHECK(docker_client_engine(c) && strcmp(docker_client_engine(c), "docker") == 0);
	CHECK(strcmp(docker_client_socket(c), path) == 0);
	CHECK(log_has("synced 2"));
	CHECK(log_has("  aaaaaaaa name=a-web image=busybox policy=frontend project=shop service=web pid=4242 "
		      "running=1 problem=-"));
	CHECK(log_has("  bbbbbbbb name=b-old image=busybox policy=- project=- service=- pid=0 running=0 "
		      "problem=-"));
	/* Subscribed before listing; only the running one inspected. */
	CHECK(served_index("/v1.41/events?filters=") >= 0);
	CHECK(served_index("/v1.41/events?filters=") < served_index("/v1.41/containers/json?all=1"));
	CHECK(served("%22remove%22") && served("%22destroy%22") && served("%22container%22"));
	CHECK(served("/v1.41/containers/" ID_A "/json"));
	CHECK(!served("/containers/" ID_B "/json"));
	pthread_mutex_lock(&srv_lock);
	CHECK(srv.n_too_new == 0);
	pthread_mutex_unlock(&srv_lock);

	/* create: from the attributes, no inspect. */
	push_event("create", ID_C,
		   "{\"name\":\"c-new\",\"image\":\"busybox:1\",\"bpf.network.policy\":\"backend\"}");
	CHECK(wait_for("create", 1));
	CHECK(log_has("create cccccccc name=c-new image=busybox:1 policy=backend project=- service=- pid=0 "
		      "running=0 problem=-"));
	CHECK(!served("/containers/" ID_C));

	/* start: after an inspect, with the pid. */
	add_ctr(ID_C, "c-new", "{\"bpf.network.policy\":\"backend\"}", true, 777);
	push_event("start", ID_C, "{\"name\":\"c-new\",\"image\":\"busybox:1\"}");
	CHECK(wait_for("start", 1));
	CHECK(log_has("start cccccccc name=c-new image=busybox policy=backend project=- service=- pid=777 "
		      "running=1 problem=-"));

	/* A die right behind a slow start's inspect waits for it; another
	 * container's event does not. */
	add_ctr(ID_D, "d-slow", NULL, true, 999);
	pthread_mutex_lock(&srv_lock);
	snprintf(srv.slow_id, sizeof(srv.slow_id), "%s", ID_D);
	pthread_mutex_unlock(&srv_lock);
	push_event("start", ID_D, "{\"name\":\"d-slow\"}");
	push_event("die", ID_D, "{\"name\":\"d-slow\",\"exitCode\":\"0\"}");
	push_event("rename", ID_A, "{\"name\":\"a-renamed\",\"oldName\":\"/a-web\"}");
	CHECK(wait_for("die", 1));
	i_start = log_find("start 01234567", 0);
	i_die = log_find("die 01234567", 0);
	i_rename = log_find("rename aaaaaaaa name=a-renamed", 0);
	CHECKF(i_rename >= 0 && i_start > i_rename && i_die > i_start, "rename %d < start %d < die %d",
	       i_rename, i_start, i_die);
	CHECK(log_find("start 01234567 name=d-slow image=busybox policy=- project=- service=- pid=999", 0) >=
	      0);
	push_event("destroy", ID_D, "{\"name\":\"d-slow\"}");
	CHECK(wait_for("destroy 01234567 name=d-slow", 1));

	/* The stream drops (dockerd stops): lost, then a new sync. */
	pthread_mutex_lock(&srv_lock);
	srv.n_ctrs = 1; /* only A is left */
	pthread_mutex_unlock(&srv_lock);
	drop_stream();
	CHECK(wait_for("lost", 1));
	CHECK(wait_for("synced", 2));
	CHECK(log_find("synced 1", 0) > log_find("lost", 0));
	CHECK(docker_client_connected(c));
	push_event("die", ID_A, "{\"name\":\"a-renamed\"}");
	CHECK(wait_for("die aaaaaaaa", 1));
	docker_client_free(c);
}

/* Events during the sync come after synced(), in order. */
static void test_events_during_sync(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	add_ctr(ID_A, "a-web", LABELS_A, true, 4242);
	pthread_mutex_lock(&srv_lock);
	srv.list_delay_ms = 400;
	pthread_mutex_unlock(&srv_lock);
	server_start("sync.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_subscribed(1));
	push_event("create", ID_C, "{\"name\":\"c-new\"}");
	push_event("destroy", ID_C, "{\"name\":\"c-new\"}");
	CHECK(wait_for("destroy", 1));
	CHECKF(log_find("synced", 0) >= 0 && log_find("synced", 0) < log_find("create cccccccc", 0) &&
		   log_find("create cccccccc", 0) < log_find("destroy cccccccc", 0),
	       "synced %d < create %d < destroy %d", log_find("synced", 0), log_find("create cccccccc", 0),
	       log_find("destroy cccccccc", 0));
	docker_client_free(c);
}

static void test_podman(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.podman = true;
	pthread_mutex_unlock(&srv_lock);
	add_ctr(ID_A, "p-web", "{\"bpf.network.policy\":\"worker\"}", true, 31);
	server_start("podman.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_for("synced", 1));
	CHECK(docker_client_engine(c) && strcmp(docker_client_engine(c), "podman") == 0);
	push_event("remove", ID_A, "{\"name\":\"p-web\",\"podId\":\"\"}");
	CHECK(wait_for("destroy aaaaaaaa name=p-web", 1));
	/* A stream that ends cleanly (the last chunk, then the server closes)
	 * is lost all the same. */
	pthread_mutex_lock(&srv_lock);
	if (srv.events_fd >= 0) {
		(void)send_all(srv.events_fd, "0\r\n\r\n", 5);
		shutdown(srv.events_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&srv_lock);
	CHECK(wait_for("lost", 1));
	CHECK(log_has("lost -104 the events stream ended"));
	CHECK(wait_for("synced", 2));
	docker_client_free(c);
}

/* min(ours, theirs); refused below 1.24 and when they need more than ours. */
static void test_versions(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.api = "1.99";
	pthread_mutex_unlock(&srv_lock);
	server_start("new.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_for("synced", 1));
	CHECK(docker_client_api_version(c) && strcmp(docker_client_api_version(c), DOCKER_API_MAX) == 0);
	CHECK(served("/v" DOCKER_API_MAX "/events"));
	docker_client_free(c);

	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.api = "1.12";
	pthread_mutex_unlock(&srv_lock);
	server_start("old.sock", path, sizeof(path));
	c = client_new(path);
	/* Refused, and retried. */
	CHECK(wait_for("lost", 2));
	CHECK(log_find("lost -93 the server speaks API 1.12, older than the 1.24 we need", 0) >= 0);
	CHECK(log_count("synced") == 0 && !served("/events"));
	docker_client_free(c);

	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.api = "1.99";
	srv.min_api = "1.90";
	pthread_mutex_unlock(&srv_lock);
	server_start("newer.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_for("lost", 1));
	CHECK(log_find("lost -93 the server needs API 1.90 or newer", 0) >= 0);
	docker_client_free(c);

	/* An error status on /events: its message, without control characters. */
	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.events_400 = true;
	pthread_mutex_unlock(&srv_lock);
	server_start("refuse.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_for("lost", 1));
	CHECK(log_has("lost -71 the events stream: HTTP 400: client version 1.41 is too new.?Maximum: 1.40"));
	CHECK(!served("/containers/json"));
	docker_client_free(c);
}

/* No socket yet: lost, retried, and synced once the server is there. */
static void test_late_server(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	add_ctr(ID_A, "a-web", NULL, false, 0);
	snprintf(path, sizeof(path), "%s/late.sock", dir);
	c = client_new(path);
	CHECK(wait_for("lost", 2));
	CHECKF(log_find("lost -2 ", 0) >= 0 || log_find("lost -111 ", 0) >= 0, "lost: %s", log_lines[0]);
	server_start("late.sock", path, sizeof(path));
	CHECK(wait_for("synced 1", 1));
	docker_client_free(c);
}

static void *push_huge(void *arg)
{
	size_t len = DOCKER_EVENT_MAX + 4096;
	char *p = malloc(len);

	(void)arg;
	memset(p, 'x', len);
	p[len - 1] = '\n';
	push_raw(p, len);
	free(p);
	return NULL;
}

static int inspect_error = 1;
static char inspect_id[65], inspect_image_id[72];

static void inspect_done(void *userdata, int error, const char *message, const struct docker_container *ct)
{
	(void)userdata;
	CHECK((error < 0) == (message != NULL));
	inspect_error = error;
	snprintf(inspect_id, sizeof(inspect_id), "%s", ct ? ct->id : "");
	snprintf(inspect_image_id, sizeof(inspect_image_id), "%s", ct ? ct->image_id : "");
	logf_("inspected %d %s", error, message ?: "-");
}

/* Hostile input: rejected or left out, and the client goes on. */
static void test_bad_input(void)
{
	char path[256], labels[600], attrs[700];
	struct docker_client *c;
	pthread_t t;

	server_reset();
	memset(labels, 0, sizeof(labels));
	snprintf(labels, sizeof(labels), "{\"bpf.network.policy\":\"%0300d\"}", 0);
	add_ctr(ID_A, "a-web", LABELS_A, true, 4242);
	add_ctr(ID_B, "x/../y", labels, false, 0);
	pthread_mutex_lock(&srv_lock);
	srv.extra_entry = "{\"Id\":\"../../etc/passwd\",\"Names\":[\"/evil\"],\"State\":\"running\"}";
	pthread_mutex_unlock(&srv_lock);
	server_start("bad.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_for("synced", 1));
	CHECK(log_has("synced 2"));
	CHECK(log_find("rejected a listed container without a valid Id", 0) >= 0);
	CHECK(log_has(
	    "  bbbbbbbb name=- image=busybox policy=- project=- service=- pid=0 running=0 problem=yes"));
	CHECK(!served("passwd"));

	push_raw("this is not json\n", 17);
	push_raw("[1,2,3]\n", 8);
	push_event("create", "../../../etc/passwd", "{\"name\":\"evil\"}");
	push_event("create", ID_C, "{\"name\":\"c-ok\",\"bpf.network.policy\":\"a\\u0000b\"}");
	push_event("create", ID_D, "{\"name\":\"d-ctl\",\"bpf.network.policy\":\"a\\nb\",\"image\":17}");
	snprintf(attrs, sizeof(attrs), "{\"name\":\"%0300d\"}", 0);
	push_event("rename", ID_A, attrs);
	push_event("exec_start: sh", ID_A, "{}");
	push_event("die", ID_A, "{\"name\":\"a-web\"}");
	CHECK(wait_for("die aaaaaaaa", 1));
	/* jansson refuses \u0000: the whole line goes. */
	CHECK(log_count("rejected an event that is not a JSON object") == 3);
	CHECK(log_find("rejected a create event without a valid Actor.ID", 0) >= 0);
	CHECK(log_count("create cccccccc") == 0);
	CHECK(log_has(
	    "create 01234567 name=d-ctl image=- policy=- project=- service=- pid=0 running=0 problem=yes"));
	CHECK(log_has(
	    "rename aaaaaaaa name=- image=- policy=- project=- service=- pid=0 running=0 problem=yes"));
	CHECK(log_count("exec") == 0);

	/* Inspect by name, by short id; unknown; not a name at all. */
	CHECK(docker_client_inspect(c, "../x", inspect_done, NULL) == -EINVAL);
	CHECK(docker_client_inspect(c, "", inspect_done, NULL) == -EINVAL);
	CHECK(docker_client_inspect(c, "a-web", inspect_done, NULL) == 0);
	CHECK(log_count("inspected") == 0); /* never inside the call */
	CHECK(wait_for("inspected", 1));
	CHECK(inspect_error == 0 && strcmp(inspect_id, ID_A) == 0);
	CHECK(docker_client_inspect(c, "aaaaaa", inspect_done, NULL) == 0);
	CHECK(wait_for("inspected", 2));
	CHECK(inspect_error == 0 && strcmp(inspect_id, ID_A) == 0);
	CHECK(docker_client_inspect(c, "no-such", inspect_done, NULL) == 0);
	CHECK(wait_for("inspected", 3));
	CHECK(inspect_error == -ENOENT);
	CHECK(log_has("inspected -2 HTTP 404: No such container: x"));

	/* A line over the cap ends the stream; the client resyncs. */
	if (pthread_create(&t, NULL, push_huge, NULL) != 0)
		abort();
	CHECK(wait_for("lost", 1));
	CHECK(log_find("lost -90 ", 0) >= 0);
	CHECK(wait_for("synced", 2));
	pthread_join(t, NULL);
	docker_client_free(c);
}

static void *push_many(void *arg)
{
	char id[65];

	for (unsigned i = 0; i < (unsigned)(intptr_t)arg; i++) {
		snprintf(id, sizeof(id), "%064x", i + 1);
		push_event("create", id, "{\"name\":\"many\"}");
	}
	return NULL;
}

static void image_done(void *userdata, int error, const char *message, const char *value)
{
	(void)userdata;
	CHECK((error < 0) == (message != NULL));
	CHECK(error >= 0 || !value);
	logf_("image %d %s %s", error, value ?: "-", message ?: "-");
}

/* An image's value of the policy label: by name (escaped in the path) or
 * by id; none, a refused one, errors. */
static void test_image_label(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	add_ctr(ID_A, "a-web", LABELS_A, true, 4242);
	server_start("image.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(docker_client_image_label(c, "evil:1", image_done, NULL) == -ENOTCONN);
	CHECK(wait_for("synced", 1));
	/* the container's image id, from its inspect */
	CHECK(docker_client_inspect(c, "a-web", inspect_done, NULL) == 0);
	CHECK(wait_for("inspected", 1));
	CHECK(strcmp(inspect_image_id, "sha256:" IMAGE_HEX) == 0);

	CHECK(docker_client_image_label(c, "", image_done, NULL) == -EINVAL);
	CHECK(docker_client_image_label(c, "a b", image_done, NULL) == -EINVAL);
	CHECK(docker_client_image_label(c, "a\nb", image_done, NULL) == -EINVAL);
	CHECK(docker_client_image_label(c, "evil:1", image_done, NULL) == 0);
	CHECK(log_count("image") == 0); /* never inside the call */
	CHECK(wait_for("image", 1));
	CHECK(log_has("image 0 allow-all -"));
	CHECK(served("/v1.41/images/evil%3A1/json"));
	CHECK(docker_client_image_label(c, "sha256:" IMAGE_HEX, image_done, NULL) == 0);
	CHECK(wait_for("image", 2));
	CHECK(log_has("image 0 by-id -"));
	CHECK(docker_client_image_label(c, "registry.example:5000/team/app@sha256:ab", image_done, NULL) ==
	      0);
	CHECK(docker_client_image_label(c, "plain", image_done, NULL) == 0);
	CHECK(docker_client_image_label(c, "ctl", image_done, NULL) == 0);
	CHECK(wait_for("image", 5));
	CHECK(log_count("image 0 - -") == 3);
	CHECK(docker_client_image_label(c, "broken", image_done, NULL) == 0);
	CHECK(wait_for("image", 6));
	CHECK(log_has("image -74 - the inspect of image broken is not a JSON object"));
	CHECK(docker_client_image_label(c, "../../containers/a-web", image_done, NULL) == 0);
	CHECK(wait_for("image", 7));
	CHECK(log_has("image -2 - HTTP 404: No such image: x"));
	CHECK(served("/images/..%2F..%2Fcontainers%2Fa-web/json"));
	/* freed with a request in flight: no callback after */
	CHECK(docker_client_image_label(c, "evil:1", image_done, NULL) == 0);
	docker_client_free(c);
	settle(200);
	CHECK(log_count("image") == 7);
}

/* Thousands of containers fit in the list; too many events held back
 * during a sync end the stream, and the client resyncs. */
static void test_many(void)
{
	char path[256];
	struct docker_client *c;
	pthread_t t;

	server_reset();
	pthread_mutex_lock(&srv_lock);
	srv.n_bulk = 5000;
	srv.list_delay_ms = 1500;
	pthread_mutex_unlock(&srv_lock);
	server_start("many.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_subscribed(1));
	if (pthread_create(&t, NULL, push_many, (void *)(intptr_t)(DOCKER_QUEUE_MAX + 10)) != 0)
		abort();
	CHECK(wait_for("lost", 1));
	CHECK(log_has("lost -105 more than 4096 events held back; resyncing"));
	pthread_join(t, NULL);
	pthread_mutex_lock(&srv_lock);
	srv.list_delay_ms = 0;
	pthread_mutex_unlock(&srv_lock);
	CHECK(wait_for("synced", 1));
	CHECK(log_has("synced 5000"));
	CHECK(log_has(
	    "  00000000 name=bulk-5000 image=busybox policy=p49 project=bulk service=- pid=0 running=0 "
	    "problem=-"));
	CHECK(log_count("create") == 0);
	docker_client_free(c);
}

/* Freed while requests are in flight: no callback after. */
static void test_free_busy(void)
{
	char path[256];
	struct docker_client *c;

	server_reset();
	add_ctr(ID_A, "a-web", LABELS_A, true, 4242);
	pthread_mutex_lock(&srv_lock);
	srv.list_delay_ms = 200;
	pthread_mutex_unlock(&srv_lock);
	server_start("free.sock", path, sizeof(path));
	c = client_new(path);
	CHECK(wait_subscribed(1));
	CHECK(docker_client_inspect(c, "a-web", inspect_done, NULL) == 0);
	docker_client_free(c);
	settle(400);
	CHECK(n_log == 0);
	CHECK(docker_client_new(event, curl, "relative", "k", &ops, NULL, &c) == -EINVAL);
	CHECK(docker_client_new(event, curl, "/x", "a key", &ops, NULL, &c) == -EINVAL);
}

static void remove_sockets(void)
{
	_cleanup_(closedirp) DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			(void)unlinkat(dirfd(d), de->d_name, 0);
}

int main(void)
{
	CHECK(docker_id_valid(ID_A) && !docker_id_valid("ABCDEF") && !docker_id_valid(ID_A "0"));
	CHECK(docker_name_valid("web_1.x-y") && !docker_name_valid("/web") && !docker_name_valid("a") &&
	      !docker_name_valid("-web") && !docker_name_valid("we b"));
	if (!mkdtemp(dir)) {
		perror("test-docker-api: mkdtemp");
		return 1;
	}
	if (sd_event_new(&event) < 0 || np_curl_new(event, &curl) < 0)
		return 1;

	test_docker();
	test_events_during_sync();
	test_podman();
	test_versions();
	test_late_server();
	test_bad_input();
	test_image_label();
	test_many();
	test_free_busy();

	np_curl_free(curl);
	sd_event_unref(event);
	remove_sockets();
	rmdir(dir);
	printf("test-docker-api: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
