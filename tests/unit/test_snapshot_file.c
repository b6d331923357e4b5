// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm/snapshot_file.c: sections round-trip through a state file (LZ4 frame),
 * and every damaged, truncated, foreign or hand-made state is refused with
 * a message, never a crash; writes are atomic (tmp + fsync + rename).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <lz4frame.h>

#include "vm/snapshot_file.h"

#define VER "1.2.3-test"
/* The layout of the header comment: "EMBERSNP" | u32 format | u32 count | char ember[32]. */
#define HDR 48
#define SEC 12
#define MiB (1u << 20)

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

/* ---- helpers ---------------------------------------------------------------------- */

struct tmpdir {
	char base[256];
};

static int dir_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));
	const char *root = getenv("TMPDIR");
	snprintf(t->base, sizeof(t->base), "%s/ember-snapshot-XXXXXX", root && *root ? root : "/tmp");
	if (!mkdtemp(t->base)) {
		free(t);
		return -1;
	}
	*state = t;
	return 0;
}

/* The tests leave only plain files and empty directories behind. */
static int dir_teardown(void **state)
{
	struct tmpdir *t = *state;
	DIR *d = opendir(t->base);
	struct dirent *e;
	char p[PATH_MAX + 256];
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", t->base, e->d_name);
		if (unlink(p) < 0)
			rmdir(p);
	}
	if (d)
		closedir(d);
	int rc = rmdir(t->base);
	free(t);
	return rc;
}

static void path_of(char *out, const struct tmpdir *t, const char *name)
{
	snprintf(out, PATH_MAX, "%s/%s", t->base, name);
}

/* Entries of the directory whose name contains `needle`. */
static int count_named(const char *dir, const char *needle)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)))
		n += strstr(e->d_name, needle) != NULL;
	closedir(d);
	return n;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	int fd = open(path, O_RDONLY);
	struct stat st;
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	uint8_t *buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, (size_t)st.st_size), st.st_size);
	close(fd);
	*len = (size_t)st.st_size;
	return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t rng = 0x9e3779b97f4a7c15ULL;
static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

/* The file must be refused: nonzero return, a message naming `want` (if given). */
static void expect_read_fails(const char *path, const char *version, const char *want)
{
	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	int rc = snapshot_read_file(&r, path, version, &err);
	if (rc == 0)
		fail_msg("%s was accepted", path);
	assert_true(rc < 0);
	assert_true(strlen(err.msg) > 0);
	if (want)
		assert_contains(err.msg, want);
	snapshot_reader_free(&r);
}

static void expect_parse_fails(uint8_t *data, size_t len, const char *want)
{
	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	assert_true(snapshot_parse(&r, data, len, VER, &err) < 0);
	assert_true(strlen(err.msg) > 0);
	if (want)
		assert_contains(err.msg, want);
	snapshot_reader_free(&r);
}

/* A hand-made decompressed state: header, then sections appended with sec(). */
struct state {
	uint8_t *p;
	size_t len;
};

static void grow(struct state *s, const void *data, size_t len)
{
	s->p = realloc(s->p, s->len + len + 1);
	assert_non_null(s->p);
	if (len)
		memcpy(s->p + s->len, data, len);
	s->len += len;
}

static struct state hdr(uint32_t format, uint32_t count, const char *ember)
{
	struct state s = { NULL, 0 };
	uint8_t h[HDR] = { 0 };
	memcpy(h, "EMBERSNP", 8);
	put_le32(h + 8, format);
	put_le32(h + 12, count);
	strncpy((char *)h + 16, ember, 31);
	grow(&s, h, sizeof(h));
	return s;
}

/* A section header claiming `len` bytes, followed by `have` bytes of data. */
static void sec(struct state *s, uint32_t tag, uint32_t index, uint32_t len, size_t have)
{
	uint8_t h[SEC];
	put_le32(h, tag);
	put_le32(h + 4, index);
	put_le32(h + 8, len);
	grow(s, h, sizeof(h));
	for (size_t i = 0; i < have; i++) {
		uint8_t b = (uint8_t)(tag + i);
		grow(s, &b, 1);
	}
}

static uint8_t *frame_of(const void *plain, size_t len, const LZ4F_preferences_t *prefs, size_t *out)
{
	size_t bound = LZ4F_compressFrameBound(len, prefs);
	uint8_t *f = malloc(bound);
	assert_non_null(f);
	*out = LZ4F_compressFrame(f, bound, plain, len, prefs);
	assert_false(LZ4F_isError(*out));
	return f;
}

static const LZ4F_preferences_t good_prefs = {
	.frameInfo = { .contentChecksumFlag = LZ4F_contentChecksumEnabled },
};

/* ---- the reference set of sections ---------------------------------------------- */

#define NREF 60
struct ref {
	uint32_t tag, index;
	size_t len;
	uint8_t *data;
};

/* Sections of many sizes (zero-length ones among them), repeated tags with
 * distinct indexes, and optionally one of 1 MiB of random bytes. */
static void make_refs(struct ref *ref, int n, bool with_big)
{
	rng = 0x9e3779b97f4a7c15ULL;
	for (int i = 0; i < n; i++) {
		ref[i].tag = 0x100 + (uint32_t)(i % 6);
		ref[i].index = (uint32_t)(i / 6);
		static const size_t sizes[] = { 0, 1, 7, 0, 64, 300, 4096, 0, 13, 2000 };
		ref[i].len = sizes[i % 10];
		if (with_big && i == n / 2)
			ref[i].len = MiB;
		ref[i].data = malloc(ref[i].len + 1);
		/* Every third one compresses well; the rest, the big one too, is random. */
		bool plain = i % 3 == 0 && ref[i].len < MiB;
		for (size_t j = 0; j < ref[i].len; j++)
			ref[i].data[j] = plain ? (uint8_t)(j / 32) : rnd8();
	}
}

static void free_refs(struct ref *ref, int n)
{
	for (int i = 0; i < n; i++)
		free(ref[i].data);
}

static void write_refs(const struct ref *ref, int n, const char *version, const char *path)
{
	struct snapshot_writer w = { 0 };
	struct ember_err err = { .msg = "" };
	for (int i = 0; i < n; i++)
		assert_int_equal(snapshot_put(&w, ref[i].tag, ref[i].index, ref[i].data, ref[i].len), 0);
	assert_int_equal(w.count, (uint32_t)n);
	if (snapshot_write_file(&w, version, path, &err))
		fail_msg("write: %s", err.msg);
	snapshot_writer_free(&w);
	snapshot_writer_free(&w); /* twice is harmless */
}

static void check_refs(const struct snapshot_reader *r, const struct ref *ref, int n)
{
	assert_int_equal(r->count, (uint32_t)n);
	for (int i = 0; i < n; i++) {
		const struct snapshot_section *s = &r->section[i];
		assert_int_equal(s->tag, ref[i].tag);
		assert_int_equal(s->index, ref[i].index);
		assert_int_equal(s->len, ref[i].len);
		assert_true(s->data >= r->data && s->data + s->len <= r->data + r->len);
		if (ref[i].len)
			assert_memory_equal(s->data, ref[i].data, ref[i].len);
		assert_ptr_equal(snapshot_find(r, ref[i].tag, ref[i].index), s);
	}
}

/* ---- round trips ------------------------------------------------------------------ */

static void round_trip(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "state");
	struct ref ref[NREF];
	make_refs(ref, NREF, true);
	write_refs(ref, NREF, VER, path);

	/* Atomic write: only the final name is left in the directory. */
	assert_int_equal(count_named(t->base, ".tmp."), 0);
	assert_int_equal(count_named(t->base, "state"), 1);

	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	if (snapshot_read_file(&r, path, VER, &err))
		fail_msg("read: %s", err.msg);
	check_refs(&r, ref, NREF);

	const struct snapshot_section *big = snapshot_find(&r, ref[NREF / 2].tag, ref[NREF / 2].index);
	assert_non_null(big);
	assert_int_equal(big->len, MiB);
	assert_null(snapshot_find(&r, 0x100, 1000));  /* known tag, no such index */
	assert_null(snapshot_find(&r, 0x999, 0));     /* unknown tag */
	snapshot_reader_free(&r);
	snapshot_reader_free(&r); /* twice is harmless */
	free_refs(ref, NREF);
}

static void no_sections(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "empty-state");
	struct snapshot_writer w = { 0 };
	struct ember_err err = { .msg = "" };
	assert_int_equal(snapshot_write_file(&w, VER, path, &err), 0);
	struct snapshot_reader r;
	assert_int_equal(snapshot_read_file(&r, path, VER, &err), 0);
	assert_int_equal(r.count, 0);
	assert_int_equal(r.len, HDR);
	assert_null(snapshot_find(&r, 0, 0));
	snapshot_reader_free(&r);
}

/* The first of two sections with the same tag and index is the one found. */
static void find_first_of_duplicates(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "dup");
	struct snapshot_writer w = { 0 };
	struct ember_err err = { .msg = "" };
	assert_int_equal(snapshot_put(&w, 7, 0, "first", 5), 0);
	assert_int_equal(snapshot_put(&w, 7, 1, "other", 5), 0);
	assert_int_equal(snapshot_put(&w, 7, 0, "second", 6), 0);
	assert_int_equal(snapshot_write_file(&w, VER, path, &err), 0);
	snapshot_writer_free(&w);
	struct snapshot_reader r;
	assert_int_equal(snapshot_read_file(&r, path, VER, &err), 0);
	const struct snapshot_section *s = snapshot_find(&r, 7, 0);
	assert_non_null(s);
	assert_int_equal(s->len, 5);
	assert_memory_equal(s->data, "first", 5);
	s = snapshot_find(&r, 7, 1);
	assert_non_null(s);
	assert_memory_equal(s->data, "other", 5);
	snapshot_reader_free(&r);
}

/* A version string longer than the header's field still reads back with itself. */
static void long_version_string(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "long");
	const char *v = "0.1.0-with-a-very-long-suffix-beyond-32-characters";
	struct snapshot_writer w = { 0 };
	struct ember_err err = { .msg = "" };
	assert_int_equal(snapshot_put(&w, 1, 2, "x", 1), 0);
	assert_int_equal(snapshot_write_file(&w, v, path, &err), 0);
	snapshot_writer_free(&w);
	struct snapshot_reader r;
	assert_int_equal(snapshot_read_file(&r, path, v, &err), 0);
	assert_non_null(snapshot_find(&r, 1, 2));
	snapshot_reader_free(&r);
	expect_read_fails(path, "0.1.0", "made by ember");
}

/* ---- damaged files ---------------------------------------------------------------- */

/*
 * Every single-bit flip (and every whole-byte inversion) of a state file is
 * refused, or decodes to exactly the original state: LZ4 can encode the
 * same bytes in more than one way (a match offset into a run of equal
 * bytes, the ignored match nibble of the last sequence's token), and the
 * XXH32 content checksum is over the decoded bytes, so such a flip changes
 * the file but not the state.  What must never happen is a different
 * state being accepted.  Flips in the magic, the frame header's checksum
 * byte, the end mark and the content checksum are always refused.
 */
static void flip_and_check(const char *path, const uint8_t *file, size_t n, size_t pos,
			   uint8_t mask, const struct snapshot_reader *orig, size_t hdr_len,
			   unsigned *refused, unsigned *same)
{
	uint8_t *copy = malloc(n);
	memcpy(copy, file, n);
	copy[pos] ^= mask;
	spit(path, copy, n);
	free(copy);

	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	int rc = snapshot_read_file(&r, path, VER, &err);
	if (rc) {
		assert_true(rc < 0);
		assert_true(strlen(err.msg) > 0);
		(*refused)++;
	} else {
		if (r.len != orig->len || memcmp(r.data, orig->data, r.len))
			fail_msg("flip of %#x at %zu of %zu: a different state was accepted", mask, pos, n);
		if (pos < 4 || pos == hdr_len - 1 || pos >= n - 8)
			fail_msg("flip of %#x at %zu of %zu (header/end/checksum) was accepted", mask, pos, n);
		(*same)++;
	}
	snapshot_reader_free(&r);
}

static void flipped_bytes(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX], bad[PATH_MAX];
	path_of(path, t, "good");
	path_of(bad, t, "bad");

	for (int big = 0; big <= 1; big++) {
		struct ref ref[NREF];
		int nref = big ? NREF : 8;
		make_refs(ref, nref, big);
		write_refs(ref, nref, VER, path);
		size_t n;
		uint8_t *file = slurp(path, &n);
		struct snapshot_reader orig;
		struct ember_err err = { .msg = "" };
		assert_int_equal(snapshot_read_file(&orig, path, VER, &err), 0);

		/* Frame header: magic, FLG, BD, 8-byte content size (FLG bit 3), header checksum. */
		assert_memory_equal(file, "\x04\x22\x4d\x18", 4);
		assert_true(file[4] & 0x08);
		assert_true(file[4] & 0x04);
		size_t hdr_len = 4 + 2 + 8 + 1;

		unsigned refused = 0, same = 0, tries = 0;
		/* The small file at every position with every bit; the one with a
		 * 1 MiB section (about as big) at its first and last 32 bytes and a
		 * hundred positions in between, one bit and the whole byte. */
		size_t step = big ? n / 100 : 1;
		for (size_t pos = 0; pos < n; pos += (pos < 32 || pos + 32 >= n) ? 1 : step) {
			for (int bit = 0; bit < 8; bit++) {
				if (big && bit)
					continue;
				flip_and_check(bad, file, n, pos, (uint8_t)(1u << bit), &orig, hdr_len,
					       &refused, &same);
				tries++;
			}
			flip_and_check(bad, file, n, pos, 0xff, &orig, hdr_len, &refused, &same);
			tries++;
		}
		assert_int_equal(refused + same, tries);
		/* Re-encodings of the same state are the rare exception. */
		assert_true(refused * 20 >= tries * 19);
		snapshot_reader_free(&orig);
		free(file);
		free_refs(ref, nref);
	}
}

static void truncated(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX], cut[PATH_MAX];
	path_of(path, t, "good");
	path_of(cut, t, "cut");

	for (int big = 0; big <= 1; big++) {
		struct ref ref[NREF];
		int nref = big ? NREF : 8;
		make_refs(ref, nref, big);
		write_refs(ref, nref, VER, path);
		size_t n;
		uint8_t *file = slurp(path, &n);
		size_t step = big ? n / 64 : 1;
		for (size_t len = 0; len < n; len += (len < 32 || len + 32 >= n) ? 1 : step) {
			spit(cut, file, len);
			expect_read_fails(cut, VER, NULL);
		}
		free(file);
		free_refs(ref, nref);
	}
}

static void trailing_bytes(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX], longer[PATH_MAX];
	path_of(path, t, "good");
	path_of(longer, t, "longer");
	struct ref ref[12];
	make_refs(ref, 12, false);
	write_refs(ref, 12, VER, path);
	size_t n;
	uint8_t *file = slurp(path, &n);

	/* One stray byte, and a second complete frame after the first. */
	uint8_t *two = malloc(2 * n);
	memcpy(two, file, n);
	two[n] = 0;
	spit(longer, two, n + 1);
	expect_read_fails(longer, VER, "size does not match");
	memcpy(two + n, file, n);
	spit(longer, two, 2 * n);
	expect_read_fails(longer, VER, "size does not match");
	free(two);
	free(file);
	free_refs(ref, 12);
}

static void foreign_files(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "foreign");

	spit(path, "", 0);
	expect_read_fails(path, VER, "not a checksummed state frame");
	spit(path, "hello, this is not an LZ4 frame\n", 32);
	expect_read_fails(path, VER, "not a checksummed state frame");
	spit(path, "\x04\x22\x4d\x18", 4); /* the magic alone */
	expect_read_fails(path, VER, "not a checksummed state frame");

	/* A decompressed state as it is: right contents, no frame around them. */
	struct state s = hdr(SNAPSHOT_FORMAT_VERSION, 1, VER);
	sec(&s, 1, 0, 3, 3);
	spit(path, s.p, s.len);
	expect_read_fails(path, VER, "not a checksummed state frame");

	/* LZ4 frames without the content checksum, or without the content size. */
	size_t n;
	LZ4F_preferences_t p = { .frameInfo = { .contentSize = s.len } };
	uint8_t *f = frame_of(s.p, s.len, &p, &n);
	spit(path, f, n);
	expect_read_fails(path, VER, "not a checksummed state frame");
	free(f);
	f = frame_of(s.p, s.len, &good_prefs, &n);
	spit(path, f, n);
	expect_read_fails(path, VER, "not a checksummed state frame");
	free(f);

	/* The same with both: accepted (the reader is not tied to the writer's settings). */
	p = good_prefs;
	p.frameInfo.contentSize = s.len;
	p.frameInfo.blockChecksumFlag = LZ4F_blockChecksumEnabled;
	f = frame_of(s.p, s.len, &p, &n);
	spit(path, f, n);
	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	if (snapshot_read_file(&r, path, VER, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.count, 1);
	snapshot_reader_free(&r);
	free(f);
	free(s.p);

	/* Missing, a directory, and a (sparse) file too big to be a state file. */
	char missing[PATH_MAX];
	path_of(missing, t, "no-such-file");
	expect_read_fails(missing, VER, "No such file");
	expect_read_fails(t->base, VER, "sane size");
	int fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)SNAPSHOT_MAX_STATE * 2), 0);
	close(fd);
	expect_read_fails(path, VER, "sane size");
}

/*
 * A frame whose header's content size disagrees with its blocks (made with
 * the streaming API, whose LZ4F_compressEnd writes the end mark and checksum
 * and only then reports the mismatch).
 */
static void content_size_mismatch(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "mismatch");
	struct state s = hdr(SNAPSHOT_FORMAT_VERSION, 1, VER);
	sec(&s, 1, 0, 100, 100);

	for (int delta = -1; delta <= 1; delta += 2) {
		LZ4F_cctx *c;
		assert_false(LZ4F_isError(LZ4F_createCompressionContext(&c, LZ4F_VERSION)));
		LZ4F_preferences_t p = good_prefs;
		p.frameInfo.contentSize = (unsigned long long)((long long)s.len + delta);
		size_t cap = LZ4F_compressBound(s.len, &p) + 64;
		uint8_t *f = malloc(cap);
		size_t n = LZ4F_compressBegin(c, f, cap, &p);
		assert_false(LZ4F_isError(n));
		size_t k = LZ4F_compressUpdate(c, f + n, cap - n, s.p, s.len, NULL);
		assert_false(LZ4F_isError(k));
		n += k;
		k = LZ4F_flush(c, f + n, cap - n, NULL);
		assert_false(LZ4F_isError(k));
		n += k;
		assert_true(LZ4F_isError(LZ4F_compressEnd(c, f + n, cap - n, NULL)));
		n += 8; /* end mark and content checksum */
		LZ4F_freeCompressionContext(c);
		spit(path, f, n);
		expect_read_fails(path, VER, delta < 0 ? "size does not match its frame" : "frameSize_wrong");
		free(f);
	}
	free(s.p);
}

/* A correct frame around wrong contents: the parser's verdict, prefixed with the path. */
static void wrong_versions(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "versions");

	struct state s = hdr(SNAPSHOT_FORMAT_VERSION + 1, 0, VER);
	size_t n;
	LZ4F_preferences_t p = good_prefs;
	p.frameInfo.contentSize = s.len;
	uint8_t *f = frame_of(s.p, s.len, &p, &n);
	spit(path, f, n);
	expect_read_fails(path, VER, "snapshot format 2, this ember reads 1");
	expect_read_fails(path, VER, path);
	free(f);
	free(s.p);

	struct ref ref[3];
	make_refs(ref, 3, false);
	write_refs(ref, 3, "0.1.0", path);
	expect_read_fails(path, "0.2.0", "snapshot made by ember 0.1.0, this is ember 0.2.0");
	expect_read_fails(path, "0.1", "made by ember");
	expect_read_fails(path, "0.1.0-rc1", "made by ember");
	expect_read_fails(path, "", "made by ember");
	free_refs(ref, 3);
}

/* ---- snapshot_parse on hand-made buffers ------------------------------------------ */

static void parse_good(void **state)
{
	(void)state;
	struct state s = hdr(SNAPSHOT_FORMAT_VERSION, 3, VER);
	sec(&s, 10, 0, 5, 5);
	sec(&s, 11, 0, 0, 0);
	sec(&s, 10, 1, 2, 2);
	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	assert_int_equal(snapshot_parse(&r, s.p, s.len, VER, &err), 0);
	assert_int_equal(r.count, 3);
	assert_int_equal(snapshot_find(&r, 10, 1)->len, 2);
	assert_int_equal(snapshot_find(&r, 11, 0)->len, 0);
	assert_ptr_equal(snapshot_find(&r, 10, 0)->data, s.p + HDR + SEC);
	snapshot_reader_free(&r);

	/* Exactly SNAPSHOT_MAX_SECTIONS (empty) sections. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAX_SECTIONS, VER);
	for (uint32_t i = 0; i < SNAPSHOT_MAX_SECTIONS; i++)
		sec(&s, 1, i, 0, 0);
	assert_int_equal(snapshot_parse(&r, s.p, s.len, VER, &err), 0);
	assert_int_equal(r.count, SNAPSHOT_MAX_SECTIONS);
	assert_non_null(snapshot_find(&r, 1, SNAPSHOT_MAX_SECTIONS - 1));
	snapshot_reader_free(&r);
}

static void parse_bad(void **state)
{
	(void)state;
	struct state s;

	/* Too short for a header, at every length (an empty one included). */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 0, VER);
	for (size_t len = 0; len < HDR; len++) {
		uint8_t *p = malloc(len + 1);
		memcpy(p, s.p, len);
		expect_parse_fails(p, len, "no header");
	}
	free(s.p);

	s = hdr(SNAPSHOT_FORMAT_VERSION, 0, VER);
	s.p[0] = 'e';
	expect_parse_fails(s.p, s.len, "no header");

	s = hdr(0, 0, VER);
	expect_parse_fails(s.p, s.len, "snapshot format 0");
	s = hdr(0xffffffffu, 0, VER);
	expect_parse_fails(s.p, s.len, "snapshot format 4294967295");
	s = hdr(SNAPSHOT_FORMAT_VERSION, 0, "9.9.9");
	expect_parse_fails(s.p, s.len, "made by ember 9.9.9");

	/* An ember version field without a terminating NUL. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 0, VER);
	memset(s.p + 16, 'A', 32);
	expect_parse_fails(s.p, s.len, "made by ember AAAA");

	/* More sections claimed than the data could hold. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 3, VER);
	sec(&s, 1, 0, 0, 0);
	sec(&s, 2, 0, 4, 4);
	expect_parse_fails(s.p, s.len, "claims 3 sections");
	s = hdr(SNAPSHOT_FORMAT_VERSION, 0xffffffffu, VER);
	sec(&s, 1, 0, 0, 0);
	expect_parse_fails(s.p, s.len, "claims 4294967295 sections");

	/* Room for the count's headers, but section 1's header is cut short. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 2, VER);
	sec(&s, 1, 0, 20, 20);
	grow(&s, "\1\2\3\4", 4);
	expect_parse_fails(s.p, s.len, "section 1: truncated header");

	/* A section's length past the end: by one, and by 4 GiB. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 2, VER);
	sec(&s, 1, 0, 3, 3);
	sec(&s, 2, 0, 9, 8);
	expect_parse_fails(s.p, s.len, "section 1: 9 bytes past the end");
	s = hdr(SNAPSHOT_FORMAT_VERSION, 1, VER);
	sec(&s, 1, 0, 0xffffffffu, 16);
	expect_parse_fails(s.p, s.len, "section 0: 4294967295 bytes past the end");

	/* Stray bytes after the last section, and sections beyond the count. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, 1, VER);
	sec(&s, 1, 0, 3, 3);
	grow(&s, "xy", 2);
	expect_parse_fails(s.p, s.len, "2 stray bytes");
	s = hdr(SNAPSHOT_FORMAT_VERSION, 1, VER);
	sec(&s, 1, 0, 3, 3);
	sec(&s, 2, 0, 0, 0);
	expect_parse_fails(s.p, s.len, "12 stray bytes");
	s = hdr(SNAPSHOT_FORMAT_VERSION, 0, VER);
	grow(&s, "z", 1);
	expect_parse_fails(s.p, s.len, "1 stray bytes");

	/* One section over SNAPSHOT_MAX_SECTIONS, with the data to back it. */
	s = hdr(SNAPSHOT_FORMAT_VERSION, SNAPSHOT_MAX_SECTIONS + 1, VER);
	for (uint32_t i = 0; i <= SNAPSHOT_MAX_SECTIONS; i++)
		sec(&s, 1, i, 0, 0);
	expect_parse_fails(s.p, s.len, "claims 4097 sections");
}

/* ---- the writer's limits ---------------------------------------------------------- */

static void put_limits(void **state)
{
	(void)state;
	static const uint8_t byte;
	struct snapshot_writer w = { 0 };

	/* Lengths that could never fit are refused before anything is read or allocated. */
	assert_int_equal(snapshot_put(&w, 1, 0, &byte, SIZE_MAX), -E2BIG);
	assert_int_equal(snapshot_put(&w, 1, 0, &byte, (size_t)UINT32_MAX + 1), -E2BIG);
	assert_int_equal(snapshot_put(&w, 1, 0, &byte, SNAPSHOT_MAX_STATE + 1), -E2BIG);
	assert_int_equal(snapshot_put(&w, 1, 0, &byte, SNAPSHOT_MAX_STATE), -E2BIG);
	assert_int_equal(snapshot_put(&w, 1, 0, &byte, SNAPSHOT_MAX_STATE - HDR - SEC + 1), -E2BIG);
	assert_int_equal(w.count, 0);
	assert_int_equal(w.len, 0);

	/* SNAPSHOT_MAX_SECTIONS sections, then no more. */
	for (uint32_t i = 0; i < SNAPSHOT_MAX_SECTIONS; i++)
		assert_int_equal(snapshot_put(&w, 2, i, NULL, 0), 0);
	assert_int_equal(snapshot_put(&w, 2, 0, NULL, 0), -E2BIG);
	assert_int_equal(snapshot_put(&w, 2, 0, &byte, 1), -E2BIG);
	assert_int_equal(w.count, SNAPSHOT_MAX_SECTIONS);
	assert_int_equal(w.len, (size_t)SNAPSHOT_MAX_SECTIONS * SEC);
	snapshot_writer_free(&w);
	assert_int_equal(w.count, 0);
	assert_null(w.data);
}

/* The largest state the writer takes is one the reader takes back. */
static void largest_state(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "largest");
	size_t len = SNAPSHOT_MAX_STATE - HDR - 2 * SEC - 1;
	uint8_t *big = calloc(1, len);
	assert_non_null(big);
	memcpy(big + len - 4, "tail", 4);
	struct snapshot_writer w = { 0 };
	/* Room left for one more section of one byte, exactly. */
	assert_int_equal(snapshot_put(&w, 1, 0, big, len), 0);
	assert_int_equal(snapshot_put(&w, 2, 0, "12", 2), -E2BIG);
	assert_int_equal(snapshot_put(&w, 2, 0, "1", 1), 0);
	assert_int_equal(snapshot_put(&w, 3, 0, NULL, 0), -E2BIG);
	free(big);
	struct ember_err err = { .msg = "" };
	if (snapshot_write_file(&w, VER, path, &err))
		fail_msg("%s", err.msg);
	snapshot_writer_free(&w);
	struct snapshot_reader r;
	if (snapshot_read_file(&r, path, VER, &err))
		fail_msg("%s", err.msg);
	assert_int_equal(r.len, SNAPSHOT_MAX_STATE);
	const struct snapshot_section *s = snapshot_find(&r, 1, 0);
	assert_non_null(s);
	assert_int_equal(s->len, len);
	assert_memory_equal(s->data + len - 4, "tail", 4);
	assert_memory_equal(snapshot_find(&r, 2, 0)->data, "1", 1);
	snapshot_reader_free(&r);
}

/* ---- atomic writes ---------------------------------------------------------------- */

static void write_refs_expect_fail(const char *path, const char *want)
{
	struct snapshot_writer w = { 0 };
	struct ember_err err = { .msg = "" };
	uint8_t data[3000];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = rnd8();
	assert_int_equal(snapshot_put(&w, 9, 9, data, sizeof(data)), 0);
	assert_true(snapshot_write_file(&w, VER, path, &err) < 0);
	assert_true(strlen(err.msg) > 0);
	if (want)
		assert_contains(err.msg, want);
	snapshot_writer_free(&w);
}

static void missing_directory(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX];
	path_of(path, t, "no-such-dir/state");
	write_refs_expect_fail(path, "No such file or directory");
	assert_int_equal(count_named(t->base, "state"), 0);
	assert_int_equal(count_named(t->base, "no-such-dir"), 0);
}

/* The final name holds the old complete file or the new complete one, nothing else. */
static void replace_existing(void **state)
{
	struct tmpdir *t = *state;
	char path[PATH_MAX], tmp[PATH_MAX + 32];
	path_of(path, t, "state");
	struct ref a[12], b[NREF];
	make_refs(a, 12, false);
	make_refs(b, NREF, false);
	b[0].tag = 0x4242; /* b differs from a from its first section on */

	write_refs(a, 12, VER, path);
	size_t a_len;
	uint8_t *a_file = slurp(path, &a_len);
	struct stat st_a, st_b;
	assert_int_equal(stat(path, &st_a), 0);

	/* A reader that opened the old file keeps reading the old file. */
	int old = open(path, O_RDONLY);
	assert_true(old >= 0);
	write_refs(b, NREF, VER, path);
	assert_int_equal(stat(path, &st_b), 0);
	assert_true(st_a.st_ino != st_b.st_ino); /* renamed over, not rewritten in place */
	uint8_t *again = malloc(a_len + 1);
	assert_int_equal(pread(old, again, a_len + 1, 0), (ssize_t)a_len);
	assert_memory_equal(again, a_file, a_len);
	close(old);
	free(again);
	assert_int_equal(count_named(t->base, ".tmp."), 0);

	struct snapshot_reader r;
	struct ember_err err = { .msg = "" };
	assert_int_equal(snapshot_read_file(&r, path, VER, &err), 0);
	check_refs(&r, b, NREF);
	snapshot_reader_free(&r);
	size_t b_len;
	uint8_t *b_file = slurp(path, &b_len);

	/* The temporary name is taken (a directory): the write fails, the old file stays. */
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(mkdir(tmp, 0700), 0);
	write_refs_expect_fail(path, ".tmp.");
	assert_int_equal(rmdir(tmp), 0);
	size_t n;
	uint8_t *now = slurp(path, &n);
	assert_int_equal(n, b_len);
	assert_memory_equal(now, b_file, n);
	free(now);

	/* The disk fills up mid-write (a file size limit stands in): the same. */
	struct rlimit lim, small;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &lim), 0);
	small = lim;
	small.rlim_cur = 1000;
	void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &small), 0);
	write_refs_expect_fail(path, "writing");
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	signal(SIGXFSZ, was);
	now = slurp(path, &n);
	assert_int_equal(n, b_len);
	assert_memory_equal(now, b_file, n);
	free(now);
	assert_int_equal(count_named(t->base, ".tmp."), 0);

	/* The final name is a directory: rename fails, the temporary file is removed. */
	char sub[PATH_MAX];
	path_of(sub, t, "a-directory");
	assert_int_equal(mkdir(sub, 0700), 0);
	write_refs_expect_fail(sub, "a-directory");
	assert_int_equal(count_named(t->base, ".tmp."), 0);

	free(a_file);
	free(b_file);
	free_refs(a, 12);
	free_refs(b, NREF);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(no_sections, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(find_first_of_duplicates, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(long_version_string, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(flipped_bytes, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(truncated, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(trailing_bytes, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(foreign_files, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(content_size_mismatch, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(wrong_versions, dir_setup, dir_teardown),
		cmocka_unit_test(parse_good),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(put_limits),
		cmocka_unit_test_setup_teardown(largest_state, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(missing_directory, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(replace_existing, dir_setup, dir_teardown),
	};
	return cmocka_run_group_tests_name("snapshot file", tests, NULL, NULL);
}
