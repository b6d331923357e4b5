// SPDX-License-Identifier: GPL-2.0-only
/* Choosing the x86 kernel loader by the image's content. */
#include "arch/x86/kernel.h"

#include <errno.h>

#include "arch/arch.h"

int x86_load_kernel(const struct guest_memory *mem, const char *path, uint64_t load_addr,
		    struct x86_kernel *k, struct ember_err *err)
{
	const uint8_t *img;
	size_t size;
	int rc = boot_map_file("--kernel", path, &img, &size, err);
	if (rc)
		return rc;

	struct ember_err why;
	if (elf_detect(img, size))
		rc = elf_load(mem, img, size, k, &why);
	else if (bzimage_detect(img, size))
		rc = bzimage_load(mem, img, size, load_addr, k, &why);
	else
		rc = ember_fail(&why, EINVAL, "not a bzImage or ELF vmlinux (no 'HdrS' magic at 0x202, no ELF magic)");
	boot_unmap_file(img, size);
	if (rc)
		return ember_fail(err, -rc, "--kernel %s: %s", path, why.msg);
	return 0;
}

int arch_load_kernel(struct arch_vm *a, const char *path, struct boot_info *boot,
		     struct ember_err *err)
{
	int rc = x86_load_kernel(&a->machine->mem, path, ARCH_KERNEL_LOAD_ADDR, &a->kernel, err);
	if (rc == 0)
		*boot = a->kernel.boot;
	return rc;
}
