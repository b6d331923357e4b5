/* SPDX-License-Identifier: GPL-2.0-only */
/* x86 guest memory layout, and the x86 state behind the hooks of arch/arch.h. */
#ifndef EMBER_ARCH_X86_ARCH_TYPES_H
#define EMBER_ARCH_X86_ARCH_TYPES_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/x86/i8042.h"
#include "arch/x86/kernel.h"
#include "arch/x86/rtc.h"
#include "arch/x86/uart.h"

struct machine;
struct ember_config;

/*
 * Guest-physical layout (low memory follows what Linux expects of a PC):
 *   0x00500  GDT                   0x06000  PVH start_info + memmap
 *   0x07000  boot_params (zero page)
 *   0x09000  PML4, 0x0a000 PDPT, 0x0b000-0x0efff four page directories
 *   0x20000  kernel command line   0x9fc00  MP table (EBDA, reserved in e820)
 *   0x100000 kernel                below 3 GiB: RAM; 3-4 GiB: device hole
 */
#define ARCH_GDT_ADDR          0x500ULL
#define ARCH_PVH_INFO_ADDR     0x6000ULL
#define ARCH_ZERO_PAGE_ADDR    0x7000ULL
#define ARCH_PML4_ADDR         0x9000ULL
#define ARCH_PDPT_ADDR         0xa000ULL
#define ARCH_PD_ADDR           0xb000ULL /* four pages: 4 GiB of 2 MiB mappings */
#define ARCH_CMDLINE_ADDR      0x20000ULL
#define ARCH_EBDA_ADDR         0x9fc00ULL
#define ARCH_HIGH_MEMORY       0x100000ULL
#define ARCH_KERNEL_LOAD_ADDR  0x100000ULL
#define ARCH_MMIO_HOLE_START   0xc0000000ULL
#define ARCH_MMIO_HOLE_END     0x100000000ULL
#define ARCH_VIRTIO_MMIO_BASE  0xd0000000ULL
#define ARCH_IOAPIC_ADDR       0xfec00000ULL
#define ARCH_LAPIC_ADDR        0xfee00000ULL
#define ARCH_IDENTITY_MAP_ADDR 0xfffbc000ULL /* KVM's real-mode helper pages, in the hole */
#define ARCH_TSS_ADDR          0xfffbd000ULL

/*
 * virtio-mmio transports: one GSI each, avoiding the legacy devices (0 PIT,
 * 1 keyboard, 2 cascade, 3/4 COM, 8 RTC); every GSI up to 23 is described
 * in the MP table and the MADT (see arch_virtio_mmio_slot()).
 */
#define ARCH_VIRTIO_MMIO_SLOTS 18

struct arch_vm {
	struct machine *machine;
	const struct ember_config *cfg;
	bool pvm;                  /* host is kvm_pvm (software KVM): apply its workarounds */
	struct x86_kernel kernel;  /* how the loaded kernel wants to be entered */
	struct uart8250 uart;
	struct i8042 i8042;
	struct cmos_rtc rtc;
	bool devices_ready;
	int null_fd;               /* UART output sink when the console is not the UART */
	int rx_wake_fd;            /* UART receive buffer drained: resume reading stdin */
	bool stdin_watched, stdin_eof;
};

struct arch_vcpu {
	uint64_t lstar;            /* cached MSR_LSTAR for the PVM syscall fix-up, 0 = unknown */
	uint64_t emulated;         /* instructions emulated in user space */
	uint64_t syscall_fixups;
};

#endif
