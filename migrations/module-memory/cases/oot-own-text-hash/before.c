// SPDX-License-Identifier: GPL-2.0
#include <linux/jhash.h>
#include <linux/module.h>

static u32 text_hash;

static u32 hash_own_text(void)
{
	const u8 *text = THIS_MODULE->core_layout.base;
	unsigned int len = THIS_MODULE->core_layout.text_size;

	return jhash(text, len, 0);
}

static int __init selfhash_init(void)
{
	text_hash = hash_own_text();
	pr_info("selfhash: %u bytes of module in all, text hash %08x\n",
		THIS_MODULE->core_layout.size, text_hash);
	return 0;
}
module_init(selfhash_init);
MODULE_LICENSE("GPL");
