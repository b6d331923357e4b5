// SPDX-License-Identifier: GPL-2.0-only
/*
 * The mapped ownership model (own=mapped): the guest's owner, group, mode
 * (file type and setuid/setgid/sticky included) and device number of an
 * object live in four user extended attributes on the host object, with
 * QEMU's names and encodings (hw/9pfs/9p-local.c, security_model=
 * mapped-xattr), so a tree made through either server reads the same
 * through the other:
 *
 *   user.virtfs.uid   4 bytes, little endian     user.virtfs.mode  4 bytes, LE
 *   user.virtfs.gid   4 bytes, little endian     user.virtfs.rdev  8 bytes, LE
 *
 * On the host everything stays ember's user's and harmless: regular files
 * 0600 (0700 when the guest has any execute bit on a regular file),
 * directories 0700, never a setuid, setgid or sticky bit.  What the guest
 * calls a symlink, a device node, a fifo or a socket is a host regular
 * file (a symlink's holds its target, as QEMU's do), so no host device is
 * ever made and no host fifo can block the server.  Permission checks are
 * the guest kernel's (the mount uses access=client); the server only
 * keeps what the guest sets.
 *
 * An object without the attributes (a tree made on the host, say by
 * debootstrap) reads as owned by uid 0 and gid 0, with the host's mode,
 * type and device number: each missing attribute falls back on its own.
 * Linux allows user attributes on regular files and directories only, so
 * a host symlink, fifo, socket or device node in the tree can never carry
 * any: it keeps that default view.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "virtio/p9_fs.h"

static uint32_t le32_get(const uint8_t b[4])
{
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void le32_put(uint8_t b[4], uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> 8 * i);
}

/* Exactly `size` bytes of attribute `name`, or false (absent, too long, too short, unreadable). */
static bool get_exact(int fd, const char *name, uint8_t *buf, size_t size)
{
	uint8_t tmp[16];
	ssize_t n = fgetxattr(fd, name, tmp, sizeof(tmp));
	if (n != (ssize_t)size)
		return false;
	memcpy(buf, tmp, size);
	return true;
}

void p9_owner_read(int fd, struct p9_owner *o)
{
	uint8_t b[8];

	memset(o, 0, sizeof(*o));
	if (get_exact(fd, P9_XATTR_UID, b, 4)) {
		o->uid = le32_get(b);
		o->has |= P9_OWNER_UID;
	}
	if (get_exact(fd, P9_XATTR_GID, b, 4)) {
		o->gid = le32_get(b);
		o->has |= P9_OWNER_GID;
	}
	if (get_exact(fd, P9_XATTR_MODE, b, 4)) {
		o->mode = le32_get(b);
		o->has |= P9_OWNER_MODE;
	}
	if (get_exact(fd, P9_XATTR_RDEV, b, 8)) {
		o->rdev = (uint64_t)le32_get(b) | (uint64_t)le32_get(b + 4) << 32;
		o->has |= P9_OWNER_RDEV;
	}
}

static int set_attr(int fd, const char *name, const uint8_t *b, size_t size)
{
	return fsetxattr(fd, name, b, size, 0) < 0 ? -errno : 0;
}

int p9_owner_write(int fd, const struct p9_owner *o)
{
	uint8_t b[8];
	int rc = 0;

	if (!rc && (o->has & P9_OWNER_UID)) {
		le32_put(b, o->uid);
		rc = set_attr(fd, P9_XATTR_UID, b, 4);
	}
	if (!rc && (o->has & P9_OWNER_GID)) {
		le32_put(b, o->gid);
		rc = set_attr(fd, P9_XATTR_GID, b, 4);
	}
	if (!rc && (o->has & P9_OWNER_MODE)) {
		le32_put(b, o->mode);
		rc = set_attr(fd, P9_XATTR_MODE, b, 4);
	}
	if (!rc && (o->has & P9_OWNER_RDEV)) {
		le32_put(b, (uint32_t)o->rdev);
		le32_put(b + 4, (uint32_t)(o->rdev >> 32));
		rc = set_attr(fd, P9_XATTR_RDEV, b, 8);
	}
	return rc;
}

/*
 * The type a host regular file may stand for; anything else in the
 * attribute (a directory, junk) leaves it a regular file.  A host
 * directory is always a directory to the guest: walking into it must work.
 */
static mode_t mapped_type(mode_t host, uint32_t mode)
{
	if (S_ISDIR(host))
		return S_IFDIR;
	switch (mode & S_IFMT) {
	case S_IFREG: case S_IFLNK: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		return mode & S_IFMT;
	default:
		return S_IFREG;
	}
}

void p9_owner_apply(const struct p9_owner *o, struct stat *st)
{
	st->st_uid = o->has & P9_OWNER_UID ? o->uid : 0;
	st->st_gid = o->has & P9_OWNER_GID ? o->gid : 0;
	if (o->has & P9_OWNER_MODE)
		st->st_mode = mapped_type(st->st_mode, o->mode) | (o->mode & 07777);
	if (o->has & P9_OWNER_RDEV)
		st->st_rdev = (dev_t)o->rdev;
	if (!S_ISCHR(st->st_mode) && !S_ISBLK(st->st_mode))
		st->st_rdev = 0;
}

mode_t p9_own_host_mode(mode_t guest_mode)
{
	if (S_ISDIR(guest_mode))
		return 0700;
	/* The owner's execute bit follows the guest's, for regular files only. */
	return S_ISREG(guest_mode) && (guest_mode & 0111) ? 0700 : 0600;
}

void p9_own_view(const struct p9_server *s, const struct p9_node *n, int iofd, struct stat *st)
{
	struct p9_owner o = { 0 };

	if (s->own != P9_OWN_MAPPED)
		return;
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)) {
		/* Unreadable (EACCES, ESTALE...): read as a file without attributes. */
		int fd = iofd >= 0 ? iofd : p9_open_node(n, O_RDONLY);
		if (fd >= 0) {
			p9_owner_read(fd, &o);
			if (fd != iofd)
				close(fd);
		}
	}
	p9_owner_apply(&o, st);
}
