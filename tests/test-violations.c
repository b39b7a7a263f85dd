/* SPDX-License-Identifier: GPL-2.0-only */
/* Violation folding (daemon/violations.c) on a real sd-event loop, fed with
 * made-up ring-buffer events: repeats folded with their count, what
 * followers are sent and when, the bounded history, the log and the JSON
 * form. Events mostly carry timestamps 100 s in the past, so their folding
 * windows are over when the loop runs; only test_timer() waits, for two
 * live windows (1.3 s). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "log.h"
#include "violations.h"

#include "unit-check.h"

#define SEC 1000000000ull

/* What the ops saw. */
struct seen {
	json_t *published; /* the JSON of every publish(), in order */
	unsigned target_calls;
	bool target_oom; /* target_name() fails */
};

static char *target_name(void *userdata, uint64_t cgroup_id)
{
	struct seen *s = userdata;
	char *t;

	s->target_calls++;
	if (s->target_oom || asprintf(&t, "cgroup:/c%llu", (unsigned long long)cgroup_id) < 0)
		return NULL;
	return t;
}

static const char *policy_name(void *userdata, uint32_t policy_id)
{
	return policy_id == 7 ? "web" : NULL;
}

static void on_publish(void *userdata, const struct violation *v, json_t *json)
{
	struct seen *s = userdata;

	if (json_array_append(s->published, json) < 0)
		abort();
}

static const struct violations_ops ops = {
    .target_name = target_name,
    .policy_name = policy_name,
    .publish = on_publish,
};

static uint64_t mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

struct fixture {
	sd_event *event;
	struct violations *vs;
	struct seen seen;
	uint64_t t0; /* CLOCK_MONOTONIC ns, 100 s ago */
};

static void setup(struct fixture *f)
{
	*f = (struct fixture){};
	f->seen.published = json_array();
	if (!f->seen.published || sd_event_new(&f->event) < 0 ||
	    violations_new(f->event, &ops, &f->seen, &f->vs) < 0)
		abort();
	f->t0 = mono_now() - 100 * SEC;
}

static void teardown(struct fixture *f)
{
	violations_free(f->vs);
	sd_event_unref(f->event);
	json_decref(f->seen.published);
}

/* Runs what is due now: windows that ended get closed. */
static void run_loop(struct fixture *f)
{
	for (int i = 0; i < 100 && sd_event_run(f->event, 0) > 0; i++)
		;
}

/* A denied TCP connection to 203.0.113.1:443 from cgroup 1000, policy 7. */
static struct np_event event_at(uint64_t ts_ns)
{
	struct np_event ev = {
	    .ts_ns = ts_ns,
	    .cgroup_id = 1000,
	    .pid = 42,
	    .comm = "curl",
	    .thread = "curl",
	    .addr = {[10] = 0xff, [11] = 0xff, [12] = 203, [13] = 0, [14] = 113, [15] = 1},
	    .policy_id = 7,
	    .port = 443,
	    .rule = 2,
	    .hook = NP_HOOK_CONNECT4,
	    .proto = 6,
	    .verdict = NP_VERDICT_DENY,
	    .family = AF_INET,
	    .reason = NP_REASON_RULES,
	};
	return ev;
}

static void feed(struct fixture *f, struct np_event ev)
{
	violations_on_event(&ev, f->vs);
}

/* The history, oldest first. */
struct collected {
	const struct violation *v[VIOLATIONS_MAX];
	size_t n;
};

static int collect_cb(const struct violation *v, void *userdata)
{
	struct collected *c = userdata;

	if (c->n >= VIOLATIONS_MAX)
		return -ENOSPC;
	c->v[c->n++] = v;
	return 0;
}

static size_t collect(struct fixture *f, struct collected *c)
{
	c->n = 0;
	CHECK(violations_foreach(f->vs, collect_cb, c) == 0);
	return c->n;
}

static json_int_t published_count(struct fixture *f, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(f->seen.published, i), "count"));
}

static void test_fold_and_publish(void)
{
	static struct collected c;
	struct fixture f;

	setup(&f);
	feed(&f, event_at(f.t0));
	/* followers get the first occurrence at once, with count 1 */
	CHECK(json_array_size(f.seen.published) == 1 && published_count(&f, 0) == 1);

	feed(&f, event_at(f.t0 + SEC / 10));
	feed(&f, event_at(f.t0 + SEC - 1)); /* the last nanosecond of the window */
	/* out of order (events from several CPUs): folds, last_ns stays */
	feed(&f, event_at(f.t0 - SEC / 2));
	CHECK(violations_total(f.vs) == 1);
	CHECK(collect(&f, &c) == 1);
	CHECK(c.v[0]->count == 4);
	CHECK(c.v[0]->first_ns == f.t0 && c.v[0]->last_ns == f.t0 + SEC - 1);
	/* repeats wait for the window to close */
	CHECK(json_array_size(f.seen.published) == 1);

	/* one second after the first, a new violation (window is [t0, t0 + 1 s)) */
	feed(&f, event_at(f.t0 + SEC));
	CHECK(violations_total(f.vs) == 2);
	CHECK(json_array_size(f.seen.published) == 2 && published_count(&f, 1) == 1);

	run_loop(&f);
	/* the first window closed: its 3 repeats as one event, after which
	 * the second's window closed with no repeat: nothing more */
	CHECKF(json_array_size(f.seen.published) == 3, "published %zu", json_array_size(f.seen.published));
	CHECK(published_count(&f, 2) == 3);
	CHECK(collect(&f, &c) == 2 && c.v[0]->count == 4 && c.v[1]->count == 1);

	/* a closed window takes no more repeats, even one inside its second */
	feed(&f, event_at(f.t0 + SEC + 1));
	CHECK(violations_total(f.vs) == 3);
	run_loop(&f);
	CHECK(json_array_size(f.seen.published) == 4);
	teardown(&f);
}

/* Runs the loop until n events were published (at most 5 s): when. */
static uint64_t wait_published(struct fixture *f, size_t n)
{
	uint64_t deadline = mono_now() + 5 * SEC;

	while (json_array_size(f->seen.published) < n && mono_now() < deadline)
		if (sd_event_run(f->event, 5000000) < 0)
			break;
	CHECKF(json_array_size(f->seen.published) == n, "published %zu within 5 s, want %zu",
	       json_array_size(f->seen.published), n);
	return mono_now();
}

/* Live events: the repeats wait for their window to end, then the timer
 * sends them with no further event to wake it, one window after the other. */
static void test_timer(void)
{
	struct fixture f;
	struct np_event b;
	uint64_t first, t;

	setup(&f);
	first = mono_now();
	feed(&f, event_at(first));
	feed(&f, event_at(first + 1000));
	feed(&f, event_at(first + 2000));
	/* a second violation, whose window ends 300 ms after the first's */
	b = event_at(first + 300000000);
	b.port = 444;
	feed(&f, b);
	b.ts_ns += 1000;
	feed(&f, b);
	run_loop(&f);
	CHECK(json_array_size(f.seen.published) == 2);

	t = wait_published(&f, 3);
	CHECKF(t >= first + VIOLATIONS_FOLD_NS, "first closed %lld ns early",
	       (long long)(first + VIOLATIONS_FOLD_NS - t));
	CHECK(published_count(&f, 2) == 2 &&
	      json_integer_value(json_object_get(json_array_get(f.seen.published, 2), "port")) == 443);
	t = wait_published(&f, 4);
	CHECKF(t >= first + 300000000 + VIOLATIONS_FOLD_NS, "second closed %lld ns early",
	       (long long)(first + 300000000 + VIOLATIONS_FOLD_NS - t));
	CHECK(published_count(&f, 3) == 1 &&
	      json_integer_value(json_object_get(json_array_get(f.seen.published, 3), "port")) == 444);
	teardown(&f);
}

/* Each part of the key (cgroup, address, port, protocol, verdict, reason,
 * pid, program) makes a violation of its own: another process's attempts
 * are never hidden in the first one's count. The rest (thread, hook, rule,
 * policy) is the first event's. */
static void test_key(void)
{
	static struct collected c;
	struct fixture f;
	struct np_event ev;

	setup(&f);
	feed(&f, event_at(f.t0));
	ev = event_at(f.t0);
	ev.cgroup_id = 1001;
	feed(&f, ev);
	ev = event_at(f.t0);
	ev.addr[15] = 2;
	feed(&f, ev);
	ev = event_at(f.t0);
	ev.port = 444;
	feed(&f, ev);
	ev = event_at(f.t0);
	ev.proto = 17;
	feed(&f, ev);
	ev = event_at(f.t0);
	ev.verdict = NP_VERDICT_AUDIT;
	feed(&f, ev);
	ev = event_at(f.t0);
	ev.reason = NP_REASON_SOURCE_ROUTE;
	feed(&f, ev);
	/* another process, and a reused pid running another program */
	ev = event_at(f.t0);
	ev.pid = 43;
	feed(&f, ev);
	ev = event_at(f.t0);
	strcpy(ev.comm, "wget");
	feed(&f, ev);
	CHECK(violations_total(f.vs) == 9);

	ev = event_at(f.t0 + 1);
	strcpy(ev.thread, "curl-worker");
	ev.hook = NP_HOOK_SENDMSG4;
	ev.rule = 3;
	ev.policy_id = 8;
	feed(&f, ev);
	CHECK(violations_total(f.vs) == 9);
	CHECK(collect(&f, &c) == 9);
	CHECK(c.v[0]->count == 2);
	CHECK(c.v[0]->pid == 42 && strcmp(c.v[0]->comm, "curl") == 0 && c.v[0]->hook == NP_HOOK_CONNECT4);
	CHECK(strcmp(c.v[0]->thread, "curl") == 0);
	CHECK(c.v[0]->rule == 2 && c.v[0]->policy_id == 7 && strcmp(c.v[0]->policy, "web") == 0);
	for (size_t i = 1; i < c.n; i++)
		CHECKF(c.v[i]->count == 1, "violation %zu: count %llu", i, (unsigned long long)c.v[i]->count);
	CHECK(c.n == 9 && c.v[7]->pid == 43 && strcmp(c.v[7]->comm, "curl") == 0);
	CHECK(c.n == 9 && c.v[8]->pid == 42 && strcmp(c.v[8]->comm, "wget") == 0);
	teardown(&f);
}

/* Two events that differ in one part of the key never fold, also when their
 * fold slots lie within one probe: among 2000 such pairs some do, for
 * cgroup, address, port, protocol and program (the hash alone keeps a
 * verdict, reason or pid apart; same_key() is what keeps the others apart). */
static void vary_cgroup(struct np_event *ev)
{
	ev->cgroup_id++;
}

static void vary_addr(struct np_event *ev)
{
	ev->addr[12]++;
}

static void vary_port(struct np_event *ev)
{
	ev->port = 9;
}

static void vary_proto(struct np_event *ev)
{
	ev->proto = 17;
}

static void vary_verdict(struct np_event *ev)
{
	ev->verdict = NP_VERDICT_AUDIT;
}

static void vary_reason(struct np_event *ev)
{
	ev->reason = NP_REASON_SOURCE_ROUTE;
}

static void vary_pid(struct np_event *ev)
{
	ev->pid++;
}

static void vary_comm(struct np_event *ev)
{
	ev->comm[0] = 'C';
}

static void test_key_pairs(void)
{
	enum { PAIRS = 2000 };
	static const struct {
		const char *part;
		void (*vary)(struct np_event *ev);
	} parts[] = {
	    {"cgroup", vary_cgroup},   {"addr", vary_addr},	{"port", vary_port}, {"proto", vary_proto},
	    {"verdict", vary_verdict}, {"reason", vary_reason}, {"pid", vary_pid},   {"comm", vary_comm},
	};

	for (size_t p = 0; p < ELEMENTSOF(parts); p++) {
		struct fixture f;

		setup(&f);
		for (unsigned i = 0; i < PAIRS; i++) {
			struct np_event ev = event_at(f.t0);

			/* the rest of the key differs between pairs */
			if (parts[p].vary == vary_port) {
				ev.addr[14] = (uint8_t)(i >> 8);
				ev.addr[15] = (uint8_t)i;
			} else
				ev.port = (uint16_t)(1000 + i);
			feed(&f, ev);
			parts[p].vary(&ev);
			feed(&f, ev);
		}
		CHECKF(violations_total(f.vs) == 2 * PAIRS, "varying %s: %llu violations, want %d",
		       parts[p].part, (unsigned long long)violations_total(f.vs), 2 * PAIRS);
		teardown(&f);
	}
}

/* Many keys open at once, their repeats interleaved: some of them share a
 * fold slot, and each must still fold into its own violation. */
static void test_many_open(void)
{
	enum { N = 1000 };
	static struct collected c;
	struct fixture f;
	bool all_two = true;

	setup(&f);
	for (int round = 0; round < 2; round++)
		for (unsigned i = 0; i < N; i++) {
			struct np_event ev = event_at(f.t0 + round);

			ev.addr[14] = (uint8_t)(i >> 8);
			ev.addr[15] = (uint8_t)i;
			feed(&f, ev);
		}
	CHECKF(violations_total(f.vs) == N, "%llu violations, want %d",
	       (unsigned long long)violations_total(f.vs), N);
	collect(&f, &c);
	for (size_t i = 0; i < c.n; i++)
		all_two &= c.v[i]->count == 2;
	CHECK(all_two);
	teardown(&f);
}

/* The history keeps the last VIOLATIONS_MAX; the one pushed out is closed
 * first, so its repeats still reach the followers. */
static void test_bounded(void)
{
	static struct collected c;
	struct fixture f;
	bool ordered = true;

	setup(&f);
	feed(&f, event_at(f.t0));
	feed(&f, event_at(f.t0 + 1));
	feed(&f, event_at(f.t0 + 2));
	for (unsigned i = 1; i < VIOLATIONS_MAX + 10; i++) {
		struct np_event ev = event_at(f.t0);

		ev.port = (uint16_t)(1 + i % 60000);
		ev.cgroup_id = 1000 + i / 60000 + 1;
		feed(&f, ev);
	}
	CHECK(violations_total(f.vs) == VIOLATIONS_MAX + 10);
	CHECK(collect(&f, &c) == VIOLATIONS_MAX);
	CHECKF(c.v[0]->seq == 10, "oldest kept: seq %llu, want 10", (unsigned long long)c.v[0]->seq);
	for (size_t i = 1; i < c.n; i++)
		ordered &= c.v[i]->seq == c.v[i - 1]->seq + 1;
	CHECK(ordered);
	CHECK(c.v[c.n - 1]->seq == VIOLATIONS_MAX + 9);
	/* VIOLATIONS_MAX + 10 first occurrences, and the 2 repeats of the
	 * first violation, sent when it was pushed out (before the loop ran) */
	CHECKF(json_array_size(f.seen.published) == VIOLATIONS_MAX + 11, "published %zu",
	       json_array_size(f.seen.published));
	CHECK(published_count(&f, VIOLATIONS_MAX) == 2 &&
	      json_integer_value(json_object_get(json_array_get(f.seen.published, VIOLATIONS_MAX), "port")) ==
		  443);
	run_loop(&f);
	CHECK(json_array_size(f.seen.published) == VIOLATIONS_MAX + 11);
	teardown(&f);
}

static void test_json(void)
{
	static struct collected c;
	_cleanup_(json_decrefp) json_t *j = NULL, *k = NULL;
	struct fixture f;
	struct np_event ev;
	char want_time[40];

	setup(&f);
	ev = event_at(f.t0);
	ev.rule = NP_CELL_RULE_DEFAULT;
	memcpy(ev.comm, "a-very-long-command-name", sizeof(ev.comm)); /* no NUL in 16 bytes */
	feed(&f, ev);
	feed(&f, ev);
	CHECK(f.seen.target_calls == 1); /* named once, at the first event */
	CHECK(collect(&f, &c) == 1);
	j = violation_to_json(c.v[0]);
	CHECK(j != NULL);
	format_realtime(mono_to_realtime_ns(f.t0), want_time, sizeof(want_time));
	CHECK(strcmp(json_string_value(json_object_get(j, "time")), want_time) == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "target")), "cgroup:/c1000") == 0);
	CHECK(json_integer_value(json_object_get(j, "cgroup_id")) == 1000);
	CHECK(strcmp(json_string_value(json_object_get(j, "policy")), "web") == 0);
	CHECK(json_is_null(json_object_get(j, "rule_index"))); /* the default decided */
	CHECK(strcmp(json_string_value(json_object_get(j, "dest")), "203.0.113.1") == 0);
	CHECK(json_integer_value(json_object_get(j, "port")) == 443);
	CHECK(strcmp(json_string_value(json_object_get(j, "protocol")), "tcp") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "hook")), "connect4") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "verdict")), "deny") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "reason")), "policy") == 0);
	CHECK(json_integer_value(json_object_get(j, "pid")) == 42);
	CHECK(strcmp(json_string_value(json_object_get(j, "comm")), "a-very-long-com") == 0);
	CHECK(strcmp(json_string_value(json_object_get(j, "thread")), "curl") == 0);
	CHECK(json_integer_value(json_object_get(j, "count")) == 2);

	/* a socket refused at creation has no destination, an unknown policy
	 * id no name (both null), a target that could not be named is "" */
	f.seen.target_oom = true;
	ev = event_at(f.t0);
	inet_pton(AF_INET6, "2001:db8::5", ev.addr);
	ev.hook = NP_HOOK_SOCK_CREATE;
	ev.policy_id = 9;
	ev.proto = 132;
	ev.verdict = NP_VERDICT_AUDIT;
	ev.reason = NP_REASON_SOURCE_ROUTE;
	feed(&f, ev);
	CHECK(collect(&f, &c) == 2);
	k = violation_to_json(c.v[1]);
	CHECK(k != NULL);
	CHECK(json_is_null(json_object_get(k, "dest")) && json_is_null(json_object_get(k, "policy")));
	CHECK(strcmp(json_string_value(json_object_get(k, "target")), "") == 0);
	CHECK(json_integer_value(json_object_get(k, "rule_index")) == 2);
	CHECK(strcmp(json_string_value(json_object_get(k, "protocol")), "132") == 0);
	CHECK(strcmp(json_string_value(json_object_get(k, "hook")), "sock_create") == 0);
	CHECK(strcmp(json_string_value(json_object_get(k, "verdict")), "audit") == 0);
	CHECK(strcmp(json_string_value(json_object_get(k, "reason")), "source-route") == 0);
	json_decref(k);

	/* a program names itself as it likes: invalid UTF-8, terminal escapes */
	ev = event_at(f.t0);
	ev.port = 7;
	memcpy(ev.comm, "\xff\x1b[2Jevil", sizeof("\xff\x1b[2Jevil"));
	memcpy(ev.thread, "t\x7f\xc3", sizeof("t\x7f\xc3"));
	feed(&f, ev);
	CHECK(collect(&f, &c) == 3);
	k = violation_to_json(c.v[2]);
	CHECK(k != NULL);
	CHECK(k && strcmp(json_string_value(json_object_get(k, "comm")), "??[2Jevil") == 0);
	CHECK(k && strcmp(json_string_value(json_object_get(k, "thread")), "t??") == 0);
	teardown(&f);
}

/* Everything written to stderr while fn runs. */
static void capture_stderr(void (*fn)(void), char *buf, size_t size)
{
	int saved = dup(STDERR_FILENO), fd = memfd_create("stderr", MFD_CLOEXEC);
	ssize_t n;

	if (saved < 0 || fd < 0 || dup2(fd, STDERR_FILENO) < 0)
		abort();
	fn();
	if (dup2(saved, STDERR_FILENO) < 0)
		abort();
	close(saved);
	n = pread(fd, buf, size - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

static unsigned count_lines(const char *s, const char *needle)
{
	unsigned n = 0;

	for (const char *p = s; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

static struct fixture log_fixture;

static void log_first(void)
{
	struct fixture *f = &log_fixture;
	struct np_event ev = event_at(f->t0);

	feed(f, ev);
	feed(f, event_at(f->t0 + 1));
	feed(f, event_at(f->t0 + 2));
	/* what a policy that logs everything lets through: debug only */
	ev.port = 80;
	ev.verdict = NP_VERDICT_ALLOW;
	feed(f, ev);
	ev = event_at(f->t0);
	ev.port = 81;
	ev.reason = NP_REASON_SOURCE_ROUTE;
	feed(f, ev);
}

static void log_burst(void)
{
	struct fixture *f = &log_fixture;

	run_loop(f);
	for (unsigned i = 0; i < 15; i++) {
		struct np_event ev = event_at(f->t0);

		ev.port = (uint16_t)(1000 + i);
		feed(f, ev);
	}
	run_loop(f);
}

/* The log gets each violation once, when its window closes, with its count;
 * at most 10 a minute at info, the rest count into a summary (written a
 * minute later: not waited for here). */
static void test_log(void)
{
	static char buf[65536];

	log_setup(LOG_TARGET_STDERR);
	log_set_max_level(LOG_INFO);
	setup(&log_fixture);
	capture_stderr(log_first, buf, sizeof(buf));
	CHECKF(buf[0] == '\0', "logged before the window closed: %s", buf);
	capture_stderr(log_burst, buf, sizeof(buf));
	CHECK(count_lines(
		  buf, "deny 203.0.113.1:443/tcp from cgroup:/c1000 (pid 42, 'curl', policy 'web') x3\n") ==
	      1);
	CHECK(count_lines(buf, "deny 203.0.113.1:81/tcp from cgroup:/c1000 (pid 42, 'curl', policy 'web', "
			       "source-routed) x1\n") == 1);
	CHECK(count_lines(buf, ":80/") == 0);
	CHECKF(count_lines(buf, "netpold[") == 10, "%u lines at info, want 10:\n%s",
	       count_lines(buf, "netpold["), buf);
	CHECK(count_lines(buf, "deny 203.0.113.1:1007/tcp") == 1 && count_lines(buf, ":1008/tcp") == 0);
	teardown(&log_fixture);
	log_set_max_level(LOG_WARNING);
}

static void test_names_and_time(void)
{
	char buf[8], t[40];
	struct timespec mono, real;
	uint64_t r, want;

	CHECK(strcmp(ip_proto_name(6, buf), "tcp") == 0);
	CHECK(strcmp(ip_proto_name(17, buf), "udp") == 0);
	CHECK(strcmp(ip_proto_name(1, buf), "icmp") == 0);
	CHECK(strcmp(ip_proto_name(58, buf), "icmpv6") == 0);
	CHECK(strcmp(ip_proto_name(136, buf), "udplite") == 0);
	CHECK(strcmp(ip_proto_name(255, buf), "255") == 0);
	CHECK(strcmp(hook_name(NP_HOOK_CONNECT6), "connect6") == 0);
	CHECK(strcmp(hook_name(NP_HOOK_EGRESS), "egress") == 0);
	CHECK(strcmp(hook_name(0), "unknown") == 0);
	CHECK(strcmp(hook_name(200), "unknown") == 0);
	CHECK(strcmp(reason_name(NP_REASON_RULES), "policy") == 0);

	format_realtime(1735787045678999999ull, t, sizeof(t));
	CHECKF(strcmp(t, "2025-01-02T03:04:05.678Z") == 0, "got %s", t);
	format_realtime(0, t, sizeof(t));
	CHECKF(strcmp(t, "1970-01-01T00:00:00.000Z") == 0, "got %s", t);

	/* the offset was measured by violations_new() (an earlier test) */
	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	r = mono_to_realtime_ns((uint64_t)mono.tv_sec * SEC + (uint64_t)mono.tv_nsec);
	want = (uint64_t)real.tv_sec * SEC + (uint64_t)real.tv_nsec;
	CHECKF(r + SEC / 10 > want && r < want + SEC / 10, "mono_to_realtime_ns: %llu, want about %llu",
	       (unsigned long long)r, (unsigned long long)want);
}

int main(void)
{
	/* log_violation() writes each closed violation: not what is tested */
	log_set_max_level(LOG_WARNING);
	test_fold_and_publish();
	test_timer();
	test_key();
	test_key_pairs();
	test_many_open();
	test_bounded();
	test_json();
	test_log();
	test_names_and_time();
	printf("test-violations: %u passed, %u failed\n", n_pass, n_fail);
	return n_fail ? 1 : 0;
}
