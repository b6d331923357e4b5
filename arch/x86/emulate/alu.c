// SPDX-License-Identifier: GPL-2.0-only
/*
 * Integer ALU instructions with the CPU's exact flags (SDM Vol 2A/2B,
 * each instruction's "Flags Affected"; Vol 1 §3.4.3.1):
 *   ADD OR ADC SBB AND SUB XOR CMP   00-3d (ModRM and accumulator forms),
 *                                    80/81/83 /0-/7 (82 outside 64-bit mode)
 *   TEST                             84 85 a8 a9, f6/f7 /0 (and the /1 alias)
 *   NOT NEG                          f6/f7 /2 /3
 *   INC DEC                          fe/ff /0 /1, 40-4f outside 64-bit mode
 * With LOCK and a memory destination the read-modify-write is one
 * compare-exchange on guest RAM (atomic against other vCPUs); LOCK
 * anywhere else is #UD.  Flags the SDM leaves undefined (AF after AND, OR,
 * XOR and TEST) are set as the CPUs do: cleared (checked against the host
 * CPU by tests/unit/test_emulate_alu.c).
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/emulate/internal.h"

static uint64_t msb(uint64_t v, unsigned size)
{
	return (v >> (8 * size - 1)) & 1;
}

/* r = a + b + carry_in: carry out and overflow from the operands' and result's top bits. */
static uint64_t add_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
	uint64_t f = emu_szp_flags(r, size);

	if (msb((a & b) | ((a | b) & ~r), size))
		f |= X86_FLAGS_CF;
	if (msb((a ^ r) & (b ^ r), size))
		f |= X86_FLAGS_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= X86_FLAGS_AF;
	return f;
}

/* r = a - b - borrow_in. */
static uint64_t sub_flags(uint64_t a, uint64_t b, uint64_t r, unsigned size)
{
	uint64_t f = emu_szp_flags(r, size);

	if (msb((~a & b) | ((~a | b) & r), size))
		f |= X86_FLAGS_CF;
	if (msb((a ^ b) & (a ^ r), size))
		f |= X86_FLAGS_OF;
	if ((a ^ b ^ r) & 0x10)
		f |= X86_FLAGS_AF;
	return f;
}

uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags)
{
	const uint64_t m = emu_size_mask(size);
	uint64_t a = dst & m, b = src & m, cin = *rflags & X86_FLAGS_CF, r, f;
	/* Which flags the instruction writes; the others keep their value. */
	uint64_t written = X86_FLAGS_ARITH;

	switch (op) {
	case EMU_ALU_ADD: r = (a + b) & m; f = add_flags(a, b, r, size); break;
	case EMU_ALU_ADC: r = (a + b + cin) & m; f = add_flags(a, b, r, size); break;
	case EMU_ALU_SUB:
	case EMU_ALU_CMP: r = (a - b) & m; f = sub_flags(a, b, r, size); break;
	case EMU_ALU_SBB: r = (a - b - cin) & m; f = sub_flags(a, b, r, size); break;
	case EMU_ALU_AND:
	case EMU_ALU_TEST: r = a & b; f = emu_szp_flags(r, size); break;
	case EMU_ALU_OR: r = a | b; f = emu_szp_flags(r, size); break;
	case EMU_ALU_XOR: r = a ^ b; f = emu_szp_flags(r, size); break;
	case EMU_ALU_INC:
		r = (a + 1) & m;
		f = add_flags(a, 1, r, size);
		written &= ~X86_FLAGS_CF;	/* INC/DEC leave CF alone */
		break;
	case EMU_ALU_DEC:
		r = (a - 1) & m;
		f = sub_flags(a, 1, r, size);
		written &= ~X86_FLAGS_CF;
		break;
	case EMU_ALU_NEG:
		r = (0 - a) & m;
		f = sub_flags(0, a, r, size);	/* CF = (a != 0), as 0 - a borrows */
		break;
	case EMU_ALU_NOT:
	default:
		r = ~a & m;
		f = 0;
		written = 0;			/* NOT changes no flag */
		break;
	}
	*rflags = (*rflags & ~written) | (f & written);
	return r;
}

/* ---- operands -------------------------------------------------------------------------- */

enum alu_place { AT_RM, AT_REG, AT_ACC, AT_IMM };

struct alu_form {
	enum emu_alu_op op;
	unsigned size;
	enum alu_place dst, src;
};

/* Decodes which ALU instruction and operand form this is; false if it is none. */
static bool alu_form(const struct emu_insn *in, struct alu_form *f)
{
	uint8_t opc = in->opcode;
	unsigned v = in->opsize;

	if (in->map != EMU_MAP_1B)
		return false;
	if (opc < 0x40 && (opc & 7) < 6) {
		static const enum alu_place dst[6] = { AT_RM, AT_RM, AT_REG, AT_REG, AT_ACC, AT_ACC };
		static const enum alu_place src[6] = { AT_REG, AT_REG, AT_RM, AT_RM, AT_IMM, AT_IMM };
		*f = (struct alu_form){ (enum emu_alu_op)(opc >> 3), (opc & 1) ? v : 1, dst[opc & 7],
					src[opc & 7] };
		return true;
	}
	switch (opc) {
	case 0x80: case 0x82: *f = (struct alu_form){ in->reg & 7, 1, AT_RM, AT_IMM }; return true;
	case 0x81: case 0x83: *f = (struct alu_form){ in->reg & 7, v, AT_RM, AT_IMM }; return true;
	case 0x84: case 0x85:
		*f = (struct alu_form){ EMU_ALU_TEST, opc == 0x85 ? v : 1, AT_RM, AT_REG };
		return true;
	case 0xa8: case 0xa9:
		*f = (struct alu_form){ EMU_ALU_TEST, opc == 0xa9 ? v : 1, AT_ACC, AT_IMM };
		return true;
	case 0xf6: case 0xf7: {
		static const enum emu_alu_op g3[4] = { EMU_ALU_TEST, EMU_ALU_TEST, EMU_ALU_NOT,
						       EMU_ALU_NEG };
		if ((in->reg & 7) > 3)
			return false;			/* mul, imul, div, idiv */
		*f = (struct alu_form){ g3[in->reg & 7], opc == 0xf7 ? v : 1, AT_RM,
					(in->reg & 7) < 2 ? AT_IMM : AT_RM };
		return true;
	}
	case 0xfe: case 0xff:
		if ((in->reg & 7) > 1)
			return false;			/* call, jmp, push (ff); fe /2-/7 */
		*f = (struct alu_form){ (in->reg & 1) ? EMU_ALU_DEC : EMU_ALU_INC,
					opc == 0xff ? v : 1, AT_RM, AT_RM };
		return true;
	default:
		break;
	}
	if (opc >= 0x40 && opc <= 0x4f && in->mode != EMU_MODE_LONG64) {
		*f = (struct alu_form){ opc < 0x48 ? EMU_ALU_INC : EMU_ALU_DEC, v, AT_REG, AT_REG };
		return true;
	}
	return false;
}

static unsigned place_reg(const struct emu_insn *in, enum alu_place p)
{
	if (p == AT_ACC)
		return EMU_RAX;
	/* 40-4f name their register in the opcode; everything else in ModRM.reg. */
	return in->has_modrm ? in->reg : (unsigned)(in->opcode & 7);
}

static int read_place(struct emu_env *e, enum alu_place p, unsigned size, uint64_t *val)
{
	switch (p) {
	case AT_RM: return emu_rm_read(e, size, val);
	case AT_IMM: *val = e->insn->imm; return 0;
	default: *val = emu_reg_get(e, place_reg(e->insn, p), size); return 0;
	}
}

static bool writes_back(enum emu_alu_op op)
{
	return op != EMU_ALU_CMP && op != EMU_ALU_TEST;
}

struct alu_update {
	enum emu_alu_op op;
	unsigned size;
	uint64_t src;
};

static uint64_t alu_update(void *ctx, uint64_t old, uint64_t *rflags)
{
	const struct alu_update *u = ctx;
	return emu_alu(u->op, u->size, old, u->src, rflags);
}

static int locked_rmw(struct emu_env *e, const struct alu_form *f, uint64_t src, uint64_t *rflags)
{
	struct alu_update u = { f->op, f->size, src };
	uint64_t la;
	int r = emu_mem_linear(e, &la);

	return r ? r : emu_mem_locked_update(e, la, f->size, alu_update, &u, rflags);
}

int emu_exec_alu(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	struct alu_form f;
	uint64_t dst, src = 0, flags = e->cpu->rflags;
	int r;

	if (!alu_form(in, &f)) {
		/* fe /2-/7 are undefined (Vol 2D Table A-6, group 4): #UD. */
		if (in->map == EMU_MAP_1B && in->opcode == 0xfe)
			return emu_raise(e, EMU_VEC_UD, false, 0);
		e->res->status = EMU_UNSUPPORTED;
		return 0;
	}
	bool locked = in->prefixes & EMU_PFX_LOCK;
	/* Vol 2A "LOCK": only with a memory destination an instruction writes. */
	if (locked && (f.dst != AT_RM || !in->has_mem || !writes_back(f.op)))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (f.src != AT_RM || f.dst != AT_RM) {	/* one-operand forms read only the destination */
		if ((r = read_place(e, f.src, f.size, &src)))
			return r;
	}
	if (locked) {
		if ((r = locked_rmw(e, &f, src, &flags)))
			return r;
	} else {
		if ((r = read_place(e, f.dst, f.size, &dst)))
			return r;
		uint64_t res = emu_alu(f.op, f.size, dst, src, &flags);
		if (writes_back(f.op)) {
			if (f.dst == AT_RM)
				r = emu_rm_write(e, f.size, res);
			else
				emu_reg_set(e, place_reg(in, f.dst), f.size, res);
			if (r)
				return r;
		}
	}
	e->cpu->rflags = flags;
	emu_finish(e);
	return 0;
}
