/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The command channel's wire format: what ember and its guest init
 * (rootfs/init.c) say to each other on the virtio-console port named
 * CHANNEL_PORT_CONTROL.  Compiled into both; no dependency on anything
 * else in ember, so the guest side stays a small static program.
 *
 * A message is an 8-byte header, two little-endian u32 (type, payload
 * length), then the payload.  Strings are the payload's bytes, without a
 * NUL (an argv or environment string cannot hold one, so a NUL inside is
 * an error).
 *
 *   ember -> init, before the command runs (the request):
 *     ARG s, ENV "K=V", WORKDIR s, USER u32 uid u32 gid, MOUNT "TAG:ro|rw:DIR",
 *     ROOT "9p:TAG"|"ext4:/dev/vdX", FLAGS u32, TIME u64 sec u32 nsec (host
 *     CLOCK_REALTIME), WINSIZE u16 rows u16 cols, then START (empty);
 *   ember -> init, while it runs: SIGNAL u32 signo, WINSIZE, CLOSE_OUTPUT u32
 *     (1 stdout, 2 stderr: ember's reader is gone; the command gets SIGPIPE
 *     as it would in a shell pipeline);
 *   init -> ember: HELLO u32 version (first thing on the channel), EXIT u32
 *     status (the command's status, 128+N for signal N, or 12x from init).
 *
 * The request is as long as the user's command: no kernel command-line limit.
 */
#ifndef EMBER_VM_CHANNEL_PROTO_H
#define EMBER_VM_CHANNEL_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CHANNEL_VERSION 1

/* virtio-console port names (/sys/class/virtio-ports/vportNpM/name in the guest). */
#define CHANNEL_PORT_CONTROL "org.ember.control"
#define CHANNEL_PORT_STDIN   "org.ember.stdin"
#define CHANNEL_PORT_STDOUT  "org.ember.stdout"
#define CHANNEL_PORT_STDERR  "org.ember.stderr"

/* Kernel command-line word that tells ember's init to use the channel. */
#define CHANNEL_CMDLINE_WORD "ember.channel=1"

enum channel_type {
	CHANNEL_HELLO = 1,
	CHANNEL_ARG,
	CHANNEL_ENV,
	CHANNEL_WORKDIR,
	CHANNEL_USER,
	CHANNEL_MOUNT,
	CHANNEL_ROOT,
	CHANNEL_FLAGS,
	CHANNEL_TIME,
	CHANNEL_WINSIZE,
	CHANNEL_START,
	CHANNEL_SIGNAL,
	CHANNEL_EXIT,
	CHANNEL_CLOSE_OUTPUT,
	CHANNEL_SEED,            /* host random bytes: init mixes them in and reseeds the kernel's RNG */
	CHANNEL_TYPE_END,
};

/* CHANNEL_FLAGS bits. */
#define CHANNEL_FLAG_STDIO_PORTS 1u /* stdin/stdout/stderr are the three named ports */
#define CHANNEL_FLAG_TTY         2u /* -t: the command gets a pseudo-terminal */
#define CHANNEL_FLAG_INTERACTIVE 4u /* -i: the command's stdin is ember's */
#define CHANNEL_FLAG_HOST_TTY    8u /* console modes: ember's stdin is a terminal (keep it cooked) */
#define CHANNEL_FLAGS_KNOWN      15u

/* SEED sizes: at least a 128-bit key's worth, at most what one RNDADDENTROPY takes here. */
#define CHANNEL_SEED_MIN 16u
#define CHANNEL_SEED_MAX 256u

#define CHANNEL_HDR_SIZE 8
/* Linux takes at most 128 KiB per argv or environment string (MAX_ARG_STRLEN). */
#define CHANNEL_MAX_PAYLOAD (128u << 10)

/* ---- encoding ------------------------------------------------------------------- */

/* A growing byte buffer of encoded messages. */
struct channel_buf {
	uint8_t *data;
	size_t len, cap;
};

/* Appends one message; -1 when out of memory or the payload is too long. */
int channel_put(struct channel_buf *b, uint32_t type, const void *payload, size_t len);
int channel_put_u32(struct channel_buf *b, uint32_t type, uint32_t value);
int channel_put_str(struct channel_buf *b, uint32_t type, const char *s);
int channel_put_user(struct channel_buf *b, uint32_t uid, uint32_t gid);
int channel_put_time(struct channel_buf *b, uint64_t sec, uint32_t nsec);
int channel_put_winsize(struct channel_buf *b, uint16_t rows, uint16_t cols);
void channel_buf_free(struct channel_buf *b);

/* ---- decoding ------------------------------------------------------------------- */

/* Reassembles messages from a byte stream delivered in pieces of any size. */
struct channel_reader {
	uint8_t hdr[CHANNEL_HDR_SIZE];
	size_t hdr_have;
	uint32_t type, len;      /* of the message being read */
	uint8_t *payload;        /* len bytes (+1 for a NUL the reader adds) */
	size_t have;
	char error[96];
};

/*
 * Takes bytes from [data, data+len): sets *used to how many it consumed.
 * Returns 1 when a whole message is ready (r->type, r->payload, r->len;
 * valid until the next call), 0 when it needs more bytes, -1 on a
 * malformed header (unknown type, payload too long) or out of memory,
 * with r->error set.  Call again with the rest after a 1.
 */
int channel_reader_push(struct channel_reader *r, const uint8_t *data, size_t len, size_t *used);
void channel_reader_free(struct channel_reader *r);

/* Payload readers: -1 when the payload has the wrong size. */
int channel_get_u32(const struct channel_reader *r, uint32_t *value);
int channel_get_winsize(const struct channel_reader *r, uint16_t *rows, uint16_t *cols);

/* The request, as init builds it from the messages before START. */
struct channel_request {
	char **argv;             /* NULL-terminated, never NULL itself */
	size_t argc;
	char **env;              /* "K=V", NULL-terminated */
	size_t envc;
	char *workdir;           /* absolute, or NULL */
	bool has_user;
	uint32_t uid, gid;
	char **mounts;           /* "TAG:MODE:DIR", NULL-terminated */
	size_t nmounts;
	char *root;              /* "9p:TAG" or "ext4:/dev/vdX", or NULL */
	uint32_t flags;
	bool has_time;
	uint64_t time_sec;
	uint32_t time_nsec;
	uint16_t rows, cols;     /* 0 when unknown */
	uint8_t seed[CHANNEL_SEED_MAX];
	uint32_t seed_len;       /* 0: no SEED came */
	bool started;            /* START arrived: the request is complete */
};

void channel_request_init(struct channel_request *req);
/*
 * Applies one host->guest message to the request.  Returns 0, or -1 with
 * `error` set when the message is malformed or has no place in a request
 * (a guest->host type, a value after START...).
 */
int channel_request_apply(struct channel_request *req, const struct channel_reader *r, char *error,
			  size_t error_size);
void channel_request_free(struct channel_request *req);

/* Splits a MOUNT value in place into tag, read-only flag and directory. */
int channel_mount_split(char *value, const char **tag, bool *read_only, const char **dir);

#endif
