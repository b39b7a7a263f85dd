/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpolctl: the thin client of netpold. One request per run (see
 * docs/protocol.md), its answer printed as a table or as JSON. The daemon
 * validates everything; the client only checks what it must read itself
 * (a policy file, a time, a number) and reports it with the position.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "netpol-proto.h"
#include "conn.h"
#include "output.h"

struct verb {
	const char *name;
	int (*run)(int argc, char **argv);
	unsigned min_args, max_args;
	const char *usage;
	const char *help;
};

enum {
	OPT_SOCKET = 0x100,
	OPT_PRETTY,
	OPT_FOLLOW,
	OPT_SINCE,
	OPT_TARGET,
	OPT_RESET,
	OPT_TIMEOUT,
	OPT_YES,
	OPT_FORGET,
};

/* The options every verb accepts, wherever they appear on the line. */
/* clang-format off */
#define COMMON_OPTIONS                                          \
	{"help", no_argument, NULL, 'h'},                       \
	{"json", no_argument, NULL, 'j'},                       \
	{"pretty", no_argument, NULL, OPT_PRETTY},              \
	{"socket", required_argument, NULL, OPT_SOCKET},        \
	{"timeout", required_argument, NULL, OPT_TIMEOUT}
/* clang-format on */

/* netpolctl's exit status when netpold did not answer in time (as timeout(1)). */
#define EXIT_TIMEOUT	    124
#define TIMEOUT_DEFAULT_SEC 30

static const char *arg_socket = NP_SOCKET_PATH_DEFAULT;
static bool arg_follow;
static bool arg_reset;
static bool arg_since_set;
static long long arg_since;
static const char *arg_target;
static unsigned arg_timeout = TIMEOUT_DEFAULT_SEC; /* seconds; 0: none */
static bool arg_yes;
static bool arg_forget;
static bool timed_out;

/* The verb being run, and "policy " for a subcommand: for messages and help. */
static const struct verb *arg_verb;
static const char *arg_verb_prefix = "";

static struct np_conn *conn;
static json_int_t last_id;
static volatile sig_atomic_t interrupted;

DEFINE_TRIVIAL_CLEANUP_FUNC(struct table *, table_free);

/* ---- options ---- */

static void print_verb_help(const struct verb *v)
{
	printf("Usage: netpolctl [--socket PATH] [--json] %s\n\n%s\n", v->usage, v->help);
}

static int usage_error(const char *fmt, const char *what)
{
	char reason[256];

	snprintf(reason, sizeof(reason), fmt, what);
	return fail(-EINVAL, "netpolctl.InvalidArgument", "%s%s: %s (usage: netpolctl %s)", arg_verb_prefix,
		    arg_verb->name, reason, arg_verb->usage);
}

/* "10m", "2h", "30s", "1d" ago; an epoch in seconds; or RFC 3339
 * ("2024-05-01T12:00:00Z", "2024-05-01T14:00:00.5+02:00"). */
static int parse_ago(const char *s, long long *ret)
{
	static const struct {
		char suffix;
		long long seconds;
	} units[] = {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}};
	char *end;
	long long n;

	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || n < 0 || n > 1000000000000LL || !end[0] || end[1])
		return -EINVAL;
	for (size_t i = 0; i < ELEMENTSOF(units); i++)
		if (*end == units[i].suffix) {
			*ret = (long long)time(NULL) - n * units[i].seconds;
			return 0;
		}
	return -EINVAL;
}

static int parse_rfc3339(const char *s, long long *ret)
{
	struct tm tm = {};
	const char *p;
	int off_h = 0, off_m = 0, sign = 0;
	char *end;

	p = strptime(s, "%Y-%m-%d", &tm);
	if (!p || (*p != 'T' && *p != 't' && *p != ' '))
		return -EINVAL;
	p = strptime(p + 1, "%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	if (*p == '.' || *p == ',') {
		(void)strtoul(p + 1, &end, 10);
		if (end == p + 1)
			return -EINVAL;
		p = end;
	}
	if (*p == 'Z' || *p == 'z')
		p++;
	else if (*p == '+' || *p == '-') {
		sign = *p == '+' ? 1 : -1;
		if (sscanf(p + 1, "%2d:%2d", &off_h, &off_m) != 2 || strlen(p) != 6)
			return -EINVAL;
		p += 6;
	} else
		return -EINVAL;
	if (*p)
		return -EINVAL;
	*ret = (long long)timegm(&tm) - sign * (off_h * 3600LL + off_m * 60LL);
	return 0;
}

static int parse_since(const char *s, long long *ret)
{
	char *end;
	long long n;

	if (parse_ago(s, ret) == 0 || parse_rfc3339(s, ret) == 0)
		return 0;
	errno = 0;
	n = strtoll(s, &end, 10);
	if (errno || end == s || *end || n < 0)
		return -EINVAL;
	*ret = n;
	return 0;
}

static int verb_option(int c, const char *arg)
{
	switch (c) {
	case 'h':
		print_verb_help(arg_verb);
		exit(EXIT_SUCCESS);
	case 'j':
		arg_output.json = true;
		return 0;
	case OPT_PRETTY:
		arg_output.json = arg_output.pretty = true;
		return 0;
	case OPT_SOCKET:
		arg_socket = arg;
		return 0;
	case OPT_FOLLOW:
		arg_follow = true;
		return 0;
	case OPT_RESET:
		arg_reset = true;
		return 0;
	case OPT_TARGET:
		arg_target = arg;
		return 0;
	case OPT_TIMEOUT: {
		char *end;
		unsigned long n;

		errno = 0;
		n = strtoul(arg, &end, 10);
		if (errno || end == arg || *end || arg[0] == '-' || n > 86400)
			return fail(-EINVAL, "netpolctl.InvalidArgument",
				    "invalid timeout '%s': expected seconds, 0..86400 (0: wait for ever)",
				    arg);
		arg_timeout = (unsigned)n;
		return 0;
	}
	case OPT_YES:
		arg_yes = true;
		return 0;
	case OPT_FORGET:
		arg_forget = true;
		return 0;
	case OPT_SINCE:
		arg_since_set = true;
		if (parse_since(arg, &arg_since) < 0)
			return usage_error("invalid time '%s': expected e.g. 30s, 10m, 2h, 1d, an epoch in "
					   "seconds, or 2024-05-01T12:00:00Z",
					   arg);
		return 0;
	}
	return usage_error("unexpected option %s", "");
}

/* Parses a verb's options (opts, which include the common ones, anywhere on
 * the line) and checks the number of the other arguments. Returns the index
 * of the first of them in argv. */
static int parse_verb(int argc, char **argv, const struct option *opts)
{
	unsigned n;
	int c, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hj", opts, NULL)) >= 0) {
		if (c == '?' || c == ':') {
			char opt[3] = {'-', (char)optopt, 0};
			const char *name = optopt > 0 && optopt < 0x80 ? opt : argv[optind - 1];

			return usage_error(c == '?' ? "unknown option '%s'" : "option '%s' needs a value",
					   name);
		}
		r = verb_option(c, optarg);
		if (r < 0)
			return r;
	}
	n = (unsigned)(argc - optind);
	if (n < arg_verb->min_args)
		return usage_error("missing argument%s", arg_verb->max_args > 1 ? "s" : "");
	if (n > arg_verb->max_args)
		return usage_error("unexpected argument '%s'", argv[optind + arg_verb->max_args]);
	return optind;
}

static const struct option common_options[] = {COMMON_OPTIONS, {}};

/* ---- requests ---- */

/* A request may have been carried out even though its answer never came. */
static int fail_timeout(void)
{
	timed_out = true;
	return fail(-ETIMEDOUT, "netpolctl.Timeout",
		    "netpold did not answer within %u s: it may be stopped or wedged (systemctl status "
		    "netpold); a change asked for may or may not have been made. --timeout SECS waits "
		    "longer, 0 for ever",
		    arg_timeout);
}

static int fail_connect(int r)
{
	if (r == -ETIMEDOUT)
		return fail_timeout();
	if (r == -ENOENT || r == -ECONNREFUSED)
		return fail(r, "netpolctl.CannotConnect",
			    "cannot connect to netpold at %s: %s (is netpold running?)", arg_socket,
			    strerror(-r));
	if (r == -EACCES || r == -EPERM)
		return fail(
		    r, "netpolctl.PermissionDenied",
		    "cannot connect to netpold at %s: %s (root and the members of the socket's group may "
		    "connect)",
		    arg_socket, strerror(-r));
	return fail(r, "netpolctl.CannotConnect", "cannot connect to netpold at %s: %s", arg_socket,
		    strerror(-r));
}

static int fail_recv(int r)
{
	switch (r) {
	case -ETIMEDOUT:
		return fail_timeout();
	case -ECONNRESET:
		return fail(r, "netpolctl.Disconnected", "netpold closed the connection");
	case -EPROTO:
		return fail(r, "netpolctl.Disconnected",
			    "netpold closed the connection in the middle of a message");
	case -EBADMSG:
		return fail(r, "netpolctl.ProtocolError", "netpold sent a line that is not a JSON object");
	case -EMSGSIZE:
		return fail(r, "netpolctl.ProtocolError", "netpold sent a line longer than %zu bytes",
			    (size_t)NP_CONN_MAX_LINE);
	case -EINTR:
		return fail(r, "netpolctl.Interrupted", "interrupted");
	}
	return fail(r, "netpolctl.ProtocolError", "cannot read from netpold: %s", strerror(-r));
}

static bool is_reply_to(const json_t *msg, json_int_t id)
{
	const json_t *mid = json_object_get(msg, "id");

	if (!json_object_get(msg, "ok"))
		return false; /* a stream line */
	return json_is_null(mid) || (json_is_integer(mid) && json_integer_value(mid) == id);
}

/* Request parameters from command-line strings. json_pack() fails only on
 * memory or on a string that is not UTF-8: say so rather than send nothing. */
static json_t *pack(const char *fmt, ...)
{
	json_error_t e;
	json_t *params;
	va_list ap;

	va_start(ap, fmt);
	params = json_vpack_ex(&e, 0, fmt, ap);
	va_end(ap);
	if (!params) {
		(void)fail(-EINVAL, "netpolctl.InvalidArgument", "invalid argument: %s", e.text);
		exit(EXIT_FAILURE);
	}
	return params;
}

/* A reply: its result in *ret, or the failure reported. */
static int take_reply(json_t *msg, json_t **ret)
{
	json_t *result, *error;

	if (json_is_true(json_object_get(msg, "ok"))) {
		result = json_object_get(msg, "result");
		*ret = json_is_object(result) ? json_incref(result) : json_object();
		return 0;
	}
	error = json_object_get(msg, "error");
	if (!json_is_object(error))
		return fail(-EBADMSG, "netpolctl.ProtocolError",
			    "netpold sent a reply with neither a result nor an error");
	return fail_remote(error);
}

static int read_reply(json_int_t id, json_t **ret)
{
	for (;;) {
		_cleanup_(json_decrefp) json_t *msg = NULL;
		int r = np_conn_recv(conn, &msg);

		if (r < 0)
			return fail_recv(r);
		if (is_reply_to(msg, id))
			return take_reply(msg, ret);
	}
}

/* --timeout bounds everything from the connect on. */
static int open_conn(void)
{
	return np_conn_open_until(arg_socket, arg_timeout ? np_conn_now() + arg_timeout * 1000000ull : 0,
				  &conn);
}

/* Sends one request (params are stolen) and waits for its reply. */
static int call(const char *command, json_t *params, json_t **ret)
{
	_cleanup_(json_decrefp) json_t *req = NULL;
	json_t *msg = NULL;
	int r;

	if (!conn) {
		r = open_conn();
		if (r < 0) {
			json_decref(params);
			return fail_connect(r);
		}
	}
	req = np_proto_request(command, ++last_id, params);
	if (!req)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	r = np_conn_send(conn, req);
	if (r < 0) {
		/* netpold may have refused us and closed: its reason is queued. */
		if (np_conn_recv(conn, &msg) == 0 && is_reply_to(msg, last_id)) {
			r = take_reply(msg, ret);
			json_decref(msg);
			return r;
		}
		json_decref(msg);
		if (r == -ETIMEDOUT)
			return fail_timeout();
		return fail(r, "netpolctl.Disconnected", "cannot send to netpold: %s", strerror(-r));
	}
	return read_reply(last_id, ret);
}

/* Prints the result as JSON with --json; otherwise lets the verb print it. */
static int finish(json_t *result, int (*human)(json_t *result))
{
	int r;

	r = arg_output.json ? print_json(result) : human(result);
	json_decref(result);
	if (r < 0)
		return r;
	r = flush_stdout();
	if (r < 0)
		return fail(r, "netpolctl.Output", "cannot write the output: %s", strerror(-r));
	return 0;
}

/* One request whose result is printed by human(). */
static int simple(const char *command, json_t *params, int (*human)(json_t *result))
{
	json_t *result;
	int r;

	r = call(command, params, &result);
	if (r < 0)
		return r;
	return finish(result, human);
}

/* ---- human output ---- */

static int print_nothing(json_t *result)
{
	return 0;
}

static void print_field(const char *key, const json_t *v)
{
	char label[64];
	size_t i;

	snprintf(label, sizeof(label), "%s:", key);
	for (i = 0; label[i]; i++)
		if (label[i] == '_')
			label[i] = ' ';
	if (json_is_array(v)) {
		json_t *e;

		printf("%s%s\n", label, json_array_size(v) ? "" : " -");
		json_array_foreach (v, i, e) {
			_cleanup_free_ char *s = value_text(e);

			printf("  %s\n", s);
		}
		return;
	}
	_cleanup_free_ char *s = value_text(v);
	printf("%-16s%s\n", label, s);
}

/* "who: message" for a problem or a warning of a container source. */
static int print_problem(const char *indent, const json_t *p)
{
	_cleanup_free_ char *who = NULL, *message = NULL;

	if (json_is_string(p)) {
		message = safe_text(json_string_value(p), 512);
		if (!message)
			return -ENOMEM;
		printf("%sproblem: %s\n", indent, message);
		return 0;
	}
	if (json_object_get(p, "container") || json_object_get(p, "target")) {
		who = format_target(p);
		if (!who)
			return -ENOMEM;
	}
	message = safe_text(json_string_value(json_object_get(p, "message")) ?: "?", 512);
	if (!message)
		return -ENOMEM;
	printf("%sproblem: %s%s%s\n", indent, who ?: "", who ? ": " : "", message);
	return 0;
}

static int print_problems(const char *indent, const json_t *problems)
{
	const json_t *p;
	size_t i;

	json_array_foreach (problems, i, p)
		if (print_problem(indent, p) < 0)
			return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	return 0;
}

/* One engine of status' "containers": its socket, then what netpold knows
 * of it, or why it is not connected. */
static void print_engine(const json_t *e)
{
	_cleanup_free_ char *sock = safe_text(json_string_value(json_object_get(e, "socket")) ?: "?", 256);
	_cleanup_free_ char *engine = value_text(json_object_get(e, "engine"));
	_cleanup_free_ char *api = value_text(json_object_get(e, "api_version"));
	_cleanup_free_ char *error = NULL;
	json_t *n = json_object_get(e, "containers");

	if (json_string_value(json_object_get(e, "error")))
		error = safe_text(json_string_value(json_object_get(e, "error")), 256);
	if (!json_is_true(json_object_get(e, "connected"))) {
		printf("  %s: not connected%s%s%s\n", sock ?: "?", error ? " (" : "", error ?: "",
		       error ? ")" : "");
		return;
	}
	printf("  %s: %s, API %s, connected, %" JSON_INTEGER_FORMAT " container%s\n", sock ?: "?", engine,
	       api, json_integer_value(n), json_integer_value(n) == 1 ? "" : "s");
	if (error)
		printf("    last error: %s\n", error);
}

static int print_containers_status(const json_t *c)
{
	json_t *engines = json_object_get(c, "engines"), *e;
	json_t *def = json_object_get(c, "default_policy");
	size_t i;

	printf("containers:\n");
	if (json_array_size(engines) == 0)
		printf("  no engine followed (container_sockets is empty)\n");
	json_array_foreach (engines, i, e)
		print_engine(e);
	if (json_is_string(def)) {
		_cleanup_free_ char *name = value_text(def);

		printf("  default policy: %s\n", name);
	} else
		printf("  default policy: none (a container without a binding is not policed)\n");
	return print_problems("  ", json_object_get(c, "problems"));
}

static int print_status(json_t *result)
{
	static const char *const order[] = {"version",	     "pin_dir",	      "pins",	     "pins_missing",
					    "pins_restored", "attach_cgroup", "cgroup_root", "adopted",
					    "policies",	     "bindings",      "events_lost", NULL};
	json_t *containers = json_object_get(result, "containers");
	const char *key;
	json_t *v;

	for (size_t i = 0; order[i]; i++)
		if ((v = json_object_get(result, order[i])))
			print_field(order[i], v);
	json_object_foreach (result, key, v) {
		bool listed = false;

		for (size_t i = 0; order[i]; i++)
			listed |= !strcmp(order[i], key);
		if (!listed && !(json_is_object(containers) && v == containers))
			print_field(key, v);
	}
	/* last: it takes several lines */
	if (json_is_object(containers))
		return print_containers_status(containers);
	return 0;
}

/* A table of the objects in result[list_key], one column per key; a
 * "target" column names a container by its name, short id and image. */
static int print_list(json_t *result, const char *list_key, const char *const *keys,
		      const char *const *header, size_t n)
{
	_cleanup_(table_freep) struct table *t = table_new(header, n);
	json_t *e;
	size_t i;
	int r;

	if (!t)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	json_array_foreach (json_object_get(result, list_key), i, e)
		for (size_t k = 0; k < n; k++) {
			r = table_add(t, strcmp(keys[k], "target") ? value_text(json_object_get(e, keys[k]))
								   : format_target(e));
			if (r < 0)
				return fail(r, "netpolctl.Internal", "out of memory");
		}
	table_print(t, stdout);
	return 0;
}

static int print_policy_list(json_t *result)
{
	static const char *const keys[] = {"name", "id", "default", "rules", "entries", "bound"};
	static const char *const header[] = {"NAME", "ID", "DEFAULT", "RULES", "ENTRIES", "BOUND"};

	return print_list(result, "policies", keys, header, ELEMENTSOF(keys));
}

/* A binding's cgroup now: its id, or "none" for a container that has none
 * (stopped, or not started yet: bound when its cgroup appears). */
static char *cgroup_text(const json_t *b)
{
	const json_t *id = json_object_get(b, "cgroup_id");

	if (json_is_integer(id) && json_integer_value(id) == 0)
		return strdup("none");
	return value_text(id);
}

/* A container's binding names the container (name, short id, image); its
 * warnings go under its row, the source's problems after the table. */
static int print_bindings(json_t *result)
{
	static const char *const header[] = {"TARGET", "POLICY", "CGROUP-ID", "ORIGIN"};
	_cleanup_(table_freep) struct table *t = table_new(header, ELEMENTSOF(header));
	json_t *b, *w;
	size_t i, k;
	int r = 0;

	if (!t)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	json_array_foreach (json_object_get(result, "bindings"), i, b) {
		r |= table_add(t, format_target(b));
		r |= table_add(t, value_text(json_object_get(b, "policy")));
		r |= table_add(t, cgroup_text(b));
		r |= table_add(t, value_text(json_object_get(b, "origin")));
		json_array_foreach (json_object_get(b, "warnings"), k, w) {
			_cleanup_free_ char *text = safe_text(json_string_value(w) ?: "?", 512);
			char *line = NULL;

			if (text && asprintf(&line, "warning: %s", text) < 0)
				line = NULL;
			r |= table_note(t, line);
		}
	}
	if (r < 0)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	table_print(t, stdout);
	return print_problems("", json_object_get(result, "problems"));
}

static int print_policy(json_t *result)
{
	if (json_dumpf(json_object_get(result, "policy"), stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0)
		return -EIO;
	putchar('\n');
	return 0;
}

static int print_installed(json_t *result)
{
	_cleanup_free_ char *name = value_text(json_object_get(result, "name"));
	_cleanup_free_ char *id = value_text(json_object_get(result, "id"));
	_cleanup_free_ char *entries = value_text(json_object_get(result, "entries"));

	printf("policy %s installed: id %s, %s entries\n", name, id, entries);
	return 0;
}

static int print_applied(json_t *result)
{
	_cleanup_free_ char *policy = value_text(json_object_get(result, "policy"));
	_cleanup_free_ char *target = format_target(result);
	_cleanup_free_ char *id = cgroup_text(result);
	json_t *w;
	size_t i;

	if (!target || !id)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	if (!strcmp(id, "none"))
		printf("policy %s applied to %s (no cgroup now: bound when it starts)\n", policy, target);
	else
		printf("policy %s applied to %s (cgroup id %s)\n", policy, target, id);
	json_array_foreach (json_object_get(result, "warnings"), i, w) {
		_cleanup_free_ char *text = safe_text(json_string_value(w) ?: "?", 512);

		printf("warning: %s\n", text ?: "?");
	}
	return 0;
}

static int print_rule_added(json_t *result)
{
	_cleanup_free_ char *policy = value_text(json_object_get(result, "policy"));
	_cleanup_free_ char *index = value_text(json_object_get(result, "index"));

	printf("rule %s added to policy %s\n", index, policy);
	return 0;
}

static int print_test(json_t *result)
{
	_cleanup_free_ char *verdict = value_text(json_object_get(result, "verdict"));
	_cleanup_free_ char *policy = value_text(json_object_get(result, "policy"));
	_cleanup_free_ char *rule = NULL;
	json_t *index = json_object_get(result, "rule_index");

	if (json_is_integer(index)) {
		_cleanup_free_ char *text = value_text(json_object_get(result, "rule"));

		(void)!asprintf(&rule, "rule %" JSON_INTEGER_FORMAT ": %s", json_integer_value(index), text);
	}
	printf("%s (policy %s, %s)%s\n", verdict, policy, rule ?: "default",
	       json_is_true(json_object_get(result, "audit")) ? " [audit: passes, reported]" : "");
	return 0;
}

static int print_violations(json_t *result)
{
	static const char *const header[] = {"TIME",	    "TARGET", "POLICY",	 "VERDICT",
					     "DESTINATION", "PID",    "PROGRAM", "COUNT"};
	_cleanup_(table_freep) struct table *t = table_new(header, ELEMENTSOF(header));
	json_int_t lost = json_integer_value(json_object_get(result, "lost"));
	json_t *v;
	size_t i;
	int r = 0;

	if (!t)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	json_array_foreach (json_object_get(result, "violations"), i, v) {
		json_int_t count = json_integer_value(json_object_get(v, "count"));

		r |= table_add(t, value_text(json_object_get(v, "time")));
		r |= table_add(t, format_target(v));
		r |= table_add(t, value_text(json_object_get(v, "policy")));
		r |= table_add(t, value_text(json_object_get(v, "verdict")));
		r |= table_add(t, format_dest(json_object_get(v, "dest"), json_object_get(v, "port"),
					      json_object_get(v, "protocol")));
		r |= json_integer_value(json_object_get(v, "pid")) > 0
			 ? table_add(t, value_text(json_object_get(v, "pid")))
			 : table_addf(t, "-");
		r |= table_add(t, format_program(v));
		r |= table_addf(t, "x%" JSON_INTEGER_FORMAT, count > 0 ? count : 1);
	}
	if (r < 0)
		return fail(-ENOMEM, "netpolctl.Internal", "out of memory");
	table_print(t, stdout);
	if (lost > 0)
		printf("%" JSON_INTEGER_FORMAT " events lost (netpold's ring buffer was full)\n", lost);
	return 0;
}

static int print_stats(json_t *result)
{
	static const char *const keys[] = {"target",  "dest",	"port",	    "protocol",
					   "allowed", "denied", "last_seen"};
	static const char *const header[] = {"TARGET",	"DESTINATION", "PORT",	   "PROTO",
					     "ALLOWED", "DENIED",      "LAST-SEEN"};

	if (arg_reset && !json_object_get(result, "stats"))
		return 0;
	return print_list(result, "stats", keys, header, ELEMENTSOF(keys));
}

static int print_reload(json_t *result)
{
	const char *path = json_string_value(json_object_get(result, "config"));

	if (json_is_true(json_object_get(result, "found")))
		printf("Reloaded the configuration from %s.\n", path ?: "?");
	else
		printf("No configuration file %s; reloaded the defaults.\n", path ?: "?");
	return 0;
}

/* ---- verbs ---- */

static int verb_reload(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_RELOAD, NULL, print_reload);
}

static int verb_status(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_STATUS, NULL, print_status);
}

static int verb_policy_list(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_POLICY_LIST, NULL, print_policy_list);
}

static int verb_policy_show(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_POLICY_SHOW, pack("{s:s}", "name", argv[r]), print_policy);
}

/* Reads a whole file, or stdin for "-"; at most the largest request. */
static int read_input(const char *path, char **ret, size_t *ret_len)
{
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, k;

	f = strcmp(path, "-") ? fopen(path, "re") : fdopen(dup(STDIN_FILENO), "r");
	if (!f)
		return -errno;
	buf = malloc(NP_PROTO_MAX_MSG + 1);
	if (!buf)
		return -ENOMEM;
	while ((k = fread(buf + len, 1, NP_PROTO_MAX_MSG + 1 - len, f)) > 0)
		len += k;
	if (ferror(f))
		return -EIO;
	if (len > NP_PROTO_MAX_MSG)
		return -EFBIG;
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

/* A policy file as a JSON object; errors name the line and column. */
static int load_policy(const char *path, json_t **ret)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	_cleanup_free_ char *text = NULL;
	json_error_t e;
	size_t len = 0;
	json_t *p;
	int r;

	r = read_input(path, &text, &len);
	if (r == -EFBIG)
		return fail(r, "netpolctl.InvalidArgument", "%s: larger than %u bytes", name,
			    NP_PROTO_MAX_MSG);
	if (r < 0)
		return fail(r, "netpolctl.InvalidArgument", "cannot read %s: %s", name, strerror(-r));
	p = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!p)
		return fail(-EINVAL, "netpolctl.InvalidJSON", "%s:%d:%d: %s", name, e.line, e.column, e.text);
	if (!json_is_object(p)) {
		json_decref(p);
		return fail(-EINVAL, "netpolctl.InvalidJSON", "%s: a policy must be a JSON object", name);
	}
	*ret = p;
	return 0;
}

static int install_policy(int argc, char **argv, const char *command)
{
	json_t *policy;
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	r = load_policy(argv[r], &policy);
	if (r < 0)
		return r;
	return simple(command, pack("{s:o}", "policy", policy), print_installed);
}

static int verb_policy_add(int argc, char **argv)
{
	return install_policy(argc, argv, NP_CMD_POLICY_ADD);
}

static int verb_policy_update(int argc, char **argv)
{
	return install_policy(argc, argv, NP_CMD_POLICY_UPDATE);
}

static int verb_policy_delete(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_POLICY_DELETE, pack("{s:s}", "name", argv[r]), print_nothing);
}

/* clang-format off */
static const struct verb policy_verbs[] = {
	{"list", verb_policy_list, 0, 0, "policy list", "List the installed policies."},
	{"show", verb_policy_show, 1, 1, "policy show NAME", "Print a policy as canonical JSON."},
	{"add", verb_policy_add, 1, 1, "policy add FILE",
	 "Install a new policy from a JSON file (- for stdin). netpold validates it."},
	{"update", verb_policy_update, 1, 1, "policy update FILE",
	 "Replace a policy (named in the file) atomically: every cgroup bound to it\n"
	 "switches to the new version at once, established connections included."},
	{"delete", verb_policy_delete, 1, 1, "policy delete NAME", "Delete a policy that is bound nowhere."},
	{},
};
/* clang-format on */

static int dispatch(const struct verb *table, const char *prefix, int argc, char **argv);

static void print_policy_help(void)
{
	printf("Usage: netpolctl [--socket PATH] [--json] policy COMMAND ...\n\nCommands:\n");
	for (const struct verb *v = policy_verbs; v->name; v++)
		printf("  %-30s %.*s\n", v->usage, (int)strcspn(v->help, "\n"), v->help);
}

static int verb_policy(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		print_policy_help();
		return 0;
	}
	return dispatch(policy_verbs, "policy ", argc - 1, argv + 1);
}

static int verb_apply(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_APPLY, pack("{s:s, s:s}", "target", argv[r], "policy", argv[r + 1]),
		      print_applied);
}

static int verb_unbind(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_UNBIND, pack("{s:s}", "target", argv[r]), print_nothing);
}

static int verb_bindings(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	return simple(NP_CMD_BINDINGS, NULL, print_bindings);
}

/* The shape of a destination is checked here, for a message that shows the
 * whole string; netpold judges the address, ports and protocol. */
static int check_dest(const char *dest)
{
	struct np_dest_spec spec;
	const char *why = NULL;

	if (np_dest_spec_parse(dest, &spec, &why) < 0)
		return fail(-EINVAL, "netpolctl.InvalidArgument", "invalid destination '%s': %s", dest, why);
	return 0;
}

static int add_rule(int argc, char **argv, const char *action)
{
	int r = parse_verb(argc, argv, common_options);
	int i = r;

	if (r < 0)
		return r;
	r = check_dest(argv[i + 1]);
	if (r < 0)
		return r;
	return simple(NP_CMD_RULE_ADD,
		      pack("{s:s, s:s, s:s}", "policy", argv[i], "action", action, "dest", argv[i + 1]),
		      print_rule_added);
}

static int verb_allow(int argc, char **argv)
{
	return add_rule(argc, argv, "allow");
}

static int verb_deny(int argc, char **argv)
{
	return add_rule(argc, argv, "deny");
}

static int verb_remove_rule(int argc, char **argv)
{
	unsigned long index;
	char *end;
	int r = parse_verb(argc, argv, common_options);

	if (r < 0)
		return r;
	errno = 0;
	index = strtoul(argv[r + 1], &end, 10);
	if (errno || end == argv[r + 1] || *end || argv[r + 1][0] == '-' || index > 65535)
		return usage_error("invalid rule index '%s'", argv[r + 1]);
	return simple(NP_CMD_RULE_REMOVE, pack("{s:s, s:I}", "policy", argv[r], "index", (json_int_t)index),
		      print_nothing);
}

static int verb_test(int argc, char **argv)
{
	int r = parse_verb(argc, argv, common_options);
	const char *what, *dest;

	if (r < 0)
		return r;
	what = argv[r];
	dest = argv[r + 1];
	r = check_dest(dest);
	if (r < 0)
		return r;
	/* Policy names never contain ':'. A bare word could be a policy or a
	 * container: it is a policy, as it always was; a container here is
	 * "container:NAME". */
	return simple(NP_CMD_TEST,
		      pack("{s:s, s:s}", strchr(what, ':') ? "target" : "policy", what, "dest", dest),
		      print_test);
}

static volatile int follow_fd = -1;

static void on_interrupt(int sig)
{
	interrupted = 1;
	/* A signal between two reads would leave the next one blocked until
	 * another event: ending the stream wakes it whenever it comes. */
	if (follow_fd >= 0)
		(void)shutdown(follow_fd, SHUT_RD);
}

/* Ctrl-C ends a --follow cleanly: the blocked read returns EINTR, or the
 * stream ends. */
static void catch_interrupt(void)
{
	struct sigaction sa = {.sa_handler = on_interrupt};

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGTERM, &sa, NULL);
}

/* One stream line; >0 when the stream should end. */
static int print_stream_line(json_t *msg)
{
	json_t *event = json_object_get(msg, "event");
	json_t *missed = json_object_get(msg, "missed");

	if (json_object_get(msg, "ok"))
		return json_is_true(json_object_get(msg, "ok")) ? 0
								: fail_remote(json_object_get(msg, "error"));
	if (arg_output.json) {
		_cleanup_(json_decrefp) json_t *out =
		    event ? json_pack("{s:O}", "event", event)
			  : json_pack("{s:O}", "missed", missed ?: json_null());

		return out ? print_json(out) : -ENOMEM;
	}
	if (event) {
		_cleanup_free_ char *line = format_violation(event);

		printf("%s\n", line ?: "?");
	} else if (missed)
		printf("missed %" JSON_INTEGER_FORMAT " events (netpolctl read too slowly)\n",
		       json_integer_value(missed));
	return 0;
}

static int follow(void)
{
	/* A stream is quiet for as long as nothing happens. */
	np_conn_set_deadline(conn, 0);
	follow_fd = np_conn_fd(conn);
	for (;;) {
		_cleanup_(json_decrefp) json_t *msg = NULL;
		int r;

		r = flush_stdout();
		if (r < 0)
			return fail(r, "netpolctl.Output", "cannot write the output: %s", strerror(-r));
		r = np_conn_recv(conn, &msg);
		if (r < 0 && interrupted)
			return 0;
		if (r < 0)
			return fail_recv(r);
		r = print_stream_line(msg);
		if (r < 0)
			return r;
	}
}

static int verb_violations(int argc, char **argv)
{
	static const struct option opts[] = {
	    COMMON_OPTIONS,
	    {"follow", no_argument, NULL, OPT_FOLLOW},
	    {"since", required_argument, NULL, OPT_SINCE},
	    {"target", required_argument, NULL, OPT_TARGET},
	    {},
	};
	json_t *params, *result;
	int r = parse_verb(argc, argv, opts);

	if (r < 0)
		return r;
	params = json_object();
	if (arg_since_set)
		json_object_set_new(params, "since", json_integer(arg_since));
	if (arg_target)
		json_object_set_new(params, "target", json_string(arg_target));
	if (arg_follow) {
		json_object_set_new(params, "follow", json_true());
		catch_interrupt();
	}
	if (!arg_follow)
		return simple(NP_CMD_VIOLATIONS, params, print_violations);
	r = call(NP_CMD_VIOLATIONS, params, &result);
	if (r < 0)
		return r;
	r = finish(result, print_nothing);
	if (r < 0)
		return r;
	return follow();
}

static int verb_stats(int argc, char **argv)
{
	static const struct option opts[] = {
	    COMMON_OPTIONS,
	    {"target", required_argument, NULL, OPT_TARGET},
	    {"reset", no_argument, NULL, OPT_RESET},
	    {},
	};
	json_t *params;
	int r = parse_verb(argc, argv, opts);

	if (r < 0)
		return r;
	params = json_object();
	if (arg_target)
		json_object_set_new(params, "target", json_string(arg_target));
	if (arg_reset)
		json_object_set_new(params, "reset", json_true());
	return simple(NP_CMD_STATS, params, print_stats);
}

/* teardown --forget: the gates of the services that were bound. */
static void print_gates(json_t *result)
{
	json_t *removed = json_object_get(result, "gates_removed");
	json_int_t left = json_integer_value(json_object_get(result, "gates_left"));

	if (json_integer_value(removed) > 0)
		printf("Removed the gates (drop-ins in /etc/systemd/system) of %lld service(s) that were "
		       "bound%s\n",
		       (long long)json_integer_value(removed),
		       json_is_true(json_object_get(result, "daemon_reload_needed"))
			   ? ", but systemd did not reload: they apply until 'systemctl daemon-reload'."
			   : ": they start unpoliced.");
	if (left > 0)
		printf("%lld gate(s) could not be removed (see netpold's log): those services fail to start "
		       "while netpold is not there.\n",
		       (long long)left);
}

/* What teardown did, and what comes next: the saved state decides what a
 * later start enforces. */
static int print_teardown(json_t *result)
{
	_cleanup_free_ char *cgroup = value_text(json_object_get(result, "attach_cgroup"));
	_cleanup_free_ char *pins = value_text(json_object_get(result, "pin_dir"));
	_cleanup_free_ char *state = value_text(json_object_get(result, "state_dir"));

	printf("netpold detached its programs from %s, removed its pins in %s and exited.\n"
	       "No policy is enforced now.\n",
	       cgroup, pins);
	if (arg_forget && json_is_true(json_object_get(result, "bindings_forgotten"))) {
		printf("The saved bindings are removed: netpold binds nothing when it starts again (the "
		       "policies in %s are kept).\n",
		       state);
		print_gates(result);
	} else {
		if (arg_forget)
			printf("The saved bindings could not be removed (see netpold's log).\n");
		printf("The saved policies and bindings in %s are kept: netpold applies them again when it "
		       "starts (at boot, or when its socket is used).\n",
		       state);
	}
	printf("Under systemd, keep it off with: systemctl disable --now netpold.socket netpold.service\n");
	return 0;
}

/* Explicit: --yes, or "yes" typed on a terminal. Anything else changes
 * nothing, and netpold is not even asked. */
static int confirm_teardown(void)
{
	char line[16];

	if (arg_yes)
		return 0;
	if (!isatty(STDIN_FILENO))
		return fail(-ECANCELED, "netpolctl.NotConfirmed",
			    "teardown detaches netpol's programs and removes its pins, so that no policy is "
			    "enforced: confirm with --yes (nothing was changed)");
	fprintf(stderr, "This detaches netpol's programs and removes its pins: no policy is enforced "
			"until netpold starts again.\nType 'yes' to tear down: ");
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "yes\n") != 0)
		return fail(-ECANCELED, "netpolctl.NotConfirmed",
			    "teardown not confirmed: nothing was changed");
	return 0;
}

static int verb_teardown(int argc, char **argv)
{
	static const struct option opts[] = {
	    COMMON_OPTIONS,
	    {"yes", no_argument, NULL, OPT_YES},
	    {"forget", no_argument, NULL, OPT_FORGET},
	    {},
	};
	int r = parse_verb(argc, argv, opts);

	if (r < 0)
		return r;
	r = confirm_teardown();
	if (r < 0)
		return r;
	r = open_conn();
	if (r == -ENOENT || r == -ECONNREFUSED)
		return fail(
		    r, "netpolctl.CannotConnect",
		    "cannot connect to netpold at %s: %s. If netpold is stopped, its programs stay "
		    "attached through their pins: remove them with 'netpold --teardown' (as root, with "
		    "netpold's --bpffs if it is not the default)",
		    arg_socket, strerror(-r));
	if (r < 0)
		return fail_connect(r);
	return simple(NP_CMD_TEARDOWN, arg_forget ? pack("{s:b}", "forget", 1) : NULL, print_teardown);
}

/* clang-format off */
static const struct verb verbs[] = {
	{"status", verb_status, 0, 0, "status", "Show netpold's state: version, pins, counts, programs."},
	{"reload", verb_reload, 0, 0, "reload",
	 "Make netpold read its configuration again; fails, naming file, line and\n"
	 "key, if it is wrong (the previous one stays). systemctl reload netpold\n"
	 "runs this."},
	{"policy", verb_policy, 1, 64, "policy list|show|add|update|delete ...",
	 "Manage policies (netpolctl policy --help)."},
	{"apply", verb_apply, 2, 2, "apply TARGET POLICY",
	 "Bind POLICY to TARGET (a cgroup or a container), replacing its binding.\n"
	 "TARGET is cgroup:/path (below the attach cgroup) or a container:\n"
	 "container:NAME, or its name, id or short id alone. An applied binding wins\n"
	 "over the container's label."},
	{"unbind", verb_unbind, 1, 1, "unbind TARGET", "Remove TARGET's binding (TARGET as for apply)."},
	{"bindings", verb_bindings, 0, 0, "bindings",
	 "List the bindings; a container by its name, short id and image.\n"
	 "A binding's warnings are printed under it, the container sources'\n"
	 "problems after the table."},
	{"allow", verb_allow, 2, 2, "allow POLICY DEST",
	 "Append an allow rule to POLICY. DEST is ADDRESS-OR-CIDR-OR-ENTITY[:PORTS][/PROTOCOL],\n"
	 "e.g. 10.0.0.0/8:5432/tcp, [2001:db8::1]:443, any:53/udp, private."},
	{"deny", verb_deny, 2, 2, "deny POLICY DEST", "Append a deny rule to POLICY (DEST as for allow)."},
	{"remove-rule", verb_remove_rule, 2, 2, "remove-rule POLICY N",
	 "Remove rule N (0-based, the index in 'policy show') from POLICY."},
	{"test", verb_test, 2, 2, "test TARGET|POLICY DEST",
	 "Say what the kernel would decide for one destination (one address, one port;\n"
	 "protocol tcp unless given): the verdict, the policy and the deciding rule.\n"
	 "A word without ':' is a policy: name a container as container:NAME here."},
	{"violations", verb_violations, 0, 0, "violations [--follow] [--since T] [--target TARGET]",
	 "List denied (and audited) connections, each with its process and program;\n"
	 "one process's repeats within a second are folded into one line.\n"
	 "  --follow      keep printing new violations until interrupted\n"
	 "  --since T     only since T: 30s, 10m, 2h, 1d ago, an epoch, or RFC 3339\n"
	 "  --target T    only those of one target (cgroup:/path, container:NAME, NAME)"},
	{"stats", verb_stats, 0, 0, "stats [--target TARGET] [--reset]",
	 "Allowed and denied counts per target, destination, port and protocol.\n"
	 "  --target T    only one target (as for violations)\n"
	 "  --reset       clear the counters shown (needs write privilege)"},
	{"teardown", verb_teardown, 0, 0, "teardown [--yes] [--forget]",
	 "Switch netpol off: detach its programs and remove its pins.\n"
	 "netpold does it and exits; no policy is enforced afterwards ('systemctl\n"
	 "stop netpold' keeps enforcing). Asks for 'yes' on a terminal, elsewhere\n"
	 "needs --yes. The saved policies and bindings are kept for the next start.\n"
	 "  --yes         do not ask\n"
	 "  --forget      also remove the saved bindings: the next start binds nothing;\n"
	 "                and the gates (drop-ins) of bound services, which then start\n"
	 "                unpoliced without netpold\n"
	 "With netpold stopped: netpold --teardown (as root)."},
	{},
};
/* clang-format on */

/* ---- main ---- */

static const struct verb *find_verb(const struct verb *table, const char *name)
{
	const struct verb *found = NULL;
	size_t n = strlen(name);

	for (const struct verb *v = table; v->name; v++) {
		if (!strcmp(v->name, name))
			return v;
		if (n > 0 && !strncmp(v->name, name, n)) {
			if (found)
				return NULL; /* ambiguous prefix */
			found = v;
		}
	}
	return found;
}

static int dispatch(const struct verb *table, const char *prefix, int argc, char **argv)
{
	const struct verb *v;

	if (argc < 1)
		return fail(-EINVAL, "netpolctl.InvalidArgument",
			    "missing %scommand (see netpolctl %s--help)", *prefix ? "policy sub" : "",
			    prefix);
	v = find_verb(table, argv[0]);
	if (!v)
		return fail(-EINVAL, "netpolctl.InvalidArgument",
			    "unknown or ambiguous command '%s%s' (see netpolctl %s--help)", prefix, argv[0],
			    prefix);
	arg_verb = v;
	arg_verb_prefix = prefix;
	return v->run(argc, argv);
}

static void print_verb_line(const struct verb *v)
{
	int n = (int)strcspn(v->help, "\n");

	if (strlen(v->usage) > 32)
		printf("  %s\n  %-32s %.*s\n", v->usage, "", n, v->help);
	else
		printf("  %-32s %.*s\n", v->usage, n, v->help);
}

static void print_help(void)
{
	printf("Usage: netpolctl [OPTIONS] COMMAND [ARGS...]\n\n"
	       "Control netpold, the per-cgroup (per-container) network egress firewall.\n\nCommands:\n");
	for (const struct verb *v = verbs; v->name; v++) {
		if (v->run == verb_policy) {
			for (const struct verb *p = policy_verbs; p->name; p++)
				print_verb_line(p);
			continue;
		}
		print_verb_line(v);
	}
	printf("\nOptions:\n"
	       "      --socket PATH   netpold's socket (default $NETPOL_SOCKET or %s)\n"
	       "  -j, --json          print JSON only: the result, or {\"error\": {...}}\n"
	       "      --pretty        indented JSON (implies --json)\n"
	       "      --timeout SECS  give up when netpold has not answered after SECS\n"
	       "                      (default %d; 0: wait for ever; exit status %d)\n"
	       "  -h, --help          this help; COMMAND --help for one command\n"
	       "  -V, --version       print the version\n\n"
	       "See netpolctl(1) (docs/netpolctl.md) and docs/protocol.md.\n",
	       NP_SOCKET_PATH_DEFAULT, TIMEOUT_DEFAULT_SEC, EXIT_TIMEOUT);
}

static int parse_global(int argc, char **argv)
{
	static const struct option opts[] = {COMMON_OPTIONS, {"version", no_argument, NULL, 'V'}, {}};
	static const struct verb global = {"", NULL, 0, 0, "COMMAND ...", ""};
	int c;

	arg_verb = &global;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:hjV", opts, NULL)) >= 0)
		switch (c) {
		case 'h':
			print_help();
			exit(EXIT_SUCCESS);
		case 'V':
			printf("netpolctl %s (protocol %d)\n", NETPOL_VERSION, NP_PROTO_VERSION);
			exit(EXIT_SUCCESS);
		case '?':
		case ':':
			return fail(-EINVAL, "netpolctl.InvalidArgument",
				    "%s option '%s' (see netpolctl --help)",
				    c == '?' ? "unknown" : "missing value for", argv[optind - 1]);
		default:
			if (verb_option(c, optarg) < 0)
				return -EINVAL;
		}
	return optind;
}

int main(int argc, char **argv)
{
	const char *env = getenv("NETPOL_SOCKET");
	int r;

	if (env && *env)
		arg_socket = env;
	r = parse_global(argc, argv);
	if (r >= 0)
		r = dispatch(verbs, "", argc - r, argv + r);
	conn = np_conn_free(conn);
	if (timed_out)
		return EXIT_TIMEOUT;
	return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
