// SPDX-License-Identifier: GPL-2.0-only
/*
 * 9P2000.L server: request dispatch, the session (version, attach, walk,
 * clunk) and the requests that only read.  The modifying ones live in
 * p9_modify.c; fids and name resolution in p9_fs.c.
 *
 * Every handler parses all its fields first, checks in->bad once, then
 * acts, and returns 0 (reply in `out`) or -errno (sent as Rlerror).
 */
#include "virtio/p9_server.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "virtio/p9_fs.h"

/* ---- session ------------------------------------------------------------------ */

static int p9_version(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t msize = p9_get32(in);
	const char *version;
	uint16_t len;

	p9_get_str(in, &version, &len);
	if (in->bad)
		return -EINVAL;
	/* A new session: whatever the old one left is gone (9P intro(5), version(5)). */
	p9_fid_clunk_all(s);
	s->msize = 0;
	if (msize < P9_MIN_MSIZE)
		return -EINVAL;
	msize = msize < P9_MAX_MSIZE ? msize : P9_MAX_MSIZE;
	p9_put32(out, msize);
	if (len != strlen(P9_VERSION_L) || memcmp(version, P9_VERSION_L, len)) {
		p9_put_str(out, "unknown", 7); /* and stay unnegotiated */
		return 0;
	}
	p9_put_str(out, P9_VERSION_L, strlen(P9_VERSION_L));
	s->msize = msize;
	return 0;
}

static int p9_attach(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	const char *str;
	uint16_t len;
	struct p9_node root;
	struct p9_fid *f;

	p9_get32(in);              /* afid: there is no Tauth, so no afid to check */
	p9_get_str(in, &str, &len); /* uname, aname: one tree */
	p9_get_str(in, &str, &len);
	/*
	 * n_uname: with access=client Linux attaches once per user and sends
	 * its uid here (fs/9p/fid.c); the files it then creates are that
	 * user's in a mapped share.  "None" (~0) counts as root.
	 */
	uint32_t uid = p9_get32(in);
	if (in->bad)
		return -EINVAL;
	int rc = p9_fid_new(s, fid, &f);
	if (rc)
		return rc;
	if ((rc = p9_node_root(s, &root))) {
		p9_fid_clunk(s, f);
		return rc;
	}
	p9_node_move(&root, f);
	f->uid = uid == P9_NONUNAME ? 0 : uid;
	struct p9_qid qid = p9_qid_of_mode(f->gtype, f->ino);
	p9_put_qid(out, &qid);
	return 0;
}

/* Twalk: nwname names from fid; newfid gets the result only if every step succeeded. */
static int p9_walk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), newfid = p9_get32(in);
	uint16_t nwname = p9_get16(in);
	char names[P9_MAXWELEM][P9_NAME_MAX + 1];
	struct p9_qid qids[P9_MAXWELEM];
	struct p9_node cur, next;
	struct p9_fid *f, *nf = NULL;
	int rc = 0;
	unsigned done = 0;

	if (in->bad || nwname > P9_MAXWELEM)
		return -EINVAL;
	for (unsigned i = 0; i < nwname; i++)
		if ((rc = p9_get_name(in, names[i], true)))
			return rc;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		return -EINVAL;
	if (out->cap - out->pos < 2 + (size_t)nwname * P9_QID_SIZE)
		return -ENOBUFS; /* before newfid exists */
	if (newfid != fid && (rc = p9_fid_new(s, newfid, &nf)))
		return rc;

	/* cur starts borrowed from f (released only once it is a node of our own). */
	p9_node_of_fid(f, &cur);
	for (; done < nwname; done++) {
		rc = p9_walk_one(s, &cur, names[done], &next);
		if (done)
			p9_node_release(&cur);
		if (rc)
			break;
		cur = next;
		qids[done] = p9_qid_of_mode(cur.gtype, cur.ino);
	}
	if (done == 0 && nwname > 0) {
		if (nf)
			p9_fid_clunk(s, nf);
		return rc; /* the first name failed: an error, not an empty Rwalk */
	}
	p9_put16(out, (uint16_t)done);
	for (unsigned i = 0; i < done; i++)
		p9_put_qid(out, &qids[i]);
	if (done < nwname) { /* partial: newfid is not created (or changed) */
		if (nf)
			p9_fid_clunk(s, nf);
		return 0;
	}
	if (nwname == 0) {
		if (!nf)
			return 0; /* fid walked to itself */
		if ((rc = p9_node_dup(&cur, &next))) {
			p9_fid_clunk(s, nf);
			return rc;
		}
		cur = next;
	}
	if (!nf) { /* newfid == fid: it now stands for the new object */
		p9_fid_empty(s, f);
		nf = f;
	}
	nf->uid = f->uid;
	p9_node_move(&cur, nf);
	return 0;
}

/* Tclunk: the fid goes either way; a Txattrcreate fid sets its attribute first (and says how it went). */
static int p9_clunk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	int rc = 0;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		rc = p9_xattr_commit(s, f);
	p9_fid_clunk(s, f);
	return rc;
}

static int p9_flush(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	(void)s;
	(void)out;
	p9_get16(in); /* oldtag: every request is answered before the next is read */
	return in->bad ? -EINVAL : 0;
}

/* ---- reading ------------------------------------------------------------------ */

static int p9_lopen(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), flags = p9_get32(in);
	struct p9_fid *f;
	int rc;

	if (in->bad || (flags & P9_DOTL_ACCMODE) == P9_DOTL_ACCMODE)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (f->iofd >= 0)
		return -EINVAL; /* opened already */
	if (s->read_only && p9_flags_write(flags))
		return -EROFS;
	int host = p9_host_open_flags(flags);
	int fd = p9_reopen(f, host);
	if (fd < 0)
		return fd;
	f->iofd = fd;
	f->ioflags = host;
	struct p9_qid qid = p9_qid_of_mode(f->gtype, f->ino);
	p9_put_qid(out, &qid);
	p9_put32(out, 0); /* iounit: the client uses msize - 24 */
	return 0;
}

static int p9_read(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	uint64_t offset = p9_get64(in);
	uint32_t count = p9_get32(in);
	struct p9_fid *f;

	if (in->bad || offset > INT64_MAX)
		return -EINVAL;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	/* Reply: count[4] data; out->cap is already min(msize, the driver's writable bytes). */
	size_t room = out->cap - out->pos - 4;
	size_t want = count < room ? count : room;
	if (f->xattr)
		return p9_xattr_read(f, offset, count, out);
	if (f->iofd < 0)
		return -EBADF;
	size_t at = out->pos;
	p9_put32(out, 0);
	uint8_t *data = p9_put_space(out, want);
	ssize_t n;
	do
		n = pread(f->iofd, data, want, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	out->pos = at;
	p9_put32(out, (uint32_t)n);
	out->pos += (size_t)n;
	return 0;
}

static int p9_write(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	uint64_t offset = p9_get64(in);
	uint32_t count = p9_get32(in);
	const uint8_t *data = p9_get_bytes(in, count);
	struct p9_fid *f;

	if (in->bad || offset > INT64_MAX)
		return -EINVAL;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		return p9_xattr_write(f, offset, data, count, out);
	if (f->iofd < 0)
		return -EBADF;
	ssize_t n;
	do
		n = pwrite(f->iofd, data, count, (off_t)offset);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	p9_put32(out, (uint32_t)n);
	return 0;
}

static int p9_getattr(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	struct stat st;
	int rc;

	p9_get64(in); /* request_mask: we always fill the basic set */
	if (in->bad)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)) || (rc = p9_stat_fd(f->fd, &st)))
		return rc;
	struct p9_node n;
	p9_node_of_fid(f, &n);
	p9_own_view(s, &n, f->iofd, &st);
	struct p9_qid qid = p9_qid_of(&st);
	p9_put64(out, P9_GETATTR_BASIC);
	p9_put_qid(out, &qid);
	p9_put32(out, st.st_mode);
	p9_put32(out, st.st_uid);
	p9_put32(out, st.st_gid);
	p9_put64(out, st.st_nlink);
	p9_put64(out, st.st_rdev);
	p9_put64(out, (uint64_t)st.st_size);
	p9_put64(out, (uint64_t)st.st_blksize);
	p9_put64(out, (uint64_t)st.st_blocks);
	p9_put64(out, (uint64_t)st.st_atim.tv_sec);
	p9_put64(out, (uint64_t)st.st_atim.tv_nsec);
	p9_put64(out, (uint64_t)st.st_mtim.tv_sec);
	p9_put64(out, (uint64_t)st.st_mtim.tv_nsec);
	p9_put64(out, (uint64_t)st.st_ctim.tv_sec);
	p9_put64(out, (uint64_t)st.st_ctim.tv_nsec);
	for (int i = 0; i < 4; i++)
		p9_put64(out, 0); /* btime sec/nsec, gen, data_version: not in BASIC */
	return 0;
}

static int p9_statfs(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	struct statfs sf;
	int rc;

	if (in->bad)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (fstatfs(f->fd, &sf) < 0)
		return -errno;
	uint64_t fsid = (uint64_t)(uint32_t)sf.f_fsid.__val[0] |
			(uint64_t)(uint32_t)sf.f_fsid.__val[1] << 32;
	p9_put32(out, (uint32_t)sf.f_type);
	p9_put32(out, (uint32_t)sf.f_bsize);
	p9_put64(out, sf.f_blocks);
	p9_put64(out, sf.f_bfree);
	p9_put64(out, sf.f_bavail);
	p9_put64(out, sf.f_files);
	p9_put64(out, sf.f_ffree);
	p9_put64(out, fsid);
	p9_put32(out, (uint32_t)sf.f_namelen);
	return 0;
}

static uint8_t qid_type_of_dtype(unsigned char d_type)
{
	return d_type == DT_DIR ? P9_QTDIR : d_type == DT_LNK ? P9_QTSYMLINK : P9_QTFILE;
}

/*
 * Treaddir: entries from `offset` (0, or an offset this server returned
 * with an earlier entry: the host's d_off cookie, so any file system's
 * own seek semantics apply).  Each entry is qid[13] offset[8] type[1]
 * name[s]; we stop at the first that does not fit, and the client asks
 * again from the last offset it got.
 */
static int p9_readdir(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	uint64_t offset = p9_get64(in);
	uint32_t count = p9_get32(in);
	struct p9_fid *f;
	int rc;

	if (in->bad || offset > INT64_MAX)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (f->iofd < 0)
		return -EBADF;
	if (!S_ISDIR(f->mode))
		return -ENOTDIR;
	if (lseek(f->iofd, (off_t)offset, SEEK_SET) < 0)
		return -errno;

	size_t at = out->pos;
	p9_put32(out, 0);
	size_t room = out->cap - out->pos, used = 0;
	if (count < room)
		room = count;
	bool root = f->dev == s->root_dev && f->ino == s->root_ino;
	bool mapped = s->own == P9_OWN_MAPPED;
	_Alignas(struct dirent64) char buf[8192];
	for (;;) {
		ssize_t n = getdents64(f->iofd, buf, sizeof(buf));
		if (n < 0 && used == 0)
			return -errno;
		if (n <= 0)
			break;
		for (ssize_t pos = 0; pos < n;) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			size_t len = strlen(d->d_name);
			size_t need = P9_QID_SIZE + 8 + 1 + 2 + len;
			if (used + need > room) {
				if (used == 0)
					return -EINVAL; /* as getdents: count cannot hold one entry */
				goto full;
			}
			/*
			 * In a mapped share a host regular file may be a symlink, a
			 * device... to the guest: "unknown" makes it ask (as QEMU).
			 */
			uint8_t type = mapped && d->d_type == DT_REG ? DT_UNKNOWN : d->d_type;
			struct p9_qid qid = { qid_type_of_dtype(type), 0, d->d_ino };
			if (root && !strcmp(d->d_name, ".."))
				qid.path = s->root_ino; /* the share's root is its own parent */
			p9_put_qid(out, &qid);
			p9_put64(out, (uint64_t)d->d_off);
			p9_put8(out, type);
			p9_put_str(out, d->d_name, len);
			used += need;
			pos += d->d_reclen;
		}
	}
full:
	if (out->overflow)
		return -ENOBUFS;
	out->pos = at;
	p9_put32(out, (uint32_t)used);
	out->pos += used;
	return 0;
}

static int p9_readlink(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	char target[PATH_MAX];
	int rc;

	if (in->bad)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (!S_ISLNK(f->gtype))
		return -EINVAL;
	ssize_t n;
	if (S_ISLNK(f->mode)) {
		n = readlinkat(f->fd, "", target, sizeof(target));
	} else {
		/* A mapped symlink: a host regular file that holds the target. */
		struct p9_node node;
		p9_node_of_fid(f, &node);
		int fd = p9_open_node(&node, O_RDONLY);
		if (fd < 0)
			return fd;
		do
			n = pread(fd, target, sizeof(target), 0);
		while (n < 0 && errno == EINTR);
		int e = errno;
		close(fd);
		errno = e;
	}
	if (n < 0)
		return -errno;
	if ((size_t)n == sizeof(target))
		return -ENAMETOOLONG;
	p9_put_str(out, target, (size_t)n);
	return 0;
}

static int p9_fsync(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), datasync = p9_get32(in);
	struct p9_fid *f;
	int rc;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (f->iofd < 0)
		return -EBADF;
	return (datasync ? fdatasync(f->iofd) : fsync(f->iofd)) < 0 ? -errno : 0;
}

/* One client, no other 9P user of the files: every lock is granted at once. */
static int p9_lock(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	const char *client;
	uint16_t len;
	struct p9_fid *f;

	p9_get8(in);  /* type */
	p9_get32(in); /* flags */
	p9_get64(in); /* start */
	p9_get64(in); /* length */
	p9_get32(in); /* proc_id */
	p9_get_str(in, &client, &len);
	if (in->bad)
		return -EINVAL;
	int rc = p9_object_fid(s, fid, &f);
	if (rc)
		return rc;
	p9_put8(out, P9_LOCK_SUCCESS);
	return 0;
}

static int p9_getlock(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	const char *client;
	uint16_t len;

	p9_get8(in); /* type */
	uint64_t start = p9_get64(in), length = p9_get64(in);
	uint32_t proc_id = p9_get32(in);
	p9_get_str(in, &client, &len);
	if (in->bad)
		return -EINVAL;
	int rc = p9_object_fid(s, fid, &f);
	if (rc)
		return rc;
	p9_put8(out, P9_LOCK_TYPE_UNLCK); /* nothing would conflict */
	p9_put64(out, start);
	p9_put64(out, length);
	p9_put32(out, proc_id);
	p9_put_str(out, client, len);
	return 0;
}

/* ---- dispatch ----------------------------------------------------------------- */

/*
 * reply: the size of the reply's fixed part.  A request whose reply could
 * not fit the driver's buffer is refused (ENOBUFS) before it does
 * anything, so no fid, file or directory is made for a reply that is then
 * lost.  Variable parts (Rread data, Rreaddir entries, Rwalk qids, the
 * Rreadlink target) are sized by their handlers before any change.
 */
static const struct {
	p9_handler *fn;
	uint16_t reply;
	bool modifies; /* refused with EROFS on a read-only share */
} handlers[256] = {
	[P9_TVERSION] = { p9_version, 4 + 2 + 8, false },
	[P9_TATTACH] = { p9_attach, P9_QID_SIZE, false },
	[P9_TWALK] = { p9_walk, 2, false },
	[P9_TCLUNK] = { p9_clunk, 0, false },
	[P9_TFLUSH] = { p9_flush, 0, false },
	[P9_TLOPEN] = { p9_lopen, P9_QID_SIZE + 4, false }, /* checks its flags itself */
	[P9_TREAD] = { p9_read, 4, false },
	[P9_TWRITE] = { p9_write, 4, true },
	[P9_TGETATTR] = { p9_getattr, 8 + P9_QID_SIZE + 3 * 4 + 15 * 8, false },
	[P9_TSTATFS] = { p9_statfs, 4 + 4 + 6 * 8 + 4, false },
	[P9_TREADDIR] = { p9_readdir, 4, false },
	[P9_TREADLINK] = { p9_readlink, 2, false },
	[P9_TFSYNC] = { p9_fsync, 0, false },
	[P9_TXATTRWALK] = { p9_xattrwalk, 8, false },
	[P9_TXATTRCREATE] = { p9_xattrcreate, 0, true },
	[P9_TLOCK] = { p9_lock, 1, false },
	[P9_TGETLOCK] = { p9_getlock, 1 + 8 + 8 + 4 + 2, false },
	[P9_TLCREATE] = { p9_lcreate, P9_QID_SIZE + 4, true },
	[P9_TMKDIR] = { p9_mkdir, P9_QID_SIZE, true },
	[P9_TMKNOD] = { p9_mknod, P9_QID_SIZE, true },
	[P9_TSYMLINK] = { p9_symlink, P9_QID_SIZE, true },
	[P9_TLINK] = { p9_link, 0, true },
	[P9_TUNLINKAT] = { p9_unlinkat, 0, true },
	[P9_TRENAMEAT] = { p9_renameat, 0, true },
	[P9_TRENAME] = { p9_rename, 0, true },
	[P9_TREMOVE] = { p9_remove, 0, false }, /* clunks even when refused */
	[P9_TSETATTR] = { p9_setattr, 0, true },
};

size_t p9_server_error(const uint8_t *req, int err, uint8_t *rep, size_t cap)
{
	uint16_t tag = (uint16_t)(req[5] | req[6] << 8);
	return p9_put_rlerror(rep, cap, tag, (uint32_t)err);
}

size_t p9_server_handle(struct p9_server *s, const uint8_t *req, size_t len, uint8_t *rep,
			size_t cap)
{
	struct p9_in in = { .buf = req, .len = len };
	struct p9_out out;
	int rc;

	if (len < P9_HDR_SIZE || cap < P9_RLERROR_SIZE)
		return 0;
	uint32_t size = p9_get32(&in);
	uint8_t type = p9_get8(&in);
	uint16_t tag = p9_get16(&in);

	size_t limit = s->msize ? s->msize : P9_MAX_MSIZE;
	if (cap > limit)
		cap = limit;
	if (size != len)
		rc = -EINVAL;           /* the size field must say what the driver gave us */
	else if (len > limit)
		rc = -EMSGSIZE;
	else if (!s->msize && type != P9_TVERSION)
		rc = -EPROTO;           /* Tversion comes first */
	else if (!handlers[type].fn)
		rc = -EOPNOTSUPP;       /* 9P2000 / .u messages, Tauth, replies, junk */
	else if (handlers[type].modifies && s->read_only)
		rc = -EROFS;
	else if ((size_t)P9_HDR_SIZE + handlers[type].reply > cap)
		rc = -ENOBUFS;
	else {
		p9_out_begin(&out, rep, cap);
		rc = handlers[type].fn(s, &in, &out);
		if (!rc) {
			size_t n = p9_out_finish(&out, (uint8_t)(type + 1), tag);
			if (n)
				return n;
			rc = -ENOBUFS; /* the reply does not fit the driver's buffer */
		}
	}
	return p9_put_rlerror(rep, cap, tag, (uint32_t)-rc);
}

/* ---- life ------------------------------------------------------------------- */

/*
 * Can the share hold user extended attributes?  A directory we cannot
 * read cannot tell: then the first create says so instead.
 */
static int probe_user_xattrs(int root_fd)
{
	int fd = p9_openat(root_fd, ".", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0)
		return 0;
	char b[8];
	int rc = fgetxattr(fd, P9_XATTR_UID, b, sizeof(b)) < 0 && errno == EOPNOTSUPP ? -EOPNOTSUPP : 0;
	close(fd);
	return rc;
}

int p9_server_init(struct p9_server *s, const char *root, bool read_only, enum p9_own own)
{
	struct stat st;
	int rc;

	memset(s, 0, sizeof(*s));
	s->max_fids = P9_DEFAULT_MAX_FIDS;
	s->read_only = read_only;
	s->own = own;
	/* The user named this directory: following symlinks in *its* path is theirs to choose. */
	s->root_fd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (s->root_fd < 0)
		return -errno;
	rc = fstat(s->root_fd, &st) < 0 ? -errno : 0;
	if (!rc && own == P9_OWN_MAPPED)
		rc = probe_user_xattrs(s->root_fd);
	if (rc) {
		close(s->root_fd);
		s->root_fd = -1;
		return rc;
	}
	s->root_dev = st.st_dev;
	s->root_ino = st.st_ino;
	return 0;
}

void p9_server_reset(struct p9_server *s)
{
	p9_fid_clunk_all(s);
	s->msize = 0;
}

void p9_server_destroy(struct p9_server *s)
{
	p9_server_reset(s);
	if (s->root_fd >= 0)
		close(s->root_fd);
	s->root_fd = -1;
}
