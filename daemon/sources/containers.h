/* SPDX-License-Identifier: GPL-2.0-only */
/* Docker and Podman containers, by label, with a default (containers.c). */
#pragma once

#include "source.h"

extern const struct np_source_ops containers_source_ops;
