// SPDX-License-Identifier: GPL-2.0-only
#include "vm/channel_proto.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int reserve(struct channel_buf *b, size_t more)
{
	if (b->cap - b->len >= more)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap - b->len < more)
		cap *= 2;
	uint8_t *d = realloc(b->data, cap);
	if (!d)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

int channel_put(struct channel_buf *b, uint32_t type, const void *payload, size_t len)
{
	if (len > CHANNEL_MAX_PAYLOAD || reserve(b, CHANNEL_HDR_SIZE + len))
		return -1;
	put_le32(b->data + b->len, type);
	put_le32(b->data + b->len + 4, (uint32_t)len);
	if (len)
		memcpy(b->data + b->len + CHANNEL_HDR_SIZE, payload, len);
	b->len += CHANNEL_HDR_SIZE + len;
	return 0;
}

int channel_put_u32(struct channel_buf *b, uint32_t type, uint32_t value)
{
	uint8_t p[4];
	put_le32(p, value);
	return channel_put(b, type, p, sizeof(p));
}

int channel_put_str(struct channel_buf *b, uint32_t type, const char *s)
{
	return channel_put(b, type, s, strlen(s));
}

int channel_put_user(struct channel_buf *b, uint32_t uid, uint32_t gid)
{
	uint8_t p[8];
	put_le32(p, uid);
	put_le32(p + 4, gid);
	return channel_put(b, CHANNEL_USER, p, sizeof(p));
}

int channel_put_time(struct channel_buf *b, uint64_t sec, uint32_t nsec)
{
	uint8_t p[12];
	put_le32(p, (uint32_t)sec);
	put_le32(p + 4, (uint32_t)(sec >> 32));
	put_le32(p + 8, nsec);
	return channel_put(b, CHANNEL_TIME, p, sizeof(p));
}

int channel_put_winsize(struct channel_buf *b, uint16_t rows, uint16_t cols)
{
	uint8_t p[4] = { (uint8_t)rows, (uint8_t)(rows >> 8), (uint8_t)cols, (uint8_t)(cols >> 8) };
	return channel_put(b, CHANNEL_WINSIZE, p, sizeof(p));
}

void channel_buf_free(struct channel_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* ---- decoding ------------------------------------------------------------------- */

int channel_reader_push(struct channel_reader *r, const uint8_t *data, size_t len, size_t *used)
{
	size_t n = 0;

	if (r->hdr_have < CHANNEL_HDR_SIZE) {
		size_t take = CHANNEL_HDR_SIZE - r->hdr_have;
		if (take > len)
			take = len;
		memcpy(r->hdr + r->hdr_have, data, take);
		r->hdr_have += take;
		n += take;
		if (r->hdr_have < CHANNEL_HDR_SIZE) {
			*used = n;
			return 0;
		}
		r->type = get_le32(r->hdr);
		r->len = get_le32(r->hdr + 4);
		if (r->type == 0 || r->type >= CHANNEL_TYPE_END) {
			snprintf(r->error, sizeof(r->error), "unknown message type %u", r->type);
			*used = n;
			return -1;
		}
		if (r->len > CHANNEL_MAX_PAYLOAD) {
			snprintf(r->error, sizeof(r->error), "message of %u bytes (at most %u)", r->len,
				 CHANNEL_MAX_PAYLOAD);
			*used = n;
			return -1;
		}
		free(r->payload);
		r->payload = malloc((size_t)r->len + 1);
		if (!r->payload) {
			snprintf(r->error, sizeof(r->error), "out of memory");
			*used = n;
			return -1;
		}
		r->have = 0;
	}
	size_t take = r->len - r->have;
	if (take > len - n)
		take = len - n;
	memcpy(r->payload + r->have, data + n, take);
	r->have += take;
	n += take;
	*used = n;
	if (r->have < r->len)
		return 0;
	r->payload[r->len] = '\0';
	r->hdr_have = 0; /* the next call starts a new message */
	return 1;
}

void channel_reader_free(struct channel_reader *r)
{
	free(r->payload);
	memset(r, 0, sizeof(*r));
}

int channel_get_u32(const struct channel_reader *r, uint32_t *value)
{
	if (r->len != 4)
		return -1;
	*value = get_le32(r->payload);
	return 0;
}

int channel_get_winsize(const struct channel_reader *r, uint16_t *rows, uint16_t *cols)
{
	if (r->len != 4)
		return -1;
	*rows = (uint16_t)(r->payload[0] | r->payload[1] << 8);
	*cols = (uint16_t)(r->payload[2] | r->payload[3] << 8);
	return 0;
}

/* ---- the request ---------------------------------------------------------------- */

void channel_request_init(struct channel_request *req)
{
	memset(req, 0, sizeof(*req));
}

/* Appends a copy of the payload to a NULL-terminated vector. */
static int push_copy(char ***vec, size_t *n, const struct channel_reader *r)
{
	char **v = realloc(*vec, (*n + 2) * sizeof(**vec));
	if (!v)
		return -1;
	*vec = v;
	v[*n] = malloc((size_t)r->len + 1);
	if (!v[*n])
		return -1;
	memcpy(v[*n], r->payload, (size_t)r->len + 1);
	v[++*n] = NULL;
	return 0;
}

static int set_copy(char **dst, const struct channel_reader *r)
{
	char *s = strdup((const char *)r->payload);
	if (!s)
		return -1;
	free(*dst);
	*dst = s;
	return 0;
}

static bool valid_mount(const struct channel_reader *r)
{
	char *copy = strdup((const char *)r->payload);
	const char *tag, *dir;
	bool ro;
	bool ok = copy && channel_mount_split(copy, &tag, &ro, &dir) == 0;
	free(copy);
	return ok;
}

#define FAIL(...) (snprintf(error, error_size, __VA_ARGS__), -1)

int channel_request_apply(struct channel_request *req, const struct channel_reader *r, char *error,
			  size_t error_size)
{
	const char *s = (const char *)r->payload;
	bool is_string = r->type == CHANNEL_ARG || r->type == CHANNEL_ENV ||
			 r->type == CHANNEL_WORKDIR || r->type == CHANNEL_MOUNT ||
			 r->type == CHANNEL_ROOT;

	if (req->started && r->type != CHANNEL_SIGNAL && r->type != CHANNEL_WINSIZE &&
	    r->type != CHANNEL_CLOSE_OUTPUT)
		return FAIL("message type %u after START", r->type);
	if (is_string && memchr(s, '\0', r->len))
		return FAIL("message type %u: a NUL inside a string", r->type);
	switch (r->type) {
	case CHANNEL_ARG:
		return push_copy(&req->argv, &req->argc, r) ? FAIL("out of memory") : 0;
	case CHANNEL_ENV: {
		const char *eq = memchr(s, '=', r->len);
		if (!eq || eq == s)
			return FAIL("environment entry without K=");
		return push_copy(&req->env, &req->envc, r) ? FAIL("out of memory") : 0;
	}
	case CHANNEL_WORKDIR:
		if (s[0] != '/')
			return FAIL("working directory is not absolute");
		return set_copy(&req->workdir, r) ? FAIL("out of memory") : 0;
	case CHANNEL_USER:
		if (r->len != 8)
			return FAIL("USER of %u bytes", r->len);
		req->has_user = true;
		req->uid = (uint32_t)r->payload[0] | (uint32_t)r->payload[1] << 8 |
			   (uint32_t)r->payload[2] << 16 | (uint32_t)r->payload[3] << 24;
		req->gid = (uint32_t)r->payload[4] | (uint32_t)r->payload[5] << 8 |
			   (uint32_t)r->payload[6] << 16 | (uint32_t)r->payload[7] << 24;
		return 0;
	case CHANNEL_MOUNT:
		if (!valid_mount(r))
			return FAIL("mount is not TAG:ro|rw:/DIR");
		return push_copy(&req->mounts, &req->nmounts, r) ? FAIL("out of memory") : 0;
	case CHANNEL_ROOT:
		if (strncmp(s, "9p:", 3) && strncmp(s, "ext4:/dev/", 10))
			return FAIL("root is not 9p:TAG or ext4:/dev/NAME");
		return set_copy(&req->root, r) ? FAIL("out of memory") : 0;
	case CHANNEL_FLAGS:
		if (channel_get_u32(r, &req->flags) || (req->flags & ~CHANNEL_FLAGS_KNOWN))
			return FAIL("bad FLAGS");
		return 0;
	case CHANNEL_TIME:
		if (r->len != 12)
			return FAIL("TIME of %u bytes", r->len);
		req->has_time = true;
		req->time_sec = 0;
		for (int i = 7; i >= 0; i--)
			req->time_sec = req->time_sec << 8 | r->payload[i];
		req->time_nsec = (uint32_t)r->payload[8] | (uint32_t)r->payload[9] << 8 |
				 (uint32_t)r->payload[10] << 16 | (uint32_t)r->payload[11] << 24;
		if (req->time_nsec >= 1000000000u)
			return FAIL("TIME nanoseconds out of range");
		return 0;
	case CHANNEL_WINSIZE:
		return channel_get_winsize(r, &req->rows, &req->cols) ? FAIL("bad WINSIZE") : 0;
	case CHANNEL_SEED:
		if (r->len < CHANNEL_SEED_MIN || r->len > CHANNEL_SEED_MAX)
			return FAIL("SEED of %u bytes", r->len);
		memcpy(req->seed, r->payload, r->len);
		req->seed_len = r->len;
		return 0;
	case CHANNEL_START:
		if (r->len)
			return FAIL("START with a payload");
		if (!req->argv) { /* no ARG: an empty, NULL-terminated argv */
			req->argv = calloc(1, sizeof(*req->argv));
			if (!req->argv)
				return FAIL("out of memory");
		}
		req->started = true;
		return 0;
	case CHANNEL_SIGNAL:
		if (!req->started)
			return FAIL("SIGNAL before START");
		return 0; /* the caller delivers it */
	case CHANNEL_CLOSE_OUTPUT: {
		uint32_t which;
		if (!req->started)
			return FAIL("CLOSE_OUTPUT before START");
		if (channel_get_u32(r, &which) || (which != 1 && which != 2))
			return FAIL("bad CLOSE_OUTPUT");
		return 0; /* the caller closes it */
	}
	default:
		return FAIL("message type %u is not for the guest", r->type);
	}
}

static void free_vec(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void channel_request_free(struct channel_request *req)
{
	free_vec(req->argv);
	free_vec(req->env);
	free_vec(req->mounts);
	free(req->workdir);
	free(req->root);
	memset(req, 0, sizeof(*req));
}

int channel_mount_split(char *value, const char **tag, bool *read_only, const char **dir)
{
	char *c1 = strchr(value, ':');
	char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == value || c2[1] != '/')
		return -1;
	*c1 = *c2 = '\0';
	if (strcmp(c1 + 1, "ro") && strcmp(c1 + 1, "rw"))
		return -1;
	*tag = value;
	*read_only = !strcmp(c1 + 1, "ro");
	*dir = c2 + 1;
	return 0;
}
