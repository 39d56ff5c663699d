// SPDX-License-Identifier: GPL-2.0
/*
 * A driver that already builds on both sides of v6.4: it picks the
 * class_create() of the kernel by version.
 */
#include <linux/module.h>
#include <linux/device.h>
#include <linux/version.h>

static struct class *sensor_class;

static int __init sensor_init(void)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	sensor_class = class_create("sensor");
#else
	sensor_class = class_create(THIS_MODULE, "sensor");
#endif
	return PTR_ERR_OR_ZERO(sensor_class);
}
module_init(sensor_init);
MODULE_LICENSE("GPL");
