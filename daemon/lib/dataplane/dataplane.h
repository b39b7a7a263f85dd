/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane: load or adopt the pinned BPF programs and maps, attach them
 * once with bpf_link, install compiled policies, bind cgroups, read counters
 * and consume events. Library code: never logs, returns negative errno.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgroup-util.h" /* a binding names its cgroup by np_cgroup_id() */
#include "cleanup-util.h"
#include "netpol-api.h"
#include "policy.h"

struct np_dataplane;

struct np_dataplane_opts {
	const char *pin_dir;       /* bpffs directory, default NP_PIN_DIR_DEFAULT */
	const char *attach_cgroup; /* absolute path; default: the cgroup2 mount */
};

/* Checks the host (cgroup2 mounted, socket matching not disabled by v1
 * net_cls/net_prio, bpffs mounted or mountable), then adopts the pinned
 * maps and links under pin_dir or creates and pins them. Adoption never
 * detaches: the programs are replaced in the pinned links atomically.
 * *adopted tells which happened (may be NULL).
 * Errors: -ENOMEDIUM no cgroup2 mount; -EXDEV attach cgroup not on it;
 * -EPROTO cgroup2 socket matching disabled (v1 net_cls/net_prio);
 * -ESTALE pins from an incompatible version; -EEXIST pinned links attach
 * elsewhere; -EBUSY another process has pin_dir open (the directory is
 * locked until np_dataplane_free()); others from bpffs, the verifier or
 * attach. */
int np_dataplane_open(const struct np_dataplane_opts *opts, struct np_dataplane **ret, bool *adopted);
/* Closes our fds. Enforcement continues through the pins. */
struct np_dataplane *np_dataplane_free(struct np_dataplane *dp);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct np_dataplane *, np_dataplane_free);
/* Unpins everything under pin_dir (and removes the directory). Once the last
 * fd is closed the programs detach: for uninstall and for tests. */
int np_dataplane_unpin(struct np_dataplane *dp);
/* Detaches the programs now (BPF_LINK_DETACH), whoever else holds their
 * links: for teardown, after np_dataplane_unpin(). */
int np_dataplane_detach(struct np_dataplane *dp);
/* Teardown without loading anything: detaches the links pinned in pin_dir
 * and removes netpol's pins (maps "np_*", links "link_*") and the
 * directory. -ENOENT: no such directory; -ENOTDIR: not on bpffs; -EBUSY: a
 * netpold holds it (its lock); -ENOTEMPTY: other files remain there, ours
 * removed. *ret_links, *ret_maps (may be NULL): how many were removed. */
int np_dataplane_remove_pins(const char *pin_dir, unsigned *ret_links, unsigned *ret_maps);

/* The pins are what keeps the programs attached and the maps alive once our
 * fds close. np_dataplane_pins_missing() calls cb (may be NULL) with the
 * name of each pin that is missing or names another object, and returns
 * how many. np_dataplane_repin() pins them again from the fds held (making
 * the directory, and mounting bpffs, if need be); *ret_repinned (may be
 * NULL) says how many it pinned, also on failure. Errors: -ENOTDIR when
 * the pin directory is not on bpffs (something is mounted over it);
 * -EBUSY another process locked the directory made again; others from
 * mkdir, mount and bpf_obj_pin. */
int np_dataplane_pins_missing(struct np_dataplane *dp, void (*cb)(const char *name, void *userdata),
			      void *userdata);
int np_dataplane_repin(struct np_dataplane *dp, unsigned *ret_repinned);

const char *np_dataplane_pin_dir(const struct np_dataplane *dp);
const char *np_dataplane_attach_cgroup(const struct np_dataplane *dp);
const char *np_dataplane_cgroup_root(const struct np_dataplane *dp);

/* Install (or atomically replace) policy id 1..NP_MAX_POLICIES-1. */
int np_dataplane_install(struct np_dataplane *dp, uint32_t policy_id, const char *name,
			 const struct np_compiled *c);
/* The two halves of np_dataplane_install(), for a caller that fills the
 * new trie away from the data plane's owner. np_dataplane_trie_new() uses
 * nothing of a data plane, so it may run on any thread while the owner
 * goes on; the trie stays private to *ret_fd (the caller closes it) until
 * np_dataplane_publish() swaps it in for policy_id, atomically. */
int np_dataplane_trie_new(uint32_t policy_id, const struct np_compiled *c, int *ret_fd);
int np_dataplane_publish(struct np_dataplane *dp, uint32_t policy_id, const char *name,
			 const struct np_compiled *c, int trie_fd);
/* An fd of the trie published for policy_id (-ENOENT if none): kept, it
 * lets a change be undone by publishing it again, without a rebuild. */
int np_dataplane_trie_get(struct np_dataplane *dp, uint32_t policy_id, int *ret_fd);
/* Remove a policy. -EBUSY while a cgroup is bound to it. */
int np_dataplane_remove(struct np_dataplane *dp, uint32_t policy_id);
/* The name stored with policy id (from np_policy_meta), or -ENOENT. */
int np_dataplane_policy_name(struct np_dataplane *dp, uint32_t policy_id, char name[NP_POLICY_NAME_MAX]);

/* Bind a cgroup (by id) to an installed policy, or unbind it. The cgroup
 * and all its descendants without a nearer binding follow the policy. */
int np_dataplane_bind(struct np_dataplane *dp, uint64_t cgroup_id, uint32_t policy_id);
int np_dataplane_unbind(struct np_dataplane *dp, uint64_t cgroup_id);
/* Iterate bindings; cb returns <0 to stop. */
int np_dataplane_bindings_foreach(struct np_dataplane *dp,
				  int (*cb)(uint64_t cgroup_id, uint32_t policy_id, void *userdata),
				  void *userdata);

/* Counters. */
int np_dataplane_stats_foreach(struct np_dataplane *dp,
			       int (*cb)(const struct np_stats_key *k, const struct np_stats_val *v,
					 void *userdata),
			       void *userdata);
int np_dataplane_stats_reset(struct np_dataplane *dp);
/* Remove one key's counters (-ENOENT if it has none). */
int np_dataplane_stats_delete(struct np_dataplane *dp, const struct np_stats_key *k);
/* Sum over CPUs of np_counters[idx] (NP_CNT_*). */
int np_dataplane_counter(struct np_dataplane *dp, unsigned idx, uint64_t *ret);

/* Events: cb is called for each event by np_dataplane_events_consume(),
 * which takes at most max events (0: all that wait) and returns how many it
 * took. np_dataplane_events_fd() is an epoll fd that stays readable while
 * events wait (level-triggered), so an event loop may take them in bounded
 * batches and serve its other sources in between. */
int np_dataplane_events_open(struct np_dataplane *dp, void (*cb)(const struct np_event *e, void *userdata),
			     void *userdata);
int np_dataplane_events_fd(struct np_dataplane *dp);
int np_dataplane_events_consume(struct np_dataplane *dp, unsigned max);
