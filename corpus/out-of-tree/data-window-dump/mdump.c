// SPDX-License-Identifier: GPL-2.0
/*
 * mdump: registers memory regions for a crash-dump table, in the style of
 * vendor minidump drivers.  For a module it registers the writable data
 * only: code and read-only data can be taken from the .ko file after the
 * crash, and the writable data is what the crash changed.
 *
 * At load it registers itself, then checks the region: it must hold its
 * own writable data and nothing read-only, every byte of it must be
 * readable, and a dump of it must change when its data changes.
 */
#define pr_fmt(fmt) "data-window-dump: " fmt

#include <linux/cache.h>
#include <linux/crc32.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

struct md_region {
	char name[16];
	u64 virt_addr;
	u64 size;
};

static struct md_region md_table[4];
static unsigned int md_count;
static char md_log[256] = "mdump: boot log";
static const char md_banner[] = "mdump region table v1";
static unsigned long md_cookie __ro_after_init;

static struct md_region *md_register_module(struct module *mod)
{
	struct md_region *entry = &md_table[md_count++];

	strscpy(entry->name, mod->name, sizeof(entry->name));
	entry->virt_addr = (unsigned long)mod->core_layout.base + mod->core_layout.ro_after_init_size;
	entry->size = mod->core_layout.size - mod->core_layout.ro_after_init_size;
	return entry;
}

static bool md_holds(const struct md_region *entry, const void *p)
{
	return (unsigned long)p - entry->virt_addr < entry->size;
}

/* What a dump of the region would record, or 0 if a byte cannot be read. */
static u32 md_dump_crc(const struct md_region *entry)
{
	u8 chunk[64];
	u64 done, n;
	u32 crc = ~0;

	for (done = 0; done < entry->size; done += n) {
		n = min_t(u64, sizeof(chunk), entry->size - done);
		if (copy_from_kernel_nofault(chunk, (void *)(unsigned long)(entry->virt_addr + done), n))
			return 0;
		crc = crc32_le(crc, chunk, n);
	}
	return crc;
}

static int __init mdump_init(void)
{
	const struct md_region *self;
	u32 before, after;
	int bad = 0;

	md_cookie = (unsigned long)md_banner;
	self = md_register_module(THIS_MODULE);
	if (!md_holds(self, md_log) || !md_holds(self, &md_count) || !md_holds(self, md_table)) {
		pr_info("writable data outside the region [%llx, +%llu)\n", self->virt_addr, self->size);
		bad++;
	}
	if (md_holds(self, md_banner) || md_holds(self, &md_cookie) || md_holds(self, md_dump_crc)) {
		pr_info("read-only data or code inside the region [%llx, +%llu)\n", self->virt_addr,
			self->size);
		bad++;
	}
	before = md_dump_crc(self);
	md_log[0] ^= 0x20;
	after = md_dump_crc(self);
	md_log[0] ^= 0x20;
	if (!before || !after) {
		pr_info("the region is not readable to its end\n");
		bad++;
	} else if (before == after) {
		pr_info("a dump does not see a change to md_log\n");
		bad++;
	}
	if (bad)
		pr_info("self-check FAIL (%d wrong; region %llu bytes)\n", bad, self->size);
	else
		pr_info("self-check PASS (region %llu bytes, dump crc32 %08x)\n", self->size, before);
	return 0;
}

static void __exit mdump_exit(void)
{
}

module_init(mdump_init);
module_exit(mdump_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Registers module data regions for a crash dump (migrator corpus)");
