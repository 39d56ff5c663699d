// SPDX-License-Identifier: GPL-2.0
/*
 * fipskm: the power-on self-test of a crypto module in the shape of a
 * FIPS-style kernel build.  Before it registers any algorithm, the module
 * checksums its own code and its read-only data (where the known-answer
 * vectors live) and runs the known-answer test against the vectors found
 * through that window.
 *
 * The layout code already supports kernels before and after 6.4.
 */
#define pr_fmt(fmt) "supports-both: " fmt

#include <linux/crc32.h>
#include <linux/init.h>
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/version.h>

struct fk_span {
	const u8 *start;
	unsigned long len;
};

#define FK_VECTOR_MAGIC 0x3154414bU	/* "KAT1" */

struct fk_vector {
	u32 magic;
	u8 input[16];
	u32 expect_crc;
};

/* Known-answer vector: crc32_le(~0, input, 16). */
static const struct fk_vector fk_vectors[] = {
	{ FK_VECTOR_MAGIC, "fipskm kat vec 1", 0x0409bc4e },
};

static void fk_module_spans(struct module *mod, struct fk_span *text, struct fk_span *ro)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 4, 0)
	text->start = mod->mem[MOD_TEXT].base;
	text->len = mod->mem[MOD_TEXT].size;
	ro->start = mod->mem[MOD_RODATA].base;
	ro->len = mod->mem[MOD_RODATA].size;
#else
	text->start = mod->core_layout.base;
	text->len = mod->core_layout.text_size;
	ro->start = text->start + mod->core_layout.text_size;
	ro->len = mod->core_layout.ro_size - mod->core_layout.text_size;
#endif
}

static bool fk_span_has(const struct fk_span *span, const void *p)
{
	return (const u8 *)p >= span->start && (const u8 *)p < span->start + span->len;
}

/* The known-answer vector, found by its magic in the rodata span alone. */
static const struct fk_vector *fk_find_vector(const struct fk_span *ro)
{
	unsigned long off;

	for (off = 0; off + sizeof(struct fk_vector) <= ro->len; off += sizeof(u32)) {
		const struct fk_vector *vec = (const struct fk_vector *)(ro->start + off);

		if (vec->magic == FK_VECTOR_MAGIC)
			return vec;
	}
	return NULL;
}

static int __init fipskm_init(void)
{
	struct fk_span text, ro;
	const struct fk_vector *vec;
	u32 text_crc, ro_crc;
	int bad = 0;

	fk_module_spans(THIS_MODULE, &text, &ro);
	if (!fk_span_has(&text, fk_span_has) || fk_span_has(&text, fk_vectors)) {
		pr_info("text span [%px, +%lu) misses its code or holds the vectors\n", text.start,
			text.len);
		bad++;
	}
	if (!fk_span_has(&ro, fk_vectors) || fk_span_has(&ro, fk_span_has)) {
		pr_info("rodata span [%px, +%lu) misses the vectors or holds code\n", ro.start, ro.len);
		bad++;
	}
	vec = fk_find_vector(&ro);
	if (!vec) {
		pr_info("no known-answer vector in the rodata span\n");
		bad++;
	} else if (crc32_le(~0, vec->input, sizeof(vec->input)) != vec->expect_crc) {
		pr_info("known-answer test failed at %px\n", vec);
		bad++;
	}
	text_crc = crc32_le(~0, text.start, text.len);
	ro_crc = crc32_le(~0, ro.start, ro.len);
	if (bad)
		pr_info("self-check FAIL (%d wrong)\n", bad);
	else
		pr_info("self-check PASS (text %lu bytes crc32 %08x, rodata %lu bytes crc32 %08x)\n",
			text.len, text_crc, ro.len, ro_crc);
	return 0;
}

static void __exit fipskm_exit(void)
{
}

module_init(fipskm_init);
module_exit(fipskm_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("Crypto module power-on self-test over its own text and rodata (migrator corpus)");
