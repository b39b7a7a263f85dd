/* SPDX-License-Identifier: GPL-2.0-only */
#include "fake-netpold.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#define TIMEOUT_MS 10000
#define MAX_CONNS  8

void die(const char *what)
{
	perror(what);
	exit(99);
}

void read_back(int fd, char *buf, size_t size)
{
	ssize_t n = pread(fd, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	close(fd);
}

int listen_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0)
		die("listen");
	return fd;
}

struct conn {
	int fd;
	char buf[65536];
	size_t len;
};

static void send_reply(int fd, const char *reply, json_t *req)
{
	json_t *rep = json_loads(reply, 0, NULL);
	char *text;

	if (!rep)
		die("reply");
	if (!json_object_get(rep, "id"))
		json_object_set(rep, "id", json_object_get(req, "id") ?: json_null());
	text = json_dumps(rep, JSON_COMPACT);
	if (!text)
		die("json_dumps");
	/* the hook may be gone: that is for the checks to see, not a SIGPIPE */
	(void)!send(fd, text, strlen(text), MSG_NOSIGNAL);
	(void)!send(fd, "\n", 1, MSG_NOSIGNAL);
	free(text);
	json_decref(rep);
}

/* Reads what a connection sent; answers each complete line from replies. */
static void serve(struct child *c, struct conn *k, const char *const *replies, size_t n_replies)
{
	ssize_t n = read(k->fd, k->buf + k->len, sizeof(k->buf) - 1 - k->len);
	char *nl;

	if (n <= 0) {
		close(k->fd);
		k->fd = -1;
		return;
	}
	k->len += (size_t)n;
	while ((nl = memchr(k->buf, '\n', k->len))) {
		size_t i = json_array_size(c->requests);
		json_t *req = json_loadb(k->buf, (size_t)(nl - k->buf), 0, NULL);

		json_array_append_new(c->requests, req ?: json_null());
		k->len -= (size_t)(nl + 1 - k->buf);
		memmove(k->buf, nl + 1, k->len);
		if (i >= n_replies || !replies[i])
			continue;
		if (strcmp(replies[i], CLOSE) == 0) {
			close(k->fd);
			k->fd = -1;
			return;
		}
		send_reply(k->fd, replies[i], req);
	}
}

void fake_spawn(struct child *c, int listen_fd, const char *const *argv, const char *in, size_t in_len,
		const char *env_socket, const char *cwd, const char *const *replies, size_t n_replies)
{
	int out = memfd_create("out", MFD_CLOEXEC), err = memfd_create("err", MFD_CLOEXEC), inp[2], pidfd, ws;
	struct conn conns[MAX_CONNS];
	size_t n_conns = 0;
	pid_t pid;

	*c = (struct child){.status = -1, .requests = json_array()};
	if (out < 0 || err < 0 || pipe2(inp, O_CLOEXEC) < 0)
		die("memfd_create");
	if (in) {
		/* a file, not a pipe: the child reads it to the end, whatever its size */
		int f = memfd_create("in", MFD_CLOEXEC);

		if (f < 0 || write(f, in, in_len) != (ssize_t)in_len || lseek(f, 0, SEEK_SET) < 0)
			die("stdin");
		close(inp[0]);
		inp[0] = f;
	}
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		if (dup2(inp[0], STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
		    dup2(err, STDERR_FILENO) < 0)
			_exit(127);
		if (env_socket)
			setenv("NETPOL_SOCKET", env_socket, 1);
		else
			unsetenv("NETPOL_SOCKET");
		if (cwd && chdir(cwd) < 0)
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(inp[0]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open");
	for (;;) {
		struct pollfd p[2 + MAX_CONNS] = {{.fd = pidfd, .events = POLLIN},
						  {.fd = listen_fd, .events = POLLIN}};
		int k;

		for (size_t i = 0; i < n_conns; i++)
			p[2 + i] = (struct pollfd){.fd = conns[i].fd, .events = POLLIN};
		k = poll(p, 2 + n_conns, TIMEOUT_MS);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			printf("%s ran for more than %d ms, killed\n", argv[0], TIMEOUT_MS);
			kill(pid, SIGKILL);
			break;
		}
		if (p[0].revents & POLLIN)
			break;
		if ((p[1].revents & POLLIN) && n_conns < MAX_CONNS) {
			conns[n_conns].fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
			conns[n_conns].len = 0;
			if (conns[n_conns].fd < 0)
				die("accept4");
			c->connections++;
			n_conns++;
		}
		for (size_t i = 0; i < n_conns; i++)
			if (p[2 + i].revents && conns[i].fd >= 0)
				serve(c, &conns[i], replies, n_replies);
	}
	if (waitpid(pid, &ws, 0) < 0)
		die("waitpid");
	while (poll(&(struct pollfd){.fd = listen_fd, .events = POLLIN}, 1, 0) > 0) {
		close(accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC));
		c->connections++;
	}
	for (size_t i = 0; i < n_conns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	close(inp[1]);
	close(pidfd);
	if (WIFEXITED(ws))
		c->status = WEXITSTATUS(ws);
	read_back(out, c->out, sizeof(c->out));
	read_back(err, c->err, sizeof(c->err));
}

void child_done(struct child *c)
{
	json_decref(c->requests);
	c->requests = NULL;
}
