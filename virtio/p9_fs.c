// SPDX-License-Identifier: GPL-2.0-only
/*
 * The 9P server's fid table and every host file-system access that
 * resolves a name (see p9_server.h for the confinement argument).
 *
 * Resolve flags, and why: RESOLVE_BENEATH refuses any resolution that
 * leaves the directory fd (absolute paths, "..", symlinks pointing out);
 * RESOLVE_NO_SYMLINKS because 9P clients follow symlinks themselves, so
 * the server never needs to; RESOLVE_NO_MAGICLINKS is implied but stated;
 * RESOLVE_NO_XDEV keeps the share one file system: a mount below the
 * share (set up by anyone, at any time) is not silently exported, and the
 * qid path, which is the inode number, stays unique (two file systems
 * could hand the guest the same inode number for different files, and
 * Linux's 9p client caches inodes by qid).  A directory mounted below the
 * share shows in listings but walking into it fails with EXDEV.
 */
#include "virtio/p9_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif
#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452 /* Linux 6.6; the same number on every architecture */
#endif

#define P9_RESOLVE (RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
#define P9_MAX_DEPTH 4096 /* ".." checks give up past this many levels */

/* ---- the fid table ---------------------------------------------------------- */

static struct p9_fid **bucket(struct p9_server *s, uint32_t id)
{
	return &s->fids[id % P9_FID_BUCKETS];
}

struct p9_fid *p9_fid_get(struct p9_server *s, uint32_t id)
{
	for (struct p9_fid *f = *bucket(s, id); f; f = f->next)
		if (f->id == id)
			return f;
	return NULL;
}

int p9_object_fid(struct p9_server *s, uint32_t id, struct p9_fid **f)
{
	*f = p9_fid_get(s, id);
	if (!*f)
		return -EBADF;
	return (*f)->xattr ? -EINVAL : 0;
}

int p9_fid_new(struct p9_server *s, uint32_t id, struct p9_fid **out)
{
	if (id == P9_NOFID)
		return -EINVAL; /* "no fid" in Tattach's afid: never a fid itself */
	if (p9_fid_get(s, id))
		return -EEXIST;
	if (s->nr_fids >= s->max_fids)
		return -EMFILE;
	struct p9_fid *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->id = id;
	f->fd = f->dirfd = f->iofd = -1;
	f->next = *bucket(s, id);
	*bucket(s, id) = f;
	s->nr_fids++;
	*out = f;
	return 0;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void p9_fid_empty(struct p9_server *s, struct p9_fid *f)
{
	close_fd(&f->fd);
	close_fd(&f->dirfd);
	close_fd(&f->iofd);
	free(f->name);
	f->name = NULL;
	p9_xattr_free(s, f);
}

void p9_fid_clunk(struct p9_server *s, struct p9_fid *f)
{
	for (struct p9_fid **p = bucket(s, f->id); *p; p = &(*p)->next) {
		if (*p == f) {
			*p = f->next;
			break;
		}
	}
	p9_fid_empty(s, f);
	free(f);
	s->nr_fids--;
}

void p9_fid_clunk_all(struct p9_server *s)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++)
		while (s->fids[b])
			p9_fid_clunk(s, s->fids[b]);
}

/* ---- nodes ------------------------------------------------------------------ */

void p9_node_init(struct p9_node *n)
{
	memset(n, 0, sizeof(*n));
	n->fd = n->dirfd = -1;
}

void p9_node_release(struct p9_node *n)
{
	close_fd(&n->fd);
	close_fd(&n->dirfd);
	free(n->name);
	p9_node_init(n);
}

void p9_node_of_fid(const struct p9_fid *f, struct p9_node *n)
{
	*n = (struct p9_node){ .fd = f->fd, .dirfd = f->dirfd, .name = f->name, .mode = f->mode,
			       .gtype = f->gtype, .dev = f->dev, .ino = f->ino, .pdev = f->pdev,
			       .pino = f->pino };
}

int p9_node_dup(const struct p9_node *from, struct p9_node *to)
{
	p9_node_init(to);
	*to = *from;
	to->fd = to->dirfd = -1;
	to->name = NULL;
	if ((to->fd = fcntl(from->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		goto fail;
	if (from->dirfd >= 0 && (to->dirfd = fcntl(from->dirfd, F_DUPFD_CLOEXEC, 0)) < 0)
		goto fail;
	if (from->name && !(to->name = strdup(from->name))) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail: {
	int e = errno;
	p9_node_release(to);
	return -e;
}
}

void p9_node_move(struct p9_node *n, struct p9_fid *f)
{
	f->fd = n->fd;
	f->dirfd = n->dirfd;
	f->name = n->name;
	f->mode = n->mode;
	f->gtype = n->gtype;
	f->dev = n->dev;
	f->ino = n->ino;
	f->pdev = n->pdev;
	f->pino = n->pino;
	p9_node_init(n);
}

int p9_stat_fd(int fd, struct stat *st)
{
	return fstatat(fd, "", st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

int p9_node_root(struct p9_server *s, struct p9_node *n)
{
	p9_node_init(n);
	n->fd = fcntl(s->root_fd, F_DUPFD_CLOEXEC, 0);
	if (n->fd < 0)
		return -errno;
	n->mode = n->gtype = S_IFDIR;
	n->dev = s->root_dev;
	n->ino = s->root_ino;
	return 0;
}

static bool is_root(const struct p9_server *s, dev_t dev, ino_t ino)
{
	return dev == s->root_dev && ino == s->root_ino;
}

/* ---- resolving names -------------------------------------------------------- */

/*
 * Where openat2() is missing (Linux < 5.6, or a sandbox or valgrind that
 * answers ENOSYS): the same confinement for the one component every
 * caller passes.  O_NOFOLLOW keeps the only component from being followed
 * if it is a symlink, and ".." and '/' never get here; what is left of
 * RESOLVE_NO_XDEV is checked after the fact (the object must be on the
 * directory's device).
 */
static int openat_compat(int dirfd, const char *name, int flags, mode_t mode)
{
	struct stat dir, st;
	int fd;

	do
		fd = openat(dirfd, name, flags, mode);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return -errno;
	if (p9_stat_fd(dirfd, &dir) < 0 || p9_stat_fd(fd, &st) < 0 || st.st_dev != dir.st_dev) {
		close(fd);
		return -EXDEV;
	}
	return fd;
}

int p9_openat(int dirfd, const char *name, int flags, mode_t mode)
{
	/* One component, never upwards: the callers checked already; this is the last line. */
	if (!name[0] || strchr(name, '/') || !strcmp(name, ".."))
		return -EINVAL;

	/* openat2 refuses O_PATH with flags that mean nothing to it, such as O_NOCTTY. */
	int extra = flags & O_PATH ? 0 : O_NOCTTY;
	struct open_how how = {
		.flags = (uint64_t)(flags | O_NOFOLLOW | O_CLOEXEC | extra),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = P9_RESOLVE,
	};
	long fd;

	do
		fd = syscall(SYS_openat2, dirfd, name, &how, sizeof(how));
	while (fd < 0 && errno == EINTR);
	if (fd < 0 && errno == ENOSYS)
		return openat_compat(dirfd, name, (int)how.flags, (mode_t)how.mode);
	return fd < 0 ? -errno : (int)fd;
}

/*
 * Is directory `fd` the share's root or inside it?  Climbs with ".." (not
 * RESOLVE_BENEATH: that refuses ".." outright) until it meets the root, or
 * the top of the host's tree (a directory that is its own parent).
 */
static bool within_share(const struct p9_server *s, int fd)
{
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	bool found = false;

	for (unsigned depth = 0; cur >= 0 && depth < P9_MAX_DEPTH; depth++) {
		struct stat here, up;
		if (p9_stat_fd(cur, &here) < 0)
			break;
		if (is_root(s, here.st_dev, here.st_ino)) {
			found = true;
			break;
		}
		int parent = openat(cur, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (parent < 0 || p9_stat_fd(parent, &up) < 0 ||
		    (up.st_dev == here.st_dev && up.st_ino == here.st_ino)) {
			if (parent >= 0)
				close(parent);
			break;
		}
		close(cur);
		cur = parent;
	}
	if (cur >= 0)
		close(cur);
	return found;
}

/*
 * ".." from a directory that is not the root.  The guest can only reach
 * directories inside the share, so their parent is inside too; the climb
 * in within_share() makes sure of it even if the host moved a directory
 * out of the share under a fid.  The result has no name (9P never needs
 * one for a directory reached this way but for Tremove and Trename, which
 * then fail).
 */
static int walk_parent(struct p9_server *s, const struct p9_node *from, struct p9_node *to)
{
	struct stat st;

	if (is_root(s, from->dev, from->ino))
		return p9_node_root(s, to);
	p9_node_init(to);
	int fd = openat(from->fd, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = p9_stat_fd(fd, &st);
	if (!rc && !within_share(s, fd))
		rc = -EACCES;
	if (rc) {
		close(fd);
		return rc;
	}
	to->fd = fd;
	to->mode = st.st_mode;
	to->gtype = S_IFDIR;
	to->dev = st.st_dev;
	to->ino = st.st_ino;
	return 0;
}

int p9_walk_one(struct p9_server *s, const struct p9_node *from, const char *name,
		struct p9_node *to)
{
	struct stat st;

	p9_node_init(to);
	if (!S_ISDIR(from->mode))
		return -ENOTDIR;
	if (!strcmp(name, "."))
		return p9_node_dup(from, to);
	if (!strcmp(name, ".."))
		return walk_parent(s, from, to);

	int fd = p9_openat(from->fd, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	int rc = p9_stat_fd(fd, &st);
	if (!rc && (to->dirfd = fcntl(from->fd, F_DUPFD_CLOEXEC, 0)) < 0)
		rc = -errno;
	if (!rc && !(to->name = strdup(name)))
		rc = -ENOMEM;
	to->fd = fd;
	if (rc) {
		p9_node_release(to);
		return rc;
	}
	to->mode = st.st_mode;
	to->gtype = st.st_mode & S_IFMT;
	to->dev = st.st_dev;
	to->ino = st.st_ino;
	to->pdev = from->dev;
	to->pino = from->ino;
	if (s->own == P9_OWN_MAPPED && S_ISREG(st.st_mode)) {
		/* A host regular file may stand for a symlink, a device, a fifo or a socket. */
		p9_own_view(s, to, -1, &st);
		to->gtype = st.st_mode & S_IFMT;
	}
	return 0;
}

int p9_open_node(const struct p9_node *n, int flags)
{
	struct stat st;
	int fd;

	flags |= O_NONBLOCK;
	if (S_ISDIR(n->mode))
		return p9_openat(n->fd, ".", flags | O_DIRECTORY, 0);
	if (!S_ISREG(n->mode))
		return -EPERM; /* never open host devices, fifos or sockets */
	if (!n->name)
		return -ESTALE;
	fd = p9_openat(n->dirfd, n->name, flags, 0);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0 || st.st_dev != n->dev || st.st_ino != n->ino) {
		close(fd);
		return -ESTALE; /* the name now holds something else */
	}
	return fd;
}

int p9_reopen(struct p9_fid *f, int flags)
{
	struct p9_node n;

	if (f->xattr)
		return -EINVAL;
	/* A symlink, a host one or a mapped one (a file holding the target), is never opened. */
	if (S_ISLNK(f->gtype))
		return -ELOOP;
	if (!S_ISREG(f->gtype) && !S_ISDIR(f->gtype))
		return -EPERM; /* devices, fifos and sockets, the host's or mapped ones */
	p9_node_of_fid(f, &n);
	return p9_open_node(&n, flags);
}

int p9_check_name(const struct p9_fid *f)
{
	struct stat st;

	if (!f->name)
		return -EBUSY; /* the root, or a directory reached by ".." */
	if (fstatat(f->dirfd, f->name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	return st.st_dev == f->dev && st.st_ino == f->ino ? 0 : -ESTALE;
}

/*
 * Exact modes: the host's umask must not change what the guest asked for
 * (its own umask is applied already).  fchmodat2() with AT_EMPTY_PATH
 * works on an O_PATH fd; before Linux 6.6 a readable fd of a regular file
 * or directory is opened instead, so there a file the server cannot read,
 * a fifo or a symlink cannot have its mode changed (EACCES, EOPNOTSUPP).
 */
int p9_set_mode(int fd, int dirfd, const char *name, mode_t mode)
{
	struct stat st;

	if (syscall(SYS_fchmodat2, fd, "", mode, AT_EMPTY_PATH) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	int rc = p9_stat_fd(fd, &st);
	if (rc)
		return rc;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
		return -EOPNOTSUPP; /* never open a fifo or a device to chmod it */
	int ofd = S_ISDIR(st.st_mode) ? p9_openat(fd, ".", O_RDONLY | O_DIRECTORY, 0) :
		  name ? p9_openat(dirfd, name, O_RDONLY | O_NONBLOCK, 0) : -ESTALE;
	if (ofd < 0)
		return ofd;
	struct stat ost;
	rc = fstat(ofd, &ost) < 0 ? -errno :
	     ost.st_dev != st.st_dev || ost.st_ino != st.st_ino ? -ESTALE :
	     fchmod(ofd, mode) < 0 ? -errno : 0;
	close(ofd);
	return rc;
}

void p9_fids_renamed(struct p9_server *s, dev_t odev, ino_t oino, const char *oldname,
		     int newdirfd, dev_t ndev, ino_t nino, const char *newname)
{
	for (unsigned b = 0; b < P9_FID_BUCKETS; b++) {
		for (struct p9_fid *f = s->fids[b]; f; f = f->next) {
			if (!f->name || f->pdev != odev || f->pino != oino || strcmp(f->name, oldname))
				continue;
			int dirfd = fcntl(newdirfd, F_DUPFD_CLOEXEC, 0);
			char *name = strdup(newname);
			if (dirfd < 0 || !name) {
				/* out of fds or memory: the fid keeps its stale name (ESTALE later) */
				if (dirfd >= 0)
					close(dirfd);
				free(name);
				continue;
			}
			close_fd(&f->dirfd);
			free(f->name);
			f->dirfd = dirfd;
			f->name = name;
			f->pdev = ndev;
			f->pino = nino;
		}
	}
}

struct p9_qid p9_qid_of_mode(mode_t mode, ino_t ino)
{
	uint8_t type = S_ISDIR(mode) ? P9_QTDIR : S_ISLNK(mode) ? P9_QTSYMLINK : P9_QTFILE;
	/* version 0: the client's caches compare it, and we keep no change counter */
	return (struct p9_qid){ type, 0, (uint64_t)ino };
}

struct p9_qid p9_qid_of(const struct stat *st)
{
	return p9_qid_of_mode(st->st_mode, st->st_ino);
}

int p9_host_open_flags(uint32_t fl)
{
	static const int acc[] = { O_RDONLY, O_WRONLY, O_RDWR };
	int flags = acc[(fl & P9_DOTL_ACCMODE) % 3];

	if (fl & P9_DOTL_TRUNC)
		flags |= O_TRUNC;
	if (fl & P9_DOTL_APPEND)
		flags |= O_APPEND;
	if (fl & P9_DOTL_DSYNC)
		flags |= O_DSYNC;
	if (fl & P9_DOTL_SYNC)
		flags |= O_SYNC;
	/*
	 * Dropped on purpose: O_DIRECT (our buffers are not aligned),
	 * O_NOATIME (owner only), O_CREAT/O_EXCL (Tlcreate's business),
	 * O_NONBLOCK, O_ASYNC, O_CLOEXEC (added always or meaningless here).
	 */
	return flags;
}

bool p9_flags_write(uint32_t fl)
{
	return (fl & P9_DOTL_ACCMODE) != P9_DOTL_RDONLY || (fl & P9_DOTL_TRUNC);
}
