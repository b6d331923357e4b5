// SPDX-License-Identifier: GPL-2.0-only
/* A snapshot's directory: written beside the old one and swapped in whole (vm/snapshot_dir.h). */
#include "vm/snapshot_dir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/memory_lz4.h"

/* mkdir -p of every directory above the snapshot's own. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = mkdir(path, 0700);
		*p = '/';
		if (rc < 0 && errno != EEXIST)
			return -errno;
	}
	return 0;
}

int snapshot_dir_prepare(struct snapshot_dir *d, const char *path, struct ember_err *err)
{
	char parent[PATH_MAX];

	memset(d, 0, sizeof(*d));
	d->parent_fd = d->pagemap_fd = -1;
	if (snprintf(d->path, sizeof(d->path), "%s", path) >= (int)sizeof(d->path) ||
	    snprintf(parent, sizeof(parent), "%s", path) >= (int)sizeof(parent))
		return ember_fail(err, ENAMETOOLONG, "snapshot directory %s: path too long", path);
	while (strlen(parent) > 1 && parent[strlen(parent) - 1] == '/')
		parent[strlen(parent) - 1] = '\0';
	char *slash = strrchr(parent, '/');
	const char *name = slash ? slash + 1 : parent;
	if (!*name || !strcmp(name, ".") || !strcmp(name, "..") || strlen(name) > NAME_MAX)
		return ember_fail(err, EINVAL, "snapshot directory %s: give it a name", path);
	snprintf(d->name, sizeof(d->name), "%s", name);
	int rc = make_parents(parent);
	if (rc)
		return ember_fail(err, -rc, "snapshot directory %s: %s", path, strerror(-rc));
	if (slash)
		*(slash == parent ? slash + 1 : slash) = '\0';
	d->parent_fd = open(slash ? parent : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->parent_fd < 0)
		return ember_fail(err, errno, "snapshot directory %s: %s", path, strerror(errno));
	/* Without it every page is looked at (and untouched ones faulted in): slower, still right. */
	d->pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	return 0;
}

/* Empties and removes a snapshot directory under the parent (the old one after a swap). */
static void remove_dir(int parent_fd, const char *name)
{
	int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0) {
		unlinkat(fd, SNAPSHOT_STATE_FILE, 0);
		unlinkat(fd, SNAPSHOT_MEMORY_FILE, 0);
		close(fd);
	}
	unlinkat(parent_fd, name, AT_REMOVEDIR);
}

static int create_in(int dir_fd, const char *name)
{
	return openat(dir_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
}

int snapshot_dir_write(struct snapshot_dir *d, const struct snapshot_writer *w,
		       const struct guest_memory *mem, bool compress, struct snapshot_dir_stats *stats,
		       struct ember_err *err)
{
	char tmp[NAME_MAX + 1];
	int dir_fd = -1, state_fd = -1, mem_fd = -1, rc;
	struct stat st;

	memset(stats, 0, sizeof(*stats));
	snprintf(tmp, sizeof(tmp), ".%.200s.tmp-%ld-%u", d->name, (long)getpid(), d->serial++);
	if (mkdirat(d->parent_fd, tmp, 0700) < 0)
		return ember_fail(err, errno, "snapshot %s: %s", d->path, strerror(errno));
	dir_fd = openat(d->parent_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dir_fd < 0 || (state_fd = create_in(dir_fd, SNAPSHOT_STATE_FILE)) < 0 ||
	    (mem_fd = create_in(dir_fd, SNAPSHOT_MEMORY_FILE)) < 0) {
		rc = ember_fail(err, errno, "snapshot %s: %s", d->path, strerror(errno));
		goto fail;
	}
	if (compress) {
		struct memory_lz4_stats lz;
		rc = guest_memory_write_lz4(mem, mem_fd, d->pagemap_fd, &lz, err);
		if (!rc && fsync(mem_fd) < 0)
			rc = ember_fail(err, errno, "snapshot %s: %s", d->path, strerror(errno));
	} else {
		rc = guest_memory_write_fd(mem, mem_fd, d->pagemap_fd, &stats->memory_pages, err);
	}
	if (rc || (rc = snapshot_write_fd(w, EMBER_VERSION, state_fd, err)))
		goto fail;
	if (fstat(state_fd, &st) == 0)
		stats->state_bytes = (uint64_t)st.st_size;
	if (fstat(mem_fd, &st) == 0)
		stats->memory_bytes = (uint64_t)st.st_blocks * 512;
	/* The two names in the new directory are durable before it takes the snapshot's name. */
	if (fsync(dir_fd) < 0) {
		rc = ember_fail(err, errno, "snapshot %s: %s", d->path, strerror(errno));
		goto fail;
	}
	if (renameat2(d->parent_fd, tmp, d->parent_fd, d->name, RENAME_NOREPLACE) < 0) {
		if (errno != EEXIST ||
		    renameat2(d->parent_fd, tmp, d->parent_fd, d->name, RENAME_EXCHANGE) < 0) {
			rc = ember_fail(err, errno, "snapshot %s: %s", d->path, strerror(errno));
			goto fail;
		}
		/* tmp now holds the previous snapshot. */
	}
	fsync(d->parent_fd);
	close(state_fd);
	close(mem_fd);
	close(dir_fd);
	remove_dir(d->parent_fd, tmp);
	return 0;
fail:
	if (state_fd >= 0)
		close(state_fd);
	if (mem_fd >= 0)
		close(mem_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	remove_dir(d->parent_fd, tmp);
	return rc;
}

void snapshot_dir_close(struct snapshot_dir *d)
{
	if (d->parent_fd >= 0)
		close(d->parent_fd);
	if (d->pagemap_fd >= 0)
		close(d->pagemap_fd);
	d->parent_fd = d->pagemap_fd = -1;
}

int snapshot_dir_load(struct snapshot_loaded *l, const char *path, const char *ember_version,
		      struct ember_err *err)
{
	memset(l, 0, sizeof(*l));
	l->memory_fd = -1;
	snprintf(l->path, sizeof(l->path), "%s", path);
	int dir_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return ember_fail(err, errno, "snapshot %s: %s", path, strerror(errno));
	/* Both relative to the one directory: a swap meanwhile cannot pair old with new. */
	int state_fd = openat(dir_fd, SNAPSHOT_STATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	l->memory_fd = openat(dir_fd, SNAPSHOT_MEMORY_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	int e = errno;
	close(dir_fd);
	if (state_fd < 0 || l->memory_fd < 0) {
		if (state_fd >= 0)
			close(state_fd);
		return ember_fail(err, e, "snapshot %s: %s", path,
				  e == ENOENT ? "incomplete (no state or memory file)" : strerror(e));
	}
	char what[PATH_MAX + 8];
	snprintf(what, sizeof(what), "%s/" SNAPSHOT_STATE_FILE, path);
	int rc = snapshot_read_fd(&l->state, state_fd, what, ember_version, err);
	close(state_fd);
	return rc;
}

int snapshot_dir_load_memory(struct snapshot_loaded *l, struct guest_memory *mem,
			     struct ember_err *err)
{
	char what[PATH_MAX + 8];
	snprintf(what, sizeof(what), "%s/" SNAPSHOT_MEMORY_FILE, l->path);
	if (guest_memory_is_lz4(l->memory_fd))
		return guest_memory_load_lz4(mem, l->memory_fd, 0, err);
	return guest_memory_map_fd(mem, l->memory_fd, what, err);
}

void snapshot_loaded_free(struct snapshot_loaded *l)
{
	snapshot_reader_free(&l->state);
	if (l->memory_fd >= 0)
		close(l->memory_fd);
	l->memory_fd = -1;
}
