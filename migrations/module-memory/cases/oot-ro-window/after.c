// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

/* A write into the read-only part of a module is an attack. */
static bool hits_read_only(const struct module *mod, unsigned long addr)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
	if (within_module_mem_type(addr, mod, MOD_TEXT) ||
	    within_module_mem_type(addr, mod, MOD_RODATA))
		return true;
#else
	if (addr >= (unsigned long)mod->core_layout.base &&
	    addr < (unsigned long)mod->core_layout.base + mod->core_layout.ro_size)
		return true;
#endif
	return false;
}
