// SPDX-License-Identifier: GPL-2.0-only
/*
 * ACPI tables (ACPI 6.5): see acpi.h.  The layout in the buffer, each table
 * 16-byte aligned:
 *
 *   RSDP  -> XSDT -> { FADT -> DSDT, MADT }
 *
 * The DSDT comes last because its AML has a length only known once written.
 */
#include "arch/x86/acpi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86/aml.h"
#include "arch/x86/include/arch_types.h"

#define ACPI_OEM_ID       "EMBER "
#define ACPI_OEM_TABLE_ID "EMBERVM "
#define ACPI_CREATOR_ID   "EMBR"
#define ACPI_HYPERVISOR   "EMBERVMM"

#define ACPI_MAX_CPUS     254 /* xAPIC IDs 0..253, the IOAPIC takes the next one */
#define ACPI_MAX_DEVS     256 /* VR00..VRFF */

/* §5.2.9 Table "Fixed ACPI Description Table Fixed Feature Flags" */
#define FADT_HW_REDUCED_ACPI   (1u << 20)
/* §5.2.9.3 IA-PC Boot Architecture Flags */
#define IAPC_8042              (1u << 1) /* ember has an i8042 at 0x60/0x64 (reset line) */
#define IAPC_VGA_NOT_PRESENT   (1u << 2)
/* CMOS RTC Not Present (bit 5) stays clear: ember emulates the RTC at 0x70/0x71. */

/* §5.2.12 MADT */
#define MADT_PCAT_COMPAT       (1u << 0) /* dual 8259s present (KVM's in-kernel irqchip has them) */
#define MADT_TYPE_LAPIC        0
#define MADT_TYPE_IOAPIC       1
#define MADT_TYPE_LAPIC_NMI    4
#define MADT_LAPIC_ENABLED     (1u << 0)
#define MADT_ALL_PROCESSORS    0xff

/* §5.2.6 System Description Table Header */
struct __attribute__((packed)) acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision, checksum;
	char oem_id[6], oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
};

/* §5.2.5.3 Root System Description Pointer (RSDP) Structure, revision 2 */
struct __attribute__((packed)) acpi_rsdp {
	char signature[8];
	uint8_t checksum;          /* over the first 20 bytes (the ACPI 1.0 part) */
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;     /* 0: no RSDT, the XSDT is the root */
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t extended_checksum; /* over all 36 bytes */
	uint8_t reserved[3];
};

/* §5.2.3.2 Generic Address Structure */
struct __attribute__((packed)) acpi_gas {
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
};

/* §5.2.9 Fixed ACPI Description Table (FADT), major version 6 */
struct __attribute__((packed)) acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl, dsdt;
	uint8_t reserved0, preferred_pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt_blk, pm1b_evt_blk, pm1a_cnt_blk, pm1b_cnt_blk, pm2_cnt_blk, pm_tmr_blk;
	uint32_t gpe0_blk, gpe1_blk;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_blk_len, gpe1_blk_len;
	uint8_t gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl, x_dsdt;
	struct acpi_gas x_pm1a_evt_blk, x_pm1b_evt_blk, x_pm1a_cnt_blk, x_pm1b_cnt_blk;
	struct acpi_gas x_pm2_cnt_blk, x_pm_tmr_blk, x_gpe0_blk, x_gpe1_blk;
	struct acpi_gas sleep_control_reg, sleep_status_reg;
	char hypervisor_vendor_id[8];
};

/* §5.2.12 Multiple APIC Description Table (MADT): the fixed part */
struct __attribute__((packed)) acpi_madt {
	struct acpi_header h;
	uint32_t lapic_address, flags;
};
/* §5.2.12.2 Processor Local APIC Structure */
struct __attribute__((packed)) madt_lapic {
	uint8_t type, length, processor_uid, apic_id;
	uint32_t flags;
};
/* §5.2.12.3 I/O APIC Structure */
struct __attribute__((packed)) madt_ioapic {
	uint8_t type, length, ioapic_id, reserved;
	uint32_t address, gsi_base;
};
/* §5.2.12.7 Local APIC NMI Structure */
struct __attribute__((packed)) madt_lapic_nmi {
	uint8_t type, length, processor_uid;
	uint16_t flags;
	uint8_t lint;
};

_Static_assert(sizeof(struct acpi_header) == 36, "ACPI header is 36 bytes");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP revision 2 is 36 bytes");
_Static_assert(sizeof(struct acpi_gas) == 12, "GAS is 12 bytes");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT major version 6 is 276 bytes");
_Static_assert(sizeof(struct acpi_madt) == 44, "MADT fixed part is 44 bytes");
_Static_assert(sizeof(struct madt_lapic) == 8, "MADT LAPIC entry is 8 bytes");
_Static_assert(sizeof(struct madt_ioapic) == 12, "MADT IOAPIC entry is 12 bytes");
_Static_assert(sizeof(struct madt_lapic_nmi) == 6, "MADT LAPIC NMI entry is 6 bytes");

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t sum = 0;
	while (n--)
		sum += *p++;
	return (uint8_t)(0 - sum);
}

static size_t align16(size_t n) { return (n + 15) & ~(size_t)15; }

static struct acpi_header header(const char *sig, uint32_t length, uint8_t revision)
{
	struct acpi_header h = { .length = length, .revision = revision, .oem_revision = 1,
				 .creator_revision = 1 };
	memcpy(h.signature, sig, 4);
	memcpy(h.oem_id, ACPI_OEM_ID, 6);
	memcpy(h.oem_table_id, ACPI_OEM_TABLE_ID, 8);
	memcpy(h.creator_id, ACPI_CREATOR_ID, 4);
	return h;
}

/* Every table's bytes, checksum field included, sum to zero (§5.2.6). */
static void seal(uint8_t *table)
{
	uint32_t length;
	memcpy(&length, table + offsetof(struct acpi_header, length), 4);
	table[offsetof(struct acpi_header, checksum)] = 0;
	table[offsetof(struct acpi_header, checksum)] = checksum(table, length);
}

/*
 * §5.2.11.1 DSDT: the definition block's AML (after the header).
 *
 *   Scope (\_SB_) {
 *     Device (COM1) { _HID EisaId ("PNP0501"), _UID 1, _CRS { IO 0x3f8/8, IRQNoFlags {4} } }
 *     Device (VRxx) { _HID "LNRO0005", _UID xx, _CCA 1,
 *                     _CRS { Memory32Fixed (ReadWrite, base, size), Interrupt {gsi} } }
 *   }
 *
 * COM1 keeps the ACPI-enumerated 8250 (8250_pnp) on the port it always had.
 * "LNRO0005" is the ID Linux's virtio_mmio driver matches (drivers/virtio/
 * virtio_mmio.c); _CCA (§6.2.17) says the device is DMA cache-coherent.
 * Interrupts: the irqfd pulses its GSI, so they are edge, active high.
 */
static void dsdt_build_aml(struct aml *a, const struct acpi_mmio_device *devs, unsigned nr_devs)
{
	size_t scope = aml_begin_scope(a, "\\_SB_");

	size_t com1 = aml_begin_device(a, "COM1");
	aml_put_name(a, "_HID");
	aml_put_eisaid(a, "PNP0501");
	aml_put_name(a, "_UID");
	aml_put_integer(a, 1);
	aml_put_name(a, "_CRS");
	size_t res = aml_begin_resources(a);
	aml_put_io(a, true, 0x3f8, 0x3f8, 0, 8);
	aml_put_irq_noflags(a, 4);
	aml_end_resources(a, res);
	aml_end_package(a, com1);

	for (unsigned i = 0; i < nr_devs; i++) {
		char name[8];
		snprintf(name, sizeof(name), "VR%02X", i & 0xff);
		size_t dev = aml_begin_device(a, name);
		aml_put_name(a, "_HID");
		aml_put_string(a, "LNRO0005");
		aml_put_name(a, "_UID");
		aml_put_integer(a, i);
		aml_put_name(a, "_CCA");
		aml_put_integer(a, 1);
		aml_put_name(a, "_CRS");
		res = aml_begin_resources(a);
		aml_put_memory32_fixed(a, true, (uint32_t)devs[i].base, devs[i].size);
		aml_put_interrupt(a, AML_INT_CONSUMER | AML_INT_EDGE, devs[i].gsi);
		aml_end_resources(a, res);
		aml_end_package(a, dev);
	}
	aml_end_package(a, scope);
}

int acpi_build(uint8_t *buf, size_t size, uint64_t gpa, unsigned nr_cpus,
	       const struct acpi_mmio_device *devs, unsigned nr_devs, uint64_t *rsdp_gpa)
{
	if (nr_cpus == 0 || nr_cpus > ACPI_MAX_CPUS || nr_devs > ACPI_MAX_DEVS ||
	    (nr_devs && !devs))
		return -EINVAL;
	for (unsigned i = 0; i < nr_devs; i++)
		if (devs[i].base > 0xffffffffULL || devs[i].base + devs[i].size > 0x100000000ULL)
			return -EINVAL;

	const size_t madt_len = sizeof(struct acpi_madt) + nr_cpus * sizeof(struct madt_lapic) +
				sizeof(struct madt_ioapic) + sizeof(struct madt_lapic_nmi);
	const size_t xsdt_len = sizeof(struct acpi_header) + 2 * sizeof(uint64_t);
	const size_t rsdp_off = 0; /* first, so it is 16-byte aligned if gpa is */
	const size_t xsdt_off = align16(rsdp_off + sizeof(struct acpi_rsdp));
	const size_t fadt_off = align16(xsdt_off + xsdt_len);
	const size_t madt_off = align16(fadt_off + sizeof(struct acpi_fadt));
	const size_t dsdt_off = align16(madt_off + madt_len);
	const size_t aml_off = dsdt_off + sizeof(struct acpi_header);

	if (aml_off > size)
		return -E2BIG;
	memset(buf, 0, aml_off); /* also the padding between tables */

	/* The DSDT's AML first: if it does not fit, nothing else needs writing. */
	struct aml a;
	aml_init(&a, buf + aml_off, size - aml_off);
	dsdt_build_aml(&a, devs, nr_devs);
	int aml_len = aml_finish(&a);
	if (aml_len < 0)
		return aml_len;
	size_t dsdt_len = sizeof(struct acpi_header) + (size_t)aml_len;
	if (dsdt_len > 0xffffffffu || dsdt_off + dsdt_len > 0x7fffffff)
		return -E2BIG;
	/* Revision 2: integers in this definition block are 64 bits wide. */
	struct acpi_header dh = header("DSDT", (uint32_t)dsdt_len, 2);
	memcpy(buf + dsdt_off, &dh, sizeof(dh));
	seal(buf + dsdt_off);

	/* §5.2.12: one enabled LAPIC per vCPU (UID = APIC ID = index), the IOAPIC, LINT1 = NMI. */
	struct acpi_madt madt = { .h = header("APIC", (uint32_t)madt_len, 5),
				  .lapic_address = (uint32_t)ARCH_LAPIC_ADDR,
				  .flags = MADT_PCAT_COMPAT };
	uint8_t *p = buf + madt_off;
	memcpy(p, &madt, sizeof(madt));
	p += sizeof(madt);
	for (unsigned i = 0; i < nr_cpus; i++) {
		struct madt_lapic l = { .type = MADT_TYPE_LAPIC, .length = sizeof(l),
					.processor_uid = (uint8_t)i, .apic_id = (uint8_t)i,
					.flags = MADT_LAPIC_ENABLED };
		memcpy(p, &l, sizeof(l));
		p += sizeof(l);
	}
	/*
	 * No Interrupt Source Overrides: KVM's default routing sends GSI n to
	 * IOAPIC pin n, and without overrides the ISA IRQs are identity-mapped
	 * (§5.2.12.5), which is what the MP table says too.
	 */
	struct madt_ioapic io = { .type = MADT_TYPE_IOAPIC, .length = sizeof(io),
				  .ioapic_id = (uint8_t)nr_cpus,
				  .address = (uint32_t)ARCH_IOAPIC_ADDR, .gsi_base = 0 };
	memcpy(p, &io, sizeof(io));
	p += sizeof(io);
	/* Flags 0: polarity and trigger conform to the bus (§5.2.12.5 MPS INTI flags). */
	struct madt_lapic_nmi nmi = { .type = MADT_TYPE_LAPIC_NMI, .length = sizeof(nmi),
				      .processor_uid = MADT_ALL_PROCESSORS, .flags = 0, .lint = 1 };
	memcpy(p, &nmi, sizeof(nmi));
	seal(buf + madt_off);

	/*
	 * §5.2.9 FADT: hardware-reduced ACPI (§4.1), so no SCI, no PM1/PM2/PM
	 * timer/GPE blocks and no FACS; both DSDT pointers name the same table
	 * (X_DSDT wins, the 32-bit field is for older readers).
	 */
	uint64_t dsdt_gpa = gpa + dsdt_off;
	struct acpi_fadt fadt = {
		.h = header("FACP", sizeof(struct acpi_fadt), 6),
		.dsdt = dsdt_gpa <= 0xffffffffULL ? (uint32_t)dsdt_gpa : 0,
		.iapc_boot_arch = IAPC_8042 | IAPC_VGA_NOT_PRESENT,
		.flags = FADT_HW_REDUCED_ACPI,
		.minor_version = 5, /* ACPI 6.5 */
		.x_dsdt = dsdt_gpa,
	};
	memcpy(fadt.hypervisor_vendor_id, ACPI_HYPERVISOR, 8);
	memcpy(buf + fadt_off, &fadt, sizeof(fadt));
	seal(buf + fadt_off);

	/* §5.2.8 XSDT: 64-bit pointers to every table but the DSDT (reached through the FADT). */
	struct acpi_header xh = header("XSDT", (uint32_t)xsdt_len, 1);
	uint64_t entries[2] = { gpa + fadt_off, gpa + madt_off };
	memcpy(buf + xsdt_off, &xh, sizeof(xh));
	memcpy(buf + xsdt_off + sizeof(xh), entries, sizeof(entries));
	seal(buf + xsdt_off);

	/* §5.2.5.3 RSDP revision 2: the 1.0 checksum covers 20 bytes, the extended one all 36. */
	struct acpi_rsdp rsdp = { .revision = 2, .length = sizeof(struct acpi_rsdp),
				  .xsdt_address = gpa + xsdt_off };
	memcpy(rsdp.signature, "RSD PTR ", 8);
	memcpy(rsdp.oem_id, ACPI_OEM_ID, 6);
	rsdp.checksum = checksum((const uint8_t *)&rsdp, 20);
	rsdp.extended_checksum = checksum((const uint8_t *)&rsdp, sizeof(rsdp));
	memcpy(buf + rsdp_off, &rsdp, sizeof(rsdp));

	*rsdp_gpa = gpa + rsdp_off;
	return (int)(dsdt_off + dsdt_len);
}
