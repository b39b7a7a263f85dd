/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane's owner in user space. Skeleton lifecycle: open, pin paths
 * (libbpf then reuses what is pinned), load, attach or adopt the pinned links,
 * then fill maps at run time. Policy lives in maps; a new loader replaces the
 * programs inside the pinned links (BPF_LINK_UPDATE) and never detaches.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "cleanup-util.h"
#include "dataplane.h"
#include "netpol.skel.h"

#define NP_N_PROGS 6

struct np_dataplane {
	struct netpol_bpf *skel;
	char *pin_dir;
	char *cgroup_root;
	char *attach_cgroup;
	int lock_fd; /* flock()ed pin directory, for our lifetime */
	struct bpf_link *links[NP_N_PROGS];
	struct np_state *state; /* mmap of np_state[0] */
	size_t state_len;
	struct ring_buffer *rb;
	void (*event_cb)(const struct np_event *e, void *userdata);
	void *event_userdata;
	unsigned event_budget; /* of this consume call; 0: unbounded */
	unsigned event_count;
};

static struct bpf_program *np_prog(struct netpol_bpf *skel, unsigned i)
{
	struct bpf_program *progs[NP_N_PROGS] = {
	    skel->progs.np_connect4, skel->progs.np_connect6,	skel->progs.np_sendmsg4,
	    skel->progs.np_sendmsg6, skel->progs.np_egress_skb, skel->progs.np_sock_create_prog,
	};
	return progs[i];
}

struct np_dataplane *np_dataplane_free(struct np_dataplane *dp)
{
	if (!dp)
		return NULL;
	ring_buffer__free(dp->rb);
	/* Closing a pinned link's fd leaves it attached. */
	for (unsigned i = 0; i < NP_N_PROGS; i++)
		bpf_link__destroy(dp->links[i]);
	if (dp->state)
		munmap(dp->state, dp->state_len);
	netpol_bpf__destroy(dp->skel);
	free(dp->pin_dir);
	free(dp->cgroup_root);
	free(dp->attach_cgroup);
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	free(dp);
	return NULL;
}

static int path_join(char **ret, const char *dir, const char *name)
{
	if (asprintf(ret, "%s/%s", dir, name) < 0)
		return -ENOMEM;
	return 0;
}

/* The attach cgroup must be a directory on the cgroup2 mount. */
static int check_attach_cgroup(const char *root, const char *path)
{
	struct statfs sfs;
	size_t n = strlen(root);

	if (strncmp(path, root, n) != 0 || (path[n] != '/' && path[n] != '\0'))
		return -EXDEV;
	if (statfs(path, &sfs) < 0)
		return -errno;
	if (sfs.f_type != CGROUP2_SUPER_MAGIC)
		return -EXDEV;
	return 0;
}

static int set_pin_paths(struct np_dataplane *dp, bool *any_pinned)
{
	struct bpf_map *map;
	int r;

	*any_pinned = false;
	bpf_object__for_each_map(map, dp->skel->obj) {
		_cleanup_free_ char *path = NULL;
		const char *name = bpf_map__name(map);

		/* Only our own maps: .rodata and friends stay private. */
		if (strncmp(name, "np_", 3) != 0)
			continue;
		r = path_join(&path, dp->pin_dir, name);
		if (r < 0)
			return r;
		if (access(path, F_OK) == 0)
			*any_pinned = true;
		r = bpf_map__set_pin_path(map, path);
		if (r < 0)
			return r;
	}
	return 0;
}

static int map_state(struct np_dataplane *dp, bool adopted)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	dp->state_len = (size_t)page;
	p = mmap(NULL, dp->state_len, PROT_READ | PROT_WRITE, MAP_SHARED, bpf_map__fd(dp->skel->maps.np_state),
		 0);
	if (p == MAP_FAILED)
		return -errno;
	dp->state = p;
	if (!adopted)
		__atomic_store_n(&dp->state->abi, NP_ABI_VERSION, __ATOMIC_SEQ_CST);
	else if (__atomic_load_n(&dp->state->abi, __ATOMIC_SEQ_CST) != NP_ABI_VERSION)
		return -ESTALE; /* pinned by an incompatible version */
	return 0;
}

static int link_cgroup_id(int link_fd, uint64_t *ret)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len) < 0)
		return -errno;
	if (info.type != BPF_LINK_TYPE_CGROUP)
		return -EINVAL;
	*ret = info.cgroup.cgroup_id;
	return 0;
}

/* Attach program i at the attach cgroup, or swap it into the pinned link. */
static int attach_or_adopt(struct np_dataplane *dp, unsigned i, int cgroup_fd, uint64_t cgroup_id)
{
	struct bpf_program *prog = np_prog(dp->skel, i);
	_cleanup_free_ char *path = NULL;
	_cleanup_free_ char *name = NULL;
	struct bpf_link *link;
	uint64_t linked_cgroup = 0;
	int r;

	if (asprintf(&name, "link_%s", bpf_program__name(prog)) < 0)
		return -ENOMEM;
	r = path_join(&path, dp->pin_dir, name);
	if (r < 0)
		return r;

	/* access() first: bpf_link__open() prints when the pin is absent. */
	if (access(path, F_OK) == 0) {
		link = bpf_link__open(path);
		if (!link)
			return -errno;
		dp->links[i] = link;
		r = link_cgroup_id(bpf_link__fd(link), &linked_cgroup);
		if (r < 0)
			return r;
		if (linked_cgroup != cgroup_id)
			return -EEXIST; /* pinned for another attach cgroup */
		/* Atomic: the cgroup never runs without a program. */
		return bpf_link__update_program(link, prog);
	}
	if (errno != ENOENT)
		return -errno;

	link = bpf_program__attach_cgroup(prog, cgroup_fd);
	if (!link)
		return -errno;
	dp->links[i] = link;
	return bpf_link__pin(link, path);
}

/* Pinned links of programs that earlier loaders attached and this one does
 * not: their work is done by the programs just attached, so they go only
 * after those run, and the cgroup never lacks enforcement. */
static const char *const retired_links[] = {
    "link_np_sockops_prog", /* accepted sockets: now np_tcp_has_backlog() */
};

static int retire_links(struct np_dataplane *dp)
{
	for (size_t i = 0; i < ELEMENTSOF(retired_links); i++) {
		_cleanup_free_ char *path = NULL;
		_cleanup_close_ int fd = -EBADF;
		int r;

		r = path_join(&path, dp->pin_dir, retired_links[i]);
		if (r < 0)
			return r;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			if (errno == ENOENT)
				continue;
			return -errno;
		}
		if (bpf_link_detach(fd) < 0)
			return -errno;
		if (unlink(path) < 0 && errno != ENOENT)
			return -errno;
	}
	return 0;
}

/* One owner per pin directory, for as long as it runs: two would create
 * and pin at once, and later undo each other's changes. A directory that
 * was removed and made again is locked anew. */
static int lock_pin_dir(struct np_dataplane *dp)
{
	_cleanup_close_ int fd = open(dp->pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct stat now, held;

	if (fd < 0)
		return -errno;
	if (dp->lock_fd >= 0 && fstat(fd, &now) == 0 && fstat(dp->lock_fd, &held) == 0 &&
	    now.st_dev == held.st_dev && now.st_ino == held.st_ino)
		return 0;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	if (dp->lock_fd >= 0)
		close(dp->lock_fd);
	dp->lock_fd = TAKE_FD(fd);
	return 0;
}

int np_dataplane_open(const struct np_dataplane_opts *opts, struct np_dataplane **ret, bool *adopted)
{
	_cleanup_(np_dataplane_freep) struct np_dataplane *dp = NULL;
	_cleanup_close_ int cgroup_fd = -EBADF;
	uint64_t cgroup_id;
	bool pinned;
	int r;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	dp->lock_fd = -EBADF;
	dp->pin_dir = strdup(opts && opts->pin_dir ? opts->pin_dir : NP_PIN_DIR_DEFAULT);
	if (!dp->pin_dir)
		return -ENOMEM;

	r = np_cgroup2_mount(&dp->cgroup_root);
	if (r < 0)
		return r;
	dp->attach_cgroup = strdup(opts && opts->attach_cgroup ? opts->attach_cgroup : dp->cgroup_root);
	if (!dp->attach_cgroup)
		return -ENOMEM;
	r = check_attach_cgroup(dp->cgroup_root, dp->attach_cgroup);
	if (r < 0)
		return r;
	r = np_cgroup_socket_matching_ok();
	if (r < 0)
		return r;
	r = np_cgroup_id(dp->attach_cgroup, &cgroup_id);
	if (r < 0)
		return r;
	cgroup_fd = open(dp->attach_cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0)
		return -errno;

	r = np_bpffs_ensure(dp->pin_dir);
	if (r < 0)
		return r;
	r = lock_pin_dir(dp);
	if (r < 0)
		return r;

	dp->skel = netpol_bpf__open();
	if (!dp->skel)
		return -errno;
	r = set_pin_paths(dp, &pinned);
	if (r < 0)
		return r;
	r = netpol_bpf__load(dp->skel);
	if (r < 0)
		return r;
	r = map_state(dp, pinned);
	if (r < 0)
		return r;
	for (unsigned i = 0; i < NP_N_PROGS; i++) {
		r = attach_or_adopt(dp, i, cgroup_fd, cgroup_id);
		if (r < 0)
			return r;
	}
	r = retire_links(dp);
	if (r < 0)
		return r;

	if (adopted)
		*adopted = pinned;
	*ret = TAKE_PTR(dp);
	return 0;
}

int np_dataplane_unpin(struct np_dataplane *dp)
{
	struct bpf_map *map;
	int r = 0;

	for (unsigned i = 0; i < NP_N_PROGS; i++)
		if (dp->links[i] && bpf_link__pin_path(dp->links[i]))
			(void)bpf_link__unpin(dp->links[i]);
	/* Links opened from a pin carry no pin path: remove by name. */
	for (unsigned i = 0; i < NP_N_PROGS; i++) {
		_cleanup_free_ char *path = NULL;

		if (asprintf(&path, "%s/link_%s", dp->pin_dir, bpf_program__name(np_prog(dp->skel, i))) < 0)
			return -ENOMEM;
		if (unlink(path) < 0 && errno != ENOENT)
			r = -errno;
	}
	bpf_object__for_each_map(map, dp->skel->obj)
		if (bpf_map__pin_path(map) && bpf_map__unpin(map, NULL) < 0 && errno != ENOENT)
			r = -errno;
	if (rmdir(dp->pin_dir) < 0 && errno != ENOENT)
		r = r ?: -errno;
	return r;
}

int np_dataplane_detach(struct np_dataplane *dp)
{
	int r = 0;

	for (unsigned i = 0; i < NP_N_PROGS; i++)
		if (dp->links[i] && bpf_link__detach(dp->links[i]) < 0 && errno != ENOLINK && r == 0)
			r = -errno;
	return r;
}

/* A netpol pin name: our maps ("np_" prefix, as set_pin_paths() pins
 * them) and links ("link_" and a program's name, the retired ones too). */
static bool is_our_pin(const char *name)
{
	return strncmp(name, "np_", 3) == 0 || strncmp(name, "link_", 5) == 0;
}

int np_dataplane_remove_pins(const char *pin_dir, unsigned *ret_links, unsigned *ret_maps)
{
	_cleanup_(closedirp) DIR *d = NULL;
	unsigned links = 0, maps = 0;
	struct dirent *de;
	struct statfs sfs;
	int r = 0;

	if (statfs(pin_dir, &sfs) < 0)
		return -errno;
	if (sfs.f_type != BPF_FS_MAGIC)
		return -ENOTDIR;
	d = opendir(pin_dir);
	if (!d)
		return -errno;
	/* netpold's lock: nothing is removed under a running one. */
	if (flock(dirfd(d), LOCK_EX | LOCK_NB) < 0)
		return errno == EWOULDBLOCK ? -EBUSY : -errno;
	while ((de = readdir(d))) {
		_cleanup_close_ int fd = -EBADF;
		bool link = strncmp(de->d_name, "link_", 5) == 0;

		if (!is_our_pin(de->d_name))
			continue;
		if (link) {
			_cleanup_free_ char *path = NULL;

			if (path_join(&path, pin_dir, de->d_name) < 0) {
				r = r ?: -ENOMEM;
				continue;
			}
			/* Detached now, whoever else holds the link open. */
			fd = bpf_obj_get(path);
			if (fd < 0 || (bpf_link_detach(fd) < 0 && errno != ENOLINK)) {
				r = r ?: -errno;
				continue;
			}
		}
		if (unlinkat(dirfd(d), de->d_name, 0) < 0) {
			r = r ?: -errno;
			continue;
		}
		if (link)
			links++;
		else
			maps++;
	}
	if (r == 0 && rmdir(pin_dir) < 0)
		r = -errno; /* -ENOTEMPTY: something not ours is pinned there */
	if (ret_links)
		*ret_links = links;
	if (ret_maps)
		*ret_maps = maps;
	return r;
}

/* ---- pins ---- */

typedef int (*pin_fn)(const char *path, const char *name, int fd, bool is_link, void *userdata);

/* Every object that must stay pinned: the maps libbpf pinned, and the links. */
static int pins_foreach(struct np_dataplane *dp, pin_fn cb, void *userdata)
{
	struct bpf_map *map;
	int r;

	bpf_object__for_each_map(map, dp->skel->obj)
	{
		const char *path = bpf_map__pin_path(map);

		if (!path)
			continue;
		r = cb(path, bpf_map__name(map), bpf_map__fd(map), false, userdata);
		if (r < 0)
			return r;
	}
	for (unsigned i = 0; i < NP_N_PROGS; i++) {
		_cleanup_free_ char *name = NULL, *path = NULL;

		if (!dp->links[i])
			continue;
		if (asprintf(&name, "link_%s", bpf_program__name(np_prog(dp->skel, i))) < 0)
			return -ENOMEM;
		r = path_join(&path, dp->pin_dir, name);
		if (r < 0)
			return r;
		r = cb(path, name, bpf_link__fd(dp->links[i]), true, userdata);
		if (r < 0)
			return r;
	}
	return 0;
}

static int obj_id(int fd, bool is_link, uint32_t *ret)
{
	struct bpf_link_info li = {};
	struct bpf_map_info mi = {};
	__u32 len = is_link ? sizeof(li) : sizeof(mi);

	if (bpf_obj_get_info_by_fd(fd, is_link ? (void *)&li : (void *)&mi, &len) < 0)
		return -errno;
	*ret = is_link ? li.id : mi.id;
	return 0;
}

/* Whether path pins the object of fd (and not another one, or nothing). */
static bool pinned_at(const char *path, int fd, bool is_link)
{
	_cleanup_close_ int pfd = -EBADF;
	uint32_t want, got;

	pfd = bpf_obj_get(path);
	if (pfd < 0)
		return false;
	return obj_id(fd, is_link, &want) == 0 && obj_id(pfd, is_link, &got) == 0 && want == got;
}

struct pins_missing {
	void (*cb)(const char *name, void *userdata);
	void *userdata;
	unsigned n;
};

static int check_pin(const char *path, const char *name, int fd, bool is_link, void *userdata)
{
	struct pins_missing *pm = userdata;

	if (pinned_at(path, fd, is_link))
		return 0;
	pm->n++;
	if (pm->cb)
		pm->cb(name, pm->userdata);
	return 0;
}

int np_dataplane_pins_missing(struct np_dataplane *dp, void (*cb)(const char *name, void *userdata),
			      void *userdata)
{
	struct pins_missing pm = {.cb = cb, .userdata = userdata};
	int r;

	r = pins_foreach(dp, check_pin, &pm);
	return r < 0 ? r : (int)pm.n;
}

static int repin(const char *path, const char *name, int fd, bool is_link, void *userdata)
{
	if (pinned_at(path, fd, is_link))
		return 0;
	/* Whatever holds the name instead is not ours. */
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	if (bpf_obj_pin(fd, path) < 0)
		return -errno;
	(*(unsigned *)userdata)++;
	return 0;
}

int np_dataplane_repin(struct np_dataplane *dp, unsigned *ret_repinned)
{
	unsigned n = 0;
	int r;

	r = np_bpffs_ensure(dp->pin_dir);
	if (r >= 0)
		r = lock_pin_dir(dp);
	if (r >= 0)
		r = pins_foreach(dp, repin, &n);
	if (ret_repinned)
		*ret_repinned = n;
	return r;
}

const char *np_dataplane_pin_dir(const struct np_dataplane *dp)
{
	return dp->pin_dir;
}

const char *np_dataplane_attach_cgroup(const struct np_dataplane *dp)
{
	return dp->attach_cgroup;
}

const char *np_dataplane_cgroup_root(const struct np_dataplane *dp)
{
	return dp->cgroup_root;
}

/* Every cached verdict and cgroup resolution carries the generation it was
 * made under; bumping it (after the maps changed) retires them all. */
static void bump_gen(struct np_dataplane *dp)
{
	__atomic_fetch_add(&dp->state->gen, 1, __ATOMIC_SEQ_CST);
}

static int fd_policies(struct np_dataplane *dp)
{
	return bpf_map__fd(dp->skel->maps.np_policies);
}

static int fd_bindings(struct np_dataplane *dp)
{
	return bpf_map__fd(dp->skel->maps.np_bindings);
}

static int fd_meta(struct np_dataplane *dp)
{
	return bpf_map__fd(dp->skel->maps.np_policy_meta);
}

static int check_policy_id(uint32_t policy_id)
{
	return policy_id == 0 || policy_id >= NP_MAX_POLICIES ? -ERANGE : 0;
}

/* A whole trie for the compiled policy, filled before anyone can see it. */
int np_dataplane_trie_new(uint32_t policy_id, const struct np_compiled *c, int *ret_fd)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	_cleanup_close_ int fd = -EBADF;
	char name[BPF_OBJ_NAME_LEN];
	int r;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	if (c->n_entries == 0)
		return -EINVAL; /* a compiled policy always has ::/0 */
	snprintf(name, sizeof(name), "np_pol_%u", policy_id);
	fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, name, sizeof(struct np_lpm_key), sizeof(struct np_lpm_val),
			    (__u32)c->n_entries, &o);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < c->n_entries; i++)
		if (bpf_map_update_elem(fd, &c->entries[i].key, &c->entries[i].val, BPF_NOEXIST) < 0)
			return -errno;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

int np_dataplane_publish(struct np_dataplane *dp, uint32_t policy_id, const char *name,
			 const struct np_compiled *c, int trie_fd)
{
	struct np_policy_meta meta = {}, old = {};
	struct timespec ts;
	int r;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	/* The metadata first, so that the switch is the last step that can
	 * fail: a failed switch puts the old metadata back (BPF never reads
	 * it), and an error always means the kernel runs what it ran. */
	if (bpf_map_lookup_elem(fd_meta(dp), &policy_id, &old) < 0)
		old = (struct np_policy_meta){};
	snprintf(meta.name, sizeof(meta.name), "%s", name ?: "");
	clock_gettime(CLOCK_REALTIME, &ts);
	meta.installed_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	meta.n_entries = (uint32_t)c->n_entries;
	meta.flags = c->flags;
	if (bpf_map_update_elem(fd_meta(dp), &policy_id, &meta, BPF_ANY) < 0)
		return -errno;

	/* The switch: one pointer exchange in the outer array. */
	if (bpf_map_update_elem(fd_policies(dp), &policy_id, &trie_fd, BPF_ANY) < 0) {
		r = -errno;
		(void)bpf_map_update_elem(fd_meta(dp), &policy_id, &old, BPF_ANY);
		return r;
	}
	bump_gen(dp);
	return 0;
}

int np_dataplane_trie_get(struct np_dataplane *dp, uint32_t policy_id, int *ret_fd)
{
	uint32_t inner_id;
	int r, fd;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	/* From user space, an array of maps holds ids. */
	if (bpf_map_lookup_elem(fd_policies(dp), &policy_id, &inner_id) < 0)
		return -errno;
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return -errno;
	*ret_fd = fd;
	return 0;
}

int np_dataplane_install(struct np_dataplane *dp, uint32_t policy_id, const char *name,
			 const struct np_compiled *c)
{
	_cleanup_close_ int trie_fd = -EBADF;
	int r;

	r = np_dataplane_trie_new(policy_id, c, &trie_fd);
	if (r < 0)
		return r;
	return np_dataplane_publish(dp, policy_id, name, c, trie_fd);
}

static int policy_installed(struct np_dataplane *dp, uint32_t policy_id)
{
	uint32_t inner_id;

	if (bpf_map_lookup_elem(fd_policies(dp), &policy_id, &inner_id) < 0)
		return errno == ENOENT ? 0 : -errno;
	return 1;
}

static int find_binding_to(uint64_t cgroup_id, uint32_t policy_id, void *userdata)
{
	return policy_id == *(uint32_t *)userdata ? -EBUSY : 0;
}

int np_dataplane_remove(struct np_dataplane *dp, uint32_t policy_id)
{
	struct np_policy_meta empty = {};
	int r;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	r = np_dataplane_bindings_foreach(dp, find_binding_to, &policy_id);
	if (r < 0)
		return r;
	if (bpf_map_delete_elem(fd_policies(dp), &policy_id) < 0)
		return -errno;
	(void)bpf_map_update_elem(fd_meta(dp), &policy_id, &empty, BPF_ANY);
	bump_gen(dp);
	return 0;
}

int np_dataplane_policy_name(struct np_dataplane *dp, uint32_t policy_id, char name[NP_POLICY_NAME_MAX])
{
	struct np_policy_meta meta;
	int r;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	if (bpf_map_lookup_elem(fd_meta(dp), &policy_id, &meta) < 0)
		return -errno;
	if (meta.installed_ns == 0)
		return -ENOENT;
	memcpy(name, meta.name, NP_POLICY_NAME_MAX);
	name[NP_POLICY_NAME_MAX - 1] = '\0';
	return 0;
}

int np_dataplane_bind(struct np_dataplane *dp, uint64_t cgroup_id, uint32_t policy_id)
{
	struct np_binding b = {.policy_id = policy_id};
	int r;

	r = check_policy_id(policy_id);
	if (r < 0)
		return r;
	r = policy_installed(dp, policy_id);
	if (r < 0)
		return r;
	if (r == 0)
		return -ENOENT;

	if (bpf_map_update_elem(fd_bindings(dp), &cgroup_id, &b, BPF_NOEXIST) == 0) {
		/* nbindings goes up only after the binding exists. */
		__atomic_fetch_add(&dp->state->nbindings, 1, __ATOMIC_SEQ_CST);
	} else if (errno == EEXIST) {
		if (bpf_map_update_elem(fd_bindings(dp), &cgroup_id, &b, BPF_EXIST) < 0)
			return -errno;
	} else {
		return -errno;
	}
	bump_gen(dp);
	return 0;
}

int np_dataplane_unbind(struct np_dataplane *dp, uint64_t cgroup_id)
{
	if (bpf_map_delete_elem(fd_bindings(dp), &cgroup_id) < 0)
		return -errno;
	__atomic_fetch_sub(&dp->state->nbindings, 1, __ATOMIC_SEQ_CST);
	bump_gen(dp);
	return 0;
}

int np_dataplane_bindings_foreach(struct np_dataplane *dp,
				  int (*cb)(uint64_t cgroup_id, uint32_t policy_id, void *userdata),
				  void *userdata)
{
	uint64_t key, next;
	void *prev = NULL;
	int r;

	while (bpf_map_get_next_key(fd_bindings(dp), prev, &next) == 0) {
		struct np_binding b;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd_bindings(dp), &key, &b) < 0)
			continue; /* deleted meanwhile */
		r = cb(key, b.policy_id, userdata);
		if (r < 0)
			return r;
	}
	return errno == ENOENT ? 0 : -errno;
}

int np_dataplane_stats_foreach(struct np_dataplane *dp,
			       int (*cb)(const struct np_stats_key *k, const struct np_stats_val *v,
					 void *userdata),
			       void *userdata)
{
	int fd = bpf_map__fd(dp->skel->maps.np_stats);
	struct np_stats_key key, next;
	void *prev = NULL;
	int r;

	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		struct np_stats_val v;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) < 0)
			continue;
		r = cb(&key, &v, userdata);
		if (r < 0)
			return r;
	}
	return errno == ENOENT ? 0 : -errno;
}

int np_dataplane_stats_reset(struct np_dataplane *dp)
{
	int fd = bpf_map__fd(dp->skel->maps.np_stats);
	struct np_stats_key key;

	/* Always delete the first key: iteration after a delete restarts. */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0)
		if (bpf_map_delete_elem(fd, &key) < 0 && errno != ENOENT)
			return -errno;
	return 0;
}

int np_dataplane_stats_delete(struct np_dataplane *dp, const struct np_stats_key *k)
{
	if (bpf_map_delete_elem(bpf_map__fd(dp->skel->maps.np_stats), k) < 0)
		return -errno;
	return 0;
}

int np_dataplane_counter(struct np_dataplane *dp, unsigned idx, uint64_t *ret)
{
	int ncpu = libbpf_num_possible_cpus();
	_cleanup_free_ uint64_t *vals = NULL;
	uint32_t key = idx;
	uint64_t sum = 0;

	if (idx >= NP_CNT__MAX)
		return -ERANGE;
	if (ncpu < 0)
		return ncpu;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(bpf_map__fd(dp->skel->maps.np_counters), &key, vals) < 0)
		return -errno;
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	*ret = sum;
	return 0;
}

/* libbpf has already advanced past this sample when the callback returns:
 * a negative return stops the consume call without losing or repeating it. */
static int on_ring_event(void *ctx, void *data, size_t size)
{
	struct np_dataplane *dp = ctx;

	/* An earlier loader's event is a shorter prefix: the rest reads 0. */
	if (size >= NP_EVENT_MIN_SIZE && dp->event_cb) {
		struct np_event e = {};

		memcpy(&e, data, size < sizeof(e) ? size : sizeof(e));
		dp->event_cb(&e, dp->event_userdata);
	}
	dp->event_count++;
	if (dp->event_budget && dp->event_count >= dp->event_budget)
		return -EAGAIN;
	return 0;
}

int np_dataplane_events_open(struct np_dataplane *dp, void (*cb)(const struct np_event *e, void *userdata),
			     void *userdata)
{
	if (dp->rb)
		return -EBUSY;
	dp->event_cb = cb;
	dp->event_userdata = userdata;
	dp->rb = ring_buffer__new(bpf_map__fd(dp->skel->maps.np_events), on_ring_event, dp, NULL);
	if (!dp->rb)
		return -errno;
	return 0;
}

int np_dataplane_events_fd(struct np_dataplane *dp)
{
	return dp->rb ? ring_buffer__epoll_fd(dp->rb) : -EBADF;
}

int np_dataplane_events_consume(struct np_dataplane *dp, unsigned max)
{
	int r;

	if (!dp->rb)
		return -EBADF;
	dp->event_budget = max;
	dp->event_count = 0;
	r = ring_buffer__consume(dp->rb);
	if (r < 0 && r != -EAGAIN)
		return r;
	return (int)dp->event_count;
}
