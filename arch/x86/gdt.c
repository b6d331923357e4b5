// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/gdt.h"

/* Builds a descriptor (SDM Vol. 3A §3.4.5): flags = G D/B L AVL nibble + access byte. */
static uint64_t descriptor(uint16_t flags, uint32_t base, uint32_t limit)
{
	return ((uint64_t)(base & 0xff000000) << 32) | ((uint64_t)(flags & 0xf0ff) << 40) |
	       ((uint64_t)(limit & 0x000f0000) << 32) | ((uint64_t)(base & 0x00ffffff) << 16) |
	       (limit & 0x0000ffff);
}

void gdt_build(uint64_t gdt[GDT_ENTRIES])
{
	gdt[0] = 0;
	gdt[GDT_CODE32] = descriptor(0xc09b, 0, 0xfffff); /* 4 KiB granular, 32-bit, code r/x */
	gdt[GDT_CODE64] = descriptor(0xa09b, 0, 0xfffff); /* long-mode code */
	gdt[GDT_DATA] = descriptor(0xc093, 0, 0xfffff);   /* data r/w */
	gdt[GDT_TSS] = descriptor(0x008b, 0, 0x67);        /* busy 32/64-bit TSS */
}

struct kvm_segment gdt_segment(const uint64_t gdt[GDT_ENTRIES], unsigned index)
{
	uint64_t d = gdt[index];
	struct kvm_segment s = {
		.base = (uint32_t)(((d >> 16) & 0xffffff) | ((d >> 32) & 0xff000000)),
		.limit = (uint32_t)((d & 0xffff) | ((d >> 32) & 0xf0000)),
		.selector = (uint16_t)(index * 8),
		.type = (uint8_t)((d >> 40) & 0xf),
		.s = (uint8_t)((d >> 44) & 1),
		.dpl = (uint8_t)((d >> 45) & 3),
		.present = (uint8_t)((d >> 47) & 1),
		.avl = (uint8_t)((d >> 52) & 1),
		.l = (uint8_t)((d >> 53) & 1),
		.db = (uint8_t)((d >> 54) & 1),
		.g = (uint8_t)((d >> 55) & 1),
	};
	if (s.g)
		s.limit = (s.limit << 12) | 0xfff; /* KVM wants the byte limit */
	return s;
}
