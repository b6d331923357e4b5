/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The machine: the bottom layer every device, vCPU thread and arch file
 * may use.  It holds the KVM and VM fds, guest memory, the PIO and MMIO
 * buses and the event loop, and offers the few services a device needs:
 * an interrupt line, irqfd and ioeventfd registration, the time since
 * ember started, and a request to stop the VM with a reason.
 *
 * A stop request does not call up: it records the first reason and wakes
 * the event loop, which returns to the orchestrator (vm/vm.c); that is
 * the layer that then stops the vCPUs.  Nothing here knows vCPU threads,
 * devices or the configuration.
 */
#ifndef EMBER_VM_MACHINE_H
#define EMBER_VM_MACHINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vm/bus.h"
#include "vm/error.h"
#include "vm/loop.h"
#include "vm/memory.h"

/* ember's own exit codes (documented in README.md). */
#define EMBER_EXIT_NO_STATUS 123 /* guest stopped without reporting a status */
#define EMBER_EXIT_TIMEOUT   124 /* --timeout expired */
#define EMBER_EXIT_FAILURE   125 /* ember itself failed */

struct kvm_run;

struct machine {
	int kvm_fd;
	int vm_fd;
	size_t run_size;            /* mmap size of a vCPU's struct kvm_run */
	struct guest_memory mem;
	struct bus pio;
	struct bus mmio;
	struct loop loop;           /* host-side events: stdin, kick fds, signals, timers */
	struct timespec start;      /* when ember started: the origin of every timing */

	/* Stopping: the first request wins; the loop then returns to the orchestrator. */
	atomic_int exit_code;       /* -1 while running */
	int stop_fd;                /* eventfd the loop watches */
	pthread_mutex_t err_lock;
	struct ember_err stop_err;  /* why the VM stopped with EMBER_EXIT_FAILURE */
};

/* A KVM capability the machine needs, with its name for the error message. */
struct machine_cap {
	int cap;
	const char *name;
};

/*
 * Opens /dev/kvm, checks the API version, the arch-neutral capabilities
 * and `arch_caps`, that nr_cpus vCPUs are allowed, creates the VM and the
 * event loop.  On failure the caller still calls machine_close().
 */
int machine_open(struct machine *m, const struct timespec *start, unsigned nr_cpus,
		 const struct machine_cap *arch_caps, unsigned nr_arch_caps, struct ember_err *err);
/* Allocates guest RAM as laid out by the arch and hands it to KVM. */
int machine_add_memory(struct machine *m, const struct guest_region *layout, unsigned nr,
		       struct ember_err *err);
/* Closes everything machine_open and machine_add_memory made (safe on a partial machine). */
void machine_close(struct machine *m);

/* ---- services for devices, vCPU threads and arch code ------------------------------ */

int machine_set_irq_line(struct machine *m, unsigned gsi, int level);
int machine_irqfd(struct machine *m, unsigned gsi, int fd);
int machine_ioeventfd(struct machine *m, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		      bool pio);
/* Monotonic nanoseconds since ember started. */
uint64_t machine_elapsed_ns(const struct machine *m);

/* Any thread: stop the VM with this exit code (the first request wins). */
void machine_request_stop(struct machine *m, int exit_code);
/* Any thread: stop with EMBER_EXIT_FAILURE and this message. */
void machine_request_failure(struct machine *m, const struct ember_err *why);
/* True once a stop was requested. */
bool machine_stopping(const struct machine *m);
/* The exit code of the first stop request, -1 while running. */
int machine_exit_code(const struct machine *m);

/* ---- vCPU file descriptors (threads are cpu/'s business) ----------------------------- */

/* KVM_CREATE_VCPU and its mapped run area. */
int machine_create_vcpu(struct machine *m, unsigned id, int *fd, struct kvm_run **run,
			struct ember_err *err);
void machine_destroy_vcpu(struct machine *m, int fd, struct kvm_run *run);

#endif
