// SPDX-License-Identifier: GPL-2.0
#include <linux/jhash.h>
#include <linux/module.h>
#include <linux/version.h>

static u32 text_hash;

static u32 hash_own_text(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
	const u8 *text = THIS_MODULE->mem[MOD_TEXT].base;
	unsigned int len = THIS_MODULE->mem[MOD_TEXT].size;
#else
	const u8 *text = THIS_MODULE->core_layout.base;
	unsigned int len = THIS_MODULE->core_layout.text_size;
#endif

	return jhash(text, len, 0);
}

static int __init selfhash_init(void)
{
	text_hash = hash_own_text();
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
	pr_info("selfhash: %u bytes of module in all, text hash %08x\n",
		(THIS_MODULE->mem[MOD_TEXT].size + THIS_MODULE->mem[MOD_DATA].size +
		 THIS_MODULE->mem[MOD_RODATA].size + THIS_MODULE->mem[MOD_RO_AFTER_INIT].size),
		text_hash);
#else
	pr_info("selfhash: %u bytes of module in all, text hash %08x\n",
		THIS_MODULE->core_layout.size, text_hash);
#endif
	return 0;
}
module_init(selfhash_init);
MODULE_LICENSE("GPL");
