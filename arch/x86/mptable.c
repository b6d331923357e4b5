// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/mptable.h"

#include <errno.h>
#include <string.h>

#include "arch/x86/include/arch_types.h"

#define MP_ENTRY_CPU       0
#define MP_ENTRY_BUS       1
#define MP_ENTRY_IOAPIC    2
#define MP_ENTRY_INTSRC    3
#define MP_ENTRY_LINTSRC   4
#define MP_INT             0
#define MP_NMI             1
#define MP_EXTINT          3
#define MP_IOAPIC_PINS     24 /* KVM's IOAPIC; pins 16-23 carry virtio-mmio devices */

struct __attribute__((packed)) mp_floating {
	char signature[4]; uint32_t physptr; uint8_t length, spec_rev, checksum, feature[5];
};
struct __attribute__((packed)) mp_config {
	char signature[4]; uint16_t length; uint8_t spec_rev, checksum;
	char oem[8], product[12]; uint32_t oem_ptr; uint16_t oem_size, count;
	uint32_t lapic; uint16_t ext_length; uint8_t ext_checksum, reserved;
};
struct __attribute__((packed)) mp_cpu {
	uint8_t type, apic_id, apic_ver, flags; uint32_t signature, features, reserved[2];
};
struct __attribute__((packed)) mp_bus { uint8_t type, id; char name[6]; };
struct __attribute__((packed)) mp_ioapic { uint8_t type, id, ver, flags; uint32_t addr; };
struct __attribute__((packed)) mp_irq {
	uint8_t type, irq_type; uint16_t flags; uint8_t src_bus, src_irq, dst_apic, dst_pin;
};

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	while (n--)
		sum += *p++;
	return (uint8_t)(0 - sum);
}

int mptable_build(uint8_t *buf, size_t size, uint64_t gpa, unsigned nr_cpus)
{
	size_t need = sizeof(struct mp_floating) + sizeof(struct mp_config) +
		      nr_cpus * sizeof(struct mp_cpu) + sizeof(struct mp_bus) +
		      sizeof(struct mp_ioapic) + (MP_IOAPIC_PINS + 2) * sizeof(struct mp_irq);
	if (need > size || nr_cpus == 0 || nr_cpus > 254)
		return -E2BIG;
	memset(buf, 0, need);

	struct mp_floating *fp = (void *)buf;
	struct mp_config *cfg = (void *)(buf + sizeof(*fp));
	uint8_t *p = (uint8_t *)(cfg + 1);
	uint16_t count = 0;
	uint8_t ioapic_id = (uint8_t)nr_cpus; /* after the LAPIC IDs 0..n-1 */

	for (unsigned i = 0; i < nr_cpus; i++, count++) {
		struct mp_cpu c = { .type = MP_ENTRY_CPU, .apic_id = (uint8_t)i, .apic_ver = 0x14,
				    .flags = 1 | (i == 0 ? 2 : 0), /* enabled, BSP */
				    .signature = 0x600, .features = 0x201 /* FPU, APIC */ };
		memcpy(p, &c, sizeof(c));
		p += sizeof(c);
	}
	struct mp_bus bus = { .type = MP_ENTRY_BUS, .id = 0 };
	memcpy(bus.name, "ISA   ", 6);
	memcpy(p, &bus, sizeof(bus));
	p += sizeof(bus);
	count++;

	struct mp_ioapic io = { .type = MP_ENTRY_IOAPIC, .id = ioapic_id, .ver = 0x11, .flags = 1,
				.addr = (uint32_t)ARCH_IOAPIC_ADDR };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	count++;

	/* KVM's default routing sends GSI n to IOAPIC pin n: identity entries, as Firecracker does. */
	for (uint8_t irq = 0; irq < MP_IOAPIC_PINS; irq++, count++) {
		struct mp_irq e = { .type = MP_ENTRY_INTSRC, .irq_type = MP_INT, .src_bus = 0,
				    .src_irq = irq, .dst_apic = ioapic_id, .dst_pin = irq };
		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	struct mp_irq lint0 = { .type = MP_ENTRY_LINTSRC, .irq_type = MP_EXTINT, .dst_apic = 0xff,
				.dst_pin = 0 };
	struct mp_irq lint1 = { .type = MP_ENTRY_LINTSRC, .irq_type = MP_NMI, .dst_apic = 0xff,
				.dst_pin = 1 };
	memcpy(p, &lint0, sizeof(lint0));
	p += sizeof(lint0);
	memcpy(p, &lint1, sizeof(lint1));
	p += sizeof(lint1);
	count += 2;

	memcpy(cfg->signature, "PCMP", 4);
	cfg->length = (uint16_t)(p - (uint8_t *)cfg);
	cfg->spec_rev = 4;
	memcpy(cfg->oem, "EMBER   ", 8);
	memcpy(cfg->product, "MICROVM     ", 12);
	cfg->count = count;
	cfg->lapic = (uint32_t)ARCH_LAPIC_ADDR;
	cfg->checksum = checksum((uint8_t *)cfg, cfg->length);

	memcpy(fp->signature, "_MP_", 4);
	fp->physptr = (uint32_t)(gpa + sizeof(*fp));
	fp->length = 1; /* in 16-byte units */
	fp->spec_rev = 4;
	fp->checksum = checksum((uint8_t *)fp, sizeof(*fp));
	return (int)(p - buf);
}
