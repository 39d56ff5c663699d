// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/version.h>

static void report_self(void)
{
#if LINUX_VERSION_CODE < KERNEL_VERSION(6, 4, 0)
	pr_info("text %px\n", THIS_MODULE->core_layout.base);
#else
	pr_info("text %px\n", THIS_MODULE->mem[MOD_TEXT].base);
#endif
	pr_info("text %px, %u bytes of code\n", THIS_MODULE->mem[MOD_TEXT].base,
		THIS_MODULE->mem[MOD_TEXT].size);
	pr_info("%u bytes in all\n",
		(THIS_MODULE->mem[MOD_TEXT].size + THIS_MODULE->mem[MOD_DATA].size +
		 THIS_MODULE->mem[MOD_RODATA].size + THIS_MODULE->mem[MOD_RO_AFTER_INIT].size));
}
