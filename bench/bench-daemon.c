/* SPDX-License-Identifier: GPL-2.0-only */
/* netpold under the benchmark: see bench-daemon.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-daemon.h"
#include "bench-env.h"
#include "bench-util.h"
#include "conn.h"

#define START_TIMEOUT_MS 20000
#define REPLY_TIMEOUT_MS 60000
#define BATCH		 100

static void __attribute__((noreturn)) exec_netpold(struct bench_daemon *d)
{
	const char *argv[] = {d->netpold,   "--foreground", "--socket", d->sock,	   "--state-dir",
			      d->state_dir, "--bpffs",	    d->pin_dir, "--attach-cgroup", d->attach_cgroup,
			      "--config",   d->conf,	    NULL};
	int log = open(d->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	cpu_set_t all;

	prctl(PR_SET_PDEATHSIG, SIGTERM);
	/* Not bound to the coordinator's CPU: the daemon runs where it likes. */
	CPU_ZERO(&all);
	for (int i = 0; i < bench_ncpus(); i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
	if (log < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(126);
	execv(d->netpold, (char *const *)argv);
	_exit(127);
}

static int connect_ctl(struct bench_daemon *d)
{
	struct timeval tv = {.tv_sec = REPLY_TIMEOUT_MS / 1000};
	int r;

	if (d->conn)
		return 0;
	r = np_conn_open(d->sock, &d->conn);
	if (r < 0)
		return r;
	/* A daemon that stops answering fails the run, not hangs it. */
	if (setsockopt(np_conn_fd(d->conn), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0) {
		r = -errno;
		d->conn = np_conn_free(d->conn);
	}
	return r;
}

static void drop_ctl(struct bench_daemon *d)
{
	d->conn = np_conn_free(d->conn);
}

int bench_daemon_start(struct bench_daemon *d, const char *netpold, const char *netpolctl,
		       const char *attach_cgroup)
{
	struct bench_env *e = bench_env;
	uint64_t deadline = bench_now_ns() + START_TIMEOUT_MS * 1000000ull;
	pid_t pid;

	*d = (struct bench_daemon){.netpold = netpold, .netpolctl = netpolctl};
	d->sock = bench_asprintf("%s/netpold.sock", e->tmp_dir);
	d->state_dir = bench_asprintf("%s/state", e->tmp_dir);
	d->pin_dir = bench_asprintf("%s/daemon", e->sb.pin_dir);
	d->log = bench_asprintf("%s/netpold.log", e->tmp_dir);
	d->conf = bench_asprintf("%s/netpold.conf", e->tmp_dir);
	d->attach_cgroup = strdup(attach_cgroup);
	if (bench_write_file(d->conf, "") < 0)
		return -EIO;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		exec_netpold(d);
	d->pid = pid;
	bench_track_child(pid);
	while (bench_now_ns() < deadline) {
		struct timespec ts = {.tv_nsec = 50000000};

		if (waitpid(pid, NULL, WNOHANG) == pid) {
			np_sb_untrack_child(&bench_env->sb, pid);
			d->pid = 0;
			return -ECHILD;
		}
		if (access(d->sock, F_OK) == 0 && bench_daemon_call(d, "status", NULL, NULL, NULL, 0) == 0)
			return 0;
		drop_ctl(d);
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

void bench_daemon_stop(struct bench_daemon *d)
{
	drop_ctl(d);
	if (d->pid <= 0)
		return;
	kill(d->pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		struct timespec ts = {.tv_nsec = 50000000};

		if (waitpid(d->pid, NULL, WNOHANG) == d->pid)
			goto done;
		nanosleep(&ts, NULL);
	}
	kill(d->pid, SIGKILL);
	waitpid(d->pid, NULL, 0);
done:
	np_sb_untrack_child(&bench_env->sb, d->pid);
	d->pid = 0;
}

const char *bench_daemon_log_tail(const struct bench_daemon *d)
{
	static char tail[1024];
	_cleanup_free_ char *text = NULL;
	size_t len;

	tail[0] = '\0';
	if (!d->log || bench_read_file(d->log, &text) < 0)
		return tail;
	len = strlen(text);
	snprintf(tail, sizeof(tail), "%s", len > sizeof(tail) - 1 ? text + len - (sizeof(tail) - 1) : text);
	return tail;
}

/* ---- the protocol (proto/conn.h) ---- */

static int send_request(struct bench_daemon *d, const char *command, json_t *params)
{
	_cleanup_(json_decrefp) json_t *req = np_proto_request(command, (json_int_t)++d->next_id, params);

	return req ? np_conn_send(d->conn, req) : -ENOMEM;
}

/* One reply line (the daemon answers in request order). */
static int read_reply(struct bench_daemon *d, json_t **ret)
{
	int r = np_conn_recv(d->conn, ret);

	return r == -EAGAIN ? -ETIMEDOUT : r;
}

static int reply_result(json_t *reply, json_t **result, char *err, size_t err_size)
{
	if (!json_is_true(json_object_get(reply, "ok"))) {
		json_t *m = json_object_get(json_object_get(reply, "error"), "message");

		if (err)
			snprintf(err, err_size, "%s",
				 json_is_string(m) ? json_string_value(m) : "(no message)");
		return -EBADMSG;
	}
	if (result)
		*result = json_incref(json_object_get(reply, "result"));
	return 0;
}

int bench_daemon_call(struct bench_daemon *d, const char *command, json_t *params, json_t **result, char *err,
		      size_t err_size)
{
	json_t *reply = NULL;
	int r;

	r = connect_ctl(d);
	if (r < 0) {
		json_decref(params);
		return r;
	}
	r = send_request(d, command, params);
	if (r == 0)
		r = read_reply(d, &reply);
	/* One connection per call: netpold closes one that stays silent
	 * between calls (idle_timeout). */
	drop_ctl(d);
	if (r < 0)
		return r;
	r = reply_result(reply, result, err, err_size);
	json_decref(reply);
	return r;
}

int bench_daemon_call_many(struct bench_daemon *d, const char *command, json_t **params, size_t n,
			   size_t *failed)
{
	int r = connect_ctl(d);

	*failed = 0;
	for (size_t i = 0; i < n && r == 0; i += BATCH) {
		size_t end = i + BATCH < n ? i + BATCH : n;

		for (size_t k = i; k < end && r == 0; k++)
			r = send_request(d, command, TAKE_PTR(params[k]));
		for (size_t k = i; k < end && r == 0; k++) {
			json_t *reply = NULL;

			r = read_reply(d, &reply);
			if (r == 0 && reply_result(reply, NULL, NULL, 0) < 0)
				(*failed)++;
			json_decref(reply);
		}
	}
	for (size_t i = 0; i < n; i++)
		json_decref(params[i]);
	drop_ctl(d);
	return r;
}

int bench_netpolctl(struct bench_daemon *d, char *out, size_t out_size, const char *const *args)
{
	const char *argv[24];
	struct np_sb_spawn s = {.argv = (char *const *)argv,
				.netns_fd = -1,
				.out = out,
				.out_size = out_size,
				.merge_stderr = true,
				.timeout_ms = 60000};
	int n = 0;

	argv[n++] = d->netpolctl;
	argv[n++] = "--socket";
	argv[n++] = d->sock;
	for (; *args && n < 23; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	return bench_spawn_wait(&s);
}

/* ---- following violations ---- */

static void follow_line(struct bench_follow *f, const char *line)
{
	json_t *j = json_loads(line, 0, NULL), *ev, *missed;

	if (!j) {
		f->err = -EBADMSG;
		return;
	}
	ev = json_object_get(j, "event");
	missed = json_object_get(j, "missed");
	if (json_is_object(ev)) {
		json_t *c = json_object_get(ev, "count");

		f->events++;
		f->counted += json_is_integer(c) ? (uint64_t)json_integer_value(c) : 1;
	} else if (json_is_integer(missed)) {
		f->missed += (uint64_t)json_integer_value(missed);
	}
	json_decref(j);
}

static void *follow_thread(void *arg)
{
	struct bench_follow *f = arg;
	size_t cap = 1 << 20, len = 0;
	_cleanup_free_ char *buf = malloc(cap);

	if (!buf)
		return NULL;
	while (!f->stop) {
		struct pollfd p = {.fd = np_conn_fd(f->conn), .events = POLLIN};
		char *start, *nl;
		ssize_t n;

		if (poll(&p, 1, 100) <= 0)
			continue;
		n = read(p.fd, buf + len, cap - len - 1);
		if (n <= 0) {
			f->err = n < 0 ? -errno : -EPIPE;
			break;
		}
		len += (size_t)n;
		buf[len] = '\0';
		for (start = buf; (nl = strchr(start, '\n')); start = nl + 1) {
			*nl = '\0';
			follow_line(f, start);
		}
		len -= (size_t)(start - buf);
		memmove(buf, start, len);
		if (len == cap - 1) {
			f->err = -E2BIG;
			break;
		}
	}
	return NULL;
}

/* The first line answers the request; events follow it. */
static int follow_confirm(struct bench_follow *f)
{
	char line[4096];
	size_t len = 0;

	while (len < sizeof(line) - 1) {
		struct pollfd p = {.fd = np_conn_fd(f->conn), .events = POLLIN};

		if (poll(&p, 1, 10000) <= 0 || read(p.fd, line + len, 1) != 1)
			return -ETIMEDOUT;
		if (line[len] == '\n') {
			line[len] = '\0';
			return strstr(line, "\"following\"") ? 0 : -EBADMSG;
		}
		len++;
	}
	return -E2BIG;
}

int bench_follow_start(struct bench_daemon *d, const char *target, struct bench_follow *f)
{
	struct bench_daemon conn = *d;
	int r;

	*f = (struct bench_follow){.d = d};
	conn.conn = NULL;
	r = connect_ctl(&conn);
	if (r < 0)
		return r;
	f->conn = conn.conn;
	r = send_request(&conn, "violations", json_pack("{s:s, s:b}", "target", target, "follow", 1));
	if (r == 0)
		r = follow_confirm(f);
	if (r == 0) {
		sigset_t all, old;

		/* Signals go to the main thread, which cleans up. */
		sigfillset(&all);
		pthread_sigmask(SIG_BLOCK, &all, &old);
		if (pthread_create(&f->thread, NULL, follow_thread, f) != 0)
			r = -EAGAIN;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	if (r < 0) {
		f->conn = np_conn_free(f->conn);
	}
	return r;
}

void bench_follow_stop(struct bench_follow *f)
{
	if (!f->conn)
		return;
	f->stop = 1;
	pthread_join(f->thread, NULL);
	f->conn = np_conn_free(f->conn);
}

/* ---- /proc ---- */

int bench_proc_mem_kb(pid_t pid, long *rss_kb, long *hwm_kb)
{
	_cleanup_free_ char *path = bench_asprintf("/proc/%d/status", (int)pid), *text = NULL;
	char *p;
	int r = bench_read_file(path, &text);

	if (r < 0)
		return r;
	p = strstr(text, "VmRSS:");
	*rss_kb = p ? strtol(p + 6, NULL, 10) : -1;
	p = strstr(text, "VmHWM:");
	*hwm_kb = p ? strtol(p + 6, NULL, 10) : -1;
	return *rss_kb >= 0 ? 0 : -ENODATA;
}

int bench_proc_cpu_ns(pid_t pid, uint64_t *ret)
{
	_cleanup_free_ char *path = bench_asprintf("/proc/%d/stat", (int)pid), *text = NULL;
	unsigned long long ut, st;
	long tick = sysconf(_SC_CLK_TCK);
	char *p;
	int r = bench_read_file(path, &text);

	if (r < 0)
		return r;
	/* Fields after the command (which may hold spaces): state is 3rd;
	 * utime and stime are the 14th and 15th. */
	p = strrchr(text, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -EINVAL;
	*ret = (ut + st) * (1000000000ull / (uint64_t)(tick > 0 ? tick : 100));
	return 0;
}
