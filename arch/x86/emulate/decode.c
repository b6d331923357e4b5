// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 instruction decoder: prefixes, REX, VEX/EVEX, opcode maps, ModRM,
 * SIB, displacement and immediates, for 16-, 32- and 64-bit code.
 * It finds every field and the length; it does not judge semantics.
 * Instruction format: SDM Vol 2A chapter 2; opcode maps: Vol 2D App. A.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/emulate/internal.h"

/* Reads bytes[pos] of an instruction, never past 15 or the caller's buffer. */
struct dec {
	const uint8_t *buf;
	size_t avail;
	size_t pos;
};

static int dec_byte(struct dec *d, uint8_t *b)
{
	if (d->pos >= EMU_MAX_INSN_LEN)
		return -E2BIG;
	if (d->pos >= d->avail)
		return -ENODATA;
	*b = d->buf[d->pos++];
	return 0;
}

static int dec_peek(const struct dec *d, uint8_t *b)
{
	if (d->pos >= EMU_MAX_INSN_LEN)
		return -E2BIG;
	if (d->pos >= d->avail)
		return -ENODATA;
	*b = d->buf[d->pos];
	return 0;
}

/* Reads an n-byte little-endian field; sign-extends it if sext. */
static int dec_field(struct dec *d, unsigned n, bool sext, uint64_t *val)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++) {
		uint8_t b;
		int r = dec_byte(d, &b);

		if (r)
			return r;
		v |= (uint64_t)b << (8 * i);
	}
	if (sext && n > 0 && n < 8 && (v >> (8 * n - 1)) & 1)
		v |= ~0ULL << (8 * n);
	*val = v;
	return 0;
}

/*
 * Legacy prefixes and REX (Vol 2A §2.1.1, §2.2.1).  A REX byte counts only
 * if it comes right before the opcode: a legacy prefix after it cancels it.
 * In 64-bit mode the es/cs/ss/ds overrides are ignored (Vol 1 §3.3.7.1).
 * Returns the first byte that is not a prefix in *op.
 */
static int dec_prefixes(struct dec *d, struct emu_insn *in, int *seg, uint8_t *op)
{
	bool long64 = in->mode == EMU_MODE_LONG64;

	for (;;) {
		uint8_t b;
		int r = dec_byte(d, &b);

		if (r)
			return r;
		switch (b) {
		case 0xf0: in->prefixes |= EMU_PFX_LOCK; break;
		case 0xf2: in->prefixes |= EMU_PFX_REPNE; in->last_rep = b; break;
		case 0xf3: in->prefixes |= EMU_PFX_REP; in->last_rep = b; break;
		case 0x66: in->prefixes |= EMU_PFX_OPSIZE; break;
		case 0x67: in->prefixes |= EMU_PFX_ADSIZE; break;
		case 0x26: case 0x2e: case 0x36: case 0x3e:
			in->prefixes |= EMU_PFX_SEG;
			if (!long64)
				*seg = (b >> 3) & 3;	/* 26 es, 2e cs, 36 ss, 3e ds */
			break;
		case 0x64: case 0x65:
			in->prefixes |= EMU_PFX_SEG;
			*seg = b == 0x64 ? EMU_SEG_FS : EMU_SEG_GS;
			break;
		default:
			if (!long64 || (b & 0xf0) != 0x40) {
				*op = b;
				return 0;
			}
			break;
		}
		in->rex = (long64 && (b & 0xf0) == 0x40) ? b : 0;
		/* 14 prefixes leave room for one opcode byte in 15. */
		if (++in->nprefixes > EMU_MAX_INSN_LEN - 1)
			return -E2BIG;
	}
}

/* Default sizes by mode and the 66/67/REX.W prefixes (Vol 1 §3.6, Table 3-4). */
static void dec_sizes(struct emu_insn *in)
{
	bool o = in->prefixes & EMU_PFX_OPSIZE, a = in->prefixes & EMU_PFX_ADSIZE;

	switch (in->mode) {
	case EMU_MODE_LONG64:
		in->opsize = (in->rex & 8) ? 8 : o ? 2 : 4;
		in->addrsize = a ? 4 : 8;
		break;
	case EMU_MODE_PROT32:
		in->opsize = o ? 2 : 4;
		in->addrsize = a ? 2 : 4;
		break;
	default:
		in->opsize = o ? 4 : 2;
		in->addrsize = a ? 4 : 2;
		break;
	}
}

/*
 * VEX (c4/c5) and EVEX (62) prefixes (Vol 2A §2.3, §2.7).  Outside 64-bit
 * mode these bytes are les/lds/bound unless the next byte has mod = 11b,
 * which those cannot encode.  In real and virtual-8086 mode a VEX prefix
 * is #UD (Vol 2A §2.8, exception type tables).
 */
static bool dec_is_vex(const struct dec *d, const struct emu_insn *in, uint8_t op)
{
	uint8_t next;

	if (op != 0xc4 && op != 0xc5 && op != 0x62)
		return false;
	if (in->mode == EMU_MODE_LONG64)
		return true;
	if (dec_peek(d, &next))
		return false;
	return (next & 0xc0) == 0xc0;
}

static int dec_vex(struct dec *d, struct emu_insn *in, uint8_t op, uint8_t *opcode)
{
	uint8_t p[3] = { 0 }, rxb, mmm, w = 0;
	unsigned n = op == 0xc5 ? 1 : op == 0xc4 ? 2 : 3;
	int r;

	/* Vol 2A §2.3.2: 66, f2, f3, lock or REX before VEX is #UD. */
	if (in->mode == EMU_MODE_REAL16 || in->rex || (in->prefixes & (EMU_PFX_LOCK | EMU_PFX_REP | EMU_PFX_REPNE | EMU_PFX_OPSIZE)))
		in->invalid = true;
	in->vex[0] = op;
	for (unsigned i = 0; i < n; i++) {
		r = dec_byte(d, &p[i]);
		if (r)
			return r;
		in->vex[i + 1] = p[i];
	}
	in->vex_len = n + 1;
	if (op == 0xc5) {
		rxb = (~p[0] >> 5) & 4;		/* R only */
		mmm = 1;
	} else {
		rxb = (~p[0] >> 5) & 7;
		mmm = op == 0xc4 ? (p[0] & 0x1f) : (p[0] & 0x07);
		w = p[1] >> 7;
		if (op == 0x62 && !(p[1] & 0x04))
			in->invalid = true;	/* EVEX P1 bit 2 must be 1 */
	}
	if (in->mode == EMU_MODE_LONG64)
		in->rex = 0x40 | w << 3 | rxb;
	switch (mmm) {
	case 1: in->map = EMU_MAP_0F; break;
	case 2: in->map = EMU_MAP_0F38; break;
	case 3: in->map = EMU_MAP_0F3A; break;
	case 5: in->map = op == 0x62 ? EMU_MAP_EVEX5 : EMU_MAP_0F; break;
	case 6: in->map = op == 0x62 ? EMU_MAP_EVEX6 : EMU_MAP_0F; break;
	default: in->map = EMU_MAP_0F; break;
	}
	if (mmm < 1 || mmm > 6 || mmm == 4 || (op != 0x62 && mmm > 3))
		in->invalid = true;	/* reserved map: #UD */
	return dec_byte(d, opcode);
}

/* 16-bit ModRM addressing (Vol 2A Table 2-1). */
static int dec_mem16(struct dec *d, struct emu_insn *in)
{
	static const int8_t base[8] = { EMU_RBX, EMU_RBX, EMU_RBP, EMU_RBP, EMU_RSI, EMU_RDI, EMU_RBP, EMU_RBX };
	static const int8_t index[8] = { EMU_RSI, EMU_RDI, EMU_RSI, EMU_RDI, -1, -1, -1, -1 };
	unsigned rm = in->modrm & 7;

	in->base = base[rm];
	in->index = index[rm];
	if (in->mod == 0 && rm == 6) {
		in->base = -1;
		in->disp_size = 2;
	} else if (in->mod == 1) {
		in->disp_size = 1;
	} else if (in->mod == 2) {
		in->disp_size = 2;
	}
	in->seg = in->base == EMU_RBP ? EMU_SEG_SS : EMU_SEG_DS;
	return dec_field(d, in->disp_size, true, &in->disp);
}

/* 32/64-bit ModRM and SIB addressing (Vol 2A Tables 2-2, 2-3, §2.2.1.6). */
static int dec_mem32(struct dec *d, struct emu_insn *in)
{
	unsigned rm = in->modrm & 7, rex_b = (in->rex & 1) << 3, rex_x = (in->rex & 2) << 2;
	int r;

	in->base = (int8_t)(rm | rex_b);
	if (rm == 4) {
		r = dec_byte(d, &in->sib);
		if (r)
			return r;
		in->has_sib = true;
		in->scale = (uint8_t)(1u << (in->sib >> 6));
		in->index = (int8_t)(((in->sib >> 3) & 7) | rex_x);
		if (in->index == EMU_RSP)
			in->index = -1;		/* 100b without REX.X: no index */
		in->base = (int8_t)((in->sib & 7) | rex_b);
		if ((in->sib & 7) == 5 && in->mod == 0) {
			in->base = -1;		/* disp32, no base */
			in->disp_size = 4;
		}
	} else if (rm == 5 && in->mod == 0) {
		in->base = -1;
		in->rip_rel = in->mode == EMU_MODE_LONG64;
		in->disp_size = 4;
	}
	if (in->mod == 1)
		in->disp_size = 1;
	else if (in->mod == 2)
		in->disp_size = 4;
	in->seg = (in->base == EMU_RSP || in->base == EMU_RBP) ? EMU_SEG_SS : EMU_SEG_DS;
	return dec_field(d, in->disp_size, true, &in->disp);
}

static int dec_modrm(struct dec *d, struct emu_insn *in, bool reg_only)
{
	int r = dec_byte(d, &in->modrm);

	if (r)
		return r;
	in->has_modrm = true;
	in->mod = in->modrm >> 6;
	in->reg = (uint8_t)(((in->modrm >> 3) & 7) | (in->rex & 4) << 1);
	in->rm = (uint8_t)((in->modrm & 7) | (in->rex & 1) << 3);
	if (reg_only || in->mod == 3)
		return 0;
	in->has_mem = true;
	in->scale = 1;
	in->index = -1;
	return in->addrsize == 2 ? dec_mem16(d, in) : dec_mem32(d, in);
}

static int dec_imm(struct dec *d, struct emu_insn *in, unsigned kind)
{
	unsigned z = in->opsize == 2 ? 2 : 4, n = 0;
	int r;

	switch (kind) {
	case IMM_B: n = 1; break;
	case IMM_W: n = 2; break;
	case IMM_Z: n = z; break;
	case IMM_V: n = in->opsize; break;
	case IMM_J: n = in->mode == EMU_MODE_LONG64 ? 4 : z; break;
	case IMM_G3B: n = (in->modrm & 0x30) == 0 ? 1 : 0; break;
	case IMM_G3Z: n = (in->modrm & 0x30) == 0 ? z : 0; break;
	case IMM_A:
		/* moffs: an absolute offset of address size, no ModRM. */
		in->has_mem = true;
		in->base = in->index = -1;
		in->scale = 1;
		in->seg = EMU_SEG_DS;
		in->disp_size = in->addrsize;
		return dec_field(d, in->addrsize, false, &in->disp);
	case IMM_F:
		in->imm_size = (uint8_t)(z + 2);
		r = dec_field(d, z, false, &in->imm);
		return r ? r : dec_field(d, 2, false, &in->imm2);
	case IMM_E:
		in->imm_size = 3;
		r = dec_field(d, 2, false, &in->imm);
		return r ? r : dec_field(d, 1, false, &in->imm2);
	default:
		return 0;
	}
	in->imm_size = (uint8_t)n;
	return dec_field(d, n, true, &in->imm);
}

/* Attributes of the opcode in its map (see opcodes.c). */
static uint8_t dec_attrs(const struct emu_insn *in)
{
	uint8_t a;

	switch (in->map) {
	case EMU_MAP_1B:
		return emu_optab_1b[in->opcode];
	case EMU_MAP_0F:
		a = emu_optab_0f[in->opcode];
		if (in->vex_len == 4)
			a |= OP_MODRM;		/* every EVEX instruction has one */
		return (a & OP_PREFIX) ? (in->vex_len == 4 ? OP_MODRM : 0) : a;
	case EMU_MAP_0F3A:
		return OP_MODRM | IMM_B << OP_IMM_SHIFT;
	default:
		return OP_MODRM;
	}
}

static int dec_insn(struct dec *d, struct emu_insn *in)
{
	int seg = -1, r;
	uint8_t op, a;

	r = dec_prefixes(d, in, &seg, &op);
	if (r)
		return r;
	dec_sizes(in);

	if (dec_is_vex(d, in, op)) {
		r = dec_vex(d, in, op, &in->opcode);
		if (r)
			return r;
		dec_sizes(in);
	} else if (op == 0x0f) {
		r = dec_byte(d, &op);
		if (r)
			return r;
		in->map = EMU_MAP_0F;
		if (op == 0x38 || op == 0x3a) {
			in->map = op == 0x38 ? EMU_MAP_0F38 : EMU_MAP_0F3A;
			r = dec_byte(d, &op);
			if (r)
				return r;
		}
		in->opcode = op;
	} else {
		in->map = EMU_MAP_1B;
		in->opcode = op;
	}

	a = dec_attrs(in);
	/* AMD SSE4a extrq/insertq: 66/f2 0f 78 /r ib ib (AMD APM Vol 4). */
	if (in->map == EMU_MAP_0F && in->opcode == 0x78 && !in->vex_len &&
	    (in->prefixes & (EMU_PFX_OPSIZE | EMU_PFX_REPNE)))
		a = OP_MODRM | IMM_W << OP_IMM_SHIFT;
	if ((a & OP_INV64) && in->mode == EMU_MODE_LONG64) {
		in->invalid = true;	/* #UD is raised on the opcode itself */
		return 0;
	}
	if (a & OP_MODRM) {
		r = dec_modrm(d, in, a & OP_MODRM_REG);
		if (r)
			return r;
	}
	r = dec_imm(d, in, OP_IMM(a));
	if (r)
		return r;
	if (in->has_mem && seg >= 0)
		in->seg = (uint8_t)seg;
	else if (!in->has_mem)
		in->seg = seg >= 0 ? (uint8_t)seg : EMU_SEG_DS;	/* string instructions' source */
	return 0;
}

int emu_decode(const uint8_t *bytes, size_t len, enum emu_mode mode,
	       struct emu_insn *out)
{
	struct dec d = { .buf = bytes, .avail = len, .pos = 0 };
	int r;

	if (!out || (!bytes && len) || mode > EMU_MODE_LONG64)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->mode = (uint8_t)mode;
	out->base = out->index = -1;
	if (d.avail > EMU_MAX_INSN_LEN)
		d.avail = EMU_MAX_INSN_LEN;
	if (d.avail)
		memcpy(out->bytes, bytes, d.avail);

	r = dec_insn(&d, out);
	if (r)
		return r;
	out->len = (uint8_t)d.pos;
	return 0;
}
