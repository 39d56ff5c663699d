// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

static void module_bounds(const struct module *mod, unsigned long *s, unsigned long *e)
{
	*s = (unsigned long)mod->core_layout.base;
	*e = *s + mod->core_layout.size;
}

static bool in_module(const struct module *mod, unsigned long addr)
{
	unsigned long start, end;

	module_bounds(mod, &start, &end);
	return addr >= start && addr < end;
}
