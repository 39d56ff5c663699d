// SPDX-License-Identifier: GPL-2.0
/*
 * textseal: seals a module's code with a checksum at load, so that a later
 * scan can tell whether anything wrote into it.  The seal covers exactly the
 * module's core text: hashing less would miss patched code, hashing more
 * would take in data that changes by itself.
 *
 * At load it seals itself and checks the sealed window against the kernel's
 * own page tables: the executable pages around its code must be exactly
 * the pages of the window.
 */
#define pr_fmt(fmt) "unguarded-text-hash: " fmt

#include <linux/crc32.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <asm/pgtable.h>

struct ts_seal {
	unsigned long start;
	unsigned long len;
	u32 crc;
};

static struct ts_seal ts_self;

static void ts_seal_module(struct module *mod, struct ts_seal *seal)
{
	seal->start = (unsigned long)mod->core_layout.base;
	seal->len = mod->core_layout.text_size;
	seal->crc = crc32_le(~0, mod->core_layout.base, mod->core_layout.text_size);
}

static bool ts_seal_intact(const struct ts_seal *seal)
{
	return crc32_le(~0, (const void *)seal->start, seal->len) == seal->crc;
}

/* Mapped and executable in the kernel's page tables. */
static bool ts_page_is_code(unsigned long addr)
{
	unsigned int level;
	pte_t *pte = lookup_address(addr, &level);

	return pte && (pte_flags(*pte) & _PAGE_PRESENT) && !(pte_flags(*pte) & _PAGE_NX);
}

static int __init textseal_init(void)
{
	unsigned long here = (unsigned long)ts_seal_module & PAGE_MASK;
	unsigned long first = here, last = here;
	unsigned long window_end;
	int bad = 0;

	ts_seal_module(THIS_MODULE, &ts_self);
	window_end = PAGE_ALIGN(ts_self.start + ts_self.len);

	/* The run of executable pages around this module's own code. */
	while (first > PAGE_SIZE && ts_page_is_code(first - PAGE_SIZE))
		first -= PAGE_SIZE;
	while (ts_page_is_code(last + PAGE_SIZE))
		last += PAGE_SIZE;

	if (ts_self.start != first || window_end != last + PAGE_SIZE) {
		pr_info("sealed [%px, %px) but the code pages are [%px, %px)\n",
			(void *)ts_self.start, (void *)(ts_self.start + ts_self.len),
			(void *)first, (void *)(last + PAGE_SIZE));
		bad++;
	}
	if ((unsigned long)ts_seal_intact - ts_self.start >= ts_self.len) {
		pr_info("ts_seal_intact at %px is outside the seal\n", ts_seal_intact);
		bad++;
	}
	if (!ts_seal_intact(&ts_self)) {
		pr_info("the seal does not hold right after sealing\n");
		bad++;
	}
	if (bad)
		pr_info("self-check FAIL (%d wrong; %lu bytes sealed, crc32 %08x)\n", bad,
			ts_self.len, ts_self.crc);
	else
		pr_info("self-check PASS (%lu bytes sealed in %lu pages, crc32 %08x)\n", ts_self.len,
			(last + PAGE_SIZE - first) / PAGE_SIZE, ts_self.crc);
	return 0;
}

static void __exit textseal_exit(void)
{
}

module_init(textseal_init);
module_exit(textseal_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Seals module text with a checksum (migrator corpus)");
