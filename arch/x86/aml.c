// SPDX-License-Identifier: GPL-2.0-only
/* AML byte encoder: see aml.h.  Grammar references are to ACPI 6.5 chapter 20. */
#include "arch/x86/aml.h"

#include <errno.h>
#include <string.h>

/* §20.2.2 - §20.2.5: the opcodes and prefixes this encoder emits. */
#define AML_ZERO_OP         0x00
#define AML_ONE_OP          0x01
#define AML_NAME_OP         0x08
#define AML_BYTE_PREFIX     0x0a
#define AML_WORD_PREFIX     0x0b
#define AML_DWORD_PREFIX    0x0c
#define AML_STRING_PREFIX   0x0d
#define AML_QWORD_PREFIX    0x0e
#define AML_SCOPE_OP        0x10
#define AML_BUFFER_OP       0x11
#define AML_DUAL_NAME_PFX   0x2e
#define AML_MULTI_NAME_PFX  0x2f
#define AML_EXT_OP_PREFIX   0x5b
#define AML_DEVICE_OP       0x82 /* after AML_EXT_OP_PREFIX */
#define AML_ROOT_CHAR       '\\'
#define AML_PARENT_CHAR     '^'

/* §20.2.4: a PkgLength of up to four bytes holds at most 28 bits. */
#define AML_PKG_MAX         0x0fffffffu

/* §6.4.2 small and §6.4.3 large resource data type tags. */
#define RES_IRQ_NOFLAGS     0x22 /* small item 0x4, length 2 */
#define RES_IO              0x47 /* small item 0x8, length 7 */
#define RES_END_TAG         0x79 /* small item 0xf, length 1 */
#define RES_MEMORY32_FIXED  0x86 /* large item 0x6 */
#define RES_EXT_INTERRUPT   0x89 /* large item 0x9 */

static void fail(struct aml *a, int err)
{
	if (!a->err)
		a->err = err;
}

void aml_init(struct aml *a, uint8_t *buf, size_t size)
{
	a->buf = buf;
	a->size = size;
	a->len = 0;
	a->err = 0;
}

int aml_finish(const struct aml *a)
{
	if (a->err)
		return a->err;
	if (a->len > 0x7fffffff)
		return -E2BIG;
	return (int)a->len;
}

void aml_put_bytes(struct aml *a, const void *p, size_t n)
{
	if (a->err)
		return;
	if (n > a->size - a->len) {
		fail(a, -E2BIG);
		return;
	}
	memcpy(a->buf + a->len, p, n);
	a->len += n;
}

void aml_put_byte(struct aml *a, uint8_t b)
{
	aml_put_bytes(a, &b, 1);
}

static void put_le(struct aml *a, uint64_t v, unsigned n)
{
	uint8_t b[8];
	for (unsigned i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	aml_put_bytes(a, b, n);
}

/* Opens a gap of n bytes at `at` (moving the body after it) and fills it from p. */
static void insert(struct aml *a, size_t at, const uint8_t *p, size_t n)
{
	if (a->err)
		return;
	if (at > a->len) {
		fail(a, -EINVAL);
		return;
	}
	if (n > a->size - a->len) {
		fail(a, -E2BIG);
		return;
	}
	memmove(a->buf + at + n, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, n);
	a->len += n;
}

/*
 * §20.2.4 Package Length Encoding.  The length counts the PkgLength bytes
 * themselves.  One byte holds 0-63 in bits 5-0; otherwise bits 7-6 of the
 * lead byte say how many bytes follow (1-3), bits 3-0 hold the low nibble
 * and each following byte the next eight bits.
 */
static size_t encode_pkglength(uint8_t out[4], size_t body)
{
	size_t n, total;

	if (body + 1 <= 0x3f) {
		out[0] = (uint8_t)(body + 1);
		return 1;
	}
	for (n = 2; n <= 4; n++) {
		total = body + n;
		if (total < ((size_t)1 << (4 + 8 * (n - 1))))
			break;
	}
	if (n > 4)
		return 0;
	out[0] = (uint8_t)(((n - 1) << 6) | (total & 0x0f));
	for (size_t i = 1; i < n; i++)
		out[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	return n;
}

static void insert_pkglength(struct aml *a, size_t mark)
{
	uint8_t enc[4];
	size_t n;

	if (a->err)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	if (a->len - mark > AML_PKG_MAX - 4 || !(n = encode_pkglength(enc, a->len - mark))) {
		fail(a, -E2BIG);
		return;
	}
	insert(a, mark, enc, n);
}

static size_t encode_integer(uint8_t out[9], uint64_t v)
{
	unsigned n;

	if (v <= 1) {
		out[0] = v ? AML_ONE_OP : AML_ZERO_OP;
		return 1;
	}
	if (v <= 0xff) {
		out[0] = AML_BYTE_PREFIX;
		n = 1;
	} else if (v <= 0xffff) {
		out[0] = AML_WORD_PREFIX;
		n = 2;
	} else if (v <= 0xffffffffu) {
		out[0] = AML_DWORD_PREFIX;
		n = 4;
	} else {
		out[0] = AML_QWORD_PREFIX;
		n = 8;
	}
	for (unsigned i = 0; i < n; i++)
		out[1 + i] = (uint8_t)(v >> (8 * i));
	return 1 + n;
}

void aml_put_integer(struct aml *a, uint64_t v)
{
	uint8_t enc[9];
	size_t n = encode_integer(enc, v);
	aml_put_bytes(a, enc, n);
}

static bool is_lead_name_char(char c) { return (c >= 'A' && c <= 'Z') || c == '_'; }
static bool is_name_char(char c) { return is_lead_name_char(c) || (c >= '0' && c <= '9'); }

/*
 * §20.2.2 Name Objects Encoding:
 *   NameString := <RootChar NamePath> | <PrefixPath NamePath>
 *   NamePath   := NameSeg | DualNamePath | MultiNamePath | NullName
 * A NameSeg is four characters: a lead character (A-Z, _) then A-Z, 0-9, _.
 */
void aml_put_namestring(struct aml *a, const char *path)
{
	uint8_t segs[255][4];
	unsigned count = 0;
	const char *p = path;

	if (a->err)
		return;
	if (*p == AML_ROOT_CHAR) {
		aml_put_byte(a, AML_ROOT_CHAR);
		p++;
	} else {
		while (*p == AML_PARENT_CHAR) {
			aml_put_byte(a, AML_PARENT_CHAR);
			p++;
		}
	}
	while (*p) {
		unsigned n = 0;
		if (count == 255) {
			fail(a, -EINVAL);
			return;
		}
		while (*p && *p != '.') {
			if (n == 4 || !(n == 0 ? is_lead_name_char(*p) : is_name_char(*p))) {
				fail(a, -EINVAL);
				return;
			}
			segs[count][n++] = (uint8_t)*p++;
		}
		if (n == 0) { /* empty segment: "A..B", "A." or ".A" */
			fail(a, -EINVAL);
			return;
		}
		while (n < 4)
			segs[count][n++] = '_';
		count++;
		if (*p == '.' && !*++p) {
			fail(a, -EINVAL);
			return;
		}
	}
	if (count == 0) {
		aml_put_byte(a, 0x00); /* NullName */
		return;
	}
	if (count == 2) {
		aml_put_byte(a, AML_DUAL_NAME_PFX);
	} else if (count > 2) {
		aml_put_byte(a, AML_MULTI_NAME_PFX);
		aml_put_byte(a, (uint8_t)count);
	}
	aml_put_bytes(a, segs, 4 * (size_t)count);
}

void aml_put_string(struct aml *a, const char *s)
{
	size_t n = strlen(s);

	for (size_t i = 0; i < n; i++) {
		if ((uint8_t)s[i] > 0x7f) { /* AsciiChar is 0x01-0x7f */
			fail(a, -EINVAL);
			return;
		}
	}
	aml_put_byte(a, AML_STRING_PREFIX);
	aml_put_bytes(a, s, n + 1);
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The compressed EISA type ID of _HID (ACPI 6.5 §6.1.5), what the ASL
 * EisaId() macro produces: three upper-case letters packed as 5-bit values
 * ('A' = 1) and four hex digits, stored big-endian.  In AML it is an
 * ordinary DWordConst, so the bytes come out in that order.
 */
void aml_put_eisaid(struct aml *a, const char *id)
{
	uint8_t b[4];
	unsigned v = 0;

	if (strlen(id) != 7) {
		fail(a, -EINVAL);
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (id[i] < 'A' || id[i] > 'Z') {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 5) | (unsigned)(id[i] - 'A' + 1);
	}
	for (int i = 3; i < 7; i++) {
		int h = hex_value(id[i]);
		if (h < 0) {
			fail(a, -EINVAL);
			return;
		}
		v = (v << 4) | (unsigned)h;
	}
	/* 15 bits of letters + 16 of digits: bit 31 stays 0 as the format requires. */
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
	aml_put_byte(a, AML_DWORD_PREFIX);
	aml_put_bytes(a, b, 4);
}

void aml_put_name(struct aml *a, const char *name)
{
	aml_put_byte(a, AML_NAME_OP);
	aml_put_namestring(a, name);
}

/* The mark is where the PkgLength goes: right after the opcode. */
size_t aml_begin_scope(struct aml *a, const char *path)
{
	aml_put_byte(a, AML_SCOPE_OP);
	size_t mark = a->len;
	aml_put_namestring(a, path);
	return mark;
}

size_t aml_begin_device(struct aml *a, const char *name)
{
	aml_put_byte(a, AML_EXT_OP_PREFIX);
	aml_put_byte(a, AML_DEVICE_OP);
	size_t mark = a->len;
	aml_put_namestring(a, name);
	return mark;
}

void aml_end_package(struct aml *a, size_t mark)
{
	insert_pkglength(a, mark);
}

/* DefBuffer := BufferOp PkgLength BufferSize ByteList (§20.2.5.4). */
size_t aml_begin_buffer(struct aml *a)
{
	aml_put_byte(a, AML_BUFFER_OP);
	return a->len;
}

void aml_end_buffer(struct aml *a, size_t mark)
{
	uint8_t enc[9];

	if (a->err)
		return;
	if (mark > a->len) {
		fail(a, -EINVAL);
		return;
	}
	/* BufferSize first (it sits inside the package), then the PkgLength before it. */
	size_t n = encode_integer(enc, a->len - mark);
	insert(a, mark, enc, n);
	insert_pkglength(a, mark);
}

void aml_put_buffer(struct aml *a, const void *p, size_t n)
{
	size_t mark = aml_begin_buffer(a);
	aml_put_bytes(a, p, n);
	aml_end_buffer(a, mark);
}

size_t aml_begin_resources(struct aml *a)
{
	return aml_begin_buffer(a);
}

/*
 * §6.4.2.9 End Tag: a zero checksum means "the template checksums to zero"
 * by definition, which is what ASL compilers emit too.
 */
void aml_end_resources(struct aml *a, size_t mark)
{
	static const uint8_t end_tag[] = { RES_END_TAG, 0x00 };
	aml_put_bytes(a, end_tag, sizeof(end_tag));
	aml_end_buffer(a, mark);
}

/* §6.4.3.4: tag, length 9 (16-bit), information (bit 0: writable), base, length. */
void aml_put_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t length)
{
	aml_put_byte(a, RES_MEMORY32_FIXED);
	put_le(a, 9, 2);
	aml_put_byte(a, writable ? 1 : 0);
	put_le(a, base, 4);
	put_le(a, length, 4);
}

/* §6.4.3.6: tag, length (16-bit), flags, table length, then 32-bit interrupt numbers. */
void aml_put_interrupt(struct aml *a, uint8_t flags, uint32_t gsi)
{
	if (flags & ~(AML_INT_CONSUMER | AML_INT_EDGE | AML_INT_ACTIVE_LOW | AML_INT_SHARED |
		      AML_INT_WAKE)) {
		fail(a, -EINVAL);
		return;
	}
	aml_put_byte(a, RES_EXT_INTERRUPT);
	put_le(a, 2 + 4, 2);
	aml_put_byte(a, flags);
	aml_put_byte(a, 1);
	put_le(a, gsi, 4);
}

/* §6.4.2.5: tag, information (bit 0: 16-bit decode), min, max, alignment, length. */
void aml_put_io(struct aml *a, bool decode16, uint16_t min, uint16_t max, uint8_t align,
		uint8_t length)
{
	if (min > max) {
		fail(a, -EINVAL);
		return;
	}
	aml_put_byte(a, RES_IO);
	aml_put_byte(a, decode16 ? 1 : 0);
	put_le(a, min, 2);
	put_le(a, max, 2);
	aml_put_byte(a, align);
	aml_put_byte(a, length);
}

/* §6.4.2.1: the 2-byte form means edge-triggered, active high, exclusive (IRQNoFlags). */
void aml_put_irq_noflags(struct aml *a, unsigned irq)
{
	if (irq > 15) {
		fail(a, -EINVAL);
		return;
	}
	aml_put_byte(a, RES_IRQ_NOFLAGS);
	put_le(a, 1u << irq, 2);
}
