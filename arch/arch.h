/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hooks every architecture implements.  Arch-neutral code reaches arch
 * code only through this header.  The Makefile puts arch/$(ARCH)/include
 * on the include path, so "arch_types.h" below is that architecture's: a
 * second architecture adds its own directory and touches nothing here.
 *
 * Layering: arch code sits on the machine (vm/machine.h) and boot/; it
 * never includes cpu/, virtio/ or the orchestrator.  vCPU threads (cpu/)
 * call the vCPU hooks; the orchestrator (vm/vm.c) calls the rest.
 */
#ifndef EMBER_ARCH_ARCH_H
#define EMBER_ARCH_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "arch_types.h" /* arch/$(ARCH)/include/arch_types.h: struct arch_vm, struct arch_vcpu, layout */
#include "boot/boot.h"
#include "vm/config.h"
#include "vm/error.h"
#include "vm/guest_abi.h"
#include "vm/machine.h"
#include "vm/memory.h"
#include "vm/snapshot_file.h"

struct kvm_run;

/* One memory-mapped device window the guest must be told about (virtio-mmio transports). */
struct arch_mmio_device {
	uint64_t base;
	uint64_t size;
	uint32_t gsi;
};

/* A vCPU's KVM side as arch code sees it; cpu/vcpu.h adds the thread around it. */
struct vcpu_kvm {
	struct arch_vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	struct arch_vcpu arch;     /* the arch's own per-vCPU state */
};

/* ---- what the host must offer ------------------------------------------------------ */

/* KVM capabilities this arch needs on top of the machine's own list. */
unsigned arch_kvm_caps(const struct machine_cap **caps);
/* ioctl request numbers the running VM issues beyond the arch-neutral ones (sandbox). */
unsigned arch_sandbox_ioctls(const unsigned long **requests);

/* ---- the machine ----------------------------------------------------------------------- */

/* Fills `out` with the RAM regions for mem_bytes of RAM; returns how many. */
unsigned arch_memory_layout(uint64_t mem_bytes, struct guest_region out[GUEST_MEM_MAX_REGIONS]);

/* After the machine has its RAM: irqchip, timers, host quirks.  Keeps m and cfg. */
int arch_vm_init(struct arch_vm *a, struct machine *m, const struct ember_config *cfg,
		 struct ember_err *err);

/* The platform devices every guest gets (console UART, reset, clock...). */
int arch_devices_init(struct arch_vm *a, struct ember_err *err);
void arch_devices_destroy(struct arch_vm *a);
/* ember's init reported its console ready: platform consoles may deliver input (any thread). */
void arch_console_ready(struct arch_vm *a);

/* Where the guest ABI device's registers live (I/O ports, MMIO...). */
void arch_guest_abi_layout(struct guest_abi_layout *out);

/* Where virtio-mmio transport number `slot` (< ARCH_VIRTIO_MMIO_SLOTS) lives. */
void arch_virtio_mmio_slot(unsigned slot, struct arch_mmio_device *out);

/* ---- booting ------------------------------------------------------------------------------ */

/* Loads the kernel at `path` in whichever format this arch boots; fills boot. */
int arch_load_kernel(struct arch_vm *a, const char *path, struct boot_info *boot,
		     struct ember_err *err);

/* Command-line words ember adds before the user's (console, host quirks). */
int arch_default_cmdline(const struct arch_vm *a, char *buf, size_t size);

/*
 * Writes the boot structures into guest RAM once kernel, initrd and
 * cmdline are placed; `devs` are the MMIO devices to describe (ACPI, DT).
 */
int arch_boot_setup(struct arch_vm *a, const struct boot_info *boot,
		    const struct arch_mmio_device *devs, unsigned nr_devs, struct ember_err *err);

/* ---- vCPUs --------------------------------------------------------------------------------- */

/* Register, CPUID, MSR and interrupt-controller setup (the boot vCPU gets the entry state). */
int arch_vcpu_init(struct vcpu_kvm *v, const struct boot_info *boot, struct ember_err *err);

/*
 * An exit the generic loop does not know (emulation failures and the
 * like).  Returns 0 to resume the vCPU, or -errno with err filled: the
 * VM then stops with EMBER_EXIT_FAILURE.
 */
int arch_vcpu_handle_exit(struct vcpu_kvm *v, struct ember_err *err);

/* Where a vCPU was when the guest shut down ("at rip 0x..."), for --verbose. */
void arch_vcpu_describe(struct vcpu_kvm *v, char *buf, size_t size);

/* ---- snapshots: KVM state as vm/snapshot_file.h sections ------------------------------- */

/* A paused vCPU's whole KVM state (CPUID, registers, FPU, MSRs, LAPIC, pending events). */
int arch_vcpu_save(struct vcpu_kvm *v, struct snapshot_writer *w, struct ember_err *err);
/* Into a freshly created vCPU, instead of arch_vcpu_init. */
int arch_vcpu_restore(struct vcpu_kvm *v, const struct snapshot_reader *r, struct ember_err *err);
/* The VM-wide KVM state: interrupt controllers, timers, clock (vCPUs paused). */
int arch_vm_save(struct arch_vm *a, struct snapshot_writer *w, struct ember_err *err);
/* Into a VM fresh from arch_vm_init, before its vCPUs are restored. */
int arch_vm_restore(struct arch_vm *a, const struct snapshot_reader *r, struct ember_err *err);
/* The platform devices' registers (console UART, reset controller, CMOS). */
int arch_devices_save(struct arch_vm *a, struct snapshot_writer *w, struct ember_err *err);
/* After arch_devices_init, before the vCPUs run: lines that were high are raised again. */
int arch_devices_restore(struct arch_vm *a, const struct snapshot_reader *r, struct ember_err *err);
/*
 * What of this host a saved guest depends on, as one line: the CPU model,
 * and on a host whose guest clock cannot be set to a saved value, this
 * boot of the host.  A snapshot is only restored where it is the same.
 */
void arch_host_identity(char *buf, size_t size);

#endif
