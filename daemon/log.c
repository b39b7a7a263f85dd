/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <systemd/sd-journal.h>

#include "cleanup-util.h"
#include "log.h"

#define LOG_LINE_MAX   2048
#define LOG_FIELDS_MAX 16

static int max_level = LOG_INFO;
static bool to_journal;

static const char *const level_names[] = {
    [LOG_EMERG] = "emerg",     [LOG_ALERT] = "alert",	[LOG_CRIT] = "crit", [LOG_ERR] = "err",
    [LOG_WARNING] = "warning", [LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

/* systemd sets JOURNAL_STREAM=dev:ino for a stderr it connected to the
 * journal; a stderr redirected elsewhere by a child does not match. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_setup(enum log_target target)
{
	switch (target) {
	case LOG_TARGET_JOURNAL:
		to_journal = true;
		break;
	case LOG_TARGET_STDERR:
		to_journal = false;
		break;
	default:
		to_journal = stderr_is_journal();
	}
}

void log_set_max_level(int level)
{
	max_level = level;
}

int log_get_max_level(void)
{
	return max_level;
}

int log_level_from_string(const char *s)
{
	char *end;
	long n;

	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "error") == 0)
		return LOG_ERR;
	errno = 0;
	n = strtol(s, &end, 10);
	if (errno == 0 && *s && !*end && n >= LOG_EMERG && n <= LOG_DEBUG)
		return (int)n;
	return -EINVAL;
}

int log_target_from_string(const char *s)
{
	if (strcmp(s, "auto") == 0)
		return LOG_TARGET_AUTO;
	if (strcmp(s, "stderr") == 0 || strcmp(s, "console") == 0)
		return LOG_TARGET_STDERR;
	if (strcmp(s, "journal") == 0)
		return LOG_TARGET_JOURNAL;
	return -EINVAL;
}

static void write_stderr(int level, const char *msg)
{
	char stamp[32];
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	fprintf(stderr, "%s.%03ld netpold[%d]: %s%s%s\n", stamp, ts.tv_nsec / 1000000, (int)getpid(),
		level <= LOG_WARNING ? level_names[level] : "", level <= LOG_WARNING ? ": " : "", msg);
}

struct jfields {
	struct iovec iov[LOG_FIELDS_MAX + 8];
	char buf[6][128];
	size_t n, nbuf;
};

static void jfield_printf(struct jfields *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jfield_printf(struct jfields *j, const char *fmt, ...)
{
	va_list ap;
	char *b;

	if (j->nbuf >= ELEMENTSOF(j->buf))
		return;
	b = j->buf[j->nbuf++];
	va_start(ap, fmt);
	vsnprintf(b, sizeof(j->buf[0]), fmt, ap);
	va_end(ap);
	j->iov[j->n++] = (struct iovec){b, strlen(b)};
}

static void write_journal(int level, int error, const char *file, int line, const char *func,
			  const char *const *fields, const char *msg)
{
	_cleanup_free_ char *m = NULL;
	struct jfields j = {};

	if (asprintf(&m, "MESSAGE=%s", msg) < 0)
		return;
	j.iov[j.n++] = (struct iovec){m, strlen(m)};
	jfield_printf(&j, "PRIORITY=%d", level);
	jfield_printf(&j, "SYSLOG_IDENTIFIER=netpold");
	if (error)
		jfield_printf(&j, "ERRNO=%d", error);
	if (file) {
		jfield_printf(&j, "CODE_FILE=%s", file);
		jfield_printf(&j, "CODE_LINE=%d", line);
		jfield_printf(&j, "CODE_FUNC=%s", func);
	}
	for (size_t i = 0; fields && fields[i] && i < LOG_FIELDS_MAX; i++)
		j.iov[j.n++] = (struct iovec){(void *)fields[i], strlen(fields[i])};
	(void)sd_journal_sendv(j.iov, (int)j.n);
}

static int log_dispatch(int level, int error, const char *file, int line, const char *func,
			const char *const *fields, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	int saved = errno;

	if (error < 0)
		error = -error;
	if (level > max_level)
		return -error;
	/* %m is about this error, not whatever errno happens to hold. */
	errno = error;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (to_journal)
		write_journal(level, error, file, line, func, fields, msg);
	else
		write_stderr(level, msg);
	errno = saved;
	return -error;
}

int log_internal(int level, int error, const char *file, int line, const char *func, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, error, file, line, func, NULL, fmt, ap);
	va_end(ap);
	return r;
}

int log_struct_internal(int level, int error, const char *const *fields, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = log_dispatch(level, error, NULL, 0, NULL, fields, fmt, ap);
	va_end(ap);
	return r;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	size_t n;

	if (max_level < LOG_DEBUG)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	log_debug("libbpf: %s", msg);
	return 0;
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
