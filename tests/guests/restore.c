// SPDX-License-Identifier: GPL-2.0-only
/*
 * The KVM-state half of snapshot/restore (issue 10, under way), on the
 * count guest with two vCPUs: VM A counts, is paused, its state is saved
 * with vm_save_state into a state file (vm/snapshot_file.h) and its RAM
 * into a sparse memory file (vm/memory_file.c); A is destroyed.  Then,
 * twice, a brand-new VM (new VM fd, new vCPU fds) maps that memory file
 * copy-on-write and gets vm_restore_state instead of vm_boot, and
 * must count on from the saved value (not from 0, not stuck).  A state
 * file with a section missing must be refused.
 *
 *   build/guests/restore build/guests/count.elf
 * prints "ok - ..." lines and exits 0 when every step held.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vm/vm.h"

#define COUNT_GPA 0x300000ULL /* tests/guests/count.c */
#define MEM (16ULL << 20)

static struct vm vm;
static uint64_t saved_count;
static int failures;
static char state_path[64], mem_path[64];
static struct ember_config cfg;

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void check(bool good, const char *what)
{
	printf("%s - %s\n", good ? "ok" : "not ok", what);
	failures += !good;
}

static uint64_t count_now(void)
{
	const uint64_t *p = guest_ptr(&vm.machine.mem, COUNT_GPA, sizeof(uint64_t));
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static bool moves_past(uint64_t from)
{
	for (int i = 0; i < 1000; i++) {
		if (count_now() > from)
			return true;
		usleep(10 * 1000);
	}
	return false;
}

/* VM A: count, pause, save. */
static void *saver(void *arg)
{
	struct snapshot_writer w = { 0 };
	struct ember_err err = { "" };

	(void)arg;
	check(moves_past(0), "VM A counts");
	check(vm_pause(&vm), "VM A pauses");
	saved_count = count_now();
	double t0 = now_ms();
	bool saved = vm_save_state(&vm, &w, &err) == 0 &&
		     snapshot_write_file(&w, EMBER_VERSION, state_path, &err) == 0;
	printf("# state saved in %.2f ms (%zu bytes before compression)\n", now_ms() - t0, w.len);
	check(saved, "its KVM state saves to a state file");
	if (!saved)
		printf("# %s\n", err.msg);
	snapshot_writer_free(&w);
	uint64_t pages = 0;
	t0 = now_ms();
	check(guest_memory_save(&vm.machine.mem, mem_path, &pages, &err) == 0 && pages > 0 &&
		      pages < MEM / 4096 / 2,
	      "its RAM saves to a sparse memory file");
	printf("# memory saved in %.2f ms: %llu of %llu pages stored\n", now_ms() - t0,
	       (unsigned long long)pages, (unsigned long long)(MEM / 4096));
	machine_request_stop(&vm.machine, 0);
	return NULL;
}

/* A restored VM: it must go on from the saved count. */
static void *resumer(void *arg)
{
	(void)arg;
	uint64_t first = count_now();
	check(first >= saved_count, "the restored VM starts from the saved count, not from 0");
	check(moves_past(first), "the restored VM counts on");
	machine_request_stop(&vm.machine, 0);
	return NULL;
}

static int run(void *(*driver)(void *))
{
	struct ember_err err = { "" };
	pthread_t thread;

	if (vm_start(&vm, &err) || pthread_create(&thread, NULL, driver, NULL)) {
		fprintf(stderr, "restore: %s\n", err.msg);
		return -1;
	}
	int code = vm_wait(&vm, &err);
	pthread_join(thread, NULL);
	return code;
}

static bool restore_once(const struct snapshot_reader *r, bool expect_ok)
{
	struct ember_err err = { "" };
	double t0 = now_ms();
	bool ok = vm_create(&vm, &cfg, SESSION_BOOT, &err) == 0 &&
		  guest_memory_map_file(&vm.machine.mem, mem_path, &err) == 0 &&
		  vm_restore_state(&vm, r, &err) == 0;
	if (ok)
		printf("# new VM created and restored in %.2f ms\n", now_ms() - t0);
	if (ok && expect_ok)
		ok = run(resumer) == 0;
	else if (!ok && expect_ok)
		printf("# %s\n", err.msg);
	else if (!ok)
		printf("# refused: %s\n", err.msg);
	vm_destroy(&vm);
	return ok;
}

int main(int argc, char **argv)
{
	struct ember_err err = { "" };
	struct snapshot_reader r;

	if (argc != 2) {
		fprintf(stderr, "usage: %s COUNT_GUEST.elf\n", argv[0]);
		return 2;
	}
	snprintf(state_path, sizeof(state_path), "/tmp/ember-restore-%ld.state", (long)getpid());
	snprintf(mem_path, sizeof(mem_path), "/tmp/ember-restore-%ld.mem", (long)getpid());
	config_defaults(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &cfg.started_at);
	cfg.kernel = argv[1];
	cfg.mem_bytes = MEM;
	cfg.cpus = 2;
	cfg.console = EMBER_CONSOLE_NONE;
	cfg.no_sandbox = true; /* the filter would hold this test's own thread too */

	if (vm_create(&vm, &cfg, SESSION_BOOT, &err) || vm_boot(&vm, &err) || run(saver) != 0) {
		fprintf(stderr, "restore: VM A: %s\n", err.msg);
		vm_destroy(&vm);
		return 1;
	}
	vm_destroy(&vm);
	if (snapshot_read_file(&r, state_path, EMBER_VERSION, &err)) {
		fprintf(stderr, "restore: %s\n", err.msg);
		return 1;
	}
	check(restore_once(&r, true), "restore 1 into a new VM");
	check(restore_once(&r, true), "restore 2 of the same state into another new VM");

	/* Take the LAPIC of vCPU 1 away: the restore must refuse, not run half-restored. */
	for (uint32_t i = 0; i < r.count; i++)
		if (r.section[i].tag == 0x107 /* SNAP_X86_LAPIC */ && r.section[i].index == 1)
			r.section[i].tag = 0xdead;
	check(!restore_once(&r, false), "a state with a section missing is refused");

	snapshot_reader_free(&r);
	unlink(state_path);
	unlink(mem_path);
	return failures ? 1 : 0;
}
