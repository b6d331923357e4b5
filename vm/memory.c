// SPDX-License-Identifier: GPL-2.0-only
#include "vm/memory.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int guest_memory_create(struct guest_memory *mem, const struct guest_region *layout,
			unsigned nr_regions, struct ember_err *err)
{
	uint64_t total = 0;

	memset(mem, 0, sizeof(*mem));
	if (nr_regions == 0 || nr_regions > GUEST_MEM_MAX_REGIONS)
		return ember_fail(err, EINVAL, "internal: %u memory regions", nr_regions);
	for (unsigned i = 0; i < nr_regions; i++)
		total += layout[i].size;

	/*
	 * MAP_NORESERVE: guests rarely touch all their RAM; the host commits
	 * pages on first touch, which keeps ember's footprint what the guest
	 * uses, not what it was given.
	 */
	void *p = mmap(NULL, total, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return ember_fail(err, errno, "cannot map %llu MiB of guest memory: %s",
				  (unsigned long long)(total >> 20), strerror(errno));
	mem->mapping = p;
	mem->mapping_size = total;
	mem->backing_fd = -1;

	uint64_t offset = 0;
	for (unsigned i = 0; i < nr_regions; i++) {
		mem->region[i] = layout[i];
		mem->region[i].host = mem->mapping + offset;
		offset += layout[i].size;
	}
	mem->nr_regions = nr_regions;
	return 0;
}

void guest_memory_destroy(struct guest_memory *mem)
{
	/* backing_fd is only valid once a mapping was made (a zeroed struct has 0 there). */
	if (mem->mapping && mem->backing_fd >= 0)
		close(mem->backing_fd);
	if (mem->mapping)
		munmap(mem->mapping, mem->mapping_size);
	memset(mem, 0, sizeof(*mem));
}

void *guest_ptr(const struct guest_memory *mem, uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < mem->nr_regions; i++) {
		const struct guest_region *r = &mem->region[i];
		/* Written to avoid overflow on hostile gpa/len values. */
		if (gpa < r->gpa || gpa - r->gpa > r->size)
			continue;
		uint64_t offset = gpa - r->gpa;
		if (len > r->size - offset)
			continue; /* runs off this region (it may start the next one) */
		if (offset == r->size && len == 0 && i + 1 < mem->nr_regions)
			continue; /* an empty range at a boundary belongs to the next region */
		return r->host + offset;
	}
	return NULL;
}

int guest_read(const struct guest_memory *mem, uint64_t gpa, void *dst, size_t len)
{
	const void *src = guest_ptr(mem, gpa, len);
	if (!src)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

int guest_write(const struct guest_memory *mem, uint64_t gpa, const void *src, size_t len)
{
	void *dst = guest_ptr(mem, gpa, len);
	if (!dst)
		return -EFAULT;
	memcpy(dst, src, len);
	return 0;
}

uint64_t guest_memory_size(const struct guest_memory *mem)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < mem->nr_regions; i++)
		total += mem->region[i].size;
	return total;
}
