/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Shared between the emulator's own files; the VMM includes emulate.h only.
 */
#ifndef EMBER_ARCH_X86_EMULATE_INTERNAL_H
#define EMBER_ARCH_X86_EMULATE_INTERNAL_H

#include <errno.h>

#include "arch/x86/emulate/emulate.h"

/* Architectural bits (SDM Vol 3A §2.5, §2.2.1, Vol 1 §3.4.3). */
#define X86_CR0_PE	(1ULL << 0)
#define X86_CR0_MP	(1ULL << 1)
#define X86_CR0_TS	(1ULL << 3)
#define X86_CR0_WP	(1ULL << 16)
#define X86_CR0_PG	(1ULL << 31)
#define X86_CR4_PSE	(1ULL << 4)
#define X86_CR4_PAE	(1ULL << 5)
#define X86_CR4_LA57	(1ULL << 12)
#define X86_CR4_SMEP	(1ULL << 20)
#define X86_CR4_SMAP	(1ULL << 21)
#define X86_EFER_LMA	(1ULL << 10)
#define X86_EFER_NXE	(1ULL << 11)

#define X86_FLAGS_CF	(1ULL << 0)
#define X86_FLAGS_PF	(1ULL << 2)
#define X86_FLAGS_AF	(1ULL << 4)
#define X86_FLAGS_ZF	(1ULL << 6)
#define X86_FLAGS_SF	(1ULL << 7)
#define X86_FLAGS_TF	(1ULL << 8)
#define X86_FLAGS_OF	(1ULL << 11)
#define X86_FLAGS_RF	(1ULL << 16)
#define X86_FLAGS_VM	(1ULL << 17)
#define X86_FLAGS_AC	(1ULL << 18)
/* The six arithmetic flags (Vol 1 §3.4.3.1). */
#define X86_FLAGS_ARITH	(X86_FLAGS_CF | X86_FLAGS_PF | X86_FLAGS_AF | X86_FLAGS_ZF | \
			 X86_FLAGS_SF | X86_FLAGS_OF)

#define EMU_PAGE_SIZE	4096ULL

/*
 * Internal return value: an exception was recorded in the result (or in
 * struct emu_exception) and the instruction must stop.  Host errors stay
 * negative errno; success is 0.
 */
#define EMU_RAISED 1

/*
 * A callback's error as ours: -EFAULT is reserved for "the guest faulted"
 * (emu_read_linear and friends), so a callback's -EFAULT or positive
 * value becomes -EIO.
 */
static inline int emu_cb_err(int r)
{
	return r == 0 ? 0 : (r < 0 && r != -EFAULT) ? r : -EIO;
}

/* All-ones in the low `size` bytes (size 1, 2, 4 or 8). */
static inline uint64_t emu_size_mask(unsigned size)
{
	return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
}

/* A `size`-byte value sign-extended to 64 bits. */
static inline uint64_t emu_sign_extend(uint64_t v, unsigned size)
{
	unsigned sh = 64 - 8 * size;
	return size >= 8 ? v : (uint64_t)((int64_t)(v << sh) >> sh);
}

/* SF, ZF and PF of a `size`-byte result (PF: even parity of its low byte). */
static inline uint64_t emu_szp_flags(uint64_t r, unsigned size)
{
	uint64_t f = 0;

	r &= emu_size_mask(size);
	if (r == 0)
		f |= X86_FLAGS_ZF;
	if ((r >> (8 * size - 1)) & 1)
		f |= X86_FLAGS_SF;
	if (!__builtin_parity((unsigned)(r & 0xff)))
		f |= X86_FLAGS_PF;
	return f;
}

/* ---- opcodes.c: per-opcode decode attributes ----------------------- */
#define OP_MODRM	0x01	/* has a ModRM byte */
#define OP_MODRM_REG	0x02	/* ModRM is register-only: mod ignored (mov cr/dr) */
#define OP_INV64	0x04	/* #UD in 64-bit mode: decode the opcode only */
#define OP_PREFIX	0x08	/* a prefix or escape byte: never looked up */
#define OP_IMM_SHIFT	4	/* immediate kind in bits 7:4 */
#define OP_IMM(a)	(((a) >> OP_IMM_SHIFT) & 0xf)

enum op_imm {
	IMM_NONE,
	IMM_B,		/* 1 byte */
	IMM_W,		/* 2 bytes */
	IMM_Z,		/* 2 or 4 bytes by operand size */
	IMM_V,		/* 2, 4 or 8 bytes by operand size (mov r, imm) */
	IMM_A,		/* moffs: address size */
	IMM_J,		/* near branch: 4 in 64-bit mode, else by operand size */
	IMM_F,		/* far pointer: offset (2 or 4) then selector (2) */
	IMM_E,		/* enter: 2 then 1 */
	IMM_G3B,	/* group 3 (f6): 1 byte if ModRM.reg is 0 or 1 */
	IMM_G3Z,	/* group 3 (f7): z if ModRM.reg is 0 or 1 */
};

extern const uint8_t emu_optab_1b[256];
extern const uint8_t emu_optab_0f[256];

/* ---- operand.c: registers and memory operands ---------------------- */
struct emu_env {
	struct emu_cpu *cpu;
	const struct emu_insn *insn;
	const struct emu_mem_ops *ops;
	void *ctx;
	struct emu_result *res;
};

uint64_t emu_reg_get(const struct emu_env *e, unsigned reg, unsigned size);
void emu_reg_set(struct emu_env *e, unsigned reg, unsigned size, uint64_t val);
int emu_mem_linear(struct emu_env *e, uint64_t *la);
int emu_mem_read(struct emu_env *e, uint64_t la, void *buf, size_t len);
int emu_mem_write(struct emu_env *e, uint64_t la, const void *buf, size_t len);
int emu_rm_read(struct emu_env *e, unsigned size, uint64_t *val);
int emu_rm_write(struct emu_env *e, unsigned size, uint64_t val);
/* The guest-physical address a locked write to la goes to; #PF (with CR2) when it cannot. */
int emu_translate_for_write(struct emu_env *e, uint64_t la, uint64_t *gpa);
/* How a read-modify-write computes the new value from the old one (and the flags it sets). */
typedef uint64_t (*emu_update_fn)(void *ctx, uint64_t old, uint64_t *rflags);
/* A LOCK'ed read-modify-write of size bytes at la: atomic against other vCPUs on guest RAM. */
int emu_mem_locked_update(struct emu_env *e, uint64_t la, unsigned size, emu_update_fn update,
			  void *ctx, uint64_t *rflags);
int emu_raise(struct emu_env *e, uint8_t vector, bool has_error_code, uint32_t error_code);
void emu_finish(struct emu_env *e);
uint64_t emu_le_get(const uint8_t *p, unsigned size);
void emu_le_put(uint8_t *p, unsigned size, uint64_t val);

/* ---- access.c: linear memory -------------------------------------- */
bool emu_la_canonical(const struct emu_cpu *cpu, uint64_t la);
uint64_t emu_la_mask(const struct emu_cpu *cpu);

/* ---- instruction files --------------------------------------------- */
int emu_exec_mov(struct emu_env *e);
int emu_exec_cmpxchg(struct emu_env *e);
/* ALU forms (alu.c); anything else is reported unsupported. */
int emu_exec_alu(struct emu_env *e);
int emu_exec_shift(struct emu_env *e);
int emu_exec_muldiv(struct emu_env *e);
int emu_exec_bitops(struct emu_env *e);
int emu_exec_xchg(struct emu_env *e);
int emu_exec_stack(struct emu_env *e);
int emu_exec_string(struct emu_env *e);

#endif
