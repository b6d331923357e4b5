// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the LZ4 memory image's loader (vm/memory_lz4.c).
 * Every input is written to a memfd and loaded into a fresh RAM of
 * 2 MiB + 8 KiB (three chunks, the last one short): any bytes must give 0
 * or a negative errno with a message; ASan and UBSan report everything
 * else.  One loader thread: what the bytes can reach is the same with
 * more, and starting threads under ASan halved the executions per second
 * (the unit test runs several, and is clean under -fsanitize=thread).  An
 * accepted image is not written back and reloaded here: that round trip
 * tripled the time of make fuzz-smoke, and the unit test covers the writer.
 *
 * The seed, tests/fuzz/corpus/memory_lz4/image-3chunks, was written by
 * guest_memory_write_lz4 (format version 3) from such a RAM: chunk 0 a
 * frame of text and zeros (a compressed block), chunk 1 zero, chunk 2 a
 * frame of 8 KiB of random bytes (stored uncompressed in its frame).
 *
 * Each block is followed by the XXH32 of its stored bytes, which LZ4F
 * compares before it decodes a compressed block, so a mutated block (or
 * checksum) is almost always refused without being decoded: the fuzzer
 * drives LZ4F's header and block-size parsing and every structural check
 * of ours, and reaches the page copying with the table and framing
 * mutated around intact frames; LZ4's block decoder sees only blocks the
 * writer made (it is trusted, and fuzzed upstream).  liblz4 itself is
 * not instrumented, so it is exercised, not explored.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/memory_lz4.h"

#define FUZZ_RAM ((2ULL << 20) + 8192)

static int image_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct guest_memory mem;
	struct ember_err err = { .msg = "" };
	struct guest_region layout = { .gpa = 0, .size = FUZZ_RAM };

	if (image_fd < 0 && (image_fd = memfd_create("fuzz-memory-lz4", MFD_CLOEXEC)) < 0) {
		perror("memfd_create");
		abort();
	}
	if (ftruncate(image_fd, 0) < 0 || (size && pwrite(image_fd, data, size, 0) != (ssize_t)size)) {
		perror("fuzz_memory_lz4: writing the memfd");
		abort();
	}
	/* Cheap when the image is refused: the RAM is mapped, not touched. */
	if (guest_memory_create(&mem, &layout, 1, &err)) {
		fprintf(stderr, "fuzz_memory_lz4: %s\n", err.msg);
		abort();
	}
	int rc = guest_memory_load_lz4(&mem, image_fd, 1, &err);
	if (rc > 0 || (rc < 0 && !err.msg[0]))
		abort();
	guest_memory_destroy(&mem);
	return 0;
}
