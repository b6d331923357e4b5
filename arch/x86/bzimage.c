// SPDX-License-Identifier: GPL-2.0-only
/*
 * bzImage: parsing the setup header and loading the protected-mode kernel
 * for the 64-bit boot protocol (Documentation/arch/x86/boot.rst, "64-bit
 * BOOT PROTOCOL").  The real-mode setup code is never run.
 */
#include "arch/x86/kernel.h"

#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "boot/lz4.h"

#define HDR_MAGIC        0x53726448 /* "HdrS" at 0x202 */
#define XLF_KERNEL_64    (1u << 0)
#define MIN_BOOT_VERSION 0x020c     /* 2.12: xloadflags, 64-bit entry documented */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return rd16(p) | (uint32_t)rd16(p + 2) << 16; }
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

bool bzimage_detect(const uint8_t *img, size_t size)
{
	return size >= 0x206 && rd32(img + 0x202) == HDR_MAGIC;
}

int bzimage_parse(const uint8_t *img, size_t size, struct bzimage_header *hdr,
		  struct ember_err *err)
{
	memset(hdr, 0, sizeof(*hdr));
	if (size < 0x270)
		return ember_fail(err, EINVAL, "truncated bzImage (%zu bytes, header needs 624)", size);
	if (rd32(img + 0x202) != HDR_MAGIC)
		return ember_fail(err, EINVAL, "not a bzImage (no 'HdrS' magic at 0x202)");
	if (rd16(img + 0x1fe) != 0xaa55)
		return ember_fail(err, EINVAL, "not a bzImage (no 0xAA55 boot signature at 0x1fe)");

	hdr->version = rd16(img + 0x206);
	if (hdr->version < MIN_BOOT_VERSION)
		return ember_fail(err, EINVAL,
				  "bzImage boot protocol %u.%02u is too old (need 2.12, Linux 3.8+)",
				  hdr->version >> 8, hdr->version & 0xff);

	hdr->setup_sects = img[0x1f1] ? img[0x1f1] : 4; /* 0 means 4, for ancient reasons */
	hdr->loadflags = img[0x211];
	hdr->initrd_addr_max = rd32(img + 0x22c);
	hdr->kernel_alignment = rd32(img + 0x230);
	hdr->relocatable = img[0x234];
	hdr->xloadflags = rd16(img + 0x236);
	hdr->cmdline_size = rd32(img + 0x238);
	hdr->payload_offset = rd32(img + 0x248);
	hdr->payload_length = rd32(img + 0x24c);
	hdr->pref_address = rd64(img + 0x258);
	hdr->init_size = rd32(img + 0x260);
	/* The header's own length: jump at 0x200 is "jmp rel8" to its end. */
	hdr->header_len = (size_t)0x202 + img[0x201] - BZIMAGE_HDR_OFFSET;
	if (hdr->header_len > BZIMAGE_HDR_MAX)
		hdr->header_len = BZIMAGE_HDR_MAX;
	hdr->setup_size = ((size_t)hdr->setup_sects + 1) * 512;

	if (!(hdr->loadflags & 0x01))
		return ember_fail(err, EINVAL, "bzImage is a zImage (not loaded high): unsupported");
	if (!(hdr->xloadflags & XLF_KERNEL_64))
		return ember_fail(err, EINVAL,
				  "bzImage has no 64-bit entry point (XLF_KERNEL_64 clear): 32-bit kernels are unsupported");
	if (hdr->setup_size >= size)
		return ember_fail(err, EINVAL, "truncated bzImage: setup code (%zu bytes) fills the file",
				  hdr->setup_size);
	if (hdr->init_size == 0)
		return ember_fail(err, EINVAL, "bzImage header has init_size 0");
	if ((uint64_t)hdr->payload_offset + hdr->payload_length > size - hdr->setup_size)
		return ember_fail(err, EINVAL, "truncated bzImage: payload ends past the end of the file");
	return 0;
}

/*
 * An LZ4 payload is unpacked here and its vmlinux loaded at its own
 * physical addresses, entered at startup_64 like an ELF kernel: the guest
 * skips its decompressor entirely.  Returns 1 if the payload is not LZ4.
 */
static int load_unpacked(const struct guest_memory *mem, const uint8_t *img,
			 const struct bzimage_header *hdr, struct x86_kernel *k,
			 struct ember_err *err)
{
	const uint8_t *payload = img + hdr->setup_size + hdr->payload_offset;
	size_t len = hdr->payload_length;
	if (len < 8 || !lz4_is_legacy(payload, len))
		return 1;

	uint32_t unpacked_size;
	memcpy(&unpacked_size, payload + len - 4, 4); /* the build appends it, little-endian */
	uint8_t *vmlinux;
	int rc = lz4_unpack_legacy(payload, len - 4, unpacked_size, &vmlinux, err);
	if (rc)
		return rc;
	rc = elf_load(mem, vmlinux, unpacked_size, k, err);
	if (rc == 0) {
		/* startup_64 with boot_params (e_entry), even if vmlinux has a PVH note. */
		Elf64_Ehdr eh;
		memcpy(&eh, vmlinux, sizeof(eh));
		k->protocol = X86_BOOT_LINUX_64;
		k->boot.entry = eh.e_entry;
	}
	free(vmlinux);
	return rc;
}

/* The protected-mode kernel as is, decompressed by its own code in the guest. */
static int load_packed(const struct guest_memory *mem, const uint8_t *img, size_t size,
		       const struct bzimage_header *hdr, uint64_t load_addr,
		       struct x86_kernel *k, struct ember_err *err)
{
	struct boot_info *boot = &k->boot;
	size_t kernel_size = size - hdr->setup_size;
	/* The kernel decompresses in place and needs init_size bytes from its load address. */
	uint64_t footprint = hdr->init_size > kernel_size ? hdr->init_size : kernel_size;
	void *dst = guest_ptr(mem, load_addr, footprint);
	if (!dst)
		return ember_fail(err, ENOMEM,
				  "kernel needs %llu MiB from %#llx to unpack: give the guest more --mem",
				  (unsigned long long)(footprint >> 20) + 1, (unsigned long long)load_addr);
	memcpy(dst, img + hdr->setup_size, kernel_size);

	memset(k, 0, sizeof(*k));
	k->protocol = X86_BOOT_LINUX_64;
	boot->entry = load_addr + 0x200; /* startup_64 */
	boot->kernel_start = load_addr;
	boot->kernel_end = load_addr + footprint;
	boot->format = "bzImage";
	return 0;
}

int bzimage_load(const struct guest_memory *mem, const uint8_t *img, size_t size,
		 uint64_t load_addr, struct x86_kernel *k, struct ember_err *err)
{
	struct boot_info *boot = &k->boot;
	struct bzimage_header hdr;
	int rc = bzimage_parse(img, size, &hdr, err);
	if (rc)
		return rc;

	rc = load_unpacked(mem, img, &hdr, k, err);
	if (rc == 0) {
		/* The kernel still uses memory up to init_size past where it runs. */
		if (boot->kernel_start + hdr.init_size > boot->kernel_end)
			boot->kernel_end = boot->kernel_start + hdr.init_size;
		if (!guest_ptr(mem, boot->kernel_start, boot->kernel_end - boot->kernel_start))
			return ember_fail(err, ENOMEM,
					  "kernel needs %llu MiB from %#llx: give the guest more --mem",
					  (unsigned long long)((boot->kernel_end - boot->kernel_start) >> 20) + 1,
					  (unsigned long long)boot->kernel_start);
		boot->format = "bzImage (LZ4, unpacked by ember)";
	} else if (rc > 0) {
		rc = load_packed(mem, img, size, &hdr, load_addr, k, err);
	}
	if (rc)
		return rc;

	k->has_setup_header = true;
	k->setup_header_len = hdr.header_len;
	memcpy(k->setup_header, img + BZIMAGE_HDR_OFFSET, hdr.header_len);
	k->boot_version = hdr.version;
	boot->initrd_max = hdr.initrd_addr_max;
	/* XLF_CAN_BE_LOADED_ABOVE_4G (bit 1) lets the initrd live anywhere. */
	if (hdr.xloadflags & (1u << 1))
		boot->initrd_max = UINT64_MAX;
	return 0;
}
