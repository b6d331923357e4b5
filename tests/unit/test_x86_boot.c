// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 boot structures: e820 and boot_params (arch/x86/boot_params.c), the MP
 * table (mptable.c), the boot GDT (gdt.c) and the CPUID filter (cpuid.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/gdt.h"
#include "arch/x86/mptable.h"
#include "vm/config.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

static uint16_t rd16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

/* e820_build only reads the region table: no need to map the RAM. */
static void fake_memory(struct guest_memory *mem, uint64_t bytes)
{
	memset(mem, 0, sizeof(*mem));
	mem->nr_regions = arch_memory_layout(bytes, mem->region);
}

/* Sorted by address, no two entries overlapping, nothing of zero size. */
static void assert_e820_sane(const struct e820_entry *e, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		assert_true(e[i].size > 0);
		assert_true(e[i].type == E820_RAM || e[i].type == E820_RESERVED);
		if (i > 0)
			assert_true(e[i - 1].addr + e[i - 1].size <= e[i].addr);
	}
}

static uint64_t e820_ram_bytes(const struct e820_entry *e, unsigned n)
{
	uint64_t total = 0;
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			total += e[i].size;
	return total;
}

static void e820_256m(void **state)
{
	(void)state;
	struct guest_memory mem;
	struct e820_entry e[E820_MAX];
	fake_memory(&mem, 256 * MiB);
	unsigned n = e820_build(&mem, e, E820_MAX);

	assert_int_equal(n, 4);
	assert_e820_sane(e, n);
	/* Conventional memory up to the EBDA, the EBDA and ACPI area reserved, RAM from 1 MiB. */
	assert_int_equal(e[0].addr, 0);
	assert_int_equal(e[0].size, 0x9fc00);
	assert_int_equal(e[0].type, E820_RAM);
	assert_int_equal(e[1].addr, 0x9fc00);
	assert_int_equal(e[1].size, 0x400);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].addr, 0xe0000);
	assert_int_equal(e[2].size, 0x20000);
	assert_int_equal(e[2].type, E820_RESERVED);
	assert_int_equal(e[3].addr, 0x100000);
	assert_int_equal(e[3].size, 255 * MiB);
	assert_int_equal(e[3].type, E820_RAM);
	/* The MP table lives in the reserved EBDA. */
	assert_true(ARCH_EBDA_ADDR >= e[1].addr && ARCH_EBDA_ADDR < e[1].addr + e[1].size);
	/* The legacy hole 0xa0000-0xfffff is not RAM. */
	for (unsigned i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			assert_true(e[i].addr + e[i].size <= 0xa0000 || e[i].addr >= 0x100000);
	assert_int_equal(sizeof(struct e820_entry), 20);
}

static void e820_above_4g(void **state)
{
	(void)state;
	struct guest_memory mem;
	struct e820_entry e[E820_MAX];
	fake_memory(&mem, 4 * GiB + 512 * MiB);
	unsigned n = e820_build(&mem, e, E820_MAX);

	assert_int_equal(n, 5);
	assert_e820_sane(e, n);
	assert_int_equal(e[1].type, E820_RESERVED);
	assert_int_equal(e[2].type, E820_RESERVED);
	assert_int_equal(e[3].addr, 0x100000);
	assert_int_equal(e[3].size, 3 * GiB - MiB);
	assert_int_equal(e[3].type, E820_RAM);
	assert_int_equal(e[4].addr, 4 * GiB);
	assert_int_equal(e[4].size, GiB + 512 * MiB);
	assert_int_equal(e[4].type, E820_RAM);
	/* Every RAM byte except the 384 KiB below 1 MiB not given as RAM. */
	assert_int_equal(e820_ram_bytes(e, n), 4 * GiB + 512 * MiB - (0x100000 - 0x9fc00));
	/* Nothing claims the 3-4 GiB device hole. */
	for (unsigned i = 0; i < n; i++)
		assert_true(e[i].addr + e[i].size <= ARCH_MMIO_HOLE_START ||
			    e[i].addr >= ARCH_MMIO_HOLE_END);
}

static void e820_respects_max(void **state)
{
	(void)state;
	struct guest_memory mem;
	fake_memory(&mem, 4 * GiB + 512 * MiB);
	for (unsigned max = 0; max <= 6; max++) {
		struct e820_entry e[8];
		memset(e, 0xee, sizeof(e));
		unsigned n = e820_build(&mem, e, max);
		assert_true(n <= max);
		/* Entries past the limit stay untouched. */
		const uint8_t *raw = (const uint8_t *)&e[max];
		for (size_t b = 0; b < sizeof(e[0]); b++)
			assert_int_equal(raw[b], 0xee);
	}
}

/* A bzImage-style setup header as bzimage_load leaves it in boot_info. */
static void bz_boot_info(struct x86_kernel *boot)
{
	memset(boot, 0, sizeof(*boot));
	boot->has_setup_header = true;
	boot->setup_header_len = 0x7b; /* 0x1f1..0x26b */
	/* Junk beyond setup_header_len must not be copied. */
	memset(boot->setup_header, 0x99, sizeof(boot->setup_header));
	/* H(off): the byte at zero-page offset `off`. */
#define H(off) (boot->setup_header + (off) - BZIMAGE_HDR_OFFSET)
	memset(H(0x1f1), 0, 0x7b);
	*H(0x1f1) = 27;                      /* setup_sects */
	memcpy(H(0x1fe), "\x55\xaa", 2);
	memcpy(H(0x202), "HdrS", 4);
	memcpy(H(0x206), "\x0f\x02", 2);     /* 2.15 */
	*H(0x210) = 0x00;                    /* type_of_loader, ember overrides */
	*H(0x211) = 0x81;                    /* LOADED_HIGH | CAN_USE_HEAP */
	memcpy(H(0x230), "\x00\x00\x20\x00", 4); /* kernel_alignment 2 MiB */
	memcpy(H(0x236), "\x7f\x00", 2);     /* xloadflags */
	memcpy(H(0x260), "\x00\x00\x80\x01", 4); /* init_size */
	memcpy(H(0x268), "\x44\x33\x22\x11", 4); /* last field inside the header */
#undef H
	boot->boot_version = 0x020f;
}

static void boot_params_bzimage(void **state)
{
	(void)state;
	static uint8_t zp[BOOT_PARAMS_SIZE];
	struct x86_kernel boot;
	struct guest_memory mem;
	struct e820_entry e[E820_MAX];
	bz_boot_info(&boot);
	boot.boot.cmdline_gpa = ARCH_CMDLINE_ADDR;
	boot.boot.initrd_gpa = 0x7f00000;
	boot.boot.initrd_size = 0x123456;
	fake_memory(&mem, 256 * MiB);
	unsigned n = e820_build(&mem, e, E820_MAX);

	memset(zp, 0xaa, sizeof(zp));
	boot_params_build(zp, &boot, e, n, 0xe0000);

	/* The RSDP address (boot protocol 2.14), 64-bit at 0x070. */
	uint64_t rsdp;
	memcpy(&rsdp, zp + BP_ACPI_RSDP_ADDR, 8);
	assert_int_equal(rsdp, 0xe0000);
	/* The header, copied to its place. */
	assert_int_equal(zp[0x1f1], 27);
	assert_int_equal(rd16(zp + BP_BOOT_FLAG), 0xaa55);
	assert_memory_equal(zp + BP_HEADER, "HdrS", 4);
	assert_int_equal(rd16(zp + BP_VERSION), 0x020f);
	assert_int_equal(zp[BP_LOADFLAGS], 0x81);
	assert_int_equal(rd32(zp + BP_KERNEL_ALIGNMENT), 0x200000);
	assert_int_equal(rd16(zp + 0x236), 0x007f);
	assert_int_equal(rd32(zp + 0x260), 0x01800000);
	assert_int_equal(rd32(zp + 0x268), 0x11223344);
	assert_int_equal(zp[0x26c], 0); /* past setup_header_len: zero, not the 0x99 junk */
	/* Loader fields. */
	assert_int_equal(zp[BP_TYPE_OF_LOADER], 0xff);
	assert_int_equal(rd32(zp + BP_CMD_LINE_PTR), 0x20000);
	assert_int_equal(rd32(zp + BP_EXT_CMD_LINE_PTR), 0);
	assert_int_equal(rd32(zp + BP_RAMDISK_IMAGE), 0x7f00000);
	assert_int_equal(rd32(zp + BP_RAMDISK_SIZE), 0x123456);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_SIZE), 0);
	/* The memory map. */
	assert_int_equal(zp[BP_E820_ENTRIES], 4);
	assert_memory_equal(zp + BP_E820_TABLE, e, 4 * sizeof(e[0]));
	assert_int_equal(zp[BP_E820_TABLE + 4 * sizeof(e[0])], 0);
	/* Everything else is zeroed (the 0xaa fill is gone). */
	assert_int_equal(zp[0], 0);
	assert_int_equal(zp[0x1f0], 0);
	assert_int_equal(zp[BOOT_PARAMS_SIZE - 1], 0);
}

static void boot_params_high_addresses(void **state)
{
	(void)state;
	static uint8_t zp[BOOT_PARAMS_SIZE];
	struct x86_kernel boot;
	struct e820_entry e[1] = { { 0, 0x9fc00, E820_RAM } };
	bz_boot_info(&boot);
	boot.boot.cmdline_gpa = 0x123456000ULL;
	boot.boot.initrd_gpa = 0x140000000ULL;  /* 5 GiB */
	boot.boot.initrd_size = 0x100001000ULL; /* just over 4 GiB */

	boot_params_build(zp, &boot, e, 1, 0);
	assert_int_equal(rd32(zp + BP_CMD_LINE_PTR), 0x23456000);
	assert_int_equal(rd32(zp + BP_EXT_CMD_LINE_PTR), 0x1);
	assert_int_equal(rd32(zp + BP_RAMDISK_IMAGE), 0x40000000);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_IMAGE), 0x1);
	assert_int_equal(rd32(zp + BP_RAMDISK_SIZE), 0x00001000);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_SIZE), 0x1);

	/* No initrd: all four ramdisk fields are zero. */
	boot.boot.initrd_size = 0;
	boot_params_build(zp, &boot, e, 1, 0);
	assert_int_equal(rd32(zp + BP_RAMDISK_IMAGE), 0);
	assert_int_equal(rd32(zp + BP_RAMDISK_SIZE), 0);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_IMAGE), 0);
	assert_int_equal(rd32(zp + BP_EXT_RAMDISK_SIZE), 0);
	assert_int_equal(zp[BP_E820_ENTRIES], 1);
}

static void boot_params_elf(void **state)
{
	(void)state;
	static uint8_t zp[BOOT_PARAMS_SIZE];
	struct x86_kernel boot;
	memset(&boot, 0, sizeof(boot));
	boot.boot.cmdline_gpa = ARCH_CMDLINE_ADDR;
	struct e820_entry e[2] = { { 0, 0x9fc00, E820_RAM }, { 0x100000, 63 * MiB, E820_RAM } };

	boot_params_build(zp, &boot, e, 2, 0);
	/* A minimal valid header of its own. */
	assert_int_equal(rd16(zp + BP_BOOT_FLAG), 0xaa55);
	assert_memory_equal(zp + BP_HEADER, "HdrS", 4);
	assert_int_equal(rd16(zp + BP_VERSION), 0x020f);
	assert_int_equal(rd32(zp + BP_KERNEL_ALIGNMENT), 0x01000000);
	assert_int_equal(zp[BP_LOADFLAGS], 0x01);
	assert_int_equal(zp[BP_TYPE_OF_LOADER], 0xff);
	assert_int_equal(rd32(zp + BP_CMD_LINE_PTR), ARCH_CMDLINE_ADDR);
	assert_int_equal(zp[BP_E820_ENTRIES], 2);
	assert_memory_equal(zp + BP_E820_TABLE, e, sizeof(e));
}

static void boot_params_e820_clamped(void **state)
{
	(void)state;
	static uint8_t zp[BOOT_PARAMS_SIZE];
	static struct e820_entry e[E820_MAX + 10];
	struct x86_kernel boot;
	memset(&boot, 0, sizeof(boot));
	for (unsigned i = 0; i < E820_MAX + 10; i++)
		e[i] = (struct e820_entry){ (uint64_t)i << 24, 1 << 24, E820_RAM };

	boot_params_build(zp, &boot, e, E820_MAX + 10, 0);
	assert_int_equal(zp[BP_E820_ENTRIES], E820_MAX);
	assert_memory_equal(zp + BP_E820_TABLE, e, E820_MAX * sizeof(e[0]));
	/* The table ends at 0xcd0 (zero-page.rst): nothing written after it. */
	const size_t end = BP_E820_TABLE + E820_MAX * sizeof(e[0]);
	assert_int_equal(end, 0xcd0);
	for (size_t i = end; i < BOOT_PARAMS_SIZE; i++)
		assert_int_equal(zp[i], 0);
}

/* ---- MP table -------------------------------------------------------- */

static uint8_t sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s += *p++;
	return s;
}

/* One I/O interrupt entry per pin of KVM's 24-pin IOAPIC (16-23: virtio-mmio). */
#define MP_IRQS 24

static size_t mp_need(unsigned cpus)
{
	return 16 + 44 + 20 * (size_t)cpus + 8 + 8 + (MP_IRQS + 2) * 8;
}

static void check_mptable(unsigned cpus)
{
	uint8_t buf[1024];
	const uint64_t gpa = ARCH_EBDA_ADDR;
	memset(buf, 0xee, sizeof(buf));
	int len = mptable_build(buf, sizeof(buf), gpa, cpus);
	assert_int_equal(len, mp_need(cpus));
	assert_int_equal(buf[len], 0xee); /* nothing past what it reports */

	/* Floating pointer (MP spec 1.4 §4.1). */
	assert_memory_equal(buf, "_MP_", 4);
	assert_int_equal(rd32(buf + 4), gpa + 16); /* the table follows it */
	assert_int_equal(buf[8], 1);               /* length in 16-byte units */
	assert_int_equal(buf[9], 4);               /* spec 1.4 */
	assert_int_equal(sum8(buf, 16), 0);
	assert_int_equal(buf[11], 0);              /* feature byte 1: table present */

	/* Configuration table header (§4.2). */
	const uint8_t *cfg = buf + 16;
	assert_memory_equal(cfg, "PCMP", 4);
	uint16_t cfg_len = rd16(cfg + 4);
	assert_int_equal(cfg_len, len - 16);
	assert_int_equal(cfg[6], 4);
	assert_int_equal(sum8(cfg, cfg_len), 0);
	assert_memory_equal(cfg + 8, "EMBER   ", 8);
	assert_int_equal(rd16(cfg + 34), cpus + 1 + 1 + MP_IRQS + 2);
	assert_int_equal(rd32(cfg + 36), 0xfee00000);

	/* Entries, in the order Linux expects them. */
	const uint8_t *p = cfg + 44;
	for (unsigned i = 0; i < cpus; i++, p += 20) {
		assert_int_equal(p[0], 0);              /* processor */
		assert_int_equal(p[1], i);              /* LAPIC ID */
		assert_true(p[3] & 1);                  /* enabled */
		assert_int_equal(!!(p[3] & 2), i == 0); /* BSP only on cpu 0 */
	}
	assert_int_equal(p[0], 1); /* bus */
	assert_int_equal(p[1], 0);
	assert_memory_equal(p + 2, "ISA   ", 6);
	p += 8;
	assert_int_equal(p[0], 2); /* IOAPIC */
	assert_int_equal(p[1], cpus);
	assert_true(p[3] & 1);
	assert_int_equal(rd32(p + 4), 0xfec00000);
	p += 8;
	for (unsigned irq = 0; irq < MP_IRQS; irq++, p += 8) {
		assert_int_equal(p[0], 3);    /* I/O interrupt */
		assert_int_equal(p[1], 0);    /* INT */
		assert_int_equal(p[4], 0);    /* the one bus */
		assert_int_equal(p[5], irq);
		assert_int_equal(p[6], cpus); /* the IOAPIC */
		assert_int_equal(p[7], irq);  /* identity routing, like KVM's default */
	}
	assert_int_equal(p[0], 4); /* local interrupt: LINT0 = ExtINT */
	assert_int_equal(p[1], 3);
	assert_int_equal(p[6], 0xff);
	assert_int_equal(p[7], 0);
	p += 8;
	assert_int_equal(p[0], 4); /* LINT1 = NMI */
	assert_int_equal(p[1], 1);
	assert_int_equal(p[6], 0xff);
	assert_int_equal(p[7], 1);
	p += 8;
	assert_int_equal(p - buf, len);
}

static void mptable_layouts(void **state)
{
	(void)state;
	check_mptable(1);
	check_mptable(2);
	check_mptable(4);
	check_mptable(EMBER_MAX_CPUS); /* the most --cpus allows still fits in the EBDA */
}

static void mptable_limits(void **state)
{
	(void)state;
	static uint8_t big[8192];
	uint8_t ebda[0xa0000 - ARCH_EBDA_ADDR];
	assert_int_equal(mptable_build(big, sizeof(big), 0, 0), -E2BIG);
	assert_int_equal(mptable_build(big, sizeof(big), 0, 255), -E2BIG);
	assert_int_equal(mptable_build(big, sizeof(big), 0, 254), (int)mp_need(254));
	/* The 1 KiB EBDA holds 37 CPUs, not 38. */
	assert_int_equal(mptable_build(ebda, sizeof(ebda), ARCH_EBDA_ADDR, 37), (int)mp_need(37));
	assert_int_equal(mptable_build(ebda, sizeof(ebda), ARCH_EBDA_ADDR, 38), -E2BIG);
	/* Exactly the size needed, and one byte less. */
	assert_int_equal(mptable_build(big, mp_need(3), 0, 3), (int)mp_need(3));
	assert_int_equal(mptable_build(big, mp_need(3) - 1, 0, 3), -E2BIG);
}

/* ---- GDT ------------------------------------------------------------- */

static void gdt_descriptors(void **state)
{
	(void)state;
	uint64_t gdt[GDT_ENTRIES];
	memset(gdt, 0xff, sizeof(gdt));
	gdt_build(gdt);
	assert_int_equal(gdt[0], 0);
	/* The values every Linux loader uses (e.g. 0x00af9b000000ffff for __BOOT_CS). */
	assert_int_equal(gdt[GDT_CODE32], 0x00cf9b000000ffffULL);
	assert_int_equal(gdt[GDT_CODE64], 0x00af9b000000ffffULL);
	assert_int_equal(gdt[GDT_DATA], 0x00cf93000000ffffULL);
	assert_int_equal(gdt[GDT_TSS], 0x00008b0000000067ULL);
}

static void gdt_segments(void **state)
{
	(void)state;
	uint64_t gdt[GDT_ENTRIES];
	gdt_build(gdt);

	struct kvm_segment cs = gdt_segment(gdt, GDT_CODE64);
	assert_int_equal(cs.selector, 0x10);
	assert_int_equal(cs.base, 0);
	assert_int_equal(cs.limit, 0xffffffff);
	assert_int_equal(cs.type, 0xb); /* execute/read, accessed */
	assert_int_equal(cs.s, 1);
	assert_int_equal(cs.present, 1);
	assert_int_equal(cs.dpl, 0);
	assert_int_equal(cs.l, 1);
	assert_int_equal(cs.db, 0); /* L=1 requires D=0 */
	assert_int_equal(cs.g, 1);
	assert_int_equal(cs.avl, 0);

	struct kvm_segment cs32 = gdt_segment(gdt, GDT_CODE32);
	assert_int_equal(cs32.selector, 0x08);
	assert_int_equal(cs32.l, 0);
	assert_int_equal(cs32.db, 1);
	assert_int_equal(cs32.type, 0xb);
	assert_int_equal(cs32.limit, 0xffffffff);

	struct kvm_segment ds = gdt_segment(gdt, GDT_DATA);
	assert_int_equal(ds.selector, 0x18);
	assert_int_equal(ds.type, 3); /* read/write, accessed */
	assert_int_equal(ds.s, 1);
	assert_int_equal(ds.present, 1);
	assert_int_equal(ds.l, 0);
	assert_int_equal(ds.db, 1);
	assert_int_equal(ds.g, 1);
	assert_int_equal(ds.limit, 0xffffffff);

	struct kvm_segment tr = gdt_segment(gdt, GDT_TSS);
	assert_int_equal(tr.selector, 0x20);
	assert_int_equal(tr.type, 0xb); /* busy TSS */
	assert_int_equal(tr.s, 0);      /* system segment */
	assert_int_equal(tr.present, 1);
	assert_int_equal(tr.g, 0);
	assert_int_equal(tr.limit, 0x67); /* byte granular: as is */
}

static void gdt_segment_decode(void **state)
{
	(void)state;
	/* base 0x12345678, limit 0xabcde byte-granular, D=1, AVL=1, DPL 3, data r/w. */
	uint64_t gdt[GDT_ENTRIES] = { 0 };
	gdt[3] = (0x12ULL << 56) | (0x5ULL << 52) | (0xaULL << 48) | (0xf3ULL << 40) |
		 (0x345678ULL << 16) | 0xbcde;
	struct kvm_segment s = gdt_segment(gdt, 3);
	assert_int_equal(s.base, 0x12345678);
	assert_int_equal(s.limit, 0xabcde);
	assert_int_equal(s.g, 0);
	assert_int_equal(s.db, 1);
	assert_int_equal(s.avl, 1);
	assert_int_equal(s.l, 0);
	assert_int_equal(s.dpl, 3);
	assert_int_equal(s.type, 3);
	assert_int_equal(s.present, 1);
	assert_int_equal(s.selector, 0x18);

	/* G=1 scales the limit to bytes: 0x00001 -> 0x1fff. */
	gdt[4] = (0x8ULL << 52) | (0x93ULL << 40) | 0x0001;
	s = gdt_segment(gdt, 4);
	assert_int_equal(s.limit, 0x1fff);
	assert_int_equal(s.g, 1);
	assert_int_equal(s.selector, 0x20);
}

/* ---- CPUID ----------------------------------------------------------- */

enum { E_0, E_1, E_4, E_B0, E_B1, E_B2, E_1F1, E_KVM, E_EXT, E_COUNT };

static void cpuid_fill(struct kvm_cpuid_entry2 e[E_COUNT])
{
	memset(e, 0, E_COUNT * sizeof(e[0]));
	e[E_0] = (struct kvm_cpuid_entry2){ .function = 0, .eax = 0x1f, .ebx = 0x756e6547 };
	e[E_1] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x000906ea,
					    .ebx = 0xaabb0800, /* APIC ID aa, count bb, CLFLUSH 8 */
					    .ecx = 0x7ffafbff, .edx = 0xbfebfbff /* HTT set */ };
	e[E_4] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = 0xfc004121 };
	e[E_B0] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .eax = 9, .ebx = 9,
					     .ecx = 9, .edx = 9 };
	e[E_B1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .eax = 9, .ebx = 9,
					     .ecx = 9, .edx = 9 };
	e[E_B2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 2, .eax = 9, .ebx = 9,
					     .ecx = 9, .edx = 9 };
	e[E_1F1] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 1 };
	e[E_KVM] = (struct kvm_cpuid_entry2){ .function = KVM_CPUID_FEATURES, .eax = 0xffffffff,
					      .edx = 0x5 };
	e[E_EXT] = (struct kvm_cpuid_entry2){ .function = 0x80000001, .eax = 0x1234,
					      .ecx = 0x121, .edx = 0x2c100800 };
}

static void cpuid_leaf1(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[E_COUNT];
	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 3, 4, false);
	assert_int_equal(e[E_1].ebx >> 24, 3);          /* initial APIC ID */
	assert_int_equal((e[E_1].ebx >> 16) & 0xff, 4); /* logical processor count */
	assert_int_equal(e[E_1].ebx & 0xffff, 0x0800);  /* CLFLUSH size, brand kept */
	assert_int_equal(e[E_1].ecx, 0x7ffafbff | (1u << 31)); /* + hypervisor, rest kept */
	assert_int_equal(e[E_1].edx, 0xbfebfbff);       /* HTT stays on */
	assert_int_equal(e[E_1].eax, 0x000906ea);

	/* A single vCPU clears HTT, whatever the host said. */
	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 0, 1, false);
	assert_int_equal(e[E_1].ebx >> 24, 0);
	assert_int_equal((e[E_1].ebx >> 16) & 0xff, 1);
	assert_int_equal(e[E_1].edx, 0xbfebfbff & ~(1u << 28));
	assert_true(e[E_1].ecx & (1u << 31));

	/* And two set it even when the host did not. */
	cpuid_fill(e);
	e[E_1].edx &= ~(1u << 28);
	e[E_1].ecx = 0;
	cpuid_filter(e, E_COUNT, 1, 2, false);
	assert_true(e[E_1].edx & (1u << 28));
	assert_int_equal(e[E_1].ecx, 1u << 31);
	assert_int_equal(e[E_1].ebx >> 24, 1);
}

static void cpuid_leaf4(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[E_COUNT];
	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 0, 6, false);
	assert_int_equal(e[E_4].eax >> 26, 5);              /* cores per package - 1 */
	assert_int_equal((e[E_4].eax >> 14) & 0xfff, 0);   /* one thread per cache */
	assert_int_equal(e[E_4].eax & 0x3fff, 0x0121);      /* cache type/level kept */
}

static void cpuid_topology(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[E_COUNT];
	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 3, 4, false);
	/* SMT level: one thread per core. */
	assert_int_equal(e[E_B0].eax, 0);
	assert_int_equal(e[E_B0].ebx, 1);
	assert_int_equal(e[E_B0].ecx, 0x100);
	assert_int_equal(e[E_B0].edx, 3); /* x2APIC ID */
	/* Core level: all 4 vCPUs, 2 bits of APIC ID. */
	assert_int_equal(e[E_B1].eax, 2);
	assert_int_equal(e[E_B1].ebx, 4);
	assert_int_equal(e[E_B1].ecx, 0x201);
	assert_int_equal(e[E_B1].edx, 3);
	/* Past the last level: invalid, ends enumeration. */
	assert_int_equal(e[E_B2].eax, 0);
	assert_int_equal(e[E_B2].ebx, 0);
	assert_int_equal(e[E_B2].ecx, 2);
	assert_int_equal(e[E_B2].edx, 3);
	/* Leaf 0x1f follows the same rules. */
	assert_int_equal(e[E_1F1].eax, 2);
	assert_int_equal(e[E_1F1].ebx, 4);
	assert_int_equal(e[E_1F1].ecx, 0x201);

	/* The shift is the bits needed to number the vCPUs. */
	const unsigned counts[] = { 1, 2, 3, 5, 8, 9, 32 };
	const unsigned shifts[] = { 0, 1, 2, 3, 3, 4, 5 };
	for (unsigned i = 0; i < 7; i++) {
		cpuid_fill(e);
		cpuid_filter(e, E_COUNT, counts[i] - 1, counts[i], false);
		assert_int_equal(e[E_B1].eax, shifts[i]);
		assert_int_equal(e[E_B1].ebx, counts[i]);
		assert_int_equal(e[E_B0].edx, counts[i] - 1);
		assert_int_equal(e[E_1].ebx >> 24, counts[i] - 1);
	}
}

static void cpuid_pvm_bits(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[E_COUNT];
	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 0, 2, false);
	assert_int_equal(e[E_KVM].eax, 0xffffffff); /* hardware host: untouched */
	assert_int_equal(e[E_KVM].edx, 0x5);

	cpuid_fill(e);
	cpuid_filter(e, E_COUNT, 0, 2, true);
	assert_int_equal(e[E_KVM].eax, 0xffffffffu & ~((1u << 7) | (1u << 11) | (1u << 13)));
	assert_int_equal(e[E_KVM].edx, 0x5);

	/* Bits already clear stay clear; the others survive. */
	cpuid_fill(e);
	e[E_KVM].eax = (1u << 0) | (1u << 3) | (1u << 11) | (1u << 24);
	cpuid_filter(e, E_COUNT, 0, 2, true);
	assert_int_equal(e[E_KVM].eax, (1u << 0) | (1u << 3) | (1u << 24));
}

static void cpuid_untouched(void **state)
{
	(void)state;
	struct kvm_cpuid_entry2 e[E_COUNT], before[E_COUNT];
	cpuid_fill(e);
	memcpy(before, e, sizeof(e));
	cpuid_filter(e, E_COUNT, 2, 4, true);
	assert_memory_equal(&e[E_0], &before[E_0], sizeof(e[0]));
	assert_memory_equal(&e[E_EXT], &before[E_EXT], sizeof(e[0]));

	/* Only the first `nr` entries are looked at. */
	cpuid_fill(e);
	memcpy(before, e, sizeof(e));
	cpuid_filter(e, E_1, 2, 4, true); /* just leaf 0 */
	assert_memory_equal(e, before, sizeof(e));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(e820_256m),
		cmocka_unit_test(e820_above_4g),
		cmocka_unit_test(e820_respects_max),
		cmocka_unit_test(boot_params_bzimage),
		cmocka_unit_test(boot_params_high_addresses),
		cmocka_unit_test(boot_params_elf),
		cmocka_unit_test(boot_params_e820_clamped),
		cmocka_unit_test(mptable_layouts),
		cmocka_unit_test(mptable_limits),
		cmocka_unit_test(gdt_descriptors),
		cmocka_unit_test(gdt_segments),
		cmocka_unit_test(gdt_segment_decode),
		cmocka_unit_test(cpuid_leaf1),
		cmocka_unit_test(cpuid_leaf4),
		cmocka_unit_test(cpuid_topology),
		cmocka_unit_test(cpuid_pvm_bits),
		cmocka_unit_test(cpuid_untouched),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
