// SPDX-License-Identifier: GPL-1.0+
#include <linux/module.h>

int module_frob_arch_sections(Elf_Ehdr *hdr, Elf_Shdr *sechdrs,
			      char *secstrings, struct module *me)
{
	/* Room for the GOT and the PLT behind what the sections need. */
	me->core_layout.size = ALIGN(me->core_layout.size, 8);
	me->arch.got_offset = me->core_layout.size;
	me->core_layout.size += me->arch.got_size;
	me->arch.plt_offset = me->core_layout.size;
	if (me->arch.plt_size)
		me->core_layout.size += me->arch.plt_size;
	return 0;
}

static Elf_Addr *got_entry(struct module *me, unsigned int slot)
{
	return me->core_layout.base + me->arch.got_offset + slot * sizeof(Elf_Addr);
}

static unsigned long plt_target(struct module *me, unsigned long off)
{
	return (Elf_Addr) me->core_layout.base +
		me->arch.plt_offset + off;
}
