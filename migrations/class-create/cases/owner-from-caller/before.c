// SPDX-License-Identifier: GPL-2.0
/*
 * A library module that creates a class on behalf of the drivers that use
 * it: each passes itself as the owner.
 */
#include <linux/module.h>
#include <linux/device.h>
#include <linux/slab.h>

struct sdr_class {
	struct class *class;
	struct module *owner;
};

struct sdr_class *sdr_class_register(struct module *owner, const char *name)
{
	struct sdr_class *sc = kzalloc(sizeof(*sc), GFP_KERNEL);

	if (!sc)
		return ERR_PTR(-ENOMEM);
	sc->owner = owner;
	sc->class = class_create(owner, name);
	if (IS_ERR(sc->class)) {
		struct class *err = sc->class;

		kfree(sc);
		return ERR_CAST(err);
	}
	return sc;
}
EXPORT_SYMBOL_GPL(sdr_class_register);
MODULE_LICENSE("GPL");
