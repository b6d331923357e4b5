// SPDX-License-Identifier: GPL-2.0-only
/*
 * Extended attributes over 9P2000.L (the diod protocol description; Linux
 * fs/9p/xattr.c is the client):
 *   getxattr   Txattrwalk fid newfid name -> size; Tread newfid; Tclunk
 *   listxattr  the same with an empty name: the names, NUL terminated
 *   setxattr   Txattrcreate fid name size flags (fid becomes an xattr
 *              fid); Twrite the value; Tclunk sets it, and its reply
 *              carries the outcome
 *   removexattr  Txattrcreate with size 0 and XATTR_REPLACE, then Tclunk
 *              (Linux sends exactly that; setting an empty value sends
 *              size 0 with the caller's flags)
 *
 * Which names, on either ownership model:
 *   user.*          stored as they are, on what the guest sees as a
 *                   regular file or a directory (Linux allows user
 *                   attributes on nothing else)
 *   security.*      stored as user.virtfs.security.* (setcap, SELinux
 *                   labels inside the guest): a guest's file capability
 *                   or label never becomes a host one, and ember needs no
 *                   privilege to keep it
 *   user.virtfs.*   the server's bookkeeping (p9_own.c): never listed,
 *                   reads say ENODATA, writes EPERM, in both models
 *   anything else   EOPNOTSUPP (trusted.*, system.*: no ACLs on 9p mounts)
 * Host attributes of other namespaces (a host SELinux label, ACLs) are
 * not shown.  Only a host regular file or directory can hold any: a host
 * symlink, fifo, socket or device node in the share has none.
 *
 * Values are held in the fid, at most 64 KiB each (XATTR_SIZE_MAX) and
 * P9_XATTR_BUDGET in all, so a guest holding many xattr fids cannot make
 * the server allocate without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "virtio/p9_fs.h"

#define XA_NAME_MAX 255        /* XATTR_NAME_MAX */
#define XA_SIZE_MAX 65536      /* XATTR_SIZE_MAX, and XATTR_LIST_MAX for lists */
#define XA_SECURITY_HOST P9_XATTR_PREFIX "security."

struct p9_xattr {
	bool create;           /* Txattrcreate: set at clunk; else a Txattrwalk's value or list */
	int flags;             /* XATTR_CREATE, XATTR_REPLACE */
	char name[XA_NAME_MAX + 1]; /* the host name to set (create) */
	uint8_t *value;
	size_t size;           /* bytes held (walk) or announced (create) */
	size_t filled;         /* create: bytes written so far, in order */
};

static bool has_prefix(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

enum xa_class { XA_USER, XA_SECURITY, XA_HIDDEN };

/*
 * The host name for a guest's name (len bytes, not NUL terminated), and
 * its class; or -errno: EINVAL (empty, a NUL byte, nothing after the
 * namespace), ERANGE (too long, as Linux says), EOPNOTSUPP (a namespace
 * the server does not keep).
 */
static int host_name(const char *g, size_t len, char host[XA_NAME_MAX + 1])
{
	char name[XA_NAME_MAX + 1];

	if (len == 0 || memchr(g, '\0', len))
		return -EINVAL;
	if (len > XA_NAME_MAX)
		return -ERANGE;
	memcpy(name, g, len);
	name[len] = '\0';
	if (has_prefix(name, P9_XATTR_PREFIX))
		return XA_HIDDEN;
	if (has_prefix(name, "user.")) {
		if (!name[5])
			return -EINVAL;
		memcpy(host, name, len + 1);
		return XA_USER;
	}
	if (has_prefix(name, "security.")) {
		const char *rest = name + strlen("security.");
		if (!*rest)
			return -EINVAL;
		if (strlen(XA_SECURITY_HOST) + strlen(rest) > XA_NAME_MAX)
			return -ERANGE;
		strcpy(host, XA_SECURITY_HOST);
		strcat(host, rest);
		return XA_SECURITY;
	}
	return -EOPNOTSUPP;
}

/* Can the object hold attributes of this class (as the guest sees it, and on the host)? */
static bool can_hold(const struct p9_fid *f, enum xa_class c)
{
	if (!S_ISREG(f->mode) && !S_ISDIR(f->mode))
		return false;
	return c == XA_SECURITY || S_ISREG(f->gtype) || S_ISDIR(f->gtype);
}

/* A descriptor to reach the fid's attributes through: its iofd (*tmp -1) or a new one (*tmp). */
static int attr_fd(const struct p9_fid *f, int *tmp)
{
	struct p9_node n;

	*tmp = -1;
	if (f->iofd >= 0)
		return f->iofd;
	p9_node_of_fid(f, &n);
	return *tmp = p9_open_node(&n, O_RDONLY);
}

static void attr_fd_done(int tmp)
{
	if (tmp >= 0)
		close(tmp);
}

/* The guest's list from the host's, in place: out is never longer than in. */
static size_t filter_list(const struct p9_fid *f, char *buf, size_t len)
{
	size_t used = 0;

	for (size_t pos = 0; pos < len;) {
		const char *n = buf + pos;
		size_t nlen = strnlen(n, len - pos);
		if (nlen == len - pos)
			break; /* not NUL terminated: the kernel's lists always are */
		pos += nlen + 1;
		if (nlen == 0)
			continue;
		const char *show = NULL;
		char tmp[XA_NAME_MAX + 1];
		if (has_prefix(n, XA_SECURITY_HOST)) {
			if (n[strlen(XA_SECURITY_HOST)] && nlen < sizeof(tmp) &&
			    can_hold(f, XA_SECURITY)) {
				snprintf(tmp, sizeof(tmp), "security.%s", n + strlen(XA_SECURITY_HOST));
				show = tmp;
			}
		} else if (has_prefix(n, P9_XATTR_PREFIX)) {
			/* the server's own */
		} else if (has_prefix(n, "user.") && can_hold(f, XA_USER)) {
			show = n;
		}
		if (show) {
			size_t slen = strlen(show) + 1;
			memmove(buf + used, show, slen); /* show ends at or after buf + used */
			used += slen;
		}
	}
	return used;
}

/* Reads the value of host attribute `name`, or (name NULL) the guest's list of names. */
static int fetch(const struct p9_fid *f, const char *name, uint8_t **value, size_t *size)
{
	int tmp, fd = attr_fd(f, &tmp);
	if (fd < 0)
		return fd;
	uint8_t *buf = malloc(XA_SIZE_MAX);
	ssize_t n = -1;
	if (!buf)
		errno = ENOMEM;
	else if (name)
		n = fgetxattr(fd, name, buf, XA_SIZE_MAX);
	else
		n = flistxattr(fd, (char *)buf, XA_SIZE_MAX);
	int rc = n < 0 ? -errno : 0;
	attr_fd_done(tmp);
	if (rc) {
		free(buf);
		return rc;
	}
	*size = name ? (size_t)n : filter_list(f, (char *)buf, (size_t)n);
	uint8_t *fit = realloc(buf, *size ? *size : 1);
	*value = fit ? fit : buf;
	return 0;
}

static int take_budget(struct p9_server *s, size_t size)
{
	if (size > P9_XATTR_BUDGET - s->xattr_bytes)
		return -ENOMEM;
	s->xattr_bytes += size;
	return 0;
}

int p9_xattrwalk(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in), newfid = p9_get32(in);
	const char *gname;
	uint16_t len;
	struct p9_fid *f, *nf;
	char host[XA_NAME_MAX + 1];
	uint8_t *value = NULL;
	size_t size = 0;
	int rc = 0;

	p9_get_str(in, &gname, &len);
	if (in->bad)
		return -EINVAL;
	if ((rc = p9_object_fid(s, fid, &f)))
		return rc;
	if (len) {
		int c = host_name(gname, len, host);
		if (c < 0)
			return c;
		if (c == XA_HIDDEN || !can_hold(f, (enum xa_class)c))
			return -ENODATA;
		rc = fetch(f, host, &value, &size);
	} else if (S_ISREG(f->mode) || S_ISDIR(f->mode)) {
		rc = fetch(f, NULL, &value, &size);
	} else if (!(value = malloc(1))) {
		rc = -ENOMEM; /* nothing to list on a host symlink, fifo or device */
	}
	if (!rc && !(rc = take_budget(s, size))) {
		struct p9_xattr *x = calloc(1, sizeof(*x));
		rc = !x ? -ENOMEM : p9_fid_new(s, newfid, &nf);
		if (rc) {
			free(x);
			s->xattr_bytes -= size;
		} else {
			*x = (struct p9_xattr){ .value = value, .size = size };
			nf->xattr = x;
			nf->uid = f->uid;
			value = NULL;
		}
	}
	free(value);
	if (rc)
		return rc;
	p9_put64(out, size);
	return 0;
}

int p9_xattrcreate(struct p9_server *s, struct p9_in *in, struct p9_out *out)
{
	uint32_t fid = p9_get32(in);
	const char *gname;
	uint16_t len;
	struct p9_fid *f;
	char host[XA_NAME_MAX + 1];

	(void)out;
	p9_get_str(in, &gname, &len);
	uint64_t size = p9_get64(in);
	uint32_t flags = p9_get32(in);
	if (in->bad || (flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE)))
		return -EINVAL;
	int rc = p9_object_fid(s, fid, &f);
	if (rc)
		return rc;
	if (size > XA_SIZE_MAX)
		return -E2BIG;
	int c = host_name(gname, len, host);
	if (c < 0)
		return c;
	if (c == XA_HIDDEN || !can_hold(f, (enum xa_class)c))
		return -EPERM;
	struct p9_xattr *x = calloc(1, sizeof(*x));
	uint8_t *value = malloc(size ? size : 1);
	rc = !x || !value ? -ENOMEM : take_budget(s, size);
	if (rc) {
		free(x);
		free(value);
		return rc;
	}
	*x = (struct p9_xattr){ .create = true, .flags = (int)flags, .value = value, .size = size };
	memcpy(x->name, host, sizeof(host));
	f->xattr = x; /* the fid keeps its object, for the clunk */
	return 0;
}

int p9_xattr_read(struct p9_fid *f, uint64_t offset, uint32_t count, struct p9_out *out)
{
	const struct p9_xattr *x = f->xattr;

	if (x->create)
		return -EBADF; /* written, not read */
	size_t room = out->cap - out->pos - 4;
	size_t n = offset >= x->size ? 0 : x->size - (size_t)offset;
	if (n > count)
		n = count;
	if (n > room)
		n = room;
	p9_put32(out, (uint32_t)n);
	uint8_t *data = p9_put_space(out, n);
	if (n && data)
		memcpy(data, x->value + offset, n);
	return 0;
}

int p9_xattr_write(struct p9_fid *f, uint64_t offset, const uint8_t *data, uint32_t count,
		   struct p9_out *out)
{
	struct p9_xattr *x = f->xattr;

	if (!x->create)
		return -EBADF;
	if (offset != x->filled)
		return -EINVAL; /* the value comes in order (Linux writes it so) */
	if (count > x->size - x->filled)
		return -ENOSPC; /* more than Txattrcreate announced */
	if (count)
		memcpy(x->value + x->filled, data, count);
	x->filled += count;
	p9_put32(out, count);
	return 0;
}

int p9_xattr_commit(struct p9_server *s, struct p9_fid *f)
{
	const struct p9_xattr *x = f->xattr;

	if (!x->create)
		return 0;
	if (s->read_only)
		return -EROFS;
	if (x->filled != x->size)
		return -EINVAL; /* less than announced was written */
	int tmp, fd = attr_fd(f, &tmp);
	if (fd < 0)
		return fd;
	int rc;
	if (x->size == 0 && x->flags == XATTR_REPLACE)
		rc = fremovexattr(fd, x->name) < 0 ? -errno : 0;
	else
		rc = fsetxattr(fd, x->name, x->value, x->size, x->flags) < 0 ? -errno : 0;
	attr_fd_done(tmp);
	return rc;
}

void p9_xattr_free(struct p9_server *s, struct p9_fid *f)
{
	struct p9_xattr *x = f->xattr;

	if (!x)
		return;
	s->xattr_bytes -= x->size;
	free(x->value);
	free(x);
	f->xattr = NULL;
}
