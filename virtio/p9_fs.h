/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Inside the 9P server (not for other users): the fid table and the only
 * functions that touch host paths.  p9_server.c and p9_modify.c build the
 * 9P messages on top of these.
 */
#ifndef EMBER_VIRTIO_P9_FS_H
#define EMBER_VIRTIO_P9_FS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "virtio/p9_proto.h"
#include "virtio/p9_server.h"

/*
 * What a fid stands for.  `fd` pins the object itself; `dirfd` + `name`
 * say where it was found, because reopening a non-directory for I/O,
 * Tremove, Trename and Tlink need its name in its directory (an O_PATH
 * descriptor cannot be upgraded without /proc).  The root and the result
 * of walking ".." have no name (dirfd -1, name NULL).
 *
 * `mode` is the host's file type; `gtype` the one the guest sees.  They
 * differ only in a mapped share (p9_own.c), where a host regular file may
 * stand for a symlink, a device node, a fifo or a socket.
 */
struct p9_xattr;

struct p9_fid {
	uint32_t id;
	struct p9_fid *next;         /* hash chain */
	struct p9_xattr *xattr;      /* an xattr fid (Txattrwalk, Txattrcreate): no other use */
	uint32_t uid;                /* Tattach's n_uname, handed on by Twalk: who creates */
	int fd;                      /* O_PATH of the object (after Tlcreate: a dup of iofd) */
	int dirfd;                   /* O_PATH of the directory holding name, or -1 */
	char *name;
	int iofd;                    /* open for I/O (Tlopen, Tlcreate), or -1 */
	int ioflags;                 /* host open flags of iofd */
	mode_t mode;                 /* st_mode when found: the type bits never change */
	mode_t gtype;                /* the type the guest sees (S_IFMT bits) */
	dev_t dev, pdev;             /* identity of the object and of dirfd */
	ino_t ino, pino;
};

/* ---- the fid table ---- */
struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id);
/* A fid with a host object (not an xattr fid) in *f: 0, -EBADF (no such fid) or -EINVAL. */
int p9_object_fid(struct p9_server *s, uint32_t id, struct p9_fid **f);
/* A fresh, empty fid (fds -1): -EEXIST if id is in use, -EMFILE past max_fids, -ENOMEM. */
int p9_fid_new(struct p9_server *s, uint32_t id, struct p9_fid **out);
/* Closes everything a fid holds; it stays in the table, empty. */
void p9_fid_empty(struct p9_server *s, struct p9_fid *f);
/* Closes and forgets one fid / every fid. */
void p9_fid_clunk(struct p9_server *s, struct p9_fid *f);
void p9_fid_clunk_all(struct p9_server *s);

/*
 * The object part of a fid (fd, dirfd, name, identity; not iofd) on its
 * own, for walks that may fail half way: p9_node_release() closes it,
 * p9_node_move() hands it to a fid (which must be empty).
 */
struct p9_node {
	int fd, dirfd;
	char *name;
	mode_t mode, gtype;
	dev_t dev, pdev;
	ino_t ino, pino;
};

void p9_node_init(struct p9_node *n);
void p9_node_release(struct p9_node *n);
void p9_node_of_fid(const struct p9_fid *f, struct p9_node *borrowed);
int p9_node_dup(const struct p9_node *from, struct p9_node *to);
void p9_node_move(struct p9_node *n, struct p9_fid *f);
/* The root of the share as a node (a fresh dup of root_fd). */
int p9_node_root(struct p9_server *s, struct p9_node *n);

/*
 * One walk step from directory `from`: a name in it, "." (itself) or ".."
 * (its parent; the root's parent is the root).  Never follows a symlink:
 * walking to a symlink gives the link itself.
 */
int p9_walk_one(struct p9_server *s, const struct p9_node *from, const char *name,
		struct p9_node *to);

/*
 * openat2(dirfd, name) with the server's resolve rules (beneath dirfd, no
 * symlinks, no magic links, no mount crossing) and O_NOFOLLOW | O_CLOEXEC
 * | O_NOCTTY added.  Returns the fd or -errno.
 */
int p9_openat(int dirfd, const char *name, int flags, mode_t mode);

/*
 * A new descriptor open on a node that is a host directory (through "."
 * on its own fd) or a host regular file (by name in its directory,
 * checked to be the same inode, else -ESTALE); anything else -EPERM.
 * O_NONBLOCK is always added, so no open can block the server.
 */
int p9_open_node(const struct p9_node *n, int flags);

/*
 * p9_open_node() for I/O on the fid's object, which must be a regular
 * file or a directory to the guest too (device nodes, fifos and sockets:
 * -EPERM; a symlink: -ELOOP).
 */
int p9_reopen(struct p9_fid *f, int flags);

/* chmod to exactly `mode` (no umask) on an O_PATH fd; fallback opens it (see p9_fs.c). */
int p9_set_mode(int fd, int dirfd, const char *name, mode_t mode);

/* The fid's name in its directory still names the fid's object (-ESTALE, -EBUSY for the root). */
int p9_check_name(const struct p9_fid *f);

/* After a rename in the share: fids that had (olddir, oldname) now live at (newdir, newname). */
void p9_fids_renamed(struct p9_server *s, dev_t odev, ino_t oino, const char *oldname,
		     int newdirfd, dev_t ndev, ino_t nino, const char *newname);

int p9_stat_fd(int fd, struct stat *st);
struct p9_qid p9_qid_of(const struct stat *st);
struct p9_qid p9_qid_of_mode(mode_t mode, ino_t ino);

/* Host open flags for Tlopen/Tlcreate flags: only access mode, trunc, append and sync survive. */
int p9_host_open_flags(uint32_t dotl_flags);
bool p9_flags_write(uint32_t dotl_flags);

/* ---- the mapped ownership model (p9_own.c) ---- */

/* QEMU's names and encodings (hw/9pfs/9p-local.c), so trees made by either serve in both. */
#define P9_XATTR_PREFIX "user.virtfs."      /* every name of ours: hidden from the guest */
#define P9_XATTR_UID    "user.virtfs.uid"   /* le32 */
#define P9_XATTR_GID    "user.virtfs.gid"   /* le32 */
#define P9_XATTR_MODE   "user.virtfs.mode"  /* le32: st_mode, file type included */
#define P9_XATTR_RDEV   "user.virtfs.rdev"  /* le64: a dev_t as glibc's makedev() makes it */

enum { P9_OWNER_UID = 1, P9_OWNER_GID = 2, P9_OWNER_MODE = 4, P9_OWNER_RDEV = 8 };

/* What the attributes say of one object; `has` tells which are there (P9_OWNER_*). */
struct p9_owner {
	uint32_t uid, gid, mode;
	uint64_t rdev;
	unsigned has;
};

/* Reads the attributes through fd (open, not O_PATH); absent or malformed ones stay out of has. */
void p9_owner_read(int fd, struct p9_owner *o);
/* Writes those in o->has through fd: 0 or -errno. */
int p9_owner_write(int fd, const struct p9_owner *o);
/* st as the guest sees it, given what the object's attributes say. */
void p9_owner_apply(const struct p9_owner *o, struct stat *st);
/* The host permission bits for an object the guest sees with `guest_mode`. */
mode_t p9_own_host_mode(mode_t guest_mode);
/*
 * In a mapped share, st (the host's stat of node n) as the guest sees
 * it; iofd, if not -1, is an open descriptor of n to read through.  No
 * change in an own=host share.
 */
void p9_own_view(const struct p9_server *s, const struct p9_node *n, int iofd, struct stat *st);

/* ---- the requests ---- */
typedef int p9_handler(struct p9_server *s, struct p9_in *in, struct p9_out *out);
/* p9_modify.c */
p9_handler p9_lcreate, p9_mkdir, p9_mknod, p9_symlink, p9_link, p9_unlinkat, p9_renameat,
	p9_rename, p9_remove, p9_setattr;
/* p9_xattr.c */
p9_handler p9_xattrwalk, p9_xattrcreate;
/* Tread on an xattr fid (the value or the list it holds). */
int p9_xattr_read(struct p9_fid *f, uint64_t offset, uint32_t count, struct p9_out *out);
/* Twrite on a Txattrcreate fid: the next bytes of the value. */
int p9_xattr_write(struct p9_fid *f, uint64_t offset, const uint8_t *data, uint32_t count,
		   struct p9_out *out);
/* Tclunk of an xattr fid: sets (or removes) what a Txattrcreate announced.  0 or -errno. */
int p9_xattr_commit(struct p9_server *s, struct p9_fid *f);
/* Frees what an xattr fid holds (p9_fid_empty calls it). */
void p9_xattr_free(struct p9_server *s, struct p9_fid *f);

#endif
