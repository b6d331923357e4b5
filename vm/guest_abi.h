/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The guest ABI device: how the code ember runs inside the guest talks
 * back to it.  Three write-only registers, at addresses the arch chooses
 * (I/O ports on x86, MMIO elsewhere):
 *   exit status    a byte written here ends the VM and becomes ember's exit code
 *   console ready  ember's init has set up the console: host input may flow
 *   boot timer     Firecracker-compatible: the magic byte marks init starting
 */
#ifndef EMBER_VM_GUEST_ABI_H
#define EMBER_VM_GUEST_ABI_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"

struct machine;

#define GUEST_ABI_BOOT_TIMER_MAGIC 123

/* Where one register lives: a port or an MMIO address, and how many bytes it decodes. */
struct guest_abi_reg {
	bool pio;
	uint64_t addr;
	uint64_t len;
};

struct guest_abi_layout {
	struct guest_abi_reg exit_status, console_ready, boot_timer;
};

struct guest_abi {
	struct machine *machine;
	/* Called on the vCPU thread that wrote the console-ready register. */
	void (*on_console_ready)(void *opaque);
	void *opaque;
	bool report_boot_timer;     /* --boot-timer: print the time on stderr */
	uint64_t boot_timer_ns;     /* first boot-timer write, 0 = none yet (atomic) */
};

/* Registers the three registers on the machine's buses. */
int guest_abi_init(struct guest_abi *abi, struct machine *m, const struct guest_abi_layout *layout,
		   struct ember_err *err);

#endif
