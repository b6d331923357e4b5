/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A 9P2000.L file server for one host directory, with no transport: it
 * takes one request message and writes one reply message.  virtio/9p.c
 * carries the messages over a virtqueue; unit tests call it directly.
 *
 * Confinement (the point of the design): the server never builds a host
 * path.  Every fid holds an O_PATH descriptor of its object, obtained one
 * name at a time with openat2(parent, name, RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV), and every
 * later operation is relative to held descriptors.  A name is a single
 * component (no '/', never empty); symlinks are never followed by the
 * server (the guest resolves them itself, as 9P intends); ".." at the
 * share's root stays at the root.  So neither a symlink inside the share
 * nor the guest swapping a directory for a symlink between two requests
 * can reach anything outside the share.  (Where openat2 is missing, a
 * plain openat(O_NOFOLLOW) of the same single component stands in: see
 * p9_fs.c.)
 *
 * Not thread safe: the caller serialises requests (9p.c holds dev->lock).
 */
#ifndef EMBER_VIRTIO_P9_SERVER_H
#define EMBER_VIRTIO_P9_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define P9_DEFAULT_MAX_FIDS 16384 /* per connection: Twalk/Tattach past it get EMFILE */
#define P9_FID_BUCKETS      1024
#define P9_XATTR_BUDGET     (8u << 20) /* bytes of attribute values all xattr fids may hold */

/*
 * Whose files the guest sees (p9_own.c has the details).
 *   P9_OWN_HOST    the host's owners and modes: files the guest makes
 *                  belong to ember's user; setuid, setgid and sticky bits
 *                  are refused, chown is whatever the host allows ember.
 *   P9_OWN_MAPPED  the guest's owners, modes, file types and device
 *                  numbers live in user.virtfs.* extended attributes (as
 *                  QEMU's security_model=mapped-xattr); on the host every
 *                  object stays ember's, a regular file or a directory
 *                  with a plain mode.
 */
enum p9_own {
	P9_OWN_HOST,
	P9_OWN_MAPPED,
};

struct p9_fid;

struct p9_server {
	int root_fd;                 /* O_PATH | O_DIRECTORY: the shared directory */
	dev_t root_dev;
	ino_t root_ino;
	bool read_only;              /* every modifying request gets EROFS */
	enum p9_own own;
	size_t xattr_bytes;          /* held by xattr fids now, at most P9_XATTR_BUDGET */
	uint32_t msize;              /* negotiated by Tversion; 0 before */
	unsigned nr_fids;
	unsigned max_fids;
	struct p9_fid *fids[P9_FID_BUCKETS]; /* hash chains by fid number */
};

/*
 * Opens `root` (a host directory) for serving.  Returns 0 or -errno
 * (ENOTDIR, ENOENT, EACCES, ...; EOPNOTSUPP: P9_OWN_MAPPED on a file
 * system without user extended attributes); on failure nothing is left
 * open.
 */
int p9_server_init(struct p9_server *s, const char *root, bool read_only, enum p9_own own);

/*
 * Handles one request of `len` bytes (the whole message the driver
 * supplied) and writes the reply into rep[0..cap).  Returns the reply's
 * length, which is at most cap and at most the negotiated msize; a bad
 * request gets an Rlerror.  Returns 0 only when no reply is possible: the
 * 7-byte header is incomplete or cap cannot hold an Rlerror (11 bytes).
 */
size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *rep,
			size_t cap);

/* An Rlerror with `err` (an errno) for a request whose header is req[0..7). */
size_t p9_server_error(const uint8_t *req, int err, uint8_t *rep, size_t cap);

/* Transport reset: clunks every fid and forgets msize; the root stays open. */
void p9_server_reset(struct p9_server *s);
/* Everything closed; s may be freed. */
void p9_server_destroy(struct p9_server *s);

#endif
