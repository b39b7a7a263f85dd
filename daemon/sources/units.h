/* SPDX-License-Identifier: GPL-2.0-only */
/* systemd units, bound by name (units.c, docs/units.md). */
#pragma once

#include "source.h"

extern const struct np_source_ops units_source_ops;
