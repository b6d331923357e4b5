// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm/channel_proto.c, the command channel's wire format, as both ends use
 * it: ember encodes, the guest's init decodes from a port that hands it
 * bytes in pieces of any size, then builds the request.  Everything the
 * guest decodes came from the host, but a broken or mismatched peer must
 * end in an error, never in a request that means something else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vm/channel_proto.h"

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

/* A decoded message, copied out of the reader (its payload is only valid until the next push). */
struct msg {
	uint32_t type, len;
	uint8_t *payload;
};

struct decoded {
	struct msg m[64];
	unsigned n;
};

static void decoded_free(struct decoded *d)
{
	for (unsigned i = 0; i < d->n; i++)
		free(d->m[i].payload);
	d->n = 0;
}

static void take(struct decoded *d, const struct channel_reader *r)
{
	assert_true(d->n < 64);
	/* The reader promises a NUL after the payload: string handling relies on it. */
	assert_int_equal(r->payload[r->len], 0);
	struct msg *m = &d->m[d->n++];
	m->type = r->type;
	m->len = r->len;
	m->payload = malloc((size_t)r->len + 1);
	assert_non_null(m->payload);
	memcpy(m->payload, r->payload, r->len);
}

/*
 * Feeds [data, data+len) in pieces of `piece` bytes (0: random sizes from a
 * fixed seed), as a port's read() would hand them over.  Fails the test on
 * a reader error.
 */
static void decode(const uint8_t *data, size_t len, size_t piece, struct decoded *d)
{
	struct channel_reader r = { 0 };
	uint32_t seed = 12345;
	size_t off = 0;

	while (off < len) {
		size_t n = piece;
		if (!n) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % 3000;
		}
		if (n > len - off)
			n = len - off;
		/* A piece may hold the end of one message and the start of the next. */
		size_t left = n;
		while (left) {
			size_t used = 0;
			int rc = channel_reader_push(&r, data + off, left, &used);
			if (rc < 0)
				fail_msg("reader: %s", r.error);
			assert_true(used <= left);
			off += used;
			left -= used;
			if (rc == 1)
				take(d, &r);
			else
				assert_int_equal(left, 0); /* 0: it wanted more than we had */
		}
	}
	assert_int_equal(r.hdr_have, 0); /* no message half-read at the end */
	channel_reader_free(&r);
}

/* A string of `len` varied bytes, none NUL: a long argument with every kind of content. */
static char *long_string(size_t len)
{
	char *s = malloc(len + 1);
	assert_non_null(s);
	for (size_t i = 0; i < len; i++)
		s[i] = (char)(1 + (i * 31 + i / 251) % 255);
	s[len] = '\0';
	return s;
}

/* ---- wire format --------------------------------------------------------------- */

static void header_is_little_endian_type_then_length(void **state)
{
	struct channel_buf b = { 0 };

	(void)state;
	assert_int_equal(channel_put_u32(&b, CHANNEL_EXIT, 0x01020304), 0);
	assert_int_equal(channel_put_time(&b, 0x1122334455667788ULL, 999999999u), 0);
	assert_int_equal(channel_put_winsize(&b, 0x0102, 0x0304), 0);
	assert_int_equal(channel_put_user(&b, 1000, 0xfffffffeu), 0);
	assert_int_equal(channel_put(&b, CHANNEL_START, NULL, 0), 0);
	static const uint8_t want[] = {
		CHANNEL_EXIT, 0, 0, 0, 4, 0, 0, 0, 0x04, 0x03, 0x02, 0x01,
		CHANNEL_TIME, 0, 0, 0, 12, 0, 0, 0, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,
		0xff, 0xc9, 0x9a, 0x3b, /* 999999999 */
		CHANNEL_WINSIZE, 0, 0, 0, 4, 0, 0, 0, 0x02, 0x01, 0x04, 0x03,
		CHANNEL_USER, 0, 0, 0, 8, 0, 0, 0, 0xe8, 0x03, 0, 0, 0xfe, 0xff, 0xff, 0xff,
		CHANNEL_START, 0, 0, 0, 0, 0, 0, 0,
	};
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.data, want, sizeof(want));
	channel_buf_free(&b);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
}

/* Every message type, strings with what a shell command line holds, through every piece size. */
static void round_trip_every_type_in_any_pieces(void **state)
{
	static const char *const strings[] = {
		"sh", "-c", "echo \"it's\"  two  spaces\nand a newline\ttab", "", "ünïcødé ✓ 日本語 🙂",
		"'single' \"double\" `back` $VAR \\", "\r\n\x1b[31m\x7f\xff",
	};
	const size_t big_len = CHANNEL_MAX_PAYLOAD - 1;
	char *big = long_string(big_len);
	struct channel_buf b = { 0 };
	struct {
		uint32_t type, len;
		const void *payload;
	} want[32];
	unsigned n = 0;

	(void)state;
#define PUT(call, t, p, l)                                      \
	do {                                                    \
		assert_int_equal(call, 0);                      \
		want[n].type = (t);                             \
		want[n].len = (uint32_t)(l);                    \
		want[n++].payload = (p);                        \
	} while (0)
	uint8_t v1[4] = { 1, 0, 0, 0 }, flags[4] = { 15, 0, 0, 0 }, sig[4] = { 15, 0, 0, 0 };
	uint8_t exit_st[4] = { 0xff, 0, 0, 0 };
	uint8_t close_out[4] = { 1, 0, 0, 0 };
	uint8_t user[8] = { 0xe8, 3, 0, 0, 0x64, 0, 0, 0 };
	uint8_t tm[12] = { 0x00, 0xe1, 0xf5, 0x05, 0x01, 0, 0, 0, 0x15, 0xcd, 0x5b, 0x07 };
	uint8_t ws[4] = { 24, 0, 80, 0 };
	PUT(channel_put_u32(&b, CHANNEL_HELLO, 1), CHANNEL_HELLO, v1, 4);
	for (unsigned i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		PUT(channel_put_str(&b, CHANNEL_ARG, strings[i]), CHANNEL_ARG, strings[i],
		    strlen(strings[i]));
	PUT(channel_put_str(&b, CHANNEL_ARG, big), CHANNEL_ARG, big, big_len);
	PUT(channel_put_str(&b, CHANNEL_ENV, "PS1=$ \"x\" "), CHANNEL_ENV, "PS1=$ \"x\" ",
	    strlen("PS1=$ \"x\" "));
	PUT(channel_put_str(&b, CHANNEL_WORKDIR, "/home/a b/ü"), CHANNEL_WORKDIR, "/home/a b/ü",
	    strlen("/home/a b/ü"));
	PUT(channel_put_user(&b, 1000, 100), CHANNEL_USER, user, 8);
	PUT(channel_put_str(&b, CHANNEL_MOUNT, "share:ro:/mnt/x"), CHANNEL_MOUNT, "share:ro:/mnt/x", 15);
	PUT(channel_put_str(&b, CHANNEL_ROOT, "9p:root"), CHANNEL_ROOT, "9p:root", 7);
	PUT(channel_put_u32(&b, CHANNEL_FLAGS, 15), CHANNEL_FLAGS, flags, 4);
	PUT(channel_put_time(&b, 0x105f5e100ULL, 123456789), CHANNEL_TIME, tm, 12);
	PUT(channel_put_winsize(&b, 24, 80), CHANNEL_WINSIZE, ws, 4);
	PUT(channel_put(&b, CHANNEL_START, NULL, 0), CHANNEL_START, "", 0);
	PUT(channel_put_u32(&b, CHANNEL_SIGNAL, 15), CHANNEL_SIGNAL, sig, 4);
	PUT(channel_put_u32(&b, CHANNEL_EXIT, 255), CHANNEL_EXIT, exit_st, 4);
	PUT(channel_put_u32(&b, CHANNEL_CLOSE_OUTPUT, 1), CHANNEL_CLOSE_OUTPUT, close_out, 4);
	static const uint8_t seed[CHANNEL_SEED_MIN] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	PUT(channel_put(&b, CHANNEL_SEED, seed, sizeof(seed)), CHANNEL_SEED, seed, sizeof(seed));
	/* A payload of exactly the maximum is still a message. */
	PUT(channel_put(&b, CHANNEL_ENV, big, CHANNEL_MAX_PAYLOAD - 1), CHANNEL_ENV, big, big_len);
#undef PUT

	/* Every type from HELLO to EXIT is in the stream. */
	for (uint32_t t = CHANNEL_HELLO; t < CHANNEL_TYPE_END; t++) {
		bool found = false;
		for (unsigned i = 0; i < n; i++)
			found |= want[i].type == t;
		if (!found)
			fail_msg("type %u not covered", t);
	}

	const size_t pieces[] = { 1, SIZE_MAX, 0, 7, CHANNEL_HDR_SIZE };
	for (unsigned p = 0; p < sizeof(pieces) / sizeof(pieces[0]); p++) {
		struct decoded d = { .n = 0 };
		decode(b.data, b.len, pieces[p], &d);
		assert_int_equal(d.n, n);
		for (unsigned i = 0; i < n; i++) {
			assert_int_equal(d.m[i].type, want[i].type);
			assert_int_equal(d.m[i].len, want[i].len);
			assert_memory_equal(d.m[i].payload, want[i].payload, want[i].len);
		}
		decoded_free(&d);
	}
	channel_buf_free(&b);
	free(big);
}

static void put_refuses_a_payload_over_the_max(void **state)
{
	char *big = long_string(CHANNEL_MAX_PAYLOAD + 1);
	struct channel_buf b = { 0 };

	(void)state;
	assert_int_equal(channel_put(&b, CHANNEL_ARG, big, CHANNEL_MAX_PAYLOAD + 1), -1);
	assert_int_equal(channel_put_str(&b, CHANNEL_ENV, big), -1);
	assert_int_equal(b.len, 0); /* nothing half-written */
	assert_int_equal(channel_put(&b, CHANNEL_ARG, big, CHANNEL_MAX_PAYLOAD), 0);
	assert_int_equal(b.len, CHANNEL_HDR_SIZE + CHANNEL_MAX_PAYLOAD);
	channel_buf_free(&b);
	free(big);
}

/* ---- reader errors --------------------------------------------------------------- */

/* Pushes `len` bytes one at a time; returns the first non-zero result and where it came. */
static int push_bytewise(struct channel_reader *r, const uint8_t *data, size_t len, size_t *at)
{
	for (size_t i = 0; i < len; i++) {
		size_t used = 0;
		int rc = channel_reader_push(r, data + i, 1, &used);
		assert_int_equal(used, 1);
		if (rc) {
			*at = i + 1;
			return rc;
		}
	}
	*at = len;
	return 0;
}

static void reader_refuses_unknown_types(void **state)
{
	const uint32_t bad[] = { 0, CHANNEL_TYPE_END, CHANNEL_TYPE_END + 1, 0xffffffffu };

	(void)state;
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct channel_buf b = { 0 };
		struct channel_reader r = { 0 };
		size_t at;
		assert_int_equal(channel_put(&b, bad[i], "abc", 3), 0);
		/* Refused on the header's last byte, before any payload is taken. */
		assert_int_equal(push_bytewise(&r, b.data, b.len, &at), -1);
		assert_int_equal(at, CHANNEL_HDR_SIZE);
		assert_contains(r.error, "unknown message type");
		channel_reader_free(&r);
		channel_buf_free(&b);
	}
}

static void reader_refuses_a_payload_over_the_max(void **state)
{
	const uint32_t lens[] = { CHANNEL_MAX_PAYLOAD + 1, 0xffffffffu };

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		uint8_t hdr[CHANNEL_HDR_SIZE] = { CHANNEL_ARG, 0, 0, 0, (uint8_t)lens[i],
						  (uint8_t)(lens[i] >> 8), (uint8_t)(lens[i] >> 16),
						  (uint8_t)(lens[i] >> 24) };
		struct channel_reader r = { 0 };
		size_t used = 99;
		/* In one piece: the header alone is consumed, no 4 GiB allocation is tried. */
		assert_int_equal(channel_reader_push(&r, hdr, sizeof(hdr), &used), -1);
		assert_int_equal(used, CHANNEL_HDR_SIZE);
		assert_contains(r.error, "at most");
		assert_null(r.payload);
		channel_reader_free(&r);
	}
}

/* ---- the request --------------------------------------------------------------- */

/* Decodes the whole buffer and applies each message; -1 (error set) at the first refusal. */
static int apply_all(struct channel_request *req, const struct channel_buf *b, char *error,
		     size_t error_size)
{
	struct channel_reader r = { 0 };
	size_t off = 0;
	int result = 0;

	while (off < b->len && result == 0) {
		size_t used;
		int rc = channel_reader_push(&r, b->data + off, b->len - off, &used);
		if (rc < 0)
			fail_msg("reader: %s", r.error);
		off += used;
		if (rc == 1)
			result = channel_request_apply(req, &r, error, error_size);
		else
			assert_int_equal(off, b->len);
	}
	channel_reader_free(&r);
	return result;
}

static void request_is_built_in_order(void **state)
{
	const size_t big_len = CHANNEL_MAX_PAYLOAD - 1;
	char *big = long_string(big_len);
	struct channel_buf b = { 0 };
	struct channel_request req;
	char error[128] = "";

	(void)state;
	channel_request_init(&req);
	assert_int_equal(channel_put_u32(&b, CHANNEL_FLAGS,
					 CHANNEL_FLAG_TTY | CHANNEL_FLAG_INTERACTIVE), 0);
	assert_int_equal(channel_put_time(&b, 0x123456789ULL, 999999999u), 0);
	assert_int_equal(channel_put_winsize(&b, 50, 132), 0);
	uint8_t seed[32];
	for (size_t i = 0; i < sizeof(seed); i++)
		seed[i] = (uint8_t)(0xa0 + i);
	assert_int_equal(channel_put(&b, CHANNEL_SEED, seed, sizeof(seed)), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ROOT, "ext4:/dev/vda"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_MOUNT, "share:ro:/mnt/a b"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_MOUNT, "w:rw:/data"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ENV, "A=1"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ENV, "PATH=/bin:/usr/bin=x"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ENV, "EMPTY="), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_WORKDIR, "/tmp/first"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_WORKDIR, "/tmp/a b"), 0); /* the last one counts */
	assert_int_equal(channel_put_user(&b, 1000, 0xfffffffeu), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "sh"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "-c"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "echo 'a  b' \"q\"\n日本"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, ""), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, big), 0);
	assert_int_equal(apply_all(&req, &b, error, sizeof(error)), 0);
	assert_false(req.started); /* no START yet: the request is not complete */
	channel_buf_free(&b);
	assert_int_equal(channel_put(&b, CHANNEL_START, NULL, 0), 0);
	assert_int_equal(apply_all(&req, &b, error, sizeof(error)), 0);
	channel_buf_free(&b);

	assert_true(req.started);
	assert_int_equal(req.flags, CHANNEL_FLAG_TTY | CHANNEL_FLAG_INTERACTIVE);
	assert_true(req.has_time);
	assert_int_equal(req.time_sec, 0x123456789ULL);
	assert_int_equal(req.time_nsec, 999999999u);
	assert_int_equal(req.rows, 50);
	assert_int_equal(req.cols, 132);
	assert_int_equal(req.seed_len, sizeof(seed));
	assert_memory_equal(req.seed, seed, sizeof(seed));
	assert_string_equal(req.root, "ext4:/dev/vda");
	assert_int_equal(req.nmounts, 2);
	assert_string_equal(req.mounts[0], "share:ro:/mnt/a b");
	assert_string_equal(req.mounts[1], "w:rw:/data");
	assert_null(req.mounts[2]);
	assert_int_equal(req.envc, 3);
	assert_string_equal(req.env[0], "A=1");
	assert_string_equal(req.env[1], "PATH=/bin:/usr/bin=x");
	assert_string_equal(req.env[2], "EMPTY=");
	assert_null(req.env[3]);
	assert_string_equal(req.workdir, "/tmp/a b");
	assert_true(req.has_user);
	assert_int_equal(req.uid, 1000);
	assert_int_equal(req.gid, 0xfffffffeu);
	assert_int_equal(req.argc, 5);
	assert_string_equal(req.argv[0], "sh");
	assert_string_equal(req.argv[1], "-c");
	assert_string_equal(req.argv[2], "echo 'a  b' \"q\"\n日本");
	assert_string_equal(req.argv[3], "");
	assert_int_equal(strlen(req.argv[4]), big_len);
	assert_memory_equal(req.argv[4], big, big_len);
	assert_null(req.argv[5]);

	/* While the command runs: only WINSIZE, SIGNAL and CLOSE_OUTPUT. */
	assert_int_equal(channel_put_winsize(&b, 60, 200), 0);
	assert_int_equal(channel_put_u32(&b, CHANNEL_SIGNAL, 2), 0);
	assert_int_equal(channel_put_u32(&b, CHANNEL_CLOSE_OUTPUT, 2), 0);
	assert_int_equal(apply_all(&req, &b, error, sizeof(error)), 0);
	assert_int_equal(req.rows, 60);
	assert_int_equal(req.cols, 200);
	channel_buf_free(&b);

	channel_request_free(&req);
	assert_null(req.argv);
	free(big);
}

/* A bare START: argv is an empty vector, never NULL (init execs argv[0] or reports). */
static void start_alone_gives_an_empty_argv(void **state)
{
	struct channel_buf b = { 0 };
	struct channel_request req;
	char error[128] = "";

	(void)state;
	channel_request_init(&req);
	assert_int_equal(channel_put(&b, CHANNEL_START, NULL, 0), 0);
	assert_int_equal(apply_all(&req, &b, error, sizeof(error)), 0);
	assert_true(req.started);
	assert_non_null(req.argv);
	assert_null(req.argv[0]);
	assert_int_equal(req.argc, 0);
	assert_null(req.env);
	assert_null(req.workdir);
	assert_null(req.root);
	assert_false(req.has_user);
	assert_false(req.has_time);
	assert_int_equal(req.rows, 0);
	channel_buf_free(&b);
	channel_request_free(&req);
}

/*
 * One malformed message, applied to a fresh request (after START when
 * `started`): refused, with `why` in the error.
 */
static void refused(uint32_t type, const void *payload, size_t len, bool started, const char *why)
{
	struct channel_buf b = { 0 };
	struct channel_request req;
	char error[128] = "";

	channel_request_init(&req);
	if (started) {
		assert_int_equal(channel_put(&b, CHANNEL_START, NULL, 0), 0);
		assert_int_equal(apply_all(&req, &b, error, sizeof(error)), 0);
		channel_buf_free(&b);
	}
	assert_int_equal(channel_put(&b, type, payload, len), 0);
	if (apply_all(&req, &b, error, sizeof(error)) != -1)
		fail_msg("type %u (%zu bytes) was accepted; expected: %s", type, len, why);
	assert_contains(error, why);
	channel_buf_free(&b);
	channel_request_free(&req);
}

#define REFUSED_STR(type, s, why) refused(type, s, strlen(s), false, why)
#define LATE_STR(type, s)         refused(type, s, strlen(s), true, "after START")

static void strings_with_a_nul_are_refused(void **state)
{
	const uint32_t types[] = { CHANNEL_ARG, CHANNEL_ENV, CHANNEL_WORKDIR, CHANNEL_MOUNT,
				   CHANNEL_ROOT };
	(void)state;
	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		refused(types[i], "a\0b", 3, false, "NUL");
		refused(types[i], "/x\0", 3, false, "NUL"); /* a trailing NUL too: it is not C's */
		refused(types[i], "", 1, false, "NUL");    /* the payload "\0" is not the empty string */
	}
}

static void bad_values_are_refused(void **state)
{
	(void)state;
	REFUSED_STR(CHANNEL_ENV, "NOEQUALS", "K=");
	REFUSED_STR(CHANNEL_ENV, "=value", "K=");
	REFUSED_STR(CHANNEL_ENV, "", "K=");
	REFUSED_STR(CHANNEL_WORKDIR, "relative/dir", "absolute");
	REFUSED_STR(CHANNEL_WORKDIR, "", "absolute");
	refused(CHANNEL_USER, "\0\0\0\0", 4, false, "USER of 4 bytes");
	refused(CHANNEL_USER, "\0\0\0\0\0\0\0\0\0", 9, false, "USER of 9 bytes");
	REFUSED_STR(CHANNEL_MOUNT, "tag:xx:/d", "mount");
	REFUSED_STR(CHANNEL_MOUNT, "tag:ro:rel", "mount");
	REFUSED_STR(CHANNEL_MOUNT, ":ro:/d", "mount");
	REFUSED_STR(CHANNEL_MOUNT, "tag:/d", "mount");
	REFUSED_STR(CHANNEL_ROOT, "ext4:vda", "root");
	REFUSED_STR(CHANNEL_ROOT, "btrfs:/dev/vda", "root");
	REFUSED_STR(CHANNEL_ROOT, "9p", "root");
	REFUSED_STR(CHANNEL_ROOT, "/dev/vda", "root");
	REFUSED_STR(CHANNEL_ROOT, "", "root");
	uint8_t flags[4] = { 16, 0, 0, 0 }, high[4] = { 0, 0, 0, 0x80 };
	refused(CHANNEL_FLAGS, flags, 4, false, "FLAGS");
	refused(CHANNEL_FLAGS, high, 4, false, "FLAGS");
	refused(CHANNEL_FLAGS, flags, 3, false, "FLAGS");
	/* nsec = 1 000 000 000 (0x3b9aca00): one past the last valid value. */
	uint8_t tm[12] = { 1, 0, 0, 0, 0, 0, 0, 0, 0x00, 0xca, 0x9a, 0x3b };
	refused(CHANNEL_TIME, tm, 12, false, "nanoseconds");
	refused(CHANNEL_TIME, tm, 8, false, "TIME of 8 bytes");
	refused(CHANNEL_WINSIZE, tm, 5, false, "WINSIZE");
	refused(CHANNEL_START, "x", 1, false, "START with a payload");
	uint8_t seed[CHANNEL_SEED_MAX + 1] = { 0 };
	refused(CHANNEL_SEED, seed, CHANNEL_SEED_MIN - 1, false, "SEED of 15 bytes");
	refused(CHANNEL_SEED, seed, CHANNEL_SEED_MAX + 1, false, "SEED of 257 bytes");
	refused(CHANNEL_SEED, seed, CHANNEL_SEED_MIN, true, "after START");
}

static void only_signal_and_winsize_after_start(void **state)
{
	uint8_t four[4] = { 1, 0, 0, 0 }, eight[8] = { 0 }, twelve[12] = { 0 };

	(void)state;
	LATE_STR(CHANNEL_ARG, "late");
	LATE_STR(CHANNEL_ENV, "A=1");
	LATE_STR(CHANNEL_WORKDIR, "/");
	refused(CHANNEL_USER, eight, 8, true, "after START");
	LATE_STR(CHANNEL_MOUNT, "t:ro:/d");
	LATE_STR(CHANNEL_ROOT, "9p:r");
	refused(CHANNEL_FLAGS, four, 4, true, "after START");
	refused(CHANNEL_TIME, twelve, 12, true, "after START");
	refused(CHANNEL_START, NULL, 0, true, "after START");
	refused(CHANNEL_HELLO, four, 4, true, "after START");
	refused(CHANNEL_EXIT, four, 4, true, "after START");
}

static void signal_before_start_and_guest_types_are_refused(void **state)
{
	uint8_t sig[4] = { 15, 0, 0, 0 };

	(void)state;
	refused(CHANNEL_SIGNAL, sig, 4, false, "SIGNAL before START");
	refused(CHANNEL_CLOSE_OUTPUT, sig, 4, false, "CLOSE_OUTPUT before START");
	uint8_t bad_stream[4] = { 3, 0, 0, 0 };
	refused(CHANNEL_CLOSE_OUTPUT, bad_stream, 4, true, "bad CLOSE_OUTPUT");
	/* HELLO and EXIT go from init to ember, never the other way. */
	refused(CHANNEL_HELLO, sig, 4, false, "not for the guest");
	refused(CHANNEL_EXIT, sig, 4, false, "not for the guest");
}

/* ---- MOUNT values ----------------------------------------------------------------- */

static void mount_split(void **state)
{
	const char *tag, *dir;
	bool ro;
	char v1[] = "share:ro:/mnt/x", v2[] = "t:rw:/a:b";

	(void)state;
	assert_int_equal(channel_mount_split(v1, &tag, &ro, &dir), 0);
	assert_string_equal(tag, "share");
	assert_true(ro);
	assert_string_equal(dir, "/mnt/x");
	/* Only the first two colons split: a directory may hold more. */
	assert_int_equal(channel_mount_split(v2, &tag, &ro, &dir), 0);
	assert_string_equal(tag, "t");
	assert_false(ro);
	assert_string_equal(dir, "/a:b");

	static const char *const bad[] = {
		"tag:xx:/d", "tag:ro:rel", ":ro:/d", "tag:ro", "tag", "", "tag::/d", "tag:RO:/d",
		"tag:ro:", "tag:rwx:/d",
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char copy[32];
		snprintf(copy, sizeof(copy), "%s", bad[i]);
		if (channel_mount_split(copy, &tag, &ro, &dir) != -1)
			fail_msg("\"%s\" was split", bad[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(header_is_little_endian_type_then_length),
		cmocka_unit_test(round_trip_every_type_in_any_pieces),
		cmocka_unit_test(put_refuses_a_payload_over_the_max),
		cmocka_unit_test(reader_refuses_unknown_types),
		cmocka_unit_test(reader_refuses_a_payload_over_the_max),
		cmocka_unit_test(request_is_built_in_order),
		cmocka_unit_test(start_alone_gives_an_empty_argv),
		cmocka_unit_test(strings_with_a_nul_are_refused),
		cmocka_unit_test(bad_values_are_refused),
		cmocka_unit_test(only_signal_and_winsize_after_start),
		cmocka_unit_test(signal_before_start_and_guest_types_are_refused),
		cmocka_unit_test(mount_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
