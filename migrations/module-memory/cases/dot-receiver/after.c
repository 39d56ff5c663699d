// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static int check_entry(unsigned long pc)
{
	struct module mod;

	memset(&mod, 0, sizeof(mod));
	pr_debug("text at %px\n", mod.mem[MOD_TEXT].base);
	if (within_module_init(pc, &mod))
		return 1;
	return mod.mem[MOD_INIT_TEXT].size != 0;
}
