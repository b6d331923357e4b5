// SPDX-License-Identifier: GPL-2.0-only
/*
 * Conditions and bit instructions (SDM Vol 2A/2B, each instruction's page):
 *   SETcc r/m8 (0f 90-9f), CMOVcc r, r/m (0f 40-4f): the 16 conditions of
 *     Vol 1 Appendix B, shared with Jcc
 *   BT BTS BTR BTC r/m, r (0f a3 ab b3 bb) and r/m, imm8 (0f ba /4-/7):
 *     CF = the bit; with a register offset and a memory operand the offset
 *     is a signed bit index into a bit string that starts at the operand
 *   BSF BSR (0f bc bd), TZCNT LZCNT (f3 0f bc bd)
 * Flags the SDM leaves undefined are set as AMD EPYC does, pinned by the
 * differential test against the host CPU (tests/unit/test_emulate_alu.c).
 */
#include "arch/x86/emulate/internal.h"

bool emu_cond(unsigned cc, uint64_t rflags)
{
	bool cf = rflags & X86_FLAGS_CF, zf = rflags & X86_FLAGS_ZF, sf = rflags & X86_FLAGS_SF;
	bool of = rflags & X86_FLAGS_OF, pf = rflags & X86_FLAGS_PF, r;

	switch ((cc >> 1) & 7) {
	case 0: r = of; break;			/* O */
	case 1: r = cf; break;			/* B, C, NAE */
	case 2: r = zf; break;			/* E, Z */
	case 3: r = cf || zf; break;		/* BE, NA */
	case 4: r = sf; break;			/* S */
	case 5: r = pf; break;			/* P, PE */
	case 6: r = sf != of; break;		/* L, NGE */
	default: r = zf || sf != of; break;	/* LE, NG */
	}
	return (cc & 1) ? !r : r;		/* odd codes are the negations */
}

uint64_t emu_bit_test(enum emu_bit_op op, unsigned size, uint64_t val, uint64_t bit,
		      uint64_t *rflags)
{
	unsigned n = (unsigned)(bit & (8 * size - 1));
	uint64_t mask = 1ULL << n, r = val & emu_size_mask(size);
	bool set = r & mask;

	switch (op) {
	case EMU_BTS: r |= mask; break;
	case EMU_BTR: r &= ~mask; break;
	case EMU_BTC: r ^= mask; break;
	default: break;
	}
	/* CF is the bit; OF SF AF PF are undefined and AMD leaves them, as it leaves ZF. */
	*rflags = (*rflags & ~X86_FLAGS_CF) | (set ? X86_FLAGS_CF : 0);
	return r;
}

uint64_t emu_bit_scan(enum emu_scan_op op, unsigned size, uint64_t src, uint64_t dst,
		      uint64_t *rflags)
{
	const unsigned bits = 8 * size;
	uint64_t s = src & emu_size_mask(size), r, f;

	switch (op) {
	case EMU_BSF:
	case EMU_BSR:
		/* A zero source sets ZF and leaves the destination (AMD documents it). */
		if (!s)
			r = dst;
		else
			r = op == EMU_BSF ? (uint64_t)__builtin_ctzll(s) : 63 - (uint64_t)__builtin_clzll(s);
		/*
		 * CF OF SF AF PF are undefined: AMD clears them but PF, the parity
		 * of the bit index found (of 0 when there is none).
		 */
		f = *rflags & ~X86_FLAGS_ARITH;
		f |= s ? 0 : X86_FLAGS_ZF;
		f |= __builtin_parity((unsigned)((s ? r : 0) & 0xff)) ? 0 : X86_FLAGS_PF;
		break;
	case EMU_TZCNT:
	case EMU_LZCNT:
	default:
		if (!s)
			r = bits;
		else if (op == EMU_TZCNT)
			r = (uint64_t)__builtin_ctzll(s);
		else
			r = (uint64_t)__builtin_clzll(s) - (64 - bits);
		/* OF SF AF PF are undefined: AMD keeps OF, clears the others. */
		f = *rflags & ~(X86_FLAGS_ARITH & ~X86_FLAGS_OF);
		f |= s ? 0 : X86_FLAGS_CF;
		f |= r ? 0 : X86_FLAGS_ZF;
		break;
	}
	*rflags = f;
	return r;
}

/* ---- execution -------------------------------------------------------------------------- */

/* SETcc r/m8: 1 or 0 by the condition; no flags change. */
static int exec_setcc(struct emu_env *e)
{
	int r = emu_rm_write(e, 1, emu_cond(e->insn->opcode & 15, e->cpu->rflags));
	if (!r)
		emu_finish(e);
	return r;
}

/*
 * CMOVcc r, r/m: the source is read (and may fault) whatever the
 * condition; a false condition with a 32-bit operand still zero-extends
 * the destination in 64-bit mode (SDM Vol 2A "CMOVcc").
 */
static int exec_cmovcc(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint64_t val;
	int r = emu_rm_read(e, in->opsize, &val);

	if (r)
		return r;
	if (emu_cond(in->opcode & 15, e->cpu->rflags))
		emu_reg_set(e, in->reg, in->opsize, val);
	else if (in->opsize == 4)
		emu_reg_set(e, in->reg, 4, emu_reg_get(e, in->reg, 4));
	emu_finish(e);
	return 0;
}

struct bt_update {
	enum emu_bit_op op;
	unsigned size;
	uint64_t bit;
};

static uint64_t bt_update(void *ctx, uint64_t old, uint64_t *rflags)
{
	const struct bt_update *u = ctx;
	return emu_bit_test(u->op, u->size, old, u->bit, rflags);
}

/*
 * BT BTS BTR BTC.  With a register offset and a memory operand the offset
 * is a signed index into a bit string: the operand-sized word at
 * ea + (offset >> log2(bits)) * size holds the bit (Vol 2A "BT").
 */
static int exec_bt(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	unsigned size = in->opsize, bits = 8 * size;
	struct bt_update u = { .size = size };
	uint64_t flags = e->cpu->rflags, val, la;
	bool locked = in->prefixes & EMU_PFX_LOCK;
	int r;

	if (in->opcode == 0xba) {
		u.op = (enum emu_bit_op)((in->reg & 7) - 4);
		u.bit = in->imm & (bits - 1);
	} else {
		u.op = (enum emu_bit_op)((in->opcode >> 3) & 3);
		u.bit = emu_reg_get(e, in->reg, size);
	}
	if (locked && (!in->has_mem || u.op == EMU_BT))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (!in->has_mem) {
		val = emu_bit_test(u.op, size, emu_reg_get(e, in->rm, size), u.bit, &flags);
		if (u.op != EMU_BT)
			emu_reg_set(e, in->rm, size, val);
		e->cpu->rflags = flags;
		emu_finish(e);
		return 0;
	}
	if ((r = emu_mem_linear(e, &la)))
		return r;
	if (in->opcode != 0xba) {
		/* Signed offset: whole operand-sized words before or after ea. */
		int64_t off = (int64_t)emu_sign_extend(u.bit, size);
		la = (la + (uint64_t)((off >> (__builtin_ctz(bits))) * (int64_t)size)) & emu_la_mask(e->cpu);
		u.bit &= bits - 1;
	}
	if (locked) {
		r = emu_mem_locked_update(e, la, size, bt_update, &u, &flags);
	} else {
		uint8_t buf[8];
		if (!(r = emu_mem_read(e, la, buf, size))) {
			val = bt_update(&u, emu_le_get(buf, size), &flags);
			emu_le_put(buf, size, val);
			if (u.op != EMU_BT)
				r = emu_mem_write(e, la, buf, size);
		}
	}
	if (r)
		return r;
	e->cpu->rflags = flags;
	emu_finish(e);
	return 0;
}

/* BSF BSR (0f bc bd), and TZCNT LZCNT with an f3 prefix. */
static int exec_scan(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	enum emu_scan_op op = (enum emu_scan_op)((in->opcode & 1) + (in->last_rep == 0xf3 ? 2 : 0));
	uint64_t src, flags = e->cpu->rflags;
	int r = emu_rm_read(e, in->opsize, &src);

	if (r)
		return r;
	uint64_t res = emu_bit_scan(op, in->opsize, src, emu_reg_get(e, in->reg, in->opsize), &flags);
	emu_reg_set(e, in->reg, in->opsize, res);
	e->cpu->rflags = flags;
	emu_finish(e);
	return 0;
}

int emu_exec_bitops(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint8_t opc = in->opcode;
	bool bt = opc == 0xa3 || opc == 0xab || opc == 0xb3 || opc == 0xbb ||
		  (opc == 0xba && (in->reg & 7) >= 4);

	if (!bt && (in->prefixes & EMU_PFX_LOCK))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (opc >= 0x90 && opc <= 0x9f)
		return exec_setcc(e);
	if (opc >= 0x40 && opc <= 0x4f)
		return exec_cmovcc(e);
	if (bt)
		return exec_bt(e);
	if (opc == 0xbc || opc == 0xbd)
		return exec_scan(e);
	e->res->status = EMU_UNSUPPORTED;
	return 0;
}
