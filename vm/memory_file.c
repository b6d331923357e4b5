// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest RAM to and from a snapshot's memory file: the mapping's bytes at
 * their own offsets, in a sparse file where pages the guest never touched
 * (or that are all zero) are holes.  Restoring maps the file MAP_PRIVATE
 * over the RAM: copy-on-write, each page read from the file on first
 * touch, so a restore costs what the guest then uses, not its RAM size.
 *
 * Which pages to look at comes from /proc/self/pagemap (bit 63 present,
 * bit 62 swapped, Documentation/admin-guide/mm/pagemap.rst): a page that
 * is neither was never touched (or was dropped) and reads as zero, so it
 * is skipped without reading it (which would fault it in).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vm/memory.h"
#include "vm/atomic_file.h"

#define PAGE 4096ULL
#define PAGEMAP_PRESENT (1ULL << 63)
#define PAGEMAP_SWAPPED (1ULL << 62)
#define PAGEMAP_BATCH 4096 /* entries read at once: 16 MiB of RAM */

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *w = (const uint64_t *)(const void *)p;
	for (size_t i = 0; i < PAGE / sizeof(*w); i++)
		if (w[i])
			return false;
	return true;
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Whether byte `off` of the backing file is in a data extent; *data_end caches the current one. */
static bool in_file_data(int fd, off_t off, off_t *data_start, off_t *data_end)
{
	if (off >= *data_start && off < *data_end)
		return true;
	if (off < *data_start) /* before the next extent (the cache only moves forward) */
		return false;
	off_t start = lseek(fd, off, SEEK_DATA);
	if (start < 0) {
		/* ENXIO: no data after off.  Anything else: assume data, to be safe. */
		*data_start = *data_end = errno == ENXIO ? (off_t)INT64_MAX : off;
		if (errno != ENXIO)
			*data_end = off + (off_t)PAGE;
		return errno != ENXIO;
	}
	off_t end = lseek(fd, start, SEEK_HOLE);
	*data_start = start;
	*data_end = end > start ? end : start + (off_t)PAGE;
	return off >= start;
}

void guest_memory_scan(const struct guest_memory *mem, int pagemap_fd, uint64_t first, uint64_t n,
		       uint64_t *entry)
{
	off_t at = (off_t)(((uintptr_t)mem->mapping / PAGE + first) * sizeof(*entry));
	bool known = pagemap_fd >= 0 && pread(pagemap_fd, entry, n * sizeof(*entry), at) == (ssize_t)(n * sizeof(*entry));
	off_t data_start = 0, data_end = 0;

	for (uint64_t i = 0; i < n; i++) {
		if (!known || (entry[i] & (PAGEMAP_PRESENT | PAGEMAP_SWAPPED)))
			entry[i] = 1;
		else
			entry[i] = mem->backing_fd >= 0 &&
				   in_file_data(mem->backing_fd, (off_t)((first + i) * PAGE), &data_start, &data_end);
	}
}

/* Writes the non-zero pages of the mapping into fd; counts them in *written. */
static int write_pages(const struct guest_memory *mem, int fd, int pm, uint64_t *written)
{
	uint64_t pages = mem->mapping_size / PAGE;
	uint64_t *entry = malloc(PAGEMAP_BATCH * sizeof(*entry));
	int rc = 0;

	*written = 0;
	if (!entry)
		return -ENOMEM;
	for (uint64_t first = 0; !rc && first < pages; first += PAGEMAP_BATCH) {
		uint64_t n = pages - first < PAGEMAP_BATCH ? pages - first : PAGEMAP_BATCH;
		guest_memory_scan(mem, pm, first, n, entry);
		for (uint64_t i = 0; i < n; i++) {
			if (!entry[i])
				continue; /* never touched: a hole */
			const uint8_t *p = mem->mapping + (first + i) * PAGE;
			if (page_is_zero(p))
				continue;
			/* Runs of non-zero pages in one write. */
			uint64_t run = 1;
			while (i + run < n && entry[i + run] && !page_is_zero(p + run * PAGE))
				run++;
			if (pwrite_all(fd, p, run * PAGE, (off_t)((first + i) * PAGE)) < 0) {
				rc = -errno;
				break;
			}
			*written += run;
			i += run - 1;
		}
	}
	free(entry);
	return rc;
}

int guest_memory_write_fd(const struct guest_memory *mem, int fd, int pagemap_fd,
			  uint64_t *pages_written, struct ember_err *err)
{
	uint64_t written = 0;
	/* Empty, then all holes: only the pages with data get blocks. */
	int rc = ftruncate(fd, 0) < 0 || ftruncate(fd, (off_t)mem->mapping_size) < 0 ? -errno : 0;
	if (!rc)
		rc = write_pages(mem, fd, pagemap_fd, &written);
	if (!rc && fsync(fd) < 0)
		rc = -errno;
	if (rc)
		return ember_fail(err, -rc, "snapshot: writing guest memory: %s", strerror(-rc));
	if (pages_written)
		*pages_written = written;
	return 0;
}

int guest_memory_save(const struct guest_memory *mem, const char *path, uint64_t *pages_written,
		      struct ember_err *err)
{
	struct atomic_file f;
	int rc = atomic_file_open(&f, path, err);
	if (rc)
		return rc;
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	rc = guest_memory_write_fd(mem, f.fd, pm, pages_written, err);
	if (pm >= 0)
		close(pm);
	if (rc) {
		atomic_file_abort(&f);
		return rc;
	}
	return atomic_file_commit(&f, err);
}

int guest_memory_map_fd(struct guest_memory *mem, int fd, const char *what, struct ember_err *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != mem->mapping_size)
		return ember_fail(err, EINVAL, "snapshot memory %s: %lld bytes, the VM has %llu of RAM",
				  what, (long long)st.st_size, (unsigned long long)mem->mapping_size);
	/*
	 * Over the RAM, at the same address (KVM and every guest_ptr keep
	 * working): private, so the guest's writes never reach the file and
	 * two VMs restored from it share its page cache until they write.
	 */
	int backing = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	if (backing < 0)
		return ember_fail(err, errno, "snapshot memory %s: %s", what, strerror(errno));
	void *p = mmap(mem->mapping, mem->mapping_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_FIXED | MAP_NORESERVE, fd, 0);
	if (p == MAP_FAILED) {
		int e = errno;
		close(backing);
		return ember_fail(err, e, "snapshot memory %s: mmap: %s", what, strerror(e));
	}
	if (mem->backing_fd >= 0)
		close(mem->backing_fd);
	mem->backing_fd = backing;
	return 0;
}

int guest_memory_map_file(struct guest_memory *mem, const char *path, struct ember_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ember_fail(err, errno, "snapshot memory %s: %s", path, strerror(errno));
	int rc = guest_memory_map_fd(mem, fd, path, err);
	close(fd); /* the mapping keeps the file */
	return rc;
}
