// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

static unsigned long own_text_size(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
	return THIS_MODULE->mem[MOD_TEXT].size;
#else
	return THIS_MODULE->core_layout.text_size;
#endif
}
