// SPDX-License-Identifier: GPL-2.0-or-later
#include <linux/module.h>

static inline int in_init(struct module *me, void *loc)
{
	return within_module_init((unsigned long)loc, me);
}

static inline int in_core(struct module *me, u32 loc)
{
	return within_module_core(loc, me);
}

static bool in_init_fast(const struct module *mod, void *loc)
{
	return within_module_init((unsigned long)loc, mod);
}

static bool mixed(struct module *me, void *loc)
{
	return loc >= me->init_layout.base && loc < me->init_layout.base + me->core_layout.size;
}
