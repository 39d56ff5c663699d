// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

static void report_layout(void)
{
	pr_info("%s: text %lu KiB, base %lx\n",
		THIS_MODULE->name,
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
		(unsigned long)THIS_MODULE->mem[MOD_TEXT].size / 1024,
		(unsigned long)THIS_MODULE->mem[MOD_TEXT].base);
#elif defined(HAVE_MODULE_LAYOUT)
		(unsigned long)THIS_MODULE->core_layout.text_size / 1024,
		(unsigned long)THIS_MODULE->core_layout.base);
#else
		(unsigned long)THIS_MODULE->core_text_size / 1024,
		(unsigned long)THIS_MODULE->module_core);
#endif
}
