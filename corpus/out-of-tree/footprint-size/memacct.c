// SPDX-License-Identifier: GPL-2.0
/*
 * memacct: the memory accounting of a vendor driver stack.  Each of the
 * stack's modules reports what it costs resident: its core (code, read-only
 * data and data) once loaded, plus the pools it allocates.
 *
 * At load it accounts for itself and compares its core footprint with the
 * size the kernel reports for it in /sys/module/NAME/coresize.
 */
#define pr_fmt(fmt) "footprint-size: " fmt

#include <linux/err.h>
#include <linux/fs.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>

struct ma_account {
	const char *name;
	unsigned long core_bytes;
	void *pool;
	unsigned long pool_bytes;
};

/* A receive pool that lives in the module's own data. */
static u8 ma_rx_pool[64 * 1024];

static void ma_account_module(struct module *mod, struct ma_account *acct)
{
	acct->name = mod->name;
	acct->core_bytes = mod->core_layout.size;
	acct->pool = ma_rx_pool;
	acct->pool_bytes = sizeof(ma_rx_pool);
}

/* A number read from a sysfs attribute of this module, or -errno. */
static long ma_sysfs_number(const char *attr)
{
	char path[64], buf[32];
	struct file *file;
	loff_t pos = 0;
	ssize_t n;
	long value;

	snprintf(path, sizeof(path), "/sys/module/%s/%s", KBUILD_MODNAME, attr);
	file = filp_open(path, O_RDONLY, 0);
	if (IS_ERR(file))
		return PTR_ERR(file);
	n = kernel_read(file, buf, sizeof(buf) - 1, &pos);
	filp_close(file, NULL);
	if (n < 0)
		return n;
	buf[n] = '\0';
	if (kstrtol(strim(buf), 10, &value))
		return -EINVAL;
	return value;
}

static int __init memacct_init(void)
{
	struct ma_account acct;
	long coresize;

	ma_account_module(THIS_MODULE, &acct);
	coresize = ma_sysfs_number("coresize");
	if (coresize < 0)
		pr_info("self-check FAIL (cannot read coresize: %ld)\n", coresize);
	else if (acct.core_bytes != coresize)
		pr_info("self-check FAIL (core footprint %lu bytes, the kernel says %ld)\n",
			acct.core_bytes, coresize);
	else if (acct.core_bytes < acct.pool_bytes)
		pr_info("self-check FAIL (core footprint %lu bytes is smaller than the %lu-byte pool)\n",
			acct.core_bytes, acct.pool_bytes);
	else
		pr_info("self-check PASS (%s: core %lu bytes = coresize, pool %lu bytes at %px)\n",
			acct.name, acct.core_bytes, acct.pool_bytes, acct.pool);
	return 0;
}

static void __exit memacct_exit(void)
{
}

module_init(memacct_init);
module_exit(memacct_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Reports a module's resident footprint (migrator corpus)");
