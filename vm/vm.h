/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * struct vm: the one VM object, and its life: create -> boot -> run ->
 * teardown (vm_run).  Everything mutable that outlives a function call
 * hangs off it.
 */
#ifndef EMBER_VM_VM_H
#define EMBER_VM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "arch/arch.h"
#include "boot/boot.h"
#include "vm/bus.h"
#include "vm/config.h"
#include "vm/error.h"
#include "vm/loop.h"
#include "vm/memory.h"
#include "vm/term.h"

/* ember's own exit codes (documented in README.md). */
#define EMBER_EXIT_NO_STATUS 123 /* guest stopped without reporting a status */
#define EMBER_EXIT_TIMEOUT   124 /* --timeout expired */
#define EMBER_EXIT_FAILURE   125 /* ember itself failed */

struct kvm_run;
struct virtio_mmio;

#define EMBER_MAX_VIRTIO 18 /* one GSI each: see arch_virtio_mmio_slot() */

struct vcpu {
	struct vm *vm;
	unsigned id;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	struct arch_vcpu arch;
};

struct vm {
	const struct ember_config *cfg;
	struct timespec start;      /* when ember started: the reference for timings */

	int kvm_fd;
	int vm_fd;
	size_t run_size;            /* mmap size of struct kvm_run */
	struct guest_memory mem;
	struct bus pio;
	struct bus mmio;
	struct loop loop;
	int signal_fd;              /* SIGINT/SIGTERM/... read on the loop */
	int timer_fd;               /* --timeout */
	struct term term;           /* host terminal state to restore */

	struct vcpu *vcpus;
	unsigned nr_vcpus;

	struct virtio_mmio *virtio[EMBER_MAX_VIRTIO]; /* transports, in slot order */
	unsigned nr_virtio;

	struct boot_info boot;
	char cmdline[EMBER_CMDLINE_MAX];

	/* Stopping: the first vm_stop() wins; vCPUs and the loop then wind down. */
	atomic_int exit_code;       /* -1 while running */
	int stop_fd;                /* eventfd the loop watches */
	pthread_mutex_t err_lock;
	struct ember_err run_err;   /* why the VM stopped with EMBER_EXIT_FAILURE */

	struct arch_vm arch;
};

/* The whole life of a VM; returns the exit code for ember (guest status or 12x). */
int vm_run(const struct ember_config *cfg, struct ember_err *err);

/* Any thread: stop the VM with this exit code (first caller wins). */
void vm_stop(struct vm *vm, int exit_code);
/* Any thread: stop with EMBER_EXIT_FAILURE and a message. */
void vm_fail(struct vm *vm, const struct ember_err *why);

/* For devices: interrupt lines and eventfd plumbing (devices never call KVM). */
int vm_set_irq_line(struct vm *vm, unsigned gsi, int level);
int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		 bool pio);
int vm_irqfd(struct vm *vm, unsigned gsi, int fd);

/* Monotonic nanoseconds since ember started. */
uint64_t vm_elapsed_ns(const struct vm *vm);

#endif
