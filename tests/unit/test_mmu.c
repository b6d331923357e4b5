// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for arch/x86/emulate/mmu.c and access.c: page walks over page
 * tables built by hand in a fake guest-physical memory, for every paging
 * mode, page size and permission rule the walker implements.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/emulate/emulate.h"

#define RAM_SIZE	(8u << 20)
#define TABLES		0x100000ULL	/* page tables are allocated from here */

#define P	0x001ULL
#define RW	0x002ULL
#define US	0x004ULL
#define A	0x020ULL
#define D	0x040ULL
#define PS	0x080ULL
#define XD	(1ULL << 63)
#define ADDR	0x000ffffffffff000ULL

#define CR0_PE	0x1ULL
#define CR0_WP	(1ULL << 16)
#define CR0_PG	(1ULL << 31)
#define CR4_PSE	(1ULL << 4)
#define CR4_PAE	(1ULL << 5)
#define CR4_LA57 (1ULL << 12)
#define CR4_SMEP (1ULL << 20)
#define CR4_SMAP (1ULL << 21)
#define EFER_LMA (1ULL << 10)
#define EFER_NXE (1ULL << 11)
#define FLAGS_AC (1ULL << 18)

struct fake {
	uint8_t *ram;
	uint64_t next_table;
	unsigned disturb;	/* cmpxchgs to lose by changing memory first */
	unsigned cmpxchgs;
};

static struct fake fake;
static struct emu_cpu cpu;

static int fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = ctx;

	assert_true((gpa & 0xfff) + len <= 0x1000);
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -ERANGE;
	memcpy(buf, f->ram + gpa, len);
	return 0;
}

static int fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct fake *f = ctx;

	assert_true((gpa & 0xfff) + len <= 0x1000);
	if (gpa >= RAM_SIZE || len > RAM_SIZE - gpa)
		return -ERANGE;
	memcpy(f->ram + gpa, buf, len);
	return 0;
}

/* Loses the race `disturb` times: another "vCPU" flips bit 9 first. */
static int fake_cmpxchg(void *ctx, uint64_t gpa, void *expected, const void *desired,
			size_t len, bool *swapped)
{
	struct fake *f = ctx;

	assert_int_equal(len, 8);
	assert_int_equal(gpa & 7, 0);
	if (gpa >= RAM_SIZE)
		return -ERANGE;
	f->cmpxchgs++;
	if (f->disturb) {
		f->disturb--;
		f->ram[gpa + 1] ^= 0x02;
	}
	return emu_host_cmpxchg(f->ram + gpa, expected, desired, len, swapped);
}

static const struct emu_mem_ops ops = {
	.read_phys = fake_read,
	.write_phys = fake_write,
	.cmpxchg_phys = fake_cmpxchg,
};

static uint64_t get64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, fake.ram + gpa, 8);
	return v;
}

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(fake.ram + gpa, &v, 8);
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fake.ram + gpa, 4);
	return v;
}

static void put32(uint64_t gpa, uint32_t v)
{
	memcpy(fake.ram + gpa, &v, 4);
}

static uint64_t alloc_table(void)
{
	uint64_t p = fake.next_table;

	fake.next_table += 0x1000;
	assert_true(fake.next_table <= RAM_SIZE);
	memset(fake.ram + p, 0, 0x1000);
	return p;
}

/* Fresh memory and a 64-bit CPU with 4-level paging and an empty PML4. */
static void reset_long(void)
{
	memset(fake.ram, 0, RAM_SIZE);
	fake.next_table = TABLES;
	fake.disturb = 0;
	fake.cmpxchgs = 0;
	memset(&cpu, 0, sizeof(cpu));
	cpu.cr0 = CR0_PE | CR0_PG | CR0_WP;
	cpu.cr4 = CR4_PAE;
	cpu.efer = EFER_LMA | EFER_NXE | 0x100;
	cpu.cs_l = true;
	cpu.rflags = 0x2;
	cpu.cr3 = alloc_table();
}

/*
 * Maps va -> pa in 4- or 5-level tables with the leaf at leaf_level
 * (1: 4 KiB, 2: 2 MiB, 3: 1 GiB).  New upper entries get `upper`.
 * Returns the guest-physical address of the leaf entry.
 */
static uint64_t map(int levels, uint64_t va, uint64_t pa, int leaf_level,
		    uint64_t leaf_flags, uint64_t upper)
{
	uint64_t table = cpu.cr3 & ADDR, slot;

	for (int level = levels; level > leaf_level; level--) {
		slot = table + ((va >> (12 + 9 * (level - 1))) & 511) * 8;
		if (!(get64(slot) & P))
			put64(slot, alloc_table() | upper);
		table = get64(slot) & ADDR;
	}
	slot = table + ((va >> (12 + 9 * (leaf_level - 1))) & 511) * 8;
	put64(slot, pa | leaf_flags | (leaf_level > 1 ? PS : 0));
	return slot;
}

/* The entry at `level` on the way to va (4- or 5-level). */
static uint64_t entry_gpa(int levels, uint64_t va, int level)
{
	uint64_t table = cpu.cr3 & ADDR;

	for (int l = levels; ; l--) {
		uint64_t slot = table + ((va >> (12 + 9 * (l - 1))) & 511) * 8;

		if (l == level)
			return slot;
		table = get64(slot) & ADDR;
	}
}

static int xlate(uint64_t la, unsigned access, uint64_t *gpa, uint32_t *err)
{
	*err = 0xdead;
	return emu_mmu_translate(&cpu, &ops, &fake, la, access, gpa, err);
}

static void assert_pf(uint64_t la, unsigned access, uint32_t want)
{
	uint64_t gpa;
	uint32_t err;

	assert_int_equal(xlate(la, access, &gpa, &err), -EFAULT);
	assert_int_equal(err, want);
}

static void assert_maps(uint64_t la, unsigned access, uint64_t want)
{
	uint64_t gpa = 0;
	uint32_t err;

	assert_int_equal(xlate(la, access, &gpa, &err), 0);
	assert_int_equal(gpa, want);
}

static int setup(void **state)
{
	(void)state;
	fake.ram = calloc(1, RAM_SIZE);
	return fake.ram ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	free(fake.ram);
	return 0;
}

/* ---- 4-level paging -------------------------------------------------- */

static void test_4k_and_ad_bits(void **state)
{
	const uint64_t va = 0x00007f0000001000ULL;
	uint64_t pte;

	(void)state;
	reset_long();
	pte = map(4, va, 0x305000, 1, P | RW, P | RW);
	assert_maps(va + 0x123, EMU_ACC_READ, 0x305123);
	/* accessed set in every level, dirty nowhere */
	for (int l = 4; l >= 1; l--) {
		assert_true(get64(entry_gpa(4, va, l)) & A);
		assert_false(get64(entry_gpa(4, va, l)) & D);
	}
	assert_maps(va + 0xfff, EMU_ACC_WRITE, 0x305fff);
	assert_true(get64(pte) & D);
	assert_false(get64(entry_gpa(4, va, 2)) & D);
	assert_int_equal(get64(pte) & ADDR, 0x305000);
	/* nothing left to set: no further cmpxchg */
	fake.cmpxchgs = 0;
	assert_maps(va, EMU_ACC_WRITE, 0x305000);
	assert_int_equal(fake.cmpxchgs, 0);
}

static void test_2m_and_1g(void **state)
{
	uint64_t pde, pdpte;

	(void)state;
	reset_long();
	pde = map(4, 0x40200000ULL, 0x600000, 2, P | RW, P | RW);
	assert_maps(0x40212345ULL, EMU_ACC_READ, 0x612345);
	assert_maps(0x403fffffULL, EMU_ACC_WRITE, 0x7fffff);
	assert_true(get64(pde) & D);

	pdpte = map(4, 0x8000000000ULL, 0x40000000ULL, 3, P | RW | XD, P | RW);
	assert_maps(0x8001234567ULL, EMU_ACC_READ, 0x41234567ULL);
	assert_true(get64(pdpte) & A);
	assert_false(get64(pdpte) & D);
	/* a 1 GiB page may map above guest RAM: the walk never touches it */
	put64(pdpte, 0x3c0000000ULL | P | RW | PS);
	assert_maps(0x8000000010ULL, EMU_ACC_FETCH, 0x3c0000010ULL);
}

static void test_not_present(void **state)
{
	const uint64_t va = 0x1000ULL;
	uint64_t pte;

	(void)state;
	reset_long();
	assert_pf(va, EMU_ACC_READ, 0);			/* empty PML4 */
	pte = map(4, va, 0x5000, 1, 0, P | RW | US);
	assert_pf(va, EMU_ACC_READ, 0);			/* empty PTE */
	assert_pf(va, EMU_ACC_WRITE, EMU_PF_W);
	assert_pf(va, EMU_ACC_FETCH, EMU_PF_ID);		/* NXE: I/D reported */
	cpu.cpl = 3;
	assert_pf(va, EMU_ACC_WRITE, EMU_PF_W | EMU_PF_U);
	cpu.cpl = 0;
	cpu.efer &= ~EFER_NXE;
	assert_pf(va, EMU_ACC_FETCH, 0);		/* no NX, no SMEP: no I/D */
	/* no A bits set on a failed walk */
	assert_false(get64(entry_gpa(4, va, 4)) & A);
	put64(pte, 0x5000 | P);
	assert_maps(va, EMU_ACC_READ, 0x5000);
}

static void test_write_protect(void **state)
{
	const uint64_t va = 0x2000ULL, va2 = 0x40000000ULL;

	(void)state;
	reset_long();
	map(4, va, 0x6000, 1, P | US, P | RW | US);
	assert_maps(va, EMU_ACC_READ, 0x6000);
	assert_pf(va, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W);	/* CR0.WP = 1 */
	cpu.cr0 &= ~CR0_WP;
	assert_maps(va, EMU_ACC_WRITE, 0x6000);			/* WP = 0: allowed */
	cpu.cpl = 3;
	assert_pf(va, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W | EMU_PF_U);	/* user: never */
	assert_maps(va, EMU_ACC_READ, 0x6000);
	/* read-only at an upper level counts too */
	cpu.cpl = 0;
	cpu.cr0 |= CR0_WP;
	map(4, va2, 0x7000, 1, P | RW, P | US);
	assert_pf(va2, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W);
}

static void test_user_supervisor(void **state)
{
	const uint64_t va = 0x3000ULL, va2 = 0x80000000ULL;

	(void)state;
	reset_long();
	map(4, va, 0x8000, 1, P | RW, P | RW | US);	/* supervisor leaf */
	cpu.cpl = 3;
	assert_pf(va, EMU_ACC_READ, EMU_PF_P | EMU_PF_U);
	assert_pf(va, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_U | EMU_PF_ID);
	map(4, va2, 0x9000, 1, P | RW | US, P | RW);	/* supervisor upper level */
	assert_pf(va2, EMU_ACC_READ, EMU_PF_P | EMU_PF_U);
	cpu.cpl = 0;
	assert_maps(va, EMU_ACC_READ, 0x8000);
	assert_maps(va2, EMU_ACC_WRITE, 0x9000);
}

static void test_nx(void **state)
{
	const uint64_t va = 0x4000ULL, va2 = 0x8000000000ULL;	/* PML4 slots 0, 1 */

	(void)state;
	reset_long();
	map(4, va, 0xa000, 1, P | RW | US | XD, P | RW | US);
	assert_maps(va, EMU_ACC_READ, 0xa000);
	assert_pf(va, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_ID);
	cpu.cpl = 3;
	assert_pf(va, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_U | EMU_PF_ID);
	cpu.cpl = 0;
	/* XD in an upper level applies to everything below */
	map(4, va2, 0xb000, 1, P | RW, P | RW | XD);
	assert_pf(va2, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_ID);
	/* without EFER.NXE bit 63 is reserved */
	cpu.efer &= ~EFER_NXE;
	assert_pf(va, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	/* the peek ignores permissions but not reserved bits */
	cpu.efer |= EFER_NXE;
	assert_maps(va, EMU_ACC_FETCH | EMU_ACC_PEEK, 0xa000);
}

static void test_smep_smap(void **state)
{
	const uint64_t va = 0x5000ULL;

	(void)state;
	reset_long();
	map(4, va, 0xc000, 1, P | RW | US, P | RW | US);
	assert_maps(va, EMU_ACC_FETCH, 0xc000);
	cpu.cr4 |= CR4_SMEP;
	assert_pf(va, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_ID);
	assert_maps(va, EMU_ACC_READ, 0xc000);
	cpu.cr4 |= CR4_SMAP;
	assert_pf(va, EMU_ACC_READ, EMU_PF_P);
	assert_pf(va, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W);
	cpu.rflags |= FLAGS_AC;				/* stac */
	assert_maps(va, EMU_ACC_READ, 0xc000);
	assert_maps(va, EMU_ACC_WRITE, 0xc000);
	cpu.cpl = 3;					/* user mode is not affected */
	cpu.rflags &= ~FLAGS_AC;
	assert_maps(va, EMU_ACC_READ, 0xc000);
	assert_maps(va, EMU_ACC_FETCH, 0xc000);
}

static void test_reserved_bits(void **state)
{
	uint64_t slot;

	(void)state;
	reset_long();
	slot = map(4, 0x200000ULL, 0x400000, 2, P | RW, P | RW);
	put64(slot, get64(slot) | 0x2000);		/* 2 MiB page, bit 13 */
	assert_pf(0x200000ULL, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	assert_pf(0x200000ULL, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_RSVD | EMU_PF_ID);

	put64(slot, get64(slot) & ~0x2000ULL);
	assert_maps(0x200000ULL, EMU_ACC_READ, 0x400000);
	slot = entry_gpa(4, 0x200000ULL, 4);
	put64(slot, get64(slot) | PS);			/* PS in a PML4E */
	assert_pf(0x200000ULL, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W | EMU_PF_RSVD);

	reset_long();
	cpu.maxphyaddr = 36;
	slot = map(4, 0x1000, 0x3000, 1, P | RW, P | RW);
	assert_maps(0x1000, EMU_ACC_READ, 0x3000);
	put64(slot, get64(slot) | (1ULL << 40));	/* above MAXPHYADDR */
	assert_pf(0x1000, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	cpu.maxphyaddr = 0;				/* 52: now legal */
	assert_maps(0x1000, EMU_ACC_READ, 0x10000003000ULL);
}

static void test_la57(void **state)
{
	const uint64_t va = 0x00ff800000001000ULL;	/* needs 57 bits */
	struct emu_exception exc;
	uint8_t buf[4];

	(void)state;
	reset_long();
	cpu.cr4 |= CR4_LA57;
	map(5, va, 0xd000, 1, P | RW, P | RW);
	put32(0xd010, 0xcafebabe);
	assert_maps(va + 0x10, EMU_ACC_READ, 0xd010);
	assert_true(get64(entry_gpa(5, va, 5)) & A);
	assert_int_equal((entry_gpa(5, va, 5) & 0xfff) / 8, 0xff);	/* PML5 index */
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, va + 0x10, buf, 4,
					 EMU_ACC_READ, &exc), 0);
	assert_memory_equal(buf, "\xbe\xba\xfe\xca", 4);
	/* the same address is not canonical with 4-level paging */
	cpu.cr4 &= ~CR4_LA57;
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, va + 0x10, buf, 4,
					 EMU_ACC_READ, &exc), -EFAULT);
	assert_int_equal(exc.vector, EMU_VEC_GP);
	assert_false(exc.has_cr2);
	/* 57-bit canonical: bits 63:56 copy bit 56 */
	cpu.cr4 |= CR4_LA57;
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, 0x0100000000000000ULL, buf, 4,
					 EMU_ACC_READ, &exc), -EFAULT);
	assert_int_equal(exc.vector, EMU_VEC_GP);
}

static void test_cross_page(void **state)
{
	const uint64_t va = 0x400000ULL;
	struct emu_exception exc;
	uint8_t buf[8];

	(void)state;
	reset_long();
	map(4, va, 0x210000, 1, P | RW, P | RW);
	map(4, va + 0x1000, 0x250000, 1, P | RW, P | RW);
	memcpy(fake.ram + 0x210ffc, "\x01\x02\x03\x04", 4);
	memcpy(fake.ram + 0x250000, "\x05\x06\x07\x08", 4);
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, va + 0xffc, buf, 8,
					 EMU_ACC_READ, &exc), 0);
	assert_memory_equal(buf, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	assert_int_equal(emu_write_linear(&cpu, &ops, &fake, va + 0xffe,
					  "\xa1\xa2\xa3\xa4", 4, EMU_ACC_WRITE, &exc), 0);
	assert_memory_equal(fake.ram + 0x210ffe, "\xa1\xa2", 2);
	assert_memory_equal(fake.ram + 0x250000, "\xa3\xa4", 2);
	assert_true(get64(entry_gpa(4, va + 0x1000, 1)) & D);

	/* second page not present: #PF there, first page unchanged */
	assert_int_equal(emu_write_linear(&cpu, &ops, &fake, va + 0x1ffe,
					  "\xb1\xb2\xb3\xb4", 4, EMU_ACC_WRITE, &exc), -EFAULT);
	assert_int_equal(exc.vector, EMU_VEC_PF);
	assert_true(exc.has_cr2);
	assert_int_equal(exc.cr2, va + 0x2000);
	assert_int_equal(exc.error_code, EMU_PF_W);
	assert_int_equal(fake.ram[0x250ffe], 0);
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, va + 0x1ffe, buf, 4,
					 EMU_ACC_READ, &exc), -EFAULT);
	assert_int_equal(exc.cr2, va + 0x2000);
	assert_int_equal(exc.error_code, 0);
	/* zero length does nothing */
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, va, buf, 0, EMU_ACC_READ, &exc), 0);
}

/* ---- legacy paging modes --------------------------------------------- */

static void test_pae(void **state)
{
	const uint64_t pdpt = 0x1020, pd = 0x2000, pt = 0x3000;

	(void)state;
	reset_long();
	cpu.efer = EFER_NXE;
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.cr3 = pdpt;					/* 32-byte aligned */
	put64(pdpt + 8, pd | P);			/* PDPTE 1: 1-2 GiB */
	put64(pd + 8 * 1, pt | P | RW);			/* PDE 1 -> PT */
	put64(pt + 8 * 1, 0x7000 | P | RW);		/* PTE 1 */
	put64(pd + 8 * 2, 0x600000 | P | PS);		/* PDE 2: 2 MiB page */
	assert_maps(0x40201234ULL, EMU_ACC_WRITE, 0x7234);
	assert_true(get64(pt + 8) & D);
	assert_true(get64(pd + 8) & A);
	assert_int_equal(get64(pdpt + 8), pd | P);	/* PDPTEs have no A bit */
	assert_maps(0x40412345ULL, EMU_ACC_READ, 0x612345);
	assert_pf(0x40412345ULL, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W);
	assert_pf(0x00001000ULL, EMU_ACC_READ, 0);	/* PDPTE 0 not present */
	put64(pdpt, pd | P | RW);			/* R/W is reserved in a PDPTE */
	assert_pf(0x00001000ULL, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	put64(pt + 8, 0x7000 | P | RW | (1ULL << 60));	/* PAE: bits 62:M reserved */
	assert_pf(0x40201234ULL, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	/* PAE has NX */
	put64(pt + 8, 0x7000 | P | RW | XD);
	assert_pf(0x40201234ULL, EMU_ACC_FETCH, EMU_PF_P | EMU_PF_ID);
}

static void test_32bit(void **state)
{
	const uint64_t pd = 0x1000, pt = 0x2000;
	struct emu_exception exc;
	uint8_t buf[4];

	(void)state;
	reset_long();
	cpu.efer = 0;
	cpu.cr4 = 0;
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.cr3 = pd;
	put32(pd + 4 * 3, pt | P | RW | US);		/* PDE 3: 12-16 MiB */
	put32(pt + 4 * 1, 0x9000 | P | RW);		/* PTE 1 */
	put32(pt + 4 * 0, 0x8000 | P);			/* neighbour in the same 8 bytes */
	assert_maps(0x00c01234ULL, EMU_ACC_WRITE, 0x9234);
	assert_int_equal(get32(pt + 4), 0x9000 | P | RW | A | D);
	assert_int_equal(get32(pt), 0x8000 | P);	/* untouched */
	assert_int_equal(get32(pd + 12), pt | P | RW | US | A);
	assert_pf(0x00c00000ULL, EMU_ACC_WRITE, EMU_PF_P | EMU_PF_W);
	assert_pf(0x00800000ULL, EMU_ACC_READ, 0);

	/* 4 MiB pages need CR4.PSE; PSE-36 bits 20:13 give PA bits 39:32 */
	put32(pd + 4 * 4, 0x00800000 | (1u << 13) | P | RW | PS);
	cpu.cr4 = CR4_PSE;
	assert_maps(0x01012345ULL, EMU_ACC_READ, 0x100812345ULL);
	put32(pd + 4 * 4, 0x00800000 | (1u << 21) | P | RW | PS);
	assert_pf(0x01012345ULL, EMU_ACC_READ, EMU_PF_P | EMU_PF_RSVD);
	/* without PSE the PS bit is ignored: the entry points to a page table */
	cpu.cr4 = 0;
	put32(pd + 4 * 4, 0x00004000 | P | RW | PS);
	put32(0x4000 + 4 * 0x12, 0xe000 | P);
	assert_maps(0x01012345ULL, EMU_ACC_READ, 0xe345);
	/* no NX in 32-bit paging: fetch is allowed */
	assert_maps(0x01012345ULL, EMU_ACC_FETCH, 0xe345);
	/* linear addresses wrap at 4 GiB in 32-bit code */
	put32(pd, pt | P | RW);
	put32(pt + 4 * 0, 0x8000 | P | RW);
	put32(pd + 4 * 1023, pt | P | RW);
	put32(pt + 4 * 1023, 0xf000 | P | RW);
	memcpy(fake.ram + 0xfffe, "\x11\x22", 2);
	memcpy(fake.ram + 0x8000, "\x33\x44", 2);
	assert_int_equal(emu_read_linear(&cpu, &ops, &fake, 0xfffffffeULL, buf, 4,
					 EMU_ACC_READ, &exc), 0);
	assert_memory_equal(buf, "\x11\x22\x33\x44", 4);
}

static void test_no_paging(void **state)
{
	(void)state;
	reset_long();
	cpu.cr0 = CR0_PE;
	cpu.efer = 0;
	cpu.cr4 = 0;
	cpu.cs_l = false;
	assert_maps(0x12345678ULL, EMU_ACC_WRITE, 0x12345678ULL);
	assert_maps(0x100001234ULL, EMU_ACC_FETCH, 0x1234);
	cpu.cr0 = 0;					/* real mode */
	assert_maps(0xffff0ULL, EMU_ACC_FETCH, 0xffff0ULL);
	assert_int_equal(fake.cmpxchgs, 0);
}

/* ---- walker mechanics ------------------------------------------------- */

static void test_peek(void **state)
{
	const uint64_t va = 0x6000ULL;

	(void)state;
	reset_long();
	map(4, va, 0xf000, 1, P, P);
	cpu.cpl = 3;
	assert_maps(va, EMU_ACC_WRITE | EMU_ACC_PEEK, 0xf000);
	assert_int_equal(fake.cmpxchgs, 0);
	assert_false(get64(entry_gpa(4, va, 1)) & A);
	assert_false(get64(entry_gpa(4, va, 4)) & A);
	put64(entry_gpa(4, va, 1), 0);
	assert_pf(va, EMU_ACC_READ | EMU_ACC_PEEK, 0);	/* still needs presence */
}

static void test_ad_race(void **state)
{
	const uint64_t va = 0x7000ULL;
	uint64_t pte;

	(void)state;
	reset_long();
	pte = map(4, va, 0x11000, 1, P | RW, P | RW);
	fake.disturb = 2;				/* lose twice, then win */
	assert_maps(va, EMU_ACC_WRITE, 0x11000);
	assert_int_equal(get64(pte) & (A | D), A | D);
	for (int l = 4; l >= 2; l--)
		assert_true(get64(entry_gpa(4, va, l)) & A);
	assert_int_equal(fake.cmpxchgs, 3 + 3);		/* PML4E three times, then one each */

	reset_long();
	map(4, va, 0x11000, 1, P | RW, P | RW);
	fake.disturb = 1000;				/* always loses */
	{
		uint64_t gpa;
		uint32_t err;

		assert_int_equal(xlate(va, EMU_ACC_READ, &gpa, &err), -EAGAIN);
	}
}

static void test_callback_errors(void **state)
{
	const struct emu_mem_ops no_cmpxchg = { .read_phys = fake_read, .write_phys = fake_write };
	const uint64_t va = 0x8000ULL;
	uint64_t gpa;
	uint32_t err;

	(void)state;
	reset_long();
	map(4, va, 0x12000, 1, P | RW, P | RW);
	/* A bits to set but no cmpxchg_phys */
	assert_int_equal(emu_mmu_translate(&cpu, &no_cmpxchg, &fake, va, EMU_ACC_READ, &gpa, &err),
			 -ENOSYS);
	/* already accessed: no update needed */
	for (int l = 4; l >= 1; l--)
		put64(entry_gpa(4, va, l), get64(entry_gpa(4, va, l)) | A);
	assert_int_equal(emu_mmu_translate(&cpu, &no_cmpxchg, &fake, va, EMU_ACC_READ, &gpa, &err), 0);
	assert_int_equal(gpa, 0x12000);
	/* a table outside guest RAM: the callback's error, not a #PF */
	put64(entry_gpa(4, va, 2), 0x40000000ULL | P | RW | A);
	assert_int_equal(xlate(va, EMU_ACC_READ, &gpa, &err), -ERANGE);
	/* bad arguments */
	assert_int_equal(emu_mmu_translate(NULL, &ops, &fake, va, 0, &gpa, &err), -EINVAL);
	assert_int_equal(emu_mmu_translate(&cpu, &ops, &fake, va, 0, NULL, &err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_4k_and_ad_bits),
		cmocka_unit_test(test_2m_and_1g),
		cmocka_unit_test(test_not_present),
		cmocka_unit_test(test_write_protect),
		cmocka_unit_test(test_user_supervisor),
		cmocka_unit_test(test_nx),
		cmocka_unit_test(test_smep_smap),
		cmocka_unit_test(test_reserved_bits),
		cmocka_unit_test(test_la57),
		cmocka_unit_test(test_cross_page),
		cmocka_unit_test(test_pae),
		cmocka_unit_test(test_32bit),
		cmocka_unit_test(test_no_paging),
		cmocka_unit_test(test_peek),
		cmocka_unit_test(test_ad_race),
		cmocka_unit_test(test_callback_errors),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
