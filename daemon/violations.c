/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cleanup-util.h"
#include "log.h"
#include "policy.h"
#include "violations.h"

/* Open addressing over FOLD_PROBE neighbouring slots: two keys that hash
 * alike each keep their own open violation. (Direct-mapped, two such keys
 * evicted each other on every event and started a new violation each time.)
 * A key is always compared in full, so a miss costs a fold, never a wrong one. */
#define FOLD_SLOTS 8192
#define FOLD_PROBE 8
/* At most this many violations per minute are logged one by one at info;
 * the rest are counted into a summary. */
#define LOG_BURST	10
#define LOG_PERIOD_USEC (60ull * 1000000)

struct violations {
	sd_event *event;
	const struct violations_ops *ops;
	void *userdata;
	struct violation *ring;	   /* VIOLATIONS_MAX, ring[seq % VIOLATIONS_MAX] */
	uint64_t next_seq;	   /* seqs below it exist (or were evicted) */
	uint64_t closed_seq;	   /* seqs below it have their window closed */
	uint64_t fold[FOLD_SLOTS]; /* seq + 1, 0 = empty */
	sd_event_source *flush;
	sd_event_source *summary;
	unsigned logged;     /* logged one by one in this period */
	uint64_t suppressed; /* counted, not logged, in this period */
};

static int64_t realtime_offset_ns;

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t mono_to_realtime_ns(uint64_t mono_ns)
{
	return (uint64_t)((int64_t)mono_ns + realtime_offset_ns);
}

void format_realtime(uint64_t realtime_ns, char *buf, size_t size)
{
	time_t sec = (time_t)(realtime_ns / 1000000000ull);
	struct tm tm;
	char s[32];

	gmtime_r(&sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03uZ", s, (unsigned)(realtime_ns % 1000000000ull / 1000000));
}

const char *ip_proto_name(unsigned proto, char buf[8])
{
	switch (proto) {
	case 6:
		return "tcp";
	case 17:
		return "udp";
	case 1:
		return "icmp";
	case 58:
		return "icmpv6";
	case 136:
		return "udplite";
	default:
		snprintf(buf, 8, "%u", proto);
		return buf;
	}
}

const char *hook_name(unsigned hook)
{
	static const char *const names[] = {
	    [NP_HOOK_CONNECT4] = "connect4", [NP_HOOK_CONNECT6] = "connect6",
	    [NP_HOOK_SENDMSG4] = "sendmsg4", [NP_HOOK_SENDMSG6] = "sendmsg6",
	    [NP_HOOK_EGRESS] = "egress",     [NP_HOOK_SOCK_CREATE] = "sock_create",
	    [NP_HOOK_SOCK_OPS] = "sock_ops",
	};

	return hook < ELEMENTSOF(names) && names[hook] ? names[hook] : "unknown";
}

const char *reason_name(unsigned reason)
{
	return reason == NP_REASON_SOURCE_ROUTE ? "source-route" : "policy";
}

static const char *verdict_name(unsigned verdict)
{
	return verdict == NP_VERDICT_DENY ? "deny" : verdict == NP_VERDICT_AUDIT ? "audit" : "allow";
}

static void violation_clear(struct violation *v)
{
	free(v->target);
	*v = (struct violation){};
}

struct violations *violations_free(struct violations *vs)
{
	if (!vs)
		return NULL;
	sd_event_source_disable_unref(vs->flush);
	sd_event_source_disable_unref(vs->summary);
	if (vs->ring)
		for (size_t i = 0; i < VIOLATIONS_MAX; i++)
			free(vs->ring[i].target);
	free(vs->ring);
	sd_event_unref(vs->event);
	free(vs);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct violations *, violations_free);

json_t *violation_to_json(const struct violation *v)
{
	char time[40], dest[64], pbuf[8];

	format_realtime(mono_to_realtime_ns(v->first_ns), time, sizeof(time));
	np_addr_format(v->addr, dest, sizeof(dest));
	return json_pack("{s:s, s:s, s:I, s:s?, s:o, s:s?, s:i, s:s, s:s, s:s, s:s, s:i, s:b, s:s, s:s, s:I}",
			 "time", time, "target", v->target ?: "", "cgroup_id", (json_int_t)v->cgroup_id,
			 "policy", v->policy[0] ? v->policy : NULL, "rule_index",
			 v->rule == NP_CELL_RULE_DEFAULT ? json_null() : json_integer(v->rule), "dest",
			 v->hook == NP_HOOK_SOCK_CREATE ? NULL : dest, "port", v->port, "protocol",
			 ip_proto_name(v->proto, pbuf), "hook", hook_name(v->hook), "verdict",
			 verdict_name(v->verdict), "reason", reason_name(v->reason), "pid", (int)v->pid,
			 "pid_hidden", v->pid_hidden, "comm", v->comm, "thread", v->thread, "count",
			 (json_int_t)v->count);
}

void violation_fields_free(char **f)
{
	if (!f)
		return;
	for (char **p = f; *p; p++)
		free(*p);
	free(f);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(char **, violation_fields_free);

struct fields {
	char **f;
	size_t n;
};

static int field_add(struct fields *fs, const char *key, const char *value)
{
	char *s;

	if (fs->n >= VIOLATION_FIELDS_MAX)
		return -E2BIG;
	if (asprintf(&s, "%s=%.*s", key, VIOLATION_FIELD_VALUE_MAX, value) < 0)
		return -ENOMEM;
	log_sanitize(s);
	fs->f[fs->n++] = s;
	return 0;
}

/* A string member as a field, if it is a string, and not empty. */
static int field_str(struct fields *fs, const char *key, json_t *j)
{
	const char *s = json_string_value(j);

	return s && *s ? field_add(fs, key, s) : 0;
}

static int field_int(struct fields *fs, const char *key, json_t *j)
{
	char buf[24];

	if (!json_is_integer(j))
		return 0;
	snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	return field_add(fs, key, buf);
}

static const char *message_id(const char *verdict)
{
	if (!verdict)
		return NULL;
	if (strcmp(verdict, "deny") == 0)
		return VIOLATION_MESSAGE_DENIED;
	if (strcmp(verdict, "audit") == 0)
		return VIOLATION_MESSAGE_AUDITED;
	return strcmp(verdict, "allow") == 0 ? VIOLATION_MESSAGE_ALLOWED : NULL;
}

/* The container or unit a violation's target is: from the description a
 * source gave ("container": {"name", "id"}, "unit": {"unit"}), else from
 * the target's own name. */
static int fields_owner(struct fields *fs, json_t *v)
{
	json_t *c = json_object_get(v, "container"), *u = json_object_get(json_object_get(v, "unit"), "unit");
	const char *target = json_string_value(json_object_get(v, "target"));
	int r;

	if (json_is_string(u))
		return field_str(fs, "NETPOL_UNIT", u);
	if (json_is_object(c)) {
		r = field_str(fs, "NETPOL_CONTAINER",
			      json_object_get(c, json_is_string(json_object_get(c, "name")) ? "name" : "id"));
		return r < 0 ? r : field_str(fs, "NETPOL_CONTAINER_ID", json_object_get(c, "id"));
	}
	if (target && strncmp(target, "unit:", 5) == 0)
		return field_add(fs, "NETPOL_UNIT", target + 5);
	if (target && strncmp(target, "container:", 10) == 0)
		return field_add(fs, "NETPOL_CONTAINER", target + 10);
	return 0;
}

/* The members of V that are fields as they are. */
struct field_of {
	const char *member, *field;
};
static const struct field_of string_fields[] = {
    {"verdict", "NETPOL_VERDICT"}, {"target", "NETPOL_TARGET"},	    {"policy", "NETPOL_POLICY"},
    {"dest", "NETPOL_DEST"},	   {"protocol", "NETPOL_PROTOCOL"}, {"hook", "NETPOL_HOOK"},
    {"reason", "NETPOL_REASON"},   {"comm", "NETPOL_PROGRAM"},	    {"thread", "NETPOL_THREAD"},
    {"time", "NETPOL_TIME"},
};
static const struct field_of int_fields[] = {
    {"port", "NETPOL_PORT"},
    {"pid", "NETPOL_PID"},
    {"count", "NETPOL_COUNT"},
    {"cgroup_id", "NETPOL_CGROUP_ID"},
};

int violation_journal_fields(json_t *v, char ***ret)
{
	_cleanup_(violation_fields_freep) char **f = calloc(VIOLATION_FIELDS_MAX + 1, sizeof(char *));
	struct fields fs = {.f = f};
	json_t *rule = json_object_get(v, "rule_index"), *hidden = json_object_get(v, "pid_hidden");
	const char *id = message_id(json_string_value(json_object_get(v, "verdict")));
	int r = 0;

	if (!f)
		return -ENOMEM;
	if (id)
		r = field_add(&fs, "MESSAGE_ID", id);
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(string_fields); i++)
		r = field_str(&fs, string_fields[i].field, json_object_get(v, string_fields[i].member));
	for (size_t i = 0; r >= 0 && i < ELEMENTSOF(int_fields); i++)
		r = field_int(&fs, int_fields[i].field, json_object_get(v, int_fields[i].member));
	/* The rule's index in its policy, or "default": no rule matched. */
	if (r >= 0)
		r = json_is_integer(rule) ? field_int(&fs, "NETPOL_RULE", rule)
					  : field_add(&fs, "NETPOL_RULE", "default");
	if (r >= 0 && json_is_true(hidden))
		r = field_add(&fs, "NETPOL_PID_HIDDEN", "1");
	if (r >= 0)
		r = fields_owner(&fs, v);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(f);
	return 0;
}

static void log_violation(struct violations *vs, const struct violation *v)
{
	_cleanup_(violation_fields_freep) char **fields = NULL;
	_cleanup_(json_decrefp) json_t *j = NULL;
	char dest[64], pbuf[8], pid[48];
	bool other_thread = v->thread[0] && strcmp(v->thread, v->comm) != 0;
	const char *target;
	int level = LOG_DEBUG;

	if (v->verdict != NP_VERDICT_ALLOW) {
		if (vs->logged < LOG_BURST) {
			vs->logged++;
			level = LOG_INFO;
		} else
			vs->suppressed++;
		if (sd_event_source_get_enabled(vs->summary, NULL) == 0) {
			uint64_t now;

			(void)sd_event_now(vs->event, CLOCK_MONOTONIC, &now);
			(void)sd_event_source_set_time(vs->summary, now + LOG_PERIOD_USEC);
			(void)sd_event_source_set_enabled(vs->summary, SD_EVENT_ONESHOT);
		}
	}
	if (level > log_get_max_level())
		return;
	j = vs->ops->describe ? vs->ops->describe(vs->userdata, v) : NULL;
	if (!j)
		j = violation_to_json(v);
	/* Without its fields, the line still says what happened. */
	if (!j || violation_journal_fields(j, &fields) < 0)
		log_oom();
	target = json_string_value(json_object_get(j, "target")) ?: v->target;
	np_addr_format(v->addr, dest, sizeof(dest));
	if (v->pid_hidden)
		snprintf(pid, sizeof(pid), "outside netpold's pid namespace");
	else
		snprintf(pid, sizeof(pid), "pid %u", v->pid);
	log_struct(level, (const char *const *)fields,
		   "%s %s:%u/%s from %s (%s, '%s'%s%s%s, policy '%s'%s) x%llu", verdict_name(v->verdict),
		   dest, v->port, ip_proto_name(v->proto, pbuf), target ?: "?", pid, v->comm,
		   other_thread ? " thread '" : "", other_thread ? v->thread : "", other_thread ? "'" : "",
		   v->policy, v->reason == NP_REASON_SOURCE_ROUTE ? ", source-routed" : "",
		   (unsigned long long)v->count);
}

static int on_summary(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct violations *vs = userdata;

	if (vs->suppressed > 0)
		log_info("%llu more violations in the last minute were not logged; 'netpolctl violations' "
			 "lists them.",
			 (unsigned long long)vs->suppressed);
	vs->logged = 0;
	vs->suppressed = 0;
	return 0;
}

/* Sends count occurrences of v to the followers. */
static void publish(struct violations *vs, const struct violation *v, uint64_t count)
{
	_cleanup_(json_decrefp) json_t *j = violation_to_json(v);

	if (!j || !vs->ops->publish)
		return;
	if (count != v->count && json_object_set_new(j, "count", json_integer((json_int_t)count)) < 0)
		return;
	vs->ops->publish(vs->userdata, v, j);
}

/* The window closed: followers get the repeats not sent yet (the first
 * occurrence went out at once), the log gets the whole violation. */
static void close_window(struct violations *vs, struct violation *v)
{
	if (v->count > v->published)
		publish(vs, v, v->count - v->published);
	v->published = v->count;
	log_violation(vs, v);
}

static struct violation *by_seq(struct violations *vs, uint64_t seq)
{
	return &vs->ring[seq % VIOLATIONS_MAX];
}

static void arm_flush(struct violations *vs, uint64_t deadline_ns)
{
	/* Rounded up: a timer that fires early would re-arm itself at once. */
	(void)sd_event_source_set_time(vs->flush, (deadline_ns + 999) / 1000);
	(void)sd_event_source_set_enabled(vs->flush, SD_EVENT_ONESHOT);
}

/* Publishes every violation whose window closed before now, then arms the
 * timer for the next one. */
static void flush(struct violations *vs, uint64_t now_mono_ns)
{
	while (vs->closed_seq < vs->next_seq) {
		struct violation *v = by_seq(vs, vs->closed_seq);

		if (v->first_ns + VIOLATIONS_FOLD_NS > now_mono_ns) {
			arm_flush(vs, v->first_ns + VIOLATIONS_FOLD_NS);
			return;
		}
		vs->closed_seq++;
		close_window(vs, v);
	}
}

static int on_flush(sd_event_source *s, uint64_t usec, void *userdata)
{
	struct violations *vs = userdata;

	flush(vs, now_ns(CLOCK_MONOTONIC));
	return 0;
}

static uint32_t fold_hash(const struct np_event *ev)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *parts[] = {(const uint8_t *)&ev->cgroup_id, ev->addr, (const uint8_t *)&ev->port};
	const size_t lens[] = {sizeof(ev->cgroup_id), sizeof(ev->addr), sizeof(ev->port)};

	for (size_t p = 0; p < ELEMENTSOF(parts); p++)
		for (size_t i = 0; i < lens[p]; i++)
			h = (h ^ parts[p][i]) * 1099511628211ull;
	for (size_t i = 0; i < sizeof(ev->pid); i++)
		h = (h ^ ((ev->pid >> (8 * i)) & 0xff)) * 1099511628211ull;
	h = (h ^ ev->proto) * 1099511628211ull;
	h = (h ^ ev->verdict) * 1099511628211ull;
	h = (h ^ ev->reason) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32)) % FOLD_SLOTS;
}

/* Per process too: the pid, and the program, since a pid is reused. */
static bool same_key(const struct violation *v, const struct np_event *ev)
{
	return v->cgroup_id == ev->cgroup_id && v->port == ev->port && v->proto == ev->proto &&
	       v->verdict == ev->verdict && v->reason == ev->reason && v->pid == ev->pid &&
	       strncmp(v->comm, ev->comm, sizeof(v->comm) - 1) == 0 &&
	       memcmp(v->addr, ev->addr, sizeof(v->addr)) == 0;
}

/* The violation in slot, if it is still open (its window not closed). */
static struct violation *slot_open(struct violations *vs, uint32_t slot)
{
	uint64_t seq = vs->fold[slot];

	if (seq == 0)
		return NULL;
	seq--;
	if (seq < vs->closed_seq || seq >= vs->next_seq)
		return NULL;
	return by_seq(vs, seq);
}

/* The still-open violation this event folds into, or NULL. */
static struct violation *find_open(struct violations *vs, const struct np_event *ev, uint32_t base)
{
	for (uint32_t i = 0; i < FOLD_PROBE; i++) {
		struct violation *v = slot_open(vs, (base + i) % FOLD_SLOTS);

		if (!v || !same_key(v, ev))
			continue;
		/* Events from several CPUs may arrive slightly out of order. */
		if (ev->ts_ns > v->first_ns && ev->ts_ns - v->first_ns >= VIOLATIONS_FOLD_NS)
			return NULL;
		return v;
	}
	return NULL;
}

/* Where a new violation's key goes: a free slot (empty or closed) near base,
 * else the one holding the oldest open violation. */
static uint32_t pick_slot(struct violations *vs, uint32_t base)
{
	uint32_t oldest = base;

	for (uint32_t i = 0; i < FOLD_PROBE; i++) {
		uint32_t slot = (base + i) % FOLD_SLOTS;

		if (!slot_open(vs, slot))
			return slot;
		if (vs->fold[slot] < vs->fold[oldest])
			oldest = slot;
	}
	return oldest;
}

/* A task's name, from a program that may be hostile: any bytes but NUL
 * (terminal escapes, invalid UTF-8, which JSON refuses). Printable ASCII
 * is kept, the rest shown as '?'. */
static void copy_task_name(char dst[16], const char src[16])
{
	size_t i;

	for (i = 0; i < 15 && src[i]; i++)
		dst[i] = src[i] >= 0x20 && src[i] < 0x7f ? src[i] : '?';
	dst[i] = '\0';
}

static void fill(struct violations *vs, struct violation *v, const struct np_event *ev)
{
	const char *policy = vs->ops->policy_name ? vs->ops->policy_name(vs->userdata, ev->policy_id) : NULL;

	v->seq = vs->next_seq;
	v->first_ns = v->last_ns = ev->ts_ns;
	v->count = 1;
	v->cgroup_id = ev->cgroup_id;
	v->policy_id = ev->policy_id;
	v->pid = ev->pid;
	memcpy(v->addr, ev->addr, sizeof(v->addr));
	v->port = ev->port;
	v->rule = ev->rule;
	v->proto = ev->proto;
	v->verdict = ev->verdict;
	v->hook = ev->hook;
	v->reason = ev->reason;
	v->pid_hidden = ev->task & NP_TASK_PID_HIDDEN;
	copy_task_name(v->comm, ev->comm);
	copy_task_name(v->thread, ev->thread);
	snprintf(v->policy, sizeof(v->policy), "%s", policy ?: "");
	v->target = vs->ops->target_name ? vs->ops->target_name(vs->userdata, ev->cgroup_id) : NULL;
}

void violations_on_event(const struct np_event *ev, void *userdata)
{
	struct violations *vs = userdata;
	uint32_t base = fold_hash(ev);
	struct violation *v = find_open(vs, ev, base);

	if (v) {
		v->count++;
		if (ev->ts_ns > v->last_ns)
			v->last_ns = ev->ts_ns;
		return;
	}
	/* The slot about to be reused must have its window closed. */
	if (vs->next_seq >= VIOLATIONS_MAX && vs->closed_seq <= vs->next_seq - VIOLATIONS_MAX) {
		v = by_seq(vs, vs->closed_seq);
		vs->closed_seq++;
		close_window(vs, v);
	}
	v = by_seq(vs, vs->next_seq);
	violation_clear(v);
	fill(vs, v, ev);
	vs->fold[pick_slot(vs, base)] = vs->next_seq + 1;
	vs->next_seq++;
	/* Followers see the first occurrence at once; repeats within the
	 * window follow as one more event when it closes. */
	publish(vs, v, 1);
	v->published = 1;
	/* Windows are never closed from here: a backlog drained in one go
	 * (after a restart, say) must fold first. */
	if (sd_event_source_get_enabled(vs->flush, NULL) == 0)
		arm_flush(vs, by_seq(vs, vs->closed_seq)->first_ns + VIOLATIONS_FOLD_NS);
}

int violations_foreach(struct violations *vs, int (*cb)(const struct violation *v, void *userdata),
		       void *userdata)
{
	uint64_t first = vs->next_seq > VIOLATIONS_MAX ? vs->next_seq - VIOLATIONS_MAX : 0;
	int r;

	for (uint64_t seq = first; seq < vs->next_seq; seq++) {
		r = cb(by_seq(vs, seq), userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

uint64_t violations_total(const struct violations *vs)
{
	return vs->next_seq;
}

int violations_new(sd_event *e, const struct violations_ops *ops, void *userdata, struct violations **ret)
{
	_cleanup_(violations_freep) struct violations *vs = NULL;
	int r;

	realtime_offset_ns = (int64_t)(now_ns(CLOCK_REALTIME) - now_ns(CLOCK_MONOTONIC));

	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return -ENOMEM;
	vs->event = sd_event_ref(e);
	vs->ops = ops;
	vs->userdata = userdata;
	vs->ring = calloc(VIOLATIONS_MAX, sizeof(*vs->ring));
	if (!vs->ring)
		return -ENOMEM;
	/* Timers armed only while something is pending: no periodic wake-ups. */
	r = sd_event_add_time(e, &vs->flush, CLOCK_MONOTONIC, UINT64_MAX, 10000, on_flush, vs);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(vs->flush, SD_EVENT_OFF);
	if (r < 0)
		return r;
	r = sd_event_add_time(e, &vs->summary, CLOCK_MONOTONIC, UINT64_MAX, 1000000, on_summary, vs);
	if (r < 0)
		return r;
	r = sd_event_source_set_enabled(vs->summary, SD_EVENT_OFF);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(vs);
	return 0;
}
