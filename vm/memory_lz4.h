/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Guest RAM as an LZ4-compressed image: the memory file of a snapshot that
 * travels (`ember snapshot --compress`).  The sparse file of
 * vm/memory_file.c is the fast local form (mapped copy-on-write); this one
 * is small to copy, and is restored by decompressing its chunks in
 * parallel into fresh RAM.
 *
 * Format, version 3, every integer little-endian:
 *
 *   header, 32 bytes:
 *     0  "EMBERMLZ"      magic
 *     8  u32 version     3 (version 1, whose chunks had no checksum, and
 *                        version 2, whose frames had a content checksum
 *                        instead of block checksums, are refused)
 *    12  u32 chunk size  1048576 (the only one version 3 reads)
 *    16  u64 RAM size    bytes, a multiple of 4 KiB
 *    24  u32 chunks      ceil(RAM size / chunk size)
 *    28  u32 reserved    0
 *   table, 16 bytes per chunk, in RAM order:
 *     0  u64 file offset of the chunk's data (0 for a zero chunk)
 *     8  u32 stored length
 *    12  u32 kind        0 zero: nothing stored (offset and length 0)
 *                        1 frame: one LZ4 frame (lz4frame.h, the format of
 *                          the lz4 tool), exactly `stored length` bytes long,
 *                          whose header records the content size (= the
 *                          chunk's size) and sets the block checksum flag:
 *                          each block's stored bytes are followed by their
 *                          XXH32.  The writer makes one block of at most
 *                          1 MiB, which LZ4F stores uncompressed when LZ4
 *                          does not shrink it, and no content checksum:
 *                          frame header (15 bytes), block size (4), block,
 *                          block checksum (4), end mark (4).
 *   data: the stored chunks back to back, in table order, from right after
 *         the table to the end of the file.
 *
 * Chunk i covers RAM [i * chunk size, min((i + 1) * chunk size, RAM size)):
 * only the last may be shorter.
 *
 * Integrity.  A restored guest must not run on damaged memory, so every
 * byte of the file is checked, by one of two means:
 *   - the structure is strict: every stored chunk starts where the
 *     previous one ended and the last one ends at the end of the file,
 *     so a changed offset, length or kind in the table (or a cut or
 *     extended file) is refused before any RAM is written; the header
 *     fields each have one acceptable value.  (Every single-byte change
 *     of the header and table is refused: tests/unit/test_memory_lz4.c.)
 *   - the data is checksummed: each frame must record the chunk's size
 *     and carry block checksums, must end exactly at the chunk's stored
 *     length, and must decode to exactly the chunk's size, every block's
 *     checksum matching.  The checksum covers the bytes as stored, which
 *     is what can be damaged on the way: LZ4 decoding is deterministic,
 *     so intact stored bytes decode to the RAM that was written (the
 *     decoder is trusted; a content checksum, over every decoded 1 MiB
 *     with its zero pages, made writing and loading several times
 *     slower).  A chunk is decoded and verified in a buffer before any
 *     of it is copied into RAM.
 * There is deliberately no separate checksum of the header and table: a
 * damaged table cannot get past the layout rules without also moving
 * chunk boundaries, which the frames' own headers, lengths and end marks
 * then refuse.  What the checks do not catch is a consistent edit, such
 * as two frames of the same length swapped in place (each is valid, just
 * for another chunk): the image guards against damage, not against a
 * forger, who could recompute any checksum as well.  Authenticity, where it
 * matters, belongs to whatever carries the snapshot (a signed archive).
 */
#ifndef EMBER_VM_MEMORY_LZ4_H
#define EMBER_VM_MEMORY_LZ4_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"
#include "vm/memory.h"

struct memory_lz4_stats {
	uint64_t chunks;           /* in the table, zero ones included */
	uint64_t zero_chunks;      /* nothing stored */
	uint64_t raw_bytes;        /* RAM bytes in the stored (non-zero) chunks */
	uint64_t compressed_bytes; /* the whole image: header, table and data */
};

/*
 * Writes the (paused) RAM as a compressed image into fd: empties it
 * (ftruncate), then pwrites from offset 0; does not fsync or close.  The
 * header goes last, so an image cut short by a crash has no magic.
 * pagemap_fd: an open /proc/self/pagemap, or -1 to look at every page
 * (untouched pages, per pagemap bits 63/62 not set, are zero and are not
 * read, since reading faults them in).  stats is optional.
 */
int guest_memory_write_lz4(const struct guest_memory *mem, int fd, int pagemap_fd,
			   struct memory_lz4_stats *stats, struct ember_err *err);

/* True when fd (at offset 0, read with pread) starts with the image's magic. */
bool guest_memory_is_lz4(int fd);

/*
 * Validates the whole header and table against mem (same RAM size), then
 * decompresses the image into mem->mapping, which must be freshly mapped
 * zero RAM: zero chunks, and the zero pages of the others, are skipped,
 * not written, so the restored RAM takes the host memory the saved one
 * took, not its whole size.  Up to `threads` threads (0: the number of
 * online CPUs; never more than 8) take chunks from a shared counter; they
 * are started here, so this runs before the sandbox's seccomp filter
 * (which does not allow clone).  Any inconsistency is refused with one
 * line in err and a negative errno (-EINVAL for a bad or damaged image).
 * A chunk that fails to decode or verify writes nothing of itself, but
 * other chunks may have been written by then: on failure the RAM is
 * partly written, to be discarded.  Each thread holds about 4 MiB while
 * it runs (its buffers and LZ4F's for a 1 MiB block).
 */
int guest_memory_load_lz4(struct guest_memory *mem, int fd, unsigned threads,
			  struct ember_err *err);

#endif
