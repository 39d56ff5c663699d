// SPDX-License-Identifier: GPL-2.0
#ifndef _SECTION_WINDOWS_H
#define _SECTION_WINDOWS_H

#include <linux/module.h>
#include <linux/version.h>

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
#define MOD_TEXT_START(m)	((unsigned long)(m)->mem[MOD_TEXT].base)
#define MOD_TEXT_LEN(m)		((m)->mem[MOD_TEXT].size)
#define MOD_RODATA_START(m)	((unsigned long)(m)->mem[MOD_RODATA].base)
#define MOD_RODATA_LEN(m)	((m)->mem[MOD_RODATA].size)
#elif defined(HAVE_MODULE_LAYOUT)
#define MOD_TEXT_START(m)	((unsigned long)(m)->core_layout.base)
#define MOD_TEXT_LEN(m)		((m)->core_layout.text_size)
#define MOD_RODATA_START(m)	((unsigned long)(m)->core_layout.base + (m)->core_layout.text_size)
#define MOD_RODATA_LEN(m)	((m)->core_layout.ro_size - (m)->core_layout.text_size)
#else
#define MOD_TEXT_START(m)	((unsigned long)(m)->module_core)
#define MOD_TEXT_LEN(m)		((m)->core_text_size)
#define MOD_RODATA_START(m)	((unsigned long)(m)->module_core + (m)->core_text_size)
#define MOD_RODATA_LEN(m)	((m)->core_ro_size - (m)->core_text_size)
#endif

#endif
