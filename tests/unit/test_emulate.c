// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for arch/x86/emulate execution: every supported instruction with
 * its flags and exceptions, memory operands through a fake guest memory
 * and identity page tables, emu_step's fetch path, emu_host_cmpxchg.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/emulate/emulate.h"

#define RAM_SIZE	(4u << 20)
#define MMIO_BASE	0xd0000000ULL
#define MMIO_SIZE	0x1000ULL

#define CF (1ULL << 0)
#define PF (1ULL << 2)
#define AF (1ULL << 4)
#define ZF (1ULL << 6)
#define SF (1ULL << 7)
#define OF (1ULL << 11)
#define RF (1ULL << 16)
#define AC (1ULL << 18)
#define ARITH (CF | PF | AF | ZF | SF | OF)

/* Fake guest-physical memory: RAM at 0, a logging MMIO page at MMIO_BASE. */
struct fake {
	uint8_t *ram;
	unsigned cmpxchgs, writes;
	struct {
		uint64_t gpa;
		size_t len;
		uint8_t data[16];
	} mmio[8];
	unsigned nmmio;
};

static bool in_mmio(uint64_t gpa, size_t len)
{
	return gpa >= MMIO_BASE && gpa + len <= MMIO_BASE + MMIO_SIZE;
}

static bool in_ram(uint64_t gpa, size_t len)
{
	return gpa < RAM_SIZE && len <= RAM_SIZE - gpa;
}

static int fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct fake *f = ctx;

	assert_true((gpa & 0xfff) + len <= 0x1000);	/* never crosses a page */
	if (in_mmio(gpa, len)) {
		for (size_t i = 0; i < len; i++)
			((uint8_t *)buf)[i] = (uint8_t)(0xa0 + i);
		return 0;
	}
	if (!in_ram(gpa, len))
		return -ERANGE;
	memcpy(buf, f->ram + gpa, len);
	return 0;
}

static int fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct fake *f = ctx;

	assert_true((gpa & 0xfff) + len <= 0x1000);
	f->writes++;
	if (in_mmio(gpa, len)) {
		assert_true(f->nmmio < 8 && len <= 16);
		f->mmio[f->nmmio].gpa = gpa;
		f->mmio[f->nmmio].len = len;
		memcpy(f->mmio[f->nmmio].data, buf, len);
		f->nmmio++;
		return 0;
	}
	if (!in_ram(gpa, len))
		return -ERANGE;
	memcpy(f->ram + gpa, buf, len);
	return 0;
}

static int fake_cmpxchg(void *ctx, uint64_t gpa, void *expected, const void *desired,
			size_t len, bool *swapped)
{
	struct fake *f = ctx;

	assert_true(len == 8 || len == 16);
	if (!in_ram(gpa, len))
		return -ERANGE;
	f->cmpxchgs++;
	return emu_host_cmpxchg(f->ram + gpa, expected, desired, len, swapped);
}

/* Ports: writes are logged in order; a read of port P returns P's low byte plus a counter. */
static struct {
	uint16_t port[64];
	uint32_t data[64];
	unsigned n, reads;
} ports;

static int fake_pio(void *ctx, uint16_t port, void *data, unsigned size, bool is_write)
{
	uint32_t v = 0;

	(void)ctx;
	if (is_write) {
		memcpy(&v, data, size);
		if (ports.n < 64) {
			ports.port[ports.n] = port;
			ports.data[ports.n++] = v;
		}
	} else {
		v = (port & 0xff) + ports.reads++;
		memcpy(data, &v, size);
	}
	return 0;
}

static const struct emu_mem_ops fake_ops = {
	.pio = fake_pio,
	.read_phys = fake_read,
	.write_phys = fake_write,
	.cmpxchg_phys = fake_cmpxchg,
};

/* Guest layout for the long-mode tests. */
#define PML4	0x1000ULL
#define PDPT	0x2000ULL
#define PD	0x3000ULL
#define PT	0x4000ULL
#define VA_NP	0x21000ULL	/* not present */
#define VA_RO	0x22000ULL	/* read-only */
#define VA_USER	0x23000ULL	/* user page */
#define VA_MMIO	0x24000ULL	/* -> MMIO_BASE */
#define DATA	0x30000ULL

static struct fake fake;
static struct emu_cpu cpu;

static void put64(uint64_t gpa, uint64_t v)
{
	memcpy(fake.ram + gpa, &v, 8);
}

static uint64_t get64(uint64_t gpa)
{
	uint64_t v;

	memcpy(&v, fake.ram + gpa, 8);
	return v;
}

static uint32_t get32(uint64_t gpa)
{
	uint32_t v;

	memcpy(&v, fake.ram + gpa, 4);
	return v;
}

/*
 * 64-bit mode, 4-level paging: 0-2 MiB in 4 KiB pages, 2-4 MiB one 2 MiB
 * page.  Accessed and dirty bits are preset so that the only cmpxchg_phys
 * calls are the instructions' own (test_mmu.c covers A/D updates).
 */
#define A_D 0x60
static void setup_long(void)
{
	memset(fake.ram, 0, RAM_SIZE);
	fake.cmpxchgs = fake.writes = fake.nmmio = 0;
	put64(PML4, PDPT | 0x27);
	put64(PDPT, PD | 0x27);
	put64(PD, PT | 0x27);
	put64(PD + 8, 0x200000 | 0x83 | A_D);
	for (uint64_t i = 0; i < 512; i++)
		put64(PT + 8 * i, (i << 12) | 0x3 | A_D);
	put64(PT + 8 * (VA_NP >> 12), 0);
	put64(PT + 8 * (VA_RO >> 12), VA_RO | 0x1 | A_D);
	put64(PT + 8 * (VA_USER >> 12), VA_USER | 0x7 | A_D);
	put64(PT + 8 * (VA_MMIO >> 12), MMIO_BASE | 0x3 | A_D);

	memset(&cpu, 0, sizeof(cpu));
	cpu.cr0 = 0x80010001;		/* PG WP PE */
	cpu.cr3 = PML4;
	cpu.cr4 = 0x20;			/* PAE */
	cpu.efer = 0xd00;		/* NXE LMA LME */
	cpu.cs_l = true;
	cpu.rip = 0x10000;
	cpu.rflags = 0x2;
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

static uint8_t code[32];

static size_t hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		char *end;
		unsigned long v = strtoul(s, &end, 16);

		if (end == s)
			break;
		out[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

/* Decodes hex in the cpu's current mode and executes it. */
static struct emu_result run(const char *s)
{
	struct emu_insn in;
	struct emu_result res;
	size_t n = hex(s, code, sizeof(code));

	assert_int_equal(emu_decode(code, n, emu_cpu_mode(&cpu), &in), 0);
	assert_int_equal(in.len, n);
	assert_int_equal(emu_execute(&cpu, &in, &fake_ops, &fake, &res), 0);
	return res;
}

static void assert_exception(struct emu_result res, uint8_t vector, bool has_ec, uint32_t ec)
{
	assert_int_equal(res.status, EMU_EXCEPTION);
	assert_int_equal(res.exc.vector, vector);
	assert_int_equal(res.exc.has_error_code, has_ec);
	if (has_ec)
		assert_int_equal(res.exc.error_code, ec);
}

/* ---- int3, fwait, clac/stac ------------------------------------- */

static void test_int3(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.rflags |= RF;
	res = run("cc");
	assert_exception(res, 3, false, 0);
	assert_true(res.exc.soft);
	assert_false(res.exc.has_cr2);
	assert_int_equal(cpu.rip, 0x10001);	/* trap: RIP past the int3 */
	assert_false(cpu.rflags & RF);
}

static void test_fwait(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	res = run("9b");
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.rip, 0x10001);
	cpu.cr0 |= 0x8;				/* TS alone: no fault for wait */
	assert_int_equal(run("9b").status, EMU_DONE);
	cpu.cr0 |= 0x2;				/* MP and TS: #NM */
	res = run("9b");
	assert_exception(res, 7, false, 0);
	assert_int_equal(cpu.rip, 0x10002);
	cpu.cr0 &= ~0xaULL;
	assert_exception(run("f0 9b"), 6, false, 0);	/* lock: #UD */
	assert_exception(run("f0 cc"), 6, false, 0);
	assert_int_equal(cpu.rip, 0x10002);
}

static void test_clac_stac(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.rflags = 0x2 | AC | ZF;
	res = run("0f 01 ca");
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.rflags, 0x2 | ZF);
	assert_int_equal(cpu.rip, 0x10003);
	res = run("0f 01 cb");
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.rflags, 0x2 | ZF | AC);
	assert_int_equal(cpu.rip, 0x10006);

	/* #UD at CPL 3 and with LOCK; nothing changes */
	cpu.cpl = 3;
	assert_exception(run("0f 01 ca"), 6, false, 0);
	assert_true(cpu.rflags & AC);
	cpu.cpl = 0;
	assert_exception(run("f0 0f 01 ca"), 6, false, 0);
	assert_int_equal(cpu.rip, 0x10006);

	/* 32-bit code: RIP wraps at 4 GiB */
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.rip = 0xfffffffe;
	assert_int_equal(run("0f 01 ca").status, EMU_DONE);
	assert_int_equal(cpu.rip, 1);
	assert_false(cpu.rflags & AC);
}

/* ---- popcnt ------------------------------------------------------ */

static void test_popcnt_reg(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.rflags = 0x2 | ARITH;
	cpu.gpr[EMU_RCX] = 0xff00ff00ff00ffULL;
	cpu.gpr[EMU_RAX] = ~0ULL;
	res = run("f3 48 0f b8 c1");		/* popcnt rax, rcx */
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.gpr[EMU_RAX], 32);
	assert_int_equal(cpu.rflags, 0x2);	/* OF SF ZF AF CF PF cleared */
	assert_int_equal(cpu.rip, 0x10005);

	cpu.gpr[EMU_RCX] = 0xffffffff00000000ULL;
	cpu.rflags = 0x2 | CF | SF;
	run("f3 0f b8 c1");			/* popcnt eax, ecx: source 0 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0);
	assert_int_equal(cpu.rflags, 0x2 | ZF);

	cpu.gpr[EMU_RAX] = 0x1111111111111111ULL;
	cpu.gpr[EMU_RCX] = 0x12345678000f000fULL;
	run("f3 0f b8 c1");			/* 32-bit result zero-extends */
	assert_int_equal(cpu.gpr[EMU_RAX], 8);

	cpu.gpr[EMU_RAX] = 0x1111111111111111ULL;
	run("66 f3 0f b8 c1");			/* 16-bit: upper bits kept */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x1111111111110004ULL);
	assert_false(cpu.rflags & ZF);

	cpu.gpr[EMU_R9] = 7;
	run("f3 4d 0f b8 c1");			/* popcnt r8, r9 */
	assert_int_equal(cpu.gpr[EMU_R8], 3);
}

static void test_popcnt_mem(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	put64(DATA + 8, 0x8000000000000001ULL);
	cpu.gpr[EMU_RDI] = DATA;
	res = run("f3 48 0f b8 47 08");		/* popcnt rax, [rdi+8] */
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.gpr[EMU_RAX], 2);

	/* RIP-relative: next RIP 0x10008 + 0x1ff8 = 0x12000 */
	put64(0x12000, 0xf);
	cpu.rip = 0xffff;
	run("f3 48 0f b8 05 f8 1f 00 00");
	assert_int_equal(cpu.gpr[EMU_RAX], 4);

	/* not-present page: #PF, CR2, registers untouched */
	cpu.gpr[EMU_RDI] = VA_NP + 0x10;
	cpu.gpr[EMU_RAX] = 99;
	res = run("f3 48 0f b8 07");
	assert_exception(res, 14, true, 0);
	assert_true(res.exc.has_cr2);
	assert_int_equal(res.exc.cr2, VA_NP + 0x10);
	assert_int_equal(cpu.gpr[EMU_RAX], 99);

	assert_exception(run("f0 f3 48 0f b8 c1"), 6, false, 0);	/* lock: #UD */
	assert_int_equal(run("48 0f b8 c1").status, EMU_UNSUPPORTED);	/* jmpe */
}

/* ---- cmpxchg8b / cmpxchg16b ---------------------------------------- */

static void test_cmpxchg16b(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	put64(DATA, 0x1111);
	put64(DATA + 8, 0x2222);
	cpu.gpr[EMU_RSI] = DATA - 8;
	cpu.gpr[EMU_RAX] = 0x1111;
	cpu.gpr[EMU_RDX] = 0x2222;
	cpu.gpr[EMU_RBX] = 0x3333;
	cpu.gpr[EMU_RCX] = 0x4444;
	cpu.rflags = 0x2;
	res = run("f0 48 0f c7 4e 08");		/* lock cmpxchg16b [rsi+8]: equal */
	assert_int_equal(res.status, EMU_DONE);
	assert_true(cpu.rflags & ZF);
	assert_int_equal(get64(DATA), 0x3333);
	assert_int_equal(get64(DATA + 8), 0x4444);
	assert_int_equal(cpu.gpr[EMU_RAX], 0x1111);
	assert_int_equal(cpu.gpr[EMU_RDX], 0x2222);
	assert_int_equal(fake.cmpxchgs, 1);	/* one atomic 16-byte op */
	assert_int_equal(cpu.rip, 0x10006);

	cpu.rflags = 0x2 | ZF | CF;
	res = run("f0 48 0f c7 4e 08");		/* not equal now: load */
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.rflags, 0x2 | CF);	/* only ZF changes */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x3333);
	assert_int_equal(cpu.gpr[EMU_RDX], 0x4444);
	assert_int_equal(get64(DATA), 0x3333);
	assert_int_equal(get64(DATA + 8), 0x4444);
}

static void test_cmpxchg16b_faults(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.gpr[EMU_RDI] = DATA + 8;
	assert_exception(run("f0 48 0f c7 0f"), 13, true, 0);	/* misaligned: #GP(0) */
	assert_exception(run("f0 48 0f c7 c8"), 6, false, 0);	/* register: #UD */

	/* read-only page: #PF W|P even though the comparison fails */
	cpu.gpr[EMU_RDI] = VA_RO;
	cpu.gpr[EMU_RAX] = 1;
	res = run("f0 48 0f c7 0f");
	assert_exception(res, 14, true, 0x3);
	assert_int_equal(res.exc.cr2, VA_RO);
	assert_int_equal(cpu.gpr[EMU_RAX], 1);
	assert_int_equal(cpu.rip, 0x10000);

	/* non-canonical: #GP(0); through RSP: #SS(0) */
	cpu.gpr[EMU_RDI] = 0x0000800000000000ULL;
	assert_exception(run("f0 48 0f c7 0f"), 13, true, 0);
	cpu.gpr[EMU_RSP] = 0x0000800000000000ULL;
	assert_exception(run("f0 48 0f c7 0c 24"), 12, true, 0);
}

static void test_cmpxchg8b(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	put64(DATA, 0x2222222211111111ULL);
	cpu.gpr[EMU_RDI] = DATA;
	cpu.gpr[EMU_RAX] = 0xaaaaaaaa11111111ULL;	/* upper halves ignored */
	cpu.gpr[EMU_RDX] = 0xbbbbbbbb22222222ULL;
	cpu.gpr[EMU_RBX] = 0x33333333;
	cpu.gpr[EMU_RCX] = 0x44444444;
	res = run("f0 0f c7 0f");
	assert_int_equal(res.status, EMU_DONE);
	assert_true(cpu.rflags & ZF);
	assert_int_equal(get64(DATA), 0x4444444433333333ULL);
	assert_int_equal(cpu.gpr[EMU_RAX], 0xaaaaaaaa11111111ULL);	/* untouched on success */

	res = run("f0 0f c7 0f");			/* fails: EDX:EAX loaded, zero-extended */
	assert_false(cpu.rflags & ZF);
	assert_int_equal(cpu.gpr[EMU_RAX], 0x33333333);
	assert_int_equal(cpu.gpr[EMU_RDX], 0x44444444);

	/* straddling two pages: still correct (not one host atomic) */
	put64(0x40ffc, 0x5555555566666666ULL);
	cpu.gpr[EMU_RDI] = 0x40ffc;
	cpu.gpr[EMU_RAX] = 0x66666666;
	cpu.gpr[EMU_RDX] = 0x55555555;
	res = run("0f c7 0f");
	assert_int_equal(res.status, EMU_DONE);
	assert_true(cpu.rflags & ZF);
	assert_int_equal(get64(0x40ffc), 0x4444444433333333ULL);

	/* 32-bit protected mode without paging */
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.cr0 = 0x1;
	cpu.efer = 0;
	cpu.cr4 = 0;
	cpu.seg_base[EMU_SEG_DS] = 0x100000;
	put64(0x100010, 7);
	cpu.gpr[EMU_RDI] = 0x10;
	cpu.gpr[EMU_RAX] = 7;
	cpu.gpr[EMU_RDX] = 0;
	cpu.rip = 0x1000;
	res = run("0f c7 0f");
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(get64(0x100010), 0x4444444433333333ULL);
}

/* ---- MOV ----------------------------------------------------------- */

static void test_mov_store(void **state)
{
	(void)state;
	setup_long();
	cpu.gpr[EMU_RAX] = 0x1122334455667788ULL;
	cpu.gpr[EMU_RDI] = DATA;
	cpu.gpr[EMU_RSP] = DATA + 0x100;
	put64(DATA, ~0ULL);
	assert_int_equal(run("89 07").status, EMU_DONE);		/* mov [rdi], eax */
	assert_int_equal(get64(DATA), 0xffffffff55667788ULL);
	assert_int_equal(cpu.rip, 0x10002);
	run("48 89 44 24 08");					/* mov [rsp+8], rax */
	assert_int_equal(get64(DATA + 0x108), 0x1122334455667788ULL);
	run("88 27");						/* mov [rdi], ah */
	assert_int_equal(fake.ram[DATA], 0x77);
	cpu.gpr[EMU_RSP] = 0x99;
	run("40 88 27");					/* with REX: spl */
	assert_int_equal(fake.ram[DATA], 0x99);
	run("66 89 47 10");					/* mov [rdi+16], ax */
	assert_int_equal(get64(DATA + 16), 0x7788);
	run("c6 47 20 ab");					/* mov byte [rdi+32], 0xab */
	assert_int_equal(fake.ram[DATA + 32], 0xab);
	run("c7 47 28 78 56 34 12");				/* mov dword [rdi+40], imm */
	assert_int_equal(get64(DATA + 40), 0x12345678);
	run("48 c7 47 30 fe ff ff ff");				/* imm32 sign-extended */
	assert_int_equal(get64(DATA + 48), 0xfffffffffffffffeULL);
	run("66 c7 47 38 34 12");
	assert_int_equal(get64(DATA + 56), 0x1234);
	/* RIP-relative: next RIP 0x10026 + 0xffda = 0x20000 */
	cpu.rip = 0x10020;
	run("89 05 da ff 00 00");
	assert_int_equal(get32(0x20000), 0x55667788);
	run("48 a3 00 01 03 00 00 00 00 00");			/* mov [0x30100], rax */
	assert_int_equal(get64(0x30100), 0x1122334455667788ULL);
	run("a2 08 01 03 00 00 00 00 00");			/* mov [0x30108], al */
	assert_int_equal(fake.ram[0x30108], 0x88);
}

static void test_mov_load(void **state)
{
	(void)state;
	setup_long();
	put64(DATA, 0x80c0e0f011223344ULL);
	cpu.gpr[EMU_RBX] = DATA - 0x40;
	cpu.gpr[EMU_RCX] = 0x10;
	cpu.gpr[EMU_RAX] = ~0ULL;
	run("8b 44 8b 00");			/* mov eax, [rbx+rcx*4+0] */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x11223344);
	cpu.gpr[EMU_RAX] = ~0ULL;
	run("8a 44 8b 01");			/* mov al, [...+1] */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffffffffffffff33ULL);
	run("8a 64 8b 02");			/* mov ah, [...+2] */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffffffffffff2233ULL);
	run("66 8b 44 8b 04");			/* mov ax: upper kept */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffffffffffffe0f0ULL);
	run("4c 8b 44 8b 00");			/* mov r8, [...] */
	assert_int_equal(cpu.gpr[EMU_R8], 0x80c0e0f011223344ULL);
	run("0f b6 44 8b 07");			/* movzx eax, byte 0x80 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x80);
	run("48 0f be 44 8b 07");		/* movsx rax, byte 0x80 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffffffffffffff80ULL);
	run("0f bf 44 8b 06");			/* movsx eax, word 0x80c0 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffff80c0ULL);
	run("0f b7 44 8b 06");			/* movzx eax, word */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x80c0);
	cpu.gpr[EMU_RAX] = 0x1234567800000000ULL;
	run("66 0f be 44 8b 07");		/* movsx ax, byte */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x123456780000ff80ULL);
	run("a1 00 00 03 00 00 00 00 00");	/* mov eax, [moffs64] */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x11223344);
	run("67 a0 07 00 03 00");		/* mov al, [moffs32] */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x11223380);
	cpu.gpr[EMU_RDX] = 5;
	run("89 d1");				/* register form: mov ecx, edx */
	assert_int_equal(cpu.gpr[EMU_RCX], 5);
	/* fs: segment base */
	cpu.seg_base[EMU_SEG_FS] = DATA - 0x28;
	run("64 48 8b 04 25 28 00 00 00");
	assert_int_equal(cpu.gpr[EMU_RAX], 0x80c0e0f011223344ULL);
	/* ds/es bases are ignored in 64-bit mode */
	cpu.seg_base[EMU_SEG_DS] = 0x1000;
	cpu.gpr[EMU_RDI] = DATA;
	run("8b 07");
	assert_int_equal(cpu.gpr[EMU_RAX], 0x11223344);
}

static void test_mov_mmio(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.gpr[EMU_RDI] = VA_MMIO + 0x10;
	cpu.gpr[EMU_RAX] = 0xdeadbeefcafef00dULL;
	res = run("89 07");
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(fake.nmmio, 1);
	assert_int_equal(fake.mmio[0].gpa, MMIO_BASE + 0x10);
	assert_int_equal(fake.mmio[0].len, 4);
	assert_memory_equal(fake.mmio[0].data, "\x0d\xf0\xfe\xca", 4);
	run("66 c7 47 02 34 12");
	assert_int_equal(fake.mmio[1].gpa, MMIO_BASE + 0x12);
	assert_int_equal(fake.mmio[1].len, 2);
	run("8b 47 04");			/* read: the fake returns a0 a1 a2 a3 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xa3a2a1a0);
	run("0f b6 07");
	assert_int_equal(cpu.gpr[EMU_RAX], 0xa0);
}

static void test_mov_faults(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.gpr[EMU_RAX] = 0x1122334455667788ULL;
	/* write crossing into a not-present page: #PF at its start, nothing stored */
	cpu.gpr[EMU_RDI] = VA_NP - 4;
	put64(VA_NP - 8, 0);
	res = run("48 89 07");
	assert_exception(res, 14, true, 0x2);
	assert_int_equal(res.exc.cr2, VA_NP);
	assert_int_equal(get64(VA_NP - 8), 0);
	assert_int_equal(cpu.rip, 0x10000);
	/* write crossing into a present page: split in two */
	cpu.gpr[EMU_RDI] = 0x40ffc;
	fake.writes = 0;
	run("48 89 07");
	assert_int_equal(fake.writes, 2);
	assert_int_equal(get64(0x40ffc), 0x1122334455667788ULL);
	/* read-only page with CR0.WP: #PF P|W; without WP the write goes in */
	cpu.gpr[EMU_RDI] = VA_RO;
	assert_exception(run("89 07"), 14, true, 0x3);
	cpu.cr0 &= ~(1ULL << 16);
	assert_int_equal(run("89 07").status, EMU_DONE);
	assert_int_equal(get32(VA_RO), 0x55667788);
	/* CPL 3 on a supervisor page: P|U; write: P|W|U */
	cpu.cpl = 3;
	cpu.gpr[EMU_RDI] = DATA;
	assert_exception(run("8b 07"), 14, true, 0x5);
	assert_exception(run("89 07"), 14, true, 0x7);
	cpu.gpr[EMU_RDI] = VA_USER;
	assert_int_equal(run("89 07").status, EMU_DONE);
	cpu.cpl = 0;
	/* non-canonical */
	cpu.gpr[EMU_RDI] = 0xffff000000000000ULL;
	assert_exception(run("8b 07"), 13, true, 0);
	cpu.gpr[EMU_RBP] = 0x8000000000000000ULL;
	assert_exception(run("8b 45 00"), 12, true, 0);
	/* ends beyond the canonical range */
	cpu.gpr[EMU_RDI] = 0x00007ffffffffffcULL;
	assert_exception(run("48 8b 07"), 13, true, 0);
	/* lock mov: #UD */
	assert_exception(run("f0 89 07"), 6, false, 0);
	/* guest memory the VMM cannot reach: the callback's error comes back */
	{
		struct emu_insn in;
		size_t n = hex("8b 07", code, sizeof(code));

		cpu.gpr[EMU_RDI] = 0x300000;
		put64(PD + 8, 0x40000000ULL | 0x83);	/* 2 MiB page outside RAM */
		assert_int_equal(emu_decode(code, n, EMU_MODE_LONG64, &in), 0);
		assert_int_equal(emu_execute(&cpu, &in, &fake_ops, &fake, &res), -ERANGE);
	}
}

static void test_mov_legacy_modes(void **state)
{
	(void)state;
	setup_long();
	/* 32-bit protected mode, no paging, DS base, address wrap at 4 GiB */
	cpu.cs_l = false;
	cpu.cs_db = true;
	cpu.cr0 = 0x1;
	cpu.cr4 = 0;
	cpu.efer = 0;
	cpu.rip = 0x1000;
	cpu.seg_base[EMU_SEG_DS] = 0x100000;
	cpu.seg_base[EMU_SEG_ES] = 0x200000;
	put64(0x100008, 0xabcdef01);
	cpu.gpr[EMU_RBX] = 0xfffffffc;		/* ebx + 12 wraps to 8 */
	run("8b 43 0c");
	assert_int_equal(cpu.gpr[EMU_RAX], 0xabcdef01);
	assert_int_equal(cpu.rip, 0x1003);
	cpu.gpr[EMU_RDI] = 0x10;
	run("26 89 07");			/* es: override */
	assert_int_equal(get32(0x200010), 0xabcdef01);
	run("66 a3 20 00 00 00");		/* mov [ds:0x20], ax */
	assert_int_equal(get64(0x100020), 0xef01);

	/* real mode: 16-bit addressing, SS default for BP, 64 KiB wrap */
	cpu.cr0 = 0;
	cpu.cs_db = false;
	cpu.rip = 0x100;
	cpu.seg_base[EMU_SEG_SS] = 0x20000;
	cpu.gpr[EMU_RBP] = 0x10;
	put64(0x20012, 0x4242);
	run("8b 46 02");			/* mov ax, [bp+2] */
	assert_int_equal(cpu.gpr[EMU_RAX] & 0xffff, 0x4242);
	assert_int_equal(cpu.rip, 0x103);
	cpu.gpr[EMU_RBP] = 0xffff;		/* bp + 3 wraps to 2 */
	put64(0x20002, 0x5151);
	run("8b 46 03");
	assert_int_equal(cpu.gpr[EMU_RAX] & 0xffff, 0x5151);
	cpu.gpr[EMU_RBX] = 0x10;
	cpu.gpr[EMU_RSI] = 0x20;
	cpu.gpr[EMU_RAX] = 0x77;
	run("88 40 05");			/* mov [bx+si+5], al */
	assert_int_equal(fake.ram[0x100035], 0x77);
	cpu.rip = 0xfffe;			/* IP wraps at 64 KiB */
	run("88 40 05");
	assert_int_equal(cpu.rip, 1);
}

/* ---- integer ALU (alu.c; its flags are proven in test_emulate_alu.c) ---- */

static void test_alu_forms(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	cpu.gpr[EMU_RAX] = 0xffffffff00000005ULL;
	cpu.gpr[EMU_RCX] = 3;
	res = run("01 c8");				/* add eax, ecx: 32-bit result zero-extends */
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.gpr[EMU_RAX], 8);
	assert_int_equal(cpu.rip, 0x10002);
	assert_int_equal(cpu.rflags & ARITH, 0);

	run("48 83 c0 f8");				/* add rax, -8 (imm8 sign-extended) */
	assert_int_equal(cpu.gpr[EMU_RAX], 0);
	assert_int_equal(cpu.rflags & ARITH, ZF | PF | CF | AF);

	cpu.gpr[EMU_RAX] = 0x1234;			/* ah = 0x12 */
	cpu.gpr[EMU_RBX] = 0xf0;
	run("00 e3");					/* add bl, ah (no REX: register 4 is AH) */
	assert_int_equal(cpu.gpr[EMU_RBX], 0x02);
	assert_true(cpu.rflags & CF);
	cpu.gpr[EMU_RSP] = 0x10;
	run("40 00 e3");				/* with REX, register 4 is SPL */
	assert_int_equal(cpu.gpr[EMU_RBX], 0x12);

	cpu.gpr[EMU_RAX] = 5;
	run("3d 05 00 00 00");				/* cmp eax, 5: flags only */
	assert_int_equal(cpu.gpr[EMU_RAX], 5);
	assert_true(cpu.rflags & ZF);
	run("a8 80");					/* test al, 0x80 */
	assert_true(cpu.rflags & ZF);
	assert_false(cpu.rflags & (CF | OF));

	cpu.gpr[EMU_RDX] = 0x7f;
	cpu.rflags = 0x2 | CF;
	run("fe c2");					/* inc dl: OF, CF kept */
	assert_int_equal(cpu.gpr[EMU_RDX], 0x80);
	assert_int_equal(cpu.rflags & ARITH, OF | SF | AF | CF);
	run("f7 d2");					/* not edx: no flags */
	assert_int_equal(cpu.gpr[EMU_RDX], 0xffffff7f);
	assert_int_equal(cpu.rflags & ARITH, OF | SF | AF | CF);
	run("66 f7 da");				/* neg dx */
	assert_int_equal(cpu.gpr[EMU_RDX], 0xffff0081);

	cpu.gpr[EMU_RAX] = 1;
	cpu.gpr[EMU_RCX] = 2;
	cpu.rflags = 0x2 | CF;
	run("13 c1");					/* adc eax, ecx */
	assert_int_equal(cpu.gpr[EMU_RAX], 4);
	run("4d 19 c0");				/* sbb r8, r8 with CF clear: 0 */
	assert_int_equal(cpu.gpr[EMU_R8], 0);

	/* Not an ALU form, or one not done yet: unsupported, nothing changed. */
	assert_int_equal(run("27").status, EMU_UNSUPPORTED);		/* daa: #UD in 64-bit */
	assert_exception(run("fe d0"), 6, false, 0);			/* fe /2 */
}

static void test_alu_memory(void **state)
{
	struct emu_result res;

	(void)state;
	setup_long();
	put64(DATA, 0x1111111111111111ULL);
	cpu.gpr[EMU_RDI] = DATA;
	res = run("80 2f 12");				/* sub byte [rdi], 0x12 */
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(get64(DATA), 0x11111111111111ffULL);
	assert_true(cpu.rflags & CF);

	cpu.gpr[EMU_RCX] = 1;
	unsigned before = fake.cmpxchgs;
	run("f0 48 01 4f 08");				/* lock add [rdi+8], rcx */
	assert_int_equal(get64(DATA + 8), 1);
	assert_true(fake.cmpxchgs > before);		/* one compare-exchange on RAM */
	put64(DATA + 16, 0x00ff00ff00ff00ffULL);
	run("f0 66 f7 5f 12");				/* lock neg word [rdi+18]: inside the qword */
	assert_int_equal(get64(DATA + 16), 0x00ff00ffff0100ffULL);
	run("f6 17");					/* not byte [rdi] */
	assert_int_equal(fake.ram[DATA], 0x00);

	/* LOCK without a memory destination, or on CMP/TEST: #UD, nothing written. */
	assert_exception(run("f0 01 c8"), 6, false, 0);
	assert_exception(run("f0 39 0f"), 6, false, 0);
	assert_exception(run("f0 85 0f"), 6, false, 0);

	/* A read-only page: #PF with the write bit, memory and flags untouched. */
	cpu.gpr[EMU_RDI] = VA_RO;
	fake.ram[VA_RO] = 0x40;
	cpu.rflags = 0x2;
	uint64_t rip = cpu.rip;
	res = run("00 0f");				/* add [rdi], cl */
	assert_exception(res, 14, true, 0x3);
	assert_int_equal(fake.ram[VA_RO], 0x40);
	assert_int_equal(cpu.rflags, 0x2);
	assert_int_equal(cpu.rip, rip);
	res = run("f0 00 0f");				/* the locked path faults the same way */
	assert_exception(res, 14, true, 0x3);

	/* CMP reads a read-only page happily. */
	cpu.gpr[EMU_RCX] = 0x40;
	assert_int_equal(run("38 0f").status, EMU_DONE);
	assert_true(cpu.rflags & ZF);

	/* MMIO destination: a read and a write on the bus, no compare-exchange. */
	cpu.gpr[EMU_RDI] = VA_MMIO;
	unsigned nmmio = fake.nmmio;
	rip = cpu.rip;
	assert_int_equal(run("f0 83 07 01").status, EMU_DONE);	/* lock add dword [rdi], 1 */
	assert_int_equal(fake.nmmio, nmmio + 1);
	assert_int_equal(fake.mmio[nmmio].gpa, MMIO_BASE);
	assert_int_equal(fake.mmio[nmmio].len, 4);
	assert_int_equal(cpu.rip, rip + 4);
}

static void test_alu_legacy_incdec(void **state)
{
	(void)state;
	setup_long();
	cpu.cs_l = false;				/* 32-bit protected mode */
	cpu.cs_db = true;
	cpu.cr0 = 0x1;
	cpu.cr4 = 0;
	cpu.efer = 0;
	cpu.rip = 0x1000;
	cpu.gpr[EMU_RAX] = 0xffffffff;
	cpu.gpr[EMU_RDI] = 0;
	run("40");					/* inc eax */
	assert_int_equal(cpu.gpr[EMU_RAX], 0);
	assert_true(cpu.rflags & ZF);
	run("4f");					/* dec edi */
	assert_int_equal(cpu.gpr[EMU_RDI], 0xffffffff);
	assert_int_equal(cpu.rip, 0x1002);
	run("66 47");					/* inc di */
	assert_int_equal(cpu.gpr[EMU_RDI], 0xffff0000);
}

static void test_shift_forms(void **state)
{
	(void)state;
	setup_long();
	cpu.gpr[EMU_RAX] = 0x81;
	cpu.rflags = 0x2;
	assert_int_equal(run("d0 e0").status, EMU_DONE);	/* shl al, 1 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x02);
	assert_true(cpu.rflags & CF);
	assert_true(cpu.rflags & OF);				/* MSB(result) ^ CF */

	cpu.gpr[EMU_RAX] = 0x8000000000000000ULL;
	run("48 c1 f8 3f");					/* sar rax, 63 */
	assert_int_equal(cpu.gpr[EMU_RAX], ~0ULL);

	cpu.gpr[EMU_RCX] = 0x100 | 36;				/* cl = 36: masked to 4 for 32 bits */
	cpu.gpr[EMU_RDX] = 0xffffffff12345678ULL;
	run("d3 c2");						/* rol edx, cl */
	assert_int_equal(cpu.gpr[EMU_RDX], 0x23456781);

	/* A masked count of 0 changes nothing, not even the flags. */
	cpu.rflags = 0x2 | CF | ZF;
	cpu.gpr[EMU_RCX] = 32;
	uint64_t rip = cpu.rip;
	run("d3 e2");						/* shl edx, cl (32 & 31 = 0) */
	assert_int_equal(cpu.gpr[EMU_RDX], 0x23456781);		/* not even zero-extended again */
	assert_int_equal(cpu.rflags, 0x2 | CF | ZF);
	assert_int_equal(cpu.rip, rip + 2);

	/* Memory operand, rotate through carry of a byte (modulo 9). */
	fake.ram[DATA] = 0x01;
	cpu.gpr[EMU_RDI] = DATA;
	cpu.rflags = 0x2 | CF;
	run("c0 17 09");					/* rcl byte [rdi], 9: a full turn */
	assert_int_equal(fake.ram[DATA], 0x01);
	assert_true(cpu.rflags & CF);

	assert_exception(run("f0 d1 27"), 6, false, 0);		/* lock shl: #UD */
}

static void test_muldiv_forms(void **state)
{
	(void)state;
	setup_long();
	cpu.gpr[EMU_RAX] = 0xffffffff;
	cpu.gpr[EMU_RCX] = 0x10;
	cpu.gpr[EMU_RDX] = 0x1234;
	assert_int_equal(run("f7 e1").status, EMU_DONE);	/* mul ecx */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xfffffff0);
	assert_int_equal(cpu.gpr[EMU_RDX], 0xf);
	assert_true(cpu.rflags & CF);

	cpu.gpr[EMU_RAX] = 0x1234567;				/* ax = 0x4567 */
	cpu.gpr[EMU_RCX] = 0x100;				/* cl = 0: divide by zero */
	uint64_t rip = cpu.rip;
	assert_exception(run("f6 f1"), 0, false, 0);		/* div cl: #DE */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x1234567);
	assert_int_equal(cpu.rip, rip);
	cpu.gpr[EMU_RCX] = 0x10;				/* 0x4567 / 0x10 = 0x456: too big for AL */
	assert_exception(run("f6 f1"), 0, false, 0);
	cpu.gpr[EMU_RCX] = 0x80;
	run("f6 f1");						/* 0x4567 / 0x80 = 0x8a rem 0x67 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0x123678a);

	cpu.gpr[EMU_RAX] = (uint64_t)-100;
	cpu.gpr[EMU_RDX] = ~0ULL;
	cpu.gpr[EMU_RCX] = 7;
	run("48 f7 f9");					/* idiv rcx: -100 / 7 */
	assert_int_equal(cpu.gpr[EMU_RAX], (uint64_t)-14);
	assert_int_equal(cpu.gpr[EMU_RDX], (uint64_t)-2);

	cpu.gpr[EMU_RAX] = 6;
	cpu.gpr[EMU_RCX] = 7;
	run("0f af c1");					/* imul eax, ecx */
	assert_int_equal(cpu.gpr[EMU_RAX], 42);
	assert_false(cpu.rflags & (CF | OF));
	run("6b c1 fd");					/* imul eax, ecx, -3 */
	assert_int_equal(cpu.gpr[EMU_RAX], (uint32_t)-21);
	run("66 69 c1 00 40");					/* imul ax, cx, 0x4000: overflows */
	assert_true(cpu.rflags & CF);
	assert_true(cpu.rflags & OF);

	assert_exception(run("f0 f7 e1"), 6, false, 0);		/* lock mul: #UD */
}

static void test_bitops_forms(void **state)
{
	(void)state;
	setup_long();
	cpu.rflags = 0x2 | ZF;
	cpu.gpr[EMU_RAX] = 0xffff;
	assert_int_equal(run("0f 94 c0").status, EMU_DONE);	/* sete al */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xff01);
	run("0f 9f c0");					/* setg al: ZF set, so 0 */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xff00);

	cpu.gpr[EMU_RAX] = 0xffffffffffffffffULL;
	cpu.gpr[EMU_RCX] = 7;
	run("0f 45 c1");					/* cmovne eax, ecx: false, still zero-extends */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xffffffff);
	run("48 0f 44 c1");					/* cmove rax, rcx */
	assert_int_equal(cpu.gpr[EMU_RAX], 7);

	/* bt family on registers and on a bit string in memory (negative offsets too). */
	cpu.gpr[EMU_RDX] = 0x10;
	cpu.gpr[EMU_RCX] = 36;				/* masked to 4 for a 32-bit register */
	run("0f a3 ca");					/* bt edx, ecx */
	assert_true(cpu.rflags & CF);
	run("0f bb ca");					/* btc edx, ecx */
	assert_int_equal(cpu.gpr[EMU_RDX], 0);
	assert_true(cpu.rflags & CF);
	put64(DATA, 0);
	put64(DATA + 8, 0);
	cpu.gpr[EMU_RDI] = DATA + 8;
	cpu.gpr[EMU_RCX] = (uint64_t)-1;			/* bit 63 of the qword before */
	run("48 0f ab 0f");					/* bts [rdi], rcx */
	assert_int_equal(get64(DATA), 0x8000000000000000ULL);
	assert_false(cpu.rflags & CF);
	cpu.gpr[EMU_RCX] = 65;				/* bit 1 of the qword after */
	unsigned before = fake.cmpxchgs;
	run("f0 48 0f ab 0f");					/* lock bts [rdi], rcx */
	assert_int_equal(get64(DATA + 16), 2);
	assert_true(fake.cmpxchgs > before);
	run("0f ba 37 03");					/* btr dword [rdi], 3 */
	assert_false(cpu.rflags & CF);
	assert_exception(run("f0 0f a3 0f"), 6, false, 0);	/* lock bt: #UD */

	cpu.gpr[EMU_RCX] = 0x80;
	cpu.gpr[EMU_RAX] = 0x1234;
	run("0f bc c1");					/* bsf eax, ecx */
	assert_int_equal(cpu.gpr[EMU_RAX], 7);
	cpu.gpr[EMU_RCX] = 0;
	run("0f bd c1");					/* bsr eax, ecx of 0: destination kept */
	assert_int_equal(cpu.gpr[EMU_RAX], 7);
	assert_true(cpu.rflags & ZF);
	run("f3 0f bd c1");					/* lzcnt eax, ecx of 0: 32 */
	assert_int_equal(cpu.gpr[EMU_RAX], 32);
	assert_true(cpu.rflags & CF);
	cpu.gpr[EMU_RCX] = 0x100;
	run("66 f3 0f bc c1");					/* tzcnt ax, cx */
	assert_int_equal(cpu.gpr[EMU_RAX] & 0xffff, 8);
}

static void test_xchg_forms(void **state)
{
	(void)state;
	setup_long();
	put64(DATA, 0x1111111122222222ULL);
	cpu.gpr[EMU_RDI] = DATA;
	cpu.gpr[EMU_RCX] = 0x33;
	unsigned before = fake.cmpxchgs;
	assert_int_equal(run("87 0f").status, EMU_DONE);	/* xchg [rdi], ecx: always locked */
	assert_int_equal(get64(DATA), 0x1111111100000033ULL);
	assert_int_equal(cpu.gpr[EMU_RCX], 0x22222222);
	assert_true(fake.cmpxchgs > before);

	cpu.gpr[EMU_RAX] = 1;
	cpu.gpr[EMU_R8] = 2;
	run("41 90");						/* xchg r8, rax (not a nop) */
	assert_int_equal(cpu.gpr[EMU_RAX], 2);
	assert_int_equal(cpu.gpr[EMU_R8], 1);
	run("90");						/* nop */
	assert_int_equal(cpu.gpr[EMU_RAX], 2);

	cpu.gpr[EMU_RCX] = 5;
	run("f0 0f c1 0f");					/* lock xadd [rdi], ecx */
	assert_int_equal(get32(DATA), 0x38);
	assert_int_equal(cpu.gpr[EMU_RCX], 0x33);

	cpu.gpr[EMU_RAX] = 0x38;
	cpu.gpr[EMU_RCX] = 0x99;
	run("f0 0f b1 0f");					/* lock cmpxchg [rdi], ecx: equal */
	assert_int_equal(get32(DATA), 0x99);
	assert_true(cpu.rflags & ZF);
	run("0f b1 0f");					/* again: not equal, eax reloaded */
	assert_int_equal(get32(DATA), 0x99);
	assert_int_equal(cpu.gpr[EMU_RAX], 0x99);
	assert_false(cpu.rflags & ZF);

	cpu.gpr[EMU_RSI] = 0xfffffffff0000000ULL;
	run("48 63 c6");					/* movsxd rax, esi */
	assert_int_equal(cpu.gpr[EMU_RAX], 0xfffffffff0000000ULL);
	assert_exception(run("f0 87 c8"), 6, false, 0);		/* lock xchg of registers: #UD */
}

static void test_stack_forms(void **state)
{
	(void)state;
	setup_long();
	cpu.gpr[EMU_RSP] = DATA + 0x100;
	cpu.gpr[EMU_RBX] = 0x1122334455667788ULL;
	assert_int_equal(run("53").status, EMU_DONE);		/* push rbx: 64-bit by default */
	assert_int_equal(cpu.gpr[EMU_RSP], DATA + 0xf8);
	assert_int_equal(get64(DATA + 0xf8), 0x1122334455667788ULL);
	run("41 59");						/* pop r9 */
	assert_int_equal(cpu.gpr[EMU_R9], 0x1122334455667788ULL);
	assert_int_equal(cpu.gpr[EMU_RSP], DATA + 0x100);
	run("66 6a ff");					/* push word -1 */
	assert_int_equal(cpu.gpr[EMU_RSP], DATA + 0xfe);
	run("66 58");						/* pop ax */
	assert_int_equal(cpu.gpr[EMU_RAX] & 0xffff, 0xffff);

	cpu.rip = 0x10000;
	run("e8 10 00 00 00");					/* call +0x10 */
	assert_int_equal(cpu.rip, 0x10015);
	assert_int_equal(get64(cpu.gpr[EMU_RSP]), 0x10005);
	run("c3");						/* ret */
	assert_int_equal(cpu.rip, 0x10005);
	assert_int_equal(cpu.gpr[EMU_RSP], DATA + 0x100);

	cpu.rflags = 0x2 | ZF;
	cpu.rip = 0x10000;
	run("74 fe");						/* je $ (to itself) */
	assert_int_equal(cpu.rip, 0x10000);
	run("0f 85 00 01 00 00");				/* jne: not taken */
	assert_int_equal(cpu.rip, 0x10006);
	cpu.gpr[EMU_RCX] = 2;
	run("e2 f0");						/* loop: rcx 1, taken */
	assert_int_equal(cpu.gpr[EMU_RCX], 1);
	assert_int_equal(cpu.rip, 0x10008 - 0x10);
	run("e2 f0");						/* rcx 0: falls through */
	assert_int_equal(cpu.gpr[EMU_RCX], 0);
	assert_int_equal(cpu.rip, 0x10008 - 0x10 + 2);

	cpu.gpr[EMU_RAX] = 0x20000;
	run("ff e0");						/* jmp rax */
	assert_int_equal(cpu.rip, 0x20000);
	cpu.gpr[EMU_RAX] = 0x8000000000000000ULL;		/* not canonical: #GP, nothing moved */
	uint64_t rsp = cpu.gpr[EMU_RSP];
	assert_exception(run("ff d0"), 13, true, 0);		/* call rax */
	assert_int_equal(cpu.rip, 0x20000);
	assert_int_equal(cpu.gpr[EMU_RSP], rsp);

	/* A push to a read-only page faults with RSP unchanged. */
	cpu.gpr[EMU_RSP] = VA_RO + 0x10;
	assert_exception(run("50"), 14, true, 0x3);
	assert_int_equal(cpu.gpr[EMU_RSP], VA_RO + 0x10);

	assert_int_equal(run("66 eb 00").status, EMU_UNSUPPORTED);	/* 66 jmp: vendors differ */

	/* 16-bit real mode: SP wraps, IP is masked to 16 bits. */
	cpu.cs_l = false;
	cpu.cr0 = 0;
	cpu.cr4 = 0;
	cpu.efer = 0;
	cpu.rip = 0x100;
	cpu.seg_base[EMU_SEG_SS] = 0x20000;
	cpu.gpr[EMU_RSP] = 0x0001;
	cpu.gpr[EMU_RAX] = 0xbeef;
	run("50");						/* push ax: SP 1 -> 0xffff */
	assert_int_equal(cpu.gpr[EMU_RSP], 0xffff);
	assert_int_equal(fake.ram[0x2ffff], 0xef);		/* at SS:0xffff */
	run("e9 fd ff");					/* jmp -3: to itself at 0x101 */
	assert_int_equal(cpu.rip, 0x101);
	cpu.rip = 0xfffe;
	run("eb 10");						/* IP wraps at 64 KiB */
	assert_int_equal(cpu.rip, 0x10);
}

static void test_string_forms(void **state)
{
	(void)state;
	setup_long();
	memset(&ports, 0, sizeof(ports));
	for (unsigned i = 0; i < 16; i++)
		fake.ram[DATA + i] = (uint8_t)(0x40 + i);
	cpu.gpr[EMU_RSI] = DATA;
	cpu.gpr[EMU_RDI] = DATA + 0x100;
	cpu.gpr[EMU_RCX] = 4;
	assert_int_equal(run("f3 48 a5").status, EMU_DONE);	/* rep movsq */
	assert_int_equal(cpu.gpr[EMU_RCX], 0);
	assert_int_equal(cpu.gpr[EMU_RSI], DATA + 32);
	assert_int_equal(cpu.gpr[EMU_RDI], DATA + 0x120);
	assert_memory_equal(fake.ram + DATA + 0x100, fake.ram + DATA, 32);
	assert_int_equal(cpu.rip, 0x10003);

	/* rep stosb to MMIO, one bus write per element, backwards with DF. */
	cpu.gpr[EMU_RDI] = VA_MMIO + 2;
	cpu.gpr[EMU_RCX] = 3;
	cpu.gpr[EMU_RAX] = 0x5a;
	cpu.rflags = 0x2 | (1ULL << 10);
	unsigned nmmio = fake.nmmio;
	run("f3 aa");
	assert_int_equal(fake.nmmio, nmmio + 3);
	assert_int_equal(fake.mmio[nmmio].gpa, MMIO_BASE + 2);
	assert_int_equal(fake.mmio[nmmio + 2].gpa, MMIO_BASE);
	assert_int_equal(cpu.gpr[EMU_RDI], VA_MMIO - 1);
	cpu.rflags = 0x2;

	/* repne scasb finds the byte; rcx counts what was left. */
	cpu.gpr[EMU_RDI] = DATA;
	cpu.gpr[EMU_RCX] = 16;
	cpu.gpr[EMU_RAX] = 0x43;
	run("f2 ae");
	assert_true(cpu.rflags & ZF);
	assert_int_equal(cpu.gpr[EMU_RDI], DATA + 4);
	assert_int_equal(cpu.gpr[EMU_RCX], 12);

	/* repe cmpsb stops at the first difference. */
	fake.ram[DATA + 0x105] = 0;
	cpu.gpr[EMU_RSI] = DATA;
	cpu.gpr[EMU_RDI] = DATA + 0x100;
	cpu.gpr[EMU_RCX] = 16;
	run("f3 a6");
	assert_false(cpu.rflags & ZF);
	assert_int_equal(cpu.gpr[EMU_RCX], 10);

	/* lodsw with a segment override (FS has a base in 64-bit mode). */
	cpu.seg_base[EMU_SEG_FS] = 0x100;
	cpu.gpr[EMU_RSI] = DATA - 0x100;
	run("64 66 ad");
	assert_int_equal(cpu.gpr[EMU_RAX] & 0xffff, 0x4140);

	/* rep outsb and insw through ports. */
	cpu.gpr[EMU_RDX] = 0x3f8;
	cpu.gpr[EMU_RSI] = DATA;
	cpu.gpr[EMU_RCX] = 3;
	run("f3 6e");
	assert_int_equal(ports.n, 3);
	assert_int_equal(ports.port[2], 0x3f8);
	assert_int_equal(ports.data[2], 0x42);
	cpu.gpr[EMU_RDI] = DATA + 0x200;
	cpu.gpr[EMU_RCX] = 2;
	run("f3 66 6d");
	assert_int_equal(get32(DATA + 0x200), (0xf9u << 16) | 0xf8u);

	/* A fault in the third element (backwards into the read-only page): two done, RIP kept. */
	cpu.gpr[EMU_RSI] = DATA + 10;
	cpu.gpr[EMU_RDI] = VA_USER + 1;
	cpu.gpr[EMU_RCX] = 5;
	cpu.rflags = 0x2 | (1ULL << 10);
	uint64_t rip = cpu.rip;
	assert_exception(run("f3 a4"), 14, true, 0x3);
	assert_int_equal(cpu.gpr[EMU_RCX], 3);
	assert_int_equal(cpu.gpr[EMU_RDI], VA_USER - 1);
	assert_int_equal(cpu.rip, rip);
	cpu.rflags = 0x2;

	/* A long rep stops after a batch and leaves RIP on itself, to be run again. */
	cpu.gpr[EMU_RDI] = 0x100000;
	cpu.gpr[EMU_RCX] = 5000;
	rip = cpu.rip;
	assert_int_equal(run("f3 aa").status, EMU_DONE);
	assert_int_equal(cpu.rip, rip);
	assert_int_equal(cpu.gpr[EMU_RCX], 5000 - 4096);
	run("f3 aa");
	assert_int_equal(cpu.gpr[EMU_RCX], 0);
	assert_int_equal(cpu.rip, rip + 2);

	assert_exception(run("f0 a4"), 6, false, 0);		/* lock movs: #UD */
	cpu.cpl = 3;						/* outs at CPL 3 > IOPL 0: #GP */
	assert_exception(run("6e"), 13, true, 0);
}

/* ---- unsupported, emu_step ----------------------------------------- */

static void test_unsupported(void **state)
{
	struct emu_insn in;
	struct emu_result res;
	char buf[64];

	(void)state;
	setup_long();
	static const char *const cases[] = {
		"0f 0b", "cd 80", "0f a2", "06", "c5 f8 77", "c7 f8 00 00 00 00",
		"0f 01 d0", "0f c7 f0", "66 0f 01 ca", "f4", "48 0f ae 2f",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		res = run(cases[i]);
		assert_int_equal(res.status, EMU_UNSUPPORTED);
		assert_int_equal(cpu.rip, 0x10000);
	}
	assert_int_equal(emu_decode((const uint8_t *)"\x0f\x0b", 2, EMU_MODE_LONG64, &in), 0);
	emu_insn_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, "0f 0b");
	/* bad arguments */
	assert_int_equal(emu_execute(&cpu, NULL, &fake_ops, &fake, &res), -EINVAL);
	memset(&in, 0, sizeof(in));
	assert_int_equal(emu_execute(&cpu, &in, &fake_ops, &fake, &res), -EINVAL);
}

static void put_code(uint64_t gpa, const char *s)
{
	hex(s, fake.ram + gpa, 32);
}

static void test_step(void **state)
{
	struct emu_insn in;
	struct emu_result res;
	uint8_t kvm[16];
	size_t n;

	(void)state;
	setup_long();
	/* bytes from KVM */
	n = hex("0f 01 cb", kvm, sizeof(kvm));
	assert_int_equal(emu_step(&cpu, kvm, n, &fake_ops, &fake, &in, &res), 0);
	assert_int_equal(res.status, EMU_DONE);
	assert_true(cpu.rflags & AC);
	assert_int_equal(cpu.rip, 0x10003);

	/* no bytes from KVM: fetched at RIP through the page walk */
	put_code(0x10003, "0f 01 ca");
	assert_int_equal(emu_step(&cpu, NULL, 0, &fake_ops, &fake, &in, &res), 0);
	assert_int_equal(res.status, EMU_DONE);
	assert_false(cpu.rflags & AC);
	assert_int_equal(cpu.rip, 0x10006);

	/* too few bytes from KVM: the rest is fetched */
	put_code(0x10006, "f3 48 0f b8 c1");
	cpu.gpr[EMU_RCX] = 3;
	assert_int_equal(emu_step(&cpu, fake.ram + 0x10006, 2, &fake_ops, &fake, &in, &res), 0);
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.gpr[EMU_RAX], 2);
	assert_int_equal(in.len, 5);

	/* instruction ends right at a page whose successor is not present */
	cpu.rip = VA_NP - 3;
	put_code(VA_NP - 3, "0f 01 cb");
	assert_int_equal(emu_step(&cpu, NULL, 0, &fake_ops, &fake, &in, &res), 0);
	assert_int_equal(res.status, EMU_DONE);
	assert_int_equal(cpu.rip, VA_NP);

	/* instruction continues into the not-present page: fetch #PF there */
	cpu.rip = VA_NP - 2;
	put_code(VA_NP - 2, "0f 01");
	assert_int_equal(emu_step(&cpu, NULL, 0, &fake_ops, &fake, &in, &res), 0);
	assert_exception(res, 14, true, 0x10);	/* not present, instruction fetch */
	assert_int_equal(res.exc.cr2, VA_NP);
	assert_int_equal(cpu.rip, VA_NP - 2);

	/* over-long instruction: #GP(0) */
	cpu.rip = 0x10000;
	memset(kvm, 0x66, sizeof(kvm));
	assert_int_equal(emu_step(&cpu, kvm, 15, &fake_ops, &fake, &in, &res), 0);
	assert_exception(res, 13, true, 0);

	/* NX page: fetch fault P|ID */
	put64(PT + 8 * 0x50, 0x50000 | 0x3 | (1ULL << 63));
	cpu.rip = 0x50000;
	assert_int_equal(emu_step(&cpu, NULL, 0, &fake_ops, &fake, &in, &res), 0);
	assert_exception(res, 14, true, 0x11);

	/* real mode: CS base + IP */
	setup_long();
	cpu.cr0 = 0;
	cpu.cs_l = false;
	cpu.efer = 0;
	cpu.seg_base[EMU_SEG_CS] = 0xf0000;
	cpu.rip = 0xfff0;
	put_code(0xffff0, "cc");
	assert_int_equal(emu_step(&cpu, NULL, 0, &fake_ops, &fake, &in, &res), 0);
	assert_exception(res, 3, false, 0);
	assert_int_equal(cpu.rip, 0xfff1);
}

/* ---- emu_host_cmpxchg ---------------------------------------------- */

static _Alignas(16) uint64_t counter[2];

static void *hammer(void *arg)
{
	for (int i = 0; i < 100000; i++) {
		uint64_t exp[2] = { counter[0], counter[1] }, des[2];
		bool ok = false;

		do {
			des[0] = exp[0] + 1;
			des[1] = exp[1] + 2;
			/* no cmocka asserts off the main thread */
			if (emu_host_cmpxchg(counter, exp, des, 16, &ok))
				return arg;
		} while (!ok);
	}
	return NULL;
}

static void test_host_cmpxchg(void **state)
{
	_Alignas(16) uint8_t mem[32];
	uint64_t exp[2], des[2];
	pthread_t t[4];
	bool ok;

	(void)state;
	memset(mem, 0, sizeof(mem));
	exp[0] = 0; exp[1] = 0; des[0] = 1; des[1] = 2;
	assert_int_equal(emu_host_cmpxchg(mem, exp, des, 16, &ok), 0);
	assert_true(ok);
	assert_memory_equal(mem, des, 16);
	exp[0] = 5;
	assert_int_equal(emu_host_cmpxchg(mem, exp, des, 16, &ok), 0);
	assert_false(ok);
	assert_int_equal(exp[0], 1);
	assert_int_equal(exp[1], 2);
	assert_int_equal(emu_host_cmpxchg(mem + 8, exp, des, 16, &ok), -EINVAL);
	/* 8 and 4 bytes, misaligned is fine */
	exp[0] = 0;
	des[0] = 0x1122334455667788ULL;
	assert_int_equal(emu_host_cmpxchg(mem + 17, exp, des, 8, &ok), 0);
	assert_true(ok);
	assert_memory_equal(mem + 17, des, 8);
	assert_int_equal(emu_host_cmpxchg(mem + 17, exp, des, 4, &ok), 0);
	assert_false(ok);
	assert_int_equal(emu_host_cmpxchg(mem, exp, des, 2, &ok), -EINVAL);

	/* atomic against other threads */
	counter[0] = counter[1] = 0;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, t), 0);
	for (int i = 0; i < 4; i++) {
		void *ret = NULL;

		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(counter[0], 400000);
	assert_int_equal(counter[1], 800000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int3),
		cmocka_unit_test(test_fwait),
		cmocka_unit_test(test_clac_stac),
		cmocka_unit_test(test_popcnt_reg),
		cmocka_unit_test(test_popcnt_mem),
		cmocka_unit_test(test_cmpxchg16b),
		cmocka_unit_test(test_cmpxchg16b_faults),
		cmocka_unit_test(test_cmpxchg8b),
		cmocka_unit_test(test_mov_store),
		cmocka_unit_test(test_mov_load),
		cmocka_unit_test(test_mov_mmio),
		cmocka_unit_test(test_mov_faults),
		cmocka_unit_test(test_mov_legacy_modes),
		cmocka_unit_test(test_alu_forms),
		cmocka_unit_test(test_alu_memory),
		cmocka_unit_test(test_alu_legacy_incdec),
		cmocka_unit_test(test_shift_forms),
		cmocka_unit_test(test_muldiv_forms),
		cmocka_unit_test(test_bitops_forms),
		cmocka_unit_test(test_xchg_forms),
		cmocka_unit_test(test_stack_forms),
		cmocka_unit_test(test_string_forms),
		cmocka_unit_test(test_unsupported),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_host_cmpxchg),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
