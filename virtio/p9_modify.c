// SPDX-License-Identifier: GPL-2.0-only
/*
 * 9P2000.L requests that change the share: create, mkdir, mknod, symlink,
 * link, unlink, rename, remove, setattr.  p9_server.c refuses all of them
 * with EROFS on a read-only share before they get here (Tremove checks
 * itself, because it clunks its fid either way).
 *
 * Ownership and modes, own=host: new files belong to ember's uid/gid (the
 * guest's gid field is ignored, nothing is chowned), and their modes are
 * the guest's masked with 0777: no setuid, setgid or sticky bits (a
 * Tsetattr asking for them fails with EPERM), and never a host device
 * node (Tmknod makes regular files and fifos only).
 *
 * own=mapped (p9_own.c): every new object is a host regular file or
 * directory of ember's with a plain mode, and the guest's owner (the
 * creating fid's Tattach uid, the request's gid), mode, type and device
 * number go to its user.virtfs.* attributes; Tsetattr changes those, not
 * the host's owner.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

static bool mapped(const struct p9_server *s)
{
	return s->own == P9_OWN_MAPPED;
}

/*
 * Mapped share: `name`, just made in dir, open as fd, gets the guest's
 * owner, mode and device number and its exact host mode, and its qid goes
 * to out (unless NULL).  On failure it is removed again: an object
 * without its attributes would read as root's.
 */
static int mapped_made(int dir, const char *name, int fd, const struct p9_owner *o,
		       struct p9_out *out)
{
	mode_t host = p9_own_host_mode(o->mode);
	struct stat st;
	int rc = fstat(fd, &st) < 0 ? -errno : p9_owner_write(fd, o);

	if (!rc && (st.st_mode & 07777) != host && fchmod(fd, host) < 0)
		rc = -errno; /* the host's umask cut it */
	if (rc) {
		unlinkat(dir, name, S_ISDIR(o->mode) ? AT_REMOVEDIR : 0);
		return rc;
	}
	if (out) {
		struct p9_qid qid = p9_qid_of_mode(o->mode, st.st_ino);
		p9_put_qid(out, &qid);
	}
	return 0;
}

/* The attributes of a new object in a mapped share. */
static struct p9_owner new_owner(const struct p9_fid *dir, uint32_t gid, mode_t mode)
{
	return (struct p9_owner){ .uid = dir->uid, .gid = gid, .mode = mode,
				  .has = P9_OWNER_UID | P9_OWNER_GID | P9_OWNER_MODE };
}

/* Tlcreate: create and open `name` in directory fid, which then stands for the new file. */
int p9_lcreate(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t flags = p9_get32(in), mode = p9_get32(in) & (mapped(s) ? 07777 : P9_MODE_MASK);
	uint32_t gid = p9_get32(in); /* own=host: ignored, files are ours */
	struct p9_fid *f;
	struct stat st;
	bool created = true;

	if (in->bad || (flags & P9_DOTL_ACCMODE) == P9_DOTL_ACCMODE)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &f)))
		return rc;
	if (f->iofd >= 0)
		return -EINVAL;
	int host = p9_host_open_flags(flags);
	mode_t host_mode = mapped(s) ? p9_own_host_mode(S_IFREG | mode) : mode;
	int fd = p9_openat(f->fd, name, host | O_CREAT | O_EXCL, host_mode);
	if (fd == -EEXIST && !(flags & P9_DOTL_EXCL)) {
		/*
		 * Open what is there, as open(O_CREAT) would, if it is a regular
		 * file (never a host device: opening one can have effects), and
		 * never through a symlink (O_NOFOLLOW).
		 */
		struct stat view;
		if (fstatat(f->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		view = st;
		if (mapped(s) && S_ISREG(st.st_mode)) {
			/*
			 * A regular file to the guest too, not a mapped symlink,
			 * device, fifo or socket: asked before the open below,
			 * whose O_TRUNC would empty a symlink's target.
			 */
			struct p9_node n = { .fd = -1, .dirfd = f->fd, .name = name, .mode = st.st_mode,
					     .gtype = S_IFREG, .dev = st.st_dev, .ino = st.st_ino };
			p9_own_view(s, &n, -1, &view);
		}
		if (!S_ISREG(view.st_mode))
			return S_ISDIR(view.st_mode) ? -EISDIR : S_ISLNK(view.st_mode) ? -ELOOP : -EPERM;
		fd = p9_openat(f->fd, name, host | O_NONBLOCK, 0);
		created = false;
	}
	if (fd < 0)
		return fd;
	dev_t dev = st.st_dev;
	ino_t ino = st.st_ino;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = -EPERM;
		goto fail;
	}
	if (!created && (st.st_dev != dev || st.st_ino != ino)) {
		rc = -ESTALE; /* the name changed hands between the checks and the open */
		goto fail;
	}
	if (created && mapped(s)) {
		struct p9_owner o = new_owner(f, gid, S_IFREG | mode);
		if ((rc = mapped_made(f->fd, name, fd, &o, NULL)))
			goto fail;
	} else if (created && (st.st_mode & P9_MODE_MASK) != mode && fchmod(fd, mode) < 0) {
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
	f->gtype = S_IFREG;
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
	uint32_t mode = p9_get32(in) & (mapped(s) ? 07777 : P9_MODE_MASK);
	uint32_t gid = p9_get32(in);
	struct p9_fid *d;

	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	if (!mapped(s)) {
		if (mkdirat(d->fd, name, mode) < 0)
			return -errno;
		return made(d->fd, name, (int)mode, out);
	}
	struct p9_owner o = new_owner(d, gid, S_IFDIR | mode);
	if (mkdirat(d->fd, name, p9_own_host_mode(o.mode)) < 0)
		return -errno;
	int fd = p9_openat(d->fd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		unlinkat(d->fd, name, AT_REMOVEDIR);
		return fd;
	}
	rc = mapped_made(d->fd, name, fd, &o, out);
	close(fd);
	return rc;
}

int p9_mknod(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	char name[P9_NAME_MAX + 1];
	int rc = p9_get_name(in, name, false);
	uint32_t mode = p9_get32(in);
	uint32_t major = p9_get32(in), minor = p9_get32(in), gid = p9_get32(in);
	struct p9_fid *d;

	if (in->bad)
		return -EINVAL;
	if (rc || (rc = dir_fid(s, fid, &d)))
		return rc;
	mode_t type = mode & S_IFMT;
	if (type == 0)
		type = S_IFREG; /* mknod(2): a zero type is a regular file */
	if (mapped(s)) {
		/* Every kind a host regular file with the attributes: no host device, fifo or socket. */
		if (type != S_IFREG && type != S_IFCHR && type != S_IFBLK && type != S_IFIFO &&
		    type != S_IFSOCK)
			return -EINVAL; /* as mknod(2) */
		struct p9_owner o = new_owner(d, gid, type | (mode & 07777));
		if (S_ISCHR(type) || S_ISBLK(type)) {
			o.rdev = makedev(major, minor);
			o.has |= P9_OWNER_RDEV;
		}
		int fd = p9_openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL, p9_own_host_mode(o.mode));
		if (fd < 0)
			return fd;
		rc = mapped_made(d->fd, name, fd, &o, out);
		close(fd);
		return rc;
	}
	if (type != S_IFREG && type != S_IFIFO)
		return -EPERM; /* device nodes would reach host devices; sockets have no use here */
	if (mknodat(d->fd, name, type | (mode & P9_MODE_MASK), 0) < 0)
		return -errno;
	return made(d->fd, name, (int)(mode & P9_MODE_MASK), out);
}

/*
 * A mapped share's symlink is a host regular file that holds the target
 * (as QEMU's), so it can carry an owner like anything else; the server
 * still never follows it, and readlink reads it back.
 */
static int mapped_symlink(const struct p9_fid *d, uint32_t gid, const char *name,
			  const char *target, size_t len, struct p9_out *out)
{
	struct p9_owner o = new_owner(d, gid, S_IFLNK | 0777);
	int fd = p9_openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL, p9_own_host_mode(o.mode));
	if (fd < 0)
		return fd;
	int rc = 0;
	for (size_t done = 0; !rc && done < len;) {
		ssize_t n = write(fd, target + done, len - done);
		if (n > 0)
			done += (size_t)n;
		else if (n == 0 || errno != EINTR)
			rc = n == 0 ? -EIO : -errno;
	}
	if (rc)
		unlinkat(d->fd, name, 0);
	else
		rc = mapped_made(d->fd, name, fd, &o, out);
	close(fd);
	return rc;
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
	uint32_t gid = p9_get32(in);
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
	if (mapped(s))
		return mapped_symlink(d, gid, name, target, len, out);
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
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
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
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
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
 * Mapped share: a new mode and owner go to the attributes.  The host mode
 * of a regular file follows (its execute bit), best effort: a file that
 * came with the tree may not be ember's to chmod, and its attributes
 * already say what the guest sees.  A host symlink, fifo, socket or
 * device node cannot hold attributes (Linux allows user ones on regular
 * files and directories only): it keeps what it reports, root's and the
 * host's mode, and a change to anything else is EPERM.
 */
static int mapped_setattr(struct p9_server *s, struct p9_fid *f, uint32_t valid, uint32_t mode,
			  uint32_t uid, uint32_t gid)
{
	struct p9_node n;
	struct p9_owner o = { 0 };
	struct stat st;
	int rc;

	p9_node_of_fid(f, &n);
	if (!S_ISREG(f->mode) && !S_ISDIR(f->mode)) {
		if ((rc = p9_stat_fd(f->fd, &st)))
			return rc;
		p9_own_view(s, &n, -1, &st);
		if ((valid & P9_ATTR_MODE && (mode & 07777) != (st.st_mode & 07777)) ||
		    (valid & P9_ATTR_UID && uid != st.st_uid) ||
		    (valid & P9_ATTR_GID && gid != st.st_gid))
			return -EPERM;
		return 0;
	}
	if (valid & P9_ATTR_MODE) {
		o.mode = f->gtype | (mode & 07777);
		o.has |= P9_OWNER_MODE;
	}
	if (valid & P9_ATTR_UID) {
		o.uid = uid;
		o.has |= P9_OWNER_UID;
	}
	if (valid & P9_ATTR_GID) {
		o.gid = gid;
		o.has |= P9_OWNER_GID;
	}
	int fd = f->iofd >= 0 ? f->iofd : p9_open_node(&n, O_RDONLY);
	if (fd < 0)
		return fd;
	rc = p9_owner_write(fd, &o);
	if (!rc && (valid & P9_ATTR_MODE) && S_ISREG(f->mode) && fstat(fd, &st) == 0) {
		mode_t host = p9_own_host_mode(o.mode);
		if ((st.st_mode & 07777) != host)
			(void)fchmod(fd, host); /* best effort, see above */
	}
	if (fd != f->iofd)
		close(fd);
	return rc;
}

/*
 * Tsetattr: mode, owner, size, times; in that order, so the times asked
 * for are the ones that stay.  The first failure ends it.  own=host: the
 * mode masked 0777, and EPERM if it asks for setuid, setgid or sticky
 * (dropping them quietly would have the guest believe they are set);
 * the owner is what the host lets ember do (the kernel decides).
 * own=mapped: mode and owner as the guest says, in the attributes.
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
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if ((valid & P9_ATTR_MODE) && S_ISLNK(f->gtype))
		return -EOPNOTSUPP; /* Linux has no lchmod */
	if (mapped(s)) {
		if ((valid & (P9_ATTR_MODE | P9_ATTR_UID | P9_ATTR_GID)) &&
		    (rc = mapped_setattr(s, f, valid, mode, uid, gid)))
			return rc;
	} else if (valid & P9_ATTR_MODE) {
		if (mode & 07000)
			return -EPERM;
		if ((rc = p9_set_mode(f->fd, f->dirfd, f->name, mode & P9_MODE_MASK)))
			return rc;
	}
	if (!mapped(s) && (valid & (P9_ATTR_UID | P9_ATTR_GID))) {
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
