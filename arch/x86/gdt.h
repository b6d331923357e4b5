/* SPDX-License-Identifier: GPL-2.0-only */
/* The boot GDT and the matching KVM segment registers. */
#ifndef EMBER_ARCH_X86_GDT_H
#define EMBER_ARCH_X86_GDT_H

#include <linux/kvm.h>
#include <stdint.h>

/* Selectors the Linux boot protocols expect: __BOOT_CS = 0x10, __BOOT_DS = 0x18. */
#define GDT_CODE32   1 /* 0x08: PVH enters in 32-bit protected mode */
#define GDT_CODE64   2 /* 0x10 */
#define GDT_DATA     3 /* 0x18 */
#define GDT_TSS      4 /* 0x20: VMX needs a usable TR even if the guest never uses it */
#define GDT_ENTRIES  5

void gdt_build(uint64_t gdt[GDT_ENTRIES]);
/* The hidden part of a segment register as loaded from gdt[index]. */
struct kvm_segment gdt_segment(const uint64_t gdt[GDT_ENTRIES], unsigned index);

#endif
