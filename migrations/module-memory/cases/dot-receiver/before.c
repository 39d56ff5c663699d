// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int check_entry(unsigned long pc)
{
	struct module mod;

	memset(&mod, 0, sizeof(mod));
	pr_debug("text at %px\n", mod.core_layout.base);
	if ((unsigned long)mod.init_layout.base <= pc &&
	    pc < (unsigned long)mod.init_layout.base + mod.init_layout.size)
		return 1;
	return mod.init_layout.text_size != 0;
}
