// SPDX-License-Identifier: GPL-2.0
#include <linux/kprobes.h>
#include <linux/module.h>

/* Skip probe hits in init code, which is freed once the module runs. */
static bool in_init_code(const struct module *mod, unsigned long addr)
{
	return addr >= (unsigned long)mod->init_layout.base &&
	       addr < (unsigned long)mod->init_layout.base + mod->init_layout.size;
}

static int filter_hit(struct kprobe *p, struct pt_regs *regs)
{
	return in_init_code(THIS_MODULE, instruction_pointer(regs));
}
