/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest RAM.  The ONLY way any part of ember turns a guest-physical
 * address into a host pointer: every accessor checks the whole range
 * against the regions, so a guest-supplied address or length can never
 * reach outside guest RAM.
 */
#ifndef EMBER_VM_MEMORY_H
#define EMBER_VM_MEMORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vm/error.h"

#define GUEST_MEM_MAX_REGIONS 4

struct guest_region {
	uint64_t gpa;   /* first guest-physical address */
	uint64_t size;  /* bytes */
	uint8_t *host;  /* host mapping of gpa */
};

struct guest_memory {
	struct guest_region region[GUEST_MEM_MAX_REGIONS];
	unsigned nr_regions;
	uint8_t *mapping;      /* one anonymous mapping backing all regions */
	uint64_t mapping_size;
	/*
	 * When RAM was mapped from a snapshot's memory file (MAP_PRIVATE): that
	 * file, for guest_memory_scan (a page the guest never touched since is
	 * not "present", yet holds the file's bytes).  -1 otherwise.
	 */
	int backing_fd;
};

/*
 * Maps `total` bytes of RAM laid out by the architecture (see
 * arch_memory_layout()): regions are filled in order from `layout`.
 */
int guest_memory_create(struct guest_memory *mem, const struct guest_region *layout,
			unsigned nr_regions, struct ember_err *err);
void guest_memory_destroy(struct guest_memory *mem);

/* Host pointer for [gpa, gpa+len) if it lies wholly inside one region, else NULL. */
void *guest_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len);

/* Copies with the same check; return 0 or -EFAULT. */
int guest_read(const struct guest_memory *mem, uint64_t gpa, void *dst, size_t len);
int guest_write(const struct guest_memory *mem, uint64_t gpa, const void *src, size_t len);

/* Total RAM bytes across regions. */
uint64_t guest_memory_size(const struct guest_memory *mem);

/* ---- snapshots (vm/memory_file.c) ---------------------------------------------------- */

/*
 * Writes all of RAM into fd (emptied first) as a sparse file whose pages
 * sit at their own offsets; zero and untouched pages are holes.  The VM
 * must be paused.  pagemap_fd: /proc/self/pagemap opened before the
 * sandbox (untouched pages are then skipped unread), or -1 to look at
 * every page.  fsyncs fd.  *pages_written (optional): 4 KiB pages stored.
 */
int guest_memory_write_fd(const struct guest_memory *mem, int fd, int pagemap_fd,
			  uint64_t *pages_written, struct ember_err *err);
/*
 * Which of the n pages from page `first` of RAM may hold data, for a
 * snapshot writer that must not read (and so fault in) the others:
 * entry[i] becomes 1 or 0.  A page may hold data when /proc/self/pagemap
 * says it is present or swapped (pagemap_fd; -1 or unreadable: every page
 * may), or, for RAM mapped from a memory file, when it lies in a data
 * extent of that file (SEEK_DATA): untouched since the restore, it still
 * holds the file's bytes.  entry has room for n values.
 */
void guest_memory_scan(const struct guest_memory *mem, int pagemap_fd, uint64_t first, uint64_t n,
		       uint64_t *entry);
/* The same into `path`, atomically (vm/atomic_file.h). */
int guest_memory_save(const struct guest_memory *mem, const char *path, uint64_t *pages_written,
		      struct ember_err *err);
/*
 * Maps a memory file (guest_memory_write_fd) over this RAM (same size),
 * MAP_PRIVATE: copy-on-write, pages read on first touch.  `what` names it
 * in errors.  The file must not change while the VM runs.
 */
int guest_memory_map_fd(struct guest_memory *mem, int fd, const char *what, struct ember_err *err);
int guest_memory_map_file(struct guest_memory *mem, const char *path, struct ember_err *err);

#endif
