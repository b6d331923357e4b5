// SPDX-License-Identifier: GPL-2.0-only
/*
 * The 9P2000.L server (virtio/p9_server.c) driven with hand-encoded
 * messages against a temporary directory, the way Linux's net/9p client
 * would drive it; then the virtio glue (virtio/9p.c) through a hand-made
 * virtqueue, as test_blk.c does for virtio-blk.
 *
 * Layout of every test's temporary tree:
 *   BASE/share     the shared directory (the server's root)
 *   BASE/outside   a sibling the guest must never reach; holds "secret"
 *
 * The confinement tests run twice, on each ownership model (own=host and
 * own=mapped: fixture_own says which a new fixture serves).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/9p.h"
#include "virtio/mmio.h"
#include "virtio/p9_proto.h"
#include "virtio/p9_server.h"
#include "virtio/snapshot.h"
#include "vm/machine.h"

#define ROOT 1 /* the fid every test attaches */
#define SECRET "SECRET host data outside the share\n"

struct fx {
	char base[64];
	char share[96];
	char outside[96];
	struct p9_server srv;
	size_t cap;                  /* reply room the "driver" offers */
	uint8_t *rep;
	size_t rep_len;
	struct p9_in r;              /* the last reply, after its header */
	uint16_t tag;
};

/* ---- the temporary tree ------------------------------------------------------ */

static char *hpath(struct fx *f, const char *rel)
{
	static char buf[4][PATH_MAX];
	static unsigned next;
	char *p = buf[next++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", f->share, rel);
	return p;
}

static void host_write(const char *path, const char *content)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

/* The file's content (NUL terminated, at most size-1 bytes), or -errno. */
static ssize_t host_read(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return n;
}

static bool host_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static enum p9_own fixture_own = P9_OWN_HOST;

static int use_mapped(void **state)
{
	(void)state;
	fixture_own = P9_OWN_MAPPED;
	return 0;
}

static int use_host(void **state)
{
	(void)state;
	fixture_own = P9_OWN_HOST;
	return 0;
}

static struct fx *fx_new(bool read_only)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->base, sizeof(f->base), "%s/ember-9p-XXXXXX", tmp);
	assert_non_null(mkdtemp(f->base));
	snprintf(f->share, sizeof(f->share), "%s/share", f->base);
	snprintf(f->outside, sizeof(f->outside), "%s/outside", f->base);
	assert_int_equal(mkdir(f->share, 0755), 0);
	assert_int_equal(mkdir(f->outside, 0755), 0);
	char secret[PATH_MAX];
	snprintf(secret, sizeof(secret), "%s/secret", f->outside);
	host_write(secret, SECRET);
	assert_int_equal(p9_server_init(&f->srv, f->share, read_only, fixture_own), 0);
	f->cap = P9_MAX_MSIZE;
	f->rep = malloc(P9_MAX_MSIZE);
	assert_non_null(f->rep);
	return f;
}

static void fx_free(struct fx *f)
{
	p9_server_destroy(&f->srv);
	nftw(f->base, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	free(f->rep);
	free(f);
}

/* ---- building requests and reading replies ------------------------------------ */

struct msg {
	uint8_t b[70000];
	size_t n;
};

static void m_u8(struct msg *m, uint8_t v) { m->b[m->n++] = v; }
static void m_u16(struct msg *m, uint16_t v) { m_u8(m, (uint8_t)v); m_u8(m, (uint8_t)(v >> 8)); }
static void m_u32(struct msg *m, uint32_t v) { m_u16(m, (uint16_t)v); m_u16(m, (uint16_t)(v >> 16)); }
static void m_u64(struct msg *m, uint64_t v) { m_u32(m, (uint32_t)v); m_u32(m, (uint32_t)(v >> 32)); }

static void m_bytes(struct msg *m, const void *p, size_t len)
{
	assert_true(m->n + len <= sizeof(m->b));
	memcpy(m->b + m->n, p, len);
	m->n += len;
}

static void m_str(struct msg *m, const char *s)
{
	m_u16(m, (uint16_t)strlen(s));
	m_bytes(m, s, strlen(s));
}

static struct msg *m_new(struct fx *f, uint8_t type)
{
	static struct msg m;
	m.n = 0;
	m_u32(&m, 0); /* size: filled in by send() */
	m_u8(&m, type);
	m_u16(&m, ++f->tag);
	return &m;
}

/*
 * Hands `len` bytes of m to the server (the size field says m->n) and
 * checks the reply's framing.  Returns the reply type, or -errno for an
 * Rlerror.
 */
static int send_raw(struct fx *f, struct msg *m, size_t len)
{
	f->rep_len = p9_server_handle(&f->srv, m->b, len, f->rep, f->cap);
	assert_true(f->rep_len >= P9_HDR_SIZE);
	assert_true(f->rep_len <= f->cap);
	f->r = (struct p9_in){ .buf = f->rep, .len = f->rep_len };
	assert_int_equal(p9_get32(&f->r), f->rep_len);
	uint8_t type = p9_get8(&f->r);
	assert_int_equal(p9_get16(&f->r), m->b[5] | m->b[6] << 8); /* the tag comes back */
	if (type == P9_RLERROR) {
		assert_int_equal(f->rep_len, P9_RLERROR_SIZE);
		int e = (int)p9_get32(&f->r);
		assert_true(e > 0);
		return -e;
	}
	assert_int_equal(type, m->b[4] + 1);
	return type;
}

static int send_msg(struct fx *f, struct msg *m)
{
	uint32_t n = (uint32_t)m->n;
	memcpy(m->b, &n, 4);
	return send_raw(f, m, m->n);
}

/* Every field of the reply was read, and no more. */
static void reply_done(struct fx *f)
{
	assert_false(f->r.bad);
	assert_int_equal(f->r.pos, f->r.len);
}

static int rc_of(struct fx *f, int type)
{
	if (type < 0)
		return type;
	reply_done(f);
	return 0;
}

static struct p9_qid get_qid(struct p9_in *r)
{
	struct p9_qid q;
	q.type = p9_get8(r);
	q.version = p9_get32(r);
	q.path = p9_get64(r);
	return q;
}

/* ---- one helper per message ----------------------------------------------------- */

static int t_version(struct fx *f, uint32_t msize, const char *version, uint32_t *got_msize,
		     char *got_version)
{
	struct msg *m = m_new(f, P9_TVERSION);
	m_u32(m, msize);
	m_str(m, version);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	*got_msize = p9_get32(&f->r);
	const char *s;
	uint16_t len;
	p9_get_str(&f->r, &s, &len);
	memcpy(got_version, s, len);
	got_version[len] = '\0';
	reply_done(f);
	return 0;
}

/* Tattach as Linux's access=client does it: n_uname is the user's uid. */
static int t_attach_as(struct fx *f, uint32_t fid, uint32_t uid, struct p9_qid *qid)
{
	struct msg *m = m_new(f, P9_TATTACH);
	m_u32(m, fid);
	m_u32(m, P9_NOFID);
	m_str(m, "");
	m_str(m, "");
	m_u32(m, uid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	struct p9_qid q = get_qid(&f->r);
	if (qid)
		*qid = q;
	reply_done(f);
	return 0;
}

static int t_attach(struct fx *f, uint32_t fid, struct p9_qid *qid)
{
	return t_attach_as(f, fid, 0, qid);
}

/* Version + attach ROOT: what every mount starts with. */
static void session(struct fx *f)
{
	uint32_t msize;
	char version[32];
	assert_int_equal(t_version(f, P9_MAX_MSIZE, "9P2000.L", &msize, version), 0);
	assert_int_equal(t_attach(f, ROOT, NULL), 0);
}

/* Returns the number of qids (a partial walk gives fewer than n) or -errno. */
static int t_walk(struct fx *f, uint32_t fid, uint32_t newfid, unsigned n, const char *const *names,
		  struct p9_qid *qids)
{
	struct msg *m = m_new(f, P9_TWALK);
	m_u32(m, fid);
	m_u32(m, newfid);
	m_u16(m, (uint16_t)n);
	for (unsigned i = 0; i < n; i++)
		m_str(m, names[i]);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	unsigned nq = p9_get16(&f->r);
	assert_true(nq <= n);
	for (unsigned i = 0; i < nq; i++) {
		struct p9_qid q = get_qid(&f->r);
		if (qids)
			qids[i] = q;
	}
	reply_done(f);
	return (int)nq;
}

/* One name, all or nothing: 0, or -errno (a partial walk of one name cannot happen). */
static int t_walk1(struct fx *f, uint32_t fid, uint32_t newfid, const char *name,
		   struct p9_qid *qid)
{
	int rc = t_walk(f, fid, newfid, 1, &name, qid);
	return rc < 0 ? rc : 0;
}

static int t_clunk(struct fx *f, uint32_t fid)
{
	struct msg *m = m_new(f, P9_TCLUNK);
	m_u32(m, fid);
	return rc_of(f, send_msg(f, m));
}

static int t_lopen(struct fx *f, uint32_t fid, uint32_t flags)
{
	struct msg *m = m_new(f, P9_TLOPEN);
	m_u32(m, fid);
	m_u32(m, flags);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	get_qid(&f->r);
	p9_get32(&f->r); /* iounit */
	reply_done(f);
	return 0;
}

static int t_lcreate_gid(struct fx *f, uint32_t fid, const char *name, uint32_t flags,
			 uint32_t mode, uint32_t gid, struct p9_qid *qid)
{
	struct msg *m = m_new(f, P9_TLCREATE);
	m_u32(m, fid);
	m_str(m, name);
	m_u32(m, flags);
	m_u32(m, mode);
	m_u32(m, gid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	struct p9_qid q = get_qid(&f->r);
	if (qid)
		*qid = q;
	p9_get32(&f->r);
	reply_done(f);
	return 0;
}

/* gid 12345: own=host must ignore it. */
static int t_lcreate(struct fx *f, uint32_t fid, const char *name, uint32_t flags, uint32_t mode,
		     struct p9_qid *qid)
{
	return t_lcreate_gid(f, fid, name, flags, mode, 12345, qid);
}

static long t_write(struct fx *f, uint32_t fid, uint64_t off, const void *data, uint32_t len)
{
	struct msg *m = m_new(f, P9_TWRITE);
	m_u32(m, fid);
	m_u64(m, off);
	m_u32(m, len);
	m_bytes(m, data, len);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	long n = p9_get32(&f->r);
	reply_done(f);
	return n;
}

/* Returns the byte count (data copied to buf if non-NULL) or -errno. */
static long t_read(struct fx *f, uint32_t fid, uint64_t off, uint32_t count, void *buf)
{
	struct msg *m = m_new(f, P9_TREAD);
	m_u32(m, fid);
	m_u64(m, off);
	m_u32(m, count);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	uint32_t n = p9_get32(&f->r);
	const uint8_t *data = p9_get_bytes(&f->r, n);
	assert_non_null(data);
	if (buf)
		memcpy(buf, data, n);
	reply_done(f);
	return n;
}

struct attr {
	struct p9_qid qid;
	uint32_t mode, uid, gid;
	uint64_t nlink, rdev, size, mtime_sec, mtime_nsec;
};

static int t_getattr(struct fx *f, uint32_t fid, struct attr *a)
{
	struct msg *m = m_new(f, P9_TGETATTR);
	m_u32(m, fid);
	m_u64(m, P9_GETATTR_BASIC);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	struct p9_in *r = &f->r;
	assert_int_equal(p9_get64(r), P9_GETATTR_BASIC);
	a->qid = get_qid(r);
	a->mode = p9_get32(r);
	a->uid = p9_get32(r);
	a->gid = p9_get32(r);
	a->nlink = p9_get64(r);
	a->rdev = p9_get64(r);
	a->size = p9_get64(r);
	p9_get64(r); /* blksize */
	p9_get64(r); /* blocks */
	p9_get64(r); /* atime */
	p9_get64(r);
	a->mtime_sec = p9_get64(r);
	a->mtime_nsec = p9_get64(r);
	for (int i = 0; i < 6; i++)
		p9_get64(r); /* ctime, btime, gen, data_version */
	reply_done(f);
	return 0;
}

static int t_mkdir_gid(struct fx *f, uint32_t dfid, const char *name, uint32_t mode, uint32_t gid)
{
	struct msg *m = m_new(f, P9_TMKDIR);
	m_u32(m, dfid);
	m_str(m, name);
	m_u32(m, mode);
	m_u32(m, gid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	assert_int_equal(get_qid(&f->r).type, P9_QTDIR);
	reply_done(f);
	return 0;
}

static int t_mkdir(struct fx *f, uint32_t dfid, const char *name, uint32_t mode)
{
	return t_mkdir_gid(f, dfid, name, mode, 0);
}

static int t_unlinkat(struct fx *f, uint32_t dfid, const char *name, uint32_t flags)
{
	struct msg *m = m_new(f, P9_TUNLINKAT);
	m_u32(m, dfid);
	m_str(m, name);
	m_u32(m, flags);
	return rc_of(f, send_msg(f, m));
}

static int t_renameat(struct fx *f, uint32_t ofid, const char *oname, uint32_t nfid,
		      const char *nname)
{
	struct msg *m = m_new(f, P9_TRENAMEAT);
	m_u32(m, ofid);
	m_str(m, oname);
	m_u32(m, nfid);
	m_str(m, nname);
	return rc_of(f, send_msg(f, m));
}

static int t_rename(struct fx *f, uint32_t fid, uint32_t dfid, const char *name)
{
	struct msg *m = m_new(f, P9_TRENAME);
	m_u32(m, fid);
	m_u32(m, dfid);
	m_str(m, name);
	return rc_of(f, send_msg(f, m));
}

static int t_symlink_gid(struct fx *f, uint32_t dfid, const char *name, const char *target,
			 uint32_t gid)
{
	struct msg *m = m_new(f, P9_TSYMLINK);
	m_u32(m, dfid);
	m_str(m, name);
	m_str(m, target);
	m_u32(m, gid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	assert_int_equal(get_qid(&f->r).type, P9_QTSYMLINK);
	reply_done(f);
	return 0;
}

static int t_symlink(struct fx *f, uint32_t dfid, const char *name, const char *target)
{
	return t_symlink_gid(f, dfid, name, target, 0);
}

static int t_readlink(struct fx *f, uint32_t fid, char *target)
{
	struct msg *m = m_new(f, P9_TREADLINK);
	m_u32(m, fid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	const char *s;
	uint16_t len;
	p9_get_str(&f->r, &s, &len);
	memcpy(target, s, len);
	target[len] = '\0';
	reply_done(f);
	return 0;
}

static int t_link(struct fx *f, uint32_t dfid, uint32_t fid, const char *name)
{
	struct msg *m = m_new(f, P9_TLINK);
	m_u32(m, dfid);
	m_u32(m, fid);
	m_str(m, name);
	return rc_of(f, send_msg(f, m));
}

static int t_mknod_gid(struct fx *f, uint32_t dfid, const char *name, uint32_t mode,
		       uint32_t major, uint32_t minor, uint32_t gid, struct p9_qid *qid)
{
	struct msg *m = m_new(f, P9_TMKNOD);
	m_u32(m, dfid);
	m_str(m, name);
	m_u32(m, mode);
	m_u32(m, major);
	m_u32(m, minor);
	m_u32(m, gid);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	struct p9_qid q = get_qid(&f->r);
	if (qid)
		*qid = q;
	reply_done(f);
	return 0;
}

static int t_mknod(struct fx *f, uint32_t dfid, const char *name, uint32_t mode, uint32_t major,
		   uint32_t minor)
{
	return t_mknod_gid(f, dfid, name, mode, major, minor, 0, NULL);
}

static int t_remove(struct fx *f, uint32_t fid)
{
	struct msg *m = m_new(f, P9_TREMOVE);
	m_u32(m, fid);
	return rc_of(f, send_msg(f, m));
}

static int t_fsync(struct fx *f, uint32_t fid)
{
	struct msg *m = m_new(f, P9_TFSYNC);
	m_u32(m, fid);
	m_u32(m, 0);
	return rc_of(f, send_msg(f, m));
}

static int t_setattr_all(struct fx *f, uint32_t fid, uint32_t valid, uint32_t mode, uint32_t uid,
			 uint32_t gid, uint64_t size, uint64_t mtime_sec)
{
	struct msg *m = m_new(f, P9_TSETATTR);
	m_u32(m, fid);
	m_u32(m, valid);
	m_u32(m, mode);
	m_u32(m, uid);
	m_u32(m, gid);
	m_u64(m, size);
	m_u64(m, 0);    /* atime */
	m_u64(m, 0);
	m_u64(m, mtime_sec);
	m_u64(m, 0);
	return rc_of(f, send_msg(f, m));
}

static int t_setattr(struct fx *f, uint32_t fid, uint32_t valid, uint32_t mode, uint64_t size,
		     uint64_t mtime_sec)
{
	return t_setattr_all(f, fid, valid, mode, 0, 0, size, mtime_sec);
}

/* chmod (mode != -1) and chown (uid, gid != -1), as Linux sends them. */
static int t_chmod_chown(struct fx *f, uint32_t fid, uint32_t mode, uint32_t uid, uint32_t gid)
{
	uint32_t valid = (mode != (uint32_t)-1 ? P9_ATTR_MODE : 0) |
			 (uid != (uint32_t)-1 ? P9_ATTR_UID : 0) |
			 (gid != (uint32_t)-1 ? P9_ATTR_GID : 0);
	return t_setattr_all(f, fid, valid | P9_ATTR_CTIME, mode, uid, gid, 0, 0);
}

/* getxattr: the value's size (value copied to buf, at most cap bytes) or -errno. */
static long t_xattr_get(struct fx *f, uint32_t fid, const char *name, void *buf, size_t cap)
{
	const uint32_t xfid = 900;
	struct msg *m = m_new(f, P9_TXATTRWALK);
	m_u32(m, fid);
	m_u32(m, xfid);
	m_str(m, name);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	uint64_t size = p9_get64(&f->r);
	reply_done(f);
	uint8_t *all = malloc(size + 1);
	assert_non_null(all);
	uint64_t got = 0;
	while (got < size) {
		long n = t_read(f, xfid, got, 1000, all + got); /* in pieces, as a small msize would */
		assert_true(n > 0);
		got += (uint64_t)n;
	}
	assert_int_equal(t_read(f, xfid, size, 100, NULL), 0);
	assert_int_equal(t_clunk(f, xfid), 0);
	memcpy(buf, all, size < cap ? size : cap);
	free(all);
	return (long)size;
}

/* listxattr into buf (NUL-separated names, NUL terminated at the end); the size or -errno. */
static long t_xattr_list(struct fx *f, uint32_t fid, char *buf, size_t cap)
{
	long n = t_xattr_get(f, fid, "", buf, cap - 1);
	if (n >= 0)
		buf[(size_t)n < cap - 1 ? (size_t)n : cap - 1] = '\0';
	return n;
}

static bool in_list(const char *list, size_t len, const char *name)
{
	for (size_t pos = 0; pos < len; pos += strlen(list + pos) + 1)
		if (!strcmp(list + pos, name))
			return true;
	return false;
}

/*
 * setxattr as Linux does it: Txattrcreate on a clone of fid, Twrite the
 * value in pieces, Tclunk (whose reply says whether it was set).  A NULL
 * value with XATTR_REPLACE is removexattr.
 */
static int t_xattr_set(struct fx *f, uint32_t fid, const char *name, const void *value,
		       size_t len, uint32_t flags)
{
	const uint32_t xfid = 901;
	assert_int_equal(t_walk(f, fid, xfid, 0, NULL, NULL), 0);
	struct msg *m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, xfid);
	m_str(m, name);
	m_u64(m, len);
	m_u32(m, flags);
	int rc = send_msg(f, m);
	if (rc < 0) {
		assert_int_equal(t_clunk(f, xfid), 0);
		return rc;
	}
	reply_done(f);
	for (size_t done = 0; done < len;) {
		uint32_t piece = len - done < 700 ? (uint32_t)(len - done) : 700;
		long n = t_write(f, xfid, done, (const uint8_t *)value + done, piece);
		assert_int_equal(n, piece);
		done += piece;
	}
	return t_clunk(f, xfid);
}

/* The host's raw attribute on a path in the share: its size (value in buf) or -errno. */
static long host_getxattr(struct fx *f, const char *rel, const char *name, void *buf, size_t cap)
{
	ssize_t n = lgetxattr(hpath(f, rel), name, buf, cap);
	return n < 0 ? -errno : n;
}

static uint32_t host_xattr_le32(struct fx *f, const char *rel, const char *name)
{
	uint8_t b[4];
	assert_int_equal(host_getxattr(f, rel, name, b, sizeof(b)), 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void host_set_le32(struct fx *f, const char *rel, const char *name, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	assert_int_equal(lsetxattr(hpath(f, rel), name, b, sizeof(b), 0), 0);
}

/* Calls fn for every entry; returns the reply's byte count or -errno; *last = last offset. */
static long t_readdir(struct fx *f, uint32_t fid, uint64_t off, uint32_t count,
		      void (*fn)(void *ctx, const char *name, uint8_t type), void *ctx, uint64_t *last)
{
	struct msg *m = m_new(f, P9_TREADDIR);
	m_u32(m, fid);
	m_u64(m, off);
	m_u32(m, count);
	int rc = send_msg(f, m);
	if (rc < 0)
		return rc;
	uint32_t n = p9_get32(&f->r);
	assert_true(n <= count);
	struct p9_in d = { .buf = p9_get_bytes(&f->r, n), .len = n };
	assert_non_null(d.buf);
	reply_done(f);
	while (d.pos < d.len) {
		get_qid(&d);
		*last = p9_get64(&d);
		uint8_t type = p9_get8(&d);
		const char *s;
		uint16_t len;
		p9_get_str(&d, &s, &len);
		assert_false(d.bad);
		char name[P9_NAME_MAX + 1];
		memcpy(name, s, len);
		name[len] = '\0';
		fn(ctx, name, type);
	}
	return n;
}

/* ---- session ------------------------------------------------------------------ */

static void version_negotiation(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	uint32_t msize;
	char version[32];

	/* Nothing but Tversion before a version is agreed. */
	assert_int_equal(t_attach(f, ROOT, NULL), -EPROTO);

	assert_int_equal(t_version(f, 8192, "9P2000.L", &msize, version), 0);
	assert_int_equal(msize, 8192);
	assert_string_equal(version, "9P2000.L");

	assert_int_equal(t_version(f, 4 << 20, "9P2000.L", &msize, version), 0);
	assert_int_equal(msize, 512 * 1024); /* capped */

	assert_int_equal(t_version(f, 65536, "9P2000.u", &msize, version), 0);
	assert_string_equal(version, "unknown");
	assert_int_equal(t_attach(f, ROOT, NULL), -EPROTO); /* and nothing negotiated */
	assert_int_equal(t_version(f, 65536, "9P2000", &msize, version), 0);
	assert_string_equal(version, "unknown");
	assert_int_equal(t_version(f, 100, "9P2000.L", &msize, version), -EINVAL);

	/* A new Tversion ends the session: fids are gone. */
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	assert_int_equal(t_version(f, 65536, "9P2000.L", &msize, version), 0);
	assert_int_equal(t_clunk(f, 2), -EBADF);

	/* Tattach twice on one fid; the second attach on another fid is fine. */
	assert_int_equal(t_attach(f, ROOT, NULL), 0);
	assert_int_equal(t_attach(f, ROOT, NULL), -EEXIST);
	assert_int_equal(t_attach(f, 7, NULL), 0);

	/* A transport reset forgets msize and every fid. */
	p9_server_reset(&f->srv);
	assert_int_equal(t_clunk(f, ROOT), -EPROTO);
	assert_int_equal(t_version(f, 65536, "9P2000.L", &msize, version), 0);
	assert_int_equal(t_clunk(f, ROOT), -EBADF);
	fx_free(f);
}

static void attach_walk_getattr(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid rootq, q[3];
	struct attr a;
	struct stat st;

	assert_int_equal(mkdir(hpath(f, "sub"), 0755), 0);
	host_write(hpath(f, "sub/a.txt"), "0123456789");
	session(f);
	assert_int_equal(t_getattr(f, ROOT, &a), 0);
	rootq = a.qid;
	assert_int_equal(stat(f->share, &st), 0);
	assert_int_equal(rootq.path, st.st_ino);
	assert_int_equal(rootq.type, P9_QTDIR);
	assert_true(S_ISDIR(a.mode));

	const char *names[] = { "sub", "a.txt" };
	assert_int_equal(t_walk(f, ROOT, 2, 2, names, q), 2);
	assert_int_equal(q[0].type, P9_QTDIR);
	assert_int_equal(q[1].type, P9_QTFILE);
	assert_int_equal(stat(hpath(f, "sub/a.txt"), &st), 0);
	assert_int_equal(q[1].path, st.st_ino);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.size, 10);
	assert_true(S_ISREG(a.mode));
	assert_int_equal(a.qid.path, st.st_ino);

	/* Partial walk: qids for what exists, newfid not created. */
	const char *partial[] = { "sub", "nope", "x" };
	assert_int_equal(t_walk(f, ROOT, 3, 3, partial, q), 1);
	assert_int_equal(t_clunk(f, 3), -EBADF);
	/* The first name fails: an error. */
	assert_int_equal(t_walk1(f, ROOT, 3, "nope", NULL), -ENOENT);
	assert_int_equal(t_clunk(f, 3), -EBADF);
	/* Walking from a file. */
	assert_int_equal(t_walk1(f, 2, 3, "x", NULL), -ENOTDIR);
	/* Clone (no names), and walking a fid onto itself. */
	assert_int_equal(t_walk(f, ROOT, 4, 0, NULL, NULL), 0);
	assert_int_equal(t_getattr(f, 4, &a), 0);
	assert_int_equal(a.qid.path, rootq.path);
	assert_int_equal(t_walk1(f, 4, 4, "sub", NULL), 0);
	assert_int_equal(t_getattr(f, 4, &a), 0);
	assert_true(S_ISDIR(a.mode));
	assert_int_not_equal(a.qid.path, rootq.path);
	/* newfid in use. */
	assert_int_equal(t_walk1(f, ROOT, 2, "sub", NULL), -EEXIST);
	/* Unknown fid. */
	assert_int_equal(t_getattr(f, 99, &a), -EBADF);
	assert_int_equal(t_clunk(f, 2), 0);
	assert_int_equal(t_clunk(f, 2), -EBADF);
	fx_free(f);
}

/* ---- files ---------------------------------------------------------------------- */

static void create_write_read(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid q;
	struct stat st;
	char buf[64];
	const char *text = "hello, 9p world";

	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	/* setuid and setgid asked for: the host file must not get them. */
	assert_int_equal(t_lcreate(f, 2, "new.txt", P9_DOTL_RDWR, 06777, &q), 0);
	assert_int_equal(q.type, P9_QTFILE);
	assert_int_equal(t_write(f, 2, 0, text, (uint32_t)strlen(text)), (long)strlen(text));
	assert_int_equal(t_write(f, 2, 100, "!", 1), 1);
	long n = t_read(f, 2, 0, sizeof(buf), buf);
	assert_int_equal(n, sizeof(buf));
	assert_memory_equal(buf, text, strlen(text));
	assert_int_equal(t_read(f, 2, 101, 10, buf), 0); /* end of file */

	assert_int_equal(lstat(hpath(f, "new.txt"), &st), 0);
	assert_int_equal(st.st_ino, q.path);
	assert_int_equal(st.st_uid, getuid());
	assert_int_equal(st.st_gid, getgid());
	assert_int_equal(st.st_mode & 07777, 0777); /* exact, not cut by the host's umask */
	assert_int_equal(st.st_size, 101);
	char host[128];
	assert_int_equal(host_read(hpath(f, "new.txt"), host, sizeof(host)), 101);
	assert_memory_equal(host, text, strlen(text));

	/* The fid is now the open file: Tlopen on it again is refused, fsync works. */
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), -EINVAL);
	assert_int_equal(t_fsync(f, 2), 0);

	/* Exclusive create of an existing name; plain create opens it. */
	assert_int_equal(t_walk1(f, ROOT, 3, ".", NULL), 0);
	assert_int_equal(t_lcreate(f, 3, "new.txt", P9_DOTL_RDONLY | P9_DOTL_EXCL, 0644, NULL),
			 -EEXIST);
	assert_int_equal(t_lcreate(f, 3, "new.txt", P9_DOTL_RDONLY, 0600, NULL), 0);
	assert_int_equal(lstat(hpath(f, "new.txt"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0777); /* an existing file keeps its mode */
	assert_int_equal(t_read(f, 3, 0, 5, buf), 5);
	assert_memory_equal(buf, "hello", 5);

	/* Reopen a walked file for reading through Tlopen. */
	assert_int_equal(t_walk1(f, ROOT, 4, "new.txt", NULL), 0);
	assert_int_equal(t_read(f, 4, 0, 5, buf), -EBADF); /* not open yet */
	assert_int_equal(t_lopen(f, 4, P9_DOTL_RDONLY), 0);
	assert_int_equal(t_read(f, 4, 7, 2, buf), 2);
	assert_memory_equal(buf, "9p", 2);
	assert_int_equal(t_write(f, 4, 0, "x", 1), -EBADF); /* opened read-only */
	/* Truncating open. */
	assert_int_equal(t_walk1(f, ROOT, 5, "new.txt", NULL), 0);
	assert_int_equal(t_lopen(f, 5, P9_DOTL_WRONLY | P9_DOTL_TRUNC), 0);
	assert_int_equal(lstat(hpath(f, "new.txt"), &st), 0);
	assert_int_equal(st.st_size, 0);
	fx_free(f);
}

/* Tread never returns more than min(count, msize - 11, room the driver gave - 11). */
static void read_is_bounded(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	uint32_t msize;
	char version[32];
	static char big[20000];

	memset(big, 'b', sizeof(big) - 1);
	host_write(hpath(f, "big"), big);
	assert_int_equal(t_version(f, 8192, "9P2000.L", &msize, version), 0);
	assert_int_equal(t_attach(f, ROOT, NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 2, "big", NULL), 0);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), 0);
	assert_int_equal(t_read(f, 2, 0, 100000, NULL), 8192 - 11);
	assert_int_equal(t_read(f, 2, 0, 300, NULL), 300);
	f->cap = 111;
	assert_int_equal(t_read(f, 2, 0, 100000, NULL), 100);
	f->cap = 11;
	assert_int_equal(t_read(f, 2, 0, 100000, NULL), 0);
	/* A reply that cannot fit at all becomes an Rlerror, which always fits. */
	assert_int_equal(t_getattr(f, 2, &(struct attr){ 0 }), -ENOBUFS);
	/* ... and the request is refused before it changes anything. */
	f->cap = P9_HDR_SIZE + P9_QID_SIZE + 3; /* Rlcreate needs 4 more */
	assert_int_equal(t_walk1(f, ROOT, 3, ".", NULL), 0);
	assert_int_equal(t_lcreate(f, 3, "nofit", P9_DOTL_WRONLY, 0644, NULL), -ENOBUFS);
	assert_false(host_exists(hpath(f, "nofit")));
	f->cap = P9_HDR_SIZE + P9_QID_SIZE - 1; /* Rmkdir needs 1 more */
	assert_int_equal(t_mkdir(f, 3, "nofit", 0755), -ENOBUFS);
	assert_false(host_exists(hpath(f, "nofit")));
	f->cap = P9_HDR_SIZE + 2 + P9_QID_SIZE; /* room for one qid, not two */
	const char *two[] = { ".", "." };
	assert_int_equal(t_walk(f, ROOT, 4, 2, two, NULL), -ENOBUFS);
	assert_int_equal(t_walk(f, ROOT, 4, 1, two, NULL), 1);
	assert_int_equal(t_clunk(f, 4), 0);
	f->cap = 20; /* Tversion's reply needs 21 */
	assert_int_equal(t_version(f, 8192, "9P2000.L", &msize, version), -ENOBUFS);
	assert_int_equal(t_clunk(f, 3), 0); /* the session is still there */
	f->cap = P9_MAX_MSIZE;
	/* A request bigger than msize. */
	struct msg *m = m_new(f, P9_TWRITE);
	m_u32(m, 2);
	m_u64(m, 0);
	m_u32(m, 9000);
	m_bytes(m, big, 9000);
	assert_int_equal(send_msg(f, m), -EMSGSIZE);
	fx_free(f);
}

struct listing {
	char names[64][16];
	unsigned n;
	unsigned calls;
};

static void collect(void *ctx, const char *name, uint8_t type)
{
	struct listing *l = ctx;
	(void)type;
	assert_true(l->n < 64);
	assert_true(strlen(name) < 16);
	strcpy(l->names[l->n++], name);
}

static bool listed(const struct listing *l, const char *name)
{
	unsigned hits = 0;
	for (unsigned i = 0; i < l->n; i++)
		hits += !strcmp(l->names[i], name);
	assert_true(hits <= 1); /* never twice across calls */
	return hits == 1;
}

static void readdir_across_calls(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct listing l = { 0 };
	char name[16];
	uint64_t off = 0;

	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "file%02d", i);
		host_write(hpath(f, name), "x");
	}
	assert_int_equal(mkdir(hpath(f, "adir"), 0755), 0);
	assert_int_equal(symlink("file00", hpath(f, "alink")), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	assert_int_equal(t_read(f, 2, 0, 10, NULL), -EBADF);
	struct msg *m = m_new(f, P9_TREADDIR); /* not opened yet */
	m_u32(m, 2);
	m_u64(m, 0);
	m_u32(m, 4096);
	assert_int_equal(send_msg(f, m), -EBADF);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY | P9_DOTL_DIRECTORY), 0);
	for (;;) {
		/* 100 bytes: two or three entries per call */
		long n = t_readdir(f, 2, off, 100, collect, &l, &off);
		assert_true(n >= 0);
		if (n == 0)
			break;
		l.calls++;
		assert_true(l.calls < 100);
	}
	assert_true(l.calls >= 15);
	assert_int_equal(l.n, 40 + 4); /* ".", "..", adir, alink */
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof(name), "file%02d", i);
		assert_true(listed(&l, name));
	}
	assert_true(listed(&l, "."));
	assert_true(listed(&l, ".."));
	assert_true(listed(&l, "adir"));
	assert_true(listed(&l, "alink"));

	/* From the start again, in one call. */
	struct listing all = { 0 };
	assert_true(t_readdir(f, 2, 0, 8192, collect, &all, &off) > 0);
	assert_int_equal(all.n, 44);
	/* A count too small for one entry. */
	assert_int_equal(t_readdir(f, 2, 0, 10, collect, &all, &off), -EINVAL);
	/* Readdir on a file. */
	assert_int_equal(t_walk1(f, ROOT, 3, "file00", NULL), 0);
	assert_int_equal(t_lopen(f, 3, P9_DOTL_RDONLY), 0);
	assert_int_equal(t_readdir(f, 3, 0, 4096, collect, &all, &off), -ENOTDIR);
	fx_free(f);
}

static void mkdir_unlink_rename(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct stat st;
	char buf[32];

	session(f);
	assert_int_equal(t_mkdir(f, ROOT, "d", 0777), 0);
	assert_int_equal(lstat(hpath(f, "d"), &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0777);
	assert_int_equal(t_mkdir(f, ROOT, "d", 0755), -EEXIST);
	assert_int_equal(t_mkdir(f, ROOT, "s", 02755 | 01000), 0); /* setgid and sticky dropped */
	assert_int_equal(lstat(hpath(f, "s"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);

	host_write(hpath(f, "d/file"), "content");
	/* A fid on d/file, then its directory is renamed and the file moved: the fid follows. */
	const char *names[] = { "d", "file" };
	assert_int_equal(t_walk(f, ROOT, 2, 2, names, NULL), 2);
	assert_int_equal(t_renameat(f, ROOT, "d", ROOT, "e"), 0);
	assert_false(host_exists(hpath(f, "d")));
	assert_true(host_exists(hpath(f, "e/file")));
	assert_int_equal(t_walk1(f, ROOT, 3, "e", NULL), 0);
	assert_int_equal(t_renameat(f, 3, "file", ROOT, "moved"), 0);
	assert_true(host_exists(hpath(f, "moved")));
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), 0);
	assert_int_equal(t_read(f, 2, 0, 7, buf), 7);
	assert_memory_equal(buf, "content", 7);

	/* Trename: a fid names what moves. */
	assert_int_equal(t_walk1(f, ROOT, 4, "moved", NULL), 0);
	assert_int_equal(t_rename(f, 4, 3, "back"), 0);
	assert_true(host_exists(hpath(f, "e/back")));
	assert_int_equal(t_rename(f, ROOT, 3, "x"), -EBUSY); /* the root has no name */

	/* Unlinkat: a file, a non-empty and an empty directory. */
	assert_int_equal(t_unlinkat(f, ROOT, "e", P9_DOTL_AT_REMOVEDIR), -ENOTEMPTY);
	assert_int_equal(t_unlinkat(f, 3, "back", 0), 0);
	assert_int_equal(t_unlinkat(f, ROOT, "e", 0), -EISDIR);
	assert_int_equal(t_unlinkat(f, ROOT, "e", P9_DOTL_AT_REMOVEDIR), 0);
	assert_false(host_exists(hpath(f, "e")));
	assert_int_equal(t_unlinkat(f, ROOT, "e", 0), -ENOENT);

	/* Tremove clunks its fid, whatever happens. */
	host_write(hpath(f, "gone"), "x");
	assert_int_equal(t_walk1(f, ROOT, 5, "gone", NULL), 0);
	assert_int_equal(t_remove(f, 5), 0);
	assert_false(host_exists(hpath(f, "gone")));
	assert_int_equal(t_clunk(f, 5), -EBADF);
	assert_int_equal(t_walk(f, ROOT, 6, 0, NULL, NULL), 0);
	assert_int_equal(t_remove(f, 6), -EBUSY); /* the root */
	assert_int_equal(t_clunk(f, 6), -EBADF);
	assert_true(host_exists(f->share));

	/* Tlink. */
	host_write(hpath(f, "orig"), "linked");
	assert_int_equal(t_walk1(f, ROOT, 7, "orig", NULL), 0);
	assert_int_equal(t_link(f, ROOT, 7, "alias"), 0);
	assert_int_equal(host_read(hpath(f, "alias"), buf, sizeof(buf)), 6);
	assert_int_equal(t_link(f, ROOT, ROOT, "rootlink"), -EPERM);
	fx_free(f);
}

static void symlink_readlink(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid q;
	char target[PATH_MAX], host[PATH_MAX];

	session(f);
	assert_int_equal(t_symlink(f, ROOT, "l", "some/where"), 0);
	ssize_t n = readlink(hpath(f, "l"), host, sizeof(host));
	assert_int_equal(n, 10);
	assert_memory_equal(host, "some/where", 10);
	assert_int_equal(t_walk1(f, ROOT, 2, "l", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(t_readlink(f, 2, target), 0);
	assert_string_equal(target, "some/where");
	assert_int_equal(t_readlink(f, ROOT, target), -EINVAL);
	/* Absolute targets are stored as they are: only the guest follows them. */
	assert_int_equal(t_symlink(f, ROOT, "abs", "/etc/passwd"), 0);
	assert_int_equal(t_symlink(f, ROOT, "l", "again"), -EEXIST);
	assert_int_equal(t_symlink(f, ROOT, "empty", ""), -ENOENT);
	fx_free(f);
}

static void statfs_matches_host(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct statfs sf;

	session(f);
	assert_int_equal(statfs(f->share, &sf), 0);
	struct msg *m = m_new(f, P9_TSTATFS);
	m_u32(m, ROOT);
	assert_int_equal(send_msg(f, m), P9_RSTATFS);
	assert_int_equal(p9_get32(&f->r), (uint32_t)sf.f_type);
	assert_int_equal(p9_get32(&f->r), (uint32_t)sf.f_bsize);
	assert_int_equal(p9_get64(&f->r), sf.f_blocks);
	p9_get64(&f->r); /* bfree, bavail, files, ffree move with other users of the disk */
	p9_get64(&f->r);
	p9_get64(&f->r);
	p9_get64(&f->r);
	p9_get64(&f->r); /* fsid */
	assert_int_equal(p9_get32(&f->r), (uint32_t)sf.f_namelen);
	reply_done(f);
	fx_free(f);
}

static void setattr_truncate_mode_times(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct stat st;
	struct attr a;

	host_write(hpath(f, "t"), "0123456789");
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "t", NULL), 0);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_SIZE, 0, 3, 0), 0);
	assert_int_equal(lstat(hpath(f, "t"), &st), 0);
	assert_int_equal(st.st_size, 3);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE, 0600, 0, 0), 0);
	assert_int_equal(lstat(hpath(f, "t"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MTIME | P9_ATTR_MTIME_SET, 0, 0, 1000000), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mtime_sec, 1000000);
	assert_int_equal(a.size, 3);
	/* Size on a directory, bad nanoseconds. */
	assert_int_equal(t_setattr(f, ROOT, P9_ATTR_SIZE, 0, 0, 0), -EISDIR);
	struct msg *m = m_new(f, P9_TSETATTR);
	m_u32(m, 2);
	m_u32(m, P9_ATTR_MTIME | P9_ATTR_MTIME_SET);
	for (int i = 0; i < 3; i++)
		m_u32(m, 0);
	for (int i = 0; i < 4; i++)
		m_u64(m, 0);
	m_u64(m, 2000000000);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* Owner: to ourselves is always permitted. */
	m = m_new(f, P9_TSETATTR);
	m_u32(m, 2);
	m_u32(m, P9_ATTR_UID | P9_ATTR_GID);
	m_u32(m, 0);
	m_u32(m, getuid());
	m_u32(m, getgid());
	for (int i = 0; i < 5; i++)
		m_u64(m, 0);
	assert_int_equal(send_msg(f, m), P9_RSETATTR);
	fx_free(f);
}

static bool have_fchmodat2(void)
{
	return syscall(452 /* fchmodat2 */, AT_FDCWD, "/nonexistent/ember", 0, 0) < 0 &&
	       errno != ENOSYS;
}

static void mknod_and_special_files(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct stat st;

	session(f);
	assert_int_equal(t_mknod(f, ROOT, "fifo", S_IFIFO | 0666, 0, 0), 0);
	assert_int_equal(lstat(hpath(f, "fifo"), &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* Exact only where the kernel has fchmodat2 (6.6+; valgrind 3.19 does not know it). */
	if (have_fchmodat2())
		assert_int_equal(st.st_mode & 07777, 0666);
	else
		assert_int_equal(st.st_mode & 07777 & ~0666, 0);
	assert_int_equal(t_mknod(f, ROOT, "reg", S_IFREG | 0640, 0, 0), 0);
	assert_int_equal(lstat(hpath(f, "reg"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* Device nodes: never (1,3 is /dev/null, 8,0 a disk). */
	assert_int_equal(t_mknod(f, ROOT, "null", S_IFCHR | 0666, 1, 3), -EPERM);
	assert_int_equal(t_mknod(f, ROOT, "disk", S_IFBLK | 0666, 8, 0), -EPERM);
	assert_int_equal(t_mknod(f, ROOT, "sock", S_IFSOCK | 0666, 0, 0), -EPERM);
	assert_false(host_exists(hpath(f, "null")));
	assert_false(host_exists(hpath(f, "disk")));

	/* A fifo is never opened by the server (it would block): EPERM, at once. */
	assert_int_equal(t_walk1(f, ROOT, 2, "fifo", NULL), 0);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), -EPERM);
	assert_int_equal(t_lcreate(f, ROOT, "fifo", P9_DOTL_RDONLY, 0644, NULL), -EPERM);
	/* A host device node placed in the share is not opened either. */
	if (mknod(hpath(f, "hostnull"), S_IFCHR | 0666, makedev(1, 3)) == 0) {
		assert_int_equal(t_walk1(f, ROOT, 3, "hostnull", NULL), 0);
		assert_int_equal(t_lopen(f, 3, P9_DOTL_RDWR), -EPERM);
		assert_int_equal(t_setattr(f, 3, P9_ATTR_SIZE, 0, 0, 0), -EPERM);
	}
	fx_free(f);
}

static void xattr_lock_flush(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);

	session(f);
	struct msg *m = m_new(f, P9_TXATTRWALK);
	m_u32(m, ROOT);
	m_u32(m, 2);
	m_str(m, "");
	assert_int_equal(send_msg(f, m), P9_RXATTRWALK);
	assert_int_equal(p9_get64(&f->r), 0); /* an empty list */
	reply_done(f);
	assert_int_equal(t_read(f, 2, 0, 100, NULL), 0);
	assert_int_equal(t_walk1(f, 2, 3, "x", NULL), -EINVAL);
	assert_int_equal(t_clunk(f, 2), 0);

	m = m_new(f, P9_TXATTRWALK);
	m_u32(m, ROOT);
	m_u32(m, 2);
	m_str(m, "user.comment");
	assert_int_equal(send_msg(f, m), -ENODATA);
	assert_int_equal(t_clunk(f, 2), -EBADF);

	/* Txattrcreate makes its fid an xattr fid: nothing else works on it but Twrite and Tclunk. */
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, 2);
	m_str(m, "user.comment");
	m_u64(m, 5);
	m_u32(m, 0);
	assert_int_equal(send_msg(f, m), P9_RXATTRCREATE);
	reply_done(f);
	struct attr a;
	assert_int_equal(t_getattr(f, 2, &a), -EINVAL);
	assert_int_equal(t_walk1(f, 2, 3, ".", NULL), -EINVAL);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), -EINVAL);
	assert_int_equal(t_read(f, 2, 0, 10, NULL), -EBADF);
	assert_int_equal(t_write(f, 2, 0, "hello", 5), 5);
	assert_int_equal(t_clunk(f, 2), 0);

	m = m_new(f, P9_TLOCK);
	m_u32(m, ROOT);
	m_u8(m, 1);
	m_u32(m, 0);
	m_u64(m, 0);
	m_u64(m, 100);
	m_u32(m, 42);
	m_str(m, "guest");
	assert_int_equal(send_msg(f, m), P9_RLOCK);
	assert_int_equal(p9_get8(&f->r), P9_LOCK_SUCCESS);
	reply_done(f);

	m = m_new(f, P9_TGETLOCK);
	m_u32(m, ROOT);
	m_u8(m, 1);
	m_u64(m, 5);
	m_u64(m, 10);
	m_u32(m, 42);
	m_str(m, "guest");
	assert_int_equal(send_msg(f, m), P9_RGETLOCK);
	assert_int_equal(p9_get8(&f->r), P9_LOCK_TYPE_UNLCK);
	assert_int_equal(p9_get64(&f->r), 5);
	assert_int_equal(p9_get64(&f->r), 10);
	assert_int_equal(p9_get32(&f->r), 42);
	const char *s;
	uint16_t len;
	p9_get_str(&f->r, &s, &len);
	assert_int_equal(len, 5);
	reply_done(f);

	m = m_new(f, P9_TFLUSH);
	m_u16(m, 3);
	assert_int_equal(send_msg(f, m), P9_RFLUSH);
	reply_done(f);
	fx_free(f);
}

/* ---- ownership: own=mapped (registered with use_mapped) and own=host ---------------- */

static void assert_host_plain(struct fx *f, const char *rel, mode_t host_mode)
{
	struct stat st;
	assert_int_equal(lstat(hpath(f, rel), &st), 0);
	assert_int_equal(st.st_uid, getuid()); /* never chowned on the host */
	assert_int_equal(st.st_mode & 07777, host_mode);
}

/* New objects: the creating user's uid (its Tattach), the request's gid, the whole mode. */
static void mapped_create_owner_mode(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid q;
	struct attr a;
	uint8_t raw[8];

	session(f);                                        /* ROOT: uid 0 */
	assert_int_equal(t_attach_as(f, 10, 1000, NULL), 0); /* user 1000's own tree */
	assert_int_equal(t_walk1(f, 10, 2, ".", NULL), 0);
	assert_int_equal(t_lcreate_gid(f, 2, "prog", P9_DOTL_RDWR, S_IFREG | 04755, 100, &q), 0);
	assert_int_equal(q.type, P9_QTFILE);
	assert_int_equal(t_write(f, 2, 0, "#!", 2), 2);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 100);
	assert_int_equal(a.mode, S_IFREG | 04755); /* setuid kept for the guest */
	assert_int_equal(a.size, 2);
	/* The host file: ours, 0700 (executable to the guest), never setuid. */
	assert_host_plain(f, "prog", 0700);
	/* QEMU's encoding: 4 bytes little endian, the mode with its type. */
	assert_int_equal(host_getxattr(f, "prog", "user.virtfs.uid", raw, sizeof(raw)), 4);
	assert_memory_equal(raw, "\xe8\x03\x00\x00", 4);
	assert_int_equal(host_xattr_le32(f, "prog", "user.virtfs.gid"), 100);
	assert_int_equal(host_xattr_le32(f, "prog", "user.virtfs.mode"), S_IFREG | 04755);
	assert_int_equal(host_getxattr(f, "prog", "user.virtfs.rdev", raw, sizeof(raw)), -ENODATA);
	/* A fresh walk sees the same. */
	assert_int_equal(t_walk1(f, ROOT, 3, "prog", &q), 0);
	assert_int_equal(q.type, P9_QTFILE);
	assert_int_equal(t_getattr(f, 3, &a), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.mode, S_IFREG | 04755);

	/* Not executable: 0600 on the host. */
	assert_int_equal(t_walk1(f, 10, 4, ".", NULL), 0);
	assert_int_equal(t_lcreate_gid(f, 4, "data", P9_DOTL_WRONLY, 0444, 100, NULL), 0);
	assert_int_equal(t_write(f, 4, 0, "x", 1), 1); /* the guest checked its permissions */
	assert_host_plain(f, "data", 0600);

	/* Directories: sticky and setgid kept, 0700 on the host; the creator's uid goes down walks. */
	assert_int_equal(t_mkdir_gid(f, 10, "dir", 03777, 50), 0);
	assert_host_plain(f, "dir", 0700);
	assert_int_equal(t_walk1(f, 10, 5, "dir", &q), 0);
	assert_int_equal(q.type, P9_QTDIR);
	assert_int_equal(t_getattr(f, 5, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 03777);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 50);
	assert_int_equal(t_lcreate_gid(f, 5, "inner", P9_DOTL_WRONLY, 0640, 50, NULL), 0);
	assert_int_equal(host_xattr_le32(f, "dir/inner", "user.virtfs.uid"), 1000);
	/* Root's fid makes root's files. */
	assert_int_equal(t_mkdir_gid(f, ROOT, "rootdir", 0755, 0), 0);
	assert_int_equal(host_xattr_le32(f, "rootdir", "user.virtfs.uid"), 0);
	/* Opening an existing file (no O_EXCL) leaves its owner alone. */
	assert_int_equal(t_walk1(f, ROOT, 6, ".", NULL), 0);
	assert_int_equal(t_lcreate_gid(f, 6, "data", P9_DOTL_RDONLY, 0600, 0, NULL), 0);
	assert_int_equal(t_getattr(f, 6, &a), 0);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.mode, S_IFREG | 0444);
	fx_free(f);
}

/* chown and chmod without CAP_CHOWN: the attributes change, the host file stays ours. */
static void mapped_chown_chmod(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct attr a;
	struct stat st;

	host_write(hpath(f, "plain"), "x");
	assert_int_equal(chmod(hpath(f, "plain"), 0640), 0);
	assert_int_equal(mkdir(hpath(f, "tmp"), 0755), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "plain", NULL), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, 0); /* no attributes yet: root's, with the host's mode */
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.mode, S_IFREG | 0640);

	assert_int_equal(t_chmod_chown(f, 2, (uint32_t)-1, 1234, 5678), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, 1234);
	assert_int_equal(a.gid, 5678);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_host_plain(f, "plain", 0640); /* untouched until a chmod */

	assert_int_equal(t_chmod_chown(f, 2, S_IFREG | 06755, (uint32_t)-1, (uint32_t)-1), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 06755);
	assert_int_equal(a.uid, 1234);
	assert_host_plain(f, "plain", 0700);
	/* A mode without its type keeps the file's type. */
	assert_int_equal(t_chmod_chown(f, 2, 0644, 42, (uint32_t)-1), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0644);
	assert_int_equal(a.uid, 42);
	assert_int_equal(a.gid, 5678);
	assert_host_plain(f, "plain", 0600);
	/* chown with the setuid bits killed in the same request, as Linux sends it. */
	assert_int_equal(t_chmod_chown(f, 2, S_IFREG | 04711, (uint32_t)-1, (uint32_t)-1), 0);
	assert_int_equal(t_chmod_chown(f, 2, S_IFREG | 0711, 7, 7), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0711);
	assert_int_equal(a.uid, 7);

	/* A directory: sticky for the guest, nothing on the host. */
	assert_int_equal(t_walk1(f, ROOT, 3, "tmp", NULL), 0);
	assert_int_equal(t_chmod_chown(f, 3, S_IFDIR | 01777, 0, 0), 0);
	assert_int_equal(t_getattr(f, 3, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 01777);
	assert_int_equal(lstat(hpath(f, "tmp"), &st), 0);
	assert_int_equal(st.st_mode & 07000, 0);
	/* The times still work, and the root too. */
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MTIME | P9_ATTR_MTIME_SET, 0, 0, 1000000), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mtime_sec, 1000000);
	assert_int_equal(t_chmod_chown(f, ROOT, S_IFDIR | 0755, 0, 0), 0);
	assert_int_equal(t_getattr(f, ROOT, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 0755);
	fx_free(f);
}

/* Device nodes, fifos, sockets: empty host regular files that the attributes make special. */
static void mapped_special_files(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	static const struct {
		const char *name;
		uint32_t mode, major, minor, gid;
	} kinds[] = {
		{ "null", S_IFCHR | 0666, 1, 3, 0 },
		{ "sda", S_IFBLK | 0660, 8, 0, 6 },
		{ "fifo", S_IFIFO | 0644, 0, 0, 0 },
		{ "sock", S_IFSOCK | 0755, 0, 0, 0 },
		{ "big", S_IFCHR | 0600, 4095, 1048575, 0 }, /* the largest Linux numbers */
	};
	struct p9_qid q;
	struct attr a;
	struct stat st;
	uint8_t raw[8];

	session(f);
	for (unsigned i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		assert_int_equal(t_mknod_gid(f, ROOT, kinds[i].name, kinds[i].mode, kinds[i].major,
					     kinds[i].minor, kinds[i].gid, &q), 0);
		assert_int_equal(q.type, P9_QTFILE);
		assert_int_equal(lstat(hpath(f, kinds[i].name), &st), 0);
		assert_true(S_ISREG(st.st_mode)); /* never a host device, fifo or socket */
		assert_int_equal(st.st_size, 0);
		assert_host_plain(f, kinds[i].name, 0600);
		uint32_t fid = 20 + i;
		assert_int_equal(t_walk1(f, ROOT, fid, kinds[i].name, NULL), 0);
		assert_int_equal(t_getattr(f, fid, &a), 0);
		assert_int_equal(a.mode, kinds[i].mode);
		assert_int_equal(a.gid, kinds[i].gid);
		bool dev = S_ISCHR(kinds[i].mode) || S_ISBLK(kinds[i].mode);
		assert_int_equal(a.rdev, dev ? makedev(kinds[i].major, kinds[i].minor) : 0);
		/* Never opened, truncated or created over by the server. */
		assert_int_equal(t_lopen(f, fid, P9_DOTL_RDONLY), -EPERM);
		assert_int_equal(t_setattr(f, fid, P9_ATTR_SIZE, 0, 0, 0), -EPERM);
		assert_int_equal(t_lcreate(f, ROOT, kinds[i].name, P9_DOTL_RDONLY, 0644, NULL), -EPERM);
		/* (ROOT is still the root: those failed before it changed.) */
	}
	assert_int_equal(host_getxattr(f, "null", "user.virtfs.rdev", raw, sizeof(raw)), 8);
	uint64_t rdev = 0;
	for (int i = 7; i >= 0; i--)
		rdev = rdev << 8 | raw[i];
	assert_int_equal(rdev, makedev(1, 3));
	assert_int_equal(host_getxattr(f, "fifo", "user.virtfs.rdev", raw, sizeof(raw)), -ENODATA);
	/* mknod of a directory, a symlink or junk: EINVAL, as mknod(2). */
	assert_int_equal(t_mknod(f, ROOT, "d", S_IFDIR | 0755, 0, 0), -EINVAL);
	assert_int_equal(t_mknod(f, ROOT, "l", S_IFLNK | 0777, 0, 0), -EINVAL);
	assert_false(host_exists(hpath(f, "d")));
	/* A zero type is a regular file. */
	assert_int_equal(t_mknod(f, ROOT, "reg", 0640, 0, 0), 0);
	assert_int_equal(host_xattr_le32(f, "reg", "user.virtfs.mode"), S_IFREG | 0640);
	/* chmod keeps the type; unlink works as for any file. */
	assert_int_equal(t_chmod_chown(f, 22, S_IFIFO | 0600, 1, 1), 0);
	assert_int_equal(t_getattr(f, 22, &a), 0);
	assert_int_equal(a.mode, S_IFIFO | 0600);
	assert_int_equal(t_unlinkat(f, ROOT, "sock", 0), 0);
	assert_false(host_exists(hpath(f, "sock")));

	/* A tree QEMU made: a regular file whose attributes say it is a symlink. */
	host_write(hpath(f, "qlink"), "../target");
	host_set_le32(f, "qlink", "user.virtfs.mode", S_IFLNK | 0777);
	host_set_le32(f, "qlink", "user.virtfs.uid", 7);
	host_set_le32(f, "qlink", "user.virtfs.gid", 8);
	assert_int_equal(t_walk1(f, ROOT, 40, "qlink", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(t_getattr(f, 40, &a), 0);
	assert_int_equal(a.mode, S_IFLNK | 0777);
	assert_int_equal(a.uid, 7);
	assert_int_equal(a.gid, 8);
	assert_int_equal(a.size, 9);
	char target[PATH_MAX];
	assert_int_equal(t_readlink(f, 40, target), 0);
	assert_string_equal(target, "../target");
	/* Junk in the attributes: a host file stays a file, a wrong size is no attribute. */
	host_write(hpath(f, "junk"), "");
	host_set_le32(f, "junk", "user.virtfs.mode", S_IFDIR | 0755);
	assert_int_equal(lsetxattr(hpath(f, "junk"), "user.virtfs.uid", "\x01", 1, 0), 0);
	assert_int_equal(t_walk1(f, ROOT, 41, "junk", &q), 0);
	assert_int_equal(q.type, P9_QTFILE);
	assert_int_equal(t_getattr(f, 41, &a), 0);
	assert_int_equal(a.mode, S_IFREG | 0755);
	assert_int_equal(a.uid, 0);
	fx_free(f);
}

static void collect_type(void *ctx, const char *name, uint8_t type)
{
	if (!strcmp(name, "fifo"))
		*(uint8_t *)ctx = type;
}

/* Readdir cannot tell a mapped fifo from a file without the attributes: DT_UNKNOWN, as QEMU. */
static void mapped_readdir_types(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	uint8_t type = 0xff;
	uint64_t last = 0;

	session(f);
	assert_int_equal(t_mknod(f, ROOT, "fifo", S_IFIFO | 0644, 0, 0), 0);
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), 0);
	assert_true(t_readdir(f, 2, 0, 8192, collect_type, &type, &last) > 0);
	assert_int_equal(type, DT_UNKNOWN);
	fx_free(f);
}

/* Symlinks are files holding the target (QEMU's layout), so they can have an owner. */
static void mapped_symlinks(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid q;
	struct attr a;
	char target[PATH_MAX], host[64];

	session(f);
	assert_int_equal(t_attach_as(f, 10, 1000, NULL), 0);
	assert_int_equal(t_symlink_gid(f, 10, "link", "/etc/passwd", 1000), 0);
	struct stat st;
	assert_int_equal(lstat(hpath(f, "link"), &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_host_plain(f, "link", 0600);
	assert_int_equal(host_read(hpath(f, "link"), host, sizeof(host)), 11);
	assert_string_equal(host, "/etc/passwd");
	assert_int_equal(t_walk1(f, ROOT, 2, "link", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.mode, S_IFLNK | 0777);
	assert_int_equal(a.uid, 1000);
	assert_int_equal(a.gid, 1000);
	assert_int_equal(a.size, 11);
	assert_int_equal(t_readlink(f, 2, target), 0);
	assert_string_equal(target, "/etc/passwd");
	/* Never opened or walked through by the server; no lchmod; lchown works. */
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), -ELOOP);
	assert_int_equal(t_walk1(f, 2, 3, "x", NULL), -ENOTDIR);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE, S_IFLNK | 0700, 0, 0), -EOPNOTSUPP);
	assert_int_equal(t_lcreate(f, ROOT, "link", P9_DOTL_RDONLY, 0644, NULL), -ELOOP);
	assert_int_equal(t_lcreate(f, ROOT, "link", P9_DOTL_WRONLY | P9_DOTL_TRUNC, 0644, NULL), -ELOOP);
	assert_int_equal(host_read(hpath(f, "link"), host, sizeof(host)), 11); /* not emptied */
	assert_int_equal(t_chmod_chown(f, 2, (uint32_t)-1, 0, 0), 0);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, 0);
	/* A hard link is the same object. */
	assert_int_equal(t_link(f, ROOT, 2, "link2"), 0);
	assert_int_equal(t_walk1(f, ROOT, 4, "link2", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);

	/* A host symlink from the tree: root's, and it cannot hold another owner. */
	assert_int_equal(symlink("target", hpath(f, "hostlink")), 0);
	assert_int_equal(t_walk1(f, ROOT, 5, "hostlink", &q), 0);
	assert_int_equal(q.type, P9_QTSYMLINK);
	assert_int_equal(t_getattr(f, 5, &a), 0);
	assert_true(S_ISLNK(a.mode));
	assert_int_equal(a.uid, 0);
	assert_int_equal(t_readlink(f, 5, target), 0);
	assert_string_equal(target, "target");
	assert_int_equal(t_chmod_chown(f, 5, (uint32_t)-1, 0, 0), 0); /* what it is already */
	assert_int_equal(t_chmod_chown(f, 5, (uint32_t)-1, 1000, (uint32_t)-1), -EPERM);
	fx_free(f);
}

/* A tree made on the host without the attributes (debootstrap as root, say) reads as root's. */
static void mapped_tree_without_attributes(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct attr a;
	bool root = getuid() == 0;

	assert_int_equal(mkdir(hpath(f, "etc"), 0751), 0);
	host_write(hpath(f, "etc/shadow"), "root:*:");
	assert_int_equal(chmod(hpath(f, "etc/shadow"), 0640), 0);
	if (root)
		assert_int_equal(lchown(hpath(f, "etc/shadow"), 4321, 42), 0);
	assert_int_equal(symlink("shadow", hpath(f, "etc/link")), 0);
	assert_int_equal(mkfifo(hpath(f, "etc/fifo"), 0), 0);
	assert_int_equal(chmod(hpath(f, "etc/fifo"), 0620), 0);
	session(f);
	const char *shadow[] = { "etc", "shadow" };
	assert_int_equal(t_walk(f, ROOT, 2, 2, shadow, NULL), 2);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, 0);
	assert_int_equal(a.gid, 0);
	assert_int_equal(a.mode, S_IFREG | 0640);
	assert_int_equal(t_walk1(f, ROOT, 3, "etc", NULL), 0);
	assert_int_equal(t_getattr(f, 3, &a), 0);
	assert_int_equal(a.mode, S_IFDIR | 0751);
	assert_int_equal(a.uid, 0);
	const char *fifo[] = { "etc", "fifo" };
	assert_int_equal(t_walk(f, ROOT, 4, 2, fifo, NULL), 2);
	assert_int_equal(t_getattr(f, 4, &a), 0);
	assert_int_equal(a.mode, S_IFIFO | 0620);
	assert_int_equal(a.uid, 0);
	assert_int_equal(t_lopen(f, 4, P9_DOTL_RDONLY), -EPERM);
	/* The same tree with own=host: the host's owner. */
	p9_server_destroy(&f->srv);
	assert_int_equal(p9_server_init(&f->srv, f->share, false, P9_OWN_HOST), 0);
	session(f);
	assert_int_equal(t_walk(f, ROOT, 2, 2, shadow, NULL), 2);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, root ? 4321 : getuid());
	fx_free(f);
}

/* own=host: setuid, setgid and sticky are refused, not dropped quietly. */
static void host_refuses_special_bits(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct stat st;
	struct attr a;

	host_write(hpath(f, "f"), "x");
	assert_int_equal(chmod(hpath(f, "f"), 0644), 0);
	assert_int_equal(mkdir(hpath(f, "d"), 0755), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 3, "d", NULL), 0);
	static const uint32_t file_modes[] = { S_IFREG | 04755, S_IFREG | 02755, S_IFREG | 01644 };
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE, file_modes[i], 0, 0), -EPERM);
	assert_int_equal(t_setattr(f, 3, P9_ATTR_MODE, S_IFDIR | 01777, 0, 0), -EPERM);
	assert_int_equal(t_setattr(f, 3, P9_ATTR_MODE, S_IFDIR | 02775, 0, 0), -EPERM);
	assert_int_equal(lstat(hpath(f, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644); /* nothing changed */
	assert_int_equal(lstat(hpath(f, "d"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* Nothing else in a refused request happened either. */
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE | P9_ATTR_SIZE, S_IFREG | 04644, 0, 0), -EPERM);
	assert_int_equal(lstat(hpath(f, "f"), &st), 0);
	assert_int_equal(st.st_size, 1);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE, S_IFREG | 0755, 0, 0), 0);
	assert_int_equal(lstat(hpath(f, "f"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0755);
	/* The guest sees the host's owners. */
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, getuid());
	assert_int_equal(a.gid, getgid());
	/* chown: what the host lets ember do (root: really; anyone else: only to itself). */
	int rc = t_chmod_chown(f, 2, (uint32_t)-1, 4321, (uint32_t)-1);
	assert_int_equal(lstat(hpath(f, "f"), &st), 0);
	if (getuid() == 0) {
		assert_int_equal(rc, 0);
		assert_int_equal(st.st_uid, 4321);
	} else {
		assert_int_equal(rc, -EPERM);
		assert_int_equal(st.st_uid, getuid());
	}
	/* A new directory in a setgid one (Linux passes S_ISGID on): made, without it. */
	assert_int_equal(t_mkdir(f, ROOT, "sg", 02775), 0);
	assert_int_equal(lstat(hpath(f, "sg"), &st), 0);
	assert_int_equal(st.st_mode & 07777, 0775);
	fx_free(f);
}

/* user.* and security.* through 9p, on either model (registered twice). */
static void xattr_round_trip(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char buf[8192], list[1024];
	uint8_t cap[20];

	host_write(hpath(f, "f"), "x");
	assert_int_equal(mkdir(hpath(f, "d"), 0755), 0);
	assert_int_equal(symlink("f", hpath(f, "sl")), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 3, "d", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 4, "sl", NULL), 0);

	assert_int_equal(t_xattr_set(f, 2, "user.comment", "hello", 5, 0), 0);
	assert_int_equal(host_getxattr(f, "f", "user.comment", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	assert_int_equal(t_xattr_get(f, 2, "user.comment", buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	/* A value in many pieces each way (ext4 keeps at most a block's worth). */
	char big[3000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	assert_int_equal(t_xattr_set(f, 3, "user.big", big, sizeof(big), 0), 0);
	assert_int_equal(t_xattr_get(f, 3, "user.big", buf, sizeof(buf)), sizeof(big));
	assert_memory_equal(buf, big, sizeof(big));
	/* Flags, empty values, removal; errors come back in Rclunk. */
	assert_int_equal(t_xattr_set(f, 2, "user.comment", "x", 1, XATTR_CREATE), -EEXIST);
	assert_int_equal(t_xattr_set(f, 2, "user.none", "x", 1, XATTR_REPLACE), -ENODATA);
	assert_int_equal(t_xattr_set(f, 2, "user.empty", "", 0, 0), 0);
	assert_int_equal(host_getxattr(f, "f", "user.empty", buf, sizeof(buf)), 0);
	assert_int_equal(t_xattr_get(f, 2, "user.empty", buf, sizeof(buf)), 0);
	assert_int_equal(t_xattr_set(f, 2, "user.empty", NULL, 0, XATTR_REPLACE), 0);
	assert_int_equal(t_xattr_get(f, 2, "user.empty", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(t_xattr_set(f, 2, "user.empty", NULL, 0, XATTR_REPLACE), -ENODATA);

	/* setcap: the guest's capability is kept in the user namespace, never as a host one. */
	memset(cap, 0, sizeof(cap));
	cap[0] = 0x01;
	cap[3] = 0x02; /* VFS_CAP_REVISION_2 */
	cap[4] = 0x00;
	cap[5] = 0x04; /* cap_net_bind_service (10) permitted */
	assert_int_equal(t_xattr_set(f, 2, "security.capability", cap, sizeof(cap), 0), 0);
	assert_int_equal(host_getxattr(f, "f", "security.capability", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(host_getxattr(f, "f", "user.virtfs.security.capability", buf, sizeof(buf)),
			 sizeof(cap));
	assert_int_equal(t_xattr_get(f, 2, "security.capability", buf, sizeof(buf)), sizeof(cap));
	assert_memory_equal(buf, cap, sizeof(cap));

	long n = t_xattr_list(f, 2, list, sizeof(list));
	assert_true(n > 0);
	assert_true(in_list(list, (size_t)n, "user.comment"));
	assert_true(in_list(list, (size_t)n, "security.capability"));
	for (size_t pos = 0; pos < (size_t)n; pos += strlen(list + pos) + 1)
		assert_null(strstr(list + pos, "virtfs"));
	assert_int_equal(t_xattr_list(f, 3, list, sizeof(list)), (long)sizeof("user.big"));
	assert_string_equal(list, "user.big");

	/* Namespaces the server does not keep, and names that cannot be. */
	assert_int_equal(t_xattr_set(f, 2, "trusted.x", "1", 1, 0), -EOPNOTSUPP);
	assert_int_equal(t_xattr_get(f, 2, "trusted.x", buf, sizeof(buf)), -EOPNOTSUPP);
	assert_int_equal(t_xattr_set(f, 2, "system.posix_acl_access", "1", 1, 0), -EOPNOTSUPP);
	assert_int_equal(t_xattr_set(f, 2, "user.", "1", 1, 0), -EINVAL);
	assert_int_equal(t_xattr_set(f, 2, "security.", "1", 1, 0), -EINVAL);
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	memcpy(longname, "user.", 5);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(t_xattr_set(f, 2, longname, "1", 1, 0), -ERANGE);
	assert_int_equal(t_xattr_get(f, 2, longname, buf, sizeof(buf)), -ERANGE);
	/* A host symlink holds none. */
	assert_int_equal(t_xattr_get(f, 4, "user.comment", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(t_xattr_set(f, 4, "user.comment", "x", 1, 0), -EPERM);
	assert_int_equal(t_xattr_set(f, 4, "security.selinux", "x", 1, 0), -EPERM);
	assert_int_equal(t_xattr_list(f, 4, list, sizeof(list)), 0);
	fx_free(f);
}

/* The server's own user.virtfs.* attributes: never seen, never touched by the guest. */
static void xattr_bookkeeping_hidden(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char buf[256], list[1024];

	host_write(hpath(f, "f"), "x");
	host_set_le32(f, "f", "user.virtfs.uid", 5);
	assert_int_equal(lsetxattr(hpath(f, "f"), "user.other", "o", 1, 0), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	if (fixture_own == P9_OWN_MAPPED)
		assert_int_equal(t_chmod_chown(f, 2, S_IFREG | 0640, 6, 6), 0);
	static const char *const ours[] = { "user.virtfs.uid", "user.virtfs.gid", "user.virtfs.mode",
					    "user.virtfs.rdev", "user.virtfs.security.capability",
					    "user.virtfs.anything" };
	for (unsigned i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		assert_int_equal(t_xattr_get(f, 2, ours[i], buf, sizeof(buf)), -ENODATA);
		assert_int_equal(t_xattr_set(f, 2, ours[i], "\1\0\0\0", 4, 0), -EPERM);
		assert_int_equal(t_xattr_set(f, 2, ours[i], NULL, 0, XATTR_REPLACE), -EPERM);
	}
	long n = t_xattr_list(f, 2, list, sizeof(list));
	assert_int_equal(n, (long)sizeof("user.other"));
	assert_string_equal(list, "user.other");
	/* Untouched on the host, and what the guest sees of the owner is unchanged. */
	assert_int_equal(host_xattr_le32(f, "f", "user.virtfs.uid"), fixture_own == P9_OWN_MAPPED ? 6 : 5);
	struct attr a;
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.uid, fixture_own == P9_OWN_MAPPED ? 6 : getuid());
	fx_free(f);
}

/* Txattrcreate / Twrite / Tclunk misuse, read-only shares, the memory budget. */
static void xattr_protocol_errors(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char buf[64];
	struct msg *m;

	host_write(hpath(f, "f"), "x");
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	/* Less written than announced: EINVAL at the clunk, nothing set. */
	m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, 2);
	m_str(m, "user.part");
	m_u64(m, 10);
	m_u32(m, 0);
	assert_int_equal(send_msg(f, m), P9_RXATTRCREATE);
	assert_int_equal(t_write(f, 2, 1, "abc", 3), -EINVAL); /* out of order */
	assert_int_equal(t_write(f, 2, 0, "abcde", 5), 5);
	assert_int_equal(t_write(f, 2, 5, "0123456789", 10), -ENOSPC); /* past what was announced */
	assert_int_equal(t_xattr_set(f, ROOT, "user.x", "1", 1, 0), 0); /* other fids carry on */
	assert_int_equal(t_clunk(f, 2), -EINVAL);
	assert_int_equal(host_getxattr(f, "f", "user.part", buf, sizeof(buf)), -ENODATA);
	assert_int_equal(t_clunk(f, 2), -EBADF);
	/* Too big, bad flags, a fid that is an xattr fid already. */
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, 2);
	m_str(m, "user.big");
	m_u64(m, 65537);
	m_u32(m, 0);
	assert_int_equal(send_msg(f, m), -E2BIG);
	m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, 2);
	m_str(m, "user.flags");
	m_u64(m, 1);
	m_u32(m, 4);
	assert_int_equal(send_msg(f, m), -EINVAL);
	m = m_new(f, P9_TXATTRWALK);
	m_u32(m, 2);
	m_u32(m, 3);
	m_str(m, "");
	assert_int_equal(send_msg(f, m), P9_RXATTRWALK);
	m = m_new(f, P9_TXATTRWALK);
	m_u32(m, 3);
	m_u32(m, 4);
	m_str(m, "");
	assert_int_equal(send_msg(f, m), -EINVAL);
	assert_int_equal(t_write(f, 3, 0, "x", 1), -EBADF); /* a value read is not written */
	assert_int_equal(t_clunk(f, 3), 0);

	/* The budget: xattr fids announcing 64 KiB values each, until it says ENOMEM. */
	uint32_t fid = 100;
	int rc;
	for (;; fid++) {
		assert_int_equal(t_walk1(f, ROOT, fid, "f", NULL), 0);
		m = m_new(f, P9_TXATTRCREATE);
		m_u32(m, fid);
		m_str(m, "user.fat");
		m_u64(m, 65536);
		m_u32(m, 0);
		if ((rc = send_msg(f, m)) < 0)
			break;
	}
	assert_int_equal(rc, -ENOMEM);
	assert_int_equal(fid - 100, P9_XATTR_BUDGET / 65536);
	assert_int_equal(t_clunk(f, 100), -EINVAL); /* nothing written */
	assert_int_equal(f->srv.xattr_bytes, P9_XATTR_BUDGET - 65536);
	m = m_new(f, P9_TXATTRCREATE);
	m_u32(m, fid);
	m_str(m, "user.fat");
	m_u64(m, 65536);
	m_u32(m, 0);
	assert_int_equal(send_msg(f, m), P9_RXATTRCREATE);
	p9_server_reset(&f->srv); /* a reset gives it all back */
	assert_int_equal(f->srv.xattr_bytes, 0);
	assert_int_equal(host_getxattr(f, "f", "user.fat", buf, sizeof(buf)), -ENODATA);
	fx_free(f);

	/* Read-only: attributes read, never written. */
	f = fx_new(true);
	host_write(hpath(f, "f"), "x");
	assert_int_equal(lsetxattr(hpath(f, "f"), "user.k", "v", 1, 0), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "f", NULL), 0);
	assert_int_equal(t_xattr_get(f, 2, "user.k", buf, sizeof(buf)), 1);
	assert_int_equal(t_xattr_set(f, 2, "user.k", "w", 1, 0), -EROFS);
	fx_free(f);
}

/* own=mapped needs a file system with user attributes: refused at start, saying so. */
static void mapped_needs_user_xattrs(void **state)
{
	(void)state;
	struct p9_server srv;
	struct virtio_9p v;
	struct ember_err err = { "" };

	assert_int_equal(p9_server_init(&srv, "/proc", false, P9_OWN_MAPPED), -EOPNOTSUPP);
	assert_int_equal(srv.root_fd, -1);
	assert_int_equal(p9_server_init(&srv, "/proc", true, P9_OWN_HOST), 0);
	p9_server_destroy(&srv);
	struct p9_share share = { .host_dir = "/proc", .tag = "rootfs", .own = P9_OWN_MAPPED,
				  .flag = "--rootfs" };
	assert_int_equal(virtio_9p_init(&v, &share, &err), -EOPNOTSUPP);
	assert_non_null(strstr(err.msg, "--rootfs /proc: own=mapped"));
	assert_non_null(strstr(err.msg, ",own=host"));
}

/* ---- confinement ----------------------------------------------------------------- */

static void dotdot_stays_in_share(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct p9_qid q[4];
	struct attr a, root;

	assert_int_equal(mkdir(hpath(f, "sub"), 0755), 0);
	session(f);
	assert_int_equal(t_getattr(f, ROOT, &root), 0);
	const char *up[] = { "..", "..", "..", ".." };
	assert_int_equal(t_walk(f, ROOT, 2, 4, up, q), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(q[i].path, root.qid.path);
	assert_int_equal(t_getattr(f, 2, &a), 0);
	assert_int_equal(a.qid.path, root.qid.path);
	/* Creating through it lands in the share, not in BASE. */
	assert_int_equal(t_lcreate(f, 2, "escaped", P9_DOTL_WRONLY, 0644, NULL), 0);
	assert_true(host_exists(hpath(f, "escaped")));
	char beside[PATH_MAX];
	snprintf(beside, sizeof(beside), "%s/escaped", f->base);
	assert_false(host_exists(beside));

	/* Down and up again: sub/.. is the root; sub/../.. too. */
	const char *down_up[] = { "sub", "..", ".." };
	assert_int_equal(t_walk(f, ROOT, 3, 3, down_up, q), 3);
	assert_int_equal(q[1].path, root.qid.path);
	assert_int_equal(q[2].path, root.qid.path);
	assert_int_equal(t_mkdir(f, 3, "made", 0755), 0);
	assert_true(host_exists(hpath(f, "made")));
	/* ".." of sub has no name: it cannot be removed. */
	assert_int_equal(t_remove(f, 3), -EBUSY);
	/* The ".." entry of the root's listing shows the root itself. */
	fx_free(f);
}

static void symlinks_do_not_escape(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char buf[256];
	char secret_rel[PATH_MAX];

	snprintf(secret_rel, sizeof(secret_rel), "%s/secret", f->outside);
	assert_int_equal(symlink("/", hpath(f, "toroot")), 0);
	assert_int_equal(symlink("/etc", hpath(f, "toetc")), 0);
	assert_int_equal(symlink("/etc/passwd", hpath(f, "passwd")), 0);
	assert_int_equal(symlink("../../../../../../../etc/passwd", hpath(f, "up")), 0);
	assert_int_equal(symlink("../outside/secret", hpath(f, "sib")), 0);
	assert_int_equal(symlink("../outside", hpath(f, "sibdir")), 0);
	assert_int_equal(symlink(secret_rel, hpath(f, "abssecret")), 0);
	session(f);

	/* Walking to a symlink gives the link (the guest follows it, not us). */
	struct p9_qid q[3];
	assert_int_equal(t_walk1(f, ROOT, 2, "toetc", q), 0);
	assert_int_equal(q[0].type, P9_QTSYMLINK);
	/* ... and nothing can be walked under it. */
	assert_int_equal(t_walk1(f, 2, 3, "passwd", NULL), -ENOTDIR);
	const char *through[] = { "toetc", "passwd" };
	assert_int_equal(t_walk(f, ROOT, 3, 2, through, q), 1);
	const char *through_root[] = { "toroot", "etc", "passwd" };
	assert_int_equal(t_walk(f, ROOT, 3, 3, through_root, q), 1);
	const char *through_sib[] = { "sibdir", "secret" };
	assert_int_equal(t_walk(f, ROOT, 3, 2, through_sib, q), 1);
	assert_int_equal(t_clunk(f, 3), -EBADF);
	/* Creating under a symlink fid. */
	assert_int_equal(t_lcreate(f, 2, "x", P9_DOTL_WRONLY, 0644, NULL), -ENOTDIR);
	assert_int_equal(t_mkdir(f, 2, "x", 0755), -ENOTDIR);

	/* Opening a symlink fid never follows it. */
	const char *links[] = { "toetc", "passwd", "up", "sib", "abssecret", "toroot" };
	for (unsigned i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		uint32_t fid = 10 + i;
		assert_int_equal(t_walk1(f, ROOT, fid, links[i], NULL), 0);
		int rc = t_lopen(f, fid, P9_DOTL_RDONLY);
		assert_true(rc < 0);
		assert_int_equal(rc, -ELOOP);
		assert_int_equal(t_read(f, fid, 0, sizeof(buf), buf), -EBADF);
		assert_int_equal(t_lopen(f, fid, P9_DOTL_RDWR | P9_DOTL_TRUNC), -ELOOP);
		/* Truncating by setattr opens by name too, never through the link. */
		assert_int_equal(t_setattr(f, fid, P9_ATTR_SIZE, 0, 0, 0), -ELOOP);
	}
	/* Tlcreate on an existing symlink name (no O_EXCL) does not follow it either. */
	assert_int_equal(t_walk1(f, ROOT, 30, ".", NULL), 0);
	assert_int_equal(t_lcreate(f, 30, "sib", P9_DOTL_RDWR | P9_DOTL_TRUNC, 0644, NULL), -ELOOP);
	assert_int_equal(t_lcreate(f, 30, "passwd", P9_DOTL_WRONLY, 0644, NULL), -ELOOP);
	/* A hard link to a symlink is a link to the link, in the share. */
	assert_int_equal(t_walk1(f, ROOT, 31, "sib", NULL), 0);
	assert_int_equal(t_link(f, ROOT, 31, "sib2"), 0);
	struct stat st;
	assert_int_equal(lstat(hpath(f, "sib2"), &st), 0);
	assert_true(S_ISLNK(st.st_mode));

	/* The secret and /etc/passwd are untouched. */
	assert_int_equal(host_read(secret_rel, buf, sizeof(buf)), (ssize_t)strlen(SECRET));
	assert_string_equal(buf, SECRET);
	assert_true(stat("/etc/passwd", &st) == 0 && st.st_size > 0);
	fx_free(f);
}

static void names_are_one_component(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);

	assert_int_equal(mkdir(hpath(f, "a"), 0755), 0);
	assert_int_equal(mkdir(hpath(f, "a/b"), 0755), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "a/b", NULL), -EINVAL);
	assert_int_equal(t_walk1(f, ROOT, 2, "/", NULL), -EINVAL);
	assert_int_equal(t_walk1(f, ROOT, 2, "../outside", NULL), -EINVAL);
	assert_int_equal(t_walk1(f, ROOT, 2, "", NULL), -EINVAL);
	const char *later_bad[] = { "a", "b/../../..", "c" };
	assert_int_equal(t_walk(f, ROOT, 2, 3, later_bad, NULL), -EINVAL); /* checked up front */
	assert_int_equal(t_clunk(f, 2), -EBADF);
	assert_int_equal(t_lcreate(f, ROOT, "../outside/x", P9_DOTL_WRONLY, 0644, NULL), -EINVAL);
	assert_int_equal(t_lcreate(f, ROOT, "..", P9_DOTL_WRONLY, 0644, NULL), -EINVAL);
	assert_int_equal(t_mkdir(f, ROOT, "x/y", 0755), -EINVAL);
	assert_int_equal(t_mkdir(f, ROOT, "..", 0755), -EINVAL);
	assert_int_equal(t_mkdir(f, ROOT, ".", 0755), -EINVAL);
	assert_int_equal(t_symlink(f, ROOT, "a/l", "x"), -EINVAL);
	assert_int_equal(t_unlinkat(f, ROOT, "a/b", P9_DOTL_AT_REMOVEDIR), -EINVAL);
	assert_int_equal(t_unlinkat(f, ROOT, "..", P9_DOTL_AT_REMOVEDIR), -EINVAL);
	assert_int_equal(t_renameat(f, ROOT, "a", ROOT, "../outside/a"), -EINVAL);
	assert_int_equal(t_renameat(f, ROOT, "..", ROOT, "x"), -EINVAL);
	assert_int_equal(t_mknod(f, ROOT, "a/f", S_IFREG | 0644, 0, 0), -EINVAL);
	assert_true(host_exists(hpath(f, "a/b")));

	/* A NUL inside a name. */
	struct msg *m = m_new(f, P9_TWALK);
	m_u32(m, ROOT);
	m_u32(m, 2);
	m_u16(m, 1);
	m_u16(m, 3);
	m_bytes(m, "a\0b", 3);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* Too long. */
	char longname[300];
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(t_walk1(f, ROOT, 2, longname, NULL), -ENAMETOOLONG);
	/* "." stays. */
	assert_int_equal(t_walk1(f, ROOT, 2, ".", NULL), 0);
	fx_free(f);
}

/*
 * The guest walks to a directory, then (through another path, or a host
 * process does) the directory is replaced by a symlink pointing out of the
 * share.  Everything the old fid does stays with the directory it walked
 * to; a fresh walk sees a symlink and cannot go through it.
 */
static void rename_race_cannot_escape(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	char out_file[PATH_MAX], root_file[PATH_MAX], name[64];

	snprintf(name, sizeof(name), "ember-9p-escape-%d", (int)getpid());
	snprintf(out_file, sizeof(out_file), "%s/%s", f->outside, name);
	snprintf(root_file, sizeof(root_file), "/%s", name);
	assert_int_equal(mkdir(hpath(f, "sub"), 0755), 0);
	assert_int_equal(mkdir(hpath(f, "sub2"), 0755), 0);
	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "sub", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 3, "sub2", NULL), 0);

	/* sub moves away and a symlink to outside takes its name. */
	assert_int_equal(rename(hpath(f, "sub"), hpath(f, "sub.old")), 0);
	assert_int_equal(symlink(f->outside, hpath(f, "sub")), 0);
	assert_int_equal(t_lcreate(f, 2, name, P9_DOTL_WRONLY, 0644, NULL), 0);
	char in_old[128];
	snprintf(in_old, sizeof(in_old), "sub.old/%s", name);
	assert_true(host_exists(hpath(f, in_old)));
	assert_false(host_exists(out_file));

	/* sub2 is deleted and a symlink to / takes its name. */
	assert_int_equal(rmdir(hpath(f, "sub2")), 0);
	assert_int_equal(symlink("/", hpath(f, "sub2")), 0);
	int rc = t_lcreate(f, 3, name, P9_DOTL_WRONLY, 0644, NULL);
	assert_int_equal(rc, -ENOENT);
	assert_int_equal(t_mkdir(f, 3, name, 0755), -ENOENT);
	bool leaked = host_exists(root_file);
	if (leaked)
		remove(root_file);
	assert_false(leaked);

	/* The guest does the swap itself, with renameat and symlink. */
	assert_int_equal(t_mkdir(f, ROOT, "d", 0755), 0);
	assert_int_equal(t_walk1(f, ROOT, 4, "d", NULL), 0);
	assert_int_equal(t_renameat(f, ROOT, "d", ROOT, "d.old"), 0);
	assert_int_equal(t_symlink(f, ROOT, "d", f->outside), 0);
	assert_int_equal(t_lcreate(f, 4, name, P9_DOTL_WRONLY, 0644, NULL), 0);
	assert_false(host_exists(out_file));
	snprintf(in_old, sizeof(in_old), "d.old/%s", name);
	assert_true(host_exists(hpath(f, in_old)));
	/* A fresh walk through the new name stops at the symlink. */
	const char *through[] = { "d", "secret" };
	assert_int_equal(t_walk(f, ROOT, 5, 2, through, NULL), 1);
	fx_free(f);
}

/* A listing of a tree: names, types, modes, sizes, mtimes, contents, link targets. */
static char snapshot_buf[1 << 16];
static size_t snapshot_len;

static int snap_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)flag;
	(void)ftw;
	char extra[256] = "";
	if (S_ISREG(st->st_mode))
		host_read(path, extra, sizeof(extra));
	else if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlink(path, extra, sizeof(extra) - 1);
		extra[n > 0 ? n : 0] = '\0';
	}
	snapshot_len += (size_t)snprintf(snapshot_buf + snapshot_len,
					 sizeof(snapshot_buf) - snapshot_len,
					 "%s %o %lld %lld.%09ld %s\n", path, st->st_mode,
					 (long long)st->st_size, (long long)st->st_mtim.tv_sec,
					 st->st_mtim.tv_nsec, extra);
	assert_true(snapshot_len < sizeof(snapshot_buf));
	return 0;
}

static char *snapshot(const char *dir)
{
	snapshot_len = 0;
	assert_int_equal(nftw(dir, snap_one, 16, FTW_PHYS), 0);
	return strdup(snapshot_buf);
}

static void read_only_share(void **state)
{
	(void)state;
	struct fx *f = fx_new(true);
	char buf[32];

	assert_int_equal(mkdir(hpath(f, "dir"), 0755), 0);
	host_write(hpath(f, "file"), "read only");
	host_write(hpath(f, "dir/inner"), "inner");
	assert_int_equal(symlink("file", hpath(f, "link")), 0);
	char *before = snapshot(f->share);

	session(f);
	assert_int_equal(t_walk1(f, ROOT, 2, "file", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 3, "dir", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 4, ".", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 5, "dir", NULL), 0);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_WRONLY), -EROFS);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDWR), -EROFS);
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY | P9_DOTL_TRUNC), -EROFS);
	assert_int_equal(t_lcreate(f, 4, "new", P9_DOTL_WRONLY, 0644, NULL), -EROFS);
	assert_int_equal(t_lcreate(f, 4, "file", P9_DOTL_RDONLY, 0644, NULL), -EROFS);
	assert_int_equal(t_mkdir(f, ROOT, "newdir", 0755), -EROFS);
	assert_int_equal(t_mknod(f, ROOT, "fifo", S_IFIFO | 0644, 0, 0), -EROFS);
	assert_int_equal(t_symlink(f, ROOT, "l2", "file"), -EROFS);
	assert_int_equal(t_link(f, ROOT, 2, "hard"), -EROFS);
	assert_int_equal(t_unlinkat(f, ROOT, "file", 0), -EROFS);
	assert_int_equal(t_unlinkat(f, 3, "inner", 0), -EROFS);
	assert_int_equal(t_renameat(f, ROOT, "file", ROOT, "renamed"), -EROFS);
	assert_int_equal(t_rename(f, 2, ROOT, "renamed"), -EROFS);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_SIZE, 0, 0, 0), -EROFS);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MODE, 0777, 0, 0), -EROFS);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_MTIME | P9_ATTR_MTIME_SET, 0, 0, 5), -EROFS);
	assert_int_equal(t_setattr(f, 2, P9_ATTR_ATIME, 0, 0, 0), -EROFS);
	assert_int_equal(t_remove(f, 5), -EROFS);
	assert_int_equal(t_clunk(f, 5), -EBADF); /* clunked even so */

	/* Reading works; so does fsync. */
	assert_int_equal(t_lopen(f, 2, P9_DOTL_RDONLY), 0);
	assert_int_equal(t_read(f, 2, 0, sizeof(buf), buf), 9);
	assert_int_equal(t_write(f, 2, 0, "x", 1), -EROFS);
	assert_int_equal(t_fsync(f, 2), 0);
	assert_int_equal(t_lopen(f, 3, P9_DOTL_RDONLY), 0);
	struct listing l = { 0 };
	uint64_t off;
	assert_true(t_readdir(f, 3, 0, 4096, collect, &l, &off) > 0);
	assert_int_equal(l.n, 3);

	char *after = snapshot(f->share);
	assert_string_equal(before, after);
	free(before);
	free(after);
	fx_free(f);
}

/* ---- malformed requests ------------------------------------------------------------ */

static void malformed_requests(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	struct msg *m;

	session(f);
	/* Size field bigger / smaller than the message. */
	m = m_new(f, P9_TCLUNK);
	m_u32(m, ROOT);
	uint32_t wrong = (uint32_t)m->n + 1;
	memcpy(m->b, &wrong, 4);
	assert_int_equal(send_raw(f, m, m->n), -EINVAL);
	wrong = (uint32_t)m->n - 1;
	memcpy(m->b, &wrong, 4);
	assert_int_equal(send_raw(f, m, m->n), -EINVAL);
	wrong = 0xffffffff;
	memcpy(m->b, &wrong, 4);
	assert_int_equal(send_raw(f, m, m->n), -EINVAL);
	/* A truncated body (size agrees, fields missing). */
	m = m_new(f, P9_TWALK);
	m_u32(m, ROOT);
	m_u16(m, 2);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* A string that runs past the end. */
	m = m_new(f, P9_TWALK);
	m_u32(m, ROOT);
	m_u32(m, 2);
	m_u16(m, 1);
	m_u16(m, 200);
	m_bytes(m, "abc", 3);
	assert_int_equal(send_msg(f, m), -EINVAL);
	assert_int_equal(t_clunk(f, 2), -EBADF);
	/* Seventeen names. */
	const char *many[17];
	for (int i = 0; i < 17; i++)
		many[i] = ".";
	assert_int_equal(t_walk(f, ROOT, 2, 17, many, NULL), -EINVAL);
	assert_int_equal(t_walk(f, ROOT, 2, 16, many, NULL), 16);
	/* Twrite whose count runs past the message. */
	m = m_new(f, P9_TWRITE);
	m_u32(m, ROOT);
	m_u64(m, 0);
	m_u32(m, 1000);
	m_bytes(m, "short", 5);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* Offsets past what off_t holds. */
	m = m_new(f, P9_TREAD);
	m_u32(m, ROOT);
	m_u64(m, UINT64_MAX);
	m_u32(m, 10);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* Unknown types, R-messages, 9P2000 messages, Tauth. */
	uint8_t types[] = { 0, 1, 99, 101, 102, 103, 112, 114, 124, 126, 255, P9_TLERROR, P9_RREAD };
	for (unsigned i = 0; i < sizeof(types); i++) {
		m = m_new(f, types[i]);
		m_u32(m, ROOT);
		assert_int_equal(send_msg(f, m), -EOPNOTSUPP);
	}
	/* Tlopen with access mode 3. */
	assert_int_equal(t_lopen(f, ROOT, 3), -EINVAL);
	/* Header-only message of a type that needs fields. */
	m = m_new(f, P9_TGETATTR);
	assert_int_equal(send_msg(f, m), -EINVAL);
	/* No header at all, or no room for a reply: no answer, for the transport to handle. */
	uint8_t tiny[6] = { 6, 0, 0, 0, P9_TCLUNK, 0 };
	assert_int_equal(p9_server_handle(&f->srv, tiny, sizeof(tiny), f->rep, f->cap), 0);
	m = m_new(f, P9_TCLUNK);
	m_u32(m, 99);
	uint32_t n = (uint32_t)m->n;
	memcpy(m->b, &n, 4);
	assert_int_equal(p9_server_handle(&f->srv, m->b, m->n, f->rep, 10), 0);
	assert_int_equal(p9_server_handle(&f->srv, m->b, m->n, f->rep, 11), 11);
	/* Still serving. */
	struct attr a;
	assert_int_equal(t_getattr(f, ROOT, &a), 0);
	fx_free(f);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

/*
 * Random messages, some pure noise, most made of plausible fields (small
 * fids, short names, real types): no crash, every reply well framed, and
 * nothing outside the share changes.
 */
static void fuzz_requests(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);
	static const uint8_t types[] = {
		P9_TSTATFS, P9_TLOPEN, P9_TLCREATE, P9_TSYMLINK, P9_TMKNOD, P9_TRENAME,
		P9_TREADLINK, P9_TGETATTR, P9_TSETATTR, P9_TXATTRWALK, P9_TXATTRCREATE,
		P9_TREADDIR, P9_TFSYNC, P9_TLOCK, P9_TGETLOCK, P9_TLINK, P9_TMKDIR,
		P9_TRENAMEAT, P9_TUNLINKAT, P9_TATTACH, P9_TFLUSH, P9_TWALK, P9_TREAD,
		P9_TWRITE, P9_TCLUNK, P9_TREMOVE, P9_TVERSION,
	};
	static const char *const names[] = { "a", "b", "..", ".", "", "x/y", "sub", "f",
					     "user.a", "security.capability", "user.virtfs.uid",
					     "trusted.t" };
	const unsigned nr_names = sizeof(names) / sizeof(names[0]);
	char *outside_before = snapshot(f->outside);

	assert_int_equal(mkdir(hpath(f, "sub"), 0755), 0);
	host_write(hpath(f, "f"), "data");
	session(f);
	for (int iter = 0; iter < 20000; iter++) {
		struct msg *m = m_new(f, types[rnd() % sizeof(types)]);
		if (m->b[4] == P9_TVERSION && rnd() % 8)
			m->b[4] = P9_TWALK; /* keep sessions long */
		if (rnd() % 4 == 0) {
			unsigned len = rnd() % 64;
			for (unsigned i = 0; i < len; i++)
				m_u8(m, (uint8_t)rnd());
		} else {
			unsigned fields = rnd() % 8;
			for (unsigned i = 0; i < fields; i++) {
				switch (rnd() % 6) {
				case 0: m_u32(m, rnd() % 6); break;          /* a fid */
				case 1: m_u16(m, (uint16_t)(rnd() % 4)); break;
				case 2: m_str(m, names[rnd() % nr_names]); break;
				case 3: m_u64(m, rnd() % 128); break;
				case 4: m_u32(m, rnd()); break;
				default: m_u8(m, (uint8_t)rnd()); break;
				}
			}
		}
		uint32_t n = (uint32_t)m->n;
		if (rnd() % 16 == 0)
			n += rnd() % 3 - 1; /* a lying size field now and then */
		memcpy(m->b, &n, 4);
		f->cap = rnd() % 8 ? P9_MAX_MSIZE : 11 + rnd() % 64;
		size_t r = p9_server_handle(&f->srv, m->b, m->n, f->rep, f->cap);
		assert_true(r >= P9_HDR_SIZE && r <= f->cap);
		uint32_t size;
		memcpy(&size, f->rep, 4);
		assert_int_equal(size, r);
		if (!f->srv.msize || rnd() % 500 == 0) { /* a reset or a lost session: start again */
			f->cap = P9_MAX_MSIZE;
			p9_server_reset(&f->srv);
			session(f);
		}
		assert_true(f->srv.nr_fids <= f->srv.max_fids);
	}
	char *outside_after = snapshot(f->outside);
	assert_string_equal(outside_before, outside_after);
	free(outside_before);
	free(outside_after);
	fx_free(f);
}

static void fid_limit(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);

	f->srv.max_fids = 8;
	session(f); /* fid 1 */
	for (uint32_t fid = 2; fid <= 8; fid++)
		assert_int_equal(t_walk1(f, ROOT, fid, ".", NULL), 0);
	assert_int_equal(t_walk1(f, ROOT, 9, ".", NULL), -EMFILE);
	assert_int_equal(t_attach(f, 9, NULL), -EMFILE);
	struct msg *m = m_new(f, P9_TXATTRWALK);
	m_u32(m, ROOT);
	m_u32(m, 9);
	m_str(m, "");
	assert_int_equal(send_msg(f, m), -EMFILE);
	/* Walking a fid onto itself needs no new one. */
	assert_int_equal(t_walk1(f, 8, 8, ".", NULL), 0);
	assert_int_equal(t_clunk(f, 8), 0);
	assert_int_equal(t_walk1(f, ROOT, 9, ".", NULL), 0);
	assert_int_equal(f->srv.nr_fids, 8);
	/* P9_NOFID is never a fid. */
	assert_int_equal(t_clunk(f, 9), 0);
	assert_int_equal(t_walk1(f, ROOT, P9_NOFID, ".", NULL), -EINVAL);
	fx_free(f);
}

/* The default limit holds, and every fid's descriptors go back when clunked. */
static void many_fids(void **state)
{
	(void)state;
	struct fx *f = fx_new(false);

	session(f);
	host_write(hpath(f, "f"), "x");
	assert_int_equal(f->srv.max_fids, P9_DEFAULT_MAX_FIDS);
	int probe = open("/dev/null", O_RDONLY | O_CLOEXEC); /* the lowest free descriptor */
	close(probe);
	for (uint32_t fid = 2; fid < 300; fid++)
		assert_int_equal(t_walk1(f, ROOT, fid, "f", NULL), 0);
	for (uint32_t fid = 2; fid < 300; fid++)
		assert_int_equal(t_clunk(f, fid), 0);
	int probe2 = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(probe2, probe); /* no descriptor leaked */
	close(probe2);
	fx_free(f);
}

/* ---- the virtio glue ---------------------------------------------------------------- */

#define MiB (1ULL << 20)
#define QSIZE 16
#define DESC_GPA 0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA 0x3000
#define REQ_GPA 0x10000
#define REP_GPA 0x20000
#define MEM_SIZE (1 * MiB)

struct vfx {
	struct machine vm;
	struct virtio_9p *v;
	struct fx *tree;
	uint16_t avail_idx;
};

static void *gptr(struct vfx *g, uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&g->vm.mem, gpa, len);
	assert_non_null(p);
	return p;
}

static struct vfx *vfx_new(const char *tag)
{
	struct vfx *g = calloc(1, sizeof(*g));
	struct ember_err err = { "" };
	assert_non_null(g);
	g->tree = fx_new(false);
	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	if (guest_memory_create(&g->vm.mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
	g->v = malloc(sizeof(*g->v));
	struct p9_share share = { .host_dir = g->tree->share, .tag = tag, .read_only = false };
	if (virtio_9p_init(g->v, &share, &err))
		fail_msg("virtio_9p_init: %s", err.msg);
	struct virtio_device *dev = &g->v->dev;
	dev->machine = &g->vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	dev->driver_features = dev->features | (1ULL << VIRTIO_F_VERSION_1);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK;
	struct virtq *q = &dev->vq[0];
	q->size = QSIZE;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	assert_int_equal(virtq_start(q, &g->vm.mem, false, false), 0);
	q->ready = true;
	return g;
}

static void vfx_free(struct vfx *g)
{
	virtio_9p_uninit(g->v);
	pthread_mutex_destroy(&g->v->dev.lock);
	free(g->v);
	guest_memory_destroy(&g->vm.mem);
	fx_free(g->tree);
	free(g);
}

/* A chain of `in` readable bytes at REQ_GPA and `out` writable bytes at REP_GPA, processed. */
static struct virtq_used_elem vrequest(struct vfx *g, const struct msg *m, uint32_t in_len,
				       uint32_t out_len)
{
	memcpy(gptr(g, REQ_GPA, m->n), m->b, m->n);
	volatile struct virtq_desc *d = gptr(g, DESC_GPA, 32);
	d[0].addr = REQ_GPA;
	d[0].len = in_len;
	d[0].flags = VIRTQ_DESC_F_NEXT;
	d[0].next = 1;
	d[1].addr = REP_GPA;
	d[1].len = out_len;
	d[1].flags = VIRTQ_DESC_F_WRITE;
	uint16_t *avail = gptr(g, AVAIL_GPA, 6 + 2 * QSIZE);
	avail[2 + g->avail_idx % QSIZE] = 0;
	g->avail_idx++;
	__atomic_store_n(&avail[1], g->avail_idx, __ATOMIC_RELEASE);

	uint16_t *used = gptr(g, USED_GPA, 4 + 8 * QSIZE);
	uint16_t before = used[1];
	pthread_mutex_lock(&g->v->dev.lock);
	virtio_9p_process_queue(&g->v->dev);
	pthread_mutex_unlock(&g->v->dev.lock);
	if (used[1] == before)
		return (struct virtq_used_elem){ 0xffff, 0 };
	struct virtq_used_elem *ring = gptr(g, USED_GPA + 4, 8 * QSIZE);
	return ring[before % QSIZE];
}

static void virtio_glue(void **state)
{
	(void)state;
	struct vfx *g = vfx_new("share0");
	struct virtio_device *dev = &g->v->dev;
	uint8_t cfg[8] = { 0 };

	assert_int_equal(dev->device_id, VIRTIO_ID_9P);
	assert_true(dev->features & (1ULL << VIRTIO_9P_MOUNT_TAG));
	assert_int_equal(dev->queue_service[0], VIRTIO_QUEUE_ON_WORKER);
	assert_int_equal(dev->config_size, 2 + 6);
	dev->ops->config_read(dev, 0, cfg, 8);
	assert_int_equal(cfg[0] | cfg[1] << 8, 6);
	assert_memory_equal(cfg + 2, "share0", 6);

	/* Tversion through the queue. */
	struct msg *m = m_new(g->tree, P9_TVERSION);
	m_u32(m, 65536);
	m_str(m, "9P2000.L");
	uint32_t n = (uint32_t)m->n;
	memcpy(m->b, &n, 4);
	struct virtq_used_elem e = vrequest(g, m, n, 4096);
	assert_int_equal(e.id, 0);
	assert_int_equal(e.len, 7 + 4 + 2 + 8);
	uint8_t *rep = gptr(g, REP_GPA, e.len);
	assert_int_equal(rep[4], P9_RVERSION);
	assert_int_equal(rep[7] | rep[8] << 8 | rep[9] << 16, 65536);

	/* The readable part longer than the size field says: an Rlerror, not a reset. */
	m = m_new(g->tree, P9_TATTACH);
	m_u32(m, ROOT);
	m_u32(m, P9_NOFID);
	m_str(m, "");
	m_str(m, "");
	m_u32(m, 0);
	n = (uint32_t)m->n;
	memcpy(m->b, &n, 4);
	e = vrequest(g, m, n + 4, 4096);
	assert_int_equal(e.len, P9_RLERROR_SIZE);
	rep = gptr(g, REP_GPA, e.len);
	assert_int_equal(rep[4], P9_RLERROR);
	assert_int_equal(rep[7], EINVAL);
	e = vrequest(g, m, n, 4096);
	assert_int_equal(e.len, 7 + 13);
	assert_int_equal(rep[4], P9_RATTACH);
	assert_false(dev->status & VIRTIO_STATUS_NEEDS_RESET);

	/* Reset: fids and msize forgotten. */
	dev->ops->reset(dev);
	assert_int_equal(g->v->srv.msize, 0);
	assert_int_equal(g->v->srv.nr_fids, 0);

	/* No room for even an Rlerror: the driver broke the protocol. */
	e = vrequest(g, m, n, 10);
	assert_int_equal(e.id, 0xffff);
	assert_true(dev->status & VIRTIO_STATUS_NEEDS_RESET);
	vfx_free(g);

	/* A request shorter than the header. */
	g = vfx_new("t");
	m = m_new(g->tree, P9_TCLUNK);
	e = vrequest(g, m, 5, 100);
	assert_int_equal(e.id, 0xffff);
	assert_true(g->v->dev.status & VIRTIO_STATUS_NEEDS_RESET);
	vfx_free(g);
}

/* Sends m (its size field filled in here) through the queue; returns the reply's type. */
static uint8_t vsend(struct vfx *g, struct msg *m)
{
	uint32_t n = (uint32_t)m->n;
	memcpy(m->b, &n, 4);
	struct virtq_used_elem e = vrequest(g, m, n, 4096);
	assert_int_equal(e.id, 0);
	assert_true(e.len >= P9_HDR_SIZE);
	return ((uint8_t *)gptr(g, REP_GPA, e.len))[4];
}

/* virtio_mmio_save of the device: 0, or -errno with err saying why. */
static int vsave(struct vfx *g, struct ember_err *err)
{
	struct virtio_mmio t;
	struct snapshot_writer w = { 0 };

	virtio_mmio_init(&t, &g->v->dev);
	err->msg[0] = '\0';
	int rc = virtio_mmio_save(&t, 0, &w, err);
	if (rc == 0)
		assert_int_equal(w.count, 1); /* the transport's section only: nothing of the share's own */
	snapshot_writer_free(&w);
	return rc;
}

/* Host fds and paths cannot travel in a snapshot: a share the guest holds files of refuses. */
static void snapshot_refused_while_fids_are_held(void **state)
{
	(void)state;
	struct vfx *g = vfx_new("share0");
	struct ember_err err = { "" };

	/* Nothing mounted yet (a warm-start snapshot): saved. */
	assert_int_equal(vsave(g, &err), 0);
	struct msg *m = m_new(g->tree, P9_TVERSION);
	m_u32(m, 65536);
	m_str(m, "9P2000.L");
	assert_int_equal(vsend(g, m), P9_RVERSION);
	assert_int_equal(vsave(g, &err), 0);

	/* Mounted: the root fid is held. */
	m = m_new(g->tree, P9_TATTACH);
	m_u32(m, ROOT);
	m_u32(m, P9_NOFID);
	m_str(m, "root");
	m_str(m, "");
	m_u32(m, 0);
	assert_int_equal(vsend(g, m), P9_RATTACH);
	assert_int_equal(vsave(g, &err), -EBUSY);
	assert_non_null(strstr(err.msg, g->tree->share));
	assert_non_null(strstr(err.msg, "files open"));
	assert_non_null(strstr(err.msg, "(1 fids)"));

	/* A second fid (a walk of no names clones ROOT): the count says so. */
	m = m_new(g->tree, P9_TWALK);
	m_u32(m, ROOT);
	m_u32(m, 2);
	m_u16(m, 0);
	assert_int_equal(vsend(g, m), P9_RWALK);
	assert_int_equal(vsave(g, &err), -EBUSY);
	assert_non_null(strstr(err.msg, "(2 fids)"));

	/* Clunked one by one: refused until the last one goes. */
	m = m_new(g->tree, P9_TCLUNK);
	m_u32(m, 2);
	assert_int_equal(vsend(g, m), P9_RCLUNK);
	assert_int_equal(vsave(g, &err), -EBUSY);
	m = m_new(g->tree, P9_TCLUNK);
	m_u32(m, ROOT);
	assert_int_equal(vsend(g, m), P9_RCLUNK);
	assert_int_equal(vsave(g, &err), 0);
	assert_int_equal(err.msg[0], '\0');
	vfx_free(g);
}

static void virtio_init_errors(void **state)
{
	(void)state;
	struct virtio_9p v;
	struct ember_err err = { "" };
	char longtag[300];

	memset(longtag, 't', sizeof(longtag) - 1);
	longtag[sizeof(longtag) - 1] = '\0';
	struct p9_share share = { .host_dir = "/nonexistent/ember-9p", .tag = "share0" };
	assert_int_equal(virtio_9p_init(&v, &share, &err), -ENOENT);
	assert_non_null(strstr(err.msg, "--share /nonexistent/ember-9p"));
	share.host_dir = "/etc/passwd";
	assert_int_equal(virtio_9p_init(&v, &share, &err), -ENOTDIR);
	share.host_dir = "/tmp";
	share.tag = "";
	assert_int_equal(virtio_9p_init(&v, &share, &err), -EINVAL);
	share.tag = longtag;
	assert_int_equal(virtio_9p_init(&v, &share, &err), -EINVAL);
	share.tag = "ok";
	assert_int_equal(virtio_9p_init(&v, &share, &err), 0);
	virtio_9p_uninit(&v);
}

/* The same test on an own=mapped share. */
#define MAPPED(test) cmocka_unit_test_setup_teardown(test, use_mapped, use_host)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(version_negotiation),
		cmocka_unit_test(attach_walk_getattr),
		cmocka_unit_test(create_write_read),
		cmocka_unit_test(read_is_bounded),
		cmocka_unit_test(readdir_across_calls),
		cmocka_unit_test(mkdir_unlink_rename),
		cmocka_unit_test(symlink_readlink),
		cmocka_unit_test(statfs_matches_host),
		cmocka_unit_test(setattr_truncate_mode_times),
		cmocka_unit_test(mknod_and_special_files),
		cmocka_unit_test(xattr_lock_flush),
		MAPPED(mapped_create_owner_mode),
		MAPPED(mapped_chown_chmod),
		MAPPED(mapped_special_files),
		MAPPED(mapped_readdir_types),
		MAPPED(mapped_symlinks),
		MAPPED(mapped_tree_without_attributes),
		cmocka_unit_test(host_refuses_special_bits),
		cmocka_unit_test(xattr_round_trip),
		MAPPED(xattr_round_trip),
		cmocka_unit_test(xattr_bookkeeping_hidden),
		MAPPED(xattr_bookkeeping_hidden),
		cmocka_unit_test(xattr_protocol_errors),
		cmocka_unit_test(mapped_needs_user_xattrs),
		cmocka_unit_test(dotdot_stays_in_share),
		MAPPED(dotdot_stays_in_share),
		cmocka_unit_test(symlinks_do_not_escape),
		MAPPED(symlinks_do_not_escape),
		cmocka_unit_test(names_are_one_component),
		MAPPED(names_are_one_component),
		cmocka_unit_test(rename_race_cannot_escape),
		MAPPED(rename_race_cannot_escape),
		cmocka_unit_test(read_only_share),
		MAPPED(read_only_share),
		cmocka_unit_test(malformed_requests),
		MAPPED(malformed_requests),
		cmocka_unit_test(fuzz_requests),
		MAPPED(fuzz_requests),
		cmocka_unit_test(fid_limit),
		cmocka_unit_test(many_fids),
		cmocka_unit_test(virtio_glue),
		cmocka_unit_test(virtio_init_errors),
		cmocka_unit_test(snapshot_refused_while_fids_are_held),
	};
	return cmocka_run_group_tests_name("virtio-9p", tests, NULL, NULL);
}
