// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static void report_layout(void)
{
	pr_info("%s: text %lu KiB, base %lx\n",
		THIS_MODULE->name,
#ifdef HAVE_MODULE_LAYOUT
		(unsigned long)THIS_MODULE->core_layout.text_size / 1024,
		(unsigned long)THIS_MODULE->core_layout.base);
#else
		(unsigned long)THIS_MODULE->core_text_size / 1024,
		(unsigned long)THIS_MODULE->module_core);
#endif
}
