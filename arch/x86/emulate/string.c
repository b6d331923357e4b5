// SPDX-License-Identifier: GPL-2.0-only
/*
 * String instructions (SDM Vol 2B "MOVS", "CMPS", "STOS", "LODS", "SCAS",
 * Vol 2A "INS", Vol 2B "OUTS"; Vol 1 §7.3.9), with REP / REPE / REPNE:
 *   a4/a5 MOVS  a6/a7 CMPS  aa/ab STOS  ac/ad LODS  ae/af SCAS
 *   6c/6d INS   6e/6f OUTS
 * The source is seg:rSI (DS unless overridden), the destination ES:rDI;
 * rSI/rDI/rCX have the address size; DF picks the direction.  Each element
 * is its own bus access, so RAM, MMIO and ports all work.  A repeated
 * instruction runs at most STRING_BATCH elements per call and leaves RIP
 * on itself with the registers of the elements done: the vCPU simply
 * executes it again (restartable, as the CPU is after an interrupt), and a
 * fault in element k leaves the k - 1 before it done.
 */
#include "arch/x86/emulate/internal.h"

#define STRING_BATCH 4096

/* seg:offset as a linear address, checked canonical (#SS for SS, else #GP). */
static int string_la(struct emu_env *e, unsigned seg, uint64_t off, uint64_t *la)
{
	const struct emu_cpu *cpu = e->cpu;
	uint64_t base = 0;

	off &= emu_size_mask(e->insn->addrsize);
	if (e->insn->mode != EMU_MODE_LONG64 || seg == EMU_SEG_FS || seg == EMU_SEG_GS)
		base = cpu->seg_base[seg % 6];
	*la = (base + off) & emu_la_mask(cpu);
	if (!emu_la_canonical(cpu, *la))
		return emu_raise(e, seg == EMU_SEG_SS ? EMU_VEC_SS : EMU_VEC_GP, true, 0);
	return 0;
}

static int load(struct emu_env *e, unsigned seg, uint64_t off, unsigned size, uint64_t *val)
{
	uint8_t buf[8];
	uint64_t la;
	int r;

	if ((r = string_la(e, seg, off, &la)) || (r = emu_mem_read(e, la, buf, size)))
		return r;
	*val = emu_le_get(buf, size);
	return 0;
}

static int store(struct emu_env *e, uint64_t off, unsigned size, uint64_t val)
{
	uint8_t buf[8];
	uint64_t la;
	int r;

	emu_le_put(buf, size, val);
	if ((r = string_la(e, EMU_SEG_ES, off, &la)) || (r = emu_mem_write(e, la, buf, size)))
		return r;
	return 0;
}

/* Adds delta to an index register within the address size, keeping the bits above it. */
static void advance(struct emu_env *e, unsigned reg, int64_t delta)
{
	unsigned asz = e->insn->addrsize;
	emu_reg_set(e, reg, asz, emu_reg_get(e, reg, asz) + (uint64_t)delta);
}

/* IN/OUT from CPL > IOPL is #GP(0) (the TSS I/O bitmap is not consulted). */
static bool io_allowed(const struct emu_env *e)
{
	bool real = !(e->cpu->cr0 & X86_CR0_PE);
	return real || e->cpu->cpl <= ((e->cpu->rflags >> 12) & 3);
}

/* One element; sets *stop for a CMPS/SCAS whose REPE/REPNE condition ends the loop. */
static int element(struct emu_env *e, unsigned size, int64_t step, bool *stop)
{
	const struct emu_insn *in = e->insn;
	uint64_t si = e->cpu->gpr[EMU_RSI], di = e->cpu->gpr[EMU_RDI], a, b;
	uint16_t port = (uint16_t)e->cpu->gpr[EMU_RDX];
	uint8_t buf[4] = { 0 };
	int r;

	switch (in->opcode & ~1) {
	case 0xa4:					/* movs */
		if ((r = load(e, in->seg, si, size, &a)) || (r = store(e, di, size, a)))
			return r;
		advance(e, EMU_RSI, step);
		advance(e, EMU_RDI, step);
		break;
	case 0xa6:					/* cmps: [rSI] - [rDI] */
		if ((r = load(e, in->seg, si, size, &a)) || (r = load(e, EMU_SEG_ES, di, size, &b)))
			return r;
		emu_alu(EMU_ALU_CMP, size, a, b, &e->cpu->rflags);
		advance(e, EMU_RSI, step);
		advance(e, EMU_RDI, step);
		break;
	case 0xaa:					/* stos */
		if ((r = store(e, di, size, emu_reg_get(e, EMU_RAX, size))))
			return r;
		advance(e, EMU_RDI, step);
		break;
	case 0xac:					/* lods */
		if ((r = load(e, in->seg, si, size, &a)))
			return r;
		emu_reg_set(e, EMU_RAX, size, a);
		advance(e, EMU_RSI, step);
		break;
	case 0xae:					/* scas: rAX - [rDI] */
		if ((r = load(e, EMU_SEG_ES, di, size, &b)))
			return r;
		emu_alu(EMU_ALU_CMP, size, emu_reg_get(e, EMU_RAX, size), b, &e->cpu->rflags);
		advance(e, EMU_RDI, step);
		break;
	case 0x6c: {					/* ins: the write is checked before the port is read */
		uint64_t la;
		uint8_t probe[4];
		if ((r = string_la(e, EMU_SEG_ES, di, &la)) ||
		    (r = emu_mem_read(e, la, probe, size)))
			return r;
		if ((r = emu_cb_err(e->ops->pio(e->ctx, port, buf, size, false))))
			return r;
		if ((r = store(e, di, size, emu_le_get(buf, size))))
			return r;
		advance(e, EMU_RDI, step);
		break;
	}
	default:					/* 6e outs */
		if ((r = load(e, in->seg, si, size, &a)))
			return r;
		emu_le_put(buf, size, a);
		if ((r = emu_cb_err(e->ops->pio(e->ctx, port, buf, size, true))))
			return r;
		advance(e, EMU_RSI, step);
		break;
	}
	if ((in->opcode & ~1) == 0xa6 || (in->opcode & ~1) == 0xae) {
		bool zf = e->cpu->rflags & X86_FLAGS_ZF;
		*stop = (in->last_rep == 0xf3 && !zf) || (in->last_rep == 0xf2 && zf);
	}
	return 0;
}

int emu_exec_string(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	bool io = in->opcode < 0x70;
	unsigned size = !(in->opcode & 1) ? 1 : io && in->opsize == 8 ? 4 : in->opsize;
	int64_t step = (e->cpu->rflags & (1ULL << 10)) ? -(int64_t)size : (int64_t)size;	/* DF */
	bool rep = in->last_rep != 0;
	unsigned asz = in->addrsize;

	if (in->prefixes & EMU_PFX_LOCK)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	if (io && !e->ops->pio) {
		e->res->status = EMU_UNSUPPORTED;
		return 0;
	}
	if (io && !io_allowed(e))
		return emu_raise(e, EMU_VEC_GP, true, 0);
	for (unsigned done = 0; done < STRING_BATCH; done++) {
		if (rep && emu_reg_get(e, EMU_RCX, asz) == 0)
			break;
		bool stop = false;
		int r = element(e, size, step, &stop);
		if (r)
			return r;
		if (!rep)
			break;
		emu_reg_set(e, EMU_RCX, asz, emu_reg_get(e, EMU_RCX, asz) - 1);
		if (stop)
			break;
		if (done + 1 == STRING_BATCH && emu_reg_get(e, EMU_RCX, asz) != 0) {
			/* More to do: leave RIP here so the instruction runs again. */
			e->cpu->rflags &= ~X86_FLAGS_RF;
			e->res->status = EMU_DONE;
			return 0;
		}
	}
	emu_finish(e);
	return 0;
}
