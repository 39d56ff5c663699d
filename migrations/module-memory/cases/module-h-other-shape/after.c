/* SPDX-License-Identifier: GPL-2.0-only */
#ifndef _LINUX_MODULE_H
#define _LINUX_MODULE_H

struct module_layout {
	void *base;
	unsigned int size;
	unsigned int text_size;
	unsigned int ro_size;
	unsigned int ro_after_init_size;
};

struct module {
	const char *name;
	struct module_layout core_layout;
	struct module_layout init_layout;
};

bool __within_module_core(unsigned long addr, const struct module *mod);

static inline bool within_module_core(unsigned long addr,
				      const struct module *mod)
{
	return __within_module_core(addr, mod);
}

static inline bool within_module_init(unsigned long addr,
				      const struct module *mod)
{
	return (unsigned long)mod->init_layout.base <= addr &&
	       addr < (unsigned long)mod->init_layout.base + mod->init_layout.size;
}

#endif
