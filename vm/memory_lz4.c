// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM to and from the LZ4 memory image (format in vm/memory_lz4.h).
 *
 * Writing goes chunk by chunk in one thread: it is done once per
 * snapshot, with the VM paused, and is not what a restore waits for.
 * Loading is what a restore waits for, so chunks are handed out to a few
 * threads from one atomic counter; each preads its chunk's frame into its
 * own buffer, decodes and verifies it into a second one (its own
 * LZ4F_dctx checks the XXH32 of the stored block before decoding it, and
 * the decoded size), and only then copies the non-zero pages into the
 * chunk's place in RAM, which no other thread touches.  The checksum is
 * of the stored (compressed) bytes, not of the decoded megabyte: it is
 * there for damage to the file, and costs a pass over what was read
 * rather than over all of RAM, zero pages included, on both sides.
 * Everything a thread relies on (offsets, lengths, kinds) is checked
 * before the first thread starts, so a bad table never writes a byte of
 * RAM, and a damaged chunk never writes its own.
 */
#include "vm/memory_lz4.h"

#include <errno.h>
#include <lz4frame.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAGIC "EMBERMLZ"
#define MAGIC_LEN 8
#define FORMAT_VERSION 3
#define HEADER_LEN 32
#define ENTRY_LEN 16
#define CHUNK (1U << 20)
#define PAGE 4096U
#define MAX_THREADS 8

enum { KIND_ZERO = 0, KIND_FRAME = 1 };

struct entry {
	uint64_t offset;
	uint32_t len;
	uint32_t kind;
};

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/*
 * The frame of a len-byte chunk: one block (up to 1 MiB, so a whole chunk
 * compresses as well as one LZ4 block does; LZ4F itself stores a block
 * that LZ4 does not shrink uncompressed), the content size in the header,
 * the XXH32 of the stored block after it.
 */
static LZ4F_preferences_t frame_prefs(uint32_t len)
{
	return (LZ4F_preferences_t){
		.frameInfo = {
			.blockSizeID = LZ4F_max1MB,
			.blockMode = LZ4F_blockIndependent,
			.contentChecksumFlag = LZ4F_noContentChecksum,
			.blockChecksumFlag = LZ4F_blockChecksumEnabled,
			.frameType = LZ4F_frame,
			.contentSize = len,
		},
	};
}

/* The longest frame the writer makes of a len-byte chunk (LZ4F's own bound). */
static size_t frame_bound(uint32_t len)
{
	LZ4F_preferences_t prefs = frame_prefs(len);
	return LZ4F_compressFrameBound(len, &prefs);
}

/* RAM bytes in chunk i: a whole chunk but for a short last one. */
static uint32_t chunk_len(uint64_t ram, uint64_t i)
{
	uint64_t left = ram - i * CHUNK;
	return left < CHUNK ? (uint32_t)left : CHUNK;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* 0, -errno, or -ENODATA when the file ends first. */
static int pread_all(int fd, uint8_t *p, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -ENODATA;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* "3 MiB", or "3080 KiB" when that is not exact: RAM sizes are whole pages. */
static const char *size_str(char *buf, size_t cap, uint64_t bytes)
{
	if (bytes % (1 << 20) == 0)
		snprintf(buf, cap, "%llu MiB", (unsigned long long)(bytes >> 20));
	else
		snprintf(buf, cap, "%llu KiB", (unsigned long long)(bytes >> 10));
	return buf;
}

/* ---- writing ------------------------------------------------------------------------ */

/*
 * A page is zero when its first byte is and each byte equals the next:
 * libc's vectorised memcmp, faster than a loop of words (which, built
 * for the fuzzer, also pays a coverage hook per word).
 */
static bool page_is_zero(const uint8_t *p)
{
	return !p[0] && !memcmp(p, p + 1, PAGE - 1);
}

struct writer {
	const struct guest_memory *mem;
	int pagemap_fd;
	uint64_t *pagemap; /* one chunk's entries */
	uint8_t *stage;    /* a chunk with its untouched pages as zeros */
	uint8_t *out;      /* frame_bound(CHUNK) */
};

/*
 * The bytes to store for the chunk at ram[off, off+len), or NULL when all
 * its pages are untouched or zero.  Untouched pages are never read: a
 * chunk that has some is assembled in w->stage with zeros in their place.
 */
static const uint8_t *chunk_source(struct writer *w, uint64_t off, uint32_t len)
{
	const uint8_t *ram = w->mem->mapping + off;
	uint32_t pages = len / PAGE;
	/* Which pages may hold data (pagemap, and a memory file RAM was mapped from). */
	guest_memory_scan(w->mem, w->pagemap_fd, off / PAGE, pages, w->pagemap);
	bool data = false, all_touched = true;

	for (uint32_t i = 0; i < pages; i++) {
		bool touched = w->pagemap[i] != 0; /* also "copy this page" below */
		all_touched &= touched;
		if (touched && !data && !page_is_zero(ram + (uint64_t)i * PAGE))
			data = true;
	}
	if (!data)
		return NULL;
	if (all_touched)
		return ram;
	for (uint32_t i = 0; i < pages; i++) {
		uint8_t *to = w->stage + (uint64_t)i * PAGE;
		if (w->pagemap[i])
			memcpy(to, ram + (uint64_t)i * PAGE, PAGE);
		else
			memset(to, 0, PAGE);
	}
	return w->stage;
}

int guest_memory_write_lz4(const struct guest_memory *mem, int fd, int pagemap_fd,
			   struct memory_lz4_stats *stats, struct ember_err *err)
{
	uint64_t ram = mem->mapping_size;
	if (!ram || ram % PAGE || ram / CHUNK >= UINT32_MAX)
		return ember_fail(err, EINVAL, "memory image: cannot store %llu bytes of RAM",
				  (unsigned long long)ram);
	uint32_t count = (uint32_t)((ram + CHUNK - 1) / CHUNK);
	struct memory_lz4_stats st = { .chunks = count };
	struct writer w = {
		.mem = mem,
		.pagemap_fd = pagemap_fd,
		.pagemap = malloc(CHUNK / PAGE * sizeof(uint64_t)),
		.stage = malloc(CHUNK),
		.out = malloc(frame_bound(CHUNK)),
	};
	size_t table_len = (size_t)count * ENTRY_LEN;
	uint8_t *table = calloc(1, table_len); /* zero chunks' entries stay all zero */
	int rc = 0;

	if (!w.pagemap || !w.stage || !w.out || !table) {
		rc = ember_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	/*
	 * From an empty file, so that it ends with the last chunk (the loader
	 * insists) and any earlier content's magic is gone until the header
	 * is written, last.
	 */
	if (ftruncate(fd, 0) < 0) {
		rc = ember_fail(err, errno, "memory image: truncating: %s", strerror(errno));
		goto out;
	}
	uint64_t pos = HEADER_LEN + table_len;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t len = chunk_len(ram, i);
		const uint8_t *src = chunk_source(&w, (uint64_t)i * CHUNK, len);
		if (!src) {
			st.zero_chunks++;
			continue;
		}
		LZ4F_preferences_t prefs = frame_prefs(len);
		size_t n = LZ4F_compressFrame(w.out, frame_bound(CHUNK), src, len, &prefs);
		if (LZ4F_isError(n)) {
			rc = ember_fail(err, EIO, "memory image: compressing chunk %u: LZ4F %s", i,
					LZ4F_getErrorName(n));
			goto out;
		}
		uint32_t stored = (uint32_t)n;
		if ((rc = pwrite_all(fd, w.out, stored, pos)) < 0) {
			rc = ember_fail(err, -rc, "memory image: writing chunk %u: %s", i, strerror(-rc));
			goto out;
		}
		uint8_t *e = table + (size_t)i * ENTRY_LEN;
		put_le64(e, pos);
		put_le32(e + 8, stored);
		put_le32(e + 12, KIND_FRAME);
		pos += stored;
		st.raw_bytes += len;
	}

	uint8_t header[HEADER_LEN] = { 0 };
	memcpy(header, MAGIC, MAGIC_LEN);
	put_le32(header + 8, FORMAT_VERSION);
	put_le32(header + 12, CHUNK);
	put_le64(header + 16, ram);
	put_le32(header + 24, count);
	if ((rc = pwrite_all(fd, table, table_len, HEADER_LEN)) < 0 ||
	    (rc = pwrite_all(fd, header, HEADER_LEN, 0)) < 0) {
		rc = ember_fail(err, -rc, "memory image: writing the header and table: %s", strerror(-rc));
		goto out;
	}
	st.compressed_bytes = pos;
	if (stats)
		*stats = st;
out:
	free(table);
	free(w.pagemap);
	free(w.stage);
	free(w.out);
	return rc;
}

bool guest_memory_is_lz4(int fd)
{
	char magic[MAGIC_LEN];
	return pread(fd, magic, MAGIC_LEN, 0) == MAGIC_LEN && !memcmp(magic, MAGIC, MAGIC_LEN);
}

/* ---- loading ------------------------------------------------------------------------ */

/* The header, checked against the RAM; *count gets the number of chunks. */
static int check_header(const struct guest_memory *mem, int fd, uint64_t file_size, uint32_t *count,
			struct ember_err *err)
{
	uint8_t h[HEADER_LEN];
	size_t have = file_size < HEADER_LEN ? (size_t)file_size : HEADER_LEN;
	int rc = pread_all(fd, h, have, 0);
	if (rc < 0)
		return ember_fail(err, -rc == ENODATA ? EIO : -rc, "memory image: reading the header: %s",
				  -rc == ENODATA ? "the file shrank" : strerror(-rc));
	if (have < MAGIC_LEN || memcmp(h, MAGIC, MAGIC_LEN))
		return ember_fail(err, EINVAL, "memory image: not an ember LZ4 memory image (no %s magic)",
				  MAGIC);
	if (have < HEADER_LEN)
		return ember_fail(err, EINVAL, "memory image: truncated (%zu bytes, the header has %d)", have,
				  HEADER_LEN);

	uint32_t version = get_le32(h + 8), chunk = get_le32(h + 12);
	uint64_t ram = get_le64(h + 16);
	char a[32], b[32];
	if (version == 1)
		return ember_fail(err, EINVAL,
				  "memory image: format version 1, which has no checksums, is no longer "
				  "read (this ember reads version %d): take the snapshot again",
				  FORMAT_VERSION);
	if (version == 2)
		return ember_fail(err, EINVAL,
				  "memory image: format version 2, which has a different checksum layout, "
				  "is no longer read (this ember reads version %d): take the snapshot again",
				  FORMAT_VERSION);
	if (version != FORMAT_VERSION)
		return ember_fail(err, EINVAL, "memory image: format version %u, this ember reads version %d",
				  version, FORMAT_VERSION);
	if (chunk != CHUNK)
		return ember_fail(err, EINVAL, "memory image: chunk size %u, version %d has %u", chunk,
				  FORMAT_VERSION, CHUNK);
	if (ram != mem->mapping_size)
		return ember_fail(err, EINVAL,
				  "memory image: RAM size mismatch: the image holds %s, this VM has %s "
				  "(restore with the snapshot's --mem)",
				  size_str(a, sizeof(a), ram), size_str(b, sizeof(b), mem->mapping_size));
	*count = get_le32(h + 24);
	if (*count != (ram + CHUNK - 1) / CHUNK)
		return ember_fail(err, EINVAL, "memory image: %u chunks, %s of RAM needs %llu", *count,
				  size_str(a, sizeof(a), ram), (unsigned long long)((ram + CHUNK - 1) / CHUNK));
	if (get_le32(h + 28))
		return ember_fail(err, EINVAL, "memory image: reserved header field is %#x, not 0",
				  get_le32(h + 28));
	return 0;
}

/*
 * Reads and checks the table: the stored chunks tile the file from the
 * table's end to its last byte, in order, each of a length its kind
 * allows (a frame: at most what the writer can make of the chunk).
 * *stored gets the number of non-zero chunks.
 */
static int read_table(const struct guest_memory *mem, int fd, uint64_t file_size, uint32_t count,
		      struct entry **out, uint32_t *stored, struct ember_err *err)
{
	uint64_t table_len = (uint64_t)count * ENTRY_LEN;
	if (table_len > file_size - HEADER_LEN)
		return ember_fail(err, EINVAL,
				  "memory image: truncated (%llu bytes, its table of %u chunks ends at %llu)",
				  (unsigned long long)file_size, count,
				  (unsigned long long)(HEADER_LEN + table_len));
	uint8_t *raw = malloc(table_len);
	struct entry *t = calloc(count, sizeof(*t));
	int rc = 0;
	if (!raw || !t) {
		rc = ember_fail(err, ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = pread_all(fd, raw, table_len, HEADER_LEN)) < 0) {
		rc = ember_fail(err, -rc == ENODATA ? EIO : -rc, "memory image: reading the table: %s",
				-rc == ENODATA ? "the file shrank" : strerror(-rc));
		goto fail;
	}

	uint64_t pos = HEADER_LEN + table_len;
	*stored = 0;
	for (uint32_t i = 0; i < count; i++) {
		struct entry *e = &t[i];
		uint32_t len = chunk_len(mem->mapping_size, i);
		e->offset = get_le64(raw + (size_t)i * ENTRY_LEN);
		e->len = get_le32(raw + (size_t)i * ENTRY_LEN + 8);
		e->kind = get_le32(raw + (size_t)i * ENTRY_LEN + 12);
		switch (e->kind) {
		case KIND_ZERO:
			if (e->offset || e->len) {
				rc = ember_fail(err, EINVAL,
						"memory image: chunk %u: a zero chunk with %u bytes at %llu",
						i, e->len, (unsigned long long)e->offset);
				goto fail;
			}
			continue;
		case KIND_FRAME:
			if (!e->len || e->len > frame_bound(len)) {
				rc = ember_fail(err, EINVAL,
						"memory image: chunk %u: a %u-byte LZ4 frame for a %u-byte chunk "
						"(at most %zu)",
						i, e->len, len, frame_bound(len));
				goto fail;
			}
			break;
		default:
			rc = ember_fail(err, EINVAL, "memory image: chunk %u: unknown kind %u", i, e->kind);
			goto fail;
		}
		if (e->offset != pos) {
			rc = ember_fail(err, EINVAL,
					"memory image: chunk %u at offset %llu, expected %llu "
					"(chunks out of order, overlapping or apart)",
					i, (unsigned long long)e->offset, (unsigned long long)pos);
			goto fail;
		}
		if (e->len > file_size - pos) {
			rc = ember_fail(err, EINVAL,
					"memory image: truncated (chunk %u: %u bytes at %llu, "
					"past the end of the %llu-byte file)",
					i, e->len, (unsigned long long)pos, (unsigned long long)file_size);
			goto fail;
		}
		pos += e->len;
		(*stored)++;
	}
	if (pos != file_size) {
		rc = ember_fail(err, EINVAL, "memory image: %llu stray bytes after the last chunk",
				(unsigned long long)(file_size - pos));
		goto fail;
	}
	free(raw);
	*out = t;
	return 0;

fail:
	free(raw);
	free(t);
	return rc;
}

struct load {
	struct guest_memory *mem;
	int fd;
	const struct entry *table;
	uint32_t count;
	atomic_uint next;  /* the next chunk to take */
	atomic_bool stop;  /* a chunk failed: the others need not be read */
};

struct worker {
	struct load *load;
	pthread_t thread;
	uint32_t failed_chunk; /* UINT32_MAX: none */
	int rc;
	struct ember_err err;
};

/*
 * Chunk i's frame, read into `packed`, decoded into `plain` and verified
 * there: its header records the chunk's size and block checksums, each
 * block's XXH32 matches its stored bytes (LZ4F compares it before it
 * decodes a compressed block, and after it copies a stored one), it
 * decodes to exactly the chunk's size, LZ4F finds the frame complete
 * (its end mark) and the frame ends exactly at the chunk's stored length.  Only
 * then are the chunk's non-zero pages copied into RAM: the RAM is fresh
 * and zero, and a page left alone costs neither a fault nor host memory,
 * so a restored guest takes what the saved one took, not its whole RAM.
 */
static int load_chunk(struct load *l, uint32_t i, LZ4F_dctx *dctx, uint8_t *packed, uint8_t *plain,
		      struct ember_err *err)
{
	const struct entry *e = &l->table[i];
	uint32_t len = chunk_len(l->mem->mapping_size, i);
	uint8_t *dst = l->mem->mapping + (uint64_t)i * CHUNK;
	int rc = pread_all(l->fd, packed, e->len, e->offset);
	if (rc < 0)
		return ember_fail(err, -rc == ENODATA ? EIO : -rc, "memory image: reading chunk %u: %s", i,
				  -rc == ENODATA ? "the file shrank" : strerror(-rc));

	/* A clean context: a previous chunk's failure may have left it mid-frame. */
	LZ4F_resetDecompressionContext(dctx);
	LZ4F_frameInfo_t info;
	size_t head = e->len;
	size_t r = LZ4F_getFrameInfo(dctx, &info, packed, &head);
	if (LZ4F_isError(r))
		return ember_fail(err, EINVAL, "memory image: chunk %u: bad LZ4 frame header (LZ4F %s)", i,
				  LZ4F_getErrorName(r));
	if (info.frameType != LZ4F_frame)
		return ember_fail(err, EINVAL, "memory image: chunk %u: a skippable LZ4 frame, not data", i);
	if (!info.contentSize)
		return ember_fail(err, EINVAL,
				  "memory image: chunk %u: an LZ4 frame that does not record its size", i);
	if (info.contentSize != len)
		return ember_fail(err, EINVAL, "memory image: chunk %u: an LZ4 frame of %llu bytes for a "
				  "%u-byte chunk", i, info.contentSize, len);
	if (info.blockChecksumFlag != LZ4F_blockChecksumEnabled)
		return ember_fail(err, EINVAL, "memory image: chunk %u: an LZ4 frame without block checksums",
				  i);
	if (info.dictID)
		return ember_fail(err, EINVAL, "memory image: chunk %u: an LZ4 frame that needs dictionary %#x",
				  i, info.dictID);

	/* All of the frame in one call (so `plain` stays as decoded throughout: stableDst). */
	LZ4F_decompressOptions_t opts = { .stableDst = 1 };
	size_t in = e->len - head, out = len;
	r = LZ4F_decompress(dctx, plain, &out, packed + head, &in, &opts);
	if (LZ4F_isError(r)) {
		/* A content checksum is not made, but LZ4F checks one that is there too. */
		const char *name = LZ4F_getErrorName(r);
		if (!strcmp(name, "ERROR_blockChecksum_invalid") ||
		    !strcmp(name, "ERROR_contentChecksum_invalid"))
			return ember_fail(err, EINVAL,
					  "memory image: chunk %u: checksum mismatch: the data is damaged", i);
		return ember_fail(err, EINVAL, "memory image: chunk %u: corrupt LZ4 data (LZ4F %s)", i,
				  LZ4F_getErrorName(r));
	}
	/* Not finished: all of it read (cut short), or `plain` full (too long). */
	if (r && head + in == e->len)
		return ember_fail(err, EINVAL,
				  "memory image: chunk %u: its LZ4 frame is cut short at its stored length "
				  "(%u bytes)", i, e->len);
	if (r)
		return ember_fail(err, EINVAL,
				  "memory image: chunk %u: its LZ4 frame decodes to more than %u bytes", i, len);
	if (head + in != e->len)
		return ember_fail(err, EINVAL,
				  "memory image: chunk %u: its LZ4 frame ends %zu bytes before its stored "
				  "length (%u)", i, e->len - head - in, e->len);
	if (out != len) /* LZ4F has compared it with the content size already */
		return ember_fail(err, EINVAL, "memory image: chunk %u: decodes to %zu bytes, not %u", i, out,
				  len);

	for (uint32_t off = 0; off < len; off += PAGE)
		if (!page_is_zero(plain + off))
			memcpy(dst + off, plain + off, PAGE);
	return 0;
}

static void *load_worker(void *arg)
{
	struct worker *w = arg;
	struct load *l = w->load;
	uint8_t *packed = malloc(frame_bound(CHUNK)), *plain = malloc(CHUNK);
	LZ4F_dctx *dctx = NULL;

	if (!packed || !plain || LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
		w->rc = ember_fail(&w->err, ENOMEM, "out of memory");
		w->failed_chunk = 0;
		atomic_store(&l->stop, true);
	}
	while (!w->rc && !atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		unsigned i = atomic_fetch_add_explicit(&l->next, 1, memory_order_relaxed);
		if (i >= l->count)
			break;
		if (l->table[i].kind == KIND_ZERO)
			continue; /* fresh RAM is zero already */
		if ((w->rc = load_chunk(l, i, dctx, packed, plain, &w->err)) < 0) {
			w->failed_chunk = i;
			atomic_store(&l->stop, true);
		}
	}
	LZ4F_freeDecompressionContext(dctx);
	free(packed);
	free(plain);
	return NULL;
}

int guest_memory_load_lz4(struct guest_memory *mem, int fd, unsigned threads,
			  struct ember_err *err)
{
	struct stat st;
	if (!mem->mapping_size || mem->mapping_size % PAGE)
		return ember_fail(err, EINVAL, "internal: %llu bytes of RAM to load into",
				  (unsigned long long)mem->mapping_size);
	if (fstat(fd, &st) < 0)
		return ember_fail(err, errno, "memory image: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return ember_fail(err, EINVAL, "memory image: not a regular file");

	uint64_t size = (uint64_t)st.st_size;
	uint32_t count = 0, stored = 0;
	struct entry *table = NULL;
	int rc = check_header(mem, fd, size, &count, err);
	if (rc || (rc = read_table(mem, fd, size, count, &table, &stored, err)))
		return rc;
	if (!stored) {
		free(table); /* all zero: nothing to write into zero RAM */
		return 0;
	}

	if (!threads) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		threads = cpus > 0 ? (unsigned)cpus : 1;
	}
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (threads > stored)
		threads = stored;

	struct load l = { .mem = mem, .fd = fd, .table = table, .count = count };
	struct worker w[MAX_THREADS];
	atomic_init(&l.next, 0);
	atomic_init(&l.stop, false);
	for (unsigned i = 0; i < threads; i++)
		w[i] = (struct worker){ .load = &l, .failed_chunk = UINT32_MAX };
	/* This thread is worker 0; a helper that cannot start only makes it slower. */
	unsigned started = 1;
	while (started < threads && !pthread_create(&w[started].thread, NULL, load_worker, &w[started]))
		started++;
	load_worker(&w[0]);
	for (unsigned i = 1; i < started; i++)
		pthread_join(w[i].thread, NULL);
	free(table);

	/* The first failing chunk speaks, whichever thread met it. */
	struct worker *first = NULL;
	for (unsigned i = 0; i < started; i++)
		if (w[i].rc && (!first || w[i].failed_chunk < first->failed_chunk))
			first = &w[i];
	if (!first)
		return 0;
	if (err)
		*err = first->err;
	return first->rc;
}
