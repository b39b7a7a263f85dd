/* SPDX-License-Identifier: GPL-2.0-only */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <systemd/sd-daemon.h>

#include "cleanup-util.h"
#include "log.h"
#include "manager.h"
#include "state-parse.h"
#include "state.h"
#include "violations.h"

/* Policies and bindings live in two files (state-parse.h), so that binding
 * a cgroup never rewrites (and fsyncs) every policy. Each is consistent on
 * its own: a bound policy cannot be deleted, and a binding names an
 * existing policy. */
#define STATE_MAX      (256u * 1024 * 1024)

#define CG_WALK_MAX    200000
#define CG_WALK_DEPTH  64
#define CG_REWALK_USEC (2ull * 1000000)

static int save_bindings(struct manager *m, const struct np_bind *exclude);
static void notify_status(struct manager *m);

static uint64_t now_usec(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000ull + (uint64_t)ts.tv_nsec / 1000;
}

static struct np_pol *pol_free(struct np_pol *pol)
{
	if (!pol)
		return NULL;
	np_policy_free(pol->policy);
	np_compiled_free(pol->compiled);
	free(pol);
	return NULL;
}

static void bind_done(struct np_bind *b)
{
	free(b->target);
	free(b->path);
}

void np_target_done(struct np_target *t)
{
	free(t->target);
	free(t->path);
	*t = (struct np_target){};
}

static void cg_names_clear(struct manager *m)
{
	for (size_t i = 0; i < m->n_cg_names; i++)
		free(m->cg_names[i].target);
	free(m->cg_names);
	m->cg_names = NULL;
	m->n_cg_names = 0;
}

struct manager *manager_free(struct manager *m)
{
	if (!m)
		return NULL;
	manager_pins_final(m);
	sd_event_source_disable_unref(m->pins_source);
	if (m->pins_inotify_fd >= 0)
		close(m->pins_inotify_fd);
	sd_event_source_disable_unref(m->events_source);
	sd_event_source_disable_unref(m->inotify_source);
	if (m->inotify_fd >= 0)
		close(m->inotify_fd);
	violations_free(m->violations);
	for (unsigned i = 0; i < NP_MAX_POLICIES; i++)
		pol_free(m->pols[i]);
	for (size_t i = 0; i < m->n_binds; i++)
		bind_done(&m->binds[i]);
	free(m->binds);
	cg_names_clear(m);
	np_dataplane_free(m->dp);
	config_done(&m->config);
	free(m->state_dir);
	free(m->cgroup_root);
	free(m->attach_cgroup);
	sd_event_unref(m->event);
	free(m);
	return NULL;
}

/* ---- cgroups that go away ---- */

/*
 * A removed cgroup's id is never reused, so its binding could only leak
 * (and fill np_bindings). rmdir of a cgroup is an IN_DELETE on its parent
 * directory: netpold watches the parent of every bound cgroup and drops the
 * bindings whose cgroup is gone, when it happens. A cgroup removed and
 * created again under the same name is a new cgroup: its binding goes too.
 */
static void watch_parent(struct manager *m, const char *path)
{
	_cleanup_free_ char *parent = strdup(path);
	char *slash = parent ? strrchr(parent, '/') : NULL;

	if (m->inotify_fd < 0 || !slash || slash == parent)
		return;
	*slash = '\0';
	/* Watching a directory twice returns the same watch. */
	if (inotify_add_watch(m->inotify_fd, parent, IN_DELETE | IN_ONLYDIR) < 0)
		log_warning_errno(-errno, "Cannot watch '%s' for removed cgroups; bindings of removed "
					  "cgroups stay until netpold restarts: %m",
				  parent);
}

static bool binding_gone(const struct np_bind *b)
{
	uint64_t id;
	int r = np_cgroup_id(b->path, &id);

	return r == -ENOENT || (r == 0 && id != b->cgroup_id);
}

static int on_removal(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool dir_removed = false;
	ssize_t n;

	/* Drain what is queued; only directory removals matter. */
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			dir_removed |= (e->mask & (IN_DELETE | IN_ISDIR)) == (IN_DELETE | IN_ISDIR);
			p += sizeof(*e) + e->len;
		}
	if (!dir_removed)
		return 0;
	/* From the end: dropping a binding moves the last one into its slot. */
	for (size_t i = m->n_binds; i-- > 0;) {
		if (!binding_gone(&m->binds[i]))
			continue;
		log_info("The cgroup of '%s' was removed; dropping its binding.", m->binds[i].target);
		(void)manager_unbind(m, &m->binds[i]);
	}
	return 0;
}

static int watch_removals(struct manager *m)
{
	int r;

	m->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->inotify_fd < 0)
		return log_error_errno(-errno, "Failed to create an inotify instance: %m");
	r = sd_event_add_io(m->event, &m->inotify_source, m->inotify_fd, EPOLLIN, on_removal, m);
	if (r < 0)
		return log_error_errno(r, "Failed to watch for removed cgroups: %m");
	return 0;
}

/* ---- opening the data plane ---- */

static int open_failed(int r, const struct manager *m, const char *pin_dir)
{
	switch (r) {
	case -ENOMEDIUM:
		return log_error_errno(r, "No cgroup2 file system is mounted; netpol needs cgroup2.");
	case -EPROTO:
		return log_error_errno(r, "cgroup2 socket matching is disabled (cgroup-v1 net_cls/net_prio in "
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

static int path_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n > 0 && dir[n - 1] == '/')
		n--;
	return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == '\0');
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
	m->inotify_fd = -EBADF;
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
	if (!path_below(m->attach_cgroup, m->cgroup_root))
		return log_error_errno(-EXDEV, "The attach cgroup '%s' is not below the cgroup root '%s'.",
				       m->attach_cgroup, m->cgroup_root);

	dpo.attach_cgroup = m->attach_cgroup;
	r = np_dataplane_open(&dpo, &m->dp, &m->adopted);
	if (r < 0)
		return open_failed(r, m, opts->pin_dir ?: NP_PIN_DIR_DEFAULT);
	log_info("%s the data plane in '%s', attached at '%s'.", m->adopted ? "Adopted" : "Created",
		 np_dataplane_pin_dir(m->dp), m->attach_cgroup);
	r = watch_removals(m);
	if (r < 0)
		return r;
	r = manager_watch_pins(m);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

/* ---- registry ---- */

struct np_pol *manager_policy_by_name(struct manager *m, const char *name)
{
	for (unsigned i = 1; i < NP_MAX_POLICIES; i++)
		if (m->pols[i] && strcmp(m->pols[i]->policy->name, name) == 0)
			return m->pols[i];
	return NULL;
}

struct np_pol *manager_policy_by_id(struct manager *m, uint32_t id)
{
	return id > 0 && id < NP_MAX_POLICIES ? m->pols[id] : NULL;
}

static int free_policy_id(struct manager *m, uint32_t *ret)
{
	for (uint32_t i = 1; i < NP_MAX_POLICIES; i++)
		if (!m->pols[i]) {
			*ret = i;
			return 0;
		}
	return -ENOSPC;
}

static int register_policy(struct manager *m, uint32_t id, struct np_policy *p, struct np_compiled *c,
			   struct np_pol **ret)
{
	struct np_pol *pol = calloc(1, sizeof(*pol));

	if (!pol)
		return -ENOMEM;
	*pol = (struct np_pol){.id = id, .policy = p, .compiled = c};
	m->pols[id] = pol;
	m->n_pols++;
	if (ret)
		*ret = pol;
	return 0;
}

static void unregister_policy(struct manager *m, struct np_pol *pol, bool free_content)
{
	m->pols[pol->id] = NULL;
	m->n_pols--;
	if (!free_content) {
		pol->policy = NULL;
		pol->compiled = NULL;
	}
	pol_free(pol);
}

/* ---- changes ---- */

/*
 * Every change goes kernel first, then the state file, and undoes the
 * kernel change if the save fails. What failed is kept for the reply
 * (manager.h: unsaved_file), since the errno alone cannot tell a full disk
 * from a full table. Without pins no change is made: it would be lost
 * when netpold stops and its programs detach.
 */
static int change_begin(struct manager *m)
{
	m->unsaved_file = NULL;
	m->unsaved_error = 0;
	m->rollback_failed = false;
	return manager_pins_check(m);
}

/* The kernel change of a failed save could not be undone: the kernel now
 * differs from the saved state until netpold restarts. */
static void rollback_failed(struct manager *m, int r, const char *what, const char *name)
{
	m->rollback_failed = true;
	log_error_errno(
	    r,
	    "Failed to roll back %s '%s' after the state could not be saved: %m. The kernel differs "
	    "from the saved state until netpold restarts.",
	    what, name);
}

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
	r = free_policy_id(m, &id);
	if (r < 0)
		return r;
	r = publish(m, id, p, c, trie_fd);
	if (r < 0)
		return log_error_errno(r, "Failed to install policy '%s' as id %u: %m", p->name, id);
	r = register_policy(m, id, p, c, &ch->pol);
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

	r = change_begin(m);
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
		unregister_policy(m, pol, true);
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
		rollback_failed(m, r, "the change of policy", pol->policy->name);
}

void manager_policy_settle(struct manager *m, struct manager_change *ch, int saved)
{
	struct np_pol *pol = ch->pol;

	if (saved < 0) {
		m->unsaved_file = NP_STATE_POLICIES_FILE;
		m->unsaved_error = saved;
		log_error_errno(saved,
				"Failed to save the state to '%s/" NP_STATE_POLICIES_FILE "'; undoing the change of "
				"policy '%s': %m",
				m->state_dir, pol->policy->name);
		unstage(m, ch);
	} else if (ch->kind == MANAGER_POLICY_ADD) {
		log_info("Added policy '%s' (id %u, %zu entries).", pol->policy->name, pol->id,
			 pol->compiled->n_entries);
	} else if (ch->kind == MANAGER_POLICY_REPLACE) {
		np_policy_free(TAKE_PTR(ch->policy));
		np_compiled_free(TAKE_PTR(ch->compiled));
		log_info("Updated policy '%s' (id %u, %zu entries).", pol->policy->name, pol->id,
			 pol->compiled->n_entries);
	} else {
		log_info("Deleted policy '%s' (id %u).", pol->policy->name, pol->id);
		pol_free(pol);
	}
	if (saved >= 0)
		notify_status(m);
	if (ch->old_trie_fd >= 0)
		close(ch->old_trie_fd);
	*ch = (struct manager_change){.old_trie_fd = -EBADF};
}

/* ---- targets ---- */

static int join_root(const char *root, const char *rel, char **ret)
{
	if (strcmp(rel, "/") == 0)
		*ret = strdup(root);
	else if (asprintf(ret, "%s%s", strcmp(root, "/") == 0 ? "" : root, rel) < 0)
		*ret = NULL;
	return *ret ? 0 : -ENOMEM;
}

static int check_cgroup_dir(const char *path, const char **why)
{
	struct statfs sfs;
	struct stat st;

	if (stat(path, &st) < 0) {
		*why = errno == ENOENT ? "no such cgroup" : "cannot access the cgroup";
		return errno == ENOENT ? -ENOENT : -errno;
	}
	if (!S_ISDIR(st.st_mode)) {
		*why = "not a cgroup directory";
		return -EXDEV;
	}
	if (statfs(path, &sfs) < 0)
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		*why = "not a directory on the cgroup2 file system";
		return -EXDEV;
	}
	return 0;
}

int manager_target_resolve(struct manager *m, const char *s, struct np_target *ret, const char **why)
{
	_cleanup_free_ char *rel = NULL, *path = NULL, *target = NULL;
	uint64_t id;
	int r;

	r = target_parse(s, &rel, why);
	if (r < 0)
		return r;
	r = join_root(m->cgroup_root, rel, &path);
	if (r < 0)
		return r;
	r = check_cgroup_dir(path, why);
	if (r < 0)
		return r;
	if (!path_below(path, m->attach_cgroup)) {
		*why = "the cgroup is outside the attach cgroup, where netpol's programs do not run";
		return -EXDEV;
	}
	r = np_cgroup_id(path, &id);
	if (r < 0) {
		*why = "cannot read the cgroup's id";
		return r;
	}
	if (asprintf(&target, "cgroup:%s", rel) < 0)
		return -ENOMEM;
	*ret = (struct np_target){.target = TAKE_PTR(target), .path = TAKE_PTR(path), .cgroup_id = id};
	return 0;
}

/* ---- bindings ---- */

struct np_bind *manager_binding_by_target(struct manager *m, const char *target)
{
	for (size_t i = 0; i < m->n_binds; i++)
		if (strcmp(m->binds[i].target, target) == 0)
			return &m->binds[i];
	return NULL;
}

struct np_bind *manager_binding_by_cgroup(struct manager *m, uint64_t cgroup_id)
{
	for (size_t i = 0; i < m->n_binds; i++)
		if (m->binds[i].cgroup_id == cgroup_id)
			return &m->binds[i];
	return NULL;
}

struct np_bind *manager_binding_for_path(struct manager *m, const char *path)
{
	struct np_bind *best = NULL;

	for (size_t i = 0; i < m->n_binds; i++)
		if (path_below(path, m->binds[i].path) &&
		    (!best || strlen(m->binds[i].path) > strlen(best->path)))
			best = &m->binds[i];
	return best;
}

static int push_binding(struct manager *m, const struct np_target *t, uint32_t policy_id,
			struct np_bind **ret)
{
	struct np_bind b = {.cgroup_id = t->cgroup_id, .policy_id = policy_id};

	if (m->n_binds == m->cap_binds) {
		size_t cap = m->cap_binds ? m->cap_binds * 2 : 16;
		struct np_bind *v = realloc(m->binds, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		m->binds = v;
		m->cap_binds = cap;
	}
	b.target = strdup(t->target);
	b.path = strdup(t->path);
	if (!b.target || !b.path) {
		bind_done(&b);
		return -ENOMEM;
	}
	m->binds[m->n_binds] = b;
	if (ret)
		*ret = &m->binds[m->n_binds];
	m->n_binds++;
	m->pols[policy_id]->n_bound++;
	watch_parent(m, t->path);
	return 0;
}

static void drop_binding(struct manager *m, struct np_bind *b)
{
	struct np_pol *pol = manager_policy_by_id(m, b->policy_id);

	if (pol && pol->n_bound > 0)
		pol->n_bound--;
	bind_done(b);
	*b = m->binds[--m->n_binds];
}

static void set_binding_policy(struct manager *m, struct np_bind *b, uint32_t policy_id)
{
	struct np_pol *old = manager_policy_by_id(m, b->policy_id);

	if (old && old->n_bound > 0)
		old->n_bound--;
	b->policy_id = policy_id;
	m->pols[policy_id]->n_bound++;
}

/* Re-applying to a bound cgroup replaces its policy in one map update. */
static int rebind(struct manager *m, struct np_bind *b, struct np_pol *pol)
{
	uint32_t old = b->policy_id;
	int r, k;

	r = np_dataplane_bind(m->dp, b->cgroup_id, pol->id);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s' to policy '%s': %m", b->target,
				       pol->policy->name);
	set_binding_policy(m, b, pol->id);
	r = save_bindings(m, NULL);
	if (r < 0) {
		k = np_dataplane_bind(m->dp, b->cgroup_id, old);
		if (k < 0)
			rollback_failed(m, k, "the binding of", b->target);
		set_binding_policy(m, b, old);
		return r;
	}
	return 0;
}

static struct np_bind *stale_binding(struct manager *m, const struct np_target *t)
{
	for (size_t i = 0; i < m->n_binds; i++)
		if (m->binds[i].cgroup_id != t->cgroup_id && strcmp(m->binds[i].target, t->target) == 0)
			return &m->binds[i];
	return NULL;
}

static int bind_new(struct manager *m, const struct np_target *t, struct np_pol *pol)
{
	struct np_bind *b, *stale;
	int r, k;

	if (m->n_binds >= NP_MAX_BINDINGS)
		return -ENOSPC;
	r = np_dataplane_bind(m->dp, t->cgroup_id, pol->id);
	if (r < 0)
		return log_error_errno(r, "Failed to bind '%s' to policy '%s': %m", t->target,
				       pol->policy->name);
	r = push_binding(m, t, pol->id, &b);
	if (r < 0) {
		(void)np_dataplane_unbind(m->dp, t->cgroup_id);
		return log_oom();
	}
	/* The same name may still be bound to a cgroup that was removed and
	 * created again: that stale id goes with this change. */
	stale = stale_binding(m, t);
	r = save_bindings(m, stale);
	if (r < 0) {
		k = np_dataplane_unbind(m->dp, t->cgroup_id);
		if (k < 0)
			rollback_failed(m, k, "the binding of", t->target);
		drop_binding(m, b);
		return r;
	}
	if (stale) {
		(void)np_dataplane_unbind(m->dp, stale->cgroup_id);
		drop_binding(m, stale);
	}
	return 0;
}

int manager_bind(struct manager *m, const struct np_target *t, struct np_pol *pol, struct np_bind **ret)
{
	struct np_bind *b = manager_binding_by_cgroup(m, t->cgroup_id);
	int r;

	r = change_begin(m);
	if (r < 0)
		return r;
	if (b)
		r = rebind(m, b, pol);
	else
		r = bind_new(m, t, pol);
	if (r < 0)
		return r;
	log_info("Bound '%s' (cgroup id %llu) to policy '%s'.", t->target, (unsigned long long)t->cgroup_id,
		 pol->policy->name);
	if (ret)
		*ret = manager_binding_by_cgroup(m, t->cgroup_id);
	return 0;
}

int manager_unbind(struct manager *m, struct np_bind *b)
{
	_cleanup_free_ char *target = strdup(b->target), *path = strdup(b->path);
	struct np_target t = {.target = target, .path = path, .cgroup_id = b->cgroup_id};
	uint32_t policy_id = b->policy_id;
	int r, k;

	r = change_begin(m);
	if (r < 0)
		return r;
	if (!target || !path)
		return log_oom();
	r = np_dataplane_unbind(m->dp, t.cgroup_id);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Failed to unbind '%s': %m", target);
	drop_binding(m, b);
	r = save_bindings(m, NULL);
	if (r < 0) {
		k = np_dataplane_bind(m->dp, t.cgroup_id, policy_id);
		if (k >= 0)
			k = push_binding(m, &t, policy_id, NULL);
		if (k < 0)
			rollback_failed(m, k, "the unbinding of", target);
		return r;
	}
	log_info("Unbound '%s'.", target);
	return 0;
}

/* ---- naming cgroups ---- */

static int cg_name_cmp(const void *a, const void *b)
{
	const struct cg_name *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

struct cg_walk {
	struct cg_name *v;
	size_t n, cap;
	size_t root_len; /* strlen(cgroup root) */
};

static int walk_add(struct cg_walk *w, const char *path)
{
	uint64_t id;

	if (w->n >= CG_WALK_MAX)
		return -E2BIG;
	if (np_cgroup_id(path, &id) < 0)
		return 0; /* vanished meanwhile */
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 256;
		struct cg_name *v = realloc(w->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		w->v = v;
		w->cap = cap;
	}
	if (asprintf(&w->v[w->n].target, "cgroup:%s", path[w->root_len] ? path + w->root_len : "/") < 0)
		return -ENOMEM;
	w->v[w->n++].id = id;
	return 0;
}

static int walk_dir(struct cg_walk *w, const char *path, unsigned depth)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	int r;

	r = walk_add(w, path);
	if (r < 0 || depth >= CG_WALK_DEPTH)
		return r;
	d = opendir(path);
	if (!d)
		return 0;
	while ((de = readdir(d))) {
		_cleanup_free_ char *sub = NULL;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if (asprintf(&sub, "%s/%s", path, de->d_name) < 0)
			return -ENOMEM;
		r = walk_dir(w, sub, depth + 1);
		if (r < 0)
			return r;
	}
	return 0;
}

/* One walk of the attach cgroup's subtree names every cgroup the programs
 * can report; rate-limited, since events may name cgroups that are gone. */
static void cg_names_refresh(struct manager *m)
{
	struct cg_walk w = {.root_len = strcmp(m->cgroup_root, "/") == 0 ? 0 : strlen(m->cgroup_root)};
	uint64_t now = now_usec(CLOCK_MONOTONIC);
	int r;

	if (m->cg_walked_usec && now - m->cg_walked_usec < CG_REWALK_USEC)
		return;
	m->cg_walked_usec = now;
	r = walk_dir(&w, m->attach_cgroup, 0);
	if (r < 0 && r != -E2BIG) {
		log_warning_errno(r, "Failed to walk the cgroups below '%s', ignoring: %m", m->attach_cgroup);
		for (size_t i = 0; i < w.n; i++)
			free(w.v[i].target);
		free(w.v);
		return;
	}
	qsort(w.v, w.n, sizeof(*w.v), cg_name_cmp);
	cg_names_clear(m);
	m->cg_names = w.v;
	m->n_cg_names = w.n;
}

static const char *cg_name_lookup(struct manager *m, uint64_t id)
{
	struct cg_name key = {.id = id}, *found;

	if (!m->cg_names)
		return NULL;
	found = bsearch(&key, m->cg_names, m->n_cg_names, sizeof(key), cg_name_cmp);
	return found ? found->target : NULL;
}

char *manager_cgroup_target(struct manager *m, uint64_t cgroup_id)
{
	struct np_bind *b = manager_binding_by_cgroup(m, cgroup_id);
	const char *name;
	char *s;

	if (b)
		return strdup(b->target);
	name = cg_name_lookup(m, cgroup_id);
	if (!name) {
		cg_names_refresh(m);
		name = cg_name_lookup(m, cgroup_id);
	}
	if (name)
		return strdup(name);
	if (asprintf(&s, "cgroup-id:%llu", (unsigned long long)cgroup_id) < 0)
		return NULL;
	return s;
}

/* ---- persistence ---- */

struct manager_snapshot {
	char *state_dir;
	size_t n;
	struct {
		uint32_t id;
		const struct np_policy *policy;
	} pols[];
};

struct manager_snapshot *manager_snapshot_free(struct manager_snapshot *s)
{
	if (s)
		free(s->state_dir);
	free(s);
	return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct manager_snapshot *, manager_snapshot_free);

int manager_policies_snapshot(struct manager *m, struct manager_snapshot **ret)
{
	_cleanup_(manager_snapshot_freep) struct manager_snapshot *s = NULL;

	s = calloc(1, sizeof(*s) + m->n_pols * sizeof(s->pols[0]));
	if (!s)
		return -ENOMEM;
	s->state_dir = strdup(m->state_dir);
	if (!s->state_dir)
		return -ENOMEM;
	for (unsigned i = 1; i < NP_MAX_POLICIES && s->n < m->n_pols; i++)
		if (m->pols[i]) {
			s->pols[s->n].id = i;
			s->pols[s->n++].policy = m->pols[i]->policy;
		}
	*ret = TAKE_PTR(s);
	return 0;
}

static json_t *policies_to_json(const struct manager_snapshot *s)
{
	_cleanup_json_ json_t *pols = json_array();

	if (!pols)
		return NULL;
	for (size_t i = 0; i < s->n; i++) {
		json_t *p = np_policy_to_json(s->pols[i].policy);

		if (!p || json_array_append_new(
			      pols, json_pack("{s:i, s:o}", "id", (int)s->pols[i].id, "policy", p)) < 0)
			return NULL;
	}
	return json_pack("{s:i, s:o}", "version", NP_STATE_VERSION, "policies", TAKE_PTR(pols));
}

int manager_snapshot_write(const struct manager_snapshot *s)
{
	_cleanup_json_ json_t *j = policies_to_json(s);
	_cleanup_free_ char *text = NULL;

	if (!j)
		return -ENOMEM;
	text = json_dumps(j, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (!text)
		return -ENOMEM;
	return state_write_atomic(s->state_dir, NP_STATE_POLICIES_FILE, text, strlen(text), 0600);
}

static json_t *bindings_to_json(struct manager *m, const struct np_bind *exclude)
{
	_cleanup_json_ json_t *binds = json_array();

	if (!binds)
		return NULL;
	for (size_t i = 0; i < m->n_binds; i++) {
		struct np_pol *pol = manager_policy_by_id(m, m->binds[i].policy_id);

		if (&m->binds[i] == exclude)
			continue;
		if (json_array_append_new(binds, json_pack("{s:s, s:s}", "target", m->binds[i].target,
							   "policy", pol ? pol->policy->name : "")) < 0)
			return NULL;
	}
	return json_pack("{s:i, s:o}", "version", NP_STATE_VERSION, "bindings", TAKE_PTR(binds));
}

static void notify_status(struct manager *m)
{
	(void)sd_notifyf(0, "STATUS=Enforcing %u policies on %zu cgroups.", m->n_pols, m->n_binds);
}

static int save_json(struct manager *m, const char *file, json_t *j /* stolen */)
{
	_cleanup_json_ json_t *owned = j;
	_cleanup_free_ char *text = NULL;
	int r;

	if (!owned)
		return log_oom();
	text = json_dumps(owned, JSON_INDENT(1) | JSON_ENSURE_ASCII);
	if (!text)
		return log_oom();
	r = state_write_atomic(m->state_dir, file, text, strlen(text), 0600);
	if (r < 0) {
		m->unsaved_file = file;
		m->unsaved_error = r;
		return log_error_errno(r, "Failed to save the state to '%s/%s': %m", m->state_dir, file);
	}
	notify_status(m);
	return 0;
}

static int save_policies(struct manager *m)
{
	_cleanup_(manager_snapshot_freep) struct manager_snapshot *s = NULL;
	int r;

	r = manager_policies_snapshot(m, &s);
	if (r < 0)
		return log_oom();
	r = manager_snapshot_write(s);
	if (r < 0) {
		m->unsaved_file = NP_STATE_POLICIES_FILE;
		m->unsaved_error = r;
		return log_error_errno(r, "Failed to save the state to '%s/" NP_STATE_POLICIES_FILE "': %m",
				       m->state_dir);
	}
	notify_status(m);
	return 0;
}

/* exclude: a binding left out of the file (one that is going away). */
static int save_bindings(struct manager *m, const struct np_bind *exclude)
{
	return save_json(m, NP_STATE_BINDINGS_FILE, bindings_to_json(m, exclude));
}

int manager_save(struct manager *m)
{
	int r = save_policies(m);

	return r < 0 ? r : save_bindings(m, NULL);
}

/* ---- restore ---- */

/*
 * Bad state never lifts a policy: the whole state is read and checked (the
 * files by np_state_parse(), then the targets against the cgroup tree)
 * before anything in the kernel changes, and whatever is wrong stops the
 * start with one message naming the file and the entry. The pinned
 * programs go on enforcing what they had until the state is fixed.
 */
static int refuse(struct manager *m, const char *file, const char *entry, const char *reason)
{
	return log_error_errno(
	    -EINVAL,
	    "Refusing to start: %s/%s: %s%s%s. The kernel keeps enforcing what it had; fix "
	    "the state and start netpold again.",
	    m->state_dir, file, entry, entry[0] ? ": " : "", reason);
}

/* dir/file into *t; t->text stays NULL when the file does not exist. */
static int read_state_file(struct manager *m, const char *file, struct np_state_text *t)
{
	char *text = NULL;
	int r;

	r = state_read(m->state_dir, file, STATE_MAX, &text, &t->len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Refusing to start: cannot read '%s/%s': %m", m->state_dir, file);
	t->text = text;
	return 0;
}

static int load_state(struct manager *m, struct np_saved_state *ret)
{
	struct np_state_files f = {};
	struct np_state_error err;
	int r;

	r = read_state_file(m, NP_STATE_POLICIES_FILE, &f.policies);
	if (r >= 0)
		r = read_state_file(m, NP_STATE_BINDINGS_FILE, &f.bindings);
	if (r >= 0 && !f.policies.text && !f.bindings.text)
		r = read_state_file(m, NP_STATE_LEGACY_FILE, &f.legacy);
	if (r >= 0) {
		r = np_state_parse(&f, ret, &err);
		if (r == -ENOMEM)
			r = log_oom();
		else if (r < 0)
			r = refuse(m, err.file, err.entry, err.reason);
	}
	free((char *)f.policies.text);
	free((char *)f.bindings.text);
	free((char *)f.legacy.text);
	return r;
}

static int count_binding(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	(*(size_t *)userdata)++;
	return 0;
}

/* Without bindings in the state, the kernel's bindings would all be lifted:
 * only right when the kernel has none (a first start, or one cut short
 * before bindings.json was first written). */
static int check_state_covers_kernel(struct manager *m, const struct np_saved_state *s)
{
	size_t n = 0;
	int r;

	if (s->source != NP_STATE_NONE && s->source != NP_STATE_POLICIES_ONLY)
		return 0;
	r = np_dataplane_bindings_foreach(m->dp, count_binding, &n);
	if (r < 0)
		return log_error_errno(r, "Failed to read the kernel's bindings: %m");
	if (n == 0)
		return 0;
	if (s->source == NP_STATE_POLICIES_ONLY)
		return log_error_errno(
		    -ENOENT,
		    "Refusing to start: %s/" NP_STATE_BINDINGS_FILE " is missing, but the "
		    "pins in '%s' hold %zu binding(s) of cgroups to policies; starting without it "
		    "would lift them. Restore the file (or remove the pins to start afresh).",
		    m->state_dir, np_dataplane_pin_dir(m->dp), n);
	return log_error_errno(
	    -ENOENT,
	    "Refusing to start: the state directory '%s' holds no state (" NP_STATE_POLICIES_FILE
	    " and " NP_STATE_BINDINGS_FILE " are missing), but the pins in '%s' hold %zu "
	    "binding(s) of cgroups to policies; starting empty would lift them. Restore the "
	    "state files (or remove the pins to start afresh).",
	    m->state_dir, np_dataplane_pin_dir(m->dp), n);
}

static int target_id_cmp(const void *a, const void *b)
{
	const struct np_target *const *x = a, *const *y = b;

	return (*x)->cgroup_id < (*y)->cgroup_id ? -1 : (*x)->cgroup_id > (*y)->cgroup_id;
}

/* Two targets of one cgroup: the kernel holds one binding per cgroup. */
static int check_distinct_cgroups(struct manager *m, const struct np_saved_state *s, struct np_target *t)
{
	_cleanup_free_ struct np_target **v = calloc(s->n_bindings ?: 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return log_oom();
	for (size_t i = 0; i < s->n_bindings; i++)
		if (t[i].target)
			v[n++] = &t[i];
	qsort(v, n, sizeof(*v), target_id_cmp);
	for (size_t i = 1; i < n; i++)
		if (v[i - 1]->cgroup_id == v[i]->cgroup_id) {
			char entry[160];

			snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')", (size_t)(v[i] - t),
				 v[i]->target);
			return refuse(m, np_state_bindings_file(s), entry,
				      "names the same cgroup as another binding");
		}
	return 0;
}

/* The state's targets as cgroups (ret[i] for bindings[i]). A cgroup that is
 * gone polices nothing and its id is never reused: that binding is dropped
 * (ret[i].target NULL). Any other target that does not resolve is bad state. */
static int resolve_bindings(struct manager *m, const struct np_saved_state *s, struct np_target **ret)
{
	const char *file = np_state_bindings_file(s);
	struct np_target *t = calloc(s->n_bindings ?: 1, sizeof(*t));
	int r = 0;

	if (!t)
		return log_oom();
	for (size_t i = 0; i < s->n_bindings && r >= 0; i++) {
		const char *why = "";
		char entry[160];

		r = manager_target_resolve(m, s->bindings[i].target, &t[i], &why);
		if (r == -ENOMEM) {
			r = log_oom();
		} else if (r == -ENOENT) {
			log_warning("%s/%s: bindings[%zu]: the cgroup of '%s' is gone; dropping its binding.",
				    m->state_dir, file, i, s->bindings[i].target);
			r = 0;
		} else if (r < 0) {
			snprintf(entry, sizeof(entry), "bindings[%zu] (target '%s')", i,
				 s->bindings[i].target);
			r = refuse(m, file, entry, why);
		}
	}
	if (r >= 0)
		r = check_distinct_cgroups(m, s, t);
	if (r < 0) {
		for (size_t i = 0; i < s->n_bindings; i++)
			np_target_done(&t[i]);
		free(t);
		return r;
	}
	*ret = t;
	return 0;
}

/* The same content under the same ids: an atomic replace of identical
 * tries, so a restart opens no window. */
static int install_state(struct manager *m, struct np_saved_state *s, const struct np_target *t)
{
	int r;

	for (size_t i = 0; i < s->n_policies; i++) {
		struct np_state_policy *p = &s->policies[i];

		r = np_dataplane_install(m->dp, p->id, p->policy->name, p->compiled);
		if (r < 0)
			return log_error_errno(r, "Failed to re-install policy '%s' (id %u): %m",
					       p->policy->name, p->id);
		r = register_policy(m, p->id, p->policy, p->compiled, NULL);
		if (r < 0)
			return log_oom();
		p->policy = NULL;
		p->compiled = NULL;
	}
	for (size_t i = 0; i < s->n_bindings; i++) {
		if (!t[i].target)
			continue;
		r = np_dataplane_bind(m->dp, t[i].cgroup_id, s->bindings[i].policy_id);
		if (r < 0)
			return log_error_errno(r, "Failed to re-bind '%s': %m", t[i].target);
		r = push_binding(m, &t[i], s->bindings[i].policy_id, NULL);
		if (r < 0)
			return log_oom();
	}
	return 0;
}

/* The source of the state, or <0 (logged). */
static int restore_state(struct manager *m)
{
	_cleanup_(np_state_done) struct np_saved_state s = {};
	struct np_target *t = NULL;
	int r;

	r = load_state(m, &s);
	if (r < 0)
		return r;
	r = resolve_bindings(m, &s, &t);
	if (r < 0)
		return r;
	r = check_state_covers_kernel(m, &s);
	if (r >= 0)
		r = install_state(m, &s, t);
	for (size_t i = 0; i < s.n_bindings; i++)
		np_target_done(&t[i]);
	free(t);
	return r < 0 ? r : (int)s.source;
}

struct id_list {
	uint64_t *v;
	size_t n, cap;
};

static int collect_stale_binding(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	struct manager *m = ((void **)userdata)[0];
	struct id_list *l = ((void **)userdata)[1];
	struct np_bind *b = manager_binding_by_cgroup(m, cgroup_id);

	if (b && b->policy_id == policy_id)
		return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint64_t *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = cgroup_id;
	return 0;
}

static void log_stale_binding(struct manager *m, uint64_t cgroup_id)
{
	_cleanup_free_ char *name = manager_cgroup_target(m, cgroup_id);

	log_warning("Removed the binding of '%s' (cgroup id %llu): the state does not list it, so it "
		    "was never acknowledged.",
		    name ?: "?", (unsigned long long)cgroup_id);
}

/* The kernel follows the state (after ours were re-established): what the
 * state does not list is a change netpold made but never acknowledged,
 * because it stopped between the kernel change and the save; that change is
 * rolled back. A state without bindings never gets here while the kernel
 * has some (check_state_covers_kernel()). */
static int reconcile(struct manager *m)
{
	struct id_list stale = {};
	void *ud[2] = {m, &stale};
	char name[NP_POLICY_NAME_MAX];
	int r;

	r = np_dataplane_bindings_foreach(m->dp, collect_stale_binding, ud);
	if (r < 0) {
		free(stale.v);
		return log_error_errno(r, "Failed to read the kernel's bindings: %m");
	}
	for (size_t i = 0; i < stale.n; i++) {
		r = np_dataplane_unbind(m->dp, stale.v[i]);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(
			    r, "Failed to remove the stale binding of cgroup id %llu, ignoring: %m",
			    (unsigned long long)stale.v[i]);
		else
			log_stale_binding(m, stale.v[i]);
	}
	free(stale.v);

	for (uint32_t id = 1; id < NP_MAX_POLICIES; id++) {
		if (m->pols[id] || np_dataplane_policy_name(m->dp, id, name) < 0)
			continue;
		r = np_dataplane_remove(m->dp, id);
		if (r < 0 && r != -ENOENT)
			log_warning_errno(r, "Failed to remove stale policy '%s' (id %u), ignoring: %m", name,
					  id);
		else
			log_notice("Removed policy '%s' (id %u), which the state does not list.", name, id);
	}
	return 0;
}

static int install_presets(struct manager *m)
{
	for (const char *const *n = np_preset_names(); *n; n++) {
		_cleanup_(np_policy_freep) struct np_policy *p = NULL;
		_cleanup_(np_compiled_freep) struct np_compiled *c = NULL;
		struct np_error err = {};
		uint32_t id;
		int r;

		r = np_policy_from_string(np_preset_json(*n), &p, &err);
		if (r >= 0)
			r = np_policy_compile(p, &c, &err);
		if (r < 0)
			return log_error_errno(r, "Built-in policy '%s' does not compile: %s: %s", *n,
					       err.field, err.message);
		r = free_policy_id(m, &id);
		if (r < 0)
			return log_error_errno(r, "No policy id left for built-in policy '%s'.", *n);
		r = np_dataplane_install(m->dp, id, p->name, c);
		if (r < 0)
			return log_error_errno(r, "Failed to install built-in policy '%s': %m", *n);
		r = register_policy(m, id, p, c, NULL);
		if (r < 0)
			return log_oom();
		TAKE_PTR(p);
		TAKE_PTR(c);
	}
	return 0;
}

int manager_restore(struct manager *m)
{
	bool first;
	int r;

	r = state_dir_ensure(m->state_dir);
	if (r < 0)
		return log_error_errno(r, "Failed to create the state directory '%s': %m", m->state_dir);
	r = restore_state(m);
	if (r < 0)
		return r;
	first = r == NP_STATE_NONE;
	r = reconcile(m);
	if (r < 0)
		return r;
	if (first) {
		r = install_presets(m);
		if (r < 0)
			return r;
		log_info("First start: created the built-in policies; nothing is bound.");
	}
	r = manager_save(m);
	if (r < 0)
		return r;
	/* Saved in the two-file layout: a version-1 state.json has served. */
	r = state_remove(m->state_dir, NP_STATE_LEGACY_FILE);
	if (r < 0)
		log_warning_errno(r, "Failed to remove the old '%s/" NP_STATE_LEGACY_FILE "', ignoring: %m",
				  m->state_dir);
	log_info("Restored %u policies and %zu bindings.", m->n_pols, m->n_binds);
	return 0;
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

static void vops_publish(void *userdata, const struct violation *v, json_t *json)
{
	struct manager *m = userdata;

	if (m->publish)
		m->publish(m->publish_userdata, v, json);
}

static const struct violations_ops vops = {
    .target_name = vops_target_name,
    .policy_name = vops_policy_name,
    .publish = vops_publish,
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
