// SPDX-License-Identifier: GPL-2.0
/*
 * A driver whose owner argument is computed by a call: dropping the
 * argument would drop the call, and with it the reference it takes.
 */
#include <linux/module.h>
#include <linux/device.h>

static struct class *probe_class;

static struct module *probe_owner(void)
{
	__module_get(THIS_MODULE);
	return THIS_MODULE;
}

static int __init probe_init(void)
{
	probe_class = class_create(probe_owner(), "probe");
	return PTR_ERR_OR_ZERO(probe_class);
}
module_init(probe_init);
MODULE_LICENSE("GPL");
