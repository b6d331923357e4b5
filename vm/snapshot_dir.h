/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A snapshot on disk is a directory of two files,
 *   state   the VM's state sections (vm/snapshot_file.h)
 *   memory  guest RAM: a sparse image (vm/memory_file.c) or, with
 *           compression, an LZ4 image (vm/memory_lz4.h)
 * replaced as a whole: both are written into a fresh temporary directory
 * next to it, fsync'ed, and that directory is swapped with the old one in
 * one rename (RENAME_EXCHANGE), so a reader finds the old pair or the new
 * pair and a crash never leaves half a snapshot under the name.
 *
 * Writing happens after the sandbox is up: everything it needs by name is
 * opened before (the parent directory, /proc/self/pagemap), and the rest
 * are *at() calls relative to that directory (vm/sandbox.c allows those).
 */
#ifndef EMBER_VM_SNAPSHOT_DIR_H
#define EMBER_VM_SNAPSHOT_DIR_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"
#include "vm/memory.h"
#include "vm/snapshot_file.h"

#define SNAPSHOT_STATE_FILE  "state"
#define SNAPSHOT_MEMORY_FILE "memory"

/* Where snapshots of a running VM go: opened before the sandbox. */
struct snapshot_dir {
	int parent_fd;           /* the directory that holds it */
	char name[NAME_MAX + 1]; /* its name in there */
	char path[PATH_MAX];     /* for messages */
	int pagemap_fd;          /* /proc/self/pagemap, or -1 */
	unsigned serial;         /* temporary directories of this process */
};

struct snapshot_dir_stats {
	uint64_t state_bytes;    /* the state file */
	uint64_t memory_pages;   /* 4 KiB pages stored (sparse image) */
	uint64_t memory_bytes;   /* bytes on disk for the memory file */
};

/* Creates the parent directories as needed and opens them; `path` is the snapshot's directory. */
int snapshot_dir_prepare(struct snapshot_dir *d, const char *path, struct ember_err *err);
/*
 * Writes state and RAM (the VM paused) and swaps them in.  compress: an
 * LZ4 memory image instead of the sparse one.
 */
int snapshot_dir_write(struct snapshot_dir *d, const struct snapshot_writer *w,
		       const struct guest_memory *mem, bool compress, struct snapshot_dir_stats *stats,
		       struct ember_err *err);
void snapshot_dir_close(struct snapshot_dir *d);

/* A snapshot read back: its state parsed, its memory file open. */
struct snapshot_loaded {
	struct snapshot_reader state;
	int memory_fd;
	char path[PATH_MAX];
};

/*
 * Opens the snapshot directory `path` (both files from the same directory,
 * even if a writer swaps it meanwhile) and reads its state.  -ENOENT when
 * there is none.  snapshot_loaded_free either way.
 */
int snapshot_dir_load(struct snapshot_loaded *l, const char *path, const char *ember_version,
		      struct ember_err *err);
/*
 * Puts the memory file into freshly created RAM of the saved size: mapped
 * copy-on-write (sparse image) or decompressed in parallel (LZ4 image).
 */
int snapshot_dir_load_memory(struct snapshot_loaded *l, struct guest_memory *mem,
			     struct ember_err *err);
void snapshot_loaded_free(struct snapshot_loaded *l);

#endif
