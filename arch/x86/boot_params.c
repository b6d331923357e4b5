// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/boot_params.h"

#include <string.h>

#include "arch/x86/include/arch_types.h"

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

unsigned e820_build(const struct guest_memory *mem, struct e820_entry *out, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < mem->nr_regions && n + 4 <= max; i++) {
		const struct guest_region *r = &mem->region[i];
		if (r->gpa == 0) {
			/* Below 1 MiB: RAM up to the EBDA (which holds the MP table). */
			out[n++] = (struct e820_entry){ 0, ARCH_EBDA_ADDR, E820_RAM };
			out[n++] = (struct e820_entry){ ARCH_EBDA_ADDR, 0xa0000 - ARCH_EBDA_ADDR,
							E820_RESERVED };
			/* 0xe0000-0xfffff holds the ACPI tables (the BIOS area on a PC). */
			out[n++] = (struct e820_entry){ 0xe0000, ARCH_HIGH_MEMORY - 0xe0000,
							E820_RESERVED };
			if (r->size > ARCH_HIGH_MEMORY)
				out[n++] = (struct e820_entry){ ARCH_HIGH_MEMORY,
								r->size - ARCH_HIGH_MEMORY, E820_RAM };
		} else {
			out[n++] = (struct e820_entry){ r->gpa, r->size, E820_RAM };
		}
	}
	return n;
}

void boot_params_build(uint8_t *zp, const struct x86_kernel *k, const struct e820_entry *e820,
		       unsigned nr_e820, uint64_t acpi_rsdp)
{
	memset(zp, 0, BOOT_PARAMS_SIZE);
	if (k->has_setup_header) {
		memcpy(zp + BZIMAGE_HDR_OFFSET, k->setup_header, k->setup_header_len);
	} else {
		/* An ELF kernel has no header of its own: make the minimal valid one. */
		put16(zp + BP_BOOT_FLAG, 0xaa55);
		put32(zp + BP_HEADER, 0x53726448); /* "HdrS" */
		put16(zp + BP_VERSION, 0x020f);
		put32(zp + BP_KERNEL_ALIGNMENT, 0x01000000);
		zp[BP_LOADFLAGS] = 0x01; /* LOADED_HIGH */
	}
	zp[BP_TYPE_OF_LOADER] = 0xff; /* "undefined" loader: ember has no assigned ID */
	/* Boot protocol 2.14: saves the kernel its scan of the BIOS area. */
	memcpy(zp + BP_ACPI_RSDP_ADDR, &acpi_rsdp, sizeof(acpi_rsdp));

	const struct boot_info *boot = &k->boot;

	put32(zp + BP_CMD_LINE_PTR, (uint32_t)boot->cmdline_gpa);
	put32(zp + BP_EXT_CMD_LINE_PTR, (uint32_t)(boot->cmdline_gpa >> 32));
	if (boot->initrd_size) {
		put32(zp + BP_RAMDISK_IMAGE, (uint32_t)boot->initrd_gpa);
		put32(zp + BP_RAMDISK_SIZE, (uint32_t)boot->initrd_size);
		put32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(boot->initrd_gpa >> 32));
		put32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)(boot->initrd_size >> 32));
	}
	if (nr_e820 > E820_MAX)
		nr_e820 = E820_MAX;
	zp[BP_E820_ENTRIES] = (uint8_t)nr_e820;
	memcpy(zp + BP_E820_TABLE, e820, nr_e820 * sizeof(*e820));
}
