// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>

static void place_gp(struct module *mod)
{
	if (!mod->arch.gp) {
		uint64_t gp;

		if (mod->core_layout.size > MAX_LTOFF)
			gp = mod->core_layout.size - MAX_LTOFF / 2;
		else
			gp = mod->core_layout.size / 2;
		gp = (uint64_t) mod->core_layout.base + ((gp + 7) & -8);
		mod->arch.gp = gp;
	}
}

static void got_gp(struct module *me)
{
	Elf_Addr gp;

	gp = (Elf_Addr)me->core_layout.base + me->arch.got_offset;
	me->arch.gp = gp;
}
