// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for a snapshot's state file (vm/snapshot_file.c).
 * Every input goes to snapshot_parse as a decompressed state; an input
 * that starts with the LZ4 frame magic (04 22 4D 18) is also read as a
 * state file through snapshot_read_file (decompression, content checksum,
 * then the same parse).  Both must turn any bytes into a reader or an
 * error with a message; ASan and UBSan (make fuzz) report everything else.
 * An accepted state is checked too: its sections tile the buffer exactly.
 *
 * The file path is a memfd made once per process (/proc/self/fd/N):
 * rewritten per input, never on disk.  The seeds in
 * tests/fuzz/corpus/snapshot (state-*) were written by snapshot_write_file
 * with FUZZ_VERSION below (the .lz4 ones) and decompressed with `lz4 -d`;
 * the files named by their SHA-1 are what a long run added (-merge=1).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "vm/snapshot_file.h"

#define FUZZ_VERSION "fuzz"
#define HEADER_LEN 48 /* "EMBERSNP" | u32 format | u32 count | char ember[32] */
#define SECTION_HDR 12

static int state_fd = -1;
static char state_path[64];

/* An accepted state: sections in order, back to back, to the last byte. */
static void check_accepted(const struct snapshot_reader *r)
{
	size_t off = HEADER_LEN;
	if (r->count > SNAPSHOT_MAX_SECTIONS || r->len > SNAPSHOT_MAX_STATE)
		abort();
	for (uint32_t i = 0; i < r->count; i++) {
		const struct snapshot_section *s = &r->section[i];
		off += SECTION_HDR;
		if (off > r->len || s->data != r->data + off || s->len > r->len - off)
			abort();
		off += s->len;
		const struct snapshot_section *f = snapshot_find(r, s->tag, s->index);
		if (!f || f > s || f->tag != s->tag || f->index != s->index)
			abort();
	}
	if (off != r->len)
		abort();
}

static void check(int rc, const struct snapshot_reader *r, const struct ember_err *err)
{
	if (rc == 0)
		check_accepted(r);
	else if (rc > 0 || !err->msg[0])
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };

	/* The parser takes ownership of a malloc'd buffer of exactly the input's size. */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	if (size)
		memcpy(copy, data, size);
	check(snapshot_parse(&r, copy, size, FUZZ_VERSION, &err), &r, &err);
	snapshot_reader_free(&r);

	if (size < 4 || memcmp(data, "\x04\x22\x4d\x18", 4))
		return 0;
	if (state_fd < 0) {
		state_fd = memfd_create("fuzz-snapshot", MFD_CLOEXEC);
		if (state_fd < 0) {
			perror("memfd_create");
			abort();
		}
		snprintf(state_path, sizeof(state_path), "/proc/self/fd/%d", state_fd);
	}
	if (ftruncate(state_fd, 0) < 0 || pwrite(state_fd, data, size, 0) != (ssize_t)size) {
		perror("fuzz_snapshot: writing the memfd");
		abort();
	}
	err.msg[0] = '\0';
	check(snapshot_read_file(&r, state_path, FUZZ_VERSION, &err), &r, &err);
	snapshot_reader_free(&r);
	return 0;
}
