/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Building Linux's boot_params ("zero page", arch/x86/include/uapi/asm/
 * bootparam.h) and the e820 map.  Pure functions over a buffer, unit tested.
 */
#ifndef EMBER_ARCH_X86_BOOT_PARAMS_H
#define EMBER_ARCH_X86_BOOT_PARAMS_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/kernel.h"
#include "vm/memory.h"

#define E820_RAM      1
#define E820_RESERVED 2
#define E820_MAX      128

struct e820_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
} __attribute__((packed));

/* Offsets into boot_params (Documentation/arch/x86/zero-page.rst). */
#define BP_ACPI_RSDP_ADDR    0x070
#define BP_EXT_RAMDISK_IMAGE 0x0c0
#define BP_EXT_RAMDISK_SIZE  0x0c4
#define BP_EXT_CMD_LINE_PTR  0x0c8
#define BP_E820_ENTRIES      0x1e8
#define BP_BOOT_FLAG         0x1fe
#define BP_HEADER            0x202
#define BP_VERSION           0x206
#define BP_TYPE_OF_LOADER    0x210
#define BP_LOADFLAGS         0x211
#define BP_RAMDISK_IMAGE     0x218
#define BP_RAMDISK_SIZE      0x21c
#define BP_CMD_LINE_PTR      0x228
#define BP_KERNEL_ALIGNMENT  0x230
#define BP_E820_TABLE        0x2d0
#define BOOT_PARAMS_SIZE     4096

/* The guest's memory map: RAM regions, minus the low reserved areas. */
unsigned e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned max);

/* Fills a 4 KiB zero page for kernel `k` with the given memory map and RSDP address (0: none). */
void boot_params_build(uint8_t *zp, const struct x86_kernel *k, const struct e820_entry *e820,
		       unsigned nr_e820, uint64_t acpi_rsdp);

#endif
