// SPDX-License-Identifier: GPL-2.0
/*
 * kguard: a kernel integrity checker that records the text ranges of the
 * modules it watches, to tell whether a code pointer (a notifier, an ops
 * table entry) points into a known module's code.
 *
 * At load it watches itself first: its own functions must fall in the core
 * text it recorded and nowhere else, its init function in the init text,
 * and its data in neither.
 */
#define pr_fmt(fmt) "version-ladder-wrappers: " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

#include "kguard_compat.h"

struct kg_text_range {
	unsigned long start;
	unsigned long end;
};

static struct kg_text_range kg_core, kg_init;
static unsigned long kg_watched;

static void kg_range_set(struct kg_text_range *range, void *base, unsigned int size)
{
	range->start = (unsigned long)base;
	range->end = range->start + size;
}

static bool kg_range_has(const struct kg_text_range *range, unsigned long addr)
{
	return addr >= range->start && addr < range->end;
}

static void kg_watch(struct module *mod)
{
	kg_range_set(&kg_core, kg_module_core(mod), kg_core_text_size(mod));
	kg_range_set(&kg_init, kg_module_init(mod), kg_init_text_size(mod));
	kg_watched++;
}

/* Where an address belongs: 'c' core text, 'i' init text, '-' neither, '2' both. */
static char kg_classify(unsigned long addr)
{
	bool core = kg_range_has(&kg_core, addr);
	bool init = kg_range_has(&kg_init, addr);

	if (core && init)
		return '2';
	return core ? 'c' : init ? 'i' : '-';
}

static int __init kguard_init(void)
{
	const struct {
		const char *name;
		unsigned long addr;
		char expect;
	} probes[] = {
		{ "kg_range_set", (unsigned long)kg_range_set, 'c' },
		{ "kg_range_has", (unsigned long)kg_range_has, 'c' },
		{ "kg_watch", (unsigned long)kg_watch, 'c' },
		{ "kg_classify", (unsigned long)kg_classify, 'c' },
		{ "kguard_init", (unsigned long)kguard_init, 'i' },
		{ "kg_core", (unsigned long)&kg_core, '-' },
		{ "kg_watched", (unsigned long)&kg_watched, '-' },
	};
	char got[ARRAY_SIZE(probes) + 1];
	int i, bad = 0;

	kg_watch(THIS_MODULE);
	for (i = 0; i < ARRAY_SIZE(probes); i++) {
		got[i] = kg_classify(probes[i].addr);
		if (got[i] != probes[i].expect) {
			pr_info("%s at %px is '%c', expected '%c'\n", probes[i].name,
				(void *)probes[i].addr, got[i], probes[i].expect);
			bad++;
		}
	}
	got[i] = '\0';
	if (bad || kg_core.end <= kg_core.start || kg_init.end <= kg_init.start)
		pr_info("self-check FAIL (%d of %zu misplaced: %s; core text %lu bytes, init text %lu bytes)\n",
			bad, ARRAY_SIZE(probes), got, kg_core.end - kg_core.start,
			kg_init.end - kg_init.start);
	else
		pr_info("self-check PASS (%s; core text %lu bytes, init text %lu bytes)\n", got,
			kg_core.end - kg_core.start, kg_init.end - kg_init.start);
	return 0;
}

static void __exit kguard_exit(void)
{
}

module_init(kguard_init);
module_exit(kguard_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Integrity checker that records module text ranges (migrator corpus)");
