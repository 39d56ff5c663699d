// SPDX-License-Identifier: GPL-2.0-or-later
#include <linux/module.h>
#include "internal.h"

static void free_module(struct module *mod)
{
	mod_sysfs_teardown(mod);
	percpu_modfree(mod);
	/* Finally, free the core (containing the module structure) */
	module_memfree(mod->core_layout.base);
}

static int move_module(struct module *mod, struct load_info *info)
{
	int err;

	err = alloc_layout(&mod->core_layout, info, false);
	if (!err && mod->init_layout.size)
		err = alloc_layout(&mod->init_layout, info, true);
	return err;
}
