// SPDX-License-Identifier: GPL-2.0-only
/*
 * arch/x86/bzimage.c, arch/x86/elf.c, arch/x86/kernel.c, boot/lz4.c and boot/loader.c on crafted images:
 * bzImage header checks, packed and LZ4-unpacked loading, ELF64 loading with
 * and without a PVH note, initrd placement, and the file-path entry points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <lz4.h>

#include "arch/x86/kernel.h"
#include "boot/lz4.h"
#include "vm/memory.h"

#define MiB (1ULL << 20)
#define RAM (64 * MiB)
#define LOAD 0x100000ULL

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }

/* ---- fixtures -------------------------------------------------------- */

/* One region of 64 MiB at 0, filled with junk so that zeroing is visible. */
static int mem_setup(void **state)
{
	static struct guest_memory mem;
	const struct guest_region layout = { .gpa = 0, .size = RAM };
	struct ember_err err = { "" };
	if (guest_memory_create(&mem, &layout, 1, &err) != 0)
		return -1;
	memset(mem.mapping + LOAD, 0xcc, 32 * MiB);
	*state = &mem;
	return 0;
}

static int mem_teardown(void **state)
{
	guest_memory_destroy(*state);
	return 0;
}

/* ---- crafted bzImage ------------------------------------------------- */

#define SETUP_SECTS 3
#define SETUP_SIZE  ((SETUP_SECTS + 1) * 512)
#define HDR_JUMP    0x6a /* header ends at 0x26c, as in boot protocol 2.15 */

struct bz {
	uint8_t *img;
	size_t size;
};

static uint8_t kernel_byte(size_t i) { return (uint8_t)(i * 13 + 5); }

/* A good 2.15 bzImage: kernel_size bytes of protected-mode code, payload inside it. */
static struct bz bz_make(size_t kernel_size, uint32_t init_size)
{
	struct bz b = { .size = SETUP_SIZE + kernel_size };
	b.img = calloc(1, b.size);
	assert_non_null(b.img);
	uint8_t *h = b.img;
	h[0x1f1] = SETUP_SECTS;
	put16(h + 0x1fe, 0xaa55);
	h[0x200] = 0xeb;
	h[0x201] = HDR_JUMP;
	memcpy(h + 0x202, "HdrS", 4);
	put16(h + 0x206, 0x020f);
	h[0x211] = 0x01;                     /* LOADED_HIGH */
	put32(h + 0x22c, 0x7fffffff);        /* initrd_addr_max */
	put32(h + 0x230, 0x200000);          /* kernel_alignment */
	h[0x234] = 1;                        /* relocatable */
	put16(h + 0x236, 0x0001);            /* XLF_KERNEL_64 */
	put32(h + 0x238, 2047);              /* cmdline_size */
	put32(h + 0x248, 0x40);              /* payload_offset */
	put32(h + 0x24c, (uint32_t)(kernel_size - 0x80)); /* payload_length */
	put32(h + 0x258, 0x1000000);         /* pref_address (low half) */
	put32(h + 0x25c, 0);
	put32(h + 0x260, init_size);
	for (size_t i = 0; i < kernel_size; i++)
		b.img[SETUP_SIZE + i] = kernel_byte(i);
	return b;
}

static void bz_free(struct bz *b)
{
	free(b->img);
	b->img = NULL;
}

static void bz_expect_reject(const struct bz *b, size_t size, const char *why)
{
	struct bzimage_header hdr;
	struct ember_err err = { "" };
	assert_int_equal(bzimage_parse(b->img, size, &hdr, &err), -EINVAL);
	assert_contains(err.msg, why);
}

static void bzimage_parse_good(void **state)
{
	(void)state;
	struct bz b = bz_make(0x4000, 0x800000);
	struct bzimage_header hdr;
	struct ember_err err = { "" };
	assert_true(bzimage_detect(b.img, b.size));
	assert_false(elf_detect(b.img, b.size));
	assert_int_equal(bzimage_parse(b.img, b.size, &hdr, &err), 0);
	assert_int_equal(hdr.version, 0x020f);
	assert_int_equal(hdr.setup_sects, SETUP_SECTS);
	assert_int_equal(hdr.setup_size, SETUP_SIZE);
	assert_int_equal(hdr.loadflags, 0x01);
	assert_int_equal(hdr.xloadflags, 0x0001);
	assert_int_equal(hdr.initrd_addr_max, 0x7fffffff);
	assert_int_equal(hdr.kernel_alignment, 0x200000);
	assert_int_equal(hdr.relocatable, 1);
	assert_int_equal(hdr.cmdline_size, 2047);
	assert_int_equal(hdr.payload_offset, 0x40);
	assert_int_equal(hdr.payload_length, 0x4000 - 0x80);
	assert_int_equal(hdr.pref_address, 0x1000000);
	assert_int_equal(hdr.init_size, 0x800000);
	assert_int_equal(hdr.header_len, 0x202 + HDR_JUMP - 0x1f1);

	/* setup_sects 0 means 4. */
	struct bz big = bz_make(0x4000, 0x800000);
	big.img[0x1f1] = 0;
	put32(big.img + 0x24c, 0x1000); /* the payload moves with the longer setup */
	assert_int_equal(bzimage_parse(big.img, big.size, &hdr, &err), 0);
	assert_int_equal(hdr.setup_sects, 4);
	assert_int_equal(hdr.setup_size, 5 * 512);

	/* A jump past the header's maximum is capped at 0x280. */
	big.img[0x201] = 0xff;
	assert_int_equal(bzimage_parse(big.img, big.size, &hdr, &err), 0);
	assert_int_equal(hdr.header_len, BZIMAGE_HDR_MAX);
	bz_free(&big);
	bz_free(&b);
}

static void bzimage_parse_rejects(void **state)
{
	(void)state;
	struct bz b = bz_make(0x4000, 0x800000);

	bz_expect_reject(&b, 0x26f, "truncated bzImage (623 bytes");
	bz_expect_reject(&b, 0, "truncated bzImage");

	memcpy(b.img + 0x202, "HdrZ", 4);
	assert_false(bzimage_detect(b.img, b.size));
	bz_expect_reject(&b, b.size, "no 'HdrS' magic at 0x202");
	memcpy(b.img + 0x202, "HdrS", 4);

	put16(b.img + 0x1fe, 0x55aa);
	bz_expect_reject(&b, b.size, "no 0xAA55 boot signature at 0x1fe");
	put16(b.img + 0x1fe, 0xaa55);

	put16(b.img + 0x206, 0x020b);
	bz_expect_reject(&b, b.size, "boot protocol 2.11 is too old");
	put16(b.img + 0x206, 0x020c); /* 2.12 is the minimum */
	struct bzimage_header hdr;
	assert_int_equal(bzimage_parse(b.img, b.size, &hdr, NULL), 0);
	put16(b.img + 0x206, 0x020f);

	b.img[0x211] = 0x00;
	bz_expect_reject(&b, b.size, "zImage");
	b.img[0x211] = 0x01;

	put16(b.img + 0x236, 0x0002);
	bz_expect_reject(&b, b.size, "XLF_KERNEL_64 clear");
	put16(b.img + 0x236, 0x0001);

	/* Setup code as long as the file (or longer). */
	b.img[0x1f1] = (uint8_t)(b.size / 512); /* (n + 1) * 512 > size */
	bz_expect_reject(&b, b.size, "setup code");
	bz_expect_reject(&b, b.size, "fills the file");
	b.img[0x1f1] = SETUP_SECTS;
	bz_expect_reject(&b, SETUP_SIZE, "setup code (2048 bytes) fills the file");

	put32(b.img + 0x260, 0);
	bz_expect_reject(&b, b.size, "init_size 0");
	put32(b.img + 0x260, 0x800000);

	/* Payload ending one byte past the kernel part of the file. */
	put32(b.img + 0x248, 0x80);
	put32(b.img + 0x24c, 0x4000 - 0x80 + 1);
	bz_expect_reject(&b, b.size, "payload ends past the end of the file");
	put32(b.img + 0x24c, 0x4000 - 0x80); /* ending exactly at the end is fine */
	assert_int_equal(bzimage_parse(b.img, b.size, &hdr, NULL), 0);
	put32(b.img + 0x248, 0xffffffff);   /* offset + length must not wrap */
	put32(b.img + 0x24c, 0x10);
	bz_expect_reject(&b, b.size, "payload ends past");
	bz_free(&b);
}

static void bzimage_load_packed(void **state)
{
	struct guest_memory *mem = *state;
	struct bz b = bz_make(0x4000, 16 * MiB);
	put16(b.img + 0x236, 0x0003); /* KERNEL_64 | CAN_BE_LOADED_ABOVE_4G */
	struct x86_kernel boot;
	struct ember_err err = { "" };

	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	assert_int_equal(boot.protocol, X86_BOOT_LINUX_64);
	assert_int_equal(boot.boot.entry, 0x100200);
	assert_int_equal(boot.boot.kernel_start, LOAD);
	assert_int_equal(boot.boot.kernel_end, LOAD + 16 * MiB);
	assert_string_equal(boot.boot.format, "bzImage");
	/* The protected-mode kernel, byte for byte, at 1 MiB; nothing of the setup code. */
	assert_memory_equal(mem->mapping + LOAD, b.img + SETUP_SIZE, 0x4000);
	assert_int_equal(mem->mapping[LOAD + 0x4000], 0xcc);
	/* Setup header handed on for boot_params. */
	assert_true(boot.has_setup_header);
	assert_int_equal(boot.setup_header_len, 0x202 + HDR_JUMP - 0x1f1);
	assert_memory_equal(boot.setup_header, b.img + 0x1f1, boot.setup_header_len);
	assert_int_equal(boot.boot_version, 0x020f);
	assert_int_equal(boot.boot.initrd_max, UINT64_MAX);
	assert_int_equal(boot.boot.initrd_size, 0);

	/* Without XLF_CAN_BE_LOADED_ABOVE_4G the header's initrd_addr_max applies. */
	put16(b.img + 0x236, 0x0001);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	assert_int_equal(boot.boot.initrd_max, 0x7fffffff);
	bz_free(&b);
}

static void bzimage_load_footprint(void **state)
{
	struct guest_memory *mem = *state;
	struct x86_kernel boot;
	struct ember_err err = { "" };

	/* init_size smaller than the file: the file's size is the footprint. */
	struct bz b = bz_make(0x4000, 0x1000);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	assert_int_equal(boot.boot.kernel_end, LOAD + 0x4000);
	bz_free(&b);

	/* Ending exactly at the end of RAM still fits. */
	b = bz_make(0x4000, (uint32_t)(RAM - LOAD));
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	assert_int_equal(boot.boot.kernel_end, RAM);
	bz_free(&b);

	/* One byte more does not. */
	b = bz_make(0x4000, (uint32_t)(RAM - LOAD + 1));
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -ENOMEM);
	assert_contains(err.msg, "give the guest more --mem");
	assert_contains(err.msg, "0x100000");
	bz_free(&b);

	/* Much larger than RAM, and a load address outside RAM. */
	b = bz_make(0x4000, 80 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -ENOMEM);
	assert_contains(err.msg, "kernel needs 81 MiB");
	assert_contains(err.msg, "--mem");
	bz_free(&b);
	b = bz_make(0x4000, 0x8000);
	assert_int_equal(bzimage_load(mem, b.img, b.size, 128 * MiB, &boot, &err), -ENOMEM);
	bz_free(&b);

	/* Parse errors come through bzimage_load unchanged. */
	b = bz_make(0x4000, 0);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "init_size 0");
	bz_free(&b);
}

/* ---- crafted ELF64 --------------------------------------------------- */

struct seg {
	uint32_t type;
	uint64_t paddr, filesz, memsz;
	uint8_t seed;          /* content pattern when data is NULL */
	const uint8_t *data;   /* or exact bytes (notes) */
};

static uint8_t seg_byte(const struct seg *s, size_t i) { return (uint8_t)(s->seed + i * 7); }

#define ELF_DATA_OFF 0x1000

static Elf64_Ehdr ehdr_get(const uint8_t *img) { Elf64_Ehdr e; memcpy(&e, img, sizeof(e)); return e; }
static void ehdr_put(uint8_t *img, const Elf64_Ehdr *e) { memcpy(img, e, sizeof(*e)); }
static Elf64_Phdr phdr_get(const uint8_t *img, unsigned i)
{
	Elf64_Phdr p;
	memcpy(&p, img + sizeof(Elf64_Ehdr) + i * sizeof(p), sizeof(p));
	return p;
}
static void phdr_put(uint8_t *img, unsigned i, const Elf64_Phdr *p)
{
	memcpy(img + sizeof(Elf64_Ehdr) + i * sizeof(*p), p, sizeof(*p));
}

/* Builds an x86-64 ET_EXEC with program headers right after the ELF header. */
static uint8_t *elf_make(const struct seg *segs, unsigned n, uint64_t entry, size_t *size)
{
	size_t off = ELF_DATA_OFF;
	for (unsigned i = 0; i < n; i++)
		off += (segs[i].filesz + 15) & ~15ULL;
	uint8_t *img = calloc(1, off);
	assert_non_null(img);

	Elf64_Ehdr eh = { 0 };
	memcpy(eh.e_ident, ELFMAG, SELFMAG);
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_type = ET_EXEC;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_entry = entry;
	eh.e_phoff = sizeof(Elf64_Ehdr);
	eh.e_ehsize = sizeof(Elf64_Ehdr);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	eh.e_phnum = (uint16_t)n;
	ehdr_put(img, &eh);

	off = ELF_DATA_OFF;
	for (unsigned i = 0; i < n; i++) {
		Elf64_Phdr ph = { .p_type = segs[i].type, .p_flags = PF_R | PF_X, .p_offset = off,
				  .p_vaddr = 0xffffffff80000000ULL + segs[i].paddr,
				  .p_paddr = segs[i].paddr, .p_filesz = segs[i].filesz,
				  .p_memsz = segs[i].memsz, .p_align = 16 };
		phdr_put(img, i, &ph);
		for (size_t j = 0; j < segs[i].filesz; j++)
			img[off + j] = segs[i].data ? segs[i].data[j] : seg_byte(&segs[i], j);
		off += (segs[i].filesz + 15) & ~15ULL;
	}
	*size = off;
	return img;
}

/* Two PT_LOADs like a vmlinux: text at 16 MiB, data + bss at 20 MiB. */
static const struct seg two_loads[] = {
	{ PT_LOAD, 0x1000000, 0x3000, 0x3000, 0x11, NULL },
	{ PT_LOAD, 0x1400000, 0x1800, 0x5000, 0x77, NULL },
};
#define TWO_LOADS_ENTRY 0x1000100

static void check_two_loads(const struct guest_memory *mem)
{
	for (unsigned s = 0; s < 2; s++) {
		const uint8_t *p = mem->mapping + two_loads[s].paddr;
		for (size_t j = 0; j < two_loads[s].filesz; j++)
			if (p[j] != seg_byte(&two_loads[s], j))
				fail_msg("segment %u byte %zu: %#x", s, j, p[j]);
		for (size_t j = two_loads[s].filesz; j < two_loads[s].memsz; j++)
			if (p[j] != 0)
				fail_msg("segment %u bss byte %zu not zeroed: %#x", s, j, p[j]);
	}
	/* Nothing written past the last segment's memsz. */
	assert_int_equal(mem->mapping[0x1400000 + 0x5000], 0xcc);
}

/* An ELF note: 12-byte header, name and desc padded to 4. */
static size_t note_put(uint8_t *p, const char *name, uint32_t namesz, uint32_t type,
		       const void *desc, uint32_t descsz)
{
	Elf64_Nhdr nh = { .n_namesz = namesz, .n_descsz = descsz, .n_type = type };
	memcpy(p, &nh, sizeof(nh));
	size_t off = sizeof(nh);
	memcpy(p + off, name, namesz);
	off += (namesz + 3) & ~3u;
	memcpy(p + off, desc, descsz);
	off += (descsz + 3) & ~3u;
	return off;
}

static void elf_load_good(void **state)
{
	struct guest_memory *mem = *state;
	size_t size;
	uint8_t *img = elf_make(two_loads, 2, TWO_LOADS_ENTRY, &size);
	struct x86_kernel boot;
	struct ember_err err = { "" };

	assert_true(elf_detect(img, size));
	assert_false(bzimage_detect(img, size));
	assert_int_equal(elf_load(mem, img, size, &boot, &err), 0);
	assert_int_equal(boot.protocol, X86_BOOT_LINUX_64);
	assert_int_equal(boot.boot.entry, TWO_LOADS_ENTRY);
	assert_int_equal(boot.boot.kernel_start, 0x1000000);
	assert_int_equal(boot.boot.kernel_end, 0x1405000);
	assert_int_equal(boot.boot.initrd_max, UINT64_MAX);
	assert_false(boot.has_setup_header);
	assert_string_equal(boot.boot.format, "ELF");
	check_two_loads(mem);
	free(img);
}

static void elf_load_pvh_note(void **state)
{
	struct guest_memory *mem = *state;
	uint8_t notes[128] = { 0 };
	uint32_t pvh_entry = 0x1000040, other = 0x1000080;
	size_t n = 0;
	/* A GNU build-id first, then a Xen note of another type, then the PVH entry. */
	n += note_put(notes + n, "GNU", 4, NT_GNU_BUILD_ID, "\x01\x02\x03\x04\x05", 5);
	n += note_put(notes + n, "Xen", 4, 17, &other, 4);
	n += note_put(notes + n, "Xen", 4, 18, &pvh_entry, 4);
	const struct seg segs[] = {
		two_loads[0],
		{ PT_NOTE, 0, n, n, 0, notes },
		two_loads[1],
	};
	size_t size;
	uint8_t *img = elf_make(segs, 3, TWO_LOADS_ENTRY, &size);
	struct x86_kernel boot;
	struct ember_err err = { "" };

	assert_int_equal(elf_load(mem, img, size, &boot, &err), 0);
	assert_int_equal(boot.protocol, X86_BOOT_PVH);
	assert_int_equal(boot.boot.entry, pvh_entry);
	assert_string_equal(boot.boot.format, "ELF (PVH)");
	assert_int_equal(boot.boot.kernel_start, 0x1000000);
	assert_int_equal(boot.boot.kernel_end, 0x1405000);
	check_two_loads(mem);
	free(img);

	/* The same note with the wrong name or type leaves the 64-bit entry. */
	n = note_put(notes, "Xen", 4, 17, &pvh_entry, 4);
	n += note_put(notes + n, "Xan", 4, 18, &pvh_entry, 4);
	const struct seg segs2[] = { two_loads[0], { PT_NOTE, 0, n, n, 0, notes } };
	img = elf_make(segs2, 2, TWO_LOADS_ENTRY, &size);
	assert_int_equal(elf_load(mem, img, size, &boot, &err), 0);
	assert_int_equal(boot.protocol, X86_BOOT_LINUX_64);
	assert_int_equal(boot.boot.entry, TWO_LOADS_ENTRY);
	free(img);

	/* A note whose size runs past its segment is ignored, not read past. */
	n = note_put(notes, "Xen", 4, 18, &pvh_entry, 4);
	const struct seg segs3[] = { two_loads[0], { PT_NOTE, 0, n - 4, n - 4, 0, notes } };
	img = elf_make(segs3, 2, TWO_LOADS_ENTRY, &size);
	assert_int_equal(elf_load(mem, img, size, &boot, &err), 0);
	assert_int_equal(boot.protocol, X86_BOOT_LINUX_64);
	free(img);
}

static void elf_expect(const struct guest_memory *mem, const uint8_t *img, size_t size, int rc,
		       const char *why)
{
	struct x86_kernel boot;
	struct ember_err err = { "" };
	assert_int_equal(elf_load(mem, img, size, &boot, &err), rc);
	assert_contains(err.msg, why);
}

static void elf_header_rejects(void **state)
{
	struct guest_memory *mem = *state;
	size_t size;
	uint8_t *img = elf_make(two_loads, 2, TWO_LOADS_ENTRY, &size);
	Elf64_Ehdr good = ehdr_get(img), eh;

	elf_expect(mem, img, sizeof(Elf64_Ehdr) - 1, -EINVAL, "truncated ELF image (63 bytes)");

	/* A bad magic is refused even when the caller skipped elf_detect() (the LZ4 path). */
	eh = good;
	eh.e_ident[EI_MAG0] = 0;
	ehdr_put(img, &eh);
	assert_false(elf_detect(img, size));
	elf_expect(mem, img, size, -EINVAL, "no ELF magic");

	eh = good;
	eh.e_ident[EI_CLASS] = ELFCLASS32;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "not 64-bit little-endian");
	eh = good;
	eh.e_ident[EI_DATA] = ELFDATA2MSB;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "not 64-bit little-endian");

	eh = good;
	eh.e_machine = EM_386;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "machine 3, not x86-64");

	eh = good;
	eh.e_type = ET_DYN;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "not an executable (type 3)");

	eh = good;
	eh.e_phnum = 0;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "no usable program headers");
	eh = good;
	eh.e_phentsize = sizeof(Elf32_Phdr);
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "no usable program headers");

	/* Program headers past the end: by offset, by count, and a wrapping offset. */
	eh = good;
	eh.e_phoff = size - sizeof(Elf64_Phdr) - 1;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "program headers past the end");
	eh = good;
	eh.e_phnum = 0xffff;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "program headers past the end");
	eh = good;
	eh.e_phoff = UINT64_MAX - 8;
	ehdr_put(img, &eh);
	elf_expect(mem, img, size, -EINVAL, "program headers past the end");
	/* A file one byte too short for both program headers. */
	eh = good;
	ehdr_put(img, &eh);
	elf_expect(mem, img, sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr) - 1, -EINVAL,
		   "program headers past the end");
	free(img);
}

static void elf_segment_rejects(void **state)
{
	struct guest_memory *mem = *state;
	size_t size;
	uint8_t *img = elf_make(two_loads, 2, TWO_LOADS_ENTRY, &size);
	Elf64_Phdr good = phdr_get(img, 1), ph;

	/* Segment data past the end of the file (offset, length, wrapping sum). */
	ph = good;
	ph.p_filesz = size - ph.p_offset + 1;
	ph.p_memsz = ph.p_filesz;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -EINVAL, "segment 1 past the end");
	ph = good;
	ph.p_offset = size + 1;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -EINVAL, "segment 1 past the end");
	ph = good;
	ph.p_offset = 0x1000;
	ph.p_filesz = UINT64_MAX - 0x800;
	ph.p_memsz = UINT64_MAX;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -EINVAL, "segment 1 past the end");

	ph = good;
	ph.p_memsz = ph.p_filesz - 1;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -EINVAL, "segment 1: file size exceeds memory size");

	/* Outside RAM: above it, across its end, and a wrapping paddr + memsz. */
	ph = good;
	ph.p_paddr = 128 * MiB;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -ENOMEM, "is outside guest RAM: give the guest more --mem");
	ph = good;
	ph.p_paddr = RAM - 0x1000;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -ENOMEM, "segment 1 (0x3fff000, 20480 bytes) is outside guest RAM");
	ph = good;
	ph.p_paddr = UINT64_MAX - 0xfff;
	phdr_put(img, 1, &ph);
	elf_expect(mem, img, size, -ENOMEM, "outside guest RAM");
	phdr_put(img, 1, &good);

	/* Entry before, after and at the end of the loaded extent. */
	Elf64_Ehdr eh = ehdr_get(img);
	const uint64_t bad_entries[] = { 0xfffff, 0x1405000, 0x2000000, 0 };
	for (unsigned i = 0; i < 4; i++) {
		eh.e_entry = bad_entries[i];
		ehdr_put(img, &eh);
		char why[64];
		snprintf(why, sizeof(why), "entry point %#llx is outside",
			 (unsigned long long)bad_entries[i]);
		if (bad_entries[i] == 0)
			snprintf(why, sizeof(why), "is outside its loaded segments");
		elf_expect(mem, img, size, -EINVAL, why);
	}
	/* Last byte of the bss is still inside. */
	eh.e_entry = 0x1404fff;
	ehdr_put(img, &eh);
	struct x86_kernel boot;
	assert_int_equal(elf_load(mem, img, size, &boot, NULL), 0);
	free(img);

	/* No PT_LOAD at all (just a note, and an ignored PT_DYNAMIC). */
	uint32_t e = 0x1000000;
	uint8_t note[32];
	size_t n = note_put(note, "Xen", 4, 18, &e, 4);
	const struct seg noload[] = {
		{ PT_NOTE, 0, n, n, 0, note },
		{ PT_DYNAMIC, 0x1000000, 0x100, 0x100, 1, NULL },
	};
	img = elf_make(noload, 2, 0x1000000, &size);
	elf_expect(mem, img, size, -EINVAL, "no loadable segment");
	free(img);
}

/* ---- LZ4 payloads ---------------------------------------------------- */

/* Legacy frame: magic, le32 block size, block; then the kernel build's le32 size. */
static uint8_t *lz4_frame(const uint8_t *src, size_t len, uint32_t size_trailer, size_t *out_len,
			  size_t *block_off, size_t *block_len)
{
	int bound = LZ4_compressBound((int)len);
	uint8_t *f = malloc(12 + (size_t)bound);
	assert_non_null(f);
	int c = LZ4_compress_default((const char *)src, (char *)f + 8, (int)len, bound);
	assert_true(c > 0);
	put32(f, LZ4_LEGACY_MAGIC);
	put32(f + 4, (uint32_t)c);
	put32(f + 8 + c, size_trailer);
	*out_len = 12 + (size_t)c;
	if (block_off)
		*block_off = 8;
	if (block_len)
		*block_len = (size_t)c;
	return f;
}

/* A bzImage whose payload is the given legacy LZ4 stream (with its size trailer). */
static struct bz bz_with_payload(const uint8_t *payload, size_t len, uint32_t init_size)
{
	const size_t before = 0x200, after = 0x40;
	struct bz b = bz_make(before + len + after, init_size);
	memcpy(b.img + SETUP_SIZE + before, payload, len);
	put32(b.img + 0x248, (uint32_t)before);
	put32(b.img + 0x24c, (uint32_t)len);
	return b;
}

/* The vmlinux inside: two loads, plus a PVH note that must NOT change the entry. */
static uint8_t *vmlinux_make(size_t *size)
{
	static uint8_t notes[32];
	uint32_t pvh = 0x1000040;
	size_t n = note_put(notes, "Xen", 4, 18, &pvh, 4);
	const struct seg segs[] = { two_loads[0], two_loads[1], { PT_NOTE, 0, n, n, 0, notes } };
	return elf_make(segs, 3, TWO_LOADS_ENTRY, size);
}

static void bzimage_lz4_unpacked(void **state)
{
	struct guest_memory *mem = *state;
	size_t vlen, plen;
	uint8_t *vmlinux = vmlinux_make(&vlen);
	uint8_t *payload = lz4_frame(vmlinux, vlen, (uint32_t)vlen, &plen, NULL, NULL);
	struct bz b = bz_with_payload(payload, plen, 24 * MiB);
	struct x86_kernel boot;
	struct ember_err err = { "" };

	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	/* Loaded at the ELF's own addresses and entered at e_entry in long mode. */
	assert_int_equal(boot.protocol, X86_BOOT_LINUX_64);
	assert_int_equal(boot.boot.entry, TWO_LOADS_ENTRY);
	assert_int_equal(boot.boot.kernel_start, 0x1000000);
	/* init_size past the segments' end still belongs to the kernel. */
	assert_int_equal(boot.boot.kernel_end, 0x1000000 + 24 * MiB);
	assert_contains(boot.boot.format, "LZ4");
	check_two_loads(mem);
	/* Nothing went to the bzImage load address. */
	assert_int_equal(mem->mapping[LOAD], 0xcc);
	assert_true(boot.has_setup_header);
	assert_memory_equal(boot.setup_header, b.img + 0x1f1, boot.setup_header_len);
	assert_int_equal(boot.boot.initrd_max, 0x7fffffff);
	bz_free(&b);

	/* init_size past the end of RAM is refused, as on the packed path. */
	b = bz_with_payload(payload, plen, 60 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -ENOMEM);
	assert_non_null(strstr(err.msg, "--mem"));
	bz_free(&b);

	/* A small init_size leaves kernel_end at the segments' end. */
	b = bz_with_payload(payload, plen, 0x1000);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), 0);
	assert_int_equal(boot.boot.kernel_end, 0x1405000);
	bz_free(&b);
	free(payload);
	free(vmlinux);
}

static void bzimage_lz4_errors(void **state)
{
	struct guest_memory *mem = *state;
	size_t vlen, plen, boff, blen;
	uint8_t *vmlinux = vmlinux_make(&vlen);
	struct x86_kernel boot;
	struct ember_err err = { "" };

	/* Corrupt block: all 0xff is a run of literal-length bytes that never ends. */
	uint8_t *payload = lz4_frame(vmlinux, vlen, (uint32_t)vlen, &plen, &boff, &blen);
	memset(payload + boff, 0xff, blen);
	struct bz b = bz_with_payload(payload, plen, 24 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "corrupt LZ4 block at payload offset 8");
	bz_free(&b);
	free(payload);

	/* Trailer claims more than the stream holds. */
	payload = lz4_frame(vmlinux, vlen, (uint32_t)vlen + 16, &plen, NULL, NULL);
	b = bz_with_payload(payload, plen, 24 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	char why[96];
	snprintf(why, sizeof(why), "unpacked to %zu bytes, header says %zu", vlen, vlen + 16);
	assert_contains(err.msg, why);
	bz_free(&b);
	free(payload);

	/* Trailer claims less: the block does not fit the buffer. */
	payload = lz4_frame(vmlinux, vlen, (uint32_t)vlen - 16, &plen, NULL, NULL);
	b = bz_with_payload(payload, plen, 24 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "LZ4");
	bz_free(&b);
	free(payload);

	/* Trailer of 0. */
	payload = lz4_frame(vmlinux, vlen, 0, &plen, NULL, NULL);
	b = bz_with_payload(payload, plen, 24 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "LZ4 payload claims 0 bytes");
	bz_free(&b);
	free(payload);

	/* A well-formed stream that is not an ELF: elf_load's error comes through. */
	uint8_t junk[4096];
	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 31);
	payload = lz4_frame(junk, sizeof(junk), sizeof(junk), &plen, NULL, NULL);
	b = bz_with_payload(payload, plen, 24 * MiB);
	assert_int_equal(bzimage_load(mem, b.img, b.size, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "ELF image");
	bz_free(&b);
	free(payload);
	free(vmlinux);
}

static void lz4_unpack_direct(void **state)
{
	(void)state;
	uint8_t src[20000];
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i % 251 < 100 ? 'a' : i);
	size_t flen, boff, blen;
	uint8_t *f = lz4_frame(src, sizeof(src), sizeof(src), &flen, &boff, &blen);
	struct ember_err err = { "" };
	uint8_t *out = NULL;

	assert_true(lz4_is_legacy(f, flen));
	assert_false(lz4_is_legacy(f, 3));
	/* Without the 4-byte trailer, as bzimage_load passes it. */
	assert_int_equal(lz4_unpack_legacy(f, flen - 4, sizeof(src), &out, &err), 0);
	assert_non_null(out);
	assert_memory_equal(out, src, sizeof(src));
	free(out);

	/* Two concatenated streams (magic again mid-way) unpack to both halves. */
	size_t alen, blen2;
	uint8_t *a = lz4_frame(src, 8000, 0, &alen, NULL, NULL);
	uint8_t *b = lz4_frame(src + 8000, sizeof(src) - 8000, 0, &blen2, NULL, NULL);
	uint8_t *cat = malloc(alen + blen2);
	assert_non_null(cat);
	memcpy(cat, a, alen - 4);
	memcpy(cat + alen - 4, b, blen2 - 4);
	out = NULL;
	assert_int_equal(lz4_unpack_legacy(cat, alen + blen2 - 8, sizeof(src), &out, &err), 0);
	assert_memory_equal(out, src, sizeof(src));
	free(out);
	free(cat);
	free(a);
	free(b);

	/* Not legacy LZ4 (frame-format magic). */
	uint8_t frame_magic[8] = { 0x04, 0x22, 0x4d, 0x18, 0, 0, 0, 0 };
	assert_int_equal(lz4_unpack_legacy(frame_magic, 8, 16, &out, &err), -EINVAL);
	assert_contains(err.msg, "not legacy LZ4");
	/* Absurd expected sizes. */
	assert_int_equal(lz4_unpack_legacy(f, flen - 4, (1u << 30) + 1, &out, &err), -EINVAL);
	assert_contains(err.msg, "claims");
	/* A block size running past the input ends the stream short. */
	put32(f + 4, (uint32_t)(flen));
	assert_int_equal(lz4_unpack_legacy(f, flen - 4, sizeof(src), &out, &err), -EINVAL);
	assert_contains(err.msg, "unpacked to 0 bytes");
	free(f);
}

/* ---- files: boot_load_kernel / boot_load_initrd ----------------------- */

/* Temporary files, removed by the group teardown even when an assertion fails. */
#define MAX_TMP 16
static char *tmp_paths[MAX_TMP];

static char *tmp_file(const void *data, size_t len)
{
	char *path = strdup("/tmp/ember-test-boot-XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	unsigned slot = 0;
	while (slot < MAX_TMP && tmp_paths[slot])
		slot++;
	assert_true(slot < MAX_TMP);
	tmp_paths[slot] = path;
	const uint8_t *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		assert_true(n > 0);
		p += n;
		len -= (size_t)n;
	}
	close(fd);
	return path;
}

static void tmp_remove(char *path)
{
	for (unsigned i = 0; i < MAX_TMP; i++)
		if (tmp_paths[i] == path)
			tmp_paths[i] = NULL;
	unlink(path);
	free(path);
}

static int tmp_cleanup(void **state)
{
	(void)state;
	for (unsigned i = 0; i < MAX_TMP; i++)
		if (tmp_paths[i])
			tmp_remove(tmp_paths[i]);
	return 0;
}

static void load_kernel_files(void **state)
{
	struct guest_memory *mem = *state;
	struct x86_kernel boot;
	struct ember_err err = { "" };

	struct bz b = bz_make(0x4000, 8 * MiB);
	char *path = tmp_file(b.img, b.size);
	assert_int_equal(x86_load_kernel(mem, path, LOAD, &boot, &err), 0);
	assert_string_equal(boot.boot.format, "bzImage");
	assert_int_equal(boot.boot.entry, 0x100200);
	assert_memory_equal(mem->mapping + LOAD, b.img + SETUP_SIZE, 0x4000);
	tmp_remove(path);

	/* A bad bzImage: the reason is prefixed with the flag and path. */
	put32(b.img + 0x260, 0);
	path = tmp_file(b.img, b.size);
	assert_int_equal(x86_load_kernel(mem, path, LOAD, &boot, &err), -EINVAL);
	char why[128];
	snprintf(why, sizeof(why), "--kernel %s: bzImage header has init_size 0", path);
	assert_contains(err.msg, why);
	tmp_remove(path);
	bz_free(&b);

	size_t size;
	uint8_t *elf = elf_make(two_loads, 2, TWO_LOADS_ENTRY, &size);
	path = tmp_file(elf, size);
	assert_int_equal(x86_load_kernel(mem, path, LOAD, &boot, &err), 0);
	assert_string_equal(boot.boot.format, "ELF");
	assert_int_equal(boot.boot.entry, TWO_LOADS_ENTRY);
	check_two_loads(mem);
	tmp_remove(path);
	free(elf);

	/* Neither format. */
	char text[1024];
	memset(text, 'x', sizeof(text));
	path = tmp_file(text, sizeof(text));
	assert_int_equal(x86_load_kernel(mem, path, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "--kernel ");
	assert_contains(err.msg, "not a bzImage or ELF vmlinux");
	tmp_remove(path);

	/* Empty file, missing file, a directory. */
	path = tmp_file("", 0);
	assert_int_equal(x86_load_kernel(mem, path, LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "not a regular, non-empty file");
	assert_contains(err.msg, path);
	tmp_remove(path);
	assert_int_equal(x86_load_kernel(mem, "/nonexistent/ember/vmlinuz", LOAD, &boot, &err),
			 -ENOENT);
	assert_contains(err.msg, "--kernel /nonexistent/ember/vmlinuz: No such file or directory");
	assert_int_equal(x86_load_kernel(mem, "/tmp", LOAD, &boot, &err), -EINVAL);
	assert_contains(err.msg, "--kernel /tmp: not a regular, non-empty file");
}

static uint8_t *initrd_bytes(size_t len)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 3 + 1);
	return p;
}

static void boot_for_kernel(struct boot_info *boot, uint64_t end, uint64_t initrd_max)
{
	memset(boot, 0, sizeof(*boot));
	boot->kernel_start = LOAD;
	boot->kernel_end = end;
	boot->initrd_max = initrd_max;
}

static void load_initrd_placement(void **state)
{
	struct guest_memory *mem = *state;
	struct boot_info boot;
	struct ember_err err = { "" };
	const size_t len = 3 * MiB + 123;
	uint8_t *data = initrd_bytes(len);
	char *path = tmp_file(data, len);

	/* Top of the 64 MiB region, page aligned. */
	boot_for_kernel(&boot, LOAD + 16 * MiB, 0x7fffffff);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_size, len);
	assert_int_equal(boot.initrd_gpa, (RAM - len) & ~0xfffULL);
	assert_int_equal(boot.initrd_gpa & 0xfff, 0);
	assert_true(boot.initrd_gpa + len <= RAM);
	assert_true(boot.initrd_gpa + len > RAM - 4096);
	assert_memory_equal(mem->mapping + boot.initrd_gpa, data, len);

	/* initrd_max below the RAM top: the initrd ends at or below initrd_max. */
	boot_for_kernel(&boot, LOAD + 16 * MiB, 32 * MiB - 1);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_gpa, (32 * MiB - len) & ~0xfffULL);
	assert_true(boot.initrd_gpa + len - 1 <= 32 * MiB - 1);
	assert_memory_equal(mem->mapping + boot.initrd_gpa, data, len);

	/* No limit at all (ELF kernels): the top of RAM. */
	boot_for_kernel(&boot, LOAD + 16 * MiB, UINT64_MAX);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_gpa, (RAM - len) & ~0xfffULL);

	/* Just fits above the kernel: the kernel ends exactly where the initrd starts. */
	uint64_t start = (RAM - len) & ~0xfffULL;
	boot_for_kernel(&boot, start, 0x7fffffff);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_gpa, start);

	/* One byte more kernel and it no longer fits. */
	boot_for_kernel(&boot, start + 1, 0x7fffffff);
	boot.initrd_gpa = 0xdead;
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), -ENOMEM);
	assert_contains(err.msg, "does not fit in guest RAM above the kernel");
	assert_contains(err.msg, "--mem");
	assert_contains(err.msg, path);
	assert_int_equal(boot.initrd_gpa, 0xdead);
	/* initrd_max squeezing it under the kernel. */
	boot_for_kernel(&boot, LOAD + 16 * MiB, LOAD + 18 * MiB);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), -ENOMEM);
	tmp_remove(path);
	free(data);
}

static void load_initrd_too_large(void **state)
{
	struct guest_memory *mem = *state;
	struct boot_info boot;
	struct ember_err err = { "" };
	const size_t len = 60 * MiB;
	uint8_t *data = initrd_bytes(len);
	char *path = tmp_file(data, len);
	free(data);

	boot_for_kernel(&boot, LOAD + 16 * MiB, 0x7fffffff);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), -ENOMEM);
	assert_contains(err.msg, "--initrd ");
	assert_contains(err.msg, " MiB does not fit in guest RAM above the kernel");
	assert_int_equal(boot.initrd_size, 0);
	tmp_remove(path);

	/* Larger than all of RAM. */
	data = initrd_bytes(RAM + 4096);
	path = tmp_file(data, RAM + 4096);
	free(data);
	boot_for_kernel(&boot, LOAD + MiB, UINT64_MAX);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), -ENOMEM);
	tmp_remove(path);
}

static void load_initrd_files(void **state)
{
	struct guest_memory *mem = *state;
	struct boot_info boot;
	struct ember_err err = { "" };
	boot_for_kernel(&boot, LOAD + MiB, UINT64_MAX);

	assert_int_equal(boot_load_initrd(mem, "/nonexistent/initrd.img", &boot, &err), -ENOENT);
	assert_contains(err.msg, "--initrd /nonexistent/initrd.img: No such file or directory");
	char *path = tmp_file("", 0);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), -EINVAL);
	assert_contains(err.msg, "--initrd ");
	assert_contains(err.msg, "not a regular, non-empty file");
	tmp_remove(path);
	assert_int_equal(boot.initrd_size, 0);

	/* A one-byte initrd goes in the last page of RAM. */
	path = tmp_file("Z", 1);
	assert_int_equal(boot_load_initrd(mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_gpa, RAM - 4096);
	assert_int_equal(boot.initrd_size, 1);
	assert_int_equal(mem->mapping[RAM - 4096], 'Z');
	tmp_remove(path);
}

/* The initrd goes into the region holding the kernel, not into RAM above 4 GiB. */
static void load_initrd_region_of_kernel(void **state)
{
	(void)state;
	struct guest_memory mem;
	const struct guest_region layout[2] = { { 0, RAM, NULL }, { 1ULL << 32, RAM, NULL } };
	struct ember_err err = { "" };
	assert_int_equal(guest_memory_create(&mem, layout, 2, &err), 0);
	struct boot_info boot;
	boot_for_kernel(&boot, LOAD + MiB, UINT64_MAX);
	char *path = tmp_file("initrd", 6);
	assert_int_equal(boot_load_initrd(&mem, path, &boot, &err), 0);
	assert_int_equal(boot.initrd_gpa, RAM - 4096);
	assert_memory_equal(mem.region[0].host + RAM - 4096, "initrd", 6);
	tmp_remove(path);
	guest_memory_destroy(&mem);
}

#define MEM_TEST(f) cmocka_unit_test_setup_teardown(f, mem_setup, mem_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bzimage_parse_good),
		cmocka_unit_test(bzimage_parse_rejects),
		MEM_TEST(bzimage_load_packed),
		MEM_TEST(bzimage_load_footprint),
		MEM_TEST(elf_load_good),
		MEM_TEST(elf_load_pvh_note),
		MEM_TEST(elf_header_rejects),
		MEM_TEST(elf_segment_rejects),
		MEM_TEST(bzimage_lz4_unpacked),
		MEM_TEST(bzimage_lz4_errors),
		cmocka_unit_test(lz4_unpack_direct),
		MEM_TEST(load_kernel_files),
		MEM_TEST(load_initrd_placement),
		MEM_TEST(load_initrd_too_large),
		MEM_TEST(load_initrd_files),
		cmocka_unit_test(load_initrd_region_of_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, tmp_cleanup);
}
