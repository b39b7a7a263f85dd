/* SPDX-License-Identifier: GPL-2.0-only */
/* The Engine API's events, list and inspect, from bytes (docker-parse.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "docker-parse.h"
#include "json-util.h"

#define COMPOSE_PROJECT "com.docker.compose.project"
#define COMPOSE_SERVICE "com.docker.compose.service"

const char *docker_action_name(enum docker_action a)
{
	static const char *const names[] = {"create", "start", "die", "destroy", "rename"};

	return (unsigned)a < ELEMENTSOF(names) ? names[a] : "?";
}

bool docker_id_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return i == 64;
}

static bool name_char(char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
		return true;
	return !first && (ch == '_' || ch == '.' || ch == '-');
}

bool docker_name_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= 255 || !name_char(s[i], i == 0))
			return false;
	return i >= 2;
}

static bool text_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return i > 0 && i <= DOCKER_LABEL_MAX;
}

void docker_container_clear(struct docker_container *ct)
{
	free(ct->name);
	free(ct->image);
	free(ct->policy);
	free(ct->project);
	free(ct->service);
	free(ct->problem);
	*ct = (struct docker_container){};
}

void docker_container_free(struct docker_container *ct)
{
	if (ct) {
		docker_container_clear(ct);
		free(ct);
	}
}

static void problem(struct docker_container *ct, const char *what, const char *why)
{
	/* The first one is enough to say that something is off. */
	if (!ct->problem && asprintf(&ct->problem, "%s %s", what, why) < 0)
		ct->problem = NULL;
}

/* Sets *dst to a copy of v when it is a valid text; a missing value is
 * fine, an invalid one is left out and said. -ENOMEM only. */
static int take_text(struct docker_container *ct, char **dst, json_t *v, const char *what)
{
	const char *s;

	if (!v || json_is_null(v))
		return 0;
	s = json_string_value(v);
	if (!s || !text_valid(s) || strlen(s) != json_string_length(v)) {
		problem(ct, what,
			json_is_string(v) && json_string_length(v) == 0 ? "is empty"
			: json_is_string(v) ? "is longer than 255 bytes or has control characters"
					    : "is not a string");
		return 0;
	}
	free(*dst);
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static int take_name(struct docker_container *ct, json_t *v)
{
	const char *s = json_string_value(v);

	if (!v)
		return 0;
	if (s && *s == '/')
		s++;
	if (!s || strlen(s) != json_string_length(v) - (s != json_string_value(v)) || !docker_name_valid(s)) {
		problem(ct, "the name", "breaks Docker's rules");
		return 0;
	}
	free(ct->name);
	ct->name = strdup(s);
	return ct->name ? 0 : -ENOMEM;
}

static int take_labels(struct docker_container *ct, json_t *labels, const char *label_key)
{
	char what[DOCKER_LABEL_MAX + 16];
	int r;

	if (!labels || json_is_null(labels))
		return 0;
	if (!json_is_object(labels)) {
		problem(ct, "the labels", "are not an object");
		return 0;
	}
	snprintf(what, sizeof(what), "the label %s", label_key);
	r = take_text(ct, &ct->policy, json_object_get(labels, label_key), what);
	if (r >= 0)
		r = take_text(ct, &ct->project, json_object_get(labels, COMPOSE_PROJECT),
			      "the label " COMPOSE_PROJECT);
	if (r >= 0)
		r = take_text(ct, &ct->service, json_object_get(labels, COMPOSE_SERVICE),
			      "the label " COMPOSE_SERVICE);
	return r;
}

bool docker_image_id_parse(const char *s, char ret[72])
{
	if (s && strncmp(s, "sha256:", 7) == 0)
		s += 7;
	if (!s || strlen(s) != 64 || !docker_id_valid(s))
		return false;
	snprintf(ret, 72, "sha256:%s", s);
	return true;
}

/* The image a container runs, by id: a tag may move, an id does not. One
 * that is not an id is not known (the image's name stands in for it). */
static void take_image_id(struct docker_container *ct, json_t *v)
{
	if (!docker_image_id_parse(json_string_value(v), ct->image_id))
		ct->image_id[0] = '\0';
}

static int take_id(struct docker_container *ct, json_t *v)
{
	const char *s = json_string_value(v);

	if (!s || strlen(s) != 64 || !docker_id_valid(s))
		return -EBADMSG;
	memcpy(ct->id, s, 65);
	return 0;
}

/* GET /containers/{id}/json */
static int container_from_inspect(json_t *j, const char *label_key, struct docker_container *ct)
{
	json_t *config = json_object_get(j, "Config"), *st = json_object_get(j, "State");
	json_t *pid = json_object_get(st, "Pid");
	int r;

	if (take_id(ct, json_object_get(j, "Id")) < 0)
		return -EBADMSG;
	ct->running = json_is_true(json_object_get(st, "Running"));
	if (ct->running && json_is_integer(pid) && json_integer_value(pid) > 0 &&
	    json_integer_value(pid) <= 0x3fffffff)
		ct->pid = (pid_t)json_integer_value(pid);
	take_image_id(ct, json_object_get(j, "Image"));
	r = take_name(ct, json_object_get(j, "Name"));
	if (r >= 0)
		r = take_text(ct, &ct->image, json_object_get(config, "Image"), "the image");
	if (r >= 0)
		r = take_labels(ct, json_object_get(config, "Labels"), label_key);
	return r;
}

/* An entry of GET /containers/json: no pid there. */
static int container_from_list(json_t *j, const char *label_key, struct docker_container *ct)
{
	json_t *names = json_object_get(j, "Names");
	int r;

	if (take_id(ct, json_object_get(j, "Id")) < 0)
		return -EBADMSG;
	ct->running = json_is_string(json_object_get(j, "State")) &&
		      strcmp(json_string_value(json_object_get(j, "State")), "running") == 0;
	take_image_id(ct, json_object_get(j, "ImageID"));
	r = take_name(ct, json_array_get(names, 0));
	if (r >= 0)
		r = take_text(ct, &ct->image, json_object_get(j, "Image"), "the image");
	if (r >= 0)
		r = take_labels(ct, json_object_get(j, "Labels"), label_key);
	return r;
}

/* An event's Actor: its labels are among the attributes, next to "name"
 * and "image". */
static int container_from_actor(json_t *actor, const char *label_key, struct docker_container *ct)
{
	json_t *attrs = json_object_get(actor, "Attributes");
	int r;

	if (take_id(ct, json_object_get(actor, "ID")) < 0)
		return -EBADMSG;
	if (!json_is_object(attrs))
		return 0;
	r = take_name(ct, json_object_get(attrs, "name"));
	if (r >= 0)
		r = take_text(ct, &ct->image, json_object_get(attrs, "image"), "the image");
	if (r >= 0)
		r = take_labels(ct, attrs, label_key);
	return r;
}

static int action_parse(const char *s, enum docker_action *ret)
{
	static const struct {
		const char *name;
		enum docker_action action;
	} map[] = {
	    {"create", DOCKER_CREATE},	 {"start", DOCKER_START},    {"die", DOCKER_DIE},
	    {"destroy", DOCKER_DESTROY}, {"remove", DOCKER_DESTROY}, {"rename", DOCKER_RENAME},
	};

	for (size_t i = 0; s && i < ELEMENTSOF(map); i++)
		if (strcmp(s, map[i].name) == 0) {
			*ret = map[i].action;
			return 0;
		}
	return -ENOENT;
}

int docker_event_parse(const char *line, size_t len, const char *label_key, enum docker_action *ret_action,
		       struct docker_container *ct)
{
	_cleanup_json_ json_t *j = NULL;
	enum docker_action a;
	int r;

	if (len == 0)
		return 0;
	if (len > DOCKER_EVENT_MAX)
		return -EMSGSIZE;
	j = json_loadb(line, len, 0, NULL);
	if (!json_is_object(j))
		return -EBADMSG;
	if (!json_is_string(json_object_get(j, "Type")) ||
	    strcmp(json_string_value(json_object_get(j, "Type")), "container") != 0 ||
	    action_parse(json_string_value(json_object_get(j, "Action")), &a) < 0)
		return 0; /* not ours: the filter lets nothing else through, a newer server might */
	*ret_action = a;
	r = container_from_actor(json_object_get(j, "Actor"), label_key, ct);
	if (r < 0) {
		docker_container_clear(ct);
		return r == -ENOMEM ? r : -EINVAL;
	}
	return 1;
}

int docker_list_parse(const char *body, size_t size, const char *label_key,
		      void (*rejected)(void *userdata, size_t index), void *userdata,
		      struct docker_container ***ret_v, size_t *ret_n)
{
	_cleanup_json_ json_t *j = NULL;
	struct docker_container **v;
	size_t i, n = 0;
	json_t *e;

	j = json_loadb(body, size, 0, NULL);
	if (!json_is_array(j))
		return -EBADMSG;
	v = calloc(json_array_size(j) + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	json_array_foreach(j, i, e)
	{
		_cleanup_(docker_container_freep) struct docker_container *ct = calloc(1, sizeof(*ct));
		int r = ct ? container_from_list(e, label_key, ct) : -ENOMEM;

		if (r == -ENOMEM) {
			while (n > 0)
				docker_container_free(v[--n]);
			free(v);
			return r;
		}
		if (r < 0) {
			if (rejected)
				rejected(userdata, i);
			continue;
		}
		v[n++] = TAKE_PTR(ct);
	}
	*ret_v = v;
	*ret_n = n;
	return 0;
}

int docker_inspect_parse(const char *body, size_t size, const char *label_key, struct docker_container **ret)
{
	_cleanup_(docker_container_freep) struct docker_container *ct = NULL;
	_cleanup_json_ json_t *j = NULL;
	int r;

	j = json_loadb(body, size, 0, NULL);
	if (!json_is_object(j))
		return -EBADMSG;
	ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	r = container_from_inspect(j, label_key, ct);
	if (r < 0)
		return r == -ENOMEM ? r : -EINVAL;
	*ret = TAKE_PTR(ct);
	return 0;
}

int docker_image_label_parse(const char *body, size_t size, const char *label_key, char **ret_value)
{
	_cleanup_json_ json_t *j = NULL;
	json_t *v;
	const char *s;

	j = json_loadb(body, size, 0, NULL);
	if (!json_is_object(j))
		return -EBADMSG;
	v = json_object_get(json_object_get(json_object_get(j, "Config"), "Labels"), label_key);
	s = json_string_value(v);
	*ret_value = NULL;
	if (!s || !text_valid(s) || strlen(s) != json_string_length(v))
		return 0;
	*ret_value = strdup(s);
	return *ret_value ? 0 : -ENOMEM;
}
