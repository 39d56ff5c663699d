// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static void protect(const struct module *mod)
{
	set_ro((unsigned long)mod->mem[MOD_RODATA].base,
	       mod->mem[MOD_RODATA].size);
	set_ro((unsigned long)mod->mem[MOD_RO_AFTER_INIT].base,
	       mod->mem[MOD_RO_AFTER_INIT].size);
	set_nx((unsigned long)mod->mem[MOD_DATA].base,
	       mod->mem[MOD_DATA].size);
}
