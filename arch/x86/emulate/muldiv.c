// SPDX-License-Identifier: GPL-2.0-only
/*
 * Multiply and divide (SDM Vol 2A "MUL", "IMUL", "DIV", "IDIV"):
 *   f6/f7 /4 MUL, /5 IMUL (one operand: rDX:rAX, or AX for bytes)
 *   f6/f7 /6 DIV, /7 IDIV (quotient and remainder; #DE on a zero divisor
 *   or a quotient that does not fit)
 *   0f af IMUL r, r/m; 69 IMUL r, r/m, imm16/32; 6b IMUL r, r/m, imm8
 * MUL and IMUL set CF = OF = "the high half is significant".  The flags
 * the SDM leaves undefined (SF ZF AF PF after MUL/IMUL, all six after
 * DIV/IDIV) are set as AMD EPYC sets them, pinned by the differential test
 * against the host CPU (tests/unit/test_emulate_alu.c); on other vendors
 * the test compares only the defined flags.
 */
#include "arch/x86/emulate/internal.h"

/* The flags a multiply leaves as they were (undefined in the SDM; what AMD does). */
#define KEPT_BY_MUL (X86_FLAGS_SF | X86_FLAGS_ZF | X86_FLAGS_AF | X86_FLAGS_PF)

/* After a divide (all undefined in the SDM): CF and OF kept, AF set, SF ZF PF clear (AMD). */
#define DIV_FLAGS(in) (((in) & (X86_FLAGS_CF | X86_FLAGS_OF)) | X86_FLAGS_AF)

typedef unsigned __int128 u128;
typedef __int128 s128;

static int64_t sext(uint64_t v, unsigned size)
{
	return (int64_t)emu_sign_extend(v, size);
}

int emu_muldiv(enum emu_muldiv_op op, unsigned size, uint64_t ax, uint64_t dx, uint64_t src,
	       uint64_t *lo, uint64_t *hi, uint64_t *rflags)
{
	const unsigned bits = 8 * size;
	const uint64_t m = emu_size_mask(size);
	uint64_t f = 0;
	/* Bytes work on AX alone: AL (and for divides AH) stand in for rAX and rDX. */
	if (size == 1) {
		dx = (ax >> 8) & 0xff;
		ax &= 0xff;
	}
	ax &= m;
	dx &= m;
	src &= m;

	switch (op) {
	case EMU_MUL: {
		u128 p = (u128)ax * src;
		*lo = (uint64_t)p & m;
		*hi = (uint64_t)(p >> bits) & m;
		if (*hi)
			f |= X86_FLAGS_CF | X86_FLAGS_OF;
		f |= *rflags & KEPT_BY_MUL;
		break;
	}
	case EMU_IMUL: {
		s128 p = (s128)sext(ax, size) * sext(src, size);
		*lo = (uint64_t)p & m;
		*hi = (uint64_t)(p >> bits) & m;
		if (p != (s128)sext(*lo, size))
			f |= X86_FLAGS_CF | X86_FLAGS_OF;
		f |= *rflags & KEPT_BY_MUL;
		break;
	}
	case EMU_DIV: {
		if (src == 0)
			return -1;
		u128 n = ((u128)dx << bits) | ax;
		u128 q = n / src;
		if (q > m)
			return -1;
		*lo = (uint64_t)q;
		*hi = (uint64_t)(n % src);
		f = DIV_FLAGS(*rflags);
		break;
	}
	case EMU_IDIV:
	default: {
		if (src == 0)
			return -1;
		s128 n = (s128)(((u128)dx << bits) | ax);
		if (size < 8)	/* sign-extend the 2*bits-wide dividend */
			n = (s128)((int64_t)((uint64_t)n << (64 - 2 * bits)) >> (64 - 2 * bits));
		s128 d = sext(src, size);
		/* The most negative 128-bit dividend over -1 cannot be divided in C: too large anyway. */
		if (n == (s128)((u128)1 << 127) && d == -1)
			return -1;
		s128 q = n / d, r = n % d;
		if (q > (s128)(m >> 1) || q < -(s128)(m >> 1) - 1)
			return -1;
		*lo = (uint64_t)q & m;
		*hi = (uint64_t)r & m;
		f = DIV_FLAGS(*rflags);
		break;
	}
	}
	*rflags = (*rflags & ~X86_FLAGS_ARITH) | f;
	return 0;
}

int emu_exec_muldiv(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint64_t a, b, lo = 0, hi = 0, flags = e->cpu->rflags;
	int r;

	if (in->prefixes & EMU_PFX_LOCK)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (in->map == EMU_MAP_0F || in->opcode == 0x69 || in->opcode == 0x6b) {
		/* Two- and three-operand IMUL: the truncated product into ModRM.reg. */
		unsigned size = in->opsize;
		if ((r = emu_rm_read(e, size, in->map == EMU_MAP_0F ? &b : &a)))
			return r;
		if (in->map == EMU_MAP_0F)
			a = emu_reg_get(e, in->reg, size);
		else
			b = in->imm;
		emu_muldiv(EMU_IMUL, size, a, 0, b, &lo, &hi, &flags);
		emu_reg_set(e, in->reg, size, lo);
	} else {
		unsigned size = in->opcode == 0xf6 ? 1 : in->opsize;
		enum emu_muldiv_op op = (enum emu_muldiv_op)((in->reg & 7) - 4);
		if ((r = emu_rm_read(e, size, &b)))
			return r;
		a = e->cpu->gpr[EMU_RAX];
		if (emu_muldiv(op, size, a, e->cpu->gpr[EMU_RDX], b, &lo, &hi, &flags) < 0)
			return emu_raise(e, EMU_VEC_DE, false, 0);
		if (size == 1) {
			emu_reg_set(e, EMU_RAX, 2, hi << 8 | lo);
		} else {
			emu_reg_set(e, EMU_RAX, size, lo);
			emu_reg_set(e, EMU_RDX, size, hi);
		}
	}
	e->cpu->rflags = flags;
	emu_finish(e);
	return 0;
}
