// SPDX-License-Identifier: GPL-2.0
/*
 * kprel: relocation checks of a live patcher.  A patch module's
 * relocations may only target its own text; each target is stored as an
 * offset from the start of that text, so that the patch can be verified
 * again after the module moved (a reload lands elsewhere).
 *
 * At load it turns the addresses of its own functions into offsets and
 * checks what they must keep: their distances, a page-aligned start, and
 * refusals for data and init code.
 */
#define pr_fmt(fmt) "locals-bounds-test: " fmt

#include <linux/errno.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>

static int kp_text_offset(struct module *mod, unsigned long addr, unsigned long *offset)
{
	unsigned long start = (unsigned long)mod->core_layout.base;
	unsigned long size = mod->core_layout.text_size;

	if (addr < start || addr >= start + size)
		return -ERANGE;
	*offset = addr - start;
	return 0;
}

static noinline int kp_patched_read(void)
{
	return 1;
}

static noinline int kp_patched_write(void)
{
	return 2;
}

static unsigned long kp_relocs_done;

static int __init kprel_init(void)
{
	const unsigned long targets[] = {
		(unsigned long)kp_patched_read,
		(unsigned long)kp_patched_write,
		(unsigned long)kp_text_offset,
	};
	unsigned long offsets[ARRAY_SIZE(targets)], offset, start;
	int i, err, bad = 0;

	for (i = 0; i < ARRAY_SIZE(targets); i++) {
		err = kp_text_offset(THIS_MODULE, targets[i], &offsets[i]);
		if (err) {
			pr_info("target %d at %px refused (%d)\n", i, (void *)targets[i], err);
			bad++;
			offsets[i] = 0;
		}
	}
	/* One text, one start: every offset leads back to the same page-aligned start. */
	start = targets[0] - offsets[0];
	for (i = 1; i < ARRAY_SIZE(targets); i++) {
		if (targets[i] - offsets[i] != start) {
			pr_info("target %d leads to start %px, target 0 to %px\n", i,
				(void *)(targets[i] - offsets[i]), (void *)start);
			bad++;
		}
	}
	if (start & ~PAGE_MASK) {
		pr_info("text start %px is not page-aligned\n", (void *)start);
		bad++;
	}
	if (kp_text_offset(THIS_MODULE, (unsigned long)&kp_relocs_done, &offset) != -ERANGE) {
		pr_info("data kp_relocs_done accepted as text\n");
		bad++;
	}
	if (kp_text_offset(THIS_MODULE, (unsigned long)kprel_init, &offset) != -ERANGE) {
		pr_info("init code kprel_init accepted as core text\n");
		bad++;
	}
	kp_relocs_done = ARRAY_SIZE(targets) - bad;
	if (bad)
		pr_info("self-check FAIL (%d wrong)\n", bad);
	else
		pr_info("self-check PASS (offsets 0x%lx 0x%lx 0x%lx)\n", offsets[0], offsets[1], offsets[2]);
	return 0;
}

static void __exit kprel_exit(void)
{
}

module_init(kprel_init);
module_exit(kprel_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Live patcher relocation offsets within module text (migrator corpus)");
