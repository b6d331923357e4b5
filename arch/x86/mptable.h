/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Intel MultiProcessor Specification 1.4 table: lets a kernel without ACPI
 * find every vCPU, the IOAPIC and how ISA interrupts reach it.  Without
 * the interrupt-source entries Linux stays in PIC mode and loses
 * interrupt-driven console output (pvm-notes.md).
 */
#ifndef EMBER_ARCH_X86_MPTABLE_H
#define EMBER_ARCH_X86_MPTABLE_H

#include <stddef.h>
#include <stdint.h>

/* Writes the floating pointer and the table into buf (placed at gpa); returns bytes used or -E2BIG. */
int mptable_build(uint8_t *buf, size_t size, uint64_t gpa, unsigned nr_cpus);

#endif
