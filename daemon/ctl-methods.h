/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The commands of docs/protocol.md, for ctl_server_new() with the manager
 * as userdata.
 */
#pragma once

#include <jansson.h>

#include "ctl-server.h"

struct violation;

extern const struct ctl_method ctl_methods[];

/* For manager.publish, with the server as userdata: a closed violation to
 * the followers whose target filter wants it. */
void ctl_watch_publish(void *userdata, const struct violation *v, json_t *json);
