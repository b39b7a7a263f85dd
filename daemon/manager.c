/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager-internal.h"
#include "state-parse.h"
#include "state.h"
#include "violations.h"

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	manager_stop_sources(m);
	/* Cgroups realized in the last turn of the loop. */
	if (m->save_soon)
		(void)manager_save_bindings(m, NULL);
	manager_pins_final(m);
	sd_event_source_disable_unref(m->pins_source);
	if (m->pins_inotify_fd >= 0)
		close(m->pins_inotify_fd);
	sd_event_source_disable_unref(m->events_source);
	cgroup_watch_stop(&m->cgroup_watch);
	violations_free(m->violations);
	for (unsigned i = 0; i < NP_MAX_POLICIES; i++)
		manager_pol_free(m->pols[i]);
	manager_bindings_free(m);
	cgroup_names_clear(&m->cgroup_names);
	np_dataplane_free(m->dp);
	config_done(&m->config);
	free(m->state_dir);
	free(m->cgroup_root);
	free(m->attach_cgroup);
	sd_event_unref(m->event);
	free(m);
	return NULL;
}

static uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

/* ---- opening the data plane ---- */

static int open_failed(int r, const struct manager *m, const char *pin_dir)
{
	switch (r) {
	case -ENOMEDIUM:
		return log_error_errno(r, "No cgroup2 file system is mounted; netpol needs cgroup2.");
	case -EPROTO:
		return log_error_errno(r,
				       "cgroup2 socket matching is disabled (cgroup-v1 net_cls/net_prio in "
				       "use); netpol cannot work on this host.");
	case -ESTALE:
		return log_error_errno(r,
				       "The pinned maps in '%s' were created by an incompatible netpold (ABI "
				       "differs); remove them to start afresh.",
				       pin_dir);
	case -EXDEV:
		return log_error_errno(r, "The attach cgroup '%s' is not a directory on the cgroup2 mount.",
				       m->attach_cgroup);
	case -EEXIST:
		return log_error_errno(r,
				       "The pinned links belong to another attach cgroup than '%s'; use that "
				       "one or remove the pins.",
				       m->attach_cgroup);
	case -EBUSY:
		return log_error_errno(
		    r,
		    "Another netpold uses the pin directory '%s' (it holds the directory's "
		    "lock); stop it, or give this one its own --bpffs.",
		    pin_dir);
	case -EPERM:
	case -EACCES:
		return log_error_errno(r, "Failed to load the BPF programs: %m (netpold needs root, or "
					  "CAP_BPF, CAP_NET_ADMIN, CAP_SYS_ADMIN and CAP_PERFMON).");
	default:
		return log_error_errno(r, "Failed to load or attach the BPF programs: %m");
	}
}

/* Our programs replaced the pinned ones, and name processes by their pids
 * in our pid namespace; those of a netpold in another one named them by
 * its pids, which its events still in the ring carry. */
static void log_pidns_change(const struct manager *m)
{
	uint32_t was = np_dataplane_previous_pidns(m->dp) ?: NP_PIDNS_INIT_INO,
		 now = np_dataplane_pidns(m->dp);

	if (m->adopted && was != now)
		log_notice(
		    "The pinned programs were loaded by a netpold in another pid namespace (pid:[%u]); "
		    "violations now name processes by their pids in this one (pid:[%u]), and those of "
		    "the events it left name none.",
		    was, now);
}

/* The host checks, done here first so that each failure has its own message. */
static int check_host(char **ret_mount)
{
	int r;

	r = np_cgroup2_mount(ret_mount);
	if (r == -ENOMEDIUM)
		return log_error_errno(r, "No cgroup2 file system is mounted; netpol needs cgroup2.");
	if (r < 0)
		return log_error_errno(r, "Failed to find the cgroup2 mount: %m");
	r = np_cgroup_socket_matching_ok();
	if (r == -EPROTO)
		return log_error_errno(
		    r, "A cgroup-v1 hierarchy with net_cls or net_prio is in use, which "
		       "switches cgroup2 socket matching off; netpol cannot work on this host. "
		       "Unmount it (and boot with cgroup_no_v1=net_cls,net_prio).");
	if (r < 0)
		return log_error_errno(r, "Failed to check the cgroup-v1 hierarchies: %m");
	return 0;
}

int manager_new(sd_event *e, const struct manager_opts *opts, struct manager **ret)
{
	_cleanup_(manager_freep) struct manager *m = NULL;
	_cleanup_free_ char *mount = NULL;
	struct np_dataplane_opts dpo = {.pin_dir = opts->pin_dir};
	int r;

	m = calloc(1, sizeof(*m));
	if (!m)
		return log_oom();
	m->event = sd_event_ref(e);
	m->cgroup_watch.fd = -EBADF;
	m->pins_inotify_fd = -EBADF;
	m->pins_wd = -1;
	m->started_usec = now_usec(CLOCK_REALTIME);
	r = config_init(&m->config);
	if (r < 0)
		return log_oom();
	m->state_dir = strdup(opts->state_dir);
	if (!m->state_dir)
		return log_oom();

	r = check_host(&mount);
	if (r < 0)
		return r;
	/* Canonical paths, so that "below the attach cgroup" is a prefix test. */
	m->attach_cgroup = realpath(opts->attach_cgroup ?: mount, NULL);
	if (!m->attach_cgroup)
		return log_error_errno(-errno, "Cannot use '%s' as the attach cgroup: %m",
				       opts->attach_cgroup ?: mount);
	m->cgroup_root = realpath(opts->cgroup_root ?: mount, NULL);
	if (!m->cgroup_root)
		return log_error_errno(-errno, "Cannot use '%s' as the cgroup root: %m",
				       opts->cgroup_root ?: mount);
	m->targets = (struct target_root){.cgroup_root = m->cgroup_root, .attach_cgroup = m->attach_cgroup};
	m->cgroup_names.roots = &m->targets;
	if (!target_path_below(m->attach_cgroup, m->cgroup_root))
		return log_error_errno(-EXDEV, "The attach cgroup '%s' is not below the cgroup root '%s'.",
				       m->attach_cgroup, m->cgroup_root);

	dpo.attach_cgroup = m->attach_cgroup;
	r = np_dataplane_open(&dpo, &m->dp, &m->adopted);
	if (r < 0)
		return open_failed(r, m, opts->pin_dir ?: NP_PIN_DIR_DEFAULT);
	log_info("%s the data plane in '%s', attached at '%s'.", m->adopted ? "Adopted" : "Created",
		 np_dataplane_pin_dir(m->dp), m->attach_cgroup);
	log_pidns_change(m);
	r = cgroup_watch_start(&m->cgroup_watch, m->event, manager_cgroups_gone, manager_cgroup_made, m);
	if (r < 0)
		return r;
	r = manager_watch_pins(m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

/* ---- saving (manager-save.c writes the form) ---- */

int manager_policies_snapshot(struct manager *m, struct manager_snapshot **ret)
{
	return manager_snapshot_new(m->state_dir, m->pols, m->n_pols, ret);
}

static int save_policies(struct manager *m)
{
	_cleanup_(manager_snapshot_freep) struct manager_snapshot *s = NULL;
	int r;

	r = manager_policies_snapshot(m, &s);
	if (r < 0)
		return log_oom();
	r = manager_snapshot_write(s);
	if (r < 0)
		return manager_save_failed(m, NP_STATE_POLICIES_FILE, r);
	manager_notify_status(m);
	return 0;
}

int manager_save(struct manager *m)
{
	int r = save_policies(m);

	return r < 0 ? r : manager_save_bindings(m, NULL);
}

/* ---- changes ---- */

/* The kernel side of a staged change: p's trie (built here unless the
 * caller brings one) goes live under id. */
static int publish(struct manager *m, uint32_t id, const struct np_policy *p, const struct np_compiled *c,
		   int trie_fd)
{
	if (trie_fd >= 0)
		return np_dataplane_publish(m->dp, id, p->name, c, trie_fd);
	return np_dataplane_install(m->dp, id, p->name, c);
}

static int stage_add(struct manager *m, struct np_policy *p, struct np_compiled *c, int trie_fd,
		     struct manager_change *ch)
{
	uint32_t id;
	int r;

	if (manager_policy_by_name(m, p->name))
		return -EEXIST;
	r = manager_free_policy_id(m, &id);
	if (r < 0)
		return r;
	r = publish(m, id, p, c, trie_fd);
	if (r < 0)
		return log_error_errno(r, "Failed to install policy '%s' as id %u: %m", p->name, id);
	r = manager_register_policy(m, id, p, c, &ch->pol);
	if (r < 0) {
		(void)np_dataplane_remove(m->dp, id);
		return log_oom();
	}
	return 0;
}

static int stage_replace(struct manager *m, struct np_pol *pol, struct np_policy *p, struct np_compiled *c,
			 int trie_fd, struct manager_change *ch)
{
	int r;

	/* Kept, so that undoing is one swap back rather than a rebuild. */
	if (np_dataplane_trie_get(m->dp, pol->id, &ch->old_trie_fd) < 0)
		ch->old_trie_fd = -EBADF;
	r = publish(m, pol->id, p, c, trie_fd);
	if (r < 0)
		return log_error_errno(r, "Failed to install the new version of policy '%s': %m", p->name);
	ch->pol = pol;
	ch->policy = pol->policy;
	ch->compiled = pol->compiled;
	pol->policy = p;
	pol->compiled = c;
	return 0;
}

static int stage_delete(struct manager *m, struct np_pol *pol, struct manager_change *ch)
{
	int r;

	if (pol->n_bound > 0)
		return -EBUSY;
	if (np_dataplane_trie_get(m->dp, pol->id, &ch->old_trie_fd) < 0)
		ch->old_trie_fd = -EBADF;
	r = np_dataplane_remove(m->dp, pol->id);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Failed to remove policy '%s' from the kernel: %m",
				       pol->policy->name);
	m->pols[pol->id] = NULL;
	m->n_pols--;
	ch->pol = pol;
	return 0;
}

int manager_policy_stage(struct manager *m, enum manager_change_kind kind, struct np_pol *pol,
			 struct np_policy *p, struct np_compiled *c, int trie_fd, struct manager_change *ret)
{
	struct manager_change ch = {.kind = kind, .old_trie_fd = -EBADF};
	int r;

	r = manager_change_begin(m);
	if (r < 0)
		return r;
	switch (kind) {
	case MANAGER_POLICY_ADD:
		r = stage_add(m, p, c, trie_fd, &ch);
		break;
	case MANAGER_POLICY_REPLACE:
		r = stage_replace(m, pol, p, c, trie_fd, &ch);
		break;
	case MANAGER_POLICY_DELETE:
		r = stage_delete(m, pol, &ch);
		break;
	default:
		r = -EINVAL;
	}
	if (r < 0) {
		if (ch.old_trie_fd >= 0)
			close(ch.old_trie_fd);
		return r;
	}
	*ret = ch;
	return 0;
}

/* Back to what the saved state says. A trie kept at staging goes back in
 * one swap; without it, the old version is built again. */
static void unstage(struct manager *m, struct manager_change *ch)
{
	struct np_pol *pol = ch->pol;
	int r;

	switch (ch->kind) {
	case MANAGER_POLICY_ADD:
		(void)np_dataplane_remove(m->dp, pol->id);
		manager_unregister_policy(m, pol, true);
		return;
	case MANAGER_POLICY_REPLACE:
		np_policy_free(pol->policy);
		np_compiled_free(pol->compiled);
		pol->policy = TAKE_PTR(ch->policy);
		pol->compiled = TAKE_PTR(ch->compiled);
		break;
	case MANAGER_POLICY_DELETE:
		m->pols[pol->id] = pol;
		m->n_pols++;
		break;
	}
	r = publish(m, pol->id, pol->policy, pol->compiled, ch->old_trie_fd);
	if (r < 0)
		manager_rollback_failed(m, r, "the change of policy", pol->policy->name);
}

void manager_policy_settle(struct manager *m, struct manager_change *ch, int saved)
{
	struct np_pol *pol = ch->pol;

	if (saved < 0) {
		m->unsaved_file = NP_STATE_POLICIES_FILE;
		m->unsaved_error = saved;
		log_error_errno(saved,
				"Failed to save the state to '%s/" NP_STATE_POLICIES_FILE
				"'; undoing the change of "
				"policy '%s': %m",
				m->state_dir, pol->policy->name);
		unstage(m, ch);
	} else if (ch->kind == MANAGER_POLICY_ADD) {
		log_info("Added policy '%s' (id %u, %zu entries).", pol->policy->name, pol->id,
			 pol->compiled->n_entries);
		manager_policy_added(m, pol->policy->name);
	} else if (ch->kind == MANAGER_POLICY_REPLACE) {
		np_policy_free(TAKE_PTR(ch->policy));
		np_compiled_free(TAKE_PTR(ch->compiled));
		log_info("Updated policy '%s' (id %u, %zu entries).", pol->policy->name, pol->id,
			 pol->compiled->n_entries);
	} else {
		log_info("Deleted policy '%s' (id %u).", pol->policy->name, pol->id);
		manager_pol_free(pol);
	}
	if (saved >= 0)
		manager_notify_status(m);
	if (ch->old_trie_fd >= 0)
		close(ch->old_trie_fd);
	*ch = (struct manager_change){.old_trie_fd = -EBADF};
}

/* The target a source knows a "cgroup:/..." target as (a container's),
 * malloc()ed, or NULL. */
static char *owner_of_cgroup_target(struct manager *m, const char *target)
{
	_cleanup_free_ char *path = NULL;

	if (m->n_sources == 0 || strncmp(target, "cgroup:/", 8) != 0 ||
	    target_join_root(m->cgroup_root, target + 7, &path) < 0)
		return NULL;
	return manager_sources_target_of_cgroup(m, path);
}

char *manager_cgroup_target(struct manager *m, uint64_t cgroup_id)
{
	struct np_bind *b = manager_binding_by_cgroup(m, cgroup_id);
	_cleanup_free_ char *name = NULL;
	char *owner;

	if (b)
		return strdup(b->target);
	name = cgroup_names_get(&m->cgroup_names, cgroup_id);
	/* An unbound container (under the default) is named as the container. */
	owner = name ? owner_of_cgroup_target(m, name) : NULL;
	return owner ?: TAKE_PTR(name);
}

/* ---- events ---- */

static char *vops_target_name(void *userdata, uint64_t cgroup_id)
{
	return manager_cgroup_target(userdata, cgroup_id);
}

static const char *vops_policy_name(void *userdata, uint32_t policy_id)
{
	struct np_pol *pol = manager_policy_by_id(userdata, policy_id);

	return pol ? pol->policy->name : NULL;
}

char *manager_violation_target(struct manager *m, const struct violation *v)
{
	char *owner;

	if (!v->target)
		return NULL;
	/* Named before netpold knew the cgroup was a container's (podman's
	 * events come late): by the container now, if a source knows it. */
	owner = owner_of_cgroup_target(m, v->target);
	return owner ?: strdup(v->target);
}

/* json's target as known now, and the container it names. */
static int name_violation(struct manager *m, const struct violation *v, json_t *json)
{
	_cleanup_free_ char *target = manager_violation_target(m, v);
	json_t *info;

	if (!target)
		return 0;
	if (strcmp(target, v->target) != 0 && json_object_set_new(json, "target", json_string(target)) < 0)
		return -ENOMEM;
	info = manager_target_info(m, target);
	if (info && json_object_set_new(json, target_info_key(target), info) < 0)
		return -ENOMEM;
	return 0;
}

json_t *manager_violation_json(struct manager *m, const struct violation *v)
{
	json_t *j = violation_to_json(v);

	if (j && name_violation(m, v, j) < 0) {
		json_decref(j);
		return NULL;
	}
	return j;
}

static void vops_publish(void *userdata, const struct violation *v, json_t *json)
{
	struct manager *m = userdata;

	if (!m->publish)
		return;
	(void)name_violation(m, v, json);
	m->publish(m->publish_userdata, v, json);
}

static json_t *vops_describe(void *userdata, const struct violation *v)
{
	return manager_violation_json(userdata, v);
}

static const struct violations_ops vops = {
    .target_name = vops_target_name,
    .policy_name = vops_policy_name,
    .publish = vops_publish,
    .describe = vops_describe,
};

static int on_ring_readable(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	int r;

	/* A bounded batch: during a flood of denials the control socket
	 * still gets its turn; the ring's fd stays readable for the rest. */
	r = np_dataplane_events_consume(m->dp, 1024);
	if (r < 0)
		log_warning_errno(r, "Failed to read events from the ring buffer, ignoring: %m");
	return 0;
}

int manager_start_events(struct manager *m)
{
	int r, fd;

	r = violations_new(m->event, &vops, m, &m->violations);
	if (r < 0)
		return log_error_errno(r, "Failed to set up violation tracking: %m");
	r = np_dataplane_events_open(m->dp, violations_on_event, m->violations);
	if (r < 0)
		return log_error_errno(r, "Failed to open the event ring buffer: %m");
	fd = np_dataplane_events_fd(m->dp);
	if (fd < 0)
		return log_error_errno(fd, "Failed to get the ring buffer's epoll fd: %m");
	r = sd_event_add_io(m->event, &m->events_source, fd, EPOLLIN, on_ring_readable, m);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the event ring buffer: %m");
	return 0;
}
