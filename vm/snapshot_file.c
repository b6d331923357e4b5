// SPDX-License-Identifier: GPL-2.0-only
#include "vm/snapshot_file.h"

#include <errno.h>
#include <fcntl.h>
#include <lz4frame.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/atomic_file.h"

#define MAGIC "EMBERSNP"
#define MAGIC_LEN 8
#define VERSION_LEN 32
#define HEADER_LEN (MAGIC_LEN + 4 + 4 + VERSION_LEN)
#define SECTION_HDR 12

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- writing ------------------------------------------------------------------------ */

int snapshot_put(struct snapshot_writer *w, uint32_t tag, uint32_t index, const void *data,
		 size_t len)
{
	size_t need = SECTION_HDR + len;
	if (len > SNAPSHOT_MAX_STATE || w->len + need + HEADER_LEN > SNAPSHOT_MAX_STATE ||
	    w->count == SNAPSHOT_MAX_SECTIONS)
		return -E2BIG;
	if (w->cap - w->len < need) {
		size_t cap = w->cap ? w->cap : 4096;
		while (cap - w->len < need)
			cap *= 2;
		uint8_t *d = realloc(w->data, cap);
		if (!d)
			return -ENOMEM;
		w->data = d;
		w->cap = cap;
	}
	put_le32(w->data + w->len, tag);
	put_le32(w->data + w->len + 4, index);
	put_le32(w->data + w->len + 8, (uint32_t)len);
	if (len)
		memcpy(w->data + w->len + SECTION_HDR, data, len);
	w->len += need;
	w->count++;
	return 0;
}

void snapshot_writer_free(struct snapshot_writer *w)
{
	free(w->data);
	memset(w, 0, sizeof(*w));
}

static int pwrite_all(int fd, const uint8_t *p, size_t len)
{
	off_t off = 0;
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int snapshot_write_fd(const struct snapshot_writer *w, const char *ember_version, int fd,
		      struct ember_err *err)
{
	size_t plain_len = HEADER_LEN + w->len;
	uint8_t *plain = malloc(plain_len);
	if (!plain)
		return ember_fail(err, ENOMEM, "out of memory");
	memcpy(plain, MAGIC, MAGIC_LEN);
	put_le32(plain + MAGIC_LEN, SNAPSHOT_FORMAT_VERSION);
	put_le32(plain + MAGIC_LEN + 4, w->count);
	memset(plain + MAGIC_LEN + 8, 0, VERSION_LEN);
	strncpy((char *)plain + MAGIC_LEN + 8, ember_version, VERSION_LEN - 1);
	if (w->len)
		memcpy(plain + HEADER_LEN, w->data, w->len);

	/* Content size and checksum in the frame: the reader knows what to expect and checks it. */
	LZ4F_preferences_t prefs = {
		.frameInfo = { .contentChecksumFlag = LZ4F_contentChecksumEnabled,
			       .contentSize = plain_len },
	};
	size_t bound = LZ4F_compressFrameBound(plain_len, &prefs);
	uint8_t *frame = malloc(bound);
	if (!frame) {
		free(plain);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	size_t frame_len = LZ4F_compressFrame(frame, bound, plain, plain_len, &prefs);
	free(plain);
	if (LZ4F_isError(frame_len)) {
		free(frame);
		return ember_fail(err, EIO, "snapshot: compressing the state: %s",
				  LZ4F_getErrorName(frame_len));
	}
	int rc = 0;
	if (pwrite_all(fd, frame, frame_len) < 0 || ftruncate(fd, (off_t)frame_len) < 0 || fsync(fd) < 0)
		rc = ember_fail(err, errno ? errno : EIO, "snapshot: writing the state: %s",
				strerror(errno ? errno : EIO));
	free(frame);
	return rc;
}

int snapshot_write_file(const struct snapshot_writer *w, const char *ember_version,
			const char *path, struct ember_err *err)
{
	struct atomic_file f;
	int rc = atomic_file_open(&f, path, err);
	if (rc)
		return rc;
	if ((rc = snapshot_write_fd(w, ember_version, f.fd, err))) {
		atomic_file_abort(&f);
		return rc;
	}
	return atomic_file_commit(&f, err);
}

/* ---- reading ------------------------------------------------------------------------ */

int snapshot_parse(struct snapshot_reader *r, uint8_t *data, size_t len, const char *ember_version,
		   struct ember_err *err)
{
	memset(r, 0, sizeof(*r));
	r->data = data;
	r->len = len;
	if (len < HEADER_LEN || memcmp(data, MAGIC, MAGIC_LEN))
		return ember_fail(err, EINVAL, "not an ember snapshot (no header)");
	uint32_t version = get_le32(data + MAGIC_LEN);
	if (version != SNAPSHOT_FORMAT_VERSION)
		return ember_fail(err, EINVAL, "snapshot format %u, this ember reads %u", version,
				  SNAPSHOT_FORMAT_VERSION);
	char made_by[VERSION_LEN + 1];
	memcpy(made_by, data + MAGIC_LEN + 8, VERSION_LEN);
	made_by[VERSION_LEN] = '\0';
	if (strncmp(made_by, ember_version, VERSION_LEN - 1))
		return ember_fail(err, EINVAL, "snapshot made by ember %.32s, this is ember %s", made_by,
				  ember_version);
	uint32_t count = get_le32(data + MAGIC_LEN + 4);
	if (count > SNAPSHOT_MAX_SECTIONS || count > (len - HEADER_LEN) / SECTION_HDR)
		return ember_fail(err, EINVAL, "snapshot claims %u sections", count);
	r->section = calloc(count ? count : 1, sizeof(*r->section));
	if (!r->section)
		return ember_fail(err, ENOMEM, "out of memory");
	size_t off = HEADER_LEN;
	for (uint32_t i = 0; i < count; i++) {
		if (len - off < SECTION_HDR)
			return ember_fail(err, EINVAL, "snapshot section %u: truncated header", i);
		struct snapshot_section *s = &r->section[i];
		s->tag = get_le32(data + off);
		s->index = get_le32(data + off + 4);
		s->len = get_le32(data + off + 8);
		off += SECTION_HDR;
		if (s->len > len - off)
			return ember_fail(err, EINVAL, "snapshot section %u: %u bytes past the end", i, s->len);
		s->data = data + off;
		off += s->len;
		r->count = i + 1;
	}
	if (off != len)
		return ember_fail(err, EINVAL, "snapshot: %zu stray bytes after the last section", len - off);
	return 0;
}

/* The whole file behind fd, at most `max` bytes. */
static int read_whole(int fd, const char *what, size_t max, uint8_t **out, size_t *out_len,
		      struct ember_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > max)
		return ember_fail(err, EINVAL, "snapshot %s: not a state file of a sane size", what);
	uint8_t *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	size_t got = 0;
	while (buf && got < (size_t)st.st_size) {
		ssize_t n = pread(fd, buf + got, (size_t)st.st_size - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (!buf || got != (size_t)st.st_size) {
		free(buf);
		return ember_fail(err, EIO, "snapshot %s: short read", what);
	}
	*out = buf;
	*out_len = got;
	return 0;
}

int snapshot_read_file(struct snapshot_reader *r, const char *path, const char *ember_version,
		       struct ember_err *err)
{
	/* O_NONBLOCK: a FIFO under that name must not hang the open; a regular file ignores it. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		memset(r, 0, sizeof(*r));
		return ember_fail(err, errno, "snapshot %s: %s", path, strerror(errno));
	}
	int rc = snapshot_read_fd(r, fd, path, ember_version, err);
	close(fd);
	return rc;
}

int snapshot_read_fd(struct snapshot_reader *r, int fd, const char *path,
		     const char *ember_version, struct ember_err *err)
{
	uint8_t *frame = NULL;
	size_t frame_len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = read_whole(fd, path, LZ4F_compressFrameBound(SNAPSHOT_MAX_STATE, NULL), &frame,
			     &frame_len, err)))
		return rc;

	LZ4F_dctx *dctx;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION))) {
		free(frame);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	LZ4F_frameInfo_t info;
	size_t src_len = frame_len, pos;
	size_t hint = LZ4F_getFrameInfo(dctx, &info, frame, &src_len);
	uint8_t *plain = NULL;
	if (LZ4F_isError(hint) || info.contentSize == 0 || info.contentSize > SNAPSHOT_MAX_STATE ||
	    info.contentChecksumFlag != LZ4F_contentChecksumEnabled) {
		rc = ember_fail(err, EINVAL, "snapshot %s: not a checksummed state frame", path);
		goto out;
	}
	plain = malloc((size_t)info.contentSize);
	if (!plain) {
		rc = ember_fail(err, ENOMEM, "out of memory");
		goto out;
	}
	size_t produced = 0;
	pos = src_len;
	/* A frame decoded to its end returns 0 after checking the content checksum. */
	for (;;) {
		size_t dst_len = (size_t)info.contentSize - produced, in_len = frame_len - pos;
		size_t ret = LZ4F_decompress(dctx, plain + produced, &dst_len, frame + pos, &in_len, NULL);
		if (LZ4F_isError(ret)) {
			rc = ember_fail(err, EINVAL, "snapshot %s: corrupt (%s)", path, LZ4F_getErrorName(ret));
			goto out;
		}
		produced += dst_len;
		pos += in_len;
		if (ret == 0)
			break;
		if (in_len == 0 && dst_len == 0) {
			/* Stuck: out of input, or (a header that undercounts) out of room. */
			rc = ember_fail(err, EINVAL, "snapshot %s: %s", path,
					produced == info.contentSize ? "size does not match its frame" : "truncated");
			goto out;
		}
	}
	if (produced != info.contentSize || pos != frame_len) {
		rc = ember_fail(err, EINVAL, "snapshot %s: size does not match its frame", path);
		goto out;
	}
	rc = snapshot_parse(r, plain, produced, ember_version, err);
	plain = NULL; /* the reader owns it now, even on failure */
	if (rc) {
		char why[sizeof(err->msg)];
		snprintf(why, sizeof(why), "%s", err->msg);
		ember_fail(err, EINVAL, "snapshot %s: %s", path, why);
	}
out:
	free(plain);
	free(frame);
	LZ4F_freeDecompressionContext(dctx);
	return rc;
}

const struct snapshot_section *snapshot_find(const struct snapshot_reader *r, uint32_t tag,
					     uint32_t index)
{
	for (uint32_t i = 0; i < r->count; i++)
		if (r->section[i].tag == tag && r->section[i].index == index)
			return &r->section[i];
	return NULL;
}

void snapshot_reader_free(struct snapshot_reader *r)
{
	free(r->data);
	free(r->section);
	memset(r, 0, sizeof(*r));
}
