// SPDX-License-Identifier: GPL-2.0-only
/*
 * arch/x86/aml.c and arch/x86/acpi.c: the AML encoder's byte encodings and
 * bounds, the tables' layout, pointers and checksums, and an independent
 * check by ACPICA's own tools (iasl disassembles and recompiles every
 * table, acpiexec parses the _CRS resources the way Linux's ACPICA does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/acpi.h"
#include "arch/x86/aml.h"

#define GPA       ACPI_TABLES_ADDR
#define HDR_LEN   36
#define CANARY    0xa5
#define CANARY_N  64

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t get32(const uint8_t *p) { return get16(p) | (uint32_t)get16(p + 2) << 16; }
static uint64_t get64(const uint8_t *p) { return get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

static struct acpi_mmio_device devs_for_test[257]; /* one more than acpi_build accepts */

static const struct acpi_mmio_device *make_devs(unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		devs_for_test[i] = (struct acpi_mmio_device){
			.base = 0xd0000000ULL + 0x1000ULL * i, .size = 0x200, .gsi = 5 + i };
	return devs_for_test;
}

/* The tables built for gpa GPA into a buffer of ACPI_TABLES_MAX bytes. */
struct tables {
	uint8_t buf[ACPI_TABLES_MAX];
	int len;
	uint64_t rsdp_gpa;
	const uint8_t *xsdt, *fadt, *madt, *dsdt;
};

/*
 * A table a pointer names: the pointer must land inside the built bytes,
 * carry the expected signature, and the table's length must fit too.
 */
static const uint8_t *table_at(const struct tables *t, uint64_t ptr, const char *sig)
{
	assert_true(ptr >= GPA);
	assert_true(ptr + HDR_LEN <= GPA + (uint64_t)t->len);
	const uint8_t *p = t->buf + (ptr - GPA);
	if (memcmp(p, sig, 4))
		fail_msg("pointer 0x%llx: signature \"%.4s\", want \"%s\"", (unsigned long long)ptr,
			 (const char *)p, sig);
	assert_true(ptr + get32(p + 4) <= GPA + (uint64_t)t->len);
	assert_int_equal(ptr % 8, 0);
	return p;
}

static struct tables *build(unsigned nr_cpus, unsigned nr_devs)
{
	struct tables *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	t->len = acpi_build(t->buf, sizeof(t->buf), GPA, nr_cpus, make_devs(nr_devs), nr_devs,
			    &t->rsdp_gpa);
	assert_true(t->len > 0);
	assert_true((size_t)t->len <= sizeof(t->buf));
	assert_int_equal(t->rsdp_gpa, GPA);
	t->xsdt = table_at(t, get64(t->buf + 24), "XSDT");
	t->fadt = table_at(t, get64(t->xsdt + HDR_LEN), "FACP");
	t->madt = table_at(t, get64(t->xsdt + HDR_LEN + 8), "APIC");
	t->dsdt = table_at(t, get64(t->fadt + 140), "DSDT");
	return t;
}

static void check_header(const uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
	assert_memory_equal(p, sig, 4);
	assert_int_equal(get32(p + 4), len);
	assert_int_equal(p[8], rev);
	assert_int_equal(sum8(p, len), 0);
	assert_memory_equal(p + 10, "EMBER ", 6);
	assert_memory_equal(p + 16, "EMBERVM ", 8);
	assert_memory_equal(p + 28, "EMBR", 4);
}

/* ---- AML encoder ------------------------------------------------------- */

static int encode(uint8_t *buf, size_t size, void (*emit)(struct aml *))
{
	struct aml a;
	aml_init(&a, buf, size);
	emit(&a);
	return aml_finish(&a);
}

static void aml_integers(void **state)
{
	(void)state;
	static const struct { uint64_t v; uint8_t want[9]; size_t n; } cases[] = {
		{ 0, { 0x00 }, 1 },
		{ 1, { 0x01 }, 1 },
		{ 2, { 0x0a, 0x02 }, 2 },
		{ 0xff, { 0x0a, 0xff }, 2 },
		{ 0x100, { 0x0b, 0x00, 0x01 }, 3 },
		{ 0xffff, { 0x0b, 0xff, 0xff }, 3 },
		{ 0x10000, { 0x0c, 0x00, 0x00, 0x01, 0x00 }, 5 },
		{ 0xfee00000, { 0x0c, 0x00, 0x00, 0xe0, 0xfe }, 5 },
		{ 0x100000000ULL, { 0x0e, 0, 0, 0, 0, 1, 0, 0, 0 }, 9 },
		{ UINT64_MAX, { 0x0e, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff }, 9 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[16];
		struct aml a;
		aml_init(&a, buf, sizeof(buf));
		aml_put_integer(&a, cases[i].v);
		assert_int_equal(aml_finish(&a), cases[i].n);
		assert_memory_equal(buf, cases[i].want, cases[i].n);
	}
}

static void aml_namestrings(void **state)
{
	(void)state;
	static const struct { const char *path; const char *want; size_t n; } ok[] = {
		{ "\\_SB_", "\\_SB_", 5 },
		{ "\\_SB", "\\_SB_", 5 },
		{ "VR0A", "VR0A", 4 },
		{ "^^AB", "^^AB__", 6 },
		{ "_SB.COM1", "\x2e_SB_COM1", 9 },
		{ "\\A.B.C", "\\\x2f\x03" "A___B___C___", 15 },
		{ "", "\0", 1 },
		{ "\\", "\\\0", 2 },
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		uint8_t buf[32];
		struct aml a;
		aml_init(&a, buf, sizeof(buf));
		aml_put_namestring(&a, ok[i].path);
		assert_int_equal(aml_finish(&a), ok[i].n);
		assert_memory_equal(buf, ok[i].want, ok[i].n);
	}
	static const char *const bad[] = { "1ABC", "ABCDE", "A..B", "A.", ".A", "ab", "A-B",
					   "\\^A", "A^", "A B" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t buf[32];
		struct aml a;
		aml_init(&a, buf, sizeof(buf));
		aml_put_namestring(&a, bad[i]);
		if (aml_finish(&a) != -EINVAL)
			fail_msg("name \"%s\" accepted", bad[i]);
	}
}

static void aml_strings_and_eisaid(void **state)
{
	(void)state;
	uint8_t buf[32];
	struct aml a;

	aml_init(&a, buf, sizeof(buf));
	aml_put_string(&a, "LNRO0005");
	assert_int_equal(aml_finish(&a), 10);
	assert_memory_equal(buf, "\x0dLNRO0005\0", 10);

	/* "PNP0501": P=16 N=14 P=16 -> 0x41d0, then 0x0501; big-endian bytes. */
	aml_init(&a, buf, sizeof(buf));
	aml_put_eisaid(&a, "PNP0501");
	assert_int_equal(aml_finish(&a), 5);
	assert_memory_equal(buf, "\x0c\x41\xd0\x05\x01", 5);
	aml_init(&a, buf, sizeof(buf));
	aml_put_eisaid(&a, "PNP0a03");
	assert_memory_equal(buf, "\x0c\x41\xd0\x0a\x03", 5);

	static const char *const bad[] = { "PNP050", "PNP05011", "pnp0501", "PNP05G1", "P1P0501" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		aml_init(&a, buf, sizeof(buf));
		aml_put_eisaid(&a, bad[i]);
		assert_int_equal(aml_finish(&a), -EINVAL);
	}
	aml_init(&a, buf, sizeof(buf));
	aml_put_string(&a, "caf\xc3\xa9");
	assert_int_equal(aml_finish(&a), -EINVAL);
}

static void emit_resources(struct aml *a)
{
	size_t m = aml_begin_resources(a);
	aml_put_memory32_fixed(a, true, 0xd0001000, 0x200);
	aml_put_interrupt(a, AML_INT_CONSUMER | AML_INT_EDGE, 6);
	aml_put_io(a, true, 0x3f8, 0x3f8, 0, 8);
	aml_put_irq_noflags(a, 4);
	aml_end_resources(a, m);
}

static void aml_resource_template(void **state)
{
	(void)state;
	static const uint8_t want[] = {
		0x11, 0x25, 0x0a, 0x22,                      /* Buffer, PkgLength 37, BufferSize 34 */
		0x86, 0x09, 0x00, 0x01,                      /* Memory32Fixed, ReadWrite */
		0x00, 0x10, 0x00, 0xd0, 0x00, 0x02, 0x00, 0x00,
		0x89, 0x06, 0x00, 0x03, 0x01, 0x06, 0x00, 0x00, 0x00, /* Interrupt {6} */
		0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x00, 0x08, /* IO (Decode16, 0x3f8, 0x3f8, 0, 8) */
		0x22, 0x10, 0x00,                            /* IRQNoFlags () {4} */
		0x79, 0x00,                                  /* EndTag */
	};
	uint8_t buf[64];
	assert_int_equal(encode(buf, sizeof(buf), emit_resources), sizeof(want));
	assert_memory_equal(buf, want, sizeof(want));

	/* A generic Buffer, and the encoder's own argument checks. */
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_put_buffer(&a, "\x01\x02\x03", 3);
	assert_int_equal(aml_finish(&a), 7); /* PkgLength 6 = itself + BufferSize + 3 */
	assert_memory_equal(buf, "\x11\x06\x0a\x03\x01\x02\x03", 7);
	aml_init(&a, buf, sizeof(buf));
	aml_put_irq_noflags(&a, 16);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_put_io(&a, true, 0x3f9, 0x3f8, 0, 8);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_put_interrupt(&a, 0x20, 5);
	assert_int_equal(aml_finish(&a), -EINVAL);
	aml_init(&a, buf, sizeof(buf));
	aml_end_package(&a, 1); /* a mark past the end is a caller bug, not a write */
	assert_int_equal(aml_finish(&a), -EINVAL);
}

/* §20.2.4 decode, written independently of the encoder. */
static size_t decode_pkglength(const uint8_t *p, size_t *nbytes)
{
	unsigned follow = p[0] >> 6;
	if (follow == 0) {
		*nbytes = 1;
		return p[0] & 0x3f;
	}
	assert_int_equal(p[0] & 0x30, 0); /* bits 5-4 are zero in the multi-byte form */
	size_t v = p[0] & 0x0f;
	for (unsigned i = 0; i < follow; i++)
		v |= (size_t)p[1 + i] << (4 + 8 * i);
	*nbytes = 1 + follow;
	return v;
}

static void aml_package_lengths(void **state)
{
	(void)state;
	/* body = NameSeg + filler; the boundaries of the 1-, 2-, 3- and 4-byte forms. */
	static const struct { size_t body, n; } cases[] = {
		{ 4, 1 }, { 62, 1 }, { 63, 2 }, { 64, 2 }, { 4093, 2 }, { 4094, 3 },
		{ 1048572, 3 }, { 1048573, 4 }, { 2000000, 4 },
	};
	size_t cap = 2100000;
	uint8_t *buf = malloc(cap);
	assert_non_null(buf);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct aml a;
		aml_init(&a, buf, cap);
		size_t mark = aml_begin_scope(&a, "ABCD");
		assert_int_equal(mark, 1);
		for (size_t k = 4; k < cases[i].body; k++)
			aml_put_byte(&a, (uint8_t)(k * 7));
		aml_end_package(&a, mark);
		int len = aml_finish(&a);
		assert_int_equal(len, 1 + cases[i].n + cases[i].body);

		size_t nbytes;
		size_t pkg = decode_pkglength(buf + 1, &nbytes);
		assert_int_equal(nbytes, cases[i].n);
		assert_int_equal(pkg, cases[i].n + cases[i].body); /* counts its own bytes */
		/* The body moved intact behind the inserted length. */
		const uint8_t *body = buf + 1 + nbytes;
		assert_memory_equal(body, "ABCD", 4);
		for (size_t k = 4; k < cases[i].body; k++)
			if (body[k] != (uint8_t)(k * 7))
				fail_msg("body byte %zu damaged (body %zu)", k, cases[i].body);
	}
	free(buf);
}

/* Every capacity short of the need fails with -E2BIG and writes nothing past it. */
static void aml_bounds(void **state)
{
	(void)state;
	uint8_t full[128];
	int need = encode(full, sizeof(full), emit_resources);
	assert_true(need > 0);
	for (int size = 0; size <= need; size++) {
		uint8_t buf[128 + CANARY_N];
		memset(buf, CANARY, sizeof(buf));
		int r = encode(buf, (size_t)size, emit_resources);
		for (size_t k = (size_t)size; k < (size_t)size + CANARY_N; k++)
			if (buf[k] != CANARY)
				fail_msg("capacity %d: byte %zu written", size, k);
		if (size < need) {
			assert_int_equal(r, -E2BIG);
		} else {
			assert_int_equal(r, need);
			assert_memory_equal(buf, full, (size_t)need);
		}
	}

	/* Errors are sticky: nothing more is written after the first. */
	uint8_t buf[8];
	struct aml a;
	aml_init(&a, buf, sizeof(buf));
	aml_put_eisaid(&a, "bad");
	aml_put_byte(&a, 0x42);
	assert_int_equal(a.len, 0);
	assert_int_equal(aml_finish(&a), -EINVAL);
}

/* ---- ACPI tables ------------------------------------------------------- */

static void rsdp_and_xsdt(void **state)
{
	(void)state;
	struct tables *t = build(2, 3);
	const uint8_t *r = t->buf;

	/* §5.2.5.3: first in the buffer, hence 16-byte aligned at 0xe0000. */
	assert_int_equal(t->rsdp_gpa % 16, 0);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_memory_equal(r + 9, "EMBER ", 6);
	assert_int_equal(r[15], 2);
	assert_int_equal(get32(r + 16), 0);  /* no RSDT */
	assert_int_equal(get32(r + 20), 36);
	assert_int_equal(sum8(r, 20), 0);
	assert_int_equal(sum8(r, 36), 0);
	assert_int_equal(get64(r + 24), GPA + (uint64_t)(t->xsdt - t->buf));

	check_header(t->xsdt, "XSDT", HDR_LEN + 16, 1);
	/* The DSDT is reached through the FADT only. */
	for (unsigned i = 0; i < 2; i++)
		assert_int_not_equal(get64(t->xsdt + HDR_LEN + 8 * i),
				     GPA + (uint64_t)(t->dsdt - t->buf));
	/* The DSDT is the last table, and the length returned ends with it. */
	assert_int_equal(t->dsdt - t->buf + get32(t->dsdt + 4), t->len);
	free(t);
}

static void fadt_fields(void **state)
{
	(void)state;
	struct tables *t = build(1, 1);
	const uint8_t *f = t->fadt;
	uint64_t dsdt_gpa = GPA + (uint64_t)(t->dsdt - t->buf);

	check_header(f, "FACP", 276, 6);
	assert_int_equal(get32(f + 36), 0);          /* FIRMWARE_CTRL: no FACS */
	assert_int_equal(get32(f + 40), dsdt_gpa);   /* DSDT */
	assert_int_equal(get64(f + 140), dsdt_gpa);  /* X_DSDT */
	assert_int_equal(get16(f + 46), 0);          /* SCI_INT: none */
	assert_int_equal(get32(f + 76), 0);          /* PM_TMR_BLK: none */
	assert_int_equal(get16(f + 109), 0x0006);    /* 8042 | VGA not present, RTC present */
	assert_int_equal(get32(f + 112), 1u << 20);  /* HW_REDUCED_ACPI */
	assert_int_equal(f[131], 5);                 /* minor version: ACPI 6.5 */
	assert_memory_equal(f + 268, "EMBERVMM", 8);
	/* Every PM/GPE block, 32- and 64-bit, is empty in hardware-reduced mode. */
	for (unsigned off = 56; off < 88; off++)
		assert_int_equal(f[off], 0);
	for (unsigned off = 148; off < 268; off++)
		assert_int_equal(f[off], 0);
	free(t);
}

static void check_madt(unsigned nr_cpus)
{
	struct tables *t = build(nr_cpus, 2);
	const uint8_t *m = t->madt;
	uint32_t len = get32(m + 4);

	check_header(m, "APIC", 44 + 8 * nr_cpus + 12 + 6, 5);
	assert_int_equal(get32(m + 36), 0xfee00000);
	assert_int_equal(get32(m + 40), 1); /* PCAT_COMPAT */

	unsigned lapics = 0, ioapics = 0, nmis = 0, others = 0;
	uint32_t off = 44;
	while (off < len) {
		const uint8_t *e = m + off;
		assert_true(off + 2 <= len);
		assert_true(e[1] >= 2 && off + e[1] <= len);
		switch (e[0]) {
		case 0:
			assert_int_equal(e[1], 8);
			assert_int_equal(e[2], lapics);   /* processor UID */
			assert_int_equal(e[3], lapics);   /* APIC ID */
			assert_int_equal(get32(e + 4), 1); /* enabled */
			lapics++;
			break;
		case 1:
			assert_int_equal(e[1], 12);
			assert_int_equal(e[2], nr_cpus);
			assert_int_equal(get32(e + 4), 0xfec00000);
			assert_int_equal(get32(e + 8), 0);
			ioapics++;
			break;
		case 4:
			assert_int_equal(e[1], 6);
			assert_int_equal(e[2], 0xff);     /* all processors */
			assert_int_equal(get16(e + 3), 0);
			assert_int_equal(e[5], 1);        /* LINT1 */
			nmis++;
			break;
		default:
			others++; /* no interrupt source overrides, nothing else */
		}
		off += e[1];
	}
	assert_int_equal(off, len);
	assert_int_equal(lapics, nr_cpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(nmis, 1);
	assert_int_equal(others, 0);
	free(t);
}

static void madt_one_cpu(void **state) { (void)state; check_madt(1); }
static void madt_four_cpus(void **state) { (void)state; check_madt(4); }
static void madt_max_cpus(void **state) { (void)state; check_madt(254); }

static const uint8_t *find_bytes(const uint8_t *hay, size_t n, const void *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++)
		if (!memcmp(hay + i, needle, m))
			return hay + i;
	return NULL;
}

static void dsdt_contents(void **state)
{
	(void)state;
	struct tables *t = build(2, 3);
	const uint8_t *d = t->dsdt;
	uint32_t len = get32(d + 4);

	check_header(d, "DSDT", len, 2);
	/* Scope (\_SB_) with a PkgLength right behind the opcode. */
	assert_int_equal(d[HDR_LEN], 0x10);
	size_t nbytes;
	size_t pkg = decode_pkglength(d + HDR_LEN + 1, &nbytes);
	assert_int_equal(HDR_LEN + 1 + pkg, len); /* the scope holds the whole block */
	assert_memory_equal(d + HDR_LEN + 1 + nbytes, "\\_SB_", 5);

	for (unsigned i = 0; i < 3; i++) {
		char name[5];
		snprintf(name, sizeof(name), "VR%02X", i);
		const uint8_t *dev = find_bytes(d, len, name, 4);
		assert_non_null(dev);
		assert_non_null(find_bytes(dev, len - (size_t)(dev - d), "\x0dLNRO0005", 10));
		uint8_t mem[12] = { 0x86, 0x09, 0x00, 0x01 };
		uint32_t base = 0xd0000000u + 0x1000u * i, size = 0x200, gsi = 5 + i;
		memcpy(mem + 4, &base, 4);
		memcpy(mem + 8, &size, 4);
		assert_non_null(find_bytes(dev, len - (size_t)(dev - d), mem, sizeof(mem)));
		uint8_t irq[9] = { 0x89, 0x06, 0x00, 0x03, 0x01 };
		memcpy(irq + 5, &gsi, 4);
		assert_non_null(find_bytes(dev, len - (size_t)(dev - d), irq, sizeof(irq)));
	}
	assert_null(find_bytes(d, len, "VR03", 4));
	assert_non_null(find_bytes(d, len, "\x0c\x41\xd0\x05\x01", 5)); /* EisaId PNP0501 */
	free(t);
}

static void no_devices(void **state)
{
	(void)state;
	struct tables *t = build(1, 0);
	uint32_t len = get32(t->dsdt + 4);
	check_header(t->dsdt, "DSDT", len, 2);
	assert_null(find_bytes(t->dsdt, len, "LNRO0005", 8));
	assert_non_null(find_bytes(t->dsdt, len, "COM1", 4));
	free(t);
}

/* Above 4 GiB only the 64-bit pointers can reach the DSDT. */
static void high_gpa(void **state)
{
	(void)state;
	static uint8_t buf[ACPI_TABLES_MAX];
	uint64_t gpa = 0x100000000ULL, rsdp;
	int len = acpi_build(buf, sizeof(buf), gpa, 1, make_devs(1), 1, &rsdp);
	assert_true(len > 0);
	assert_int_equal(rsdp, gpa);
	uint64_t xsdt = get64(buf + 24);
	uint64_t fadt = get64(buf + (xsdt - gpa) + HDR_LEN);
	const uint8_t *f = buf + (fadt - gpa);
	assert_memory_equal(f, "FACP", 4);
	assert_int_equal(get32(f + 40), 0);
	assert_memory_equal(buf + (get64(f + 140) - gpa), "DSDT", 4);
	assert_int_equal(sum8(f, 276), 0);
}

static void check_too_small(unsigned nr_cpus, unsigned nr_devs)
{
	static uint8_t full[ACPI_TABLES_MAX];
	uint64_t rsdp;
	int need = acpi_build(full, sizeof(full), GPA, nr_cpus, make_devs(nr_devs), nr_devs, &rsdp);
	assert_true(need > 0);

	uint8_t *buf = malloc((size_t)need + CANARY_N);
	assert_non_null(buf);
	for (int size = 0; size <= need; size++) {
		memset(buf, CANARY, (size_t)need + CANARY_N);
		int r = acpi_build(buf, (size_t)size, GPA, nr_cpus, make_devs(nr_devs), nr_devs,
				   &rsdp);
		for (size_t k = (size_t)size; k < (size_t)need + CANARY_N; k++)
			if (buf[k] != CANARY)
				fail_msg("size %d of %d: byte %zu written", size, need, k);
		if (size < need) {
			if (r != -E2BIG)
				fail_msg("size %d of %d: returned %d, want -E2BIG", size, need, r);
		} else {
			assert_int_equal(r, need);
			assert_memory_equal(buf, full, (size_t)need);
		}
	}
	free(buf);
}

static void too_small(void **state)
{
	(void)state;
	check_too_small(1, 0);
	check_too_small(4, 3);
	check_too_small(2, 70); /* Scope PkgLength in its 3-byte form */
}

static void bad_arguments(void **state)
{
	(void)state;
	static uint8_t buf[ACPI_TABLES_MAX];
	uint64_t rsdp;
	struct acpi_mmio_device d = { .base = 0xfffff000, .size = 0x1000, .gsi = 5 };

	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 0, NULL, 0, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 255, NULL, 0, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 1, make_devs(257), 257, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 1, NULL, 1, &rsdp), -EINVAL);
	assert_true(acpi_build(buf, sizeof(buf), GPA, 1, &d, 1, &rsdp) > 0); /* ends at 4 GiB */
	d.size = 0x1001;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 1, &d, 1, &rsdp), -EINVAL);
	d.base = 0x100000000ULL;
	d.size = 0x1000;
	assert_int_equal(acpi_build(buf, sizeof(buf), GPA, 1, &d, 1, &rsdp), -EINVAL);
	/* The most the names allow: VR00..VRFF, well inside 0xe0000-0xfffff. */
	int len = acpi_build(buf, sizeof(buf), GPA, 254, make_devs(256), 256, &rsdp);
	assert_true(len > 0 && len <= ACPI_TABLES_MAX);
}

/* ---- ACPICA tools: iasl and acpiexec (package acpica-tools) ------------- */

struct tooldir {
	char path[64];
};

static int tools_setup(void **state)
{
	struct tooldir *td = calloc(1, sizeof(*td));
	if (!td)
		return -1;
	snprintf(td->path, sizeof(td->path), "/tmp/ember-acpi-XXXXXX");
	if (!mkdtemp(td->path)) {
		free(td);
		return -1;
	}
	*state = td;
	return 0;
}

static int tools_teardown(void **state)
{
	struct tooldir *td = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", td->path);
	int r = system(cmd);
	free(td);
	return r == 0 ? 0 : -1;
}

static void require_tool(const char *tool)
{
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
	if (system(cmd) != 0) {
		print_message("SKIP: %s not installed (apt-get install acpica-tools, or "
			      "scripts/install-deps.sh); ACPICA checks not run\n", tool);
		skip();
	}
}

/* Runs cmd in dir with stderr folded in; returns the exit status and the output. */
static int run(const char *dir, const char *cmd, char **out)
{
	char full[1024];
	snprintf(full, sizeof(full), "cd '%s' && timeout 60 %s 2>&1", dir, cmd);
	FILE *p = popen(full, "r");
	assert_non_null(p);
	size_t cap = 1 << 16, n = 0;
	char *s = malloc(cap);
	assert_non_null(s);
	size_t got;
	while ((got = fread(s + n, 1, cap - 1 - n, p)) > 0) {
		n += got;
		if (n == cap - 1) {
			cap *= 2;
			s = realloc(s, cap);
			assert_non_null(s);
		}
	}
	s[n] = '\0';
	int st = pclose(p);
	*out = s;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *read_text(const char *dir, const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("%s was not written", path);
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
	s[n] = '\0';
	fclose(f);
	return s;
}

static void write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/*
 * What iasl 20200925 prints for a good table; every other line (ACPI
 * Warning, ACPI Error, "Could not parse", ...) is a failure.
 */
static void check_iasl_output(const char *out, const char *what)
{
	static const char *const benign[] = {
		"Intel ACPI Component Architecture", "ASL+ Optimizing Compiler/Disassembler",
		"Copyright (c)", "File appears to be binary", "Binary file appears to be a valid",
		"Input file ", "ACPI: ", "Pass 1 parse of", "Pass 2 parse of",
		"Parsing Deferred Opcodes", "Parsing completed", "Disassembly completed",
		"ASL Output:", "Acpi Data Table [", "Formatted output:", "ASL Input:",
		"AML Output:", "Table Input:", "Binary Output:", "Compilation successful.",
	};
	const char *line = out;
	while (*line) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		bool ok = n == 0;
		for (size_t i = 0; !ok && i < sizeof(benign) / sizeof(benign[0]); i++)
			ok = n >= strlen(benign[i]) && !strncmp(line, benign[i], strlen(benign[i]));
		if (!ok)
			fail_msg("%s: unexpected iasl output line \"%.*s\"\n--- full output:\n%s",
				 what, (int)n, line, out);
		line += n + (end ? 1 : 0);
	}
	if (strstr(out, "ACPI Warning") || strstr(out, "ACPI Error"))
		fail_msg("%s: iasl reported problems:\n%s", what, out);
}

/* A disassembly listing carries iasl's own findings as comments or lines. */
static void check_listing(const char *dsl, const char *what)
{
	static const char *const bad[] = { "Incorrect", "Invalid", "Error", "Warning", "Unknown" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strstr(dsl, bad[i]))
			fail_msg("%s: disassembly mentions \"%s\":\n%s", what, bad[i], dsl);
}

static const char *const table_names[] = { "XSDT", "FACP", "APIC", "DSDT" };

static void disassemble_all(const char *dir, const struct tables *t)
{
	const uint8_t *tabs[] = { t->xsdt, t->fadt, t->madt, t->dsdt };
	for (unsigned i = 0; i < 4; i++) {
		char name[16], cmd[64], header[128];
		uint32_t len = get32(tabs[i] + 4);
		snprintf(name, sizeof(name), "%s.dat", table_names[i]);
		write_file(dir, name, tabs[i], len);

		char *out;
		snprintf(cmd, sizeof(cmd), "iasl -d %s", name);
		int rc = run(dir, cmd, &out);
		if (rc != 0)
			fail_msg("iasl -d %s: exit %d\n%s", name, rc, out);
		check_iasl_output(out, name);
		/* iasl's one-line summary of the header it read. */
		snprintf(header, sizeof(header),
			 "ACPI: %s 0x0000000000000000 %06X (v%02u EMBER  EMBERVM  "
			 "00000001 EMBR 00000001)",
			 table_names[i], len, tabs[i][8]);
		assert_contains(out, header);
		assert_contains(out, i == 3 ? "Disassembly completed" : "decoded");
		free(out);

		snprintf(name, sizeof(name), "%s.dsl", table_names[i]);
		char *dsl = read_text(dir, name);
		check_listing(dsl, name);
		free(dsl);
	}
}

/*
 * Recompiles each listing: it must compile cleanly, and (with iasl's
 * optimizations off for AML) give back our bytes, except the checksum and
 * the creator ID/revision that iasl stamps with its own ("INTL", version).
 */
static void recompile_all(const char *dir, const struct tables *t)
{
	const uint8_t *tabs[] = { t->xsdt, t->fadt, t->madt, t->dsdt };
	for (unsigned i = 0; i < 4; i++) {
		char cmd[96], name[32];
		char *out;
		snprintf(cmd, sizeof(cmd), "iasl -p rt_%s %s.dsl", table_names[i], table_names[i]);
		int rc = run(dir, cmd, &out);
		if (rc != 0)
			fail_msg("%s: exit %d\n%s", cmd, rc, out);
		check_iasl_output(out, cmd);
		assert_contains(out, "Compilation successful. 0 Errors, 0 Warnings, 0 Remarks");
		free(out);

		snprintf(cmd, sizeof(cmd), "iasl -oa -p ident_%s %s.dsl", table_names[i],
			 table_names[i]);
		rc = run(dir, cmd, &out);
		if (rc != 0)
			fail_msg("%s: exit %d\n%s", cmd, rc, out);
		free(out);
		snprintf(name, sizeof(name), "ident_%s.aml", table_names[i]);
		char path[256];
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		uint32_t len = get32(tabs[i] + 4);
		uint8_t *back = malloc(len + 1);
		assert_non_null(back);
		assert_int_equal(fread(back, 1, len + 1, f), len);
		fclose(f);
		for (uint32_t k = 0; k < len; k++) {
			if (k == 9 || (k >= 28 && k < 36))
				continue;
			if (back[k] != tabs[i][k])
				fail_msg("%s: recompiled byte %u is 0x%02x, ours 0x%02x", table_names[i],
					 k, back[k], tabs[i][k]);
		}
		assert_int_equal(sum8(back, len), 0);
		free(back);
	}
}

/* The part of the listing from "Device (name)" to the next device or the end. */
static char *device_block(const char *dsl, const char *name)
{
	char key[32];
	snprintf(key, sizeof(key), "Device (%s)", name);
	const char *start = strstr(dsl, key);
	if (!start) {
		fail_msg("no \"%s\" in the DSDT listing", key);
		return NULL;
	}
	const char *end = strstr(start + 1, "Device (");
	size_t n = end ? (size_t)(end - start) : strlen(start);
	char *s = strndup(start, n);
	assert_non_null(s);
	return s;
}

static void check_dsdt_listing(const char *dir, unsigned nr_devs)
{
	char *dsl = read_text(dir, "DSDT.dsl");
	assert_contains(dsl, "Scope (\\_SB)");
	char *com1 = device_block(dsl, "COM1");
	assert_contains(com1, "Name (_HID, EisaId (\"PNP0501\")");
	assert_contains(com1, "Name (_UID, One)");
	assert_contains(com1, "IO (Decode16,");
	assert_contains(com1, "0x03F8,");
	assert_contains(com1, "0x08,");
	assert_contains(com1, "IRQNoFlags ()");
	assert_contains(com1, "{4}");
	free(com1);

	for (unsigned i = 0; i < nr_devs; i++) {
		char name[16], want[64];
		snprintf(name, sizeof(name), "VR%02X", i);
		char *blk = device_block(dsl, name);
		assert_contains(blk, "Name (_HID, \"LNRO0005\")");
		if (i < 2)
			snprintf(want, sizeof(want), "Name (_UID, %s)", i ? "One" : "Zero");
		else
			snprintf(want, sizeof(want), "Name (_UID, 0x%02X)", i);
		assert_contains(blk, want);
		assert_contains(blk, "Name (_CCA, One)");
		const char *mem = strstr(blk, "Memory32Fixed (ReadWrite,");
		assert_non_null(mem);
		snprintf(want, sizeof(want), "0x%08X,", (unsigned)devs_for_test[i].base);
		const char *base = strstr(mem, want);
		assert_non_null(base);
		snprintf(want, sizeof(want), "0x%08X,", devs_for_test[i].size);
		assert_non_null(strstr(base + 11, want));
		const char *irq = strstr(blk, "Interrupt (ResourceConsumer, Edge, ActiveHigh, "
					      "Exclusive");
		assert_non_null(irq);
		snprintf(want, sizeof(want), "0x%08X,", devs_for_test[i].gsi);
		assert_non_null(strstr(irq, want));
		free(blk);
	}
	free(dsl);
}

/* Collapses whitespace runs to one space, so column alignment does not matter. */
static void squeeze(char *s)
{
	char *w = s;
	for (const char *r = s; *r; r++) {
		if (*r == ' ' || *r == '\t') {
			if (w != s && w[-1] == ' ')
				continue;
			*w++ = ' ';
		} else {
			*w++ = *r;
		}
	}
	*w = '\0';
}

/*
 * acpiexec runs ACPICA, the interpreter Linux itself uses: it loads the
 * tables and converts each _CRS into resources the way acpi_walk_resources
 * does for virtio_mmio's platform device.
 */
static void check_acpiexec(const char *dir, unsigned nr_devs)
{
	char cmd[512];
	int n = snprintf(cmd, sizeof(cmd), "acpiexec -b \"Resources \\_SB.COM1");
	for (unsigned i = 0; i < nr_devs && i < 3; i++)
		n += snprintf(cmd + n, sizeof(cmd) - (size_t)n, "; Resources \\_SB.VR%02X", i);
	snprintf(cmd + n, sizeof(cmd) - (size_t)n, "\" DSDT.dat FACP.dat APIC.dat");
	char *out;
	int rc = run(dir, cmd, &out);
	if (rc != 0)
		fail_msg("%s: exit %d\n%s", cmd, rc, out);
	squeeze(out);
	if (strstr(out, "ACPI Error") || strstr(out, "ACPI Warning") || strstr(out, "ACPI Exception"))
		fail_msg("acpiexec reported problems:\n%s", out);
	assert_contains(out, "Device: \\_SB.COM1");
	assert_contains(out, "Address Minimum : 03F8");
	assert_contains(out, "Interrupt List : 4");
	for (unsigned i = 0; i < nr_devs && i < 3; i++) {
		char want[64];
		snprintf(want, sizeof(want), "Device: \\_SB.VR%02X", i);
		const char *dev = strstr(out, want);
		if (!dev)
			fail_msg("acpiexec did not find %s:\n%s", want, out);
		const char *mem = strstr(dev, "32-Bit Fixed Memory Range Resource");
		assert_non_null(mem);
		snprintf(want, sizeof(want), "Address : %08X", (unsigned)devs_for_test[i].base);
		assert_non_null(strstr(mem, want));
		snprintf(want, sizeof(want), "Address Length : %08X", devs_for_test[i].size);
		assert_non_null(strstr(mem, want));
		const char *irq = strstr(mem, "Extended IRQ Resource");
		assert_non_null(irq);
		assert_non_null(strstr(irq, "Triggering : Edge"));
		assert_non_null(strstr(irq, "Polarity : ActiveHigh"));
		snprintf(want, sizeof(want), "Dword00 : %08X", devs_for_test[i].gsi);
		assert_non_null(strstr(irq, want));
	}
	assert_contains(out, "ACPI: No outstanding allocations");
	free(out);
}

static void acpica_check(const char *dir, unsigned nr_cpus, unsigned nr_devs)
{
	require_tool("iasl");
	struct tables *t = build(nr_cpus, nr_devs);
	disassemble_all(dir, t);
	check_dsdt_listing(dir, nr_devs);
	recompile_all(dir, t);
	require_tool("acpiexec");
	check_acpiexec(dir, nr_devs);
	free(t);
}

static const char *tooldir(void **state) { return ((struct tooldir *)*state)->path; }
static void acpica_three_devices(void **state) { acpica_check(tooldir(state), 4, 3); }
static void acpica_no_devices(void **state) { acpica_check(tooldir(state), 1, 0); }
/* 100 devices: 2-byte Device and 3-byte Scope PkgLengths, hex names VR0A..VR63. */
static void acpica_hundred_devices(void **state)
{
	acpica_check(tooldir(state), 8, 100);
}

/*
 * The checks above would catch broken tables: a wrong checksum shows in the
 * listing, corrupt AML makes iasl fail and say so.
 */
static void acpica_sees_broken_tables(void **state)
{
	const char *dir = tooldir(state);
	require_tool("iasl");
	struct tables *t = build(1, 1);
	uint8_t fadt[276];
	memcpy(fadt, t->fadt, sizeof(fadt));
	fadt[9] ^= 0x01;
	write_file(dir, "BAD.dat", fadt, sizeof(fadt));
	char *out;
	assert_int_equal(run(dir, "iasl -d BAD.dat", &out), 0);
	free(out);
	char *dsl = read_text(dir, "BAD.dsl");
	assert_contains(dsl, "Incorrect checksum");
	free(dsl);

	uint32_t len = get32(t->dsdt + 4);
	uint8_t *dsdt = malloc(len);
	assert_non_null(dsdt);
	memcpy(dsdt, t->dsdt, len);
	dsdt[HDR_LEN + 1] = 0x3f; /* Scope PkgLength too short: the scope swallows half a Device */
	dsdt[9] = 0;
	dsdt[9] = (uint8_t)(0 - sum8(dsdt, len));
	write_file(dir, "BAD.dat", dsdt, len);
	assert_int_not_equal(run(dir, "iasl -d BAD.dat", &out), 0);
	assert_contains(out, "ACPI Error");
	free(out);
	free(dsdt);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(aml_integers),
		cmocka_unit_test(aml_namestrings),
		cmocka_unit_test(aml_strings_and_eisaid),
		cmocka_unit_test(aml_resource_template),
		cmocka_unit_test(aml_package_lengths),
		cmocka_unit_test(aml_bounds),
		cmocka_unit_test(rsdp_and_xsdt),
		cmocka_unit_test(fadt_fields),
		cmocka_unit_test(madt_one_cpu),
		cmocka_unit_test(madt_four_cpus),
		cmocka_unit_test(madt_max_cpus),
		cmocka_unit_test(dsdt_contents),
		cmocka_unit_test(no_devices),
		cmocka_unit_test(high_gpa),
		cmocka_unit_test(too_small),
		cmocka_unit_test(bad_arguments),
		cmocka_unit_test_setup_teardown(acpica_three_devices, tools_setup, tools_teardown),
		cmocka_unit_test_setup_teardown(acpica_no_devices, tools_setup, tools_teardown),
		cmocka_unit_test_setup_teardown(acpica_hundred_devices, tools_setup, tools_teardown),
		cmocka_unit_test_setup_teardown(acpica_sees_broken_tables, tools_setup, tools_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
