/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Violations: ring-buffer events folded into what a person wants to read.
 * Repeats of the same (cgroup, destination, port, protocol, verdict, reason)
 * by the same process (pid and program) within one second become one
 * violation with a count: another process's attempts make a violation of
 * their own, so that none is hidden behind the first. The last VIOLATIONS_MAX are
 * kept for `violations --since`. Followers get the first occurrence at once
 * (count 1) and, when the one-second window closes, the repeats as one more
 * event with their count; the log gets each violation once, when it closes.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "netpol-api.h"

#define VIOLATIONS_MAX	   4096
#define VIOLATIONS_FOLD_NS 1000000000ull

struct violation {
	uint64_t seq;
	uint64_t first_ns; /* CLOCK_MONOTONIC of the first event */
	uint64_t last_ns;
	uint64_t count;
	uint64_t published; /* occurrences sent to followers so far */
	uint64_t cgroup_id;
	uint32_t policy_id;
	uint32_t pid;
	uint8_t addr[16];
	uint16_t port;
	uint16_t rule;
	uint8_t proto;
	uint8_t verdict;
	uint8_t hook;
	uint8_t reason; /* NP_REASON_* */
	bool pid_hidden; /* a process made it, without a pid in netpold's pid namespace: pid 0 */
	char comm[16];	 /* the program: the process's leader's comm */
	char thread[16]; /* the first attempt's thread, "" if not known */
	char policy[NP_POLICY_NAME_MAX];
	char *target; /* as named when the first event arrived */
};

struct violations_ops {
	/* The target a cgroup id is known as: malloc()ed, NULL on OOM. */
	char *(*target_name)(void *userdata, uint64_t cgroup_id);
	/* The name of an installed policy id, or NULL. */
	const char *(*policy_name)(void *userdata, uint32_t policy_id);
	/* The violation's folding window closed: fan it out. */
	void (*publish)(void *userdata, const struct violation *v, json_t *json);
	/* The violation as people are shown it (violation_to_json(), its
	 * target as known now, its container or unit), a new reference; for
	 * the log. NULL (or a NULL op): violation_to_json(). */
	json_t *(*describe)(void *userdata, const struct violation *v);
};

struct violations;

int violations_new(sd_event *e, const struct violations_ops *ops, void *userdata, struct violations **ret);
struct violations *violations_free(struct violations *vs);

/* For np_dataplane_events_open(). */
void violations_on_event(const struct np_event *ev, void *userdata);

/* Oldest first; cb returns <0 to stop. */
int violations_foreach(struct violations *vs, int (*cb)(const struct violation *v, void *userdata),
		       void *userdata);
uint64_t violations_total(const struct violations *vs);
json_t *violation_to_json(const struct violation *v);

/* The MESSAGE_IDs of the log's violations (docs/netpold.md, "Journal
 * fields"): `journalctl MESSAGE_ID=...` lists them. */
#define VIOLATION_MESSAGE_DENIED  "0f248280f46543d2a6b60fc1c9ca8c63"
#define VIOLATION_MESSAGE_AUDITED "7f2ca1c367cf4acf92e6717f7374c633"
#define VIOLATION_MESSAGE_ALLOWED "36ec953d76794f3fa41fd270157f9c51"
#define VIOLATION_FIELDS_MAX	  20

/* A violation's journal fields, from its JSON form (V, docs/protocol.md):
 * MESSAGE_ID and the NETPOL_* fields, "KEY=value" each, a value at most
 * VIOLATION_FIELD_VALUE_MAX bytes with control characters made '?'.
 * *ret is NULL-terminated, freed with violation_fields_free(). */
#define VIOLATION_FIELD_VALUE_MAX 1024
int violation_journal_fields(json_t *v, char ***ret);
void violation_fields_free(char **f);

/* CLOCK_MONOTONIC (BPF timestamps) to CLOCK_REALTIME, by the offset
 * measured when violations_new() ran. */
uint64_t mono_to_realtime_ns(uint64_t mono_ns);
/* RFC 3339, UTC, milliseconds: "2025-01-02T03:04:05.678Z". */
void format_realtime(uint64_t realtime_ns, char *buf, size_t size);
const char *ip_proto_name(unsigned proto, char buf[8]);
const char *hook_name(unsigned hook);
const char *reason_name(unsigned reason);
