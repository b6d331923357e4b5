// SPDX-License-Identifier: GPL-2.0-only
/*
 * Unit tests for arch/x86/emulate/decode.c: instruction lengths and fields in
 * 64-, 32- and 16-bit code, and malformed input.  The length table was
 * cross-checked against GNU objdump.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/emulate/emulate.h"

/* Parses "0f 01 ca" into bytes; returns the count. */
static size_t hex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;

	while (*s && n < max) {
		char *end;
		unsigned long v = strtoul(s, &end, 16);

		if (end == s)
			break;
		out[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

static int decode_hex(const char *s, enum emu_mode mode, struct emu_insn *in)
{
	uint8_t b[32];
	size_t n = hex(s, b, sizeof(b));

	return emu_decode(b, n, mode, in);
}

#define L64 EMU_MODE_LONG64
#define P32 EMU_MODE_PROT32
#define P16 EMU_MODE_PROT16
#define R16 EMU_MODE_REAL16

struct len_case {
	enum emu_mode mode;
	const char *bytes;
	unsigned len;
	uint8_t map, opcode;
};

static const struct len_case len_cases[] = {
	/* The instructions kvm_pvm hands back. */
	{ L64, "cc", 1, EMU_MAP_1B, 0xcc },
	{ L64, "0f 01 ca", 3, EMU_MAP_0F, 0x01 },
	{ L64, "0f 01 cb", 3, EMU_MAP_0F, 0x01 },
	{ L64, "f3 0f b8 c1", 4, EMU_MAP_0F, 0xb8 },
	{ L64, "f3 48 0f b8 c1", 5, EMU_MAP_0F, 0xb8 },
	{ L64, "66 f3 0f b8 c1", 5, EMU_MAP_0F, 0xb8 },
	{ L64, "f3 48 0f b8 04 25 00 10 00 00", 10, EMU_MAP_0F, 0xb8 },
	{ L64, "9b", 1, EMU_MAP_1B, 0x9b },
	{ L64, "f0 48 0f c7 0f", 5, EMU_MAP_0F, 0xc7 },
	{ L64, "f0 48 0f c7 4e 08", 6, EMU_MAP_0F, 0xc7 },
	{ L64, "48 0f ae 2f", 4, EMU_MAP_0F, 0xae },
	/* MOV forms, ModRM/SIB/displacement shapes. */
	{ L64, "89 07", 2, EMU_MAP_1B, 0x89 },
	{ L64, "48 89 44 24 08", 5, EMU_MAP_1B, 0x89 },
	{ L64, "89 05 78 56 34 12", 6, EMU_MAP_1B, 0x89 },
	{ L64, "c7 05 10 00 00 00 78 56 34 12", 10, EMU_MAP_1B, 0xc7 },
	{ L64, "48 c7 80 00 01 00 00 ff ff ff ff", 11, EMU_MAP_1B, 0xc7 },
	{ L64, "c6 00 12", 3, EMU_MAP_1B, 0xc6 },
	{ L64, "66 c7 00 34 12", 5, EMU_MAP_1B, 0xc7 },
	{ L64, "a1 88 77 66 55 44 33 22 11", 9, EMU_MAP_1B, 0xa1 },
	{ L64, "67 a1 44 33 22 11", 6, EMU_MAP_1B, 0xa1 },
	{ L64, "48 a3 88 77 66 55 44 33 22 11", 10, EMU_MAP_1B, 0xa3 },
	{ L64, "0f b6 07", 3, EMU_MAP_0F, 0xb6 },
	{ L64, "0f b7 07", 3, EMU_MAP_0F, 0xb7 },
	{ L64, "48 0f be 07", 4, EMU_MAP_0F, 0xbe },
	{ L64, "0f bf 47 10", 4, EMU_MAP_0F, 0xbf },
	{ L64, "8b 44 8d 10", 4, EMU_MAP_1B, 0x8b },
	{ L64, "8b 04 8d 00 10 00 00", 7, EMU_MAP_1B, 0x8b },
	{ L64, "42 8b 04 a5 00 00 00 00", 8, EMU_MAP_1B, 0x8b },
	{ L64, "41 8b 04 24", 4, EMU_MAP_1B, 0x8b },
	{ L64, "41 8b 45 00", 4, EMU_MAP_1B, 0x8b },
	{ L64, "41 8b 05 00 00 00 00", 7, EMU_MAP_1B, 0x8b },
	{ L64, "8b 84 24 00 01 00 00", 7, EMU_MAP_1B, 0x8b },
	{ L64, "64 48 8b 04 25 28 00 00 00", 9, EMU_MAP_1B, 0x8b },
	/* Immediates of every kind. */
	{ L64, "48 b8 01 02 03 04 05 06 07 08", 10, EMU_MAP_1B, 0xb8 },
	{ L64, "66 b8 34 12", 4, EMU_MAP_1B, 0xb8 },
	{ L64, "b8 78 56 34 12", 5, EMU_MAP_1B, 0xb8 },
	{ L64, "b0 12", 2, EMU_MAP_1B, 0xb0 },
	{ L64, "e8 00 00 00 00", 5, EMU_MAP_1B, 0xe8 },
	{ L64, "66 e8 00 00 00 00", 6, EMU_MAP_1B, 0xe8 },
	{ L64, "0f 84 00 00 00 00", 6, EMU_MAP_0F, 0x84 },
	{ L64, "eb fe", 2, EMU_MAP_1B, 0xeb },
	{ L64, "c2 08 00", 3, EMU_MAP_1B, 0xc2 },
	{ L64, "c8 10 00 01", 4, EMU_MAP_1B, 0xc8 },
	{ L64, "6a 01", 2, EMU_MAP_1B, 0x6a },
	{ L64, "68 00 10 00 00", 5, EMU_MAP_1B, 0x68 },
	{ L64, "48 83 c4 08", 4, EMU_MAP_1B, 0x83 },
	{ L64, "48 81 ec 00 01 00 00", 7, EMU_MAP_1B, 0x81 },
	{ L64, "f6 c3 01", 3, EMU_MAP_1B, 0xf6 },
	{ L64, "f6 d3", 2, EMU_MAP_1B, 0xf6 },
	{ L64, "f7 c0 78 56 34 12", 6, EMU_MAP_1B, 0xf7 },
	{ L64, "66 f7 c0 34 12", 5, EMU_MAP_1B, 0xf7 },
	{ L64, "f7 d8", 2, EMU_MAP_1B, 0xf7 },
	{ L64, "cd 80", 2, EMU_MAP_1B, 0xcd },
	{ L64, "0f ba e0 05", 4, EMU_MAP_0F, 0xba },
	{ L64, "0f 0b", 2, EMU_MAP_0F, 0x0b },
	{ L64, "0f a2", 2, EMU_MAP_0F, 0xa2 },
	{ L64, "0f 05", 2, EMU_MAP_0F, 0x05 },
	{ L64, "0f 1f 44 00 00", 5, EMU_MAP_0F, 0x1f },
	{ L64, "66 0f 1f 84 00 00 00 00 00", 9, EMU_MAP_0F, 0x1f },
	/* mov to/from CR ignores ModRM.mod: no displacement follows. */
	{ L64, "0f 20 c0", 3, EMU_MAP_0F, 0x20 },
	{ L64, "0f 22 05", 3, EMU_MAP_0F, 0x22 },
	/* Three-byte maps. */
	{ L64, "66 0f 38 00 c1", 5, EMU_MAP_0F38, 0x00 },
	{ L64, "0f 38 f0 07", 4, EMU_MAP_0F38, 0xf0 },
	{ L64, "66 0f 3a 0f c1 08", 6, EMU_MAP_0F3A, 0x0f },
	{ L64, "66 0f 3a 16 44 24 08 01", 8, EMU_MAP_0F3A, 0x16 },
	/* VEX and EVEX (length only). */
	{ L64, "c5 f8 77", 3, EMU_MAP_0F, 0x77 },
	{ L64, "c5 fd 6f 07", 4, EMU_MAP_0F, 0x6f },
	{ L64, "c4 e2 79 18 07", 5, EMU_MAP_0F38, 0x18 },
	{ L64, "c4 e3 79 04 c1 01", 6, EMU_MAP_0F3A, 0x04 },
	{ L64, "62 f1 7c 48 10 07", 6, EMU_MAP_0F, 0x10 },
	{ L64, "62 f1 7c 48 10 47 01", 7, EMU_MAP_0F, 0x10 },
	/* Prefix rules. */
	{ L64, "48 66 b8 34 12", 5, EMU_MAP_1B, 0xb8 },	/* REX cancelled */
	{ L64, "40 48 b8 01 02 03 04 05 06 07 08", 11, EMU_MAP_1B, 0xb8 },
	{ L64, "2e 66 67 48 81 84 88 78 56 34 12 78 56 34 12", 15, EMU_MAP_1B, 0x81 },
	{ L64, "66 66 66 66 66 66 66 66 66 66 66 66 66 66 90", 15, EMU_MAP_1B, 0x90 },
	{ L64, "06", 1, EMU_MAP_1B, 0x06 },		/* invalid in 64-bit mode */
	{ L64, "9a 00 00 00 00 08 00", 1, EMU_MAP_1B, 0x9a },
	/* 32-bit code. */
	{ P32, "40", 1, EMU_MAP_1B, 0x40 },
	{ P32, "66 a1 44 33 22 11", 6, EMU_MAP_1B, 0xa1 },
	{ P32, "67 a1 22 11", 4, EMU_MAP_1B, 0xa1 },
	{ P32, "8b 44 24 04", 4, EMU_MAP_1B, 0x8b },
	{ P32, "e8 00 00 00 00", 5, EMU_MAP_1B, 0xe8 },
	{ P32, "66 e8 00 00", 4, EMU_MAP_1B, 0xe8 },
	{ P32, "9a 00 00 00 00 08 00", 7, EMU_MAP_1B, 0x9a },
	{ P32, "8b 05 00 10 00 00", 6, EMU_MAP_1B, 0x8b },
	{ P32, "c4 07", 2, EMU_MAP_1B, 0xc4 },		/* les */
	{ P32, "c5 f8 77", 3, EMU_MAP_0F, 0x77 },	/* vzeroupper */
	{ P32, "62 07", 2, EMU_MAP_1B, 0x62 },		/* bound */
	{ P32, "f0 0f c7 0f", 4, EMU_MAP_0F, 0xc7 },
	{ P32, "67 8b 46 02", 4, EMU_MAP_1B, 0x8b },	/* 16-bit addressing */
	/* 16-bit code. */
	{ R16, "8b 07", 2, EMU_MAP_1B, 0x8b },
	{ R16, "8b 46 02", 3, EMU_MAP_1B, 0x8b },
	{ R16, "8b 06 00 10", 4, EMU_MAP_1B, 0x8b },
	{ R16, "8b 80 00 10", 4, EMU_MAP_1B, 0x8b },
	{ R16, "66 b8 78 56 34 12", 6, EMU_MAP_1B, 0xb8 },
	{ R16, "b8 34 12", 3, EMU_MAP_1B, 0xb8 },
	{ R16, "67 8b 04 24", 4, EMU_MAP_1B, 0x8b },
	{ R16, "a1 00 10", 3, EMU_MAP_1B, 0xa1 },
	{ R16, "e8 00 00", 3, EMU_MAP_1B, 0xe8 },
	{ R16, "ea 00 00 00 f0", 5, EMU_MAP_1B, 0xea },
	{ P16, "c7 06 00 10 34 12", 6, EMU_MAP_1B, 0xc7 },
};

static void test_lengths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(len_cases) / sizeof(len_cases[0]); i++) {
		const struct len_case *c = &len_cases[i];
		struct emu_insn in;
		int r = decode_hex(c->bytes, c->mode, &in);

		if (r || in.len != c->len || in.map != c->map || in.opcode != c->opcode)
			print_error("case %zu (%s): r=%d len=%u map=%u opcode=%02x\n",
				    i, c->bytes, r, in.len, in.map, in.opcode);
		assert_int_equal(r, 0);
		assert_int_equal(in.len, c->len);
		assert_int_equal(in.map, c->map);
		assert_int_equal(in.opcode, c->opcode);
	}
}

static void test_fields_sib(void **state)
{
	struct emu_insn in;

	(void)state;
	/* mov eax, [rbp + rcx*4 + 0x10] */
	assert_int_equal(decode_hex("8b 44 8d 10", L64, &in), 0);
	assert_true(in.has_modrm && in.has_sib && in.has_mem);
	assert_int_equal(in.modrm, 0x44);
	assert_int_equal(in.sib, 0x8d);
	assert_int_equal(in.base, EMU_RBP);
	assert_int_equal(in.index, EMU_RCX);
	assert_int_equal(in.scale, 4);
	assert_int_equal(in.disp_size, 1);
	assert_int_equal(in.disp, 0x10);
	assert_int_equal(in.seg, EMU_SEG_SS);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 8);

	/* REX.X: index r12; SIB base 101 with mod 00: no base, disp32 */
	assert_int_equal(decode_hex("42 8b 04 a5 f0 ff ff ff", L64, &in), 0);
	assert_int_equal(in.index, EMU_R12);
	assert_int_equal(in.base, -1);
	assert_int_equal(in.disp, (uint64_t)-16);
	assert_int_equal(in.seg, EMU_SEG_DS);

	/* SIB index 100 without REX.X: no index; REX.B base r12 */
	assert_int_equal(decode_hex("41 8b 04 24", L64, &in), 0);
	assert_int_equal(in.base, EMU_R12);
	assert_int_equal(in.index, -1);
	assert_int_equal(in.disp_size, 0);
}

static void test_fields_rip_relative(void **state)
{
	struct emu_insn in;

	(void)state;
	assert_int_equal(decode_hex("89 05 78 56 34 12", L64, &in), 0);
	assert_true(in.rip_rel);
	assert_int_equal(in.base, -1);
	assert_int_equal(in.disp, 0x12345678);
	/* r13 in ModRM.rm with mod 00 is still RIP-relative */
	assert_int_equal(decode_hex("41 8b 05 fc ff ff ff", L64, &in), 0);
	assert_true(in.rip_rel);
	assert_int_equal(in.disp, (uint64_t)-4);
	/* Outside 64-bit mode the same encoding is an absolute disp32 */
	assert_int_equal(decode_hex("8b 05 00 10 00 00", P32, &in), 0);
	assert_false(in.rip_rel);
	assert_int_equal(in.base, -1);
	assert_int_equal(in.disp, 0x1000);
	/* rip-relative with an immediate after the displacement */
	assert_int_equal(decode_hex("c7 05 10 00 00 00 78 56 34 12", L64, &in), 0);
	assert_true(in.rip_rel);
	assert_int_equal(in.disp, 0x10);
	assert_int_equal(in.imm_size, 4);
	assert_int_equal(in.imm, 0x12345678);
}

static void test_fields_prefixes(void **state)
{
	struct emu_insn in;

	(void)state;
	assert_int_equal(decode_hex("f0 48 0f c7 0f", L64, &in), 0);
	assert_true(in.prefixes & EMU_PFX_LOCK);
	assert_int_equal(in.rex, 0x48);
	assert_int_equal(in.opsize, 8);
	assert_int_equal(in.reg, 1);
	assert_int_equal(in.base, EMU_RDI);
	assert_int_equal(in.nprefixes, 2);

	assert_int_equal(decode_hex("66 f3 0f b8 c1", L64, &in), 0);
	assert_int_equal(in.last_rep, 0xf3);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.reg, EMU_RAX);
	assert_int_equal(in.rm, EMU_RCX);

	/* REX.R and REX.B extend reg and rm */
	assert_int_equal(decode_hex("f3 4d 0f b8 c1", L64, &in), 0);
	assert_int_equal(in.reg, EMU_R8);
	assert_int_equal(in.rm, EMU_R9);

	/* A legacy prefix after REX cancels it */
	assert_int_equal(decode_hex("48 66 b8 34 12", L64, &in), 0);
	assert_int_equal(in.rex, 0);
	assert_int_equal(in.opsize, 2);
	assert_int_equal(in.imm, 0x1234);

	/* fs/gs count in 64-bit mode, ds/es/ss/cs do not */
	assert_int_equal(decode_hex("64 48 8b 04 25 28 00 00 00", L64, &in), 0);
	assert_int_equal(in.seg, EMU_SEG_FS);
	assert_int_equal(decode_hex("26 8b 45 00", L64, &in), 0);
	assert_int_equal(in.seg, EMU_SEG_SS);
	assert_int_equal(decode_hex("26 8b 45 00", P32, &in), 0);
	assert_int_equal(in.seg, EMU_SEG_ES);

	/* moffs: address-size offset, zero-extended */
	assert_int_equal(decode_hex("a1 88 77 66 55 44 33 22 f1", L64, &in), 0);
	assert_true(in.has_mem);
	assert_int_equal(in.disp, 0xf122334455667788ULL);
	assert_int_equal(decode_hex("65 67 a1 44 33 22 f1", L64, &in), 0);
	assert_int_equal(in.disp, 0xf1223344ULL);
	assert_int_equal(in.addrsize, 4);
	assert_int_equal(in.seg, EMU_SEG_GS);

	/* Immediates are sign-extended; mov r64, imm64 is whole */
	assert_int_equal(decode_hex("48 c7 00 ff ff ff ff", L64, &in), 0);
	assert_int_equal(in.imm, ~0ULL);
	assert_int_equal(decode_hex("48 b8 01 02 03 04 05 06 07 88", L64, &in), 0);
	assert_int_equal(in.imm, 0x8807060504030201ULL);
	assert_int_equal(decode_hex("c8 10 00 01", L64, &in), 0);
	assert_int_equal(in.imm, 0x10);
	assert_int_equal(in.imm2, 1);

	/* VEX: invalid after a 66 prefix; fields recorded */
	assert_int_equal(decode_hex("c4 e2 79 18 07", L64, &in), 0);
	assert_int_equal(in.vex_len, 3);
	assert_false(in.invalid);
	assert_int_equal(decode_hex("66 c5 f8 77", L64, &in), 0);
	assert_true(in.invalid);
	assert_int_equal(decode_hex("06", L64, &in), 0);
	assert_true(in.invalid);
	assert_int_equal(decode_hex("06", P32, &in), 0);
	assert_false(in.invalid);
}

static void test_fields_16bit(void **state)
{
	struct emu_insn in;

	(void)state;
	assert_int_equal(decode_hex("8b 46 02", R16, &in), 0);
	assert_int_equal(in.base, EMU_RBP);
	assert_int_equal(in.index, -1);
	assert_int_equal(in.seg, EMU_SEG_SS);
	assert_int_equal(in.disp, 2);
	assert_int_equal(in.addrsize, 2);
	assert_int_equal(in.opsize, 2);

	assert_int_equal(decode_hex("8b 80 00 f0", R16, &in), 0);
	assert_int_equal(in.base, EMU_RBX);
	assert_int_equal(in.index, EMU_RSI);
	assert_int_equal(in.disp, (uint64_t)(int16_t)0xf000);

	assert_int_equal(decode_hex("8b 06 00 10", R16, &in), 0);
	assert_int_equal(in.base, -1);
	assert_int_equal(in.disp, 0x1000);
	assert_int_equal(in.seg, EMU_SEG_DS);

	assert_int_equal(decode_hex("66 67 8b 04 24", R16, &in), 0);
	assert_int_equal(in.opsize, 4);
	assert_int_equal(in.addrsize, 4);
	assert_true(in.has_sib);
	assert_int_equal(in.base, EMU_RSP);
}

static void test_malformed(void **state)
{
	uint8_t b[32];
	struct emu_insn in;

	(void)state;
	memset(b, 0x66, sizeof(b));
	/* 16 prefixes, and 15 prefixes + opcode: longer than 15 bytes */
	assert_int_equal(emu_decode(b, 16, L64, &in), -E2BIG);
	b[15] = 0x90;
	assert_int_equal(emu_decode(b, 16, L64, &in), -E2BIG);
	assert_int_equal(emu_decode(b, sizeof(b), P32, &in), -E2BIG);
	/* 14 prefixes + opcode is exactly 15 */
	b[14] = 0x90;
	assert_int_equal(emu_decode(b, 15, L64, &in), 0);
	assert_int_equal(in.len, 15);
	/* too long because of the immediate at the end */
	assert_int_equal(decode_hex("26 2e 66 67 48 81 84 88 78 56 34 12 78 56 34 12", L64, &in),
			 -E2BIG);
	/* REX bytes count as prefixes too */
	memset(b, 0x48, sizeof(b));
	assert_int_equal(emu_decode(b, sizeof(b), L64, &in), -E2BIG);

	/* bytes end before the instruction does */
	assert_int_equal(emu_decode(b, 0, L64, &in), -ENODATA);
	assert_int_equal(emu_decode(b, 10, L64, &in), -ENODATA);	/* 10 prefixes */
	assert_int_equal(decode_hex("48 8b", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("0f", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("0f 38", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("f3", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("e8 00 00", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("48 b8 01 02", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("8b 04", L64, &in), -ENODATA);	/* SIB missing */
	assert_int_equal(decode_hex("8b 84 24 00 01", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("c4 e2", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("62 f1 7c", L64, &in), -ENODATA);
	assert_int_equal(decode_hex("c4", P32, &in), -ENODATA);

	/* bad arguments */
	assert_int_equal(emu_decode(NULL, 4, L64, &in), -EINVAL);
	assert_int_equal(emu_decode(b, 4, L64, NULL), -EINVAL);
	assert_int_equal(emu_decode(b, 4, (enum emu_mode)7, &in), -EINVAL);

	/* more bytes than the instruction: only its own are used */
	memset(b, 0xff, sizeof(b));
	b[0] = 0x90;
	assert_int_equal(emu_decode(b, sizeof(b), L64, &in), 0);
	assert_int_equal(in.len, 1);
}

static void test_format(void **state)
{
	struct emu_insn in;
	char buf[64];

	(void)state;
	assert_int_equal(decode_hex("0f 0b", L64, &in), 0);
	assert_int_equal(emu_insn_format(&in, buf, sizeof(buf)), 5);
	assert_string_equal(buf, "0f 0b");
	assert_int_equal(decode_hex("f0 48 0f c7 0f", L64, &in), 0);
	emu_insn_format(&in, buf, sizeof(buf));
	assert_string_equal(buf, "f0 48 0f c7 0f");
	/* truncates cleanly */
	assert_int_equal(emu_insn_format(&in, buf, 6), 5);
	assert_string_equal(buf, "f0 48");
	assert_int_equal(emu_insn_format(&in, buf, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_fields_sib),
		cmocka_unit_test(test_fields_rip_relative),
		cmocka_unit_test(test_fields_prefixes),
		cmocka_unit_test(test_fields_16bit),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
