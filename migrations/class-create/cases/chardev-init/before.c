// SPDX-License-Identifier: GPL-2.0
/*
 * A character device with a class of its own, as a DKMS driver creates it
 * in its init: the class gives udev the name of the /dev node.
 */
#include <linux/module.h>
#include <linux/device.h>
#include <linux/fs.h>
#include <linux/cdev.h>

#define DEVICE_NAME "ringbuf"

static dev_t ringbuf_devt;
static struct class *ringbuf_class;
static struct cdev ringbuf_cdev;
static const struct file_operations ringbuf_fops = {
	.owner = THIS_MODULE,
};

static int __init ringbuf_init(void)
{
	struct device *dev;
	int ret;

	ret = alloc_chrdev_region(&ringbuf_devt, 0, 1, DEVICE_NAME);
	if (ret < 0)
		return ret;

	ringbuf_class = class_create(THIS_MODULE, DEVICE_NAME);
	if (IS_ERR(ringbuf_class)) {
		pr_err("ringbuf: class_create() failed\n");
		ret = PTR_ERR(ringbuf_class);
		goto out_region;
	}

	cdev_init(&ringbuf_cdev, &ringbuf_fops);
	ret = cdev_add(&ringbuf_cdev, ringbuf_devt, 1);
	if (ret < 0)
		goto out_class;

	dev = device_create(ringbuf_class, NULL, ringbuf_devt, NULL, DEVICE_NAME);
	if (IS_ERR(dev)) {
		ret = PTR_ERR(dev);
		goto out_cdev;
	}
	return 0;

out_cdev:
	cdev_del(&ringbuf_cdev);
out_class:
	class_destroy(ringbuf_class);
out_region:
	unregister_chrdev_region(ringbuf_devt, 1);
	return ret;
}
module_init(ringbuf_init);
MODULE_LICENSE("GPL");
