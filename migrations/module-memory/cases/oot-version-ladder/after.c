// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
static inline void *mod_text_base(const struct module *mod)
{
	return mod->mem[MOD_TEXT].base;
}

static inline unsigned int mod_text_size(const struct module *mod)
{
	return mod->mem[MOD_TEXT].size;
}
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
static inline void *mod_text_base(const struct module *mod)
{
	return mod->core_layout.base;
}

static inline unsigned int mod_text_size(const struct module *mod)
{
	return mod->core_layout.text_size;
}
#else
static inline void *mod_text_base(const struct module *mod)
{
	return mod->module_core;
}

static inline unsigned int mod_text_size(const struct module *mod)
{
	return mod->core_text_size;
}
#endif

bool addr_in_own_text(unsigned long addr)
{
	unsigned long base = (unsigned long)mod_text_base(THIS_MODULE);

	return addr >= base && addr < base + mod_text_size(THIS_MODULE);
}
