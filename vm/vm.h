/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The orchestrator: the one place that knows every part of a VM and the
 * order they come up in.  Its life is a few named steps,
 *
 *   vm_create   machine, RAM, arch irqchip, platform and virtio devices
 *   vm_boot     kernel, initrd, command line, boot structures, vCPUs
 *   vm_start    device threads, vCPU threads (capabilities dropped first)
 *   vm_wait     the event loop, until something asks the VM to stop
 *   vm_pause / vm_resume   every vCPU parked outside KVM_RUN, and back
 *   vm_destroy  everything, in reverse
 *
 * so that a restore can replace vm_boot and a snapshot can sit between
 * vm_pause and vm_resume.  vm_run() is the one-shot sequence main.c uses.
 * Nothing below this layer includes this header: devices, vCPUs and arch
 * code take the machine (vm/machine.h).
 */
#ifndef EMBER_VM_VM_H
#define EMBER_VM_VM_H

#include <stdbool.h>

#include "arch/arch.h"
#include "boot/boot.h"
#include "cpu/vcpu.h"
#include "virtio/devices.h"
#include "vm/config.h"
#include "vm/error.h"
#include "vm/guest_abi.h"
#include "vm/machine.h"
#include "vm/session.h"
#include "vm/snapshot_dir.h"
#include "vm/term.h"
#include "vm/warm.h"

struct vm {
	const struct ember_config *cfg;
	struct machine machine;
	struct arch_vm arch;
	struct guest_abi abi;
	struct virtio_devices virtio;
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	struct boot_info boot;
	char cmdline[EMBER_CMDLINE_MAX];
	int signal_fd;              /* SIGINT/SIGTERM/... read on the loop */
	int timer_fd;               /* --timeout */
	int stop_timer_fd;          /* --stop-timeout, armed by a forwarded SIGTERM */
	bool stop_timer_armed;
	unsigned sigints;           /* SIGINTs forwarded: the second stops the VM */
	bool has_session;           /* the command channel exists (ember's init) */
	struct session session;
	/* Warm start's first run: snapshot the guest at HELLO into capture_dir. */
	const struct warm_shape *capture_shape;
	struct snapshot_dir capture_dir;
	/* --snapshot-to: `ember snapshot DIR` asks over DIR/control, the snapshot goes to DIR/snapshot. */
	int control_fd;
	struct snapshot_dir snapshot_to;
	bool started;               /* vm_start got the vCPUs running */
	struct term term;           /* host terminal state to restore */
	bool machine_open;          /* machine_open() ran: its fds are to be closed */
};

/* mode: how the guest's init comes to the command channel (booted, or restored). */
int vm_create(struct vm *vm, const struct ember_config *cfg, enum session_mode mode,
	      struct ember_err *err);
int vm_boot(struct vm *vm, struct ember_err *err);
int vm_start(struct vm *vm, struct ember_err *err);
/* Runs the event loop until a stop request; returns the exit code (err filled for 125). */
int vm_wait(struct vm *vm, struct ember_err *err);
/* Parks every vCPU outside KVM_RUN (any thread but a vCPU's); false if the VM is stopping. */
bool vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
/*
 * A paused VM's state as snapshot sections: the arch's VM-wide KVM state,
 * its platform devices, every vCPU, every virtio device.  Guest RAM is
 * separate (guest_memory_save).  Fails, saying why, when a device cannot
 * be saved as it is (a share with open files).
 */
int vm_save_state(struct vm *vm, struct snapshot_writer *w, struct ember_err *err);
/* Instead of vm_boot, after vm_create: vCPUs created with the saved state. */
int vm_restore_state(struct vm *vm, const struct snapshot_reader *r, struct ember_err *err);
/*
 * Pauses the VM at a clean point (every vCPU out of KVM_RUN with its I/O
 * finished, every device thread idle), writes its state (with `shape`
 * when given) and RAM into `dir`, and resumes it.  Loop thread.
 */
int vm_snapshot(struct vm *vm, struct snapshot_dir *dir, const struct warm_shape *shape,
		bool compress, struct snapshot_dir_stats *stats, struct ember_err *err);
void vm_destroy(struct vm *vm);

/* The whole life of a one-shot VM; returns the exit code for ember (guest status or 12x). */
int vm_run(const struct ember_config *cfg, struct ember_err *err);

/* Snapshot section with the configuration that re-creates the VM (config_save). */
#define SNAP_VM_CONFIG 0x002
/* In a --snapshot-to directory: the socket `ember snapshot` talks to, and the snapshot. */
#define SNAPSHOT_CONTROL_SOCKET "control"
#define SNAPSHOT_SUBDIR         "snapshot"

/*
 * `ember restore DIR`: the VM saved in DIR (a --snapshot-to directory or a
 * snapshot directory) re-created from its saved configuration and resumed
 * where it was; `cfg` brings what this run adds (--timeout, --snapshot-to,
 * --no-sandbox).  Returns the exit code like vm_run.
 */
int vm_restore_run(const char *dir, struct ember_config *cfg, struct ember_err *err);

#endif
