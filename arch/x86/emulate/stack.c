// SPDX-License-Identifier: GPL-2.0-only
/*
 * Near control transfers and the stack (SDM Vol 2A/2B, each instruction's
 * page; Vol 1 §6.2-6.3):
 *   PUSH r (50+r), r/m (ff /6), imm (68 6a); POP r (58+r), r/m (8f /0)
 *   CALL rel (e8), r/m (ff /2); RET (c3), RET imm16 (c2)
 *   JMP rel8/rel32 (eb e9), r/m (ff /4); Jcc rel8 (70-7f), rel32 (0f 80-8f)
 *   LOOP LOOPE LOOPNE (e2 e1 e0), JCXZ/JECXZ/JRCXZ (e3)
 * In 64-bit mode stack operations and near branches default to 64 bits
 * (a 66 prefix makes push/pop 16-bit; a 66-prefixed near branch, where
 * Intel and AMD differ, is left unsupported).  Elsewhere the stack pointer
 * is SP or ESP by SS.D/B and the branch target is masked to the operand
 * size.  A target that is not canonical is #GP(0) before anything moves.
 */
#include "arch/x86/emulate/internal.h"

static bool long64(const struct emu_env *e)
{
	return e->insn->mode == EMU_MODE_LONG64;
}

/* Operand size of a stack operation or near branch. */
static unsigned stack_opsize(const struct emu_env *e)
{
	if (long64(e))
		return (e->insn->prefixes & EMU_PFX_OPSIZE) && !(e->insn->rex & 8) ? 2 : 8;
	return e->insn->opsize;
}

/* Width of the stack pointer: RSP, ESP or SP. */
static uint64_t sp_mask(const struct emu_env *e)
{
	if (long64(e))
		return ~0ULL;
	return e->cpu->ss_db ? 0xffffffffULL : 0xffffULL;
}

static uint64_t sp_after(const struct emu_env *e, int64_t delta)
{
	uint64_t m = sp_mask(e), sp = e->cpu->gpr[EMU_RSP];
	return (sp & ~m) | ((sp + (uint64_t)delta) & m);
}

static uint64_t stack_la(const struct emu_env *e, uint64_t sp)
{
	uint64_t base = long64(e) ? 0 : e->cpu->seg_base[EMU_SEG_SS];
	return (base + (sp & sp_mask(e))) & emu_la_mask(e->cpu);
}

static int stack_check(struct emu_env *e, uint64_t la)
{
	/* A stack reference that is not canonical is #SS(0) (Vol 3A §6.15). */
	return emu_la_canonical(e->cpu, la) ? 0 : emu_raise(e, EMU_VEC_SS, true, 0);
}

/* Pushes val; RSP moves only once the write succeeded. */
static int push(struct emu_env *e, unsigned size, uint64_t val)
{
	uint64_t sp = sp_after(e, -(int64_t)size), la = stack_la(e, sp);
	uint8_t buf[8];
	int r;

	emu_le_put(buf, size, val);
	if ((r = stack_check(e, la)) || (r = emu_mem_write(e, la, buf, size)))
		return r;
	e->cpu->gpr[EMU_RSP] = sp;
	return 0;
}

/* Reads the top of the stack without moving RSP. */
static int peek(struct emu_env *e, unsigned size, uint64_t *val)
{
	uint64_t la = stack_la(e, e->cpu->gpr[EMU_RSP]);
	uint8_t buf[8];
	int r;

	if ((r = stack_check(e, la)) || (r = emu_mem_read(e, la, buf, size)))
		return r;
	*val = emu_le_get(buf, size);
	return 0;
}

/* Ends the instruction at target: masked to the operand size outside 64-bit mode. */
static int branch(struct emu_env *e, uint64_t target, unsigned size)
{
	if (long64(e)) {
		if (!emu_la_canonical(e->cpu, target))
			return emu_raise(e, EMU_VEC_GP, true, 0);
	} else {
		target &= size == 2 ? 0xffffULL : 0xffffffffULL;
	}
	e->cpu->rip = target;
	e->cpu->rflags &= ~X86_FLAGS_RF;
	e->res->status = EMU_DONE;
	return 0;
}

static uint64_t next_rip(const struct emu_env *e)
{
	return e->cpu->rip + e->insn->len;
}

/* LOOPcc / JrCXZ: the count register has the address size. */
static int exec_loop(struct emu_env *e, unsigned size)
{
	const struct emu_insn *in = e->insn;
	unsigned asz = in->addrsize;
	uint64_t count = emu_reg_get(e, EMU_RCX, asz);
	bool zf = e->cpu->rflags & X86_FLAGS_ZF, taken;

	if (in->opcode == 0xe3) {
		taken = count == 0;
	} else {
		count = (count - 1) & (asz >= 8 ? ~0ULL : (1ULL << (8 * asz)) - 1);
		taken = count != 0 && (in->opcode == 0xe2 || (in->opcode == 0xe1) == zf);
	}
	if (taken) {
		int r = branch(e, next_rip(e) + in->imm, size);
		if (r)
			return r;
	} else {
		emu_finish(e);
	}
	if (in->opcode != 0xe3)
		emu_reg_set(e, EMU_RCX, asz, count);
	return 0;
}

int emu_exec_stack(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint8_t opc = in->opcode;
	unsigned size = stack_opsize(e);
	uint64_t v;
	int r;

	if (in->prefixes & EMU_PFX_LOCK)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	bool near_branch = in->map == EMU_MAP_0F || (opc >= 0x70 && opc <= 0x7f) ||
			   (opc >= 0xe0 && opc <= 0xe3) || opc == 0xe8 || opc == 0xe9 || opc == 0xeb ||
			   opc == 0xc2 || opc == 0xc3 || (opc == 0xff && ((in->reg & 7) == 2 || (in->reg & 7) == 4));
	if (near_branch && long64(e) && (in->prefixes & EMU_PFX_OPSIZE)) {
		e->res->status = EMU_UNSUPPORTED;
		return 0;
	}

	if (in->map == EMU_MAP_0F || (opc >= 0x70 && opc <= 0x7f)) {
		if (emu_cond(opc & 15, e->cpu->rflags))
			return branch(e, next_rip(e) + in->imm, size);
		emu_finish(e);
		return 0;
	}
	if (opc >= 0x50 && opc <= 0x57) {		/* push r */
		unsigned reg = (opc & 7) | ((in->rex & 1) << 3);
		if ((r = push(e, size, emu_reg_get(e, reg, size))))
			return r;
	} else if (opc >= 0x58 && opc <= 0x5f) {	/* pop r */
		unsigned reg = (opc & 7) | ((in->rex & 1) << 3);
		if ((r = peek(e, size, &v)))
			return r;
		e->cpu->gpr[EMU_RSP] = sp_after(e, size);
		emu_reg_set(e, reg, size, v);		/* pop rsp: the popped value wins */
	} else if (opc == 0x68 || opc == 0x6a) {	/* push imm (sign-extended) */
		if ((r = push(e, size, in->imm)))
			return r;
	} else if (opc == 0x8f) {			/* pop r/m */
		if (in->reg & 7) {
			e->res->status = EMU_UNSUPPORTED;	/* xop */
			return 0;
		}
		if ((r = peek(e, size, &v)))
			return r;
		/* The address is computed with RSP already incremented (Vol 2B "POP"). */
		uint64_t saved = e->cpu->gpr[EMU_RSP];
		e->cpu->gpr[EMU_RSP] = sp_after(e, size);
		if ((r = emu_rm_write(e, size, v))) {
			e->cpu->gpr[EMU_RSP] = saved;
			return r;
		}
	} else if (opc == 0xe8) {			/* call rel */
		uint64_t target = next_rip(e) + in->imm;
		if (long64(e) && !emu_la_canonical(e->cpu, target))
			return emu_raise(e, EMU_VEC_GP, true, 0);
		if ((r = push(e, size, next_rip(e))))
			return r;
		return branch(e, target, size);
	} else if (opc == 0xe9 || opc == 0xeb) {	/* jmp rel */
		return branch(e, next_rip(e) + in->imm, size);
	} else if (opc == 0xc2 || opc == 0xc3) {	/* ret [imm16] */
		if ((r = peek(e, size, &v)))
			return r;
		uint64_t saved = e->cpu->gpr[EMU_RSP];
		e->cpu->gpr[EMU_RSP] = sp_after(e, (int64_t)size + (opc == 0xc2 ? (int64_t)(in->imm & 0xffff) : 0));
		if ((r = branch(e, v, size)))
			e->cpu->gpr[EMU_RSP] = saved;
		return r;
	} else if (opc >= 0xe0 && opc <= 0xe3) {
		return exec_loop(e, size);
	} else if (opc == 0xff) {
		unsigned op = in->reg & 7;
		if (op != 2 && op != 4 && op != 6) {
			e->res->status = EMU_UNSUPPORTED;	/* far call/jmp, inc/dec elsewhere */
			return 0;
		}
		if ((r = emu_rm_read(e, size, &v)))
			return r;
		if (op == 6)				/* push r/m */
			r = push(e, size, v);
		else if (op == 4)			/* jmp r/m */
			return branch(e, v, size);
		else {					/* call r/m */
			if (long64(e) && !emu_la_canonical(e->cpu, v))
				return emu_raise(e, EMU_VEC_GP, true, 0);
			if ((r = push(e, size, next_rip(e))))
				return r;
			return branch(e, v, size);
		}
		if (r)
			return r;
	} else {
		e->res->status = EMU_UNSUPPORTED;
		return 0;
	}
	emu_finish(e);
	return 0;
}
