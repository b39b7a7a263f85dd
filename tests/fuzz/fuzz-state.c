/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * libFuzzer harness for netpold's state files (daemon/state-parse.c).
 * Input: policies.json, bindings.json and state.json, separated by NUL
 * bytes (raw NULs are never valid JSON); a missing or empty part is a file
 * that does not exist. Every state the parser accepts must be consistent:
 * ids in range and unique, names unique, every binding naming a policy of
 * the state, targets normalized and unique, origins known.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state-parse.h"
#include "target.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The next part, copied to a buffer of its exact size so that an over-read
 * is caught; absent (text NULL) when empty. */
static const uint8_t *take_part(const uint8_t *p, const uint8_t *end, struct np_state_text *t)
{
	const uint8_t *sep = p < end ? memchr(p, '\0', (size_t)(end - p)) : NULL;
	size_t len = (size_t)((sep ?: end) - p);

	if (len > 0) {
		char *buf = malloc(len);

		if (!buf)
			abort();
		memcpy(buf, p, len);
		*t = (struct np_state_text){buf, len};
	}
	return sep ? sep + 1 : end;
}

static const struct np_state_policy *find_policy(const struct np_saved_state *s, uint32_t id)
{
	for (size_t i = 0; i < s->n_policies; i++)
		if (s->policies[i].id == id)
			return &s->policies[i];
	return NULL;
}

static void check_state(const struct np_saved_state *s)
{
	for (size_t i = 0; i < s->n_policies; i++) {
		const struct np_state_policy *p = &s->policies[i];

		if (p->id == 0 || p->id >= NP_MAX_POLICIES || !p->policy || !p->compiled ||
		    find_policy(s, p->id) != p)
			abort();
		for (size_t j = 0; j < i; j++)
			if (strcmp(s->policies[j].policy->name, p->policy->name) == 0)
				abort();
	}
	if (s->n_bindings > NP_MAX_BINDINGS)
		abort();
	for (size_t i = 0; i < s->n_bindings; i++) {
		const struct np_state_binding *b = &s->bindings[i];
		const char *why = "";
		char *norm = NULL;

		if (!find_policy(s, b->policy_id) || !np_origin_name(b->origin))
			abort();
		if (target_normalize(b->target, &norm, &why) < 0 || strcmp(norm, b->target) != 0)
			abort();
		free(norm);
		for (size_t j = 0; j < i && i < 512; j++)
			if (strcmp(s->bindings[j].target, b->target) == 0)
				abort();
	}
	if (s->source == NP_STATE_NONE && (s->n_policies || s->n_bindings))
		abort();
	if (s->source == NP_STATE_POLICIES_ONLY && s->n_bindings)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct np_state_files f = {};
	struct np_saved_state s = {};
	struct np_state_error err;
	int r;

	p = take_part(p, end, &f.policies);
	p = take_part(p, end, &f.bindings);
	(void)take_part(p, end, &f.legacy);
	r = np_state_parse(&f, &s, &err);
	if (r == 0)
		check_state(&s);
	else if (r != -EINVAL && r != -ENOMEM)
		abort();
	else if (r == -EINVAL && (!err.file || !err.reason[0]))
		abort(); /* every refusal names the file and the reason */
	np_state_done(&s);
	free((char *)f.policies.text);
	free((char *)f.bindings.text);
	free((char *)f.legacy.text);
	return 0;
}
