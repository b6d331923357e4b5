/* SPDX-License-Identifier: GPL-2.0-only */
/* Getting a kernel, its initrd and its command line into guest memory. */
#ifndef EMBER_BOOT_BOOT_H
#define EMBER_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/error.h"
#include "vm/memory.h"

enum boot_protocol {
	BOOT_LINUX_64, /* Linux 64-bit boot protocol: long mode, RSI = boot_params */
	BOOT_PVH,      /* Xen PVH direct boot: 32-bit protected mode, EBX = hvm_start_info */
};

/* The bzImage setup header lives at 0x1f1 and is at most this long (to 0x280). */
#define BZIMAGE_HDR_OFFSET   0x1f1
#define BZIMAGE_HDR_MAX      (0x280 - BZIMAGE_HDR_OFFSET)

struct boot_info {
	enum boot_protocol protocol;
	uint64_t entry;          /* guest-physical entry point */
	uint64_t kernel_start;   /* loaded image, for placing what follows */
	uint64_t kernel_end;     /* first byte the kernel will not use (bzImage: + init_size) */

	/* bzImage only: the header to copy into boot_params. */
	bool has_setup_header;
	uint8_t setup_header[BZIMAGE_HDR_MAX];
	size_t setup_header_len;
	uint16_t boot_version;   /* e.g. 0x020f */

	uint64_t initrd_max;     /* highest byte the kernel can reach for the initrd */
	uint64_t initrd_gpa, initrd_size;

	uint64_t cmdline_gpa;
	size_t cmdline_len;      /* without the NUL */
	const char *format;      /* "bzImage", "ELF vmlinux", ... for messages */
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
 * `boot` (protocol, entry, extents).  `load_addr` is where a bzImage's
 * protected-mode kernel goes (arch constant).
 */
int bzimage_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
		 uint64_t load_addr, struct boot_info *boot, struct ember_err *err);
int elf_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
	     struct boot_info *boot, struct ember_err *err);

/* Reads `path` (mapped read-only) and dispatches on its format. */
int boot_load_kernel(const struct guest_memory *mem, const char *path, uint64_t load_addr,
		     struct boot_info *boot, struct ember_err *err);

/*
 * Places the initrd as high as possible below min(boot->initrd_max, end of
 * the RAM region that holds the kernel), page aligned, above the kernel.
 */
int boot_load_initrd(const struct guest_memory *mem, const char *path, struct boot_info *boot,
		     struct ember_err *err);

/* Maps a whole file read-only; *size gets its length. */
int boot_map_file(const char *flag, const char *path, const uint8_t **data, size_t *size,
		  struct ember_err *err);
void boot_unmap_file(const uint8_t *data, size_t size);

#endif
