// SPDX-License-Identifier: GPL-2.0-only
/* 9P wire encoding: see p9_proto.h.  Byte by byte, so host endianness never matters. */
#include "virtio/p9_proto.h"

#include <errno.h>
#include <string.h>

/* The next n bytes of the request, or NULL (and bad) when fewer are left. */
static const uint8_t *take(struct p9_in *in, size_t n)
{
	if (in->bad || n > in->len - in->pos) {
		in->bad = true;
		return NULL;
	}
	const uint8_t *p = in->buf + in->pos;
	in->pos += n;
	return p;
}

static uint64_t get_le(struct p9_in *in, unsigned bytes)
{
	const uint8_t *p = take(in, bytes);
	uint64_t v = 0;

	for (unsigned i = 0; p && i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t p9_get8(struct p9_in *in) { return (uint8_t)get_le(in, 1); }
uint16_t p9_get16(struct p9_in *in) { return (uint16_t)get_le(in, 2); }
uint32_t p9_get32(struct p9_in *in) { return (uint32_t)get_le(in, 4); }
uint64_t p9_get64(struct p9_in *in) { return get_le(in, 8); }

const uint8_t *p9_get_bytes(struct p9_in *in, size_t n)
{
	return take(in, n);
}

void p9_get_str(struct p9_in *in, const char **s, uint16_t *len)
{
	uint16_t n = p9_get16(in);
	const uint8_t *p = take(in, n);

	*s = p ? (const char *)p : "";
	*len = p ? n : 0;
}

int p9_get_name(struct p9_in *in, char name[P9_NAME_MAX + 1], bool allow_dots)
{
	const char *s;
	uint16_t len;

	name[0] = '\0';
	p9_get_str(in, &s, &len);
	if (in->bad || len == 0)
		return -EINVAL;
	if (len > P9_NAME_MAX)
		return -ENAMETOOLONG;
	/* One component: a '/' would make the host walk several, a NUL would cut the name short. */
	if (memchr(s, '/', len) || memchr(s, '\0', len))
		return -EINVAL;
	memcpy(name, s, len);
	name[len] = '\0';
	if (!allow_dots && (!strcmp(name, ".") || !strcmp(name, "..")))
		return -EINVAL;
	return 0;
}

/* ---- the writer ----------------------------------------------------------- */

uint8_t *p9_put_space(struct p9_out *out, size_t n)
{
	if (out->overflow || n > out->cap - out->pos) {
		out->overflow = true;
		return NULL;
	}
	uint8_t *p = out->buf + out->pos;
	out->pos += n;
	return p;
}

static void put_le(struct p9_out *out, uint64_t v, unsigned bytes)
{
	uint8_t *p = p9_put_space(out, bytes);

	for (unsigned i = 0; p && i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void p9_put8(struct p9_out *out, uint8_t v) { put_le(out, v, 1); }
void p9_put16(struct p9_out *out, uint16_t v) { put_le(out, v, 2); }
void p9_put32(struct p9_out *out, uint32_t v) { put_le(out, v, 4); }
void p9_put64(struct p9_out *out, uint64_t v) { put_le(out, v, 8); }

void p9_put_str(struct p9_out *out, const char *s, size_t len)
{
	if (len > UINT16_MAX) {
		out->overflow = true;
		return;
	}
	p9_put16(out, (uint16_t)len);
	uint8_t *p = p9_put_space(out, len);
	if (p && len)
		memcpy(p, s, len);
}

void p9_put_qid(struct p9_out *out, const struct p9_qid *qid)
{
	p9_put8(out, qid->type);
	p9_put32(out, qid->version);
	p9_put64(out, qid->path);
}

void p9_out_begin(struct p9_out *out, uint8_t *buf, size_t cap)
{
	out->buf = buf;
	out->cap = cap;
	out->pos = 0;
	out->overflow = false;
	p9_put_space(out, P9_HDR_SIZE);
}

size_t p9_out_finish(struct p9_out *out, uint8_t type, uint16_t tag)
{
	if (out->overflow)
		return 0;
	size_t size = out->pos;
	out->pos = 0;
	p9_put32(out, (uint32_t)size);
	p9_put8(out, type);
	p9_put16(out, tag);
	out->pos = size;
	return size;
}

size_t p9_put_rlerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode)
{
	struct p9_out out;

	p9_out_begin(&out, buf, cap);
	p9_put32(&out, ecode);
	return p9_out_finish(&out, P9_RLERROR, tag);
}
