// SPDX-License-Identifier: GPL-2.0-only
/*
 * cmpxchg8b m64 / cmpxchg16b m128 (0f c7 /1, Vol 2A "CMPXCHG8B/CMPXCHG16B"):
 * compare EDX:EAX (RDX:RAX with REX.W) with memory; if equal set ZF and
 * store ECX:EBX (RCX:RBX), else clear ZF and load memory into EDX:EAX.
 * Only ZF changes.  The memory part is one cmpxchg_phys call, which the
 * VMM makes atomic with respect to the other vCPUs.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/emulate/internal.h"

/*
 * An 8-byte operand that straddles two pages cannot be one host atomic:
 * the processor takes a bus lock there; we read, compare and write, which
 * other vCPUs may observe half-done.  Guests (Linux) never do this.
 */
static int cmpxchg_split(struct emu_env *e, uint64_t la, uint8_t *expected,
			 const uint8_t *desired, unsigned size, bool *swapped)
{
	uint8_t cur[16];
	int r;

	r = emu_read_linear(e->cpu, e->ops, e->ctx, la, cur, size, EMU_ACC_WRITE, &e->res->exc);
	if (!r) {
		*swapped = !memcmp(cur, expected, size);
		if (*swapped)
			r = emu_write_linear(e->cpu, e->ops, e->ctx, la, desired, size,
					     EMU_ACC_WRITE, &e->res->exc);
		else
			memcpy(expected, cur, size);
	}
	if (r == -EFAULT) {
		e->res->status = EMU_EXCEPTION;
		return EMU_RAISED;
	}
	return r;
}

static int cmpxchg_mem(struct emu_env *e, uint64_t la, uint8_t *expected,
		       const uint8_t *desired, unsigned size, bool *swapped)
{
	uint64_t gpa;
	int r;

	if ((la & (EMU_PAGE_SIZE - 1)) + size > EMU_PAGE_SIZE)
		return cmpxchg_split(e, la, expected, desired, size, swapped);
	if (!e->ops->cmpxchg_phys)
		return -ENOSYS;
	/* A locked access always writes (Vol 2A: "the destination is written back"). */
	if ((r = emu_translate_for_write(e, la, &gpa)))
		return r;
	*swapped = false;
	r = e->ops->cmpxchg_phys(e->ctx, gpa, expected, desired, size, swapped);
	return emu_cb_err(r);
}

int emu_exec_cmpxchg(struct emu_env *e)
{
	const struct emu_insn *in = e->insn;
	unsigned size = (in->rex & 8) ? 16 : 8, half = size / 2;
	uint8_t expected[16], desired[16];
	bool swapped = false;
	uint64_t la;
	int r;

	if (!in->has_mem)
		return emu_raise(e, EMU_VEC_UD, false, 0);	/* register operand */
	r = emu_mem_linear(e, &la);
	if (r)
		return r;
	if (size == 16 && (la & 15))
		return emu_raise(e, EMU_VEC_GP, true, 0);
	if (!emu_la_canonical(e->cpu, la + size - 1))
		return emu_raise(e, in->seg == EMU_SEG_SS ? EMU_VEC_SS : EMU_VEC_GP, true, 0);

	emu_le_put(expected, half, emu_reg_get(e, EMU_RAX, half));
	emu_le_put(expected + half, half, emu_reg_get(e, EMU_RDX, half));
	emu_le_put(desired, half, emu_reg_get(e, EMU_RBX, half));
	emu_le_put(desired + half, half, emu_reg_get(e, EMU_RCX, half));
	r = cmpxchg_mem(e, la, expected, desired, size, &swapped);
	if (r)
		return r;

	if (swapped) {
		e->cpu->rflags |= X86_FLAGS_ZF;
	} else {
		e->cpu->rflags &= ~X86_FLAGS_ZF;
		emu_reg_set(e, EMU_RAX, half, emu_le_get(expected, half));
		emu_reg_set(e, EMU_RDX, half, emu_le_get(expected + half, half));
	}
	emu_finish(e);
	return 0;
}
