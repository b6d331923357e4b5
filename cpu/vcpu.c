// SPDX-License-Identifier: GPL-2.0-only
/*
 * One thread per vCPU running KVM_RUN and dispatching exits to the buses.
 * Stopping: vm_stop() sets the exit code, then vcpu_kick() sets
 * immediate_exit (covers a vCPU about to enter KVM_RUN) and signals the
 * thread (covers one inside it); KVM_RUN returns EINTR and the loop sees
 * the VM is stopping.
 */
#include "cpu/vcpu.h"

#include <errno.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id, struct ember_err *err)
{
	memset(vcpu, 0, sizeof(*vcpu));
	vcpu->vm = vm;
	vcpu->id = id;
	vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0)
		return ember_fail(err, errno, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
	void *run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (run == MAP_FAILED) {
		int saved = errno;
		close(vcpu->fd);
		vcpu->fd = -1;
		return ember_fail(err, saved, "mapping vCPU %u run area: %s", id, strerror(saved));
	}
	vcpu->run = run;
	return 0;
}

void vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->run)
		munmap(vcpu->run, vcpu->vm->run_size);
	if (vcpu->fd >= 0)
		close(vcpu->fd);
	vcpu->run = NULL;
	vcpu->fd = -1;
}

static bool stopping(const struct vcpu *vcpu)
{
	return atomic_load(&vcpu->vm->exit_code) >= 0;
}

static void handle_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	/* String I/O (rep ins/outs) arrives as `count` back-to-back items. */
	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size)
		bus_access(&vcpu->vm->pio, run->io.port, data, run->io.size, is_write);
}

static void handle_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	unsigned len = run->mmio.len <= sizeof(run->mmio.data) ? run->mmio.len : 8;

	bus_access(&vcpu->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
		   run->mmio.is_write);
}

static void fail(struct vcpu *vcpu, struct ember_err *why)
{
	vm_fail(vcpu->vm, why);
}

/* Returns false when the loop should end. */
static bool dispatch_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct ember_err why;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		handle_io(vcpu);
		return true;
	case KVM_EXIT_MMIO:
		handle_mmio(vcpu);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_SHUTDOWN:
		/* Triple fault: on a one-shot VM, a reset is the end. */
		if (vcpu->vm->cfg->verbose) {
			struct kvm_regs regs;
			if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0)
				fprintf(stderr, "ember: vCPU %u triple-faulted at rip %#llx\r\n",
					vcpu->id, (unsigned long long)regs.rip);
		}
		vm_stop(vcpu->vm, EMBER_EXIT_NO_STATUS);
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		vm_stop(vcpu->vm, EMBER_EXIT_NO_STATUS);
		return false;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; ours always has one. */
		vm_stop(vcpu->vm, EMBER_EXIT_NO_STATUS);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		ember_fail(&why, EIO, "vCPU %u: KVM could not enter the guest (hardware reason %#llx)",
			   vcpu->id,
			   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		fail(vcpu, &why);
		return false;
	default:
		if (arch_vcpu_handle_exit(vcpu, &why) == 0)
			return true;
		fail(vcpu, &why);
		return false;
	}
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);

	while (!stopping(vcpu)) {
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				vcpu->run->immediate_exit = 0;
				continue;
			}
			struct ember_err why;
			ember_fail(&why, errno, "vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			fail(vcpu, &why);
			break;
		}
		if (!dispatch_exit(vcpu))
			break;
	}
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
		return ember_fail(err, rc, "starting vCPU %u thread: %s", vcpu->id, strerror(rc));
	vcpu->thread_started = true;
	/* Named so that top, perf and the benchmarks can tell the threads apart. */
	char name[16];
	snprintf(name, sizeof(name), "ember-vcpu%u", vcpu->id);
	pthread_setname_np(vcpu->thread, name);
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (vcpu->thread_started)
		pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}
