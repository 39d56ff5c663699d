// SPDX-License-Identifier: GPL-1.0+
#include <linux/module.h>

int module_frob_arch_sections(Elf_Ehdr *hdr, Elf_Shdr *sechdrs,
			      char *secstrings, struct module *me)
{
	/* Room for the GOT and the PLT behind what the sections need. */
	me->mem[MOD_TEXT].size = ALIGN(me->mem[MOD_TEXT].size, 8);
	me->arch.got_offset = me->mem[MOD_TEXT].size;
	me->mem[MOD_TEXT].size += me->arch.got_size;
	me->arch.plt_offset = me->mem[MOD_TEXT].size;
	if (me->arch.plt_size)
		me->mem[MOD_TEXT].size += me->arch.plt_size;
	return 0;
}

static Elf_Addr *got_entry(struct module *me, unsigned int slot)
{
	return me->mem[MOD_TEXT].base + me->arch.got_offset + slot * sizeof(Elf_Addr);
}

static unsigned long plt_target(struct module *me, unsigned long off)
{
	return (Elf_Addr) me->mem[MOD_TEXT].base +
		me->arch.plt_offset + off;
}
