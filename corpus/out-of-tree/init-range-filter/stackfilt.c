// SPDX-License-Identifier: GPL-2.0
/*
 * stackfilt: the filter of a stack sampler.  Samples are symbolized long
 * after they are taken; an address in a module's init sections will be
 * freed (and reused) by then, so such samples are dropped at once instead
 * of being resolved to whatever lives there later.
 *
 * At load, while its own init sections still exist, it filters a sample
 * of its own addresses: init code and init data must be dropped, core code
 * and data kept.
 */
#define pr_fmt(fmt) "init-range-filter: " fmt

#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

static bool sf_in_init(const struct module *mod, unsigned long addr)
{
	return (unsigned long)mod->init_layout.base <= addr &&
	       addr < (unsigned long)mod->init_layout.base + mod->init_layout.size;
}

/* Keep the samples that stay meaningful; return how many were kept. */
static unsigned int sf_filter(const struct module *mod, unsigned long *samples, unsigned int n)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++)
		if (!sf_in_init(mod, samples[i]))
			samples[kept++] = samples[i];
	return kept;
}

static unsigned long sf_dropped;
static int sf_boot_weights[4] __initdata = { 1, 2, 3, 4 };
static const char sf_boot_banner[] __initconst = "stackfilt boot";

static int __init stackfilt_init(void)
{
	unsigned long samples[] = {
		(unsigned long)sf_filter,		/* core code: kept */
		(unsigned long)stackfilt_init,		/* init code: dropped */
		(unsigned long)&sf_dropped,		/* core data: kept */
		(unsigned long)sf_boot_weights,		/* init data: dropped */
		(unsigned long)sf_boot_banner,		/* init rodata: dropped */
		(unsigned long)sf_in_init,		/* core code: kept */
	};
	const unsigned long expect_kept[] = { samples[0], samples[2], samples[5] };
	unsigned int kept, i;
	int bad = 0;

	kept = sf_filter(THIS_MODULE, samples, ARRAY_SIZE(samples));
	sf_dropped = ARRAY_SIZE(samples) - kept;
	if (kept != ARRAY_SIZE(expect_kept)) {
		pr_info("kept %u samples of %zu, expected %zu\n", kept, ARRAY_SIZE(samples),
			ARRAY_SIZE(expect_kept));
		bad++;
	} else {
		for (i = 0; i < kept; i++)
			if (samples[i] != expect_kept[i]) {
				pr_info("kept %px where %px was expected\n", (void *)samples[i],
					(void *)expect_kept[i]);
				bad++;
			}
	}
	if (bad)
		pr_info("self-check FAIL (%d wrong; %u kept, %lu dropped)\n", bad, kept, sf_dropped);
	else
		pr_info("self-check PASS (%u kept, %lu dropped, boot weight %d)\n", kept, sf_dropped,
			sf_boot_weights[3]);
	return 0;
}

static void __exit stackfilt_exit(void)
{
}

module_init(stackfilt_init);
module_exit(stackfilt_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Stack sampler filter that drops module init addresses (migrator corpus)");
