// SPDX-License-Identifier: GPL-2.0-only
/*
 * 9P2000.L requests that change the share: create, mkdir, mknod, symlink,
 * link, unlink, rename, remove, setattr.  p9_server.c refuses all of them
 * with EROFS on a read-only share before they get here (Tremove checks
 * itself, because it clunks its fid either way).
 *
 * Ownership and modes: new files belong to ember's uid/gid (the guest's
 * gid field is ignored, nothing is chowned), and their modes are the
 * guest's masked with 0777: no setuid, setgid or sticky bits, and never
 * a host device node (Tmknod makes regular files and fifos only).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "virtio/p9_fs.h"

#define P9_MODE_MASK 0777

/* A directory fid to create in, or an error. */
static int dir_fid(struct p9_server *s, uint32_t id, struct p9_fid **f)
{
	*f = p9_fid_get(s, id);
	if (!*f)
		return -EBADF;
	if ((*f)->xattr)
		return -EINVAL;
	return S_ISDIR((*f)->mode) ? 0 : -ENOTDIR;
}

/*
 * The reply for `name`, just made in dir: its qid.  And its exact mode
 * (mode < 0: leave it, a symlink), best effort: the object exists either
 * way, so a failure here (see p9_set_mode) leaves the umask's mode rather
 * than reporting an error for a request that did its job.
 */
static int made(int dir, const char *name, int mode, struct p9_out *out)
{
	struct stat st;
	int fd = p9_openat(dir, name, O_PATH, 0);
	if (fd < 0)
		return fd;
	int rc = p9_stat_fd(fd, &st);
	if (!rc && mode >= 0 && (st.st_mode & P9_MODE_MASK) != (mode_t)mode)
		p9_set_mode(fd, dir, name, (mode_t)mode);
	close(fd);
	if (rc)
		return rc;
	struct p9_qid qid = p9_qid_of(&st);
	p9_put_qid(out, &qid);
	return 0;
}

/* Tlcreate: create and open `name` in directory fid, which then stands for the new file. */
int p9_lcreate(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t flags = p9_get32(in), mode = p9_get32(in) & P9_MODE_MASK;
	struct p9_fid *f;
	struct stat st;
	bool created = true;

	p9_get32(in); /* gid: files are ours */
	if (in->bad || (flags & P9_DOTL_ACCMODE) == P9_DOTL_ACCMODE)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &f)))
		return rc;
	if (f->iofd >= 0)
		return -EINVAL;
	int host = p9_host_open_flags(flags);
	int fd = p9_openat(f->fd, name, host | O_CREAT | O_EXCL, mode);
	if (fd == -EEXIST && !(flags & P9_DOTL_EXCL)) {
		/*
		 * Open what is there, as open(O_CREAT) would, if it is a regular
		 * file (never a host device: opening one can have effects), and
		 * never through a symlink (O_NOFOLLOW).
		 */
		if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		if (!S_ISREG(st.st_mode))
			return S_ISDIR(st.st_mode) ? -EISDIR : S_ISLNK(st.st_mode) ? -ELOOP : -EPERM;
		fd = p9_openat(f->fd, name, host | O_NONBLOCK, 0);
		created = false;
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EPERM;
		goto fail;
	}
	if (created && (st.st_mode & P9_MODE_MASK) != mode && fchmod(fd, mode) < 0) {
		rc = -errno; /* the host's umask cut the mode: restore the guest's */
		goto fail;
	}
	int self = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	char *copy = strdup(name);
	if (self < 0 || !copy) {
		rc = self < 0 ? -errno : -ENOMEM;
		if (self >= 0)
			close(self);
		free(copy);
		goto fail;
	}
	/* The directory's O_PATH fd becomes the new file's dirfd. */
	if (f->dirfd >= 0)
		close(f->dirfd);
	free(f->name);
	f->pdev = f->dev;
	f->pino = f->ino;
	f->dirfd = f->fd;
	f->name = copy;
	f->fd = self;
	f->iofd = fd;
	f->ioflags = host;
	f->mode = st.st_mode;
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	struct p9_qid qid = p9_qid_of(&st);
	p9_put_qid(out, &qid);
	p9_put32(out, 0);
	return 0;
fail:
	close(fd);
	return rc;
}

int p9_mkdir(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t mode = p9_get32(in) & P9_MODE_MASK;
	struct p9_fid *d;

	p9_get32(in); /* gid */
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	if (mkdirat(d->fd, name, mode) < 0)
		return -errno;
	return made(d->fd, name, (int)mode, out);
}

int p9_mknod(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t mode = p9_get32(in);
	struct p9_fid *d;

	p9_get32(in); /* major */
	p9_get32(in); /* minor */
	p9_get32(in); /* gid */
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	mode_t type = mode & S_IFMT;
	if (type == 0)
		type = S_IFREG; /* mknod(2): a zero type is a regular file */
	if (type != S_IFREG && type != S_IFIFO)
		return -EPERM; /* device nodes would reach host devices; sockets have no use here */
	if (mknodat(d->fd, name, type | (mode & P9_MODE_MASK), 0) < 0)
		return -errno;
	return made(d->fd, name, (int)(mode & P9_MODE_MASK), out);
}

int p9_symlink(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1], target[PATH_MAX];
	int rc = p9_get_name(in, name, false);
	const char *t;
	uint16_t len;
	struct p9_fid *d;

	p9_get_str(in, &t, &len);
	p9_get32(in); /* gid */
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	/* The target is only stored: the server never follows it, the guest resolves it itself. */
	if (len == 0)
		return -ENOENT;
	if (len >= sizeof(target))
		return -ENAMETOOLONG;
	if (memchr(t, '\0', len))
		return -EINVAL;
	memcpy(target, t, len);
	target[len] = '\0';
	if (symlinkat(target, d->fd, name) < 0)
		return -errno;
	return made(d->fd, name, -1, out);
}

/* Tlink: a new name in dfid for the object of fid (by its name: linkat never follows it). */
int p9_link(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t dfid = p9_get32(in), fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	struct p9_fid *d, *f;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, dfid, &d)))
		return rc;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		return -EINVAL;
	if (S_ISDIR(f->mode))
		return -EPERM;
	if ((rc = p9_check_name(f)))
		return rc;
	return linkat(f->dirfd, f->name, d->fd, name, 0) < 0 ? -errno : 0;
}

int p9_unlinkat(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t flags = p9_get32(in);
	struct p9_fid *d;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	int host = flags & P9_DOTL_AT_REMOVEDIR ? AT_REMOVEDIR : 0;
	return unlinkat(d->fd, name, host) < 0 ? -errno : 0;
}

int p9_renameat(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t ofid = p9_get32(in);
	char oldname[P9_NAME_MAX + 1], newname[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, oldname, false);
	uint32_t nfid = p9_get32(in);
	int rc2 = p9_get_name(in, newname, false);
	struct p9_fid *od, *nd;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = rc2) || (rc = dir_fid(s, ofid, &od)) || (rc = dir_fid(s, nfid, &nd)))
		return rc;
	if (renameat(od->fd, oldname, nd->fd, newname) < 0)
		return -errno;
	p9_fids_renamed(s, od->dev, od->ino, oldname, nd->fd, nd->dev, nd->ino, newname);
	return 0;
}

/* Trename: fid's object moves to `name` in dfid (the old form of Trenameat). */
int p9_rename(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), dfid = p9_get32(in);
	char name[P9_NAME_MAX + 1], oldname[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	struct p9_fid *f, *d;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, dfid, &d)))
		return rc;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		return -EINVAL;
	if ((rc = p9_check_name(f)))
		return rc;
	if (renameat(f->dirfd, f->name, d->fd, name) < 0)
		return -errno;
	/* f->name changes under p9_fids_renamed(): pass copies. */
	snprintf(oldname, sizeof(oldname), "%s", f->name);
	p9_fids_renamed(s, f->pdev, f->pino, oldname, d->fd, d->dev, d->ino, name);
	return 0;
}

/* Tremove: unlink fid's object and clunk the fid, whether the unlink worked or not. */
int p9_remove(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	struct p9_fid *f;
	int rc;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (s->read_only)
		rc = -EROFS;
	else if (f->xattr)
		rc = -EINVAL;
	else if (!(rc = p9_check_name(f)))
		rc = unlinkat(f->dirfd, f->name, S_ISDIR(f->mode) ? AT_REMOVEDIR : 0) < 0 ? -errno : 0;
	p9_fid_clunk(s, f);
	return rc;
}

static struct timespec setattr_time(bool change, bool set, uint64_t sec, uint64_t nsec)
{
	if (!change)
		return (struct timespec){ 0, UTIME_OMIT };
	if (!set)
		return (struct timespec){ 0, UTIME_NOW };
	return (struct timespec){ (time_t)sec, (long)nsec };
}

/* ftruncate on the fid's own writable fd, else on one opened for the purpose. */
static int truncate_fid(struct p9_fid *f, uint64_t size)
{
	if (size > INT64_MAX)
		return -EFBIG;
	bool writable = f->iofd >= 0 && (f->ioflags & O_ACCMODE) != O_RDONLY;
	int fd = writable ? f->iofd : p9_reopen(f, O_WRONLY);
	if (fd < 0)
		return fd;
	int rc = ftruncate(fd, (off_t)size) < 0 ? -errno : 0;
	if (!writable)
		close(fd);
	return rc;
}

/*
 * Tsetattr: mode (masked 0777), owner (only what the host lets ember do:
 * the kernel decides), size, times; in that order, so the times asked for
 * are the ones that stay.  The first failure ends it.
 */
int p9_setattr(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), valid = p9_get32(in), mode = p9_get32(in);
	uint32_t uid = p9_get32(in), gid = p9_get32(in);
	uint64_t size = p9_get64(in);
	uint64_t asec = p9_get64(in), ansec = p9_get64(in);
	uint64_t msec = p9_get64(in), mnsec = p9_get64(in);
	struct p9_fid *f;
	int rc = 0;

	(void)out;
	if (in->bad)
		return -EINVAL;
	if (!(f = p9_fid_get(s, fid)))
		return -EBADF;
	if (f->xattr)
		return -EINVAL;
	if (valid & P9_ATTR_MODE) {
		if (S_ISLNK(f->mode))
			return -EOPNOTSUPP;
		if ((rc = p9_set_mode(f->fd, f->dirfd, f->name, mode & P9_MODE_MASK)))
			return rc;
	}
	if (valid & (P9_ATTR_UID | P9_ATTR_GID)) {
		uid_t u = valid & P9_ATTR_UID ? uid : (uid_t)-1;
		gid_t g = valid & P9_ATTR_GID ? gid : (gid_t)-1;
		if (fchownat(f->fd, "", u, g, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	if ((valid & P9_ATTR_SIZE) && (rc = truncate_fid(f, size)))
		return rc;
	if (valid & (P9_ATTR_ATIME | P9_ATTR_MTIME)) {
		if ((valid & P9_ATTR_ATIME_SET && ansec >= 1000000000) ||
		    (valid & P9_ATTR_MTIME_SET && mnsec >= 1000000000) || asec > INT64_MAX ||
		    msec > INT64_MAX)
			return -EINVAL;
		struct timespec ts[2] = {
			setattr_time(valid & P9_ATTR_ATIME, valid & P9_ATTR_ATIME_SET, asec, ansec),
			setattr_time(valid & P9_ATTR_MTIME, valid & P9_ATTR_MTIME_SET, msec, mnsec),
		};
		if (utimensat(f->fd, "", ts, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
	}
	/* P9_ATTR_CTIME alone: any change above moved ctime already; nothing to set. */
	return 0;
}
