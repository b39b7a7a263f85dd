/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The pins keep the programs attached and the maps alive once netpold's fds
 * close. A pin removed under a running netpold (rm -rf of the pin
 * directory, a bpffs unmounted) would go unnoticed until netpold stops, and
 * then every program would detach. netpold watches the pin directory
 * (inotify works on bpffs) and pins again, at once, from the fds it holds;
 * it also checks before every change, since nothing tells it about a mount
 * over the directory. Pins it cannot restore make it refuse changes.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cleanup-util.h"
#include "io-util.h"
#include "log.h"
#include "manager.h"

/* Beside the control socket, in a directory that does not outlive a boot
 * (/run, a tmpfs; a container's own): the boot id of the data plane. */
#define BOOT_FILE "data-plane.boot"

#define PIN_EVENTS (IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static void watch_pin_dir(struct manager *m)
{
	const char *dir = np_dataplane_pin_dir(m->dp);
	int wd = inotify_add_watch(m->pins_inotify_fd, dir, PIN_EVENTS);

	if (wd < 0) {
		log_warning_errno(
		    -errno,
		    "Cannot watch '%s' for removed pins; they are checked before each change only: %m", dir);
		return;
	}
	/* A directory moved away keeps its watch: that one is of no use now. */
	if (m->pins_wd >= 0 && m->pins_wd != wd)
		(void)inotify_rm_watch(m->pins_inotify_fd, m->pins_wd);
	m->pins_wd = wd;
}

struct names {
	char buf[200];
	size_t len;
};

static void add_name(const char *name, void *userdata)
{
	struct names *n = userdata;
	int k;

	if (n->len >= sizeof(n->buf) - 1)
		return;
	k = snprintf(n->buf + n->len, sizeof(n->buf) - n->len, "%s%s", n->len ? ", " : "", name);
	n->len = k < 0 ? sizeof(n->buf) - 1 : n->len + (size_t)k;
	if (n->len >= sizeof(n->buf) - 1)
		memcpy(n->buf + sizeof(n->buf) - 4, "...", 4);
}

/* ---- where the pins may live ---- */

/* A bpffs that netpold mounted itself would be visible to its own mount
 * namespace only, when that is not PID 1's: under systemd, a unit with
 * ProtectSystem= and the like has one of its own, and a mount there dies
 * with the process, and the pins with it. */
static bool own_mount_would_be_private(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) == 0 && stat("/proc/1/ns/mnt", &init) == 0)
		return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
	/* PID 1 cannot be seen (ProtectProc=invisible, no CAP_SYS_PTRACE):
	 * a sandboxed service, whose namespace is its own. */
	return getenv("INVOCATION_ID") || getenv("NOTIFY_SOCKET");
}

static bool on_bpffs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == BPF_FS_MAGIC;
}

/* The pin directory is, or would be made, on a bpffs. */
static bool pin_dir_on_bpffs(const char *pin_dir)
{
	_cleanup_free_ char *parent = strdup(pin_dir);
	char *slash;

	if (on_bpffs(pin_dir))
		return true;
	if (!parent)
		return false;
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return false;
	*slash = '\0';
	return on_bpffs(parent);
}

static int manager_pins_host_check_quiet(const char *pin_dir)
{
	return pin_dir_on_bpffs(pin_dir) || !own_mount_would_be_private() ? 0 : -ENOMEDIUM;
}

int manager_pins_host_check(const char *pin_dir)
{
	int r = manager_pins_host_check_quiet(pin_dir);

	if (r == 0)
		return 0;
	return log_error_errno(
	    r,
	    "The pin directory '%s' is not on a mounted bpf file system. As a service, netpold does not "
	    "mount one: it would be in netpold's own mount namespace, and the pins, and with them every "
	    "policy, would be lost when netpold stops. Mount it where PID 1 lives: `systemctl start "
	    "netpol-bpffs.service` (shipped with netpol; netpold.service requires it), or "
	    "`mount -t bpf -o mode=0700 bpf /sys/fs/bpf`; in a container, before systemd starts.",
	    pin_dir);
}

/* ---- how the data plane came to be ---- */

static int read_boot_id(char *buf, size_t size)
{
	_cleanup_close_ int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n <= 0)
		return n < 0 ? -errno : -EIO;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Whether a data plane was made in this boot already. */
static bool same_boot(const char *path, const char *boot_id)
{
	char saved[64] = "";
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, saved, sizeof(saved) - 1);
	if (n <= 0)
		return false;
	saved[n] = '\0';
	saved[strcspn(saved, "\n")] = '\0';
	return strcmp(saved, boot_id) == 0;
}

static void note_boot(const char *path, const char *boot_id)
{
	_cleanup_free_ char *tmp = NULL, *line = NULL;
	_cleanup_close_ int fd = -EBADF;
	int r;

	if (asprintf(&tmp, "%s.tmp", path) < 0 || asprintf(&line, "%s\n", boot_id) < 0)
		return (void)log_oom();
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	r = fd < 0 ? -errno : np_write_full(fd, line, strlen(line));
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		(void)unlink(tmp);
		log_warning_errno(r,
				  "Failed to note this boot's data plane in '%s' (a later restart that "
				  "cannot adopt may then be taken for the first start of a boot): %m",
				  path);
	}
}

void manager_pins_note_start(struct manager *m, const char *runtime_dir)
{
	_cleanup_free_ char *path = NULL;
	const char *dir = np_dataplane_pin_dir(m->dp);
	char boot_id[64];
	bool lost;

	if (read_boot_id(boot_id, sizeof(boot_id)) < 0)
		boot_id[0] = '\0';
	if (!runtime_dir)
		boot_id[0] = '\0';
	else if (asprintf(&path, "%s/" BOOT_FILE, runtime_dir) < 0)
		return (void)log_oom();
	lost = !m->adopted && boot_id[0] && same_boot(path, boot_id);
	if (m->adopted)
		snprintf(m->data_plane, sizeof(m->data_plane), "adopted from the pins in %s", dir);
	else if (!lost)
		snprintf(m->data_plane, sizeof(m->data_plane),
			 "created: no pins in %s (the first start since boot, or a teardown)", dir);
	else {
		snprintf(m->data_plane, sizeof(m->data_plane),
			 "created: the pins in %s of an earlier netpold of this boot were gone; %zu "
			 "binding(s) re-applied, unenforced in between",
			 dir, m->n_binds);
		log_error("Could not adopt the data plane: the pins in '%s' of an earlier netpold of this "
			  "boot are gone (bpffs unmounted, or mounted where netpold could not keep it?), and "
			  "its programs with them: enforcement lapsed from then until now. Created a new "
			  "data plane and re-applied %zu saved binding(s).",
			  dir, m->n_binds);
	}
	if (boot_id[0])
		note_boot(path, boot_id);
}

void manager_pins_forget_start(const char *runtime_dir)
{
	_cleanup_free_ char *path = NULL;

	if (runtime_dir && asprintf(&path, "%s/" BOOT_FILE, runtime_dir) >= 0)
		(void)unlink(path);
}

/* ---- pins removed under a running netpold ---- */

const char *manager_pins_error(const struct manager *m)
{
	if (m->pins_error == -ENOMEDIUM)
		return "no bpf file system is mounted there, and netpold as a service does not mount one "
		       "in its own mount namespace (systemctl start netpol-bpffs.service)";
	if (m->pins_error == -ENOTDIR)
		return "the directory is not on a bpf file system (is something mounted over it?)";
	return strerror(-m->pins_error);
}

int manager_pins_check(struct manager *m)
{
	const char *dir = np_dataplane_pin_dir(m->dp);
	struct names missing = {};
	unsigned repinned = 0;
	int n, r;

	n = np_dataplane_pins_missing(m->dp, add_name, &missing);
	if (n < 0)
		return log_error_errno(n, "Failed to check the pins in '%s': %m", dir);
	if (n == 0 && m->pins_error == 0 && m->pins_wd >= 0)
		return 0;
	if (n > 0) {
		r = manager_pins_host_check_quiet(dir);
		if (r >= 0)
			r = np_dataplane_repin(m->dp, &repinned);
		m->pins_restored += repinned;
		if (r < 0) {
			bool news = r != m->pins_error;

			m->pins_error = r;
			if (news)
				log_error_errno(
				    r,
				    "%d pin(s) in '%s' are gone (%s) and cannot be restored: %s. netpold "
				    "refuses changes until they are back; should it stop before, its "
				    "programs detach and every policy lapses.",
				    n, dir, missing.buf, manager_pins_error(m));
			return -ENOLINK;
		}
		log_warning(
		    "%d pin(s) in '%s' were removed under the running netpold (%s); pinned them again.", n,
		    dir, missing.buf);
	}
	if (m->pins_error < 0)
		log_notice("The pins in '%s' are complete again; changes are accepted.", dir);
	m->pins_error = 0;
	watch_pin_dir(m);
	return 0;
}

static int on_pins_event(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	struct manager *m = userdata;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;

			if ((e->mask & IN_IGNORED) && e->wd == m->pins_wd)
				m->pins_wd = -1; /* the directory is gone, and its watch */
			p += sizeof(*e) + e->len;
		}
	(void)manager_pins_check(m);
	return 0;
}

int manager_watch_pins(struct manager *m)
{
	int r;

	m->pins_inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->pins_inotify_fd < 0)
		return log_error_errno(-errno, "Failed to create an inotify instance: %m");
	r = sd_event_add_io(m->event, &m->pins_source, m->pins_inotify_fd, EPOLLIN, on_pins_event, m);
	if (r >= 0)
		/* Before the control socket: a change sent after a removal
		 * finds the pins back. */
		r = sd_event_source_set_priority(m->pins_source, SD_EVENT_PRIORITY_IMPORTANT);
	if (r < 0)
		return log_error_errno(r, "Failed to watch the pin directory: %m");
	watch_pin_dir(m);
	return 0;
}

void manager_pins_final(struct manager *m)
{
	unsigned repinned = 0;
	int r;

	if (!m->dp || np_dataplane_pins_missing(m->dp, NULL, NULL) == 0)
		return;
	r = manager_pins_host_check_quiet(np_dataplane_pin_dir(m->dp));
	if (r >= 0)
		r = np_dataplane_repin(m->dp, &repinned);
	if (r < 0)
		log_error_errno(
		    r,
		    "The pins in '%s' are gone and cannot be restored: %m. netpold exits now, so its "
		    "programs detach and every policy lapses until netpold starts again.",
		    np_dataplane_pin_dir(m->dp));
	else
		log_warning("Pins in '%s' were removed; pinned %u again before exiting.",
			    np_dataplane_pin_dir(m->dp), repinned);
}
