/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ACPI tables for the guest (ACPI 6.5): RSDP, XSDT, FADT, MADT and a DSDT
 * whose AML names each virtio-mmio transport as an "LNRO0005" device.
 * Stock distro kernels build virtio_mmio as a module that finds devices
 * only this way (no virtio_mmio.device= on their command line).
 *
 * The platform is described as hardware-reduced ACPI (no SCI, no PM
 * blocks, no FACS): ember has no ACPI PM hardware to emulate.
 */
#ifndef EMBER_ARCH_X86_ACPI_H
#define EMBER_ARCH_X86_ACPI_H

#include <stddef.h>
#include <stdint.h>

/*
 * Where the tables live: the BIOS read-only area 0xe0000-0xfffff (128 KiB).
 * The RSDP comes first, 16-byte aligned, so an OS that scans that range for
 * "RSD PTR " (ACPI 6.5 §5.2.5.1) finds it without being told the address.
 */
#define ACPI_TABLES_ADDR 0xe0000ULL
#define ACPI_TABLES_MAX  0x20000

struct acpi_mmio_device {
	uint64_t base;  /* MMIO window, must lie below 4 GiB (Memory32Fixed) */
	uint32_t size;
	uint32_t gsi;   /* IOAPIC input; edge-triggered, active high */
};

/*
 * Writes RSDP, XSDT, FADT, MADT and DSDT into buf, which will be placed at
 * guest-physical gpa (so every pointer inside the tables is gpa + offset).
 * Nothing is written at or past buf + size.
 *
 * Returns the number of bytes used; -E2BIG if size is too small; -EINVAL
 * if nr_cpus is not 1..254 (xAPIC IDs 0..n-1, the IOAPIC takes ID n),
 * nr_devs exceeds 256 (device names VR00..VRFF), or a device window does
 * not fit below 4 GiB.  *rsdp_gpa receives the RSDP's guest-physical
 * address (gpa itself).
 */
int acpi_build(uint8_t *buf, size_t size, uint64_t gpa, unsigned nr_cpus,
	       const struct acpi_mmio_device *devs, unsigned nr_devs, uint64_t *rsdp_gpa);

#endif
