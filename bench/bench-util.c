/* SPDX-License-Identifier: GPL-2.0-only */
/* Helpers of the benchmark harness: see bench-util.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bench_die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "netpol-bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

void bench_log(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

char *bench_asprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

int bench_write_file(const char *path, const char *text)
{
	_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -errno;
	return np_write_full(fd, text, strlen(text));
}

int bench_read_file(const char *path, char **ret)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		if (cap - len < 4096) {
			char *n = realloc(buf, cap * 2 + 8192);

			if (!n)
				return -ENOMEM;
			buf = n;
			cap = cap * 2 + 8192;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*ret = TAKE_PTR(buf);
	return 0;
}

int bench_ncpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n > 0 ? (int)n : 1;
}

int bench_pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu % bench_ncpus(), &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		return -errno;
	return 0;
}

/* In the child, between fork and exec: only async-signal-safe calls. */
static void __attribute__((noreturn)) spawn_child(struct bench_spawn *s, int out_w)
{
	int in = open(s->stdin_path ?: "/dev/null", O_RDONLY | O_CLOEXEC);

	/* A command outliving a killed harness would hold its namespace. */
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
static int spawn_collect(struct bench_spawn *s, int fd, uint64_t deadline)
{
	size_t len = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int wait_ms = -1;
		char scratch[4096];
		ssize_t r;

		if (deadline) {
			uint64_t now = bench_now_ns();

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

int bench_spawn_wait(struct bench_spawn *s)
{
	_cleanup_close_ int r_end = -EBADF;
	int pipefd[2] = {-1, -1}, status, r = 0;
	uint64_t deadline = s->timeout_ms ? bench_now_ns() + (uint64_t)s->timeout_ms * 1000000ull : 0;
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
	r = spawn_collect(s, r_end, deadline);
	if (r == -ETIMEDOUT)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (r < 0)
		return r;
	if (WIFSIGNALED(status))
		return -ECHILD;
	return WEXITSTATUS(status);
}

int bench_run_in(int netns_fd, const char *arg0, ...)
{
	const char *argv[32];
	struct bench_spawn s = {.argv = (char *const *)argv, .netns_fd = netns_fd, .timeout_ms = 60000};
	va_list ap;
	int n = 0;

	argv[n++] = arg0;
	va_start(ap, arg0);
	while (n < 31 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return bench_spawn_wait(&s);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(const double *v, size_t n)
{
	_cleanup_free_ double *tmp = NULL;

	if (n == 0)
		return 0;
	tmp = malloc(n * sizeof(*v));
	if (!tmp)
		abort();
	memcpy(tmp, v, n * sizeof(*v));
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

double bench_min(const double *v, size_t n)
{
	double m = n ? v[0] : 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

double bench_max(const double *v, size_t n)
{
	double m = n ? v[0] : 0;

	for (size_t i = 1; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m;
}
