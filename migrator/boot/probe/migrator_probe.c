// SPDX-License-Identifier: GPL-2.0
/*
 * migrator_probe: asks the running kernel what it knows about module addresses.
 *
 * Part of migrator's run-time proof (migrator/boot/).  It asks only what any
 * module loader answers (who owns an address, is it text, what symbol is it),
 * through API that a migration of the loader's internals leaves as it is, so
 * one source serves the pristine and the rewritten kernel.
 *
 * The kernel exports neither __module_address() nor __module_text_address(),
 * the lookups every other module question goes through, so the guest passes
 * their addresses from /proc/kallsyms as the parameters module_address_fn and
 * module_text_address_fn (a test kernel's trick, not for production).
 *
 * At load it checks itself and refuses to load (-EINVAL) if a check fails:
 *  - its text, init text, rodata, ro_after_init data, data and init data are
 *    owned by this module (__module_address), and only the text ones are
 *    module text (__module_text_address);
 *  - kallsyms names its function, and a data object (KALLSYMS_ALL);
 *  - a fault in __get_user() is fixed up through this module's own exception
 *    table (search_module_extables() finds the module by address);
 *  - calls into the kernel return (on arm64 with the full module region they
 *    go through this module's PLT).
 *
 * /sys/kernel/debug/migrator_probe/resolve then answers for any address
 * written to it (hex) with one line: "ADDR OWNER TEXT SYMBOL", OWNER being the
 * module __module_address() finds or "-", TEXT 1 when __module_text_address()
 * finds one, SYMBOL what sprint_symbol() makes of it.
 */
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/kallsyms.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>

static int probe_ro_after_init __ro_after_init = 1;
static const char probe_rodata[] = "migrator_probe rodata";
static int probe_data = 2;
static int probe_initdata __initdata = 3;

static unsigned long module_address_fn;
module_param(module_address_fn, ulong, 0400);
MODULE_PARM_DESC(module_address_fn, "address of __module_address() (from /proc/kallsyms)");
static unsigned long module_text_address_fn;
module_param(module_text_address_fn, ulong, 0400);
MODULE_PARM_DESC(module_text_address_fn, "address of __module_text_address()");

typedef struct module *(*probe_lookup_t)(unsigned long addr);

static char probe_answer[KSYM_SYMBOL_LEN + 64];
static DEFINE_MUTEX(probe_lock);
static struct dentry *probe_dir;
static int probe_failures;

static noinline int probe_text(int x)
{
	return x + READ_ONCE(probe_data);
}

static void probe_describe(unsigned long addr, char *buf, size_t len)
{
	char symbol[KSYM_SYMBOL_LEN];
	struct module *owner;
	bool text;

	sprint_symbol(symbol, addr);
	preempt_disable();
	owner = ((probe_lookup_t)module_address_fn)(addr);
	text = ((probe_lookup_t)module_text_address_fn)(addr) != NULL;
	snprintf(buf, len, "0x%lx %s %d %s", addr, owner ? owner->name : "-", text, symbol);
	preempt_enable();
}

static void __init probe_expect(const char *what, bool ok)
{
	pr_info("migrator_probe: check %s %s\n", what, ok ? "ok" : "FAILED");
	if (!ok)
		probe_failures++;
}

static void __init probe_owned(const char *what, const void *ptr, bool text)
{
	unsigned long addr = (unsigned long)ptr;
	struct module *owner, *text_owner;

	preempt_disable();
	owner = ((probe_lookup_t)module_address_fn)(addr);
	text_owner = ((probe_lookup_t)module_text_address_fn)(addr);
	preempt_enable();
	probe_expect(what, owner == THIS_MODULE &&
		     text_owner == (text ? THIS_MODULE : NULL));
}

static bool __init probe_names(const void *ptr, const char *name)
{
	char symbol[KSYM_SYMBOL_LEN];

	sprint_symbol(symbol, (unsigned long)ptr);
	pr_info("migrator_probe: %px is %s\n", ptr, symbol);
	return strstr(symbol, name) && strstr(symbol, "[migrator_probe]");
}

static ssize_t probe_resolve_write(struct file *file, const char __user *ubuf,
				   size_t count, loff_t *ppos)
{
	unsigned long addr;
	int err = kstrtoul_from_user(ubuf, count, 16, &addr);

	if (err)
		return err;
	mutex_lock(&probe_lock);
	probe_describe(addr, probe_answer, sizeof(probe_answer) - 1);
	strcat(probe_answer, "\n");
	mutex_unlock(&probe_lock);
	return count;
}

static ssize_t probe_resolve_read(struct file *file, char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	ssize_t done;

	mutex_lock(&probe_lock);
	done = simple_read_from_buffer(ubuf, count, ppos, probe_answer, strlen(probe_answer));
	mutex_unlock(&probe_lock);
	return done;
}

static const struct file_operations probe_resolve_fops = {
	.owner = THIS_MODULE,
	.write = probe_resolve_write,
	.read = probe_resolve_read,
	.llseek = default_llseek,
};

static int __init probe_init(void)
{
	int value = 0;

	if (!module_address_fn || !module_text_address_fn) {
		pr_err("migrator_probe: pass module_address_fn and module_text_address_fn\n");
		return -EINVAL;
	}
	probe_ro_after_init = probe_text(probe_initdata);
	probe_owned("text", probe_text, true);
	probe_owned("init-text", probe_init, true);
	probe_owned("rodata", probe_rodata, false);
	probe_owned("ro_after_init", &probe_ro_after_init, false);
	probe_owned("data", &probe_data, false);
	probe_owned("init-data", &probe_initdata, false);
	probe_expect("kallsyms-text", probe_names(probe_text, "probe_text+0x0/"));
	probe_expect("kallsyms-data", probe_names(&probe_data, "probe_data+0x0/"));
	/* Address 16 is never mapped: the fault is fixed up by our __ex_table. */
	probe_expect("extable", __get_user(value, (int __user *)16) == -EFAULT);
	probe_expect("kernel-call", probe_ro_after_init == 5 && strlen(probe_rodata) == 21);
	if (probe_failures) {
		pr_err("migrator_probe: %d checks failed\n", probe_failures);
		return -EINVAL;
	}
	probe_dir = debugfs_create_dir("migrator_probe", NULL);
	debugfs_create_file("resolve", 0600, probe_dir, NULL, &probe_resolve_fops);
	pr_info("migrator_probe: all checks passed\n");
	return 0;
}

static void __exit probe_exit(void)
{
	debugfs_remove(probe_dir);
}

module_init(probe_init);
module_exit(probe_exit);
MODULE_DESCRIPTION("migrator's run-time probe of module memory");
MODULE_LICENSE("GPL");
