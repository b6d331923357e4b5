// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm/memory_lz4.c: guest RAM through the LZ4 memory image and back.  A
 * RAM of zero, untouched, compressible and random chunks (and a short
 * last chunk) comes back byte for byte with 1, 4 or "all CPUs" threads;
 * neither the writer nor the loader faults in a page that holds no data;
 * every single-byte change of the header or table, a cut or extended
 * file, another version (versions 1 and 2 with their own message),
 * another RAM size and bad frames (one without block checksums among
 * them) are each refused with their message, before any RAM is written
 * where the table is at fault.  Data: a changed byte in a chunk (every
 * byte of each frame's header and trailer, and a sample of the rest) is
 * refused naming that chunk, whose RAM stays unwritten; in a block's
 * bytes, or its checksum, it is the block checksum that catches it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vm/memory_lz4.h"

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define PAGE 4096
/* The layout of vm/memory_lz4.h: a 32-byte header, then 16 bytes per chunk. */
#define HDR 32
#define ENT 16
/* Five chunks: the last one 8 KiB. */
#define RAM (4 * MiB + 8 * KiB)
#define CHUNKS 5

#define assert_contains(hay, needle)                                                 \
	do {                                                                         \
		if (!strstr((hay), (needle)))                                        \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle)); \
	} while (0)

/* ---- helpers ---------------------------------------------------------------------- */

static void make_ram(struct guest_memory *mem, uint64_t size)
{
	struct ember_err err = { "" };
	struct guest_region layout = { .gpa = 0, .size = size };
	if (guest_memory_create(mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
	/* Page by page: a huge page would make an untouched neighbour present. */
	madvise(mem->mapping, mem->mapping_size, MADV_NOHUGEPAGE);
}

static int new_file(void)
{
	int fd = memfd_create("test-memory-lz4", MFD_CLOEXEC);
	if (fd < 0)
		fail_msg("memfd_create: %s", strerror(errno));
	return fd;
}

static uint64_t file_size(int fd)
{
	struct stat st;
	assert_int_equal(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

static void poke(int fd, uint64_t off, const void *p, size_t len)
{
	assert_int_equal(pwrite(fd, p, len, (off_t)off), (ssize_t)len);
}

static void poke32(int fd, uint64_t off, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	poke(fd, off, b, 4);
}

static uint32_t peek32(int fd, uint64_t off)
{
	uint8_t b[4];
	assert_int_equal(pread(fd, b, 4, (off_t)off), 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static void fill_random(uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		p[i] = (uint8_t)rng;
	}
}

/* Text-like: compresses well, yet no page equals another. */
static void fill_text(uint8_t *p, size_t len, unsigned seed)
{
	size_t n = 0;
	for (unsigned line = 0; n < len; line++) {
		char s[64];
		int k = snprintf(s, sizeof(s), "page %u line %u: guest memory\n", seed, line);
		for (int i = 0; i < k && n < len; i++)
			p[n++] = (uint8_t)s[i];
	}
}

static bool page_present(const void *addr)
{
	uint64_t e = 0;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	assert_true(pm >= 0);
	assert_int_equal(pread(pm, &e, 8, (off_t)((uintptr_t)addr / PAGE * 8)), 8);
	close(pm);
	return e & (3ULL << 62);
}

static bool ram_is_zero(const struct guest_memory *mem)
{
	for (uint64_t i = 0; i < mem->mapping_size; i++)
		if (mem->mapping[i])
			return false;
	return true;
}

/*
 * The test RAM, chunk by chunk (kind 1 is a frame):
 *   0  frame: text pages with untouched pages between them (a compressed block)
 *   1  zero: every page touched, all written with zeros
 *   2  frame: random (LZ4F stores the block uncompressed)
 *   3  zero: untouched
 *   4  frame, 8 KiB: one random and one text page (compressed), or two
 *      random pages (uncompressed)
 */
static void fill_ram(struct guest_memory *mem, bool random_tail)
{
	for (unsigned pg = 0; pg < 256; pg += 3)
		fill_text(mem->mapping + pg * PAGE, PAGE, pg);
	memset(mem->mapping + 1 * MiB, 0, MiB);
	fill_random(mem->mapping + 2 * MiB, MiB);
	fill_random(mem->mapping + 4 * MiB, PAGE);
	if (random_tail)
		fill_random(mem->mapping + 4 * MiB + PAGE, PAGE);
	else
		fill_text(mem->mapping + 4 * MiB + PAGE, PAGE, 1000);
}

/* Writes a fresh test RAM's image to a new memfd. */
static int image_of_test_ram(bool random_tail)
{
	struct guest_memory a;
	struct ember_err err = { "" };
	int fd = new_file();
	make_ram(&a, RAM);
	fill_ram(&a, random_tail);
	if (guest_memory_write_lz4(&a, fd, -1, NULL, &err))
		fail_msg("guest_memory_write_lz4: %s", err.msg);
	guest_memory_destroy(&a);
	return fd;
}

/*
 * Loads fd into a fresh RAM of `size`: the return value, the message in
 * err, and (optional) whether RAM [lo, hi) is still all zero.
 */
static int load_into_fresh_span(int fd, uint64_t size, struct ember_err *err, uint64_t lo,
				uint64_t hi, bool *span_untouched)
{
	struct guest_memory b;
	make_ram(&b, size);
	err->msg[0] = '\0';
	int rc = guest_memory_load_lz4(&b, fd, 2, err);
	if (span_untouched) {
		*span_untouched = true;
		for (uint64_t i = lo; i < hi && *span_untouched; i++)
			*span_untouched = !b.mapping[i];
	}
	guest_memory_destroy(&b);
	return rc;
}

static int load_into_fresh(int fd, uint64_t size, struct ember_err *err, bool *ram_untouched)
{
	return load_into_fresh_span(fd, size, err, 0, size, ram_untouched);
}

/* ---- round trips ------------------------------------------------------------------ */

/*
 * A one-block frame's framing: header (with content size) 15, block size 4,
 * then the block, its checksum 4, the end mark 4.
 */
#define FRAMING 27
#define BLOCK_AT 19 /* the block's first byte in its frame */
#define TRAILER 8   /* block checksum and end mark, the frame's last bytes */

static void round_trip(bool random_tail, unsigned threads)
{
	struct guest_memory a, b;
	struct ember_err err = { "" };
	struct memory_lz4_stats st;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int fd = new_file(), blind = new_file();

	assert_true(pm >= 0);
	make_ram(&a, RAM);
	fill_ram(&a, random_tail);
	assert_false(page_present(a.mapping + 3 * MiB + 17 * PAGE));
	assert_int_equal(guest_memory_write_lz4(&a, fd, pm, &st, &err), 0);
	/* Untouched pages were not read (which would have mapped them). */
	assert_false(page_present(a.mapping + 3 * MiB + 17 * PAGE));
	assert_false(page_present(a.mapping + 1 * PAGE));

	assert_int_equal(st.chunks, CHUNKS);
	assert_int_equal(st.zero_chunks, 2);
	assert_int_equal(st.raw_bytes, 2 * MiB + 8 * KiB);
	assert_int_equal(st.compressed_bytes, file_size(fd));
	assert_true(st.compressed_bytes < MiB + 200 * KiB); /* the random MiB and little else */
	const uint32_t kinds[CHUNKS] = { 1, 0, 1, 0, 1 };
	for (unsigned i = 0; i < CHUNKS; i++)
		assert_int_equal(peek32(fd, HDR + i * ENT + 12), kinds[i]);
	/* Random bytes are stored as they are, in a frame; text is compressed. */
	assert_int_equal(peek32(fd, HDR + 2 * ENT + 8), MiB + FRAMING);
	assert_true(peek32(fd, HDR + 0 * ENT + 8) < 128 * KiB);
	if (random_tail)
		assert_int_equal(peek32(fd, HDR + 4 * ENT + 8), 8 * KiB + FRAMING);
	else
		assert_true(peek32(fd, HDR + 4 * ENT + 8) < 8 * KiB);
	assert_true(guest_memory_is_lz4(fd));

	/* Looking at every page instead finds the same data, and writes the same image. */
	assert_int_equal(guest_memory_write_lz4(&a, blind, -1, NULL, &err), 0);
	uint64_t len = file_size(fd);
	assert_int_equal(file_size(blind), len);
	uint8_t *x = malloc(len), *y = malloc(len);
	assert_int_equal(pread(fd, x, len, 0), (ssize_t)len);
	assert_int_equal(pread(blind, y, len, 0), (ssize_t)len);
	assert_memory_equal(x, y, len);
	free(x);
	free(y);

	make_ram(&b, RAM);
	if (guest_memory_load_lz4(&b, fd, threads, &err))
		fail_msg("guest_memory_load_lz4: %s", err.msg);
	/*
	 * Zero chunks, and the zero pages of a stored chunk, are skipped: they
	 * stay unmapped in the new RAM (asked before reading them).
	 */
	assert_false(page_present(b.mapping + 1 * MiB));
	assert_false(page_present(b.mapping + 3 * MiB));
	assert_false(page_present(b.mapping + 1 * PAGE));
	assert_true(page_present(b.mapping + 3 * PAGE));
	assert_memory_equal(b.mapping, a.mapping, RAM);

	guest_memory_destroy(&a);
	guest_memory_destroy(&b);
	close(fd);
	close(blind);
	close(pm);
}

static void round_trip_one_thread_lz4_tail(void **state)
{
	(void)state;
	round_trip(false, 1);
}

static void round_trip_four_threads_random_tail(void **state)
{
	(void)state;
	round_trip(true, 4);
}

static void round_trip_all_cpus(void **state)
{
	(void)state;
	round_trip(false, 0);
}

static void all_zero_ram_is_a_table_only(void **state)
{
	struct guest_memory a, b;
	struct ember_err err = { "" };
	struct memory_lz4_stats st;
	int fd = new_file();

	(void)state;
	make_ram(&a, 3 * MiB);
	assert_int_equal(guest_memory_write_lz4(&a, fd, -1, &st, &err), 0);
	assert_int_equal(st.zero_chunks, 3);
	assert_int_equal(st.raw_bytes, 0);
	assert_int_equal(file_size(fd), HDR + 3 * ENT);
	make_ram(&b, 3 * MiB);
	assert_int_equal(guest_memory_load_lz4(&b, fd, 4, &err), 0);
	assert_true(ram_is_zero(&b));
	guest_memory_destroy(&a);
	guest_memory_destroy(&b);
	close(fd);
}

static void write_replaces_longer_content(void **state)
{
	struct ember_err err = { "" };
	struct guest_memory a;
	int fd = new_file();
	uint8_t junk[64 * 1024];

	(void)state;
	memset(junk, 0x5a, sizeof(junk));
	poke(fd, 0, junk, sizeof(junk));
	make_ram(&a, 1 * MiB);
	assert_int_equal(guest_memory_write_lz4(&a, fd, -1, NULL, &err), 0);
	assert_int_equal(file_size(fd), HDR + ENT);
	assert_int_equal(load_into_fresh(fd, 1 * MiB, &err, NULL), 0);
	guest_memory_destroy(&a);
	close(fd);
}

/* ---- refusals --------------------------------------------------------------------- */

static void truncated_or_extended_file_is_refused(void **state)
{
	struct ember_err err;
	bool untouched;
	int fd = image_of_test_ram(true);
	uint64_t len = file_size(fd);

	(void)state;
	assert_int_equal(ftruncate(fd, (off_t)len - 1), 0);
	assert_int_equal(load_into_fresh(fd, RAM, &err, &untouched), -EINVAL);
	assert_contains(err.msg, "memory image: truncated (chunk 4: 8219 bytes at");
	assert_true(untouched);

	assert_int_equal(ftruncate(fd, HDR + 2 * ENT), 0); /* into the table */
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: truncated (64 bytes, its table of 5 chunks ends at 112)");

	assert_int_equal(ftruncate(fd, HDR - 1), 0); /* into the header */
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "truncated (31 bytes, the header has 32)");
	close(fd);

	fd = image_of_test_ram(false);
	len = file_size(fd);
	poke(fd, len, "", 1); /* one byte more */
	assert_int_equal(load_into_fresh(fd, RAM, &err, &untouched), -EINVAL);
	assert_contains(err.msg, "1 stray bytes after the last chunk");
	assert_true(untouched);
	close(fd);
}

static void every_header_and_table_byte_is_checked(void **state)
{
	struct ember_err err;
	bool untouched;
	int fd = image_of_test_ram(false);

	(void)state;
	/* Any one byte changed (all its bits, or only the lowest) is refused before RAM is written. */
	for (unsigned off = 0; off < HDR + CHUNKS * ENT; off++) {
		uint8_t was;
		assert_int_equal(pread(fd, &was, 1, off), 1);
		for (unsigned flip = 0x01; flip <= 0xff; flip += 0xfe) {
			uint8_t b = was ^ (uint8_t)flip;
			poke(fd, off, &b, 1);
			int rc = load_into_fresh(fd, RAM, &err, &untouched);
			if (rc != -EINVAL || !untouched || strncmp(err.msg, "memory image: ", 14))
				fail_msg("byte %u ^ %#x: rc %d, RAM %s, \"%s\"", off, flip, rc,
					 untouched ? "untouched" : "written", err.msg);
			poke(fd, off, &was, 1);
		}
	}
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), 0);

	/* And the messages of some: chunk 2's offset one off, chunk 0's kind unknown or zero. */
	uint32_t off2 = peek32(fd, HDR + 2 * ENT);
	poke32(fd, HDR + 2 * ENT, off2 - 1);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "chunk 2 at offset");
	assert_contains(err.msg, "out of order, overlapping or apart");
	poke32(fd, HDR + 2 * ENT, off2);

	poke32(fd, HDR + 12, 7);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 0: unknown kind 7");
	poke32(fd, HDR + 12, 0);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "chunk 0: a zero chunk with");
	poke32(fd, HDR + 12, 2);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 0: unknown kind 2"); /* version 1's "raw" */
	poke32(fd, HDR + 12, 1);

	/* A length no frame of the chunk can have (chunk 4's: the layout check does not speak first). */
	uint32_t len4 = peek32(fd, HDR + 4 * ENT + 8);
	poke32(fd, HDR + 4 * ENT + 8, 8 * KiB + 64);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 4: a 8256-byte LZ4 frame for a 8192-byte chunk "
				 "(at most ");
	poke32(fd, HDR + 4 * ENT + 8, 0);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 4: a 0-byte LZ4 frame");
	poke32(fd, HDR + 4 * ENT + 8, len4);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), 0);
	close(fd);
}

/* The image's table: each chunk's offset and stored length. */
struct layout {
	uint64_t at[CHUNKS];
	uint32_t len[CHUNKS];
};

static struct layout layout_of(int fd)
{
	struct layout t;
	for (unsigned i = 0; i < CHUNKS; i++) {
		t.at[i] = peek32(fd, HDR + i * ENT) | (uint64_t)peek32(fd, HDR + i * ENT + 4) << 32;
		t.len[i] = peek32(fd, HDR + i * ENT + 8);
	}
	return t;
}

/* The chunk whose stored bytes hold file offset `off`. */
static unsigned chunk_at(const struct layout *t, uint64_t off)
{
	for (unsigned i = 0; i < CHUNKS; i++)
		if (t->len[i] && off >= t->at[i] && off - t->at[i] < t->len[i])
			return i;
	fail_msg("offset %llu is in no chunk", (unsigned long long)off);
	return 0;
}

static void every_frame_byte_sample_is_checked(void **state)
{
	struct ember_err err;
	char want[96];
	unsigned tried = 0;

	(void)state;
	/* Chunk 0 a compressed block, chunk 2 a stored one, chunk 4 a compressed one. */
	int fd = image_of_test_ram(false);
	struct layout t = layout_of(fd);
	uint64_t len = file_size(fd);
	for (uint64_t off = HDR + CHUNKS * ENT; off < len; off++) {
		unsigned chunk = chunk_at(&t, off);
		uint64_t in = off - t.at[chunk];
		/*
		 * All of the framing (the frame header, 15 bytes, and the block's
		 * size; the block's checksum and the end mark, the last 8), each
		 * byte with all its bits changed and with the lowest only; and one
		 * byte in 4093 of the blocks, one way or the other.
		 */
		bool framing = in < BLOCK_AT || t.len[chunk] - in <= TRAILER;
		if (!framing && off % 4093)
			continue;
		uint8_t was;
		bool untouched;
		assert_int_equal(pread(fd, &was, 1, (off_t)off), 1);
		for (unsigned flip = 0x01; flip <= 0xff; flip += 0xfe) {
			if (!framing && flip != (off / 4093 % 2 ? 0xff : 0x01))
				continue;
			uint8_t b = was ^ (uint8_t)flip;
			poke(fd, off, &b, 1);
			/* The damaged chunk writes nothing of itself. */
			uint64_t lo = (uint64_t)chunk * MiB, hi = lo + MiB < RAM ? lo + MiB : RAM;
			int rc = load_into_fresh_span(fd, RAM, &err, lo, hi, &untouched);
			/*
			 * In the block or its checksum, it is the block checksum
			 * that speaks (before LZ4 decodes a compressed block).
			 */
			bool summed = in >= BLOCK_AT && t.len[chunk] - in > 4;
			snprintf(want, sizeof(want), "memory image: chunk %u: %s", chunk,
				 summed ? "checksum mismatch: the data is damaged" : "");
			if (rc != -EINVAL || !untouched || strncmp(err.msg, want, strlen(want)) ||
			    (summed && strlen(err.msg) != strlen(want)))
				fail_msg("byte %llu (chunk %u) ^ %#x: rc %d, chunk %s, \"%s\"",
					 (unsigned long long)off, chunk, flip, rc,
					 untouched ? "untouched" : "written", err.msg);
			poke(fd, off, &was, 1);
			tried++;
		}
	}
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), 0);
	close(fd);
	assert_true(tried > 350);
}

/* Flips `mask` in the byte at off, loads, checks the message and that chunk's RAM, flips back. */
static void refused_as_damaged(int fd, uint64_t off, uint8_t mask, unsigned chunk)
{
	struct ember_err err;
	char want[96];
	bool untouched;
	uint8_t b;
	uint64_t lo = (uint64_t)chunk * MiB, hi = lo + MiB < RAM ? lo + MiB : RAM;

	assert_int_equal(pread(fd, &b, 1, (off_t)off), 1);
	b ^= mask;
	poke(fd, off, &b, 1);
	assert_int_equal(load_into_fresh_span(fd, RAM, &err, lo, hi, &untouched), -EINVAL);
	snprintf(want, sizeof(want), "memory image: chunk %u: checksum mismatch: the data is damaged",
		 chunk);
	assert_string_equal(err.msg, want);
	assert_true(untouched);
	b ^= mask;
	poke(fd, off, &b, 1);
}

static void damaged_data_fails_the_checksum(void **state)
{
	struct ember_err err;
	int fd = image_of_test_ram(false);
	uint64_t at2 = peek32(fd, HDR + 2 * ENT), at0 = peek32(fd, HDR);
	uint32_t len0 = peek32(fd, HDR + 8);
	uint8_t b;

	(void)state;
	/* The middle of chunk 2's random bytes, stored as they are: only the checksum can tell. */
	refused_as_damaged(fd, at2 + BLOCK_AT + 500000, 0x10, 2);
	/* Its last byte, just before the checksum. */
	refused_as_damaged(fd, at2 + BLOCK_AT + MiB - 1, 0x80, 2);

	/*
	 * Chunk 0's last literal (its compressed block ends with literals:
	 * "guest memory\n"): refused before it is decoded.  And its first
	 * byte, a token.
	 */
	uint64_t lit = at0 + len0 - TRAILER - 3;
	assert_int_equal(pread(fd, &b, 1, (off_t)lit), 1);
	assert_true(b >= ' ' && b <= 'z');
	refused_as_damaged(fd, lit, 0x01, 0);
	refused_as_damaged(fd, at0 + BLOCK_AT, 0x01, 0);

	/* The block checksums themselves (before the end mark, the frame's last 4 bytes). */
	assert_int_equal(peek32(fd, at2 + MiB + FRAMING - 4), 0);
	assert_int_equal(peek32(fd, at0 + len0 - 4), 0);
	refused_as_damaged(fd, at2 + MiB + FRAMING - TRAILER, 0x01, 2);
	refused_as_damaged(fd, at2 + MiB + FRAMING - TRAILER + 3, 0x80, 2);
	refused_as_damaged(fd, at0 + len0 - TRAILER, 0xff, 0);

	/* Chunk 4, the short last one. */
	uint64_t at4 = peek32(fd, HDR + 4 * ENT);
	refused_as_damaged(fd, at4 + BLOCK_AT + 1, 0x04, 4);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), 0);
	close(fd);
}

static void other_version_is_refused(void **state)
{
	struct ember_err err;
	int fd = image_of_test_ram(false);

	(void)state;
	assert_int_equal(peek32(fd, 8), 3);
	poke32(fd, 8, 1);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_string_equal(err.msg, "memory image: format version 1, which has no checksums, is no "
				     "longer read (this ember reads version 3): take the snapshot again");
	poke32(fd, 8, 2);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_string_equal(err.msg, "memory image: format version 2, which has a different checksum "
				     "layout, is no longer read (this ember reads version 3): take the "
				     "snapshot again");
	poke32(fd, 8, 4);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "memory image: format version 4, this ember reads version 3");
	poke32(fd, 8, 3);
	poke32(fd, 12, 4 * MiB);
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "chunk size 4194304, version 3 has 1048576");
	close(fd);
}

static void ram_size_mismatch_is_refused(void **state)
{
	struct ember_err err;
	int fd = image_of_test_ram(false);

	(void)state;
	assert_int_equal(load_into_fresh(fd, 8 * MiB, &err, NULL), -EINVAL);
	assert_contains(err.msg, "RAM size mismatch: the image holds 4104 KiB, this VM has 8 MiB");
	assert_int_equal(load_into_fresh(fd, RAM + PAGE, &err, NULL), -EINVAL);
	assert_contains(err.msg, "RAM size mismatch");
	close(fd);
}

/* A hand-made one-chunk image (1 MiB of RAM) whose chunk is the given bytes (kind 1). */
static int image_with_chunk(const void *chunk, uint32_t len)
{
	uint8_t h[HDR + ENT] = "EMBERMLZ";
	int fd = new_file();
	poke(fd, 0, h, sizeof(h));
	poke32(fd, 8, 3);
	poke32(fd, 12, MiB);
	poke32(fd, 16, MiB);
	poke32(fd, 24, 1);
	poke32(fd, HDR, HDR + ENT);
	poke32(fd, HDR + 8, len);
	poke32(fd, HDR + 12, 1);
	poke(fd, HDR + ENT, chunk, len);
	return fd;
}

/* What a hand-made frame carries. */
enum { SIZE = 1, BLOCK_SUM = 2, CONTENT_SUM = 4, AS_WRITTEN = SIZE | BLOCK_SUM };

/* frame[] := an LZ4 frame of plain[0, len) with what `has` says. */
static uint32_t make_frame(uint8_t *frame, size_t cap, const uint8_t *plain, size_t len, unsigned has)
{
	LZ4F_preferences_t prefs = {
		.frameInfo = {
			.blockSizeID = LZ4F_max1MB,
			.blockMode = LZ4F_blockIndependent,
			.contentChecksumFlag = has & CONTENT_SUM ? LZ4F_contentChecksumEnabled
								 : LZ4F_noContentChecksum,
			.blockChecksumFlag = has & BLOCK_SUM ? LZ4F_blockChecksumEnabled
							     : LZ4F_noBlockChecksum,
			.contentSize = has & SIZE ? len : 0,
		},
	};
	size_t n = LZ4F_compressFrame(frame, cap, plain, len, &prefs);
	if (LZ4F_isError(n))
		fail_msg("LZ4F_compressFrame: %s", LZ4F_getErrorName(n));
	return (uint32_t)n;
}

static int load_frame(const uint8_t *frame, uint32_t len, struct ember_err *err, bool *untouched)
{
	int fd = image_with_chunk(frame, len);
	int rc = load_into_fresh(fd, MiB, err, untouched);
	close(fd);
	return rc;
}

static void bad_frames_are_refused(void **state)
{
	static uint8_t plain[2 * MiB], frame[2 * MiB + 1024];
	struct ember_err err;
	bool untouched;
	uint32_t n;

	(void)state;
	fill_text(plain, sizeof(plain), 7);
	/* A good frame, of the right size: the hand-made layout is right. */
	n = make_frame(frame, sizeof(frame), plain, MiB, AS_WRITTEN);
	assert_int_equal(load_frame(frame, n, &err, &untouched), 0);
	assert_false(untouched);

	/* A good frame of the wrong size; one that does not record it. */
	n = make_frame(frame, sizeof(frame), plain, PAGE, AS_WRITTEN);
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg,
			    "memory image: chunk 0: an LZ4 frame of 4096 bytes for a 1048576-byte chunk");
	n = make_frame(frame, sizeof(frame), plain, MiB, BLOCK_SUM);
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg, "memory image: chunk 0: an LZ4 frame that does not record its size");

	/* Without block checksums: no checksum at all, or only version 2's content checksum. */
	n = make_frame(frame, sizeof(frame), plain, MiB, SIZE);
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg, "memory image: chunk 0: an LZ4 frame without block checksums");
	assert_true(untouched);
	n = make_frame(frame, sizeof(frame), plain, MiB, SIZE | CONTENT_SUM);
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg, "memory image: chunk 0: an LZ4 frame without block checksums");
	assert_true(untouched);

	/*
	 * With a content checksum besides (the writer makes none): read, and
	 * the content checksum checked too; a wrong one (its last 4 bytes)
	 * is damage like any other.
	 */
	n = make_frame(frame, sizeof(frame), plain, MiB, AS_WRITTEN | CONTENT_SUM);
	assert_int_equal(load_frame(frame, n, &err, &untouched), 0);
	assert_false(untouched);
	frame[n - 1] ^= 0x01;
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg, "memory image: chunk 0: checksum mismatch: the data is damaged");
	assert_true(untouched);

	/* Stored length and frame apart: bytes after the frame, or the frame cut short. */
	n = make_frame(frame, sizeof(frame), plain, MiB, AS_WRITTEN);
	memset(frame + n, 0, 5);
	assert_int_equal(load_frame(frame, n + 5, &err, &untouched), -EINVAL);
	assert_contains(err.msg,
			"memory image: chunk 0: its LZ4 frame ends 5 bytes before its stored length");
	assert_true(untouched);
	assert_int_equal(load_frame(frame, n - 3, &err, &untouched), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 0: its LZ4 frame is cut short at its stored length");
	assert_true(untouched);

	/* Two frames back to back: the first ends early. */
	char want[128];
	memcpy(frame + n, frame, n);
	assert_int_equal(load_frame(frame, 2 * n, &err, &untouched), -EINVAL);
	snprintf(want, sizeof(want), "its LZ4 frame ends %u bytes before its stored length (%u)", n,
		 2 * n);
	assert_contains(err.msg, want);

	/*
	 * A frame of 2 MiB whose header says 1 MiB (its header checksum, one
	 * byte of XXH32, found by trying them all).
	 */
	n = make_frame(frame, sizeof(frame), plain, 2 * MiB, AS_WRITTEN);
	uint64_t one = MiB;
	memcpy(frame + 6, &one, 8);
	LZ4F_dctx *dctx;
	assert_false(LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)));
	bool found = false;
	for (unsigned hc = 0; hc < 256 && !found; hc++) {
		LZ4F_frameInfo_t info;
		size_t have = n;
		frame[14] = (uint8_t)hc;
		LZ4F_resetDecompressionContext(dctx);
		found = !LZ4F_isError(LZ4F_getFrameInfo(dctx, &info, frame, &have));
	}
	LZ4F_freeDecompressionContext(dctx);
	assert_true(found);
	assert_int_equal(load_frame(frame, n, &err, &untouched), -EINVAL);
	assert_string_equal(err.msg,
			    "memory image: chunk 0: its LZ4 frame decodes to more than 1048576 bytes");
	assert_true(untouched);

	/* Not a frame: garbage, or a skippable frame. */
	memset(frame, 0xff, 64);
	assert_int_equal(load_frame(frame, 64, &err, &untouched), -EINVAL);
	assert_contains(err.msg, "memory image: chunk 0: bad LZ4 frame header (LZ4F ERROR_");
	const uint8_t skippable[12] = { 0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4 };
	assert_int_equal(load_frame(skippable, sizeof(skippable), &err, &untouched), -EINVAL);
	assert_string_equal(err.msg, "memory image: chunk 0: a skippable LZ4 frame, not data");
}

static void is_lz4_and_foreign_files(void **state)
{
	struct ember_err err;
	int fd = image_of_test_ram(false);

	(void)state;
	assert_true(guest_memory_is_lz4(fd));
	close(fd);

	fd = new_file();
	assert_false(guest_memory_is_lz4(fd)); /* empty */
	poke(fd, 0, "EMBERML", 7);
	assert_false(guest_memory_is_lz4(fd)); /* shorter than the magic */
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "not an ember LZ4 memory image (no EMBERMLZ magic)");
	poke(fd, 0, "EMBERSNP and more", 17);
	assert_false(guest_memory_is_lz4(fd));
	assert_int_equal(load_into_fresh(fd, RAM, &err, NULL), -EINVAL);
	assert_contains(err.msg, "no EMBERMLZ magic");
	close(fd);
	assert_false(guest_memory_is_lz4(fd)); /* closed */
	assert_false(guest_memory_is_lz4(-1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip_one_thread_lz4_tail),
		cmocka_unit_test(round_trip_four_threads_random_tail),
		cmocka_unit_test(round_trip_all_cpus),
		cmocka_unit_test(all_zero_ram_is_a_table_only),
		cmocka_unit_test(write_replaces_longer_content),
		cmocka_unit_test(truncated_or_extended_file_is_refused),
		cmocka_unit_test(every_header_and_table_byte_is_checked),
		cmocka_unit_test(every_frame_byte_sample_is_checked),
		cmocka_unit_test(damaged_data_fails_the_checksum),
		cmocka_unit_test(other_version_is_refused),
		cmocka_unit_test(ram_size_mismatch_is_refused),
		cmocka_unit_test(bad_frames_are_refused),
		cmocka_unit_test(is_lz4_and_foreign_files),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
