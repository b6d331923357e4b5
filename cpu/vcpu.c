// SPDX-License-Identifier: GPL-2.0-only
/*
 * One thread per vCPU running KVM_RUN and dispatching exits to the buses.
 * Stopping: a stop request makes the event loop return to the
 * orchestrator, which kicks every vCPU: vcpu_kick() sets immediate_exit
 * (covers a vCPU about to enter KVM_RUN) and signals the thread (covers
 * one inside it); KVM_RUN returns EINTR and the loop sees the machine is
 * stopping.
 */
#include "cpu/vcpu.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Sleeps while *word == expected (a spurious return is fine: callers loop). */
static void futex_wait(int *word, int expected)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
}

static void set_and_wake(int *word, int value)
{
	__atomic_store_n(word, value, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static int load(const int *word)
{
	return __atomic_load_n(word, __ATOMIC_SEQ_CST);
}

int vcpu_create(struct vcpu *vcpu, struct machine *m, struct arch_vm *a, unsigned id, bool verbose,
		struct ember_err *err)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->machine = m;
	vcpu->verbose = verbose;
	vcpu->kvm.vm = a;
	vcpu->kvm.id = id;
	return machine_create_vcpu(m, id, &vcpu->kvm.fd, &vcpu->kvm.run, err);
}

void vcpu_destroy(struct vcpu *vcpu)
{
	machine_destroy_vcpu(vcpu->machine, vcpu->kvm.fd, vcpu->kvm.run);
	vcpu->kvm.run = NULL;
	vcpu->kvm.fd = -1;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep ins/outs) arrives as `count` back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_access(&vcpu->machine->pio, run->io.port, data, run->io.size, is_write);
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	unsigned len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : 8;

	bus_access(&vcpu->machine->mmio, run->mmio.phys_addr, run->mmio.data, len,
		   run->mmio.is_write);
}

static struct vcpu_stop stop_with(int exit_code)
{
	return (struct vcpu_stop){ .exit_code = exit_code };
}

struct vcpu_stop vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	struct vcpu_stop stop = { .exit_code = -1 };

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return stop;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return stop;
	case KVM_EXIT_INTR:
		return stop;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: on a one-shot VM, a reset is the end. */
		if (vcpu->verbose) {
			char where[64];
			arch_vcpu_describe(&vcpu->kvm, where, sizeof(where));
			fprintf(stderr, "ember: vCPU %u triple-faulted %s\r\n", vcpu->kvm.id, where);
		}
		return stop_with(EMBER_EXIT_NO_STATUS);
	case KVM_EXIT_SYSTEM_EVENT:
		return stop_with(EMBER_EXIT_NO_STATUS);
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours always has one. */
		return stop_with(EMBER_EXIT_NO_STATUS);
	case KVM_EXIT_FAIL_ENTRY:
		stop.exit_code = EMBER_EXIT_FAILURE;
		ember_fail(&stop.err, EIO, "vCPU %u: KVM could not enter the guest (hardware reason %#llx)",
			   vcpu->kvm.id,
			   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		return stop;
	default:
		if (arch_vcpu_handle_exit(&vcpu->kvm, &stop.err) < 0)
			stop.exit_code = EMBER_EXIT_FAILURE;
		return stop;
	}
}

/*
 * Parks the thread while a pause is requested.  KVM_RUN once more with
 * immediate_exit first: it completes an I/O or MMIO read KVM still had in
 * flight and returns at once, so the state a pauser reads is consistent
 * (shared/pvm-notes.md: a snapshot taken without it froze a console).
 */
static struct vcpu_stop park(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->kvm.run;
	struct vcpu_stop stop = { .exit_code = -1 };

	__atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	while (ioctl(vcpu->kvm.fd, KVM_RUN, 0) == 0) {
		/* An exit that was already due: serve it, then try again. */
		stop = vcpu_handle_exit(vcpu);
		if (stop.exit_code >= 0)
			return stop;
	}
	__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);

	set_and_wake(&vcpu->paused, 1);
	while (load(&vcpu->pause_requested) && !machine_stopping(vcpu->machine))
		futex_wait(&vcpu->pause_requested, 1);
	set_and_wake(&vcpu->paused, 0);
	return stop;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct kvm_run *run = vcpu->kvm.run;
	struct vcpu_stop stop = { .exit_code = -1 };
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	/*
	 * Named so that top, perf and the benchmarks can tell the threads
	 * apart; by the thread itself (prctl), as naming another thread writes
	 * /proc/self/task/TID/comm, which Landlock (vm/sandbox.h) refuses.
	 */
	char name[16];
	snprintf(name, sizeof(name), "ember-vcpu%u", vcpu->kvm.id);
	pthread_setname_np(pthread_self(), name);

	while (!machine_stopping(vcpu->machine)) {
		if (load(&vcpu->pause_requested)) {
			stop = park(vcpu);
			if (stop.exit_code >= 0)
				break;
			continue;
		}
		if (ioctl(vcpu->kvm.fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				run->immediate_exit = 0;
				continue;
			}
			stop.exit_code = EMBER_EXIT_FAILURE;
			ember_fail(&stop.err, errno, "vCPU %u: KVM_RUN: %s", vcpu->kvm.id, strerror(errno));
			break;
		}
		stop = vcpu_handle_exit(vcpu);
		if (stop.exit_code >= 0)
			break;
	}
	if (stop.exit_code == EMBER_EXIT_FAILURE)
		machine_request_failure(vcpu->machine, &stop.err);
	else if (stop.exit_code >= 0)
		machine_request_stop(vcpu->machine, stop.exit_code);
	/* A pauser waiting for this vCPU must not wait for a thread that is gone. */
	set_and_wake(&vcpu->paused, 1);
	return NULL;
}

static void kick_handler(int sig)
{
	(void)sig; /* its only job is to interrupt KVM_RUN */
}

int vcpu_start(struct vcpu *vcpu, struct ember_err *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);

	int rc = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
	if (rc)
		return ember_fail(err, rc, "starting vCPU %u thread: %s", vcpu->kvm.id, strerror(rc));
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	__atomic_store_n(&vcpu->kvm.run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

bool vcpu_pause(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return false;
	set_and_wake(&vcpu->pause_requested, 1);
	vcpu_kick(vcpu);
	while (!load(&vcpu->paused))
		futex_wait(&vcpu->paused, 0);
	return !machine_stopping(vcpu->machine);
}

void vcpu_resume(struct vcpu *vcpu)
{
	set_and_wake(&vcpu->pause_requested, 0);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started) {
		vcpu_resume(vcpu); /* a parked thread sees the stop only once it is let go */
		pthread_join(vcpu->thread, NULL);
	}
	vcpu->thread_started = false;
}
