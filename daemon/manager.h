/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The manager owns the data plane and the daemon's view of it: the policy
 * registry (name -> id, parsed policy, compiled form), the bindings (target
 * -> cgroup, policy), persistence of both, and the restore at startup.
 *
 * Every change goes kernel first, then state.json; if the state cannot be
 * written the kernel change is rolled back, so that what the daemon
 * acknowledged and what survives a restart are the same.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <systemd/sd-event.h>

#include "cgroup-names.h"
#include "cgroup-watch.h"
#include "config.h"
#include "dataplane.h"
#include "json-util.h"
#include "manager-save.h"
#include "policy.h"
#include "registry.h"
#include "state-parse.h"
#include "target.h"

struct np_source_ops;
struct violation;
struct violations;

/* A binding source that runs (source.h). */
struct manager_source {
	const struct np_source_ops *ops;
	void *userdata;
};

#define MANAGER_MAX_SOURCES 8

struct manager_opts {
	const char *pin_dir;
	const char *attach_cgroup; /* NULL: the cgroup2 root */
	const char *cgroup_root;   /* NULL: the cgroup2 mount */
	const char *state_dir;
};

struct manager {
	sd_event *event;
	struct np_dataplane *dp;
	bool adopted;
	char data_plane[256]; /* how it came to be, for status (manager-pins.c) */
	char *state_dir;
	char *cgroup_root;
	char *attach_cgroup;
	struct target_root targets; /* the two above, for target_resolve() */
	uint64_t started_usec;	    /* CLOCK_REALTIME */

	struct np_pol *pols[NP_MAX_POLICIES]; /* by id; [0] unused */
	unsigned n_pols;
	struct np_bind *binds;
	size_t n_binds, cap_binds;

	/* Why the last change failed when the request was not at fault: the
	 * state file it could not write (NULL if none) and the errno. Its
	 * kernel change was undone, unless rollback_failed. */
	const char *unsaved_file;
	int unsaved_error;
	bool rollback_failed;

	struct np_config config;
	const char *config_path; /* for SIGHUP */
	bool config_required;
	/* Re-reads the configuration (netpold.c): SIGHUP and the "reload"
	 * method. 0, or what is wrong in err (the old configuration stays). */
	int (*reload)(void *userdata, struct np_config_error *err, bool *ret_found);
	void *reload_userdata;
	struct violations *violations;
	sd_event_source *events_source;
	/* Where violations go when their folding window closes (the
	 * followers; wired by netpold.c). */
	void (*publish)(void *userdata, const struct violation *v, json_t *json);
	void *publish_userdata;
	/* A source's answer came in: the control requests that waited for it
	 * (a resolve() that said -EINPROGRESS) run again (ctl_server_resume(),
	 * wired by netpold.c). */
	void (*answered)(void *userdata);
	void *answered_userdata;

	/* The pin directory, watched for removed pins (manager-pins.c). */
	int pins_inotify_fd;
	int pins_wd;
	sd_event_source *pins_source;
	int pins_error;		/* <0: pins are missing and could not be restored */
	unsigned pins_restored; /* pins pinned again since the start */

	/* Parents of bound cgroups, watched for removals (rmdir). */
	struct cgroup_watch cgroup_watch;
	/* bindings.json to be written at the next turn of the loop. */
	sd_event_source *save_soon;
	/* Cgroup id -> path, for cgroups that are not bound themselves. */
	struct cgroup_names cgroup_names;

	struct manager_source sources[MANAGER_MAX_SOURCES];
	size_t n_sources;
	const struct np_source_ops *const *source_table;
};

/* Checks the host and opens (or adopts) the data plane; logs the cause of a
 * failure in one message. */
int manager_new(sd_event *e, const struct manager_opts *opts, struct manager **ret);
struct manager *manager_free(struct manager *m);
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager *, manager_free);
/* Re-installs state.json (or creates the presets on first start) and
 * reconciles the kernel with it. Logs. */
int manager_restore(struct manager *m);
/* Watches the pin directory and pins again what is removed (logged). */
int manager_watch_pins(struct manager *m);
/* Checks the pins and pins again what is missing; -ENOLINK (logged, and
 * m->pins_error says why) if that fails. */
int manager_pins_check(struct manager *m);
/* Why the pins could not be restored (m->pins_error), for people. */
const char *manager_pins_error(const struct manager *m);
/* The last chance before the fds close, at exit. */
void manager_pins_final(struct manager *m);
/* Refuses (logged) a pin directory that is not on a mounted bpffs when
 * netpold would mount its own where the next netpold cannot find it: as a
 * service, or in a mount namespace other than PID 1's. */
int manager_pins_host_check(const char *pin_dir);
/* After the restore: says how the data plane came to be (m->data_plane),
 * loudly if a data plane of this boot was lost with its pins, and notes
 * this boot's in runtime_dir (NULL: none; then nothing is noted). */
void manager_pins_note_start(struct manager *m, const char *runtime_dir);
/* After a teardown: the next data plane of this boot is not a lost one. */
void manager_pins_forget_start(const char *runtime_dir);
/* Starts consuming ring-buffer events. */
int manager_start_events(struct manager *m);
/* Writes state.json; logs a failure. */
int manager_save(struct manager *m);

struct np_pol *manager_policy_by_name(struct manager *m, const char *name);
struct np_pol *manager_policy_by_id(struct manager *m, uint32_t id);

/*
 * A policy change in two steps around the save, so that the save (and the
 * work before it) can run away from the event loop:
 *   manager_policy_stage()       the kernel and the registry change;
 *   manager_policies_snapshot()  what policies.json is to say, taken at once;
 *   manager_snapshot_write()     writes it, on any thread (it does not log);
 *   manager_policy_settle()      keeps the change if that write succeeded,
 *                                else undoes it.
 * Between stage and settle the caller lets nothing else change a policy:
 * the snapshot reads the policies it names while it is written.
 */
enum manager_change_kind {
	MANAGER_POLICY_ADD,	/* p and c under a free id; pol NULL */
	MANAGER_POLICY_REPLACE, /* pol's content by p and c, atomically */
	MANAGER_POLICY_DELETE,	/* pol; p and c NULL */
};

struct manager_change {
	enum manager_change_kind kind;
	struct np_pol *pol;
	struct np_policy *policy; /* replaced: the old version, until settled */
	struct np_compiled *compiled;
	int old_trie_fd; /* the old version's trie, to undo by a swap */
};

/* trie_fd: c's trie from np_dataplane_trie_new() (borrowed), or -1 to
 * build it here. On success the manager owns p and c. Errors: -EEXIST (add:
 * the name is taken), -ENOSPC (add: every id is taken), -EBUSY (delete:
 * bound), -ENOLINK (the pins are missing and cannot be restored,
 * manager_pins_check(): a change would be lost when netpold stops); a
 * kernel failure is logged. */
int manager_policy_stage(struct manager *m, enum manager_change_kind kind, struct np_pol *pol,
			 struct np_policy *p, struct np_compiled *c, int trie_fd, struct manager_change *ret);
/* saved: 0, or the error of writing the snapshot (logged here, and kept in
 * unsaved_file and unsaved_error for the reply). */
void manager_policy_settle(struct manager *m, struct manager_change *ch, int saved);

/* manager_snapshot_write() and manager_snapshot_free(): manager-save.h. */
int manager_policies_snapshot(struct manager *m, struct manager_snapshot **ret);

struct np_bind *manager_binding_by_target(struct manager *m, const char *target);
struct np_bind *manager_binding_by_cgroup(struct manager *m, uint64_t cgroup_id);
/* The binding that decides for a cgroup path: its own or its nearest bound ancestor's. */
struct np_bind *manager_binding_for_path(struct manager *m, const char *path);
/*
 * What binding sources (source.h) and clients call: bind t to pol
 * (replacing its binding), or remove target's binding; origin says who
 * asks. A source changes only the bindings of its own origin (-EBUSY
 * otherwise); NP_ORIGIN_EXPLICIT changes any. Kernel first, then
 * bindings.json (manager_bind: -ENOSPC when the table is full;
 * manager_unbind: -ENOENT when target is not bound). *ret (may be NULL)
 * is the binding.
 */
int manager_bind(struct manager *m, const struct target *t, struct np_pol *pol, enum np_origin origin,
		 struct np_bind **ret);
int manager_unbind(struct manager *m, const char *target, enum np_origin origin);
/* A named target (a container) is gone for good: its binding goes,
 * whoever made it. -ENOENT when it has none. */
int manager_forget(struct manager *m, const char *target);
/*
 * Named targets (target.h: t->match set) keep their binding while they
 * have no cgroup, and are bound in the kernel on each cgroup they get:
 * manager_realize() when a source learns where it is (a container's
 * /proc/PID/cgroup); and by itself the moment a matching directory is made
 * in a watched one, so that a source watches the directories its runtimes
 * make cgroups in (manager_watch_cgroup_dir(), a directory that does not
 * exist yet is watched for). Logged; -ENOENT: no such named binding, or
 * the cgroup is gone; -EXDEV outside the attach cgroup; -EEXIST: the
 * cgroup is bound under another target.
 */
int manager_realize(struct manager *m, const char *target, const char *path);
void manager_watch_cgroup_dir(struct manager *m, const char *dir);

/* ---- binding sources (manager-sources.c) ---- */

/* Starts every source of the NULL-terminated table (source.h),
 * after the restore. One that fails is logged and left out: what is bound
 * stays enforced. The table is kept for a restart (SIGHUP). */
void manager_start_sources(struct manager *m, const struct np_source_ops *const *sources);
void manager_stop_sources(struct manager *m);
/* teardown --forget, before the sources stop: each undoes what it wrote
 * outside netpold for the bindings (a service's gate) and says so in
 * result (source.h, forget). */
void manager_forget_sources(struct manager *m, json_t *result);
/* A client's target: cgroups from the tree, containers and units from the
 * sources (a name or short id becomes the full id). As target_resolve();
 * -EINPROGRESS: a source asked and calls manager_sources_answered() when
 * it knows; -EHOSTDOWN: its source cannot ask (systemd is not reachable). */
int manager_resolve_target(struct manager *m, const char *s, struct target *ret, const char **why);
/* A client's target as it is bound: s normalized, a container's name as
 * its full id when a source knows it. malloc()ed in *ret; -EINVAL with *why. */
int manager_target_name(struct manager *m, const char *s, char **ret, const char **why);
/* A source's answer came in: what waited for it runs again (m->answered). */
void manager_sources_answered(struct manager *m);
/* What the sources tell about target ({"name", ...}; new reference), or NULL. */
json_t *manager_target_info(struct manager *m, const char *target);
/* A client bound target: its source follows it; settling while that is
 * not in effect yet (manager_sources_answered() says when it may be). */
void manager_target_bound(struct manager *m, const char *target);
bool manager_target_settling(struct manager *m, const char *target);
/* A client removed target's binding: its source's own may apply again. */
void manager_target_released(struct manager *m, const char *target);
void manager_policy_added(struct manager *m, const char *name);
/* An OCI hook: target's first process pid runs soon (source.h: prepare). */
int manager_prepare_target(struct manager *m, const char *target, pid_t pid, const char **why);
/* The sources' problems and target's warnings, appended to the arrays. */
void manager_sources_problems(struct manager *m, json_t *problems);
void manager_target_warnings(struct manager *m, const char *target, json_t *warnings);
/* {"containers": ...}: each source's status under its name. */
json_t *manager_sources_status(struct manager *m);

/* A violation as clients get it: violation_to_json() and the container
 * it happened in. */
json_t *manager_violation_json(struct manager *m, const struct violation *v);
/* The violation's target as known now (v->target, or the container whose
 * cgroup it names), malloc()ed; NULL on OOM or when v has none. */
char *manager_violation_target(struct manager *m, const struct violation *v);

/* How a cgroup id is shown: the bound target, the cgroup's path below the
 * attach cgroup, or "cgroup-id:N". malloc()ed; NULL on OOM. */
char *manager_cgroup_target(struct manager *m, uint64_t cgroup_id);
