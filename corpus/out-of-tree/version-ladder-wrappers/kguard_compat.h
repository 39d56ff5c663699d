/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kguard: accessors for the parts of struct module the checker reads.
 *
 * struct module changed in 4.5 (module_core became core_layout).  Every
 * access goes through these wrappers, so the checker itself names no
 * kernel version.
 */
#ifndef KGUARD_COMPAT_H
#define KGUARD_COMPAT_H

#include <linux/module.h>
#include <linux/version.h>

static inline void *kg_module_core(struct module *mod)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
	return mod->core_layout.base;
#else
	return mod->module_core;
#endif
}

static inline unsigned int kg_core_text_size(struct module *mod)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
	return mod->core_layout.text_size;
#else
	return mod->core_text_size;
#endif
}

static inline void *kg_module_init(struct module *mod)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
	return mod->init_layout.base;
#else
	return mod->module_init;
#endif
}

static inline unsigned int kg_init_text_size(struct module *mod)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
	return mod->init_layout.text_size;
#else
	return mod->init_text_size;
#endif
}

#endif /* KGUARD_COMPAT_H */
