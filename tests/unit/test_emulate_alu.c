// SPDX-License-Identifier: GPL-2.0-only
/*
 * The emulator's integer ALU (arch/x86/emulate/alu.c) proven against the
 * CPU this test runs on: every operation and operand size, 100 000 random
 * operands and incoming flags each (plus the edge values 0, 1, -1, the
 * sign bit and its neighbours), executed natively with inline assembly and
 * through emu_alu(); results and all six arithmetic flags must be equal.
 * For AF after AND/OR/XOR/TEST, which the SDM leaves undefined, this pins
 * the emulator to what the host CPU does.
 */
#include <cpuid.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>

#include "arch/x86/emulate/emulate.h"

#define ARITH 0x8d5ULL /* CF PF AF ZF SF OF */
#define RUNS  100000

typedef uint64_t (*native_fn)(uint64_t a, uint64_t b, uint64_t *flags);

/*
 * insn between popf and pushf of %[f].  The 128-byte step down first keeps
 * push/pop out of the red zone the compiler may be using.
 */
#define WITH_FLAGS(insn)                                                                 \
	"lea -128(%%rsp), %%rsp\n\tpush %[f]\n\tpopfq\n\t" insn                          \
	"\n\tpushfq\n\tpop %[f]\n\tlea 128(%%rsp), %%rsp"

/*
 * One instruction between popf and pushf; `input` names what it reads
 * besides x: y (the second operand) or count (in CL).
 */
#define NATIVE_IN(name, type, insn, input)                                               \
	static uint64_t name(uint64_t a, uint64_t b, uint64_t *flags)                    \
	{                                                                                \
		type x = (type)a, y = (type)b;                                           \
		uint8_t count = (uint8_t)b;                                              \
		uint64_t f = *flags;                                                     \
		(void)y;                                                                 \
		(void)count;                                                             \
		__asm__ volatile(WITH_FLAGS(insn)                                        \
				 : [x] "+q"(x), [f] "+r"(f)                              \
				 : input                                                 \
				 : "cc", "memory");                                      \
		*flags = f;                                                              \
		return (uint64_t)x;                                                      \
	}
#define NATIVE(name, type, insn) NATIVE_IN(name, type, insn, [y] "q"(y))
#define NATIVE_SH(name, type, insn) NATIVE_IN(name, type, insn, "c"(count))

/* Two-operand forms in all four sizes: NAME8 ... NAME64. */
#define NATIVE2(op)                                                                      \
	NATIVE(op##8, uint8_t, #op "b %b[y], %b[x]")                                     \
	NATIVE(op##16, uint16_t, #op "w %w[y], %w[x]")                                   \
	NATIVE(op##32, uint32_t, #op "l %k[y], %k[x]")                                   \
	NATIVE(op##64, uint64_t, #op "q %q[y], %q[x]")
#define NATIVE1(op)                                                                      \
	NATIVE(op##8, uint8_t, #op "b %b[x]")                                            \
	NATIVE(op##16, uint16_t, #op "w %w[x]")                                          \
	NATIVE(op##32, uint32_t, #op "l %k[x]")                                          \
	NATIVE(op##64, uint64_t, #op "q %q[x]")

NATIVE2(add) NATIVE2(or) NATIVE2(adc) NATIVE2(sbb) NATIVE2(and) NATIVE2(sub) NATIVE2(xor)
NATIVE2(cmp) NATIVE2(test)
NATIVE1(inc) NATIVE1(dec) NATIVE1(neg) NATIVE1(not)

/* Shifts and rotates by CL: the count goes in as b. */
#define NATIVE_SHIFT(op)                                                                 \
	NATIVE_SH(op##8, uint8_t, #op "b %%cl, %b[x]")                                   \
	NATIVE_SH(op##16, uint16_t, #op "w %%cl, %w[x]")                                 \
	NATIVE_SH(op##32, uint32_t, #op "l %%cl, %k[x]")                                 \
	NATIVE_SH(op##64, uint64_t, #op "q %%cl, %q[x]")

NATIVE_SHIFT(rol) NATIVE_SHIFT(ror) NATIVE_SHIFT(rcl) NATIVE_SHIFT(rcr) NATIVE_SHIFT(shl)
NATIVE_SHIFT(shr) NATIVE_SHIFT(sal) NATIVE_SHIFT(sar)

struct op_case {
	const char *name;
	int op;                    /* enum emu_alu_op or enum emu_shift_op */
	bool writes;               /* compare the result too (not CMP/TEST) */
	native_fn native[4];       /* 8, 16, 32, 64 bits */
};

#define CASE(op, e, w) { #op, e, w, { op##8, op##16, op##32, op##64 } }
static const struct op_case cases[] = {
	CASE(add, EMU_ALU_ADD, true),  CASE(or, EMU_ALU_OR, true),   CASE(adc, EMU_ALU_ADC, true),
	CASE(sbb, EMU_ALU_SBB, true),  CASE(and, EMU_ALU_AND, true), CASE(sub, EMU_ALU_SUB, true),
	CASE(xor, EMU_ALU_XOR, true),  CASE(cmp, EMU_ALU_CMP, false),
	CASE(test, EMU_ALU_TEST, false), CASE(inc, EMU_ALU_INC, true), CASE(dec, EMU_ALU_DEC, true),
	CASE(neg, EMU_ALU_NEG, true),  CASE(not, EMU_ALU_NOT, true),
};

#define SHIFT_CASE(op, e) { #op, e, true, { op##8, op##16, op##32, op##64 } }
static const struct op_case shift_cases[] = {
	SHIFT_CASE(rol, EMU_SHIFT_ROL), SHIFT_CASE(ror, EMU_SHIFT_ROR), SHIFT_CASE(rcl, EMU_SHIFT_RCL),
	SHIFT_CASE(rcr, EMU_SHIFT_RCR), SHIFT_CASE(shl, EMU_SHIFT_SHL), SHIFT_CASE(shr, EMU_SHIFT_SHR),
	SHIFT_CASE(sal, EMU_SHIFT_SAL), SHIFT_CASE(sar, EMU_SHIFT_SAR),
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
	/* xorshift64*: reproducible, fast, good enough to cover carries and signs */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Mostly random, sometimes an edge value of the operand size. */
static uint64_t operand(unsigned size)
{
	uint64_t top = 1ULL << (8 * size - 1);
	switch (rnd() % 16) {
	case 0: return 0;
	case 1: return 1;
	case 2: return ~0ULL;
	case 3: return top;
	case 4: return top - 1;
	case 5: return top + 1;
	case 6: return rnd() & 0xff;
	default: return rnd();
	}
}

static void differential(void **state)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	unsigned long checked = 0;

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		for (unsigned s = 0; s < 4; s++) {
			unsigned size = sizes[s];
			uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
			for (int i = 0; i < RUNS; i++) {
				uint64_t a = operand(size), b = operand(size);
				uint64_t fin = 0x202 | (rnd() & ARITH); /* IF as user space has it */
				uint64_t fhw = fin, femu = fin;
				uint64_t rhw = cases[c].native[s](a, b, &fhw) & mask;
				uint64_t remu = emu_alu((enum emu_alu_op)cases[c].op, size, a, b, &femu);
				if ((fhw & ARITH) != (femu & ARITH) ||
				    (cases[c].writes && rhw != remu)) {
					fail_msg("%s%u a=%#llx b=%#llx flags in %#llx: CPU %#llx flags %#llx, "
						 "emulator %#llx flags %#llx",
						 cases[c].name, size * 8, (unsigned long long)(a & mask),
						 (unsigned long long)(b & mask), (unsigned long long)fin,
						 (unsigned long long)rhw, (unsigned long long)(fhw & ARITH),
						 (unsigned long long)remu,
						 (unsigned long long)(femu & ARITH));
				}
				/* Flags outside the six are the emulator's to keep. */
				assert_int_equal(femu & ~ARITH, fin & ~ARITH);
				checked++;
			}
		}
	}
	printf("# %lu operations checked against the CPU\n", checked);
}

static bool host_is_amd(void);

/* ---- multiply and divide: rDX:rAX (AX for bytes) and a source ---- */

typedef void (*native_md_fn)(uint64_t *ax, uint64_t *dx, uint64_t src, uint64_t *flags);

#define NATIVE_MD(name, insn)                                                            \
	static void name(uint64_t *ax, uint64_t *dx, uint64_t src, uint64_t *flags)      \
	{                                                                                \
		uint64_t a = *ax, d = *dx, f = *flags;                                   \
		__asm__ volatile(WITH_FLAGS(insn)                                        \
				 : "+a"(a), "+d"(d), [f] "+r"(f)                         \
				 : [s] "q"(src)                                          \
				 : "cc", "memory");                                      \
		*ax = a;                                                                 \
		*dx = d;                                                                 \
		*flags = f;                                                              \
	}
#define NATIVE_MULDIV(op)                                                                \
	NATIVE_MD(op##8, #op "b %b[s]") NATIVE_MD(op##16, #op "w %w[s]")                 \
	NATIVE_MD(op##32, #op "l %k[s]") NATIVE_MD(op##64, #op "q %q[s]")

NATIVE_MULDIV(mul) NATIVE_MULDIV(imul) NATIVE_MULDIV(div) NATIVE_MULDIV(idiv)

static const struct {
	const char *name;
	enum emu_muldiv_op op;
	native_md_fn native[4];
} md_cases[] = {
	{ "mul", EMU_MUL, { mul8, mul16, mul32, mul64 } },
	{ "imul", EMU_IMUL, { imul8, imul16, imul32, imul64 } },
	{ "div", EMU_DIV, { div8, div16, div32, div64 } },
	{ "idiv", EMU_IDIV, { idiv8, idiv16, idiv32, idiv64 } },
};

static sigjmp_buf fpe_jump;

static void on_fpe(int sig)
{
	(void)sig;
	siglongjmp(fpe_jump, 1);
}

/* Runs a native divide that may raise #DE (SIGFPE); false if it did. */
static bool native_md(native_md_fn fn, uint64_t *ax, uint64_t *dx, uint64_t src, uint64_t *flags)
{
	if (sigsetjmp(fpe_jump, 1))
		return false;
	fn(ax, dx, src, flags);
	return true;
}

static void differential_muldiv(void **state)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	unsigned long checked = 0, faults = 0;
	bool amd = host_is_amd();
	struct sigaction sa = { .sa_handler = on_fpe }, old;

	(void)state;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGFPE, &sa, &old);
	for (size_t c = 0; c < sizeof(md_cases) / sizeof(md_cases[0]); c++) {
		bool divide = md_cases[c].op >= EMU_DIV;
		/* Undefined: SF ZF AF PF after a multiply, all six after a divide. */
		uint64_t cmp = amd ? ARITH : divide ? 0 : 0x801;
		for (unsigned s = 0; s < 4; s++) {
			unsigned size = sizes[s];
			uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
			for (int i = 0; i < RUNS; i++) {
				uint64_t ax = operand(8), dx = operand(8), src = operand(size);
				/* Half the divides small enough to succeed, the rest as they come. */
				if (divide && (i & 1))
					dx = size == 1 ? 0 : (rnd() & 1 ? 0 : mask);
				if (divide && size == 1 && (i & 1))
					ax &= 0xff;
				uint64_t fin = 0x202 | (rnd() & ARITH), fhw = fin, femu = fin;
				uint64_t hax = ax, hdx = dx, lo = 0, hi = 0;
				bool ok_hw = native_md(md_cases[c].native[s], &hax, &hdx, src, &fhw);
				bool ok_emu = emu_muldiv(md_cases[c].op, size, ax, dx, src, &lo, &hi,
							 &femu) == 0;
				uint64_t hlo = size == 1 ? hax & 0xff : hax & mask;
				uint64_t hhi = size == 1 ? (hax >> 8) & 0xff : hdx & mask;
				faults += !ok_hw;
				if (ok_hw != ok_emu ||
				    (ok_hw && (hlo != lo || hhi != hi || (fhw & cmp) != (femu & cmp))))
					fail_msg("%s%u ax=%#llx dx=%#llx src=%#llx flags in %#llx: CPU %s "
						 "%#llx:%#llx flags %#llx, emulator %s %#llx:%#llx flags %#llx",
						 md_cases[c].name, size * 8, (unsigned long long)ax,
						 (unsigned long long)dx, (unsigned long long)(src & mask),
						 (unsigned long long)fin, ok_hw ? "ok" : "#DE",
						 (unsigned long long)hhi, (unsigned long long)hlo,
						 (unsigned long long)(fhw & ARITH), ok_emu ? "ok" : "#DE",
						 (unsigned long long)hi, (unsigned long long)lo,
						 (unsigned long long)(femu & ARITH));
				checked++;
			}
		}
	}
	sigaction(SIGFPE, &old, NULL);
	printf("# %lu multiplies and divides checked against the CPU (%lu raised #DE on both)\n",
	       checked, faults);
}

/* ---- conditions, bit tests, bit scans ---- */

#define NATIVE_SETCC(cc)                                                                 \
	static bool set##cc(uint64_t flags)                                              \
	{                                                                                \
		uint8_t x = 0;                                                           \
		uint64_t f = flags;                                                      \
		__asm__ volatile(WITH_FLAGS("set" #cc " %b[x]")                          \
				 : [x] "+q"(x), [f] "+r"(f)                              \
				 :                                                       \
				 : "cc", "memory");                                      \
		return x;                                                                \
	}
NATIVE_SETCC(o) NATIVE_SETCC(no) NATIVE_SETCC(b) NATIVE_SETCC(ae) NATIVE_SETCC(e) NATIVE_SETCC(ne)
NATIVE_SETCC(be) NATIVE_SETCC(a) NATIVE_SETCC(s) NATIVE_SETCC(ns) NATIVE_SETCC(p) NATIVE_SETCC(np)
NATIVE_SETCC(l) NATIVE_SETCC(ge) NATIVE_SETCC(le) NATIVE_SETCC(g)

static void differential_conditions(void **state)
{
	static bool (*const native[16])(uint64_t) = { seto, setno, setb, setae, sete, setne, setbe,
						      seta, sets, setns, setp, setnp, setl, setge,
						      setle, setg };
	(void)state;
	/* Every combination of the six flags, for every condition. */
	for (unsigned cc = 0; cc < 16; cc++) {
		for (unsigned v = 0; v < 64; v++) {
			static const uint64_t bits[6] = { 0x1, 0x4, 0x10, 0x40, 0x80, 0x800 };
			uint64_t f = 0x202;
			for (unsigned b = 0; b < 6; b++)
				if (v & (1u << b))
					f |= bits[b];
			if (native[cc](f) != emu_cond(cc, f))
				fail_msg("condition %u with flags %#llx: CPU %d, emulator %d", cc,
					 (unsigned long long)f, native[cc](f), emu_cond(cc, f));
		}
	}
}

/* x = op(x, y) for the register forms of BT*, BSF/BSR, TZCNT/LZCNT (16, 32, 64 bits). */
#define NATIVE_REG3(op)                                                                  \
	NATIVE(op##16, uint16_t, #op "w %w[y], %w[x]")                                   \
	NATIVE(op##32, uint32_t, #op "l %k[y], %k[x]")                                   \
	NATIVE(op##64, uint64_t, #op "q %q[y], %q[x]")
NATIVE_REG3(bt) NATIVE_REG3(bts) NATIVE_REG3(btr) NATIVE_REG3(btc)
NATIVE_REG3(bsf) NATIVE_REG3(bsr) NATIVE_REG3(tzcnt) NATIVE_REG3(lzcnt)

static bool host_has_lzcnt_tzcnt(void)
{
	unsigned a, b, c, d;
	bool abm = __get_cpuid(0x80000001, &a, &b, &c, &d) && (c & (1u << 5));
	bool bmi1 = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 3));
	return abm && bmi1;
}

static void differential_bits(void **state)
{
	static const unsigned sizes[3] = { 2, 4, 8 };
	static const struct {
		const char *name;
		bool scan;
		int op;
		native_fn native[3];
	} ops[] = {
		{ "bt", false, EMU_BT, { bt16, bt32, bt64 } },
		{ "bts", false, EMU_BTS, { bts16, bts32, bts64 } },
		{ "btr", false, EMU_BTR, { btr16, btr32, btr64 } },
		{ "btc", false, EMU_BTC, { btc16, btc32, btc64 } },
		{ "bsf", true, EMU_BSF, { bsf16, bsf32, bsf64 } },
		{ "bsr", true, EMU_BSR, { bsr16, bsr32, bsr64 } },
		{ "tzcnt", true, EMU_TZCNT, { tzcnt16, tzcnt32, tzcnt64 } },
		{ "lzcnt", true, EMU_LZCNT, { lzcnt16, lzcnt32, lzcnt64 } },
	};
	bool amd = host_is_amd(), counts = host_has_lzcnt_tzcnt();
	unsigned long checked = 0;

	(void)state;
	for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
		if (ops[o].op >= EMU_TZCNT && ops[o].scan && !counts) {
			printf("# host without LZCNT/TZCNT: %s not compared\n", ops[o].name);
			continue;
		}
		/* Defined: CF for BT*, ZF for BSF/BSR, CF and ZF for the counts. */
		uint64_t defined = !ops[o].scan ? 0x1 : ops[o].op <= EMU_BSR ? 0x40 : 0x41;
		uint64_t cmp = amd ? ARITH : defined;
		for (unsigned s = 0; s < 3; s++) {
			unsigned size = sizes[s];
			uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
			for (int i = 0; i < RUNS; i++) {
				uint64_t x = operand(size), y = ops[o].scan ? operand(size) : rnd();
				if (ops[o].scan && (i & 7) == 0)
					y = 0;
				uint64_t fin = 0x202 | (rnd() & ARITH), fhw = fin, femu = fin;
				uint64_t rhw = ops[o].native[s](x, y, &fhw) & mask;
				uint64_t remu = ops[o].scan ?
					emu_bit_scan((enum emu_scan_op)ops[o].op, size, y, x, &femu) :
					emu_bit_test((enum emu_bit_op)ops[o].op, size, x, y, &femu);
				if ((remu & mask) != rhw || (fhw & cmp) != (femu & cmp))
					fail_msg("%s%u x=%#llx y=%#llx flags in %#llx: CPU %#llx flags %#llx, "
						 "emulator %#llx flags %#llx", ops[o].name, size * 8,
						 (unsigned long long)(x & mask), (unsigned long long)y,
						 (unsigned long long)fin, (unsigned long long)rhw,
						 (unsigned long long)(fhw & ARITH), (unsigned long long)remu,
						 (unsigned long long)(femu & ARITH));
				checked++;
			}
		}
	}
	printf("# %lu bit tests and scans checked against the CPU\n", checked);
}

/* Counts: mostly around the operand width (where the rules change), sometimes any byte. */
static uint64_t shift_count(unsigned size)
{
	return rnd() % 4 == 0 ? rnd() & 0xff : rnd() % (8 * size + 3);
}

/* The host CPU is an AMD one: its undefined shift flags are the ones shift.c reproduces. */
static bool host_is_amd(void)
{
	unsigned a, b, c, d;
	return __get_cpuid(0, &a, &b, &c, &d) && b == 0x68747541; /* "Auth"enticAMD */
}

/*
 * Flags the SDM leaves undefined for this shift: AF after SHL/SHR/SAR, OF
 * unless the masked count is 1 (rotates through CF of narrow operands
 * count modulo width + 1), CF of SHL/SHR/SAR by more than the width.
 */
static uint64_t shift_undefined(int op, unsigned size, uint64_t count)
{
	unsigned c = (unsigned)count & (size == 8 ? 63 : 31), bits = 8 * size;
	uint64_t u = 0;

	if (c == 0)
		return 0;
	if (op >= EMU_SHIFT_SHL) {
		u |= 0x10;				/* AF */
		if (c > bits)
			u |= 0x1;			/* CF */
	}
	if (c != 1)
		u |= 0x800;				/* OF */
	return u;
}

static void differential_shifts(void **state)
{
	static const unsigned sizes[4] = { 1, 2, 4, 8 };
	unsigned long checked = 0;
	bool amd = host_is_amd();

	(void)state;
	if (!amd)
		printf("# not an AMD host: undefined shift flags (AF, OF for counts > 1, CF past the width) not compared\n");
	for (size_t c = 0; c < sizeof(shift_cases) / sizeof(shift_cases[0]); c++) {
		for (unsigned s = 0; s < 4; s++) {
			unsigned size = sizes[s];
			uint64_t mask = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
			for (int i = 0; i < RUNS; i++) {
				uint64_t a = operand(size), n = shift_count(size);
				uint64_t fin = 0x202 | (rnd() & ARITH);
				uint64_t fhw = fin, femu = fin;
				uint64_t rhw = shift_cases[c].native[s](a, n, &fhw) & mask;
				uint64_t remu = emu_shift((enum emu_shift_op)shift_cases[c].op, size, a,
							  (unsigned)n, &femu);
				uint64_t cmp = ARITH & ~(amd ? 0 : shift_undefined(shift_cases[c].op, size, n));
				if ((fhw & cmp) != (femu & cmp) || rhw != remu)
					fail_msg("%s%u a=%#llx count=%llu flags in %#llx: CPU %#llx flags %#llx, "
						 "emulator %#llx flags %#llx",
						 shift_cases[c].name, size * 8, (unsigned long long)(a & mask),
						 (unsigned long long)n, (unsigned long long)fin,
						 (unsigned long long)rhw, (unsigned long long)(fhw & ARITH),
						 (unsigned long long)remu,
						 (unsigned long long)(femu & ARITH));
				checked++;
			}
		}
	}
	printf("# %lu shifts and rotates checked against the CPU\n", checked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(differential),
		cmocka_unit_test(differential_shifts),
		cmocka_unit_test(differential_muldiv),
		cmocka_unit_test(differential_conditions),
		cmocka_unit_test(differential_bits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
