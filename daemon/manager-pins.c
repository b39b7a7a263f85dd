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
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "log.h"
#include "manager.h"

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

const char *manager_pins_error(const struct manager *m)
{
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
