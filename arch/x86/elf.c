// SPDX-License-Identifier: GPL-2.0-only
/*
 * ELF64 kernels: a Linux vmlinux or one of ember's test guests.  PT_LOAD
 * segments go to their physical addresses.  A Xen PVH note
 * (XEN_ELFNOTE_PHYS32_ENTRY) selects the PVH entry; without one the
 * image is entered in long mode at e_entry like the 64-bit boot protocol
 * (Linux links vmlinux with a physical e_entry, phys_startup_64).
 */
#include "arch/x86/kernel.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#define XEN_ELFNOTE_PHYS32_ENTRY 18

bool elf_detect(const uint8_t *img, size_t size)
{
	return size >= SELFMAG && memcmp(img, ELFMAG, SELFMAG) == 0;
}

static int check_header(const Elf64_Ehdr *eh, size_t size, struct ember_err *err)
{
	if (size < sizeof(*eh))
		return ember_fail(err, EINVAL, "truncated ELF image (%zu bytes)", size);
	if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0)
		return ember_fail(err, EINVAL, "not an ELF image (no ELF magic)");
	if (eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return ember_fail(err, EINVAL, "ELF image is not 64-bit little-endian");
	if (eh->e_machine != EM_X86_64)
		return ember_fail(err, EINVAL, "ELF image is for machine %u, not x86-64", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return ember_fail(err, EINVAL, "ELF image is not an executable (type %u)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0)
		return ember_fail(err, EINVAL, "ELF image has no usable program headers");
	if (eh->e_phoff > size || (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > size - eh->e_phoff)
		return ember_fail(err, EINVAL, "truncated ELF image: program headers past the end");
	return 0;
}

/* Walks one PT_NOTE segment for the PVH entry; returns true and sets *entry if found. */
static bool find_pvh_note(const uint8_t *img, const Elf64_Phdr *ph, uint64_t *entry)
{
	uint64_t off = ph->p_offset, end = ph->p_offset + ph->p_filesz;

	while (end - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		memcpy(&nh, img + off, sizeof(nh));
		uint64_t name_off = off + sizeof(nh);
		uint64_t desc_off = name_off + ((nh.n_namesz + 3ULL) & ~3ULL);
		uint64_t next = desc_off + ((nh.n_descsz + 3ULL) & ~3ULL);
		if (next > end || next <= off)
			return false;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    memcmp(img + name_off, "Xen", 4) == 0 && nh.n_descsz >= 4) {
			uint32_t e;
			memcpy(&e, img + desc_off, 4);
			*entry = e;
			return true;
		}
		off = next;
	}
	return false;
}

int elf_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
	     struct x86_kernel *k, struct ember_err *err)
{
	Elf64_Ehdr eh;
	if (size < sizeof(eh))
		return ember_fail(err, EINVAL, "truncated ELF image (%zu bytes)", size);
	memcpy(&eh, img, sizeof(eh));
	int rc = check_header(&eh, size, err);
	if (rc)
		return rc;

	struct boot_info *boot = &k->boot;

	memset(k, 0, sizeof(*k));
	k->protocol = X86_BOOT_LINUX_64;
	boot->entry = eh.e_entry;
	boot->kernel_start = UINT64_MAX;
	boot->initrd_max = UINT64_MAX;
	boot->format = "ELF";

	unsigned loaded = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD && ph.p_type != PT_NOTE)
			continue;
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return ember_fail(err, EINVAL, "truncated ELF image: segment %u past the end", i);
		if (ph.p_type == PT_NOTE) {
			uint64_t pvh;
			if (find_pvh_note(img, &ph, &pvh)) {
				k->protocol = X86_BOOT_PVH;
				boot->entry = pvh;
			}
			continue;
		}
		if (ph.p_filesz > ph.p_memsz)
			return ember_fail(err, EINVAL, "ELF segment %u: file size exceeds memory size", i);
		uint8_t *dst = guest_ptr(mem, ph.p_paddr, ph.p_memsz);
		if (!dst)
			return ember_fail(err, ENOMEM,
					  "ELF segment %u (%#llx, %llu bytes) is outside guest RAM: give the guest more --mem",
					  i, (unsigned long long)ph.p_paddr, (unsigned long long)ph.p_memsz);
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < boot->kernel_start)
			boot->kernel_start = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > boot->kernel_end)
			boot->kernel_end = ph.p_paddr + ph.p_memsz;
		loaded++;
	}
	if (!loaded)
		return ember_fail(err, EINVAL, "ELF image has no loadable segment");
	if (boot->entry < boot->kernel_start || boot->entry >= boot->kernel_end)
		return ember_fail(err, EINVAL, "ELF entry point %#llx is outside its loaded segments",
				  (unsigned long long)boot->entry);
	if (k->protocol == X86_BOOT_PVH)
		boot->format = "ELF (PVH)";
	return 0;
}
