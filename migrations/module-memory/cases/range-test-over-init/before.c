// SPDX-License-Identifier: GPL-2.0-or-later
#include <linux/module.h>

static inline int in_init(struct module *me, void *loc)
{
	return (loc >= me->init_layout.base &&
		loc <= (me->init_layout.base + me->init_layout.size));
}

static inline int in_core(struct module *me, u32 loc)
{
	return (me->core_layout.base + me->core_layout.size) > loc &&
		(u32)me->core_layout.base <= loc;
}

static bool in_init_fast(const struct module *mod, void *loc)
{
	return (u64)loc - (u64)mod->init_layout.base < mod->init_layout.size;
}

static bool mixed(struct module *me, void *loc)
{
	return loc >= me->init_layout.base && loc < me->init_layout.base + me->core_layout.size;
}
