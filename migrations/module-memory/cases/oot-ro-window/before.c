// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

/* A write into the read-only part of a module is an attack. */
static bool hits_read_only(const struct module *mod, unsigned long addr)
{
	if (addr >= (unsigned long)mod->core_layout.base &&
	    addr < (unsigned long)mod->core_layout.base + mod->core_layout.ro_size)
		return true;
	return false;
}
