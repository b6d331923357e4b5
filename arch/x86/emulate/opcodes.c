// SPDX-License-Identifier: GPL-2.0-only
/*
 * Decode attributes of every opcode in the one-byte and 0f maps: does a
 * ModRM byte follow, and what immediate.  This is all the decoder needs to
 * find an instruction's length; semantics live in exec.c and friends.
 * Source: SDM Vol 2D Appendix A (opcode maps), Tables.
 * The 0f 38 map always has a ModRM and no immediate; 0f 3a always has a
 * ModRM and an imm8 (Vol 2D Tables ), so they need no table.
 */
#include "arch/x86/emulate/internal.h"

#define NO 0					/* opcode only */
#define M0 OP_MODRM				/* ModRM */
#define MR (OP_MODRM | OP_MODRM_REG)		/* ModRM, register-only */
#define MB (OP_MODRM | IMM_B << OP_IMM_SHIFT)	/* ModRM, imm8 */
#define MZ (OP_MODRM | IMM_Z << OP_IMM_SHIFT)	/* ModRM, imm16/32 */
#define IB (IMM_B << OP_IMM_SHIFT)		/* imm8 or rel8 */
#define IW (IMM_W << OP_IMM_SHIFT)		/* imm16 */
#define IZ (IMM_Z << OP_IMM_SHIFT)		/* imm16/32 */
#define IV (IMM_V << OP_IMM_SHIFT)		/* imm16/32/64 */
#define IA (IMM_A << OP_IMM_SHIFT)		/* moffs */
#define IJ (IMM_J << OP_IMM_SHIFT)		/* rel16/32 */
#define IE (IMM_E << OP_IMM_SHIFT)		/* enter imm16, imm8 */
#define GB (OP_MODRM | IMM_G3B << OP_IMM_SHIFT)	/* f6 group 3 */
#define GZ (OP_MODRM | IMM_G3Z << OP_IMM_SHIFT)	/* f7 group 3 */
#define PX OP_PREFIX				/* prefix or escape */
#define X0 OP_INV64				/* #UD in 64-bit mode */
#define XB (OP_INV64 | IB)
#define XM (OP_INV64 | M0)
#define XZ (OP_INV64 | MB)
#define XF (OP_INV64 | IMM_F << OP_IMM_SHIFT)

/*
 * 40-4f are inc/dec outside 64-bit mode (REX is handled before the table);
 * 62, c4 and c5 are bound/les/lds unless they start an EVEX/VEX prefix,
 * which decode.c checks first.
 */
const uint8_t emu_optab_1b[256] = {
/*	 x0  x1  x2  x3  x4  x5  x6  x7  x8  x9  xa  xb  xc  xd  xe  xf */
/* 0x */ M0, M0, M0, M0, IB, IZ, X0, X0, M0, M0, M0, M0, IB, IZ, X0, PX,
/* 1x */ M0, M0, M0, M0, IB, IZ, X0, X0, M0, M0, M0, M0, IB, IZ, X0, X0,
/* 2x */ M0, M0, M0, M0, IB, IZ, PX, X0, M0, M0, M0, M0, IB, IZ, PX, X0,
/* 3x */ M0, M0, M0, M0, IB, IZ, PX, X0, M0, M0, M0, M0, IB, IZ, PX, X0,
/* 4x */ NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
/* 5x */ NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, NO,
/* 6x */ X0, X0, XM, M0, PX, PX, PX, PX, IZ, MZ, IB, MB, NO, NO, NO, NO,
/* 7x */ IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB, IB,
/* 8x */ MB, MZ, XZ, MB, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* 9x */ NO, NO, NO, NO, NO, NO, NO, NO, NO, NO, XF, NO, NO, NO, NO, NO,
/* ax */ IA, IA, IA, IA, NO, NO, NO, NO, IB, IZ, NO, NO, NO, NO, NO, NO,
/* bx */ IB, IB, IB, IB, IB, IB, IB, IB, IV, IV, IV, IV, IV, IV, IV, IV,
/* cx */ MB, MB, IW, NO, XM, XM, MB, MZ, IE, NO, IW, NO, NO, IB, X0, NO,
/* dx */ M0, M0, M0, M0, XB, XB, X0, NO, M0, M0, M0, M0, M0, M0, M0, M0,
/* ex */ IB, IB, IB, IB, IB, IB, IB, IB, IJ, IJ, XF, IB, NO, NO, NO, NO,
/* fx */ PX, NO, PX, PX, NO, NO, GB, GZ, NO, NO, NO, NO, NO, NO, M0, M0,
};

/*
 * 0f 0f is AMD 3DNow!: ModRM then an opcode suffix byte, decoded as imm8.
 * 0f 20-26 (mov to/from control, debug, test registers) ignore ModRM.mod
 * and always name a register (Vol 2B "MOV—Move to/from Control Registers").
 * 0f a6/a7 take a ModRM (VIA PadLock; cmpxchg on the i486 A-step).
 * Undefined opcodes decode as opcode only.
 */
const uint8_t emu_optab_0f[256] = {
/*	 x0  x1  x2  x3  x4  x5  x6  x7  x8  x9  xa  xb  xc  xd  xe  xf */
/* 0x */ M0, M0, M0, M0, NO, NO, NO, NO, NO, NO, NO, NO, NO, M0, NO, MB,
/* 1x */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* 2x */ MR, MR, MR, MR, MR, NO, MR, NO, M0, M0, M0, M0, M0, M0, M0, M0,
/* 3x */ NO, NO, NO, NO, NO, NO, NO, NO, PX, NO, PX, NO, NO, NO, NO, NO,
/* 4x */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* 5x */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* 6x */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* 7x */ MB, MB, MB, MB, M0, M0, M0, NO, M0, M0, M0, M0, M0, M0, M0, M0,
/* 8x */ IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ, IJ,
/* 9x */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* ax */ NO, NO, NO, M0, MB, M0, M0, M0, NO, NO, NO, M0, MB, M0, M0, M0,
/* bx */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, MB, M0, M0, M0, M0, M0,
/* cx */ M0, M0, MB, M0, MB, MB, MB, M0, NO, NO, NO, NO, NO, NO, NO, NO,
/* dx */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* ex */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
/* fx */ M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0, M0,
};
