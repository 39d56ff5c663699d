// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>

void callthunks_patch_module_calls(struct callthunk_sites *cs,
				   struct module *mod)
{
	struct core_text ct = {
		.base = (unsigned long)mod->core_layout.base,
		.end  = (unsigned long)mod->core_layout.base + mod->core_layout.text_size,
		.name = mod->name,
	};

	mutex_lock(&text_mutex);
	callthunks_setup(cs, &ct);
	mutex_unlock(&text_mutex);
}

static void add_smp_locks(struct module *me, void *lseg, unsigned long size)
{
	void *text = me->core_layout.base;
	void *text_end = text + me->core_layout.text_size;

	alternatives_smp_module_add(me, me->name, lseg, lseg + size,
				    text, text_end);
}
