// SPDX-License-Identifier: GPL-2.0
/*
 * trcore: the runtime of a tracer.  It keeps one region per piece of code a
 * probe may fire in, so that a sampled address can be printed as
 * "region+offset" without a kallsyms lookup in the probe handler.
 *
 * At load it registers its own core and init text, then resolves the
 * addresses of its own handlers through the regions.
 */
#define pr_fmt(fmt) "probe-ifdef-arguments: " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct trc_region {
	const char *name;
	unsigned long base;
	unsigned long size;
};

static struct trc_region trc_regions[2];
static unsigned int trc_nregions;

static void trc_region_add(const char *name, void *base, unsigned long size)
{
	struct trc_region *r = &trc_regions[trc_nregions++];

	r->name = name;
	r->base = (unsigned long)base;
	r->size = size;
}

static const struct trc_region *trc_resolve(unsigned long addr, unsigned long *offset)
{
	unsigned int i;

	for (i = 0; i < trc_nregions; i++) {
		if (addr - trc_regions[i].base < trc_regions[i].size) {
			*offset = addr - trc_regions[i].base;
			return &trc_regions[i];
		}
	}
	return NULL;
}

static void trc_register_module(struct module *mod)
{
	trc_region_add("core",
#ifdef TRC_MODULE_LAYOUT
		       mod->core_layout.base, mod->core_layout.text_size
#else
		       mod->module_core, mod->core_text_size
#endif
		       );
	trc_region_add("init",
#ifdef TRC_MODULE_LAYOUT
		       mod->init_layout.base, mod->init_layout.text_size
#else
		       mod->module_init, mod->init_text_size
#endif
		       );
}

/* Handlers a probe would run; the self-check resolves their addresses. */
static noinline void trc_on_entry(void *ctx)
{
	barrier();
}

static noinline void trc_on_return(void *ctx)
{
	barrier();
}

static int __init trcore_init(void)
{
	const struct {
		const char *name;
		unsigned long addr;
		const char *region;	/* NULL: no region */
	} samples[] = {
		{ "trc_on_entry", (unsigned long)trc_on_entry, "core" },
		{ "trc_on_return", (unsigned long)trc_on_return, "core" },
		{ "trc_resolve", (unsigned long)trc_resolve, "core" },
		{ "trcore_init", (unsigned long)trcore_init, "init" },
		{ "trc_regions", (unsigned long)trc_regions, NULL },
		{ "trc_nregions", (unsigned long)&trc_nregions, NULL },
	};
	unsigned long offset, entry_offset = 0, return_offset = 0;
	const struct trc_region *r;
	int i, bad = 0;

	trc_register_module(THIS_MODULE);
	for (i = 0; i < ARRAY_SIZE(samples); i++) {
		r = trc_resolve(samples[i].addr, &offset);
		if (r ? !samples[i].region || strcmp(r->name, samples[i].region)
		      : samples[i].region != NULL) {
			pr_info("%s resolved to %s, expected %s\n", samples[i].name,
				r ? r->name : "nothing",
				samples[i].region ? samples[i].region : "nothing");
			bad++;
		}
		if (samples[i].addr == (unsigned long)trc_on_entry)
			entry_offset = offset;
		if (samples[i].addr == (unsigned long)trc_on_return)
			return_offset = offset;
	}
	/* Offsets within one region keep the distance between the two handlers. */
	if (return_offset - entry_offset != (unsigned long)trc_on_return - (unsigned long)trc_on_entry) {
		pr_info("handler offsets 0x%lx and 0x%lx do not keep their distance\n",
			entry_offset, return_offset);
		bad++;
	}
	if (bad)
		pr_info("self-check FAIL (%d wrong; core %lu bytes, init %lu bytes)\n", bad,
			trc_regions[0].size, trc_regions[1].size);
	else
		pr_info("self-check PASS (core+0x%lx trc_on_entry; core %lu bytes, init %lu bytes)\n",
			entry_offset, trc_regions[0].size, trc_regions[1].size);
	return 0;
}

static void __exit trcore_exit(void)
{
}

module_init(trcore_init);
module_exit(trcore_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Tracer runtime that resolves addresses by region (migrator corpus)");
