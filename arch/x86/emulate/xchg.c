// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exchanges (SDM Vol 2B "XCHG", "XADD", Vol 2A "CMPXCHG"):
 *   XCHG r/m, r (86 87) and rAX, r (90+r): with a memory operand the
 *     processor locks the access whether or not LOCK is given
 *   XADD r/m, r (0f c0 c1): dst = dst + src, src = old dst, ADD's flags
 *   CMPXCHG r/m, r (0f b0 b1): compare rAX with dst (CMP's flags); equal:
 *     dst = src, else rAX = dst (the destination is written back either way)
 * Memory forms that are locked (XCHG always, the others with LOCK) are one
 * compare-exchange on guest RAM (emu_mem_locked_update), so they stay
 * atomic against other vCPUs.
 */
#include "arch/x86/emulate/internal.h"

enum xchg_kind { KIND_XCHG, KIND_XADD, KIND_CMPXCHG };

struct xchg_update {
	enum xchg_kind kind;
	unsigned size;
	uint64_t src, acc;   /* the register operand, rAX for CMPXCHG */
	uint64_t old;        /* out: the destination's value before */
};

static uint64_t xchg_update(void *ctx, uint64_t old, uint64_t *rflags)
{
	struct xchg_update *u = ctx;

	u->old = old;
	switch (u->kind) {
	case KIND_XCHG:
		return u->src;
	case KIND_XADD:
		return emu_alu(EMU_ALU_ADD, u->size, old, u->src, rflags);
	case KIND_CMPXCHG:
	default:
		emu_alu(EMU_ALU_CMP, u->size, u->acc, old, rflags);
		return u->acc == old ? u->src : old;
	}
}

int emu_exec_xchg(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	uint8_t opc = in->opcode;
	bool byte = (opc & 1) == 0 && (opc == 0x86 || in->map == EMU_MAP_0F);
	unsigned size = byte ? 1 : in->opsize;
	uint64_t flags = e->cpu->rflags;
	struct xchg_update u = { .size = size };
	unsigned reg = in->reg, dst_reg = in->rm;
	bool mem = in->has_mem;
	int r;

	if (in->map == EMU_MAP_0F)
		u.kind = opc >= 0xc0 ? KIND_XADD : KIND_CMPXCHG;
	else
		u.kind = KIND_XCHG;
	if (in->map == EMU_MAP_1B && opc >= 0x90) {
		/* 90+r: xchg rAX, r (REX.B extends the register). */
		reg = EMU_RAX;
		dst_reg = (opc & 7) | ((in->rex & 1) << 3);
		mem = false;
	}
	if ((in->prefixes & EMU_PFX_LOCK) && !mem)
		return emu_raise(e, EMU_VEC_UD, false, 0);
	u.src = emu_reg_get(e, reg, size);
	u.acc = emu_reg_get(e, EMU_RAX, size);

	if (mem) {
		uint64_t la;
		if ((r = emu_mem_linear(e, &la)))
			return r;
		if (u.kind == KIND_XCHG || (in->prefixes & EMU_PFX_LOCK)) {
			r = emu_mem_locked_update(e, la, size, xchg_update, &u, &flags);
		} else {
			uint8_t buf[8];
			if (!(r = emu_mem_read(e, la, buf, size))) {
				emu_le_put(buf, size, xchg_update(&u, emu_le_get(buf, size), &flags));
				r = emu_mem_write(e, la, buf, size);
			}
		}
		if (r)
			return r;
	} else {
		uint64_t res = xchg_update(&u, emu_reg_get(e, dst_reg, size), &flags);
		emu_reg_set(e, dst_reg, size, res);
	}
	/* The register operand gets the old destination (XCHG, XADD); CMPXCHG reloads rAX on a miss. */
	if (u.kind == KIND_CMPXCHG) {
		if (u.acc != u.old)
			emu_reg_set(e, EMU_RAX, size, u.old);
	} else if (!(u.kind == KIND_XCHG && !mem && reg == dst_reg)) {
		emu_reg_set(e, reg, size, u.old);
	}
	e->cpu->rflags = flags;
	emu_finish(e);
	return 0;
}
