// SPDX-License-Identifier: GPL-2.0-only
/* Whole-or-nothing file replacement (vm/atomic_file.h). */
#include "vm/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int atomic_file_open(struct atomic_file *f, const char *path, struct ember_err *err)
{
	f->fd = -1;
	f->path = path;
	if (snprintf(f->tmp, sizeof(f->tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(f->tmp))
		return ember_fail(err, ENAMETOOLONG, "%s: path too long", path);
	f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return ember_fail(err, errno, "%s: %s", f->tmp, strerror(errno));
	return 0;
}

/* The directory that holds `path`: its rename is durable once this is fsync'ed. */
static void sync_parent(const char *path)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
}

int atomic_file_commit(struct atomic_file *f, struct ember_err *err)
{
	int rc = fsync(f->fd) < 0 ? -errno : 0;
	if (close(f->fd) < 0 && !rc)
		rc = -errno;
	f->fd = -1;
	if (!rc && rename(f->tmp, f->path) < 0)
		rc = -errno;
	if (rc) {
		unlink(f->tmp);
		return ember_fail(err, -rc, "%s: %s", f->path, strerror(-rc));
	}
	sync_parent(f->path);
	return 0;
}

void atomic_file_abort(struct atomic_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	unlink(f->tmp);
}
