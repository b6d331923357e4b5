/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every architecture's kernel loading shares: the record of where
 * things landed, the initrd, mapping files.  The image formats themselves
 * (bzImage, ELF with PVH, arm64 Image) belong to their arch.
 */
#ifndef EMBER_BOOT_BOOT_H
#define EMBER_BOOT_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/error.h"
#include "vm/memory.h"

/* Where the kernel, its initrd and its command line landed in guest RAM. */
struct boot_info {
	uint64_t entry;          /* guest-physical entry point */
	uint64_t kernel_start;   /* loaded image, for placing what follows */
	uint64_t kernel_end;     /* first byte the kernel will not use (bzImage: + init_size) */

	uint64_t initrd_max;     /* highest byte the kernel can reach for the initrd */
	uint64_t initrd_gpa, initrd_size;

	uint64_t cmdline_gpa;
	size_t cmdline_len;      /* without the NUL */
	const char *format;      /* "bzImage", "ELF vmlinux", ... for messages */
};

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
