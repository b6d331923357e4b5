/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * 9P2000.L on the wire: message numbers, constants and a bounds-checked
 * reader and writer.  Every field is little endian; a string is a 16-bit
 * length and that many bytes, not NUL terminated.  Names and layouts
 * follow Linux's include/net/9p/9p.h and net/9p/protocol.c (the client we
 * serve) and the diod 9P2000.L protocol description.
 *
 * The reader never trusts a length: a read past the end of the message
 * returns zeroes and marks the reader bad, so a handler parses every field
 * first and checks `bad` once before it acts.  The writer does the same
 * for the reply buffer (`overflow`).
 */
#ifndef EMBER_VIRTIO_P9_PROTO_H
#define EMBER_VIRTIO_P9_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Message types (include/net/9p/9p.h, enum p9_msg_t); R = T + 1. */
enum {
	P9_TLERROR = 6,      P9_RLERROR,
	P9_TSTATFS = 8,      P9_RSTATFS,
	P9_TLOPEN = 12,      P9_RLOPEN,
	P9_TLCREATE = 14,    P9_RLCREATE,
	P9_TSYMLINK = 16,    P9_RSYMLINK,
	P9_TMKNOD = 18,      P9_RMKNOD,
	P9_TRENAME = 20,     P9_RRENAME,
	P9_TREADLINK = 22,   P9_RREADLINK,
	P9_TGETATTR = 24,    P9_RGETATTR,
	P9_TSETATTR = 26,    P9_RSETATTR,
	P9_TXATTRWALK = 30,  P9_RXATTRWALK,
	P9_TXATTRCREATE = 32, P9_RXATTRCREATE,
	P9_TREADDIR = 40,    P9_RREADDIR,
	P9_TFSYNC = 50,      P9_RFSYNC,
	P9_TLOCK = 52,       P9_RLOCK,
	P9_TGETLOCK = 54,    P9_RGETLOCK,
	P9_TLINK = 70,       P9_RLINK,
	P9_TMKDIR = 72,      P9_RMKDIR,
	P9_TRENAMEAT = 74,   P9_RRENAMEAT,
	P9_TUNLINKAT = 76,   P9_RUNLINKAT,
	P9_TVERSION = 100,   P9_RVERSION,
	P9_TAUTH = 102,      P9_RAUTH,
	P9_TATTACH = 104,    P9_RATTACH,
	P9_TFLUSH = 108,     P9_RFLUSH,
	P9_TWALK = 110,      P9_RWALK,
	P9_TREAD = 116,      P9_RREAD,
	P9_TWRITE = 118,     P9_RWRITE,
	P9_TCLUNK = 120,     P9_RCLUNK,
	P9_TREMOVE = 122,    P9_RREMOVE,
};

#define P9_HDR_SIZE    7          /* size[4] type[1] tag[2] */
#define P9_IOHDR_SIZE  11         /* the header and count[4] of Rread / Rreaddir */
#define P9_RLERROR_SIZE 11        /* the header and ecode[4] */
#define P9_QID_SIZE    13
#define P9_NOTAG       0xffff
#define P9_NOFID       0xffffffffu
#define P9_NONUNAME    0xffffffffu /* Tattach n_uname: no uid given */
#define P9_MAXWELEM    16         /* names in one Twalk */
#define P9_MIN_MSIZE   4096       /* Linux refuses less (net/9p/client.c) */
#define P9_MAX_MSIZE   (512 * 1024)
#define P9_VERSION_L   "9P2000.L"

/* Qid types. */
#define P9_QTDIR     0x80
#define P9_QTSYMLINK 0x02
#define P9_QTFILE    0x00

/* Tlopen / Tlcreate flags (P9_DOTL_*: the x86 Linux open flags, spelled out). */
#define P9_DOTL_ACCMODE   03
#define P9_DOTL_RDONLY    00
#define P9_DOTL_WRONLY    01
#define P9_DOTL_RDWR      02
#define P9_DOTL_CREATE    0100
#define P9_DOTL_EXCL      0200
#define P9_DOTL_TRUNC     01000
#define P9_DOTL_APPEND    02000
#define P9_DOTL_DSYNC     010000
#define P9_DOTL_DIRECTORY 0200000
#define P9_DOTL_SYNC      04000000

/* Tunlinkat flags. */
#define P9_DOTL_AT_REMOVEDIR 0x200

/* Tgetattr request / Rgetattr valid mask. */
#define P9_GETATTR_BASIC 0x7ffULL   /* mode nlink uid gid rdev atime mtime ctime ino size blocks */

/* Tsetattr valid bits. */
#define P9_ATTR_MODE      (1u << 0)
#define P9_ATTR_UID       (1u << 1)
#define P9_ATTR_GID       (1u << 2)
#define P9_ATTR_SIZE      (1u << 3)
#define P9_ATTR_ATIME     (1u << 4)
#define P9_ATTR_MTIME     (1u << 5)
#define P9_ATTR_CTIME     (1u << 6)
#define P9_ATTR_ATIME_SET (1u << 7)
#define P9_ATTR_MTIME_SET (1u << 8)

/* Tlock / Tgetlock. */
#define P9_LOCK_SUCCESS   0
#define P9_LOCK_TYPE_UNLCK 2

struct p9_qid {
	uint8_t type;
	uint32_t version;
	uint64_t path;
};

/* Reading a request. */
struct p9_in {
	const uint8_t *buf;
	size_t len;
	size_t pos;
	bool bad;                 /* a field ran past the end */
};

uint8_t p9_get8(struct p9_in *in);
uint16_t p9_get16(struct p9_in *in);
uint32_t p9_get32(struct p9_in *in);
uint64_t p9_get64(struct p9_in *in);
/* A string in place (not NUL terminated); on overrun *len = 0, *s = "". */
void p9_get_str(struct p9_in *in, const char **s, uint16_t *len);
/* `n` raw bytes in place, or NULL (and bad) if the message is shorter. */
const uint8_t *p9_get_bytes(struct p9_in *in, size_t n);

/*
 * One path component, copied and NUL terminated into name[256]: returns 0,
 * -EINVAL if it is empty, holds '/' or a NUL byte, or is "." or ".."
 * (unless allow_dots), -ENAMETOOLONG past 255 bytes.  An overrun marks
 * the reader bad and returns -EINVAL.
 */
#define P9_NAME_MAX 255
int p9_get_name(struct p9_in *in, char name[P9_NAME_MAX + 1], bool allow_dots);

/* Writing a reply. */
struct p9_out {
	uint8_t *buf;
	size_t cap;
	size_t pos;
	bool overflow;            /* something did not fit: nothing past cap was written */
};

void p9_put8(struct p9_out *out, uint8_t v);
void p9_put16(struct p9_out *out, uint16_t v);
void p9_put32(struct p9_out *out, uint32_t v);
void p9_put64(struct p9_out *out, uint64_t v);
void p9_put_str(struct p9_out *out, const char *s, size_t len);
void p9_put_qid(struct p9_out *out, const struct p9_qid *qid);
/* Room for `n` bytes the caller fills in; NULL (and overflow) if they do not fit. */
uint8_t *p9_put_space(struct p9_out *out, size_t n);

/* Starts a reply (leaves room for the header); p9_out_finish() writes it. */
void p9_out_begin(struct p9_out *out, uint8_t *buf, size_t cap);
size_t p9_out_finish(struct p9_out *out, uint8_t type, uint16_t tag);
/* The whole Rlerror message, or 0 if cap < P9_RLERROR_SIZE. */
size_t p9_put_rlerror(uint8_t *buf, size_t cap, uint16_t tag, uint32_t ecode);

#endif
