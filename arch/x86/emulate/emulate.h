/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ember's user-space x86 instruction emulator: the public API.
 *
 * KVM hands some instructions back to user space (KVM_EXIT_INTERNAL_ERROR,
 * suberror KVM_INTERNAL_ERROR_EMULATION); on a kvm_pvm host that includes
 * int3, clac/stac, popcnt, fwait and cmpxchg16b.  The VMM copies the vCPU
 * state into struct emu_cpu, calls emu_step() (or emu_decode() followed by
 * emu_execute()), acts on struct emu_result, and writes the registers back.
 *
 * The emulator never touches guest memory itself: every guest-physical
 * access goes through struct emu_mem_ops, and every guest-linear address
 * goes through the page walk in mmu.c first.
 *
 * Functions return 0 or -errno.  -errno means the host side failed (a
 * callback returned an error, bad arguments); anything the guest caused is
 * reported in struct emu_result as an exception to inject.
 */
#ifndef EMBER_ARCH_X86_EMULATE_EMULATE_H
#define EMBER_ARCH_X86_EMULATE_EMULATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* SDM Vol 2A §2.3.11: an instruction longer than 15 bytes raises #GP(0). */
#define EMU_MAX_INSN_LEN 15

/* Code-segment modes; they set the default operand and address sizes. */
enum emu_mode {
	EMU_MODE_REAL16,	/* real or virtual-8086 mode */
	EMU_MODE_PROT16,	/* protected mode, CS.D = 0 */
	EMU_MODE_PROT32,	/* protected or compatibility mode, CS.D = 1 */
	EMU_MODE_LONG64,	/* 64-bit mode: EFER.LMA = 1 and CS.L = 1 */
};

/* Segment register numbers, in the SDM's encoding (Vol 2A §3.1.1.3). */
enum emu_seg { EMU_SEG_ES, EMU_SEG_CS, EMU_SEG_SS, EMU_SEG_DS, EMU_SEG_FS, EMU_SEG_GS };

/* General-purpose register numbers: gpr[] is indexed by these. */
enum emu_gpr {
	EMU_RAX, EMU_RCX, EMU_RDX, EMU_RBX, EMU_RSP, EMU_RBP, EMU_RSI, EMU_RDI,
	EMU_R8, EMU_R9, EMU_R10, EMU_R11, EMU_R12, EMU_R13, EMU_R14, EMU_R15,
};

/*
 * The vCPU state the emulator reads and writes.  Fill it from KVM_GET_REGS
 * and KVM_GET_SREGS; write back gpr, rip, rflags (and cr2 after a #PF).
 */
struct emu_cpu {
	uint64_t gpr[16];
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, efer;
	uint64_t seg_base[6];	/* by enum emu_seg; KVM's segment .base */
	bool cs_l, cs_db;	/* CS.L and CS.D/B */
	bool ss_db;		/* SS.D/B: 32-bit stack outside 64-bit mode */
	unsigned cpl;		/* 0..3; SS.DPL from KVM_GET_SREGS */
	unsigned maxphyaddr;	/* CPUID 0x80000008 EAX[7:0]; 0 means 52 */
};

/*
 * Guest-physical memory, implemented by the VMM.  Each callback returns 0
 * or -errno; an error aborts the emulation and emu_* returns it (a
 * callback's -EFAULT becomes -EIO: -EFAULT here always means "the guest
 * faulted").  Accesses never cross a 4 KiB page boundary.
 *
 * cmpxchg_phys: atomically (with respect to other vCPUs) compare len bytes
 * (8 or 16, naturally aligned when 16) at gpa with *expected; if equal,
 * store *desired and set *swapped; otherwise copy the current memory into
 * *expected and clear *swapped.  emu_host_cmpxchg() below does exactly
 * this on a host pointer.  Used for cmpxchg8b/16b and to set the page-table
 * accessed/dirty bits; it may be NULL only if neither is ever needed
 * (then those paths fail with -ENOSYS).
 */
struct emu_mem_ops {
	/* I/O port access of size 1, 2 or 4 (INS/OUTS); NULL: those are unsupported. */
	int (*pio)(void *ctx, uint16_t port, void *data, unsigned size, bool is_write);
	int (*read_phys)(void *ctx, uint64_t gpa, void *buf, size_t len);
	int (*write_phys)(void *ctx, uint64_t gpa, const void *buf, size_t len);
	int (*cmpxchg_phys)(void *ctx, uint64_t gpa, void *expected,
			    const void *desired, size_t len, bool *swapped);
};

/* Opcode maps (SDM Vol 2A §2.1.2, Appendix A). */
enum emu_map {
	EMU_MAP_1B,		/* one-byte opcodes */
	EMU_MAP_0F,		/* 0f xx */
	EMU_MAP_0F38,		/* 0f 38 xx */
	EMU_MAP_0F3A,		/* 0f 3a xx */
	EMU_MAP_EVEX5,		/* EVEX map 5 (decoded for length only) */
	EMU_MAP_EVEX6,		/* EVEX map 6 (decoded for length only) */
};

/* Legacy prefixes seen (struct emu_insn.prefixes). */
#define EMU_PFX_LOCK	0x01	/* f0 */
#define EMU_PFX_REPNE	0x02	/* f2 */
#define EMU_PFX_REP	0x04	/* f3 */
#define EMU_PFX_OPSIZE	0x08	/* 66 */
#define EMU_PFX_ADSIZE	0x10	/* 67 */
#define EMU_PFX_SEG	0x20	/* 2e 36 3e 26 64 65 */

/* A decoded instruction.  Register numbers include the REX extensions. */
struct emu_insn {
	uint8_t bytes[EMU_MAX_INSN_LEN];
	uint8_t len;		/* total length in bytes */
	uint8_t mode;		/* enum emu_mode it was decoded for */
	uint8_t opsize;		/* operand size: 2, 4 or 8 */
	uint8_t addrsize;	/* address size: 2, 4 or 8 */
	uint8_t prefixes;	/* EMU_PFX_* */
	uint8_t nprefixes;	/* legacy + REX prefix bytes */
	uint8_t last_rep;	/* 0, 0xf2 or 0xf3: the last of f2/f3 */
	uint8_t rex;		/* effective REX byte (0x40-0x4f) or 0 */
	uint8_t vex_len;	/* 0, or 2/3 (VEX c5/c4) or 4 (EVEX 62) */
	uint8_t vex[4];		/* the VEX/EVEX prefix bytes */
	uint8_t map;		/* enum emu_map */
	uint8_t opcode;		/* the opcode byte within its map */
	bool invalid;		/* encoding is #UD in this mode */

	bool has_modrm;
	uint8_t modrm, mod, reg, rm;
	bool has_sib;
	uint8_t sib;

	/* Memory operand (ModRM with mod != 3, or a moffs of a0-a3). */
	bool has_mem;
	bool rip_rel;		/* RIP-relative: disp is added to the next RIP */
	int8_t base, index;	/* register numbers, -1 for none */
	uint8_t scale;		/* 1, 2, 4 or 8 */
	uint8_t seg;		/* effective segment (override or default) */
	uint8_t disp_size;	/* 0, 1, 2, 4 or 8 bytes in the encoding */
	uint64_t disp;		/* sign-extended (moffs: zero-extended) */

	uint8_t imm_size;	/* bytes of immediate in the encoding */
	uint64_t imm;		/* first immediate, sign-extended to 64 bits */
	uint64_t imm2;		/* second immediate (enter, far pointer) */
};

/* Exception vectors (SDM Vol 3A §6.15). */
#define EMU_VEC_DE 0
#define EMU_VEC_DB 1
#define EMU_VEC_BP 3
#define EMU_VEC_UD 6
#define EMU_VEC_NM 7
#define EMU_VEC_SS 12
#define EMU_VEC_GP 13
#define EMU_VEC_PF 14
#define EMU_VEC_MF 16
#define EMU_VEC_AC 17

/* Page-fault error code bits (SDM Vol 3A §4.7). */
#define EMU_PF_P	0x01	/* 0: not present, 1: protection violation */
#define EMU_PF_W	0x02	/* the access was a write */
#define EMU_PF_U	0x04	/* the access was a user-mode access */
#define EMU_PF_RSVD	0x08	/* a reserved bit was set in an entry */
#define EMU_PF_ID	0x10	/* the access was an instruction fetch */

struct emu_exception {
	uint8_t vector;
	bool has_error_code;
	uint32_t error_code;
	bool soft;		/* software exception (int3): RIP already past it */
	bool has_cr2;		/* #PF: the guest's CR2 must become cr2 */
	uint64_t cr2;
};

enum emu_status {
	EMU_DONE,		/* executed: registers updated, RIP advanced */
	EMU_EXCEPTION,		/* inject .exc; nothing else changed (except RIP for soft) */
	EMU_UNSUPPORTED,	/* not emulated: nothing changed; see emu_insn_format() */
};

struct emu_result {
	enum emu_status status;
	struct emu_exception exc;
};

/* Access types for emu_mmu_translate() and emu_{read,write}_linear(). */
#define EMU_ACC_READ	0x0
#define EMU_ACC_WRITE	0x1	/* data write */
#define EMU_ACC_FETCH	0x2	/* instruction fetch */
#define EMU_ACC_PEEK	0x4	/* VMM look: no permission checks, no A/D update */

/* The code-segment mode the vCPU is in now (for emu_decode). */
enum emu_mode emu_cpu_mode(const struct emu_cpu *cpu);

/*
 * Decodes one instruction from bytes[0..len) (at most 15 are read).
 * Returns 0, -ENODATA if the bytes end before the instruction does (fetch
 * more), -E2BIG if the instruction would exceed 15 bytes (#GP(0)), or
 * -EINVAL for bad arguments.  Opcodes the emulator cannot execute still
 * decode (with their length); emu_execute() reports them as unsupported.
 */
int emu_decode(const uint8_t *bytes, size_t len, enum emu_mode mode,
	       struct emu_insn *out);

/*
 * Executes a decoded instruction against cpu.  Returns 0 with *res filled,
 * or -errno if a callback failed or the arguments are bad (then cpu is
 * unchanged, apart from memory the callbacks already wrote).
 */
int emu_execute(struct emu_cpu *cpu, const struct emu_insn *insn,
		const struct emu_mem_ops *ops, void *ctx,
		struct emu_result *res);

/*
 * Fetch + decode + execute.  bytes/nbytes are the instruction bytes KVM
 * provided (NULL/0 if internal.data[0] bit 0 was clear); missing bytes are
 * fetched from CS:RIP through the page walk.  Decode errors become
 * exceptions (#GP(0) for an over-long instruction, #PF for a fetch fault).
 * insn receives the decoded instruction (for error messages).
 */
int emu_step(struct emu_cpu *cpu, const uint8_t *bytes, size_t nbytes,
	     const struct emu_mem_ops *ops, void *ctx,
	     struct emu_insn *insn, struct emu_result *res);

/*
 * Guest page walk: linear address -> guest-physical address for one access
 * of type EMU_ACC_*, for the paging mode selected by cpu's CR0/CR4/EFER.
 * Sets accessed/dirty bits as the processor would (unless EMU_ACC_PEEK).
 * Returns 0, -EFAULT with *pf_error set (a #PF with CR2 = la), or another
 * -errno from the callbacks.
 */
int emu_mmu_translate(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		      void *ctx, uint64_t la, unsigned access, uint64_t *gpa,
		      uint32_t *pf_error);

/*
 * Reads or writes len bytes at a linear address, split at page boundaries
 * (a write is translated in full before any byte is stored).  Returns 0,
 * -EFAULT with *exc set (#PF, or #GP(0) for a non-canonical address), or
 * another -errno from the callbacks.
 */
int emu_read_linear(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		    void *ctx, uint64_t la, void *buf, size_t len,
		    unsigned access, struct emu_exception *exc);
int emu_write_linear(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		     void *ctx, uint64_t la, const void *buf, size_t len,
		     unsigned access, struct emu_exception *exc);

/*
 * Atomic compare-exchange of len (4, 8 or 16) bytes on host memory, with
 * the contract of emu_mem_ops.cmpxchg_phys; 16 needs 16-byte alignment
 * (-EINVAL otherwise).  Lock-free, no libatomic.  For the VMM's callback.
 */
int emu_host_cmpxchg(void *hva, void *expected, const void *desired,
		     size_t len, bool *swapped);

/* The integer ALU operations of alu.c; the first eight in the order of their opcodes' bits 5:3. */
enum emu_alu_op {
	EMU_ALU_ADD, EMU_ALU_OR, EMU_ALU_ADC, EMU_ALU_SBB,
	EMU_ALU_AND, EMU_ALU_SUB, EMU_ALU_XOR, EMU_ALU_CMP,
	EMU_ALU_TEST, EMU_ALU_INC, EMU_ALU_DEC, EMU_ALU_NEG, EMU_ALU_NOT,
};

/*
 * One ALU operation on `size`-byte operands as the CPU does it: returns
 * the result (masked to size) and updates the arithmetic flags in *rflags
 * (CF read by ADC/SBB; flags an operation leaves alone are kept).  Pure:
 * the differential test runs it against the host CPU.
 */
uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t *rflags);

/* Group 2 (c0 c1 d0-d3), in the order of ModRM.reg; /6 is SAL, the same as SHL. */
enum emu_shift_op {
	EMU_SHIFT_ROL, EMU_SHIFT_ROR, EMU_SHIFT_RCL, EMU_SHIFT_RCR,
	EMU_SHIFT_SHL, EMU_SHIFT_SHR, EMU_SHIFT_SAL, EMU_SHIFT_SAR,
};

/* One shift or rotate of a `size`-byte operand by count (masked as the CPU does), flags in *rflags. */
uint64_t emu_shift(enum emu_shift_op op, unsigned size, uint64_t dst, unsigned count,
		   uint64_t *rflags);

/* f6/f7 /4-/7 in the order of ModRM.reg. */
enum emu_muldiv_op { EMU_MUL, EMU_IMUL, EMU_DIV, EMU_IDIV };

/*
 * One-operand multiply or divide of `size` bytes: the dividend or
 * multiplicand is dx:ax (AX alone for bytes), the results are *lo (rAX /
 * AL) and *hi (rDX / AH); flags in *rflags.  Returns 0, or -1 for #DE
 * (zero divisor, quotient too large), with nothing changed.
 */
int emu_muldiv(enum emu_muldiv_op op, unsigned size, uint64_t ax, uint64_t dx, uint64_t src,
	       uint64_t *lo, uint64_t *hi, uint64_t *rflags);

/* Condition code cc (0-15: O NO B NB Z NZ BE NBE S NS P NP L NL LE NLE) of rflags. */
bool emu_cond(unsigned cc, uint64_t rflags);

enum emu_bit_op { EMU_BT, EMU_BTS, EMU_BTR, EMU_BTC };
/* BT/BTS/BTR/BTC of bit (masked to the width) in val: the new value; CF in *rflags. */
uint64_t emu_bit_test(enum emu_bit_op op, unsigned size, uint64_t val, uint64_t bit,
		      uint64_t *rflags);

enum emu_scan_op { EMU_BSF, EMU_BSR, EMU_TZCNT, EMU_LZCNT };
/* BSF/BSR/TZCNT/LZCNT of src; dst is the old destination (kept by BSF/BSR of 0). */
uint64_t emu_bit_scan(enum emu_scan_op op, unsigned size, uint64_t src, uint64_t dst,
		      uint64_t *rflags);

/* Writes "0f 0b" style hex of the instruction bytes; returns strlen. */
size_t emu_insn_format(const struct emu_insn *insn, char *buf, size_t size);

#endif
