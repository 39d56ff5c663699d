// SPDX-License-Identifier: GPL-2.0
#include <linux/module.h>
#include <linux/printk.h>
#include <linux/version.h>

/* Dump the module's writable data for a crash report. */
static void dump_own_data(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0) || defined(mod_mem_type_is_init)
	const void *start = THIS_MODULE->mem[MOD_DATA].base;
	size_t len = THIS_MODULE->mem[MOD_DATA].size;
#else
	const void *start = THIS_MODULE->core_layout.base + THIS_MODULE->core_layout.ro_after_init_size;
	size_t len = THIS_MODULE->core_layout.size - THIS_MODULE->core_layout.ro_after_init_size;
#endif

	print_hex_dump(KERN_DEBUG, "data: ", DUMP_PREFIX_OFFSET, 16, 1, start, len, false);
}
