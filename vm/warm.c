// SPDX-License-Identifier: GPL-2.0-only
/* The warm-start cache: guest shapes, their keys, pruning (vm/warm.h). */
#include "vm/warm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "arch/arch.h"
#include "vm/snapshot_dir.h"

int warm_cache_root(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	int n;

	/* The XDG base directory spec: relative values are invalid and ignored. */
	if (xdg && xdg[0] == '/')
		n = snprintf(buf, size, "%s/ember/warm", xdg);
	else if (home && home[0] == '/')
		n = snprintf(buf, size, "%s/.cache/ember/warm", home);
	else
		return -1;
	return n > 0 && (size_t)n < size ? 0 : -1;
}

/* Appends a printf'ed line; false once the buffer is full (the shape is then unusable). */
static bool add(char *buf, size_t size, const char *fmt, ...)
{
	size_t len = strlen(buf);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + len, size - len, fmt, ap);
	va_end(ap);
	return n >= 0 && (size_t)n < size - len;
}

/* A file's identity: the same path rebuilt is another file. */
static bool add_file(char *buf, size_t size, const char *what, const char *path)
{
	struct stat st;
	if (!path)
		return add(buf, size, "%s none\n", what);
	if (stat(path, &st) < 0)
		return false;
	return add(buf, size, "%s %s %llx:%llx %lld %lld.%09ld %lld.%09ld\n", what, path,
		   (unsigned long long)st.st_dev, (unsigned long long)st.st_ino, (long long)st.st_size,
		   (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec,
		   st.st_ctim.tv_nsec);
}

/* FNV-1a, 64 bits: names a cache directory; the full text is compared on use. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 0x100000001b3ULL;
	return h;
}

int warm_shape_describe(struct warm_shape *ws, const struct ember_config *cfg)
{
	char root[PATH_MAX], host[256];
	struct utsname u;
	bool ok = true;

	memset(ws, 0, sizeof(*ws));
	if (warm_cache_root(root, sizeof(root)) < 0 || uname(&u) < 0)
		return -1;
	arch_host_identity(host, sizeof(host));
	ok &= add(ws->key, sizeof(ws->key), "ember %s\nhost %s %s\n", EMBER_VERSION, u.release, host);
	/* This very build: device state layouts and the kernel command line may differ in the next. */
	ok &= add_file(ws->key, sizeof(ws->key), "binary", "/proc/self/exe");
	ok &= add_file(ws->key, sizeof(ws->key), "kernel", cfg->kernel);
	ok &= add_file(ws->key, sizeof(ws->key), "initrd", cfg->initrd);
	ok &= add(ws->key, sizeof(ws->key), "mem %llu cpus %u console %d verbose %d channel %d\n",
		  (unsigned long long)cfg->mem_bytes, cfg->cpus, (int)cfg->console, cfg->verbose,
		  cfg->init_handshake);
	ok &= add(ws->key, sizeof(ws->key), "cmdline %s\n", cfg->cmdline ? cfg->cmdline : "");
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		ok &= add(ws->key, sizeof(ws->key), "disk %u%s\n", i, cfg->disks[i].read_only ? " ro" : "");
	for (unsigned i = 0; i < cfg->nr_shares; i++)
		ok &= add(ws->key, sizeof(ws->key), "share %u %s%s\n", i, cfg->shares[i].tag,
			  cfg->shares[i].read_only ? " ro" : "");
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		char spec[128];
		ok &= config_net_format(&cfg->nets[i], spec, sizeof(spec)) >= 0;
		ok &= add(ws->key, sizeof(ws->key), "net %u %s\n", i, spec);
	}
	if (cfg->vsock_path)
		ok &= add(ws->key, sizeof(ws->key), "vsock cid %u\n", cfg->vsock_cid);
	ok &= add(ws->key, sizeof(ws->key), "rootfs %s\n",
		  !cfg->rootfs ? "none" : cfg->rootfs_is_dir ? "dir" : "image");
	/* A cold boot saw these sizes (virtio-blk capacity): a restore must find the same. */
	ok &= add(ws->full, sizeof(ws->full), "%s", ws->key);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		struct stat st;
		ok &= stat(cfg->disks[i].path, &st) == 0;
		ok &= add(ws->full, sizeof(ws->full), "disk %u (%s) size %lld\n", i, cfg->disks[i].path,
			  ok ? (long long)st.st_size : 0LL);
	}
	if (!ok)
		return -1;
	int n = snprintf(ws->dir, sizeof(ws->dir), "%s/%016llx", root,
			 (unsigned long long)fnv1a(ws->key));
	return n > 0 && (size_t)n < sizeof(ws->dir) ? 0 : -1;
}

int warm_shape_put(const struct warm_shape *ws, struct snapshot_writer *w)
{
	return snapshot_put(w, SNAP_VM_SHAPE, 0, ws->full, strlen(ws->full));
}

/* The line of `text` that holds offset `at`, for a message. */
static void line_at(const char *text, size_t len, size_t at, char *out, size_t size)
{
	size_t start = at, end = at;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	while (end < len && text[end] != '\n')
		end++;
	snprintf(out, size, "%.*s", (int)(end - start), text + start);
}

bool warm_shape_fits(const struct warm_shape *ws, const struct snapshot_reader *r, char *why,
		     size_t size)
{
	const struct snapshot_section *s = snapshot_find(r, SNAP_VM_SHAPE, 0);
	size_t len = strlen(ws->full);

	if (!s) {
		snprintf(why, size, "it has no guest shape");
		return false;
	}
	if (s->len == len && !memcmp(s->data, ws->full, len))
		return true;
	size_t at = 0;
	while (at < len && at < s->len && ws->full[at] == (char)s->data[at])
		at++;
	char now[200], then[200];
	line_at(ws->full, len, at < len ? at : len - 1, now, sizeof(now));
	line_at((const char *)s->data, s->len, at < s->len ? at : s->len - 1, then, sizeof(then));
	snprintf(why, size, "it was saved with \"%s\", this run has \"%s\"", then, now);
	return false;
}

/* Removes one snapshot directory: the two files ember puts in it, then it. */
static bool remove_entry(int root_fd, const char *name)
{
	int fd = openat(root_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	unlinkat(fd, SNAPSHOT_STATE_FILE, 0);
	unlinkat(fd, SNAPSHOT_MEMORY_FILE, 0);
	close(fd);
	return unlinkat(root_fd, name, AT_REMOVEDIR) == 0;
}

int warm_prune(unsigned *removed, struct ember_err *err)
{
	char root[PATH_MAX];

	*removed = 0;
	if (warm_cache_root(root, sizeof(root)) < 0)
		return ember_fail(err, ENOENT, "no cache directory (set HOME or XDG_CACHE_HOME)");
	DIR *d = opendir(root);
	if (!d)
		return errno == ENOENT ? 0 : ember_fail(err, errno, "%s: %s", root, strerror(errno));
	struct dirent *e;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && remove_entry(dirfd(d), e->d_name))
			(*removed)++;
	closedir(d);
	return 0;
}
