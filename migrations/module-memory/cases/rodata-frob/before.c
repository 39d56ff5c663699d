// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static void protect(const struct module *mod)
{
	set_ro((unsigned long)mod->core_layout.base + mod->core_layout.text_size,
	       mod->core_layout.ro_size - mod->core_layout.text_size);
	set_ro((unsigned long)mod->core_layout.base + mod->core_layout.ro_size,
	       mod->core_layout.ro_after_init_size - mod->core_layout.ro_size);
	set_nx((unsigned long)mod->core_layout.base + mod->core_layout.ro_after_init_size,
	       mod->core_layout.size - mod->core_layout.ro_after_init_size);
}
