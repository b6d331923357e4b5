/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The hooks every architecture implements.  Arch-neutral code includes
 * only this header; it resolves the arch-specific types below.
 */
#ifndef EMBER_ARCH_ARCH_H
#define EMBER_ARCH_ARCH_H

#include <stdint.h>

#include "vm/error.h"
#include "vm/memory.h"

#if defined(__x86_64__)
#include "arch/x86/arch_types.h"
#else
#error "ember supports x86-64 hosts only for now"
#endif

struct vm;
struct vcpu;
struct boot_info;

/* Fills `out` with the RAM regions for mem_bytes of RAM; returns how many. */
unsigned arch_memory_layout(uint64_t mem_bytes, struct guest_region out[GUEST_MEM_MAX_REGIONS]);

/* After KVM_CREATE_VM, before memory: irqchip, PIT, TSS, host quirks. */
int arch_vm_init(struct vm *vm, struct ember_err *err);

/* The platform devices every guest gets (UART, reset, RTC, exit port...). */
int arch_devices_init(struct vm *vm, struct ember_err *err);
void arch_devices_destroy(struct vm *vm);

/* Where virtio-mmio transport number `slot` lives: its MMIO base and GSI. */
void arch_virtio_mmio_slot(unsigned slot, uint64_t *base, uint32_t *gsi);

/* Command-line words ember adds before the user's (console, host quirks). */
int arch_default_cmdline(const struct vm *vm, char *buf, size_t size);

/* Writes boot structures into guest RAM once kernel, initrd, cmdline are placed. */
int arch_boot_setup(struct vm *vm, const struct boot_info *boot, struct ember_err *err);

/* Per-vCPU register, CPUID, MSR and LAPIC setup (the boot vCPU gets the entry state). */
int arch_vcpu_init(struct vcpu *vcpu, const struct boot_info *boot, struct ember_err *err);

/*
 * An exit the generic loop does not know (emulation failures and the like).
 * Returns 0 to resume the vCPU, or -errno with err filled to stop the VM.
 */
int arch_vcpu_handle_exit(struct vcpu *vcpu, struct ember_err *err);

#endif
