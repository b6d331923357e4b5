// SPDX-License-Identifier: GPL-2.0-only
/*
 * The orchestrator's steps, driven the way a snapshot will drive them:
 * vm_create -> vm_boot -> vm_start, then, while the event loop runs,
 * vm_pause (the guest's counter must stand still and every vCPU's
 * registers must be readable), vm_resume (it must move again), then a
 * stop request and vm_destroy.  Runs the count guest under real KVM
 * with two vCPUs (the second waits for a SIPI inside KVM_RUN: pausing it
 * exercises the kick of a blocked vCPU).
 *
 *   build/guests/lifecycle build/guests/count.elf
 * prints "ok - ..." lines and exits 0 when every step held.
 */
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "vm/vm.h"

#define COUNT_GPA 0x300000ULL /* tests/guests/count.c */

static struct vm vm;

static uint64_t count_now(void)
{
	const uint64_t *p = guest_ptr(&vm.machine.mem, COUNT_GPA, sizeof(uint64_t));
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* Waits up to 10 s for the counter to move past `from`. */
static bool moves_past(uint64_t from)
{
	for (int i = 0; i < 1000; i++) {
		if (count_now() > from)
			return true;
		sleep_ms(10);
	}
	return false;
}

static int failures;

static void check(bool good, const char *what)
{
	printf("%s - %s\n", good ? "ok" : "not ok", what);
	failures += !good;
}

static void *driver(void *arg)
{
	(void)arg;
	check(moves_past(0), "the guest counts once started");

	check(vm_pause(&vm), "vm_pause parks every vCPU");
	uint64_t held = count_now();
	sleep_ms(200);
	check(count_now() == held, "the count stands still while paused");
	struct kvm_regs regs;
	bool readable = true;
	for (unsigned i = 0; i < vm.nr_vcpus; i++)
		readable = readable && ioctl(vm.vcpus[i].kvm.fd, KVM_GET_REGS, &regs) == 0;
	check(readable, "every paused vCPU's registers are readable");
	check(ioctl(vm.vcpus[0].kvm.fd, KVM_GET_REGS, &regs) == 0 && regs.rip >= 0x100000 &&
		      regs.rip < 0x200000,
	      "the boot vCPU paused inside the guest image");

	vm_resume(&vm);
	check(moves_past(held), "the count moves again after vm_resume");

	/* A second cycle: pause/resume are repeatable. */
	check(vm_pause(&vm), "a second vm_pause");
	held = count_now();
	sleep_ms(100);
	check(count_now() == held, "the count stands still again");
	vm_resume(&vm);
	check(moves_past(held), "and moves again");

	machine_request_stop(&vm.machine, failures ? 1 : 0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct ember_config cfg;
	struct ember_err err = { "" };
	pthread_t thread;

	if (argc != 2) {
		fprintf(stderr, "usage: %s COUNT_GUEST.elf\n", argv[0]);
		return 2;
	}
	config_defaults(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &cfg.started_at);
	cfg.kernel = argv[1];
	cfg.mem_bytes = 16ULL << 20;
	cfg.cpus = 2;
	cfg.console = EMBER_CONSOLE_NONE;
	cfg.no_sandbox = true; /* the filter would hold this test's own thread too */

	if (vm_create(&vm, &cfg, SESSION_BOOT, &err) || vm_boot(&vm, &err) || vm_start(&vm, &err)) {
		fprintf(stderr, "lifecycle: %s\n", err.msg);
		vm_destroy(&vm);
		return 1;
	}
	if (pthread_create(&thread, NULL, driver, NULL)) {
		vm_destroy(&vm);
		return 1;
	}
	int code = vm_wait(&vm, &err);
	pthread_join(thread, NULL);
	vm_destroy(&vm);
	check(code == 0 && failures == 0, "the VM stopped with the driver's exit code");
	return failures ? 1 : 0;
}
