/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What netpold and its engine helper (netpol-engine: the Engine API client
 * of one socket, in a process of its own without capabilities, as
 * docs/threat-model.md decides) say to each other: one JSON object per
 * SOCK_SEQPACKET datagram, at most ENGINE_MSG_MAX bytes.
 *
 * helper -> netpold, "t" names the kind:
 *   {"t":"state","engine":"docker","api":"1.41","connected":true}
 *   {"t":"lost","error":-111,"message":"..."}
 *   {"t":"sync-begin"} {"t":"sync-item","c":C}... {"t":"sync-end"}
 *   {"t":"event","a":"create","c":C}
 *   {"t":"rejected","message":"..."}
 *   {"t":"inspected","q":7,"error":0,"message":null,"c":C or null}
 *   {"t":"image-label","q":8,"error":0,"message":null,"value":"..." or null}
 * netpold -> helper:
 *   {"t":"inspect","q":7,"name":"web"}
 *   {"t":"image-label","q":8,"image":"sha256:..."}
 * C is a container: {"id","name","image","image_id","policy","project",
 * "service","problem","pid","running"}. netpold checks every field by the
 * rules of docker-parse.h, as it would the engine's own answer.
 */
#pragma once

#include <jansson.h>

#include "docker-parse.h"

#define ENGINE_MSG_MAX (64u * 1024)

/* C for ct; NULL on OOM. */
json_t *engine_msg_container(const struct docker_container *ct);
/* ct from C, every field checked: -EBADMSG (ct cleared), -ENOMEM. */
int engine_msg_parse_container(const json_t *c, struct docker_container *ct);
/* "create" and back; -EINVAL for a name that is none. */
int engine_msg_action(const char *s, enum docker_action *ret);
/* Sends j as one datagram (MSG_NOSIGNAL), and drops the caller's reference
 * to it (j may be NULL: -ENOMEM); -EMSGSIZE over ENGINE_MSG_MAX. */
int engine_msg_send(int fd, json_t *j);
