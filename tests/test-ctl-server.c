/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The control transport alone (ctl-server.c, ctl-request.c, ctl-params.c),
 * unprivileged: framing, the envelope's validation order, dispatch through
 * a method table, params by declaration, deferred methods and followers,
 * over socketpairs, with a fake table instead of the manager's methods.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-event.h>

#include "cleanup-util.h"
#include "ctl-params.h"
#include "ctl-server.h"
#include "netpol-proto.h"

#include "unit-check.h"

/* What the fake methods share: the userdata of every call. */
struct fake {
	unsigned calls;
	unsigned worked; /* slow's work ran (on the worker) */
	unsigned waits;	 /* wait's runs */
	bool answered;	 /* what wait waits for is in */
};

static struct fake fake;
static sd_event *event;
static struct ctl_server *server;

/* ---- the fake method table ---- */

struct echo_params {
	const char *name;
	json_t *count;
};

static int param_name(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	if (strcmp(json_string_value(v), "bad") == 0)
		return ctl_fail(call, NP_ERR_INVALID_PARAM, field, "'bad' is refused");
	*(const char **)ret = json_string_value(v);
	return 0;
}

static const struct ctl_param echo_table[] = {
    {"name", CTL_PARAM_STRING, true, param_name, offsetof(struct echo_params, name)},
    {"count", CTL_PARAM_INTEGER, false, ctl_param_json, offsetof(struct echo_params, count)},
    {},
};

static int method_echo(struct ctl_call *call, json_t *params)
{
	struct echo_params p = {};
	int r;

	((struct fake *)call->userdata)->calls++;
	r = ctl_params_dispatch(call, params, echo_table, &p);
	if (r < 0)
		return r;
	call->result = json_pack("{s:s, s:O}", "name", p.name, "count", p.count ?: json_null());
	return call->result ? 0 : -ENOMEM;
}

static int method_write(struct ctl_call *call, json_t *params)
{
	call->result = json_object();
	return call->result ? 0 : -ENOMEM;
}

static void slow_work(void *data)
{
	((struct fake *)data)->worked++;
}

static int slow_done(struct ctl_call *call, void *data)
{
	call->result = json_pack("{s:i}", "worked", (int)((struct fake *)data)->worked);
	return call->result ? 0 : -ENOMEM;
}

static int method_slow(struct ctl_call *call, json_t *params)
{
	return ctl_call_defer(call, slow_work, slow_done, call->userdata, NULL);
}

/* "wait" {"key"}: its parameter's parser suspends the call until the
 * answer is in (as a unit's resolve() does while systemd is asked). */
static int param_key(struct ctl_call *call, const char *field, json_t *v, void *ret)
{
	struct fake *f = call->userdata;

	if (!f->answered)
		return ctl_call_suspend(call);
	*(const char **)ret = json_string_value(v);
	return 0;
}

static int method_wait(struct ctl_call *call, json_t *params)
{
	static const struct ctl_param table[] = {
	    {"key", CTL_PARAM_STRING, true, param_key, 0},
	    {},
	};
	const char *key = NULL;
	int r;

	((struct fake *)call->userdata)->waits++;
	r = ctl_params_dispatch(call, params, table, &key);
	if (r != 0)
		return r;
	call->result =
	    json_pack("{s:s, s:i}", "key", key, "runs", (int)((struct fake *)call->userdata)->waits);
	return call->result ? 0 : -ENOMEM;
}

/* Followers of "follow" with {"only": S} get the events that are S. */
static bool wants(const void *data, const void *event_)
{
	return strcmp(data, event_) == 0;
}

static int method_follow(struct ctl_call *call, json_t *params)
{
	static const struct ctl_param table[] = {
	    {"only", CTL_PARAM_STRING, true, ctl_param_string, 0},
	    {},
	};
	const char *only = NULL;
	char *copy;
	int r;

	r = ctl_params_dispatch(call, params, table, &only);
	if (r < 0)
		return r;
	copy = strdup(only);
	if (!copy)
		return -ENOMEM;
	ctl_call_follow(call, wants, copy, free, json_pack("[{s:s}]", "what", "from the backlog"));
	call->result = json_pack("{s:b}", "following", 1);
	return call->result ? 0 : -ENOMEM;
}

static const struct ctl_method methods[] = {
    {"echo", method_echo, NP_PRIV_READ},
    {"write", method_write, NP_PRIV_WRITE},
    {"slow", method_slow, NP_PRIV_READ},
    {"follow", method_follow, NP_PRIV_READ},
    {"wait", method_wait, NP_PRIV_READ},
    {},
};

/* ---- a client ---- */

struct client {
	int fd;
	char buf[64 * 1024];
	size_t len;
};

static void client_open(struct client *c)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		abort();
	c->fd = sv[0];
	c->len = 0;
	ctl_server_add_connection(server, sv[1]);
}

/* Runs the server's loop once, for at most 10 ms. */
static void turn(void)
{
	if (sd_event_run(event, 10000) < 0)
		abort();
}

static void client_send(struct client *c, const char *data, size_t len)
{
	while (len > 0) {
		ssize_t n = write(c->fd, data, len);

		if (n < 0 && errno != EAGAIN)
			abort();
		if (n > 0) {
			data += n;
			len -= (size_t)n;
		}
		turn();
	}
}

static void client_sends(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

/* The next line from the server, parsed; NULL at EOF or after 5 s. */
static json_t *client_recv(struct client *c)
{
	for (unsigned i = 0; i < 500; i++) {
		char *nl = memchr(c->buf, '\n', c->len);
		ssize_t n;

		if (nl) {
			json_t *j = json_loadb(c->buf, (size_t)(nl - c->buf), 0, NULL);

			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len);
			return j;
		}
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n == 0)
			return NULL;
		if (n > 0) {
			c->len += (size_t)n;
			continue;
		}
		if (errno != EAGAIN)
			return NULL;
		turn();
	}
	return NULL;
}

/* Whether the server closed the connection, with nothing more said. */
static bool client_closed(struct client *c)
{
	json_t *j = client_recv(c);

	json_decref(j);
	return !j && c->len == 0;
}

static void client_close(struct client *c)
{
	close(c->fd);
	for (unsigned i = 0; i < 10; i++)
		turn();
}

/* ---- checks on replies ---- */

static bool is_ok(json_t *reply, json_int_t id)
{
	return json_is_true(json_object_get(reply, "ok")) &&
	       json_integer_value(json_object_get(reply, "id")) == id &&
	       json_integer_value(json_object_get(reply, "version")) == NP_PROTO_VERSION;
}

/* An error reply with this code, field (NULL: none) and message. */
static bool is_error(json_t *reply, const char *code, const char *field, const char *message)
{
	json_t *e = json_object_get(reply, "error");
	const char *f = json_string_value(json_object_get(e, "field"));
	const char *m = json_string_value(json_object_get(e, "message"));

	if (json_is_true(json_object_get(reply, "ok")) || !e)
		return false;
	if (strcmp(json_string_value(json_object_get(e, "code")) ?: "", code) != 0)
		return false;
	if (field ? !f || strcmp(f, field) != 0 : f != NULL)
		return false;
	return m && strcmp(m, message) == 0;
}

static char *dump(json_t *j)
{
	static char text[1024];
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;

	snprintf(text, sizeof(text), "%s", s ?: "(nothing)");
	free(s);
	return text;
}

/* Sends line, and checks the one reply against code, field and message
 * (code NULL: a success with this id). */
static void expect(struct client *c, const char *line, json_int_t id, const char *code, const char *field,
		   const char *message, const char *file, int lineno)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;

	client_sends(c, line);
	reply = client_recv(c);
	if (code)
		check(is_error(reply, code, field, message), file, lineno, "%s: wanted %s %s '%s', got %s",
		      line, code, field ?: "(no field)", message, dump(reply));
	else
		check(is_ok(reply, id), file, lineno, "%s: wanted a success, got %s", line, dump(reply));
}
#define EXPECT_OK(c, line, id) expect(c, line, id, NULL, NULL, NULL, __FILE__, __LINE__)
#define EXPECT_ERROR(c, line, code, field, message)                                                          \
	expect(c, line, 0, code, field, message, __FILE__, __LINE__)

/* ---- cases ---- */

static void test_dispatch(void)
{
	_cleanup_(json_decrefp) json_t *reply = NULL;
	struct client c;
	unsigned calls = fake.calls;

	client_open(&c);
	client_sends(
	    &c,
	    "{\"version\":1,\"id\":\"a\",\"command\":\"echo\",\"params\":{\"name\":\"x\",\"count\":3}}\n");
	reply = client_recv(&c);
	CHECKF(json_is_true(json_object_get(reply, "ok")) &&
		   strcmp(json_string_value(json_object_get(reply, "id")) ?: "", "a") == 0 &&
		   strcmp(json_string_value(json_object_get(json_object_get(reply, "result"), "name")) ?: "",
			  "x") == 0 &&
		   json_integer_value(json_object_get(json_object_get(reply, "result"), "count")) == 3,
	       "echo: %s", dump(reply));
	CHECKF(fake.calls == calls + 1, "the method got the server's userdata");
	CHECK(ctl_server_n_clients(server) == 1);
	client_close(&c);
	CHECK(ctl_server_n_clients(server) == 0);
}

static void test_framing(void)
{
	_cleanup_(json_decrefp) json_t *r1 = NULL, *r2 = NULL, *r3 = NULL, *r4 = NULL;
	static const char split[] =
	    "{\"version\":1,\"id\":3,\"command\":\"echo\",\"params\":{\"name\":\"s\"}}\n";
	struct client c;

	client_open(&c);
	/* Two requests in one write: two replies, in order. */
	client_sends(&c, "{\"version\":1,\"id\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n"
			 "{\"version\":1,\"id\":2,\"command\":\"echo\",\"params\":{\"name\":\"b\"}}\n");
	r1 = client_recv(&c);
	r2 = client_recv(&c);
	CHECKF(is_ok(r1, 1) && is_ok(r2, 2), "two in one write: %s", dump(r1));
	/* One request in two writes, the loop turning in between. */
	client_send(&c, split, 20);
	for (unsigned i = 0; i < 5; i++)
		turn();
	client_send(&c, split + 20, strlen(split) - 20);
	r3 = client_recv(&c);
	CHECKF(is_ok(r3, 3), "one in two writes: %s", dump(r3));
	/* The last request may lack its '\n' when the client shuts its side. */
	client_sends(&c, "{\"version\":1,\"id\":4,\"command\":\"echo\",\"params\":{\"name\":\"c\"}}");
	shutdown(c.fd, SHUT_WR);
	r4 = client_recv(&c);
	CHECKF(is_ok(r4, 4), "the last line without '\\n': %s", dump(r4));
	CHECKF(client_closed(&c), "closed after the last reply");
	client_close(&c);
}

/* docs/protocol.md, "Validation order", steps 3 to 6: the first thing
 * wrong is the answer. */
static void test_envelope(void)
{
	struct client c;

	client_open(&c);
	EXPECT_ERROR(&c, "{\"version\":1,\n", NP_ERR_INVALID_JSON, NULL,
		     "invalid JSON at column 13: string or '}' expected near end of file");
	EXPECT_ERROR(&c, "[1]\n", NP_ERR_INVALID_REQUEST, NULL, "a request must be a JSON object");
	EXPECT_ERROR(&c, "{\"version\":1,\"command\":\"echo\"}\n", NP_ERR_INVALID_REQUEST, "id",
		     "\"id\" is required: an integer or a string");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":\"1\",\"command\":\"echo\"}\n", NP_ERR_INVALID_REQUEST,
		     "version", "\"version\" is required: an integer (this daemon speaks 1)");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":7}\n", NP_ERR_INVALID_REQUEST, "command",
		     "\"command\" is required: a string");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":[]}\n",
		     NP_ERR_INVALID_REQUEST, "params", "\"params\" must be an object");
	/* The version before unknown envelope keys. */
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":2,\"command\":\"echo\",\"x\":1}\n", NP_ERR_BAD_VERSION,
		     "version", "protocol version 2 is not supported; this daemon speaks 1");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"x\":1}\n", NP_ERR_INVALID_REQUEST,
		     "x", "\"x\": unknown request field (a request has version, id, command and params)");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"nope\"}\n", NP_ERR_UNKNOWN_COMMAND, NULL,
		     "unknown command 'nope'");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"echo\\u0000\"}\n", NP_ERR_UNKNOWN_COMMAND,
		     "command", "unknown command (it contains a NUL character)");
	EXPECT_ERROR(
	    &c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\\u0000b\"}}\n",
	    NP_ERR_INVALID_PARAM, "params.name", "params.name: a string must not contain NUL characters");
	/* The connection survives every refusal. */
	EXPECT_OK(&c, "{\"id\":9,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n", 9);
	client_close(&c);
}

/* Step 7 by declaration: unknown keys, then each field in table order,
 * its presence and type, then its value. */
static void test_params(void)
{
	struct client c;

	client_open(&c);
	EXPECT_ERROR(&c,
		     "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"count\":\"x\",\"zz\":1}}\n",
		     NP_ERR_INVALID_PARAM, "params.zz", "params.zz: unknown parameter");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"echo\"}\n", NP_ERR_INVALID_PARAM,
		     "params.name", "params.name: is required");
	EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"count\":\"x\"}}\n",
		     NP_ERR_INVALID_PARAM, "params.name", "params.name: is required");
	EXPECT_ERROR(
	    &c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":5,\"count\":\"x\"}}\n",
	    NP_ERR_INVALID_PARAM, "params.name", "params.name: must be a string, got an integer");
	EXPECT_ERROR(
	    &c,
	    "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"bad\",\"count\":\"x\"}}\n",
	    NP_ERR_INVALID_PARAM, "params.name", "params.name: 'bad' is refused");
	EXPECT_ERROR(
	    &c, "{\"id\":1,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\",\"count\":1.5}}\n",
	    NP_ERR_INVALID_PARAM, "params.count", "params.count: must be an integer, got a number");
	EXPECT_OK(&c, "{\"id\":2,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n", 2);
	client_close(&c);
}

/* Root and the admin group may write; the socket group only reads. */
static void test_privilege(bool admin)
{
	struct client c;

	client_open(&c);
	if (admin)
		EXPECT_OK(&c, "{\"id\":1,\"version\":1,\"command\":\"write\"}\n", 1);
	else
		EXPECT_ERROR(&c, "{\"id\":1,\"version\":1,\"command\":\"write\"}\n", NP_ERR_PERMISSION, NULL,
			     "permission denied: 'write' changes state, which needs root or the admin group");
	client_close(&c);
}

/* A deferred method answers later, and the client's next request waits
 * for it: replies keep the request order. */
static void test_deferred(void)
{
	_cleanup_(json_decrefp) json_t *r1 = NULL, *r2 = NULL;
	unsigned worked = fake.worked;
	struct client c;

	client_open(&c);
	client_sends(&c, "{\"version\":1,\"id\":1,\"command\":\"slow\"}\n"
			 "{\"version\":1,\"id\":2,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n");
	r1 = client_recv(&c);
	r2 = client_recv(&c);
	CHECKF(is_ok(r1, 1) && json_integer_value(json_object_get(json_object_get(r1, "result"), "worked")) ==
				   (json_int_t)worked + 1,
	       "slow: %s", dump(r1));
	CHECKF(is_ok(r2, 2), "after slow: %s", dump(r2));
	client_close(&c);
}

/* A suspended method answers once resumed, run again from the start; the
 * client's next request waits for it; one whose client left is dropped,
 * and so is one still suspended when the server goes. */
static void test_suspended(void)
{
	_cleanup_(json_decrefp) json_t *r1 = NULL, *r2 = NULL;
	struct client c, gone;
	char b;

	fake.answered = false;
	fake.waits = 0;
	client_open(&c);
	client_sends(&c, "{\"version\":1,\"id\":1,\"command\":\"wait\",\"params\":{\"key\":\"k\"}}\n"
			 "{\"version\":1,\"id\":2,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n");
	for (unsigned i = 0; i < 10; i++)
		turn();
	CHECKF(read(c.fd, &b, 1) < 0 && errno == EAGAIN, "no reply while suspended");
	CHECK(fake.waits == 1);
	/* Resumed without the answer: suspended again. */
	ctl_server_resume(server);
	turn();
	CHECKF(read(c.fd, &b, 1) < 0 && errno == EAGAIN, "no reply while still suspended");
	CHECK(fake.waits == 2);
	fake.answered = true;
	ctl_server_resume(server);
	r1 = client_recv(&c);
	r2 = client_recv(&c);
	CHECKF(is_ok(r1, 1) &&
		   json_integer_value(json_object_get(json_object_get(r1, "result"), "runs")) == 3,
	       "wait: %s", dump(r1));
	CHECKF(is_ok(r2, 2), "after wait: %s", dump(r2));
	client_close(&c);

	/* Its client leaves while it is suspended. */
	fake.answered = false;
	client_open(&gone);
	client_sends(&gone, "{\"version\":1,\"id\":1,\"command\":\"wait\",\"params\":{\"key\":\"k\"}}\n");
	client_close(&gone);
	fake.answered = true;
	ctl_server_resume(server);
	turn();
	CHECK(fake.waits == 5);

	/* Suspended when the server goes: freed (the sanitized build checks). */
	fake.answered = false;
	client_open(&gone);
	client_sends(&gone, "{\"version\":1,\"id\":1,\"command\":\"wait\",\"params\":{\"key\":\"k\"}}\n");
	close(gone.fd);
}

/* An event line's {"what": ...}. */
static const char *what(json_t *line)
{
	return json_string_value(json_object_get(json_object_get(line, "event"), "what")) ?: "";
}

static void broadcast(const char *event_)
{
	_cleanup_(json_decrefp) json_t *j = json_pack("{s:s}", "what", event_);

	ctl_server_broadcast(server, event_, j);
	for (unsigned i = 0; i < 5; i++)
		turn();
}

/* A follower gets the backlog, then what its method's filter wants. */
static void test_follow(void)
{
	_cleanup_(json_decrefp) json_t *reply = NULL, *backlog = NULL, *ev = NULL;
	struct client c, other;

	client_open(&c);
	client_open(&other);
	client_sends(&c, "{\"version\":1,\"id\":7,\"command\":\"follow\",\"params\":{\"only\":\"b\"}}\n");
	reply = client_recv(&c);
	CHECKF(is_ok(reply, 7), "follow: %s", dump(reply));
	backlog = client_recv(&c);
	CHECKF(json_integer_value(json_object_get(backlog, "id")) == 7 &&
		   strcmp(what(backlog), "from the backlog") == 0,
	       "the backlog: %s", dump(backlog));
	CHECK(ctl_server_n_followers(server) == 1);
	broadcast("a");
	broadcast("b");
	ev = client_recv(&c);
	CHECKF(json_integer_value(json_object_get(ev, "id")) == 7 && strcmp(what(ev), "b") == 0,
	       "the filter passes b only: %s", dump(ev));
	/* Who does not follow gets nothing. */
	EXPECT_OK(&other, "{\"id\":8,\"version\":1,\"command\":\"echo\",\"params\":{\"name\":\"a\"}}\n", 8);
	client_close(&c);
	client_close(&other);
	CHECK(ctl_server_n_followers(server) == 0);
}

/* Step 2: a line over the limit is refused and the connection closed. */
static void test_too_large(void)
{
	_cleanup_free_ char *big = malloc(NP_PROTO_MAX_MSG + 2);
	_cleanup_(json_decrefp) json_t *reply = NULL;
	struct client c;

	if (!big)
		abort();
	memset(big, ' ', NP_PROTO_MAX_MSG + 2);
	client_open(&c);
	client_send(&c, big, NP_PROTO_MAX_MSG + 2);
	reply = client_recv(&c);
	CHECKF(is_error(reply, NP_ERR_TOO_LARGE, NULL, "a request line may be at most 8388608 bytes"),
	       "too large: %s", dump(reply));
	CHECKF(client_closed(&c), "closed after TooLarge");
	client_close(&c);
}

static void serve(struct np_config *config)
{
	if (ctl_server_new(event, config, methods, &fake, -1, &server) < 0)
		abort();
}

int main(void)
{
	struct group *g = getgrgid(getgid());
	struct np_config config = {
	    .idle_timeout_sec = 10,
	    .max_clients = 16,
	    .max_clients_per_uid = 8,
	    .writer_clients = 2,
	};

	if (!g) {
		printf("test-ctl-server: no name for gid %u, skipped\n", (unsigned)getgid());
		return 77;
	}
	if (sd_event_new(&event) < 0)
		abort();
	/* Our gid is the socket group: we may read, and write only as root. */
	config.socket_group = strdup(g->gr_name);
	serve(&config);
	test_dispatch();
	test_framing();
	test_envelope();
	test_params();
	test_privilege(geteuid() == 0);
	test_deferred();
	test_follow();
	test_too_large();
	test_suspended(); /* last: it leaves one suspended */
	server = ctl_server_free(server);

	/* And as the admin group, we may write. */
	config.admin_group = config.socket_group;
	config.socket_group = NULL;
	serve(&config);
	test_privilege(true);
	server = ctl_server_free(server);

	free(config.admin_group);
	sd_event_unref(event);
	printf("test-ctl-server: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
