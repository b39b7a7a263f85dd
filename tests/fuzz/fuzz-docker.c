/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer harness for what netpold reads from Docker's and Podman's
 * Engine API (daemon/sources/docker-parse.c), all of which a container's
 * creator controls: its labels, name and image, and an image's author its
 * labels. The first byte picks the parser (modulo 4): 0 an /events line,
 * 1 the body of GET /containers/json, 2 the body of GET /containers/{id}/json,
 * 3 the body of GET /images/{name}/json (the seeds in corpus/docker/ begin
 * with the digit); the rest is the input, in a buffer of its exact size
 * (no NUL after it, as curl-glue hands out lines), so that an over-read is
 * caught. Invariants, for every container handed out:
 *  - a 64-hex id; a name NULL or by Docker's rule; an image and labels NULL
 *    or 1 to DOCKER_LABEL_MAX bytes without control characters; an image
 *    id "" or "sha256:" and 64 hex; a problem NULL or a non-empty text;
 *  - a pid only when running, in the kernel's range; none from an event or
 *    a list entry;
 *  - the documented return values only, never -ENOMEM; nothing handed out
 *    on failure;
 *  - the same input gives the same answer; everything is freed (ASan).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz-util.h"
#include "sources/docker-parse.h"

#define LABEL_KEY "bpf.network.policy"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, const char *what)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	fuzz_assert(n > 0 && n <= DOCKER_LABEL_MAX, "%s is %zu bytes", what, n);
	for (size_t i = 0; i < n; i++)
		fuzz_assert((unsigned char)s[i] >= 0x20 && s[i] != 0x7f, "%s has byte 0x%02x", what,
			    (unsigned char)s[i]);
}

static void check_container(const struct docker_container *ct, bool may_have_pid)
{
	fuzz_assert(strnlen(ct->id, sizeof(ct->id)) == 64 && docker_id_valid(ct->id), "id '%.65s'", ct->id);
	fuzz_assert(!ct->name || docker_name_valid(ct->name), "name '%s'", ct->name);
	check_text(ct->image, "the image");
	fuzz_assert(!ct->image_id[0] ||
			(strnlen(ct->image_id, sizeof(ct->image_id)) == 71 &&
			 strncmp(ct->image_id, "sha256:", 7) == 0 && docker_id_valid(ct->image_id + 7)),
		    "image id '%.72s'", ct->image_id);
	check_text(ct->policy, "the policy");
	check_text(ct->project, "the project");
	check_text(ct->service, "the service");
	fuzz_assert(!ct->problem || *ct->problem, "an empty problem");
	fuzz_assert(ct->pid >= 0 && ct->pid <= 0x3fffffff, "pid %d", (int)ct->pid);
	fuzz_assert(ct->pid == 0 || (ct->running && may_have_pid), "pid %d, running %d", (int)ct->pid,
		    ct->running);
}

static bool same_text(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_container(const struct docker_container *a, const struct docker_container *b)
{
	return memcmp(a->id, b->id, sizeof(a->id)) == 0 && same_text(a->name, b->name) &&
	       same_text(a->image, b->image) && strcmp(a->image_id, b->image_id) == 0 &&
	       same_text(a->policy, b->policy) && same_text(a->project, b->project) &&
	       same_text(a->service, b->service) && same_text(a->problem, b->problem) && a->pid == b->pid &&
	       a->running == b->running;
}

static bool is_zero(const struct docker_container *ct)
{
	static const struct docker_container zero;

	return memcmp(ct, &zero, sizeof(zero)) == 0;
}

static void fuzz_event(const char *p, size_t n)
{
	struct docker_container ct = {}, again = {};
	enum docker_action a = (enum docker_action) - 1, a2 = (enum docker_action) - 1;
	int r, r2;

	r = docker_event_parse(p, n, LABEL_KEY, &a, &ct);
	fuzz_assert(r == 1 || r == 0 || r == -EBADMSG || r == -EINVAL || r == -EMSGSIZE, "event: %d", r);
	if (r == 1 || r == -EINVAL)
		fuzz_assert(a >= DOCKER_CREATE && a <= DOCKER_RENAME &&
				strcmp(docker_action_name(a), "?") != 0,
			    "action %d", (int)a);
	if (r == 1) {
		check_container(&ct, false);
		fuzz_assert(!ct.running, "an event says running");
	} else
		fuzz_assert(is_zero(&ct), "event %d left something in ct", r);
	r2 = docker_event_parse(p, n, LABEL_KEY, &a2, &again);
	fuzz_assert(r2 == r && a2 == a && same_container(&ct, &again), "event: %d then %d", r, r2);
	docker_container_clear(&ct);
	docker_container_clear(&again);
}

static void rejected(void *userdata, size_t index)
{
	size_t *last = userdata;

	/* In order, each entry once. */
	fuzz_assert(*last == SIZE_MAX || index > *last, "rejected %zu after %zu", index, *last);
	*last = index;
}

static void fuzz_list(const char *p, size_t n)
{
	struct docker_container **v = NULL, **v2 = NULL;
	size_t nv = 0, nv2 = 0, last = SIZE_MAX, last2 = SIZE_MAX;
	int r, r2;

	r = docker_list_parse(p, n, LABEL_KEY, rejected, &last, &v, &nv);
	fuzz_assert(r == 0 || r == -EBADMSG, "list: %d", r);
	fuzz_assert(r == 0 || (!v && nv == 0), "list: %d with output", r);
	for (size_t i = 0; i < nv; i++)
		check_container(v[i], false);
	r2 = docker_list_parse(p, n, LABEL_KEY, rejected, &last2, &v2, &nv2);
	fuzz_assert(r2 == r && nv2 == nv && last2 == last, "list: %d then %d, %zu then %zu", r, r2, nv, nv2);
	for (size_t i = 0; i < nv; i++) {
		fuzz_assert(same_container(v[i], v2[i]), "list entry %zu differs", i);
		docker_container_free(v[i]);
		docker_container_free(v2[i]);
	}
	free(v);
	free(v2);
}

static void fuzz_inspect(const char *p, size_t n)
{
	_cleanup_(docker_container_freep) struct docker_container *ct = NULL, *again = NULL;
	int r, r2;

	r = docker_inspect_parse(p, n, LABEL_KEY, &ct);
	fuzz_assert(r == 0 || r == -EBADMSG || r == -EINVAL, "inspect: %d", r);
	fuzz_assert((r == 0) == !!ct, "inspect: %d, ct %p", r, (void *)ct);
	if (ct)
		check_container(ct, true);
	r2 = docker_inspect_parse(p, n, LABEL_KEY, &again);
	fuzz_assert(r2 == r && (!ct || same_container(ct, again)), "inspect: %d then %d", r, r2);
}

static void fuzz_image(const char *p, size_t n)
{
	_cleanup_free_ char *v = NULL, *again = NULL;
	int r, r2;

	r = docker_image_label_parse(p, n, LABEL_KEY, &v);
	fuzz_assert(r == 0 || r == -EBADMSG, "image: %d", r);
	fuzz_assert(r == 0 || !v, "image: %d with a value", r);
	check_text(v, "the image's label");
	r2 = docker_image_label_parse(p, n, LABEL_KEY, &again);
	fuzz_assert(r2 == r && same_text(v, again), "image: %d then %d", r, r2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *p;

	if (size == 0)
		return 0;
	p = malloc(size - 1 ?: 1);
	if (!p)
		abort();
	memcpy(p, data + 1, size - 1);
	switch (data[0] % 4) {
	case 0:
		fuzz_event(p, size - 1);
		break;
	case 1:
		fuzz_list(p, size - 1);
		break;
	case 2:
		fuzz_inspect(p, size - 1);
		break;
	default:
		fuzz_image(p, size - 1);
	}
	free(p);
	return 0;
}
