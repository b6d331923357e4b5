/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A small ACPI Machine Language encoder (ACPI 6.5 chapter 20), just enough
 * for ember's DSDT: names, scopes, devices, integers, strings, EISA IDs and
 * resource templates (ACPI 6.5 §6.4).
 *
 * A struct aml is a byte buffer with a fixed capacity.  Every call checks
 * the bounds first and never writes past `size`; the first error (-E2BIG
 * when the buffer is full, -EINVAL for a malformed name or value) is kept
 * in `err` and turns every later call into a no-op, so a caller emits a
 * whole block and checks once at the end with aml_finish().
 *
 * Objects with a PkgLength (Scope, Device, Buffer) are written as
 * begin ... end: the begin call returns a mark, the body follows, and the
 * end call inserts the length in front of the body once it is known.
 */
#ifndef EMBER_ARCH_X86_AML_H
#define EMBER_ARCH_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct aml {
	uint8_t *buf;
	size_t size;  /* capacity of buf */
	size_t len;   /* bytes written so far */
	int err;      /* 0, or the first error; sticky */
};

/* Extended Interrupt Descriptor flags, ACPI 6.5 §6.4.3.6 (byte 3). */
#define AML_INT_CONSUMER   0x01 /* ResourceConsumer (0: ResourceProducer) */
#define AML_INT_EDGE       0x02 /* Edge (0: Level) */
#define AML_INT_ACTIVE_LOW 0x04 /* ActiveLow (0: ActiveHigh) */
#define AML_INT_SHARED     0x08 /* Shared (0: Exclusive) */
#define AML_INT_WAKE       0x10 /* SharedAndWake / ExclusiveAndWake */

void aml_init(struct aml *a, uint8_t *buf, size_t size);
/* Bytes written, or the first error. */
int aml_finish(const struct aml *a);

void aml_put_byte(struct aml *a, uint8_t b);
void aml_put_bytes(struct aml *a, const void *p, size_t n);

/*
 * NameString (§20.2.2): "\\_SB_", "^PARN", "_SB_.COM1", "" (NullName).
 * Segments shorter than four characters are padded with '_'.
 */
void aml_put_namestring(struct aml *a, const char *path);
/* ComputationalData integer (§20.2.3): Zero, One, or the smallest of Byte/Word/DWord/QWordConst. */
void aml_put_integer(struct aml *a, uint64_t v);
/* String (§20.2.3): ASCII 0x01-0x7f, NUL-terminated. */
void aml_put_string(struct aml *a, const char *s);
/* EisaId ("PNP0501"): the compressed 32-bit EISA ID as a DWordConst. */
void aml_put_eisaid(struct aml *a, const char *id);

/* Name (name, <data object that the caller emits next>), §20.2.5.1. */
void aml_put_name(struct aml *a, const char *name);
/* Scope (path) { ... }, §20.2.5.1. */
size_t aml_begin_scope(struct aml *a, const char *path);
/* Device (name) { ... }, §20.2.5.2. */
size_t aml_begin_device(struct aml *a, const char *name);
/* Closes a Scope or Device: inserts its PkgLength (§20.2.4). */
void aml_end_package(struct aml *a, size_t mark);

/* Buffer () { bytes }, §20.2.5.4 DefBuffer; the BufferSize is computed at the end. */
size_t aml_begin_buffer(struct aml *a);
void aml_end_buffer(struct aml *a, size_t mark);
void aml_put_buffer(struct aml *a, const void *p, size_t n);

/* ResourceTemplate () { ... }: a Buffer of resource descriptors closed by an End Tag. */
size_t aml_begin_resources(struct aml *a);
void aml_end_resources(struct aml *a, size_t mark);
/* Memory32Fixed (ReadWrite|ReadOnly, base, length), §6.4.3.4. */
void aml_put_memory32_fixed(struct aml *a, bool writable, uint32_t base, uint32_t length);
/* Interrupt (flags) { gsi }: Extended Interrupt Descriptor with one interrupt, §6.4.3.6. */
void aml_put_interrupt(struct aml *a, uint8_t flags, uint32_t gsi);
/* IO (Decode16|Decode10, min, max, alignment, length), §6.4.2.5. */
void aml_put_io(struct aml *a, bool decode16, uint16_t min, uint16_t max, uint8_t align,
		uint8_t length);
/* IRQNoFlags () { irq }: IRQ descriptor, 2-byte form (edge, active high, exclusive), §6.4.2.1. */
void aml_put_irq_noflags(struct aml *a, unsigned irq);

#endif
