// SPDX-License-Identifier: GPL-2.0-only
/* Mapping kernel and initrd files, and placing the initrd. */
#include "boot/boot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE_SIZE 4096ULL

int boot_map_file(const char *flag, const char *path, const uint8_t **data, size_t *size,
		  struct ember_err *err)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ember_fail(err, errno, "%s %s: %s", flag, path, strerror(errno));

	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		close(fd);
		return ember_fail(err, EINVAL, "%s %s: not a regular, non-empty file", flag, path);
	}
	void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	int saved = errno;
	close(fd);
	if (p == MAP_FAILED)
		return ember_fail(err, saved, "%s %s: %s", flag, path, strerror(saved));
	*data = p;
	*size = (size_t)st.st_size;
	return 0;
}

void boot_unmap_file(const uint8_t *data, size_t size)
{
	munmap((void *)data, size);
}

int boot_load_initrd(const struct guest_memory *mem, const char *path, struct boot_info *boot,
		     struct ember_err *err)
{
	const uint8_t *img;
	size_t size;
	int rc = boot_map_file("--initrd", path, &img, &size, err);
	if (rc)
		return rc;

	/* Highest RAM region that starts at or below the kernel and ends above it. */
	uint64_t top = 0;
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->region[i];
		if (r->gpa <= boot->kernel_start && r->gpa + r->size >= boot->kernel_end)
			top = r->gpa + r->size;
	}
	if (boot->initrd_max != UINT64_MAX && top > boot->initrd_max + 1)
		top = boot->initrd_max + 1;

	uint64_t start = 0;
	bool fits = top >= size && ((top - size) & ~(PAGE_SIZE - 1)) >= boot->kernel_end;
	if (fits)
		start = (top - size) & ~(PAGE_SIZE - 1);
	void *dst = fits ? guest_ptr(mem, start, size) : NULL;
	if (!dst) {
		boot_unmap_file(img, size);
		return ember_fail(err, ENOMEM,
				  "--initrd %s: %zu MiB does not fit in guest RAM above the kernel: give the guest more --mem",
				  path, (size + (1u << 20) - 1) >> 20);
	}
	memcpy(dst, img, size);
	boot_unmap_file(img, size);
	boot->initrd_gpa = start;
	boot->initrd_size = size;
	return 0;
}
