/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A snapshot's state file (everything but guest RAM): a list of tagged
 * sections, written as one LZ4 frame (liblz4) with its content checksum
 * on, so a flipped or missing byte anywhere fails the XXH32 check on read.
 * Inside the frame, little-endian:
 *   "EMBERSNP" | u32 format version | u32 section count | char ember[32]
 *   then per section: u32 tag | u32 index | u32 length | bytes
 * A reader accepts only its own format version and ember version: state
 * layouts (KVM structures, device state) are not promised across versions.
 * Parsing is bounds-checked section by section (fuzzed by
 * tests/fuzz/fuzz_snapshot.c); nothing here knows what a section means.
 */
#ifndef EMBER_VM_SNAPSHOT_FILE_H
#define EMBER_VM_SNAPSHOT_FILE_H

#include <stddef.h>
#include <stdint.h>

#include "vm/error.h"

#define SNAPSHOT_FORMAT_VERSION 1
#define SNAPSHOT_MAX_STATE (64u << 20) /* decompressed state, far above any real VM's */
#define SNAPSHOT_MAX_SECTIONS 4096

struct snapshot_section {
	uint32_t tag;
	uint32_t index;          /* which one of its kind: vCPU number, device slot */
	uint32_t len;
	const uint8_t *data;     /* into the reader's buffer */
};

/* Sections being collected for a write. */
struct snapshot_writer {
	uint8_t *data;
	size_t len, cap;
	uint32_t count;
};

/* Adds a section; -ENOMEM or -E2BIG (state over SNAPSHOT_MAX_STATE). */
int snapshot_put(struct snapshot_writer *w, uint32_t tag, uint32_t index, const void *data,
		 size_t len);
/* Compresses the sections into fd (from offset 0, truncated to fit) and fsyncs it. */
int snapshot_write_fd(const struct snapshot_writer *w, const char *ember_version, int fd,
		      struct ember_err *err);
/* The same into `path`, atomically (vm/atomic_file.h). */
int snapshot_write_file(const struct snapshot_writer *w, const char *ember_version,
			const char *path, struct ember_err *err);
void snapshot_writer_free(struct snapshot_writer *w);

/* A state file read back and checked. */
struct snapshot_reader {
	uint8_t *data;           /* the decompressed frame */
	size_t len;
	struct snapshot_section *section;
	uint32_t count;
};

/*
 * Parses a decompressed state (magic, versions, every section's bounds).
 * Returns 0, or -EINVAL with err naming what is wrong.  `data` (malloc'd)
 * is kept, not copied: call snapshot_reader_free either way.
 */
int snapshot_parse(struct snapshot_reader *r, uint8_t *data, size_t len, const char *ember_version,
		   struct ember_err *err);
/*
 * Reads fd, decompresses it (checksum checked) and parses it; `what` names
 * it in errors.  snapshot_reader_free either way.
 */
int snapshot_read_fd(struct snapshot_reader *r, int fd, const char *what,
		     const char *ember_version, struct ember_err *err);
/* The same for the file at `path`. */
int snapshot_read_file(struct snapshot_reader *r, const char *path, const char *ember_version,
		       struct ember_err *err);
/* The section with this tag and index, or NULL. */
const struct snapshot_section *snapshot_find(const struct snapshot_reader *r, uint32_t tag,
					     uint32_t index);
void snapshot_reader_free(struct snapshot_reader *r);

#endif
