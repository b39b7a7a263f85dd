/* SPDX-License-Identifier: GPL-2.0-only */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cleanup-util.h"
#include "engine-msg.h"
#include "json-util.h"

/* What docker-parse.c lets through, and a problem's sentence. */
#define PROBLEM_MAX 1024

json_t *engine_msg_container(const struct docker_container *ct)
{
	return json_pack("{s:s, s:s?, s:s?, s:s, s:s?, s:s?, s:s?, s:s?, s:I, s:b}", "id", ct->id, "name",
			 ct->name, "image", ct->image, "image_id", ct->image_id, "policy", ct->policy,
			 "project", ct->project, "service", ct->service, "problem", ct->problem, "pid",
			 (json_int_t)ct->pid, "running", ct->running);
}

static bool printable(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n]; n++)
		if ((unsigned char)s[n] < 0x20 || s[n] == 0x7f)
			return false;
	return n > 0 && n <= max;
}

/* An optional text: absent or null leaves *dst NULL. */
static int take(const json_t *c, const char *key, size_t max, bool (*valid)(const char *s), char **dst)
{
	const json_t *v = json_object_get(c, key);
	const char *s = json_string_value(v);

	if (!v || json_is_null(v))
		return 0;
	if (!s || strlen(s) != json_string_length(v) || !printable(s, max) || (valid && !valid(s)))
		return -EBADMSG;
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static bool image_id_valid(const char *s)
{
	return !*s || (strncmp(s, "sha256:", 7) == 0 && docker_id_valid(s + 7));
}

static int parse(const json_t *c, struct docker_container *ct)
{
	const char *id = json_string_value(json_object_get(c, "id"));
	const char *image_id = json_string_value(json_object_get(c, "image_id")) ?: "";
	const json_t *pid = json_object_get(c, "pid"), *running = json_object_get(c, "running");
	int r;

	if (!json_is_object(c) || !id || !docker_id_valid(id) || !image_id_valid(image_id) ||
	    strlen(image_id) >= sizeof(ct->image_id) || !json_is_integer(pid) ||
	    json_integer_value(pid) < 0 || json_integer_value(pid) > INT32_MAX || !json_is_boolean(running))
		return -EBADMSG;
	memcpy(ct->id, id, sizeof(ct->id));
	strcpy(ct->image_id, image_id);
	ct->pid = (pid_t)json_integer_value(pid);
	ct->running = json_is_true(running);
	r = take(c, "name", DOCKER_LABEL_MAX, docker_name_valid, &ct->name);
	if (r >= 0)
		r = take(c, "image", DOCKER_LABEL_MAX, NULL, &ct->image);
	if (r >= 0)
		r = take(c, "policy", DOCKER_LABEL_MAX, NULL, &ct->policy);
	if (r >= 0)
		r = take(c, "project", DOCKER_LABEL_MAX, NULL, &ct->project);
	if (r >= 0)
		r = take(c, "service", DOCKER_LABEL_MAX, NULL, &ct->service);
	if (r >= 0)
		r = take(c, "problem", PROBLEM_MAX, NULL, &ct->problem);
	return r;
}

int engine_msg_parse_container(const json_t *c, struct docker_container *ct)
{
	int r;

	*ct = (struct docker_container){};
	r = parse(c, ct);
	if (r < 0)
		docker_container_clear(ct);
	return r;
}

int engine_msg_action(const char *s, enum docker_action *ret)
{
	for (int a = DOCKER_CREATE; a <= DOCKER_RENAME; a++)
		if (s && strcmp(s, docker_action_name(a)) == 0) {
			*ret = a;
			return 0;
		}
	return -EINVAL;
}

int engine_msg_send(int fd, json_t *j)
{
	_cleanup_json_ json_t *m = j;
	_cleanup_free_ char *text = m ? json_dumps(m, JSON_COMPACT) : NULL;
	size_t n;

	if (!text)
		return -ENOMEM;
	n = strlen(text);
	if (n > ENGINE_MSG_MAX)
		return -EMSGSIZE;
	if (send(fd, text, n, MSG_NOSIGNAL) < 0)
		return -errno;
	return 0;
}
