// SPDX-License-Identifier: GPL-2.0-only
#include <linux/module.h>

static long place(unsigned long *size, Elf_Shdr *sechdr)
{
	long ret = ALIGN(*size, sechdr->sh_addralign ? : 1);

	*size = ret + sechdr->sh_size;
	return ret;
}

static void lay_out(struct module *mod, const Elf_Ehdr *hdr, Elf_Shdr *sechdrs)
{
	unsigned int pass, i;

	for (pass = 0; pass < 4; ++pass) {
		for (i = 0; i < hdr->e_shnum; ++i)
			sechdrs[i].sh_entsize =
				place((unsigned long *)&mod->core_layout.size, &sechdrs[i]);

		if (pass == 0)
			mod->core_layout.text_size = mod->core_layout.size;

	}
}

static void *load_image(struct module *mod)
{
	return alloc_progmem(mod->core_layout.size);
}
