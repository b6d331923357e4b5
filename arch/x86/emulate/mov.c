// SPDX-License-Identifier: GPL-2.0-only
/*
 * MOV between registers, memory and immediates: 88 89 8a 8b c6 c7,
 * a0-a3 (moffs), and movzx/movsx 0f b6 b7 be bf (Vol 2B "MOV", "MOVZX",
 * "MOVSX").  These are what MMIO accesses compile to, so they are the
 * first forms user-space MMIO emulation needs.  No flags are changed.
 */
#include "arch/x86/emulate/internal.h"

/* movzx/movsx r, r/m8 or r/m16. */
static int mov_extend(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	unsigned src_size = (in->opcode & 1) ? 2 : 1;
	uint64_t v;
	int r;

	r = emu_rm_read(e, src_size, &v);
	if (r)
		return r;
	if (in->opcode >= 0xbe)
		v = emu_sign_extend(v, src_size);
	emu_reg_set(e, in->reg, in->opsize, v);
	return 0;
}

static int mov_1b(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	unsigned size = (in->opcode & 1) ? in->opsize : 1;
	uint64_t v;
	int r;

	switch (in->opcode) {
	case 0x88: case 0x89:		/* mov r/m, r */
		return emu_rm_write(e, size, emu_reg_get(e, in->reg, size));
	case 0x8a: case 0x8b:		/* mov r, r/m */
		r = emu_rm_read(e, size, &v);
		if (!r)
			emu_reg_set(e, in->reg, size, v);
		return r;
	case 0xa0: case 0xa1:		/* mov al/eax, moffs */
		r = emu_rm_read(e, size, &v);
		if (!r)
			emu_reg_set(e, EMU_RAX, size, v);
		return r;
	case 0xa2: case 0xa3:		/* mov moffs, al/eax */
		return emu_rm_write(e, size, emu_reg_get(e, EMU_RAX, size));
	case 0x63:			/* movsxd r, r/m32 (64-bit mode; without REX.W a plain move) */
		r = emu_rm_read(e, in->opsize == 2 ? 2 : 4, &v);
		if (!r)
			emu_reg_set(e, in->reg, in->opsize, in->opsize == 8 ? emu_sign_extend(v, 4) : v);
		return r;
	default:			/* c6 /0, c7 /0: mov r/m, imm (sign-extended) */
		return emu_rm_write(e, size, in->imm);
	}
}

int emu_exec_mov(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	int r;

	/* c6/c7 with reg != 0 are xabort/xbegin or undefined. */
	if (in->map == EMU_MAP_1B && (in->opcode == 0xc6 || in->opcode == 0xc7) && (in->reg & 7)) {
		e->res->status = EMU_UNSUPPORTED;
		return 0;
	}
	if (in->prefixes & EMU_PFX_LOCK)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	r = in->map == EMU_MAP_0F ? mov_extend(e) : mov_1b(e);
	if (!r)
		emu_finish(e);
	return r;
}
