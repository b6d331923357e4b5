// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest-linear memory: canonical checks, then the page walk for each
 * 4 KiB piece, then the physical callbacks.  A write is translated in full
 * before the first byte is stored, so a fault on its second page leaves
 * memory untouched (as the processor does, Vol 3A §6.5 "faults").
 */
#include <errno.h>

#include "arch/x86/emulate/internal.h"

/* Outside 64-bit mode linear addresses are 32 bits and wrap (Vol 3A §3.4). */
uint64_t emu_la_mask(const struct emu_cpu *cpu)
{
	return emu_cpu_mode(cpu) == EMU_MODE_LONG64 ? ~0ULL : 0xffffffffULL;
}

/* Vol 1 §3.3.7.1: 48 (or 57 with CR4.LA57) significant bits, sign-extended. */
bool emu_la_canonical(const struct emu_cpu *cpu, uint64_t la)
{
	unsigned bits = (cpu->cr4 & X86_CR4_LA57) ? 57 : 48;
	int64_t top;

	if (emu_cpu_mode(cpu) != EMU_MODE_LONG64)
		return true;
	top = (int64_t)la >> (bits - 1);
	return top == 0 || top == -1;
}

static int access_fault(struct emu_exception *exc, uint8_t vector, uint32_t code, uint64_t cr2)
{
	*exc = (struct emu_exception){
		.vector = vector,
		.has_error_code = true,
		.error_code = code,
		.has_cr2 = vector == EMU_VEC_PF,
		.cr2 = cr2,
	};
	return -EFAULT;
}

/*
 * Walks [la, la+len) page by page.  With buf == NULL it only translates
 * (the first pass of a write); otherwise it reads into or writes from buf.
 */
static int access_pages(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
			void *ctx, uint64_t la, uint8_t *rbuf, const uint8_t *wbuf,
			size_t len, unsigned access, struct emu_exception *exc)
{
	uint64_t mask = emu_la_mask(cpu);
	size_t off = 0;

	while (off < len) {
		uint64_t cur = (la + off) & mask, gpa;
		size_t n = EMU_PAGE_SIZE - (cur & (EMU_PAGE_SIZE - 1));
		uint32_t err = 0;
		int r;

		if (n > len - off)
			n = len - off;
		r = emu_mmu_translate(cpu, ops, ctx, cur, access, &gpa, &err);
		if (r == -EFAULT)
			return access_fault(exc, EMU_VEC_PF, err, cur);
		if (r)
			return r;
		if (rbuf)
			r = ops->read_phys(ctx, gpa, rbuf + off, n);
		else if (wbuf)
			r = ops->write_phys(ctx, gpa, wbuf + off, n);
		if (r)
			return emu_cb_err(r);
		off += n;
	}
	return 0;
}

static int access_check(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
			uint64_t la, size_t len, struct emu_exception *exc)
{
	if (!cpu || !ops || !ops->read_phys || !ops->write_phys || !exc)
		return -EINVAL;
	if (!emu_la_canonical(cpu, la) || !emu_la_canonical(cpu, la + len - 1))
		return access_fault(exc, EMU_VEC_GP, 0, 0);
	return 0;
}

int emu_read_linear(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		    void *ctx, uint64_t la, void *buf, size_t len,
		    unsigned access, struct emu_exception *exc)
{
	int r;

	if (!len)
		return 0;
	if (!buf)
		return -EINVAL;
	r = access_check(cpu, ops, la, len, exc);
	return r ? r : access_pages(cpu, ops, ctx, la, buf, NULL, len, access, exc);
}

int emu_write_linear(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		     void *ctx, uint64_t la, const void *buf, size_t len,
		     unsigned access, struct emu_exception *exc)
{
	int r;

	if (!len)
		return 0;
	if (!buf)
		return -EINVAL;
	r = access_check(cpu, ops, la, len, exc);
	if (!r && (la & (EMU_PAGE_SIZE - 1)) + len > EMU_PAGE_SIZE)
		r = access_pages(cpu, ops, ctx, la, NULL, NULL, len, access | EMU_ACC_WRITE, exc);
	return r ? r : access_pages(cpu, ops, ctx, la, NULL, buf, len, access | EMU_ACC_WRITE, exc);
}
