/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * netpol-engine: the Engine API client of one Docker or Podman socket, in a
 * process of its own, run by netpold (docs/threat-model.md: no parser of
 * input that containers control runs with netpold's capabilities). It drops
 * every capability, follows the engine (docker-api.c) and tells netpold
 * what it sees over fd 3 (engine-msg.h); it answers netpold's inspects. It
 * ends when netpold closes its end of fd 3.
 *
 *   netpol-engine --label KEY SOCKET
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>
#include <systemd/sd-event.h>

#include "cleanup-util.h"
#include "curl-glue.h"
#include "docker-api.h"
#include "engine-msg.h"
#include "json-util.h"

#define LINK_FD 3

static struct docker_client *client;

/* Root without capabilities still opens a root-owned engine socket. With
 * no_new_privs and empty sets nothing is regained; the bounding set goes
 * too where netpold may drop it (its unit does not give CAP_SETPCAP). */
static int drop_capabilities(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2] = {};

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	for (int cap = 0; cap <= 63; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL && errno != EPERM)
			return -errno;
	if (syscall(SYS_capset, &h, d) < 0)
		return -errno;
	return 0;
}

/* netpold gone, or a message it could not take: nothing left to do. */
static void send_or_exit(json_t *j)
{
	int r = engine_msg_send(LINK_FD, j);

	if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
		exit(EXIT_SUCCESS);
	if (r < 0)
		fprintf(stderr, "netpol-engine: a message to netpold failed: %s\n", strerror(-r));
}

static void send_state(void)
{
	send_or_exit(json_pack("{s:s, s:s?, s:s?, s:b}", "t", "state", "engine", docker_client_engine(client),
			       "api", docker_client_api_version(client), "connected",
			       docker_client_connected(client)));
}

static void on_synced(void *userdata, struct docker_client *c, struct docker_container *const *v, size_t n)
{
	send_state();
	send_or_exit(json_pack("{s:s}", "t", "sync-begin"));
	for (size_t i = 0; i < n; i++)
		send_or_exit(json_pack("{s:s, s:o}", "t", "sync-item", "c", engine_msg_container(v[i])));
	send_or_exit(json_pack("{s:s}", "t", "sync-end"));
}

static void on_event(void *userdata, struct docker_client *c, enum docker_action a,
		     const struct docker_container *ct)
{
	send_or_exit(json_pack("{s:s, s:s, s:o}", "t", "event", "a", docker_action_name(a), "c",
			       engine_msg_container(ct)));
}

static void on_lost(void *userdata, struct docker_client *c, int error, const char *message)
{
	send_state();
	send_or_exit(json_pack("{s:s, s:i, s:s?}", "t", "lost", "error", error, "message", message));
}

static void on_rejected(void *userdata, struct docker_client *c, const char *message)
{
	send_or_exit(json_pack("{s:s, s:s}", "t", "rejected", "message", message));
}

static const struct docker_client_ops ops = {
    .synced = on_synced,
    .event = on_event,
    .lost = on_lost,
    .rejected = on_rejected,
};

static void on_inspected(void *userdata, int error, const char *message, const struct docker_container *ct)
{
	send_or_exit(json_pack("{s:s, s:I, s:i, s:s?, s:o}", "t", "inspected", "q",
			       (json_int_t)(intptr_t)userdata, "error", error, "message", message, "c",
			       ct ? engine_msg_container(ct) : json_null()));
}

static void on_image_label(void *userdata, int error, const char *message, const char *value)
{
	send_or_exit(json_pack("{s:s, s:I, s:i, s:s?, s:s?}", "t", "image-label", "q",
			       (json_int_t)(intptr_t)userdata, "error", error, "message", message, "value",
			       value));
}

static void request(const char *buf, size_t n)
{
	_cleanup_json_ json_t *j = json_loadb(buf, n, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "t"));
	json_int_t q = json_integer_value(json_object_get(j, "q"));
	const char *arg;
	int r;

	if (!t)
		return;
	if (strcmp(t, "inspect") == 0) {
		arg = json_string_value(json_object_get(j, "name"));
		r = arg ? docker_client_inspect(client, arg, on_inspected, (void *)(intptr_t)q) : -EINVAL;
		if (r < 0)
			on_inspected((void *)(intptr_t)q, r, strerror(-r), NULL);
	} else if (strcmp(t, "image-label") == 0) {
		arg = json_string_value(json_object_get(j, "image"));
		r = arg ? docker_client_image_label(client, arg, on_image_label, (void *)(intptr_t)q)
			: -EINVAL;
		if (r < 0)
			on_image_label((void *)(intptr_t)q, r, strerror(-r), NULL);
	}
}

static int on_link(sd_event_source *s, int fd, uint32_t revents, void *userdata)
{
	char buf[ENGINE_MSG_MAX + 1];
	ssize_t n;

	for (;;) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n <= 0) /* netpold closed its end */
			return sd_event_exit(sd_event_source_get_event(s), 0);
		request(buf, (size_t)n);
	}
}

int main(int argc, char **argv)
{
	_cleanup_(sd_event_unrefp) sd_event *e = NULL;
	struct np_curl *curl = NULL;
	int r;

	if (argc != 4 || strcmp(argv[1], "--label") != 0) {
		fprintf(stderr, "usage: netpol-engine --label KEY SOCKET (run by netpold, fd 3 its link)\n");
		return 2;
	}
	r = drop_capabilities();
	if (r < 0) {
		fprintf(stderr, "netpol-engine: cannot drop capabilities: %s\n", strerror(-r));
		return 1;
	}
	r = sd_event_default(&e);
	if (r >= 0)
		r = np_curl_new(e, &curl);
	if (r >= 0)
		r = docker_client_new(e, curl, argv[3], argv[2], &ops, NULL, &client);
	if (r >= 0)
		r = sd_event_add_io(e, NULL, LINK_FD, EPOLLIN, on_link, NULL);
	if (r >= 0)
		r = sd_event_loop(e);
	if (r < 0)
		fprintf(stderr, "netpol-engine: %s: %s\n", argv[3], strerror(-r));
	docker_client_free(client);
	np_curl_free(curl);
	return r < 0 ? 1 : 0;
}
