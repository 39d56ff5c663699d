// SPDX-License-Identifier: GPL-2.0
/*
 * lpatch: the core of a live patcher.  Before it writes a patched
 * instruction or a relocated pointer into a module, it must know which
 * window of the module the target lies in: text and rodata need text_poke(),
 * ro_after_init data is writable only until the module's init returns, and
 * everything else is plain data.
 *
 * At load it checks the windows on itself: its functions, its patch table,
 * its ro_after_init state and its counters must each fall in their own
 * window.
 */
#define pr_fmt(fmt) "define-ladder-windows: " fmt

#include <linux/cache.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/version.h>

/* The windows of a module's core, as [BASE, BASE + SIZE). */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(4, 8, 0)
#define LP_TEXT_BASE(m)		((unsigned long)(m)->core_layout.base)
#define LP_TEXT_SIZE(m)		((unsigned long)(m)->core_layout.text_size)
#define LP_RODATA_BASE(m)	((unsigned long)(m)->core_layout.base + (m)->core_layout.text_size)
#define LP_RODATA_SIZE(m)	((unsigned long)((m)->core_layout.ro_size - (m)->core_layout.text_size))
#define LP_RO_AFTER_INIT_BASE(m) ((unsigned long)(m)->core_layout.base + (m)->core_layout.ro_size)
#define LP_RO_AFTER_INIT_SIZE(m) \
	((unsigned long)((m)->core_layout.ro_after_init_size - (m)->core_layout.ro_size))
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(4, 5, 0)
#define LP_TEXT_BASE(m)		((unsigned long)(m)->core_layout.base)
#define LP_TEXT_SIZE(m)		((unsigned long)(m)->core_layout.text_size)
#define LP_RODATA_BASE(m)	((unsigned long)(m)->core_layout.base + (m)->core_layout.text_size)
#define LP_RODATA_SIZE(m)	((unsigned long)((m)->core_layout.ro_size - (m)->core_layout.text_size))
#define LP_RO_AFTER_INIT_BASE(m) ((unsigned long)(m)->core_layout.base + (m)->core_layout.ro_size)
#define LP_RO_AFTER_INIT_SIZE(m) 0UL
#else
#define LP_TEXT_BASE(m)		((unsigned long)(m)->module_core)
#define LP_TEXT_SIZE(m)		((unsigned long)(m)->core_text_size)
#define LP_RODATA_BASE(m)	((unsigned long)(m)->module_core + (m)->core_text_size)
#define LP_RODATA_SIZE(m)	((unsigned long)((m)->core_ro_size - (m)->core_text_size))
#define LP_RO_AFTER_INIT_BASE(m) ((unsigned long)(m)->module_core + (m)->core_ro_size)
#define LP_RO_AFTER_INIT_SIZE(m) 0UL
#endif

enum lp_window { LP_TEXT, LP_RODATA, LP_RO_AFTER_INIT, LP_OTHER };

static const char *const lp_window_names[] = { "text", "rodata", "ro_after_init", "other" };

static bool lp_in(unsigned long addr, unsigned long base, unsigned long size)
{
	return addr - base < size;
}

static enum lp_window lp_window_of(struct module *mod, unsigned long addr)
{
	if (lp_in(addr, LP_TEXT_BASE(mod), LP_TEXT_SIZE(mod)))
		return LP_TEXT;
	if (lp_in(addr, LP_RODATA_BASE(mod), LP_RODATA_SIZE(mod)))
		return LP_RODATA;
	if (lp_in(addr, LP_RO_AFTER_INIT_BASE(mod), LP_RO_AFTER_INIT_SIZE(mod)))
		return LP_RO_AFTER_INIT;
	return LP_OTHER;
}

struct lp_patch {
	const char *symbol;
	void *replacement;
};

static noinline int lp_replacement_open(void)
{
	return 0;
}

/* What this patch module replaces; read-only once built. */
static const struct lp_patch lp_patches[] = {
	{ "example_open", lp_replacement_open },
};

/* Set while the module loads, then frozen by the kernel. */
static unsigned long lp_state_cookie __ro_after_init;
static unsigned long lp_applied;

static int __init lpatch_init(void)
{
	const struct {
		const char *name;
		unsigned long addr;
		enum lp_window expect;
	} targets[] = {
		{ "lp_replacement_open", (unsigned long)lp_replacement_open, LP_TEXT },
		{ "lp_window_of", (unsigned long)lp_window_of, LP_TEXT },
		{ "lp_patches", (unsigned long)lp_patches, LP_RODATA },
		{ "lp_window_names", (unsigned long)lp_window_names, LP_RODATA },
		{ "lp_state_cookie", (unsigned long)&lp_state_cookie, LP_RO_AFTER_INIT },
		{ "lp_applied", (unsigned long)&lp_applied, LP_OTHER },
	};
	struct module *self = THIS_MODULE;
	enum lp_window got;
	int i, bad = 0;

	lp_state_cookie = (unsigned long)lp_patches[0].replacement;
	for (i = 0; i < ARRAY_SIZE(targets); i++) {
		got = lp_window_of(self, targets[i].addr);
		if (got != targets[i].expect) {
			pr_info("%s is in %s, expected %s\n", targets[i].name, lp_window_names[got],
				lp_window_names[targets[i].expect]);
			bad++;
		}
	}
	lp_applied = bad;
	if (bad)
		pr_info("self-check FAIL (%d misplaced; text %lu, rodata %lu, ro_after_init %lu bytes)\n",
			bad, LP_TEXT_SIZE(self), LP_RODATA_SIZE(self), LP_RO_AFTER_INIT_SIZE(self));
	else
		pr_info("self-check PASS (text %lu, rodata %lu, ro_after_init %lu bytes)\n",
			LP_TEXT_SIZE(self), LP_RODATA_SIZE(self), LP_RO_AFTER_INIT_SIZE(self));
	return 0;
}

static void __exit lpatch_exit(void)
{
}

module_init(lpatch_init);
module_exit(lpatch_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Live patcher core that sorts targets by module window (migrator corpus)");
