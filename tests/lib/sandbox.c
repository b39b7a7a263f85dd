/* SPDX-License-Identifier: GPL-2.0-only */
/* The shared test and benchmark sandbox: see sandbox.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "dataplane.h"
#include "io-util.h"
#include "sandbox.h"

#define RTF_REJECT_FLAG 0x0200

uint64_t np_sb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t np_sb_now_ms(void)
{
	return np_sb_now_ns() / 1000000;
}

int np_sb_write_file(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	return np_write_full(fd, text, strlen(text));
}

/* ---- cgroups ---- */

static int record_cgroup(struct np_sandbox *sb, const char *path, bool ours, const char **ret)
{
	char *copy;

	if (sb->n_cgroups == NP_SB_MAX_CGROUPS)
		return -ENOSPC;
	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	sb->cg_ours[sb->n_cgroups] = ours;
	sb->cgroups[sb->n_cgroups++] = copy;
	if (ret)
		*ret = copy;
	return 0;
}

/* "0::/path" from /proc/self/cgroup. */
static char *own_cgroup(const char *cg2)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/cgroup", "re");
	char line[PATH_MAX], *path;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = 0;
			if (asprintf(&path, "%s%s", cg2, strcmp(line + 3, "/") == 0 ? "" : line + 3) < 0)
				return NULL;
			return path;
		}
	return NULL;
}

int np_sb_init(struct np_sandbox *sb, const char *name)
{
	int r;

	*sb = (struct np_sandbox){.owner = getpid()};
	r = np_cgroup2_mount(&sb->cg2);
	if (r < 0)
		return r;
	sb->orig_cgroup = own_cgroup(sb->cg2);
	if (!sb->orig_cgroup)
		return -ENOENT;
	if (asprintf(&sb->root, "%s/%s-%d", sb->cg2, name, (int)sb->owner) < 0 ||
	    asprintf(&sb->pin_dir, "/sys/fs/bpf/%s-%d", name, (int)sb->owner) < 0)
		return -ENOMEM;
	if (mkdir(sb->root, 0755) < 0)
		return -errno;
	return record_cgroup(sb, sb->root, true, NULL);
}

int np_sb_cgroup(struct np_sandbox *sb, const char *rel, const char **ret)
{
	char path[PATH_MAX];
	int r;

	if (snprintf(path, sizeof(path), "%s/%s", sb->root, rel) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* mkdir -p, recording what we create */
	for (char *p = path + strlen(sb->root) + 1;; p++) {
		char c = *p;

		if (c != '/' && c != 0)
			continue;
		*p = 0;
		if (mkdir(path, 0755) == 0) {
			r = record_cgroup(sb, path, true, NULL);
			if (r < 0)
				return r;
		} else if (errno != EEXIST) {
			return -errno;
		}
		*p = c;
		if (c == 0)
			break;
	}
	for (int i = sb->n_cgroups - 1; i >= 0; i--)
		if (strcmp(sb->cgroups[i], path) == 0) {
			*ret = sb->cgroups[i];
			return 0;
		}
	/* pre-existing: remember it, but it is not ours to remove */
	return record_cgroup(sb, path, false, ret);
}

int np_sb_cgroup_join(const char *path)
{
	char procs[PATH_MAX];

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	return np_sb_write_file(procs, "0");
}

/* Processes still in a cgroup (ours, if a kill raced) go to the original
 * cgroup so that rmdir can succeed. */
static void cgroup_evacuate(struct np_sandbox *sb, const char *path)
{
	char procs[PATH_MAX], dst[PATH_MAX], line[32];
	_cleanup_fclose_ FILE *f = NULL;

	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	snprintf(dst, sizeof(dst), "%s/cgroup.procs", sb->orig_cgroup);
	f = fopen(procs, "re");
	while (f && fgets(line, sizeof(line), f))
		(void)np_sb_write_file(dst, line);
}

int np_sb_cgroups_remove(struct np_sandbox *sb)
{
	int r = 0;

	if (sb->orig_cgroup)
		r = np_sb_cgroup_join(sb->orig_cgroup);
	for (int i = sb->n_cgroups - 1; i >= 0; i--) {
		for (int tries = 0;
		     sb->cg_ours[i] && rmdir(sb->cgroups[i]) < 0 && errno == EBUSY && tries < 100; tries++) {
			cgroup_evacuate(sb, sb->cgroups[i]);
			usleep(10000);
		}
		if (sb->cg_ours[i] && access(sb->cgroups[i], F_OK) == 0)
			r = -EBUSY;
		free(sb->cgroups[i]);
	}
	sb->n_cgroups = 0;
	return r;
}

/* ---- children ---- */

int np_sb_track_child(struct np_sandbox *sb, pid_t pid)
{
	if (sb->n_children == NP_SB_MAX_CHILDREN)
		return -ENOSPC;
	sb->children[sb->n_children++] = pid;
	return 0;
}

void np_sb_untrack_child(struct np_sandbox *sb, pid_t pid)
{
	for (int i = 0; i < sb->n_children; i++)
		if (sb->children[i] == pid) {
			sb->children[i] = sb->children[--sb->n_children];
			return;
		}
}

void np_sb_children_kill(struct np_sandbox *sb)
{
	for (int i = 0; i < sb->n_children; i++)
		kill(sb->children[i], SIGKILL);
	for (int i = 0; i < sb->n_children; i++)
		while (waitpid(sb->children[i], NULL, 0) < 0 && errno == EINTR)
			;
	sb->n_children = 0;
}

/* ---- spawning commands ---- */

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) spawn_child(struct np_sb_spawn *s, int out_w)
{
	int in = open(s->stdin_path ?: "/dev/null", O_RDONLY | O_CLOEXEC);

	/* A command outliving a killed parent would hold its namespace. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (s->netns_fd >= 0 && setns(s->netns_fd, CLONE_NEWNET) < 0)
		_exit(126);
	if (in < 0 || dup2(in, 0) < 0)
		_exit(126);
	if (out_w >= 0) {
		if (dup2(out_w, 1) < 0)
			_exit(126);
		if (s->merge_stderr && dup2(out_w, 2) < 0)
			_exit(126);
	} else {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 1) < 0)
			_exit(126);
	}
	execvp(s->argv[0], s->argv);
	_exit(127);
}

/* Read the child's output until EOF or the deadline. */
static int spawn_collect(struct np_sb_spawn *s, int fd, uint64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait_ms = -1;
		char scratch[4096];
		ssize_t r;

		if (deadline) {
			uint64_t now = np_sb_now_ns();

			if (now >= deadline)
				return -ETIMEDOUT;
			wait_ms = (int)((deadline - now) / 1000000) + 1;
		}
		if (poll(&p, 1, wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (!p.revents)
			continue;
		if (s->out && len + 1 < s->out_size)
			r = read(fd, s->out + len, s->out_size - len - 1);
		else
			r = read(fd, scratch, sizeof(scratch));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (s->out && len + 1 < s->out_size)
			len += (size_t)r;
	}
	if (s->out)
		s->out[len] = '\0';
	return 0;
}

int np_sb_spawn(struct np_sandbox *sb, struct np_sb_spawn *s)
{
	_cleanup_close_ int r_end = -EBADF;
	int pipefd[2] = {-1, -1}, status, r = 0;
	uint64_t deadline = s->timeout_ms ? np_sb_now_ns() + (uint64_t)s->timeout_ms * 1000000ull : 0;
	pid_t pid;

	if (s->out && s->out_size)
		s->out[0] = '\0';
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		r = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return r;
	}
	if (pid == 0)
		spawn_child(s, pipefd[1]);
	close(pipefd[1]);
	r_end = pipefd[0];
	if (sb)
		(void)np_sb_track_child(sb, pid);
	r = spawn_collect(s, r_end, deadline);
	if (r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (sb)
		np_sb_untrack_child(sb, pid);
	if (r < 0)
		return r;
	if (WIFSIGNALED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

/* ---- network namespaces ---- */

static const char *const ns_setup[][9] = {
    {"ip", "link", "set", "lo", "up", NULL},
    {"ip", "addr", "add", "203.0.113.1/32", "dev", "lo", NULL},
    {"ip", "route", "add", "local", "203.0.113.0/24", "dev", "lo", NULL},
    {"ip", "addr", "add", "198.51.100.1/32", "dev", "lo", NULL},
    {"ip", "route", "add", "local", "198.51.100.0/24", "dev", "lo", NULL},
    {"ip", "-6", "addr", "add", "2001:db8::1/128", "dev", "lo", "nodad", NULL},
    {"ip", "-6", "route", "add", "local", "2001:db8::/32", "dev", "lo", NULL},
};

/* Only lo: if_nameindex() lists the calling thread's namespace. */
static int check_interfaces(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int r = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++)
		if (strcmp(i->if_name, "lo") != 0)
			r = -EEXIST;
	if_freenameindex(ifs);
	return r;
}

/* IPv4: every route on lo, none of them a default route. */
static int check_routes4(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/route", "re");
	char line[512], ifname[64];
	unsigned dst, gw, flags, mask;

	if (!f)
		return -errno;
	if (!fgets(line, sizeof(line), f))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %x %x %x %*d %*d %*d %x", ifname, &dst, &gw, &flags, &mask) != 5)
			return -EINVAL;
		if (strcmp(ifname, "lo") != 0 || (dst == 0 && mask == 0))
			return -EEXIST;
	}
	return 0;
}

/* IPv6: every route on lo; a ::/0 is allowed only as the kernel's
 * "unreachable" placeholder (RTF_REJECT). */
static int check_routes6(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/thread-self/net/ipv6_route", "re");
	char line[512], dst[40], ifname[64];
	unsigned plen, flags;

	if (!f)
		return errno == ENOENT ? 0 : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%39s %x %*s %*s %*s %*s %*s %*s %x %63s", dst, &plen, &flags, ifname) != 4)
			return -EINVAL;
		if (strcmp(ifname, "lo") != 0)
			return -EEXIST;
		if (plen == 0 && !(flags & RTF_REJECT_FLAG))
			return -EEXIST;
	}
	return 0;
}

int np_sb_netns_verify(void)
{
	int r = check_interfaces();

	if (r == 0)
		r = check_routes4();
	if (r == 0)
		r = check_routes6();
	return r;
}

int np_sb_netns_enter(int fd)
{
	return setns(fd, CLONE_NEWNET) < 0 ? -errno : 0;
}

int np_sb_netns_new(struct np_sandbox *sb, int *ret_fd)
{
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (unshare(CLONE_NEWNET) < 0)
		return -errno;
	fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (size_t i = 0; i < ELEMENTSOF(ns_setup); i++) {
		struct np_sb_spawn s = {
		    .argv = (char *const *)ns_setup[i], .netns_fd = fd, .timeout_ms = 10000};

		r = np_sb_spawn(sb, &s);
		if (r != 0)
			return r < 0 ? r : -EIO;
	}
	r = np_sb_netns_verify();
	if (r < 0)
		return r;
	*ret_fd = TAKE_FD(fd);
	return 0;
}

/* ---- workers ---- */

struct worker_req {
	np_sb_fn fn;
	uint32_t len;
};

struct worker_resp {
	int32_t result;
	uint32_t len;
};

static void __attribute__((noreturn))
worker_main(const struct np_sb_worker_opts *o, int req_fd, int resp_fd, pid_t parent)
{
	static uint8_t buf[NP_SB_ARG_MAX];
	int32_t ready;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(0);
	if (o->comm)
		prctl(PR_SET_NAME, o->comm);
	/* Only the parent cleans up. */
	for (size_t i = 1; i < NSIG; i++)
		if (i != SIGKILL && i != SIGSTOP)
			signal(i, SIG_DFL);
	signal(SIGPIPE, SIG_IGN);
	ready = np_sb_cgroup_join(o->cgroup);
	if (ready == 0 && o->netns_fd >= 0)
		ready = np_sb_netns_enter(o->netns_fd);
	if (ready == 0 && o->init)
		ready = o->init(o->userdata);
	if (np_write_full(resp_fd, &ready, sizeof(ready)) < 0 || ready < 0)
		_exit(1);
	for (;;) {
		struct worker_req rq;
		struct worker_resp rs;

		if (np_read_full(req_fd, &rq, sizeof(rq)) < 0)
			_exit(0);
		if (rq.len > sizeof(buf) || np_read_full(req_fd, buf, rq.len) < 0)
			_exit(2);
		rs.result = rq.fn(buf, rq.len);
		rs.len = rq.len;
		if (np_write_full(resp_fd, &rs, sizeof(rs)) < 0 || np_write_full(resp_fd, buf, rq.len) < 0)
			_exit(3);
	}
}

int np_sb_worker_start(struct np_sandbox *sb, struct np_sb_worker *w, const struct np_sb_worker_opts *o)
{
	int req[2], resp[2], r;
	pid_t parent = getpid(), pid;
	struct pollfd pfd;
	int32_t ready;

	*w = (struct np_sb_worker){.pid = -1, .req_fd = -EBADF, .resp_fd = -EBADF};
	if (pipe2(req, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(resp, O_CLOEXEC) < 0) {
		r = -errno;
		close(req[0]);
		close(req[1]);
		return r;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		close(req[1]);
		close(resp[0]);
		worker_main(o, req[0], resp[1], parent);
	}
	r = pid < 0 ? -errno : 0;
	close(req[0]);
	close(resp[1]);
	if (r < 0) {
		close(req[1]);
		close(resp[0]);
		return r;
	}
	*w = (struct np_sb_worker){.pid = pid, .req_fd = req[1], .resp_fd = resp[0]};
	(void)np_sb_track_child(sb, pid);

	pfd = (struct pollfd){.fd = w->resp_fd, .events = POLLIN};
	if (poll(&pfd, 1, 5000) <= 0 || np_read_full(w->resp_fd, &ready, sizeof(ready)) < 0)
		ready = -ECHILD;
	if (ready < 0)
		np_sb_worker_stop(sb, w);
	return ready;
}

void np_sb_worker_stop(struct np_sandbox *sb, struct np_sb_worker *w)
{
	if (w->pid <= 0)
		return;
	kill(w->pid, SIGKILL);
	while (waitpid(w->pid, NULL, 0) < 0 && errno == EINTR)
		;
	np_sb_untrack_child(sb, w->pid);
	close(w->req_fd);
	close(w->resp_fd);
	*w = (struct np_sb_worker){.pid = -1, .req_fd = -EBADF, .resp_fd = -EBADF};
}

int np_sb_worker_send(struct np_sb_worker *w, np_sb_fn fn, void *arg, size_t len)
{
	struct worker_req rq = {.fn = fn, .len = len};

	if (w->pid <= 0)
		return -EPIPE;
	if (len > NP_SB_ARG_MAX)
		return -E2BIG;
	if (np_write_full(w->req_fd, &rq, sizeof(rq)) < 0 || (len && np_write_full(w->req_fd, arg, len) < 0))
		return -EPIPE;
	w->pending_out = arg;
	w->pending_len = len;
	return 0;
}

int np_sb_worker_poll(struct np_sb_worker *w, int timeout_ms, int *result)
{
	struct pollfd pfd = {.fd = w->resp_fd, .events = POLLIN};
	struct worker_resp rs;
	int r;

	if (w->pid <= 0)
		return -EPIPE;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return 0;
	if (np_read_full(w->resp_fd, &rs, sizeof(rs)) < 0 || rs.len != w->pending_len ||
	    (rs.len && np_read_full(w->resp_fd, w->pending_out, rs.len) < 0))
		return -EPIPE;
	*result = rs.result;
	return 1;
}
