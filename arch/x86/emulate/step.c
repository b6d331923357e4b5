// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VMM's entry point: pick the mode, get the instruction bytes (from
 * KVM or by fetching CS:RIP through the page walk), decode, execute.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/emulate/internal.h"

enum emu_mode emu_cpu_mode(const struct emu_cpu *cpu)
{
	if (!(cpu->cr0 & X86_CR0_PE) || (cpu->rflags & X86_FLAGS_VM))
		return EMU_MODE_REAL16;
	if ((cpu->efer & X86_EFER_LMA) && cpu->cs_l)
		return EMU_MODE_LONG64;
	return cpu->cs_db ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
}

/*
 * Fetches the rest of the page first and only then the next page, so an
 * instruction that ends before a page boundary never faults on the page
 * after it (Vol 3A §6.5: the fault belongs to the bytes really fetched).
 */
static int step_fetch_decode(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
			     void *ctx, enum emu_mode mode, struct emu_insn *insn,
			     struct emu_result *res)
{
	uint64_t ip = mode == EMU_MODE_LONG64 ? cpu->rip :
		      mode == EMU_MODE_PROT32 ? cpu->rip & 0xffffffffULL : cpu->rip & 0xffffULL;
	uint64_t la = ((mode == EMU_MODE_LONG64 ? 0 : cpu->seg_base[EMU_SEG_CS]) + ip) &
		      emu_la_mask(cpu);
	size_t n = EMU_PAGE_SIZE - (la & (EMU_PAGE_SIZE - 1));
	uint8_t buf[EMU_MAX_INSN_LEN];
	int r;

	if (n > EMU_MAX_INSN_LEN)
		n = EMU_MAX_INSN_LEN;
	for (;;) {
		r = emu_read_linear(cpu, ops, ctx, la, buf, n, EMU_ACC_FETCH, &res->exc);
		if (r == -EFAULT) {
			res->status = EMU_EXCEPTION;
			return EMU_RAISED;
		}
		if (r)
			return r;
		r = emu_decode(buf, n, mode, insn);
		if (r != -ENODATA || n == EMU_MAX_INSN_LEN)
			return r;
		n = EMU_MAX_INSN_LEN;
	}
}

int emu_step(struct emu_cpu *cpu, const uint8_t *bytes, size_t nbytes,
	     const struct emu_mem_ops *ops, void *ctx,
	     struct emu_insn *insn, struct emu_result *res)
{
	enum emu_mode mode;
	int r = -ENODATA;

	if (!cpu || !ops || !insn || !res)
		return -EINVAL;
	memset(res, 0, sizeof(*res));
	mode = emu_cpu_mode(cpu);
	if (bytes && nbytes)
		r = emu_decode(bytes, nbytes, mode, insn);
	if (r == -ENODATA)
		r = step_fetch_decode(cpu, ops, ctx, mode, insn, res);
	if (r == EMU_RAISED)
		return 0;
	if (r == -E2BIG) {
		/* Vol 2A §2.3.11: more than 15 bytes is #GP(0). */
		res->status = EMU_EXCEPTION;
		res->exc = (struct emu_exception){ .vector = EMU_VEC_GP, .has_error_code = true };
		return 0;
	}
	if (r)
		return r;
	return emu_execute(cpu, insn, ops, ctx, res);
}

size_t emu_insn_format(const struct emu_insn *insn, char *buf, size_t size)
{
	size_t used = 0;

	if (!size)
		return 0;
	buf[0] = '\0';
	for (unsigned i = 0; insn && i < insn->len && i < EMU_MAX_INSN_LEN; i++) {
		int n = snprintf(buf + used, size - used, i ? " %02x" : "%02x", insn->bytes[i]);

		if (n < 0 || (size_t)n >= size - used)
			break;
		used += (size_t)n;
	}
	return used;
}
