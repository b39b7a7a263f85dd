/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpold.conf, as root (or a package) writes it. Whatever the bytes: a
 * refusal names a line of the text and says what is wrong; what is accepted
 * is within the documented bounds (docs/netpold.md).
 */
#include <errno.h>
#include <string.h>

#include "config.h"
#include "fuzz-util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A group name as the parser leaves it: non-empty, trimmed, one line, no
 * comment. */
static void check_group(const char *what, const char *g)
{
	size_t len;

	if (!g)
		return;
	len = strlen(g);
	fuzz_assert(len > 0, "%s is empty rather than NULL", what);
	fuzz_assert(!strchr(g, '\n') && !strchr(g, '#'), "%s '%s' spans a line or a comment", what, g);
	fuzz_assert(g[0] != ' ' && g[0] != '\t' && g[len - 1] != ' ' && g[len - 1] != '\t' &&
			g[len - 1] != '\r',
		    "%s '%s' is not trimmed", what, g);
}

static unsigned count_lines(const uint8_t *data, size_t size)
{
	unsigned n = 0;
	size_t i;

	for (i = 0; i < size; i++)
		n += data[i] == '\n';
	return n + (size > 0 && data[size - 1] != '\n');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_config c;
	struct np_config_error err;
	int r;

	if (config_init(&c) < 0)
		abort();
	/* the bytes themselves, not a copy: a read past them is a report */
	r = config_parse(&c, (const char *)data, size, &err);
	if (r < 0) {
		fuzz_assert(r == -EINVAL || r == -ENOMEM, "returned %d", r);
		/* line 0: the lines are each right, but not together */
		fuzz_assert(err.line <= count_lines(data, size), "error on line %u of %u", err.line,
			    count_lines(data, size));
		fuzz_assert(err.message[0] != '\0', "refused without a message");
	} else {
		fuzz_assert(err.line == 0, "accepted, with an error line %u", err.line);
		fuzz_assert(c.socket_mode <= 0777, "socket_mode 0%o", (unsigned)c.socket_mode);
		fuzz_assert(c.idle_timeout_sec >= 1 && c.idle_timeout_sec <= 3600, "idle_timeout %u",
			    c.idle_timeout_sec);
		fuzz_assert(c.writer_clients >= 1 && c.writer_clients < c.max_clients &&
				c.max_clients_per_uid >= 1,
			    "clients: max %u, per uid %u, writers %u", c.max_clients, c.max_clients_per_uid,
			    c.writer_clients);
		check_group("admin_group", c.admin_group);
		check_group("socket_group", c.socket_group);
	}
	config_done(&c);
	return 0;
}
