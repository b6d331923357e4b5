// SPDX-License-Identifier: GPL-2.0-only
/*
 * Instruction execution: the dispatcher, and the instructions too small
 * for a file of their own (int3, fwait, clac/stac, popcnt).  MOV forms are
 * in mov.c, cmpxchg8b/16b in cmpxchg.c, the integer ALU in alu.c, shifts and
 * rotates in shift.c, multiply and divide in muldiv.c,
 * conditions and bit instructions in bitops.c, XCHG/XADD/CMPXCHG in xchg.c,
 * near branches and the stack in stack.c, string instructions in string.c.  An instruction either completes
 * (emu_finish) or raises an exception before changing any state.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/emulate/internal.h"

static int exec_unsupported(struct emu_env *e)
{
	e->res->status = EMU_UNSUPPORTED;
	return 0;
}

/*
 * LOCK on an instruction that cannot be locked is #UD (Vol 2A §2.1.1,
 * Vol 3A §8.1.2.2).
 */
static bool exec_locked(const struct emu_env *e)
{
	return e->insn->prefixes & EMU_PFX_LOCK;
}

/* int3 (cc): a trap, so the pushed RIP is the next instruction (Vol 3A §6.4.2). */
static int exec_int3(struct emu_env *e)
{
	if (exec_locked(e))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	emu_finish(e);
	emu_raise(e, EMU_VEC_BP, false, 0);
	e->res->exc.soft = true;
	return 0;
}

/*
 * fwait (9b): #NM if CR0.MP and CR0.TS are both set (Vol 2A "WAIT/FWAIT").
 * A pending unmasked x87 exception (#MF) is not visible here and is not
 * checked.
 */
static int exec_fwait(struct emu_env *e)
{
	if (exec_locked(e))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if ((e->cpu->cr0 & (X86_CR0_MP | X86_CR0_TS)) == (X86_CR0_MP | X86_CR0_TS))
		return emu_raise(e, EMU_VEC_NM, false, 0);
	emu_finish(e);
	return 0;
}

/* clac (0f 01 ca), stac (0f 01 cb): #UD with LOCK or at CPL > 0 (Vol 2A "CLAC"). */
static int exec_clac_stac(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;

	if (in->prefixes & (EMU_PFX_OPSIZE | EMU_PFX_REP | EMU_PFX_REPNE))
		return exec_unsupported(e);
	if (exec_locked(e) || e->cpu->cpl > 0)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (in->modrm == 0xca)
		e->cpu->rflags &= ~X86_FLAGS_AC;
	else
		e->cpu->rflags |= X86_FLAGS_AC;
	emu_finish(e);
	return 0;
}

/*
 * popcnt r, r/m (f3 0f b8 /r): ZF = (source == 0); OF SF AF CF PF cleared
 * (Vol 2B "POPCNT").
 */
static int exec_popcnt(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint64_t src;
	int r;

	if (in->last_rep != 0xf3)
		return exec_unsupported(e);	/* 0f b8 alone is jmpe (IA-64) */
	if (exec_locked(e))
		return emu_raise(e, EMU_VEC_UD, false, 0);
	r = emu_rm_read(e, in->opsize, &src);
	if (r)
		return r;
	emu_reg_set(e, in->reg, in->opsize, (uint64_t)__builtin_popcountll(src));
	e->cpu->rflags &= ~(X86_FLAGS_OF | X86_FLAGS_SF | X86_FLAGS_ZF |
			    X86_FLAGS_AF | X86_FLAGS_CF | X86_FLAGS_PF);
	if (!src)
		e->cpu->rflags |= X86_FLAGS_ZF;
	emu_finish(e);
	return 0;
}

static int exec_1b(struct emu_env *e)
{
	switch (e->insn->opcode) {
	case 0xcc:
		return exec_int3(e);
	case 0x9b:
		return exec_fwait(e);
	case 0x88: case 0x89: case 0x8a: case 0x8b:
	case 0xa0: case 0xa1: case 0xa2: case 0xa3:
	case 0xc6: case 0xc7:
		return emu_exec_mov(e);
	case 0x63:
		if (e->insn->mode == EMU_MODE_LONG64)
			return emu_exec_mov(e);	/* movsxd; arpl outside 64-bit mode */
		return exec_unsupported(e);
	case 0x86: case 0x87: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95:
	case 0x96: case 0x97:
		return emu_exec_xchg(e);
	case 0x90:
		/* nop, pause (f3 90); with REX.B it is xchg r8, rax */
		if (e->insn->rex & 1)
			return emu_exec_xchg(e);
		if (exec_locked(e))
			return emu_raise(e, EMU_VEC_UD, false, 0);
		emu_finish(e);
		return 0;
	case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3:
		return emu_exec_shift(e);
	case 0x69: case 0x6b:
		return emu_exec_muldiv(e);
	case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
	case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f:
	case 0x68: case 0x6a: case 0x8f:
	case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
	case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f:
	case 0xc2: case 0xc3: case 0xe0: case 0xe1: case 0xe2: case 0xe3: case 0xe8: case 0xe9:
	case 0xeb:
		return emu_exec_stack(e);
	case 0x6c: case 0x6d: case 0x6e: case 0x6f: case 0xa4: case 0xa5: case 0xa6: case 0xa7:
	case 0xaa: case 0xab: case 0xac: case 0xad: case 0xae: case 0xaf:
		return emu_exec_string(e);
	case 0xff:
		if ((e->insn->reg & 7) >= 2)
			return emu_exec_stack(e);	/* call, jmp, push (far forms unsupported) */
		return emu_exec_alu(e);			/* inc, dec */
	case 0xf6: case 0xf7:
		if ((e->insn->reg & 7) >= 4)
			return emu_exec_muldiv(e);
		return emu_exec_alu(e);
	default:
		return emu_exec_alu(e); /* unsupported unless it is an ALU form */
	}
}

static int exec_0f(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;

	switch (in->opcode) {
	case 0x01:
		if (in->modrm == 0xca || in->modrm == 0xcb)
			return exec_clac_stac(e);
		return exec_unsupported(e);
	case 0xb8:
		return exec_popcnt(e);
	case 0xaf:
		return emu_exec_muldiv(e);
	case 0xb0: case 0xb1: case 0xc0: case 0xc1:
		return emu_exec_xchg(e);
	case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
	case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f:
		return emu_exec_stack(e);		/* jcc rel16/32 */
	case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
	case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f:
	case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
	case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
	case 0xa3: case 0xab: case 0xb3: case 0xbb: case 0xba: case 0xbc: case 0xbd:
		return emu_exec_bitops(e);
	case 0xc7:
		if ((in->reg & 7) == 1)
			return emu_exec_cmpxchg(e);
		return exec_unsupported(e);
	case 0xb6: case 0xb7: case 0xbe: case 0xbf:
		return emu_exec_mov(e);
	default:
		return exec_unsupported(e);
	}
}

int emu_execute(struct emu_cpu *cpu, const struct emu_insn *insn,
		const struct emu_mem_ops *ops, void *ctx,
		struct emu_result *res)
{
	struct emu_env e = { .cpu = cpu, .insn = insn, .ops = ops, .ctx = ctx, .res = res };
	int r;

	if (!cpu || !insn || !ops || !res || !insn->len || insn->len > EMU_MAX_INSN_LEN)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	if (insn->invalid || insn->vex_len)
		r = exec_unsupported(&e);
	else if (insn->map == EMU_MAP_1B)
		r = exec_1b(&e);
	else if (insn->map == EMU_MAP_0F)
		r = exec_0f(&e);
	else
		r = exec_unsupported(&e);
	return r < 0 ? r : 0;
}
