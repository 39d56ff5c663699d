// SPDX-License-Identifier: GPL-2.0-only
/* Copyright (C) 2014 José Martínez */
#include <linux/module.h>

static bool in_init(const struct module *mod, unsigned long loc)
{
	return within_module_init(loc, mod);
}
