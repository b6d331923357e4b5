// SPDX-License-Identifier: GPL-2.0-only
/*
 * Operands of a decoded instruction: general-purpose registers by size,
 * the effective and linear address of a memory operand, and reading or
 * writing a ModRM r/m operand wherever it lives.  Also the bookkeeping
 * every instruction ends with (advance RIP, or raise an exception).
 */
#include <errno.h>

#include "arch/x86/emulate/internal.h"

uint64_t emu_le_get(const uint8_t *p, unsigned size)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < size && i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

void emu_le_put(uint8_t *p, unsigned size, uint64_t val)
{
	for (unsigned i = 0; i < size && i < 8; i++)
		p[i] = (uint8_t)(val >> (8 * i));
}

/* Without any REX prefix, byte registers 4-7 are AH CH DH BH (Vol 2A §2.2.1.2). */
static bool reg_is_high_byte(const struct emu_env *e, unsigned reg, unsigned size)
{
	return size == 1 && !e->insn->rex && reg >= 4 && reg < 8;
}

uint64_t emu_reg_get(const struct emu_env *e, unsigned reg, unsigned size)
{
	if (reg_is_high_byte(e, reg, size))
		return (e->cpu->gpr[reg - 4] >> 8) & 0xff;
	return e->cpu->gpr[reg & 15] & emu_size_mask(size);
}

/* 8- and 16-bit writes keep the other bits; 32-bit writes zero-extend (Vol 1 §3.4.1.1). */
void emu_reg_set(struct emu_env *e, unsigned reg, unsigned size, uint64_t val)
{
	uint64_t *r;

	if (reg_is_high_byte(e, reg, size)) {
		r = &e->cpu->gpr[reg - 4];
		*r = (*r & ~0xff00ULL) | (val & 0xff) << 8;
		return;
	}
	r = &e->cpu->gpr[reg & 15];
	if (size >= 4)
		*r = val & emu_size_mask(size);
	else
		*r = (*r & ~emu_size_mask(size)) | (val & emu_size_mask(size));
}

int emu_raise(struct emu_env *e, uint8_t vector, bool has_error_code, uint32_t error_code)
{
	e->res->status = EMU_EXCEPTION;
	e->res->exc = (struct emu_exception){
		.vector = vector,
		.has_error_code = has_error_code,
		.error_code = error_code,
	};
	return EMU_RAISED;
}

/*
 * The instruction completed: move RIP past it (wrapping as the code size
 * does) and clear RFLAGS.RF (Vol 3A §18.3.1.1).
 */
void emu_finish(struct emu_env *e)
{
	uint64_t rip = e->cpu->rip + e->insn->len;

	switch (e->insn->mode) {
	case EMU_MODE_LONG64: break;
	case EMU_MODE_PROT32: rip &= 0xffffffffULL; break;
	default: rip &= 0xffffULL; break;
	}
	e->cpu->rip = rip;
	e->cpu->rflags &= ~X86_FLAGS_RF;
	e->res->status = EMU_DONE;
}

/*
 * Linear address of the memory operand (Vol 1 §3.7.5, Vol 3A §3.4):
 * base + index * scale + disp, truncated to the address size, plus the
 * segment base (only FS and GS have one in 64-bit mode).
 */
int emu_mem_linear(struct emu_env *e, uint64_t *la)
{
	const struct emu_insn *in = e->insn;
	const struct emu_cpu *cpu = e->cpu;
	uint64_t ea = in->disp, seg_base = 0;

	if (!in->has_mem)
		return -EINVAL;
	if (in->base >= 0)
		ea += cpu->gpr[in->base & 15];
	if (in->index >= 0)
		ea += cpu->gpr[in->index & 15] * in->scale;
	if (in->rip_rel)
		ea += cpu->rip + in->len;
	ea &= emu_size_mask(in->addrsize);

	if (in->mode != EMU_MODE_LONG64 || in->seg == EMU_SEG_FS || in->seg == EMU_SEG_GS)
		seg_base = cpu->seg_base[in->seg % 6];
	*la = (seg_base + ea) & emu_la_mask(cpu);

	/* Vol 3A §6.15: a non-canonical stack reference is #SS(0), else #GP(0). */
	if (!emu_la_canonical(cpu, *la))
		return emu_raise(e, in->seg == EMU_SEG_SS ? EMU_VEC_SS : EMU_VEC_GP, true, 0);
	return 0;
}

static int mem_result(struct emu_env *e, int r)
{
	if (r == -EFAULT) {
		e->res->status = EMU_EXCEPTION;
		return EMU_RAISED;
	}
	return r;
}

int emu_mem_read(struct emu_env *e, uint64_t la, void *buf, size_t len)
{
	return mem_result(e, emu_read_linear(e->cpu, e->ops, e->ctx, la, buf, len,
					     EMU_ACC_READ, &e->res->exc));
}

int emu_mem_write(struct emu_env *e, uint64_t la, const void *buf, size_t len)
{
	return mem_result(e, emu_write_linear(e->cpu, e->ops, e->ctx, la, buf, len,
					      EMU_ACC_WRITE, &e->res->exc));
}

int emu_rm_read(struct emu_env *e, unsigned size, uint64_t *val)
{
	uint8_t buf[8];
	uint64_t la;
	int r;

	if (!e->insn->has_mem) {
		*val = emu_reg_get(e, e->insn->rm, size);
		return 0;
	}
	r = emu_mem_linear(e, &la);
	if (!r)
		r = emu_mem_read(e, la, buf, size);
	if (!r)
		*val = emu_le_get(buf, size);
	return r;
}

int emu_rm_write(struct emu_env *e, unsigned size, uint64_t val)
{
	uint8_t buf[8];
	uint64_t la;
	int r;

	if (!e->insn->has_mem) {
		emu_reg_set(e, e->insn->rm, size, val);
		return 0;
	}
	r = emu_mem_linear(e, &la);
	if (r)
		return r;
	emu_le_put(buf, size, val);
	return emu_mem_write(e, la, buf, size);
}

int emu_translate_for_write(struct emu_env *e, uint64_t la, uint64_t *gpa)
{
	uint32_t err = 0;
	int r = emu_mmu_translate(e->cpu, e->ops, e->ctx, la, EMU_ACC_WRITE, gpa, &err);

	if (r == -EFAULT) {
		emu_raise(e, EMU_VEC_PF, true, err);
		e->res->exc.has_cr2 = true;
		e->res->exc.cr2 = la;
		return EMU_RAISED;
	}
	return r;
}

/*
 * One compare-exchange of the naturally aligned 8 bytes that hold the
 * operand, retried until no other vCPU changed them in between.  An
 * operand that straddles 8 bytes (the CPU takes a bus lock there) or
 * memory without compare-exchange (MMIO) falls back to a plain read and
 * write.
 */
int emu_mem_locked_update(struct emu_env *e, uint64_t la, unsigned size, emu_update_fn update,
			  void *ctx, uint64_t *rflags)
{
	uint64_t gpa, flags;
	int r = emu_translate_for_write(e, la, &gpa);

	if (r)
		return r;
	unsigned shift = (unsigned)(gpa & 7) * 8;
	if ((gpa & 7) + size <= 8 && e->ops->cmpxchg_phys) {
		uint64_t m = emu_size_mask(size), word = 0, zero = 0;
		bool swapped = false;
		/*
		 * A first exchange of 0 for 0 fetches the current word atomically
		 * and tells RAM from MMIO without touching a device register.
		 */
		r = e->ops->cmpxchg_phys(e->ctx, gpa & ~7ULL, &word, &zero, 8, &swapped);
		while (r == 0) {
			flags = *rflags;
			uint64_t res = update(ctx, (word >> shift) & m, &flags) & m;
			uint64_t desired = (word & ~(m << shift)) | (res << shift);
			r = e->ops->cmpxchg_phys(e->ctx, gpa & ~7ULL, &word, &desired, 8, &swapped);
			if (r == 0 && swapped) {
				*rflags = flags;
				return 0;
			}
		}
	}
	uint8_t buf[8];
	if ((r = emu_mem_read(e, la, buf, size)))
		return r;
	flags = *rflags;
	emu_le_put(buf, size, update(ctx, emu_le_get(buf, size), &flags));
	if ((r = emu_mem_write(e, la, buf, size)))
		return r;
	*rflags = flags;
	return 0;
}
