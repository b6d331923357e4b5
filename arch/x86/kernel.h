/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * x86 kernel images: bzImage (boot protocol 2.12+, Documentation/arch/x86/
 * boot.rst) and ELF64 (a vmlinux, or a PVH-capable ELF), and what ember
 * must remember of them to enter the kernel.
 */
#ifndef EMBER_ARCH_X86_KERNEL_H
#define EMBER_ARCH_X86_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/boot.h"
#include "vm/error.h"
#include "vm/memory.h"

enum x86_boot_protocol {
	X86_BOOT_LINUX_64, /* Linux 64-bit boot protocol: long mode, RSI = boot_params */
	X86_BOOT_PVH,      /* Xen PVH direct boot: 32-bit protected mode, EBX = hvm_start_info */
};

/* The bzImage setup header lives at 0x1f1 and is at most this long (to 0x280). */
#define BZIMAGE_HDR_OFFSET   0x1f1
#define BZIMAGE_HDR_MAX      (0x280 - BZIMAGE_HDR_OFFSET)

/* A loaded x86 kernel: where it landed, and how to enter it. */
struct x86_kernel {
	struct boot_info boot;
	enum x86_boot_protocol protocol;
	/* bzImage only: the header to copy into boot_params. */
	bool has_setup_header;
	uint8_t setup_header[BZIMAGE_HDR_MAX];
	size_t setup_header_len;
	uint16_t boot_version;   /* e.g. 0x020f */
};

/* Parsed bzImage header fields ember needs (boot protocol 2.12+). */
struct bzimage_header {
	uint16_t version;
	uint8_t setup_sects;
	uint8_t loadflags;
	uint16_t xloadflags;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	uint8_t relocatable;
	uint32_t cmdline_size;
	uint32_t payload_offset, payload_length;
	uint64_t pref_address;
	uint32_t init_size;
	size_t setup_size;       /* bytes of real-mode setup code before the kernel proper */
	size_t header_len;       /* bytes of setup header from 0x1f1 */
};

/* Pure parsers (no guest memory), unit tested on crafted images. */
int bzimage_parse(const uint8_t *img, size_t size, struct bzimage_header *hdr,
		  struct ember_err *err);
bool bzimage_detect(const uint8_t *img, size_t size);
bool elf_detect(const uint8_t *img, size_t size);

/*
 * Loads a bzImage or ELF vmlinux from `img` into guest memory and fills
 * `k` (protocol, entry, extents).  `load_addr` is where a bzImage's
 * protected-mode kernel goes.
 */
int bzimage_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
		 uint64_t load_addr, struct x86_kernel *k, struct ember_err *err);
int elf_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
	     struct x86_kernel *k, struct ember_err *err);

/* Reads `path` (mapped read-only) and dispatches on its format. */
int x86_load_kernel(const struct guest_memory *mem, const char *path, uint64_t load_addr,
		    struct x86_kernel *k, struct ember_err *err);

#endif
