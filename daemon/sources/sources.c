/* SPDX-License-Identifier: GPL-2.0-only */
#include <stddef.h>

#include "containers.h"
#include "source.h"
#include "units.h"

const struct np_source_ops *const np_sources[] = {
    &containers_source_ops,
    &units_source_ops,
    NULL,
};
