/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * vCPU threads: the only place that calls KVM_RUN.  Exits go to the
 * machine's buses or to the arch; an exit that ends the VM comes back as
 * a value (a stop reason) that the thread hands to the machine, never as a
 * call up into the orchestrator.
 *
 * Pause and resume (for snapshots and for debugging): vcpu_pause() parks
 * the thread outside KVM_RUN after completing any I/O KVM still had in
 * flight, so the vCPU's state can be read or written consistently.
 */
#ifndef EMBER_CPU_VCPU_H
#define EMBER_CPU_VCPU_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

#include "arch/arch.h"
#include "vm/error.h"
#include "vm/machine.h"

struct vcpu {
	struct vcpu_kvm kvm;          /* fd, run area, arch state: what arch hooks see */
	struct machine *machine;
	bool verbose;                 /* say where a vCPU was when the guest shut down */
	pthread_t thread;
	bool thread_started;

	/*
	 * The pause handshake: two words, each waited on with a futex (a
	 * pthread condition variable would add 5 KiB of libc to the binary).
	 */
	int pause_requested;          /* 1 while vcpu_pause holds the vCPU */
	int paused;                   /* 1 while parked outside KVM_RUN (or the thread ended) */
};

/* Why the vCPU loop should stop: an exit code for the machine (with err for a failure). */
struct vcpu_stop {
	int exit_code;                /* -1: keep running */
	struct ember_err err;         /* for EMBER_EXIT_FAILURE */
};

int vcpu_create(struct vcpu *vcpu, struct machine *m, struct arch_vm *a, unsigned id, bool verbose,
		struct ember_err *err);
int vcpu_start(struct vcpu *vcpu, struct ember_err *err);
/* Makes a running vCPU leave KVM_RUN soon (any thread). */
void vcpu_kick(struct vcpu *vcpu);
/* Parks the vCPU outside KVM_RUN and waits until it is; false if its thread already ended. */
bool vcpu_pause(struct vcpu *vcpu);
void vcpu_resume(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/*
 * Handles the exit in vcpu->kvm.run: bus accesses, arch exits.  Returns
 * the stop reason (exit_code -1 to go on).  Exposed for tests.
 */
struct vcpu_stop vcpu_handle_exit(struct vcpu *vcpu);

/* Signal used for kicks; blocked everywhere except inside vCPU threads. */
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
