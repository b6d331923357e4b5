// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's life as named steps (vm/vm.h): create the machine and its
 * devices, boot a kernel onto it, start the threads, wait for a stop,
 * pause/resume, destroy in reverse.  vm_run() strings them together for a
 * one-shot run.  This is the only file that knows every part.
 */
#include "vm/vm.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "boot/cmdline.h"
#include "virtio/snapshot.h"
#include "vm/sandbox.h"

/*
 * ember's defaults, then the user's --cmdline, then the word that sends
 * ember's init to the command channel (which carries the command itself).
 */
static int build_cmdline(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	struct cmdline cl;
	char defaults[EMBER_CMDLINE_MAX];
	int rc = 0;

	cmdline_init(&cl, vm->cmdline, sizeof(vm->cmdline));
	if (arch_default_cmdline(&vm->arch, defaults, sizeof(defaults)) < 0)
		return ember_fail(err, E2BIG, "internal: default command line too long");
	rc = cmdline_append(&cl, defaults);
	if (!rc && virtio_devices_cmdline(&vm->virtio, defaults, sizeof(defaults)) < 0)
		rc = -E2BIG;
	if (!rc)
		rc = cmdline_append(&cl, defaults);
	if (!rc && !cfg->verbose)
		rc = cmdline_append(&cl, "quiet");
	if (!rc && cfg->cmdline)
		rc = cmdline_append(&cl, cfg->cmdline);
	if (!rc && vm->has_session)
		rc = cmdline_append(&cl, CHANNEL_CMDLINE_WORD);
	if (rc)
		return ember_fail(err, E2BIG,
				  "kernel command line too long (the kernel takes %d bytes): shorten --cmdline",
				  EMBER_CMDLINE_MAX - 1);
	return 0;
}

static void on_timeout(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;
	(void)events;
	/* Read it, or the level-triggered loop (and its final drain) calls us again. */
	if (read(vm->timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	fprintf(stderr, "ember: --timeout %u s expired: VM stopped\r\n", vm->cfg->timeout_s);
	machine_request_stop(&vm->machine, EMBER_EXIT_TIMEOUT);
}

/* --timeout: a timerfd on the loop, armed when the vCPUs start. */
static int setup_timeout(struct vm *vm, struct ember_err *err)
{
	if (!vm->cfg->timeout_s)
		return 0;
	vm->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	struct itimerspec its = { .it_value.tv_sec = vm->cfg->timeout_s };
	if (vm->timer_fd < 0 || timerfd_settime(vm->timer_fd, 0, &its, NULL) < 0)
		return ember_fail(err, errno, "--timeout: timerfd: %s", strerror(errno));
	if (loop_add(&vm->machine.loop, vm->timer_fd, EPOLLIN, on_timeout, vm))
		return ember_fail(err, EIO, "internal: cannot watch the timeout");
	return 0;
}

/* Exit code when ember stops a command that would not stop (docker's SIGKILL code). */
#define EMBER_EXIT_KILLED (128 + SIGKILL)

static void on_stop_timeout(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t expirations;
	(void)events;
	if (read(vm->stop_timer_fd, &expirations, sizeof(expirations)) < 0)
		return;
	fprintf(stderr, "ember: the command did not exit within --stop-timeout %u s of SIGTERM: VM stopped\r\n",
		vm->cfg->stop_timeout_s);
	machine_request_stop(&vm->machine, EMBER_EXIT_KILLED);
}

/* The first forwarded SIGTERM starts the --stop-timeout clock (loop thread). */
static void arm_stop_timeout(struct vm *vm)
{
	struct itimerspec its = { .it_value.tv_sec = vm->cfg->stop_timeout_s };

	if (vm->stop_timer_armed)
		return;
	vm->stop_timer_armed = true;
	if (vm->cfg->stop_timeout_s == 0 || timerfd_settime(vm->stop_timer_fd, 0, &its, NULL) < 0)
		machine_request_stop(&vm->machine, EMBER_EXIT_KILLED); /* cannot wait: stop now */
}

/* Made before the sandbox (which refuses timerfd_create), armed by a SIGTERM. */
static int setup_stop_timeout(struct vm *vm, struct ember_err *err)
{
	if (!vm->has_session)
		return 0;
	vm->stop_timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (vm->stop_timer_fd < 0)
		return ember_fail(err, errno, "--stop-timeout: timerfd: %s", strerror(errno));
	if (loop_add(&vm->machine.loop, vm->stop_timer_fd, EPOLLIN, on_stop_timeout, vm))
		return ember_fail(err, EIO, "internal: cannot watch the stop timeout");
	return 0;
}

/*
 * Like docker run's sig-proxy: once the guest's init runs the command,
 * these signals go to it and ember waits for its exit status.  A second
 * SIGINT, or --stop-timeout after a SIGTERM, stops the VM (exit 137).
 * Before that (the guest still booting, or no ember init) a signal stops
 * the VM at once with 128+N, as it would stop any program.
 */
static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	(void)events;
	while (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		int sig = (int)si.ssi_signo;
		if (sig == SIGWINCH) {
			if (vm->has_session)
				session_host_resized(&vm->session);
			continue;
		}
		if (!vm->has_session || !session_running(&vm->session)) {
			machine_request_stop(&vm->machine, 128 + sig);
			continue;
		}
		if (sig == SIGINT && vm->sigints++ > 0) {
			fprintf(stderr, "ember: second interrupt: VM stopped\r\n");
			machine_request_stop(&vm->machine, EMBER_EXIT_KILLED);
			continue;
		}
		session_signal(&vm->session, sig);
		if (sig == SIGTERM)
			arm_stop_timeout(vm);
	}
}

/* Signals that end ember (or go to the guest command) are read on the loop; the kick signal only interrupts KVM_RUN. */
static int setup_signals(struct vm *vm, struct ember_err *err)
{
	static const int handled[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH };
	sigset_t set;

	sigemptyset(&set);
	for (unsigned i = 0; i < sizeof(handled) / sizeof(handled[0]); i++)
		sigaddset(&set, handled[i]);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	/* Blocked before any thread exists so every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return ember_fail(err, errno, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return loop_add(&vm->machine.loop, vm->signal_fd, EPOLLIN, on_signal, vm) ?
		ember_fail(err, EIO, "internal: cannot watch signals") : 0;
}

/* The guest's init set up its console: host input may flow (a vCPU thread). */
static void on_console_ready(void *opaque)
{
	struct vm *vm = opaque;
	arch_console_ready(&vm->arch);
	virtio_devices_console_ready(&vm->virtio);
}

static int create_guest_abi(struct vm *vm, struct ember_err *err)
{
	struct guest_abi_layout layout;

	arch_guest_abi_layout(&layout);
	vm->abi.on_console_ready = on_console_ready;
	vm->abi.opaque = vm;
	vm->abi.report_boot_timer = vm->cfg->boot_timer;
	return guest_abi_init(&vm->abi, &vm->machine, &layout, err);
}

int vm_create(struct vm *vm, const struct ember_config *cfg, struct ember_err *err)
{
	const struct machine_cap *caps;
	unsigned nr_caps = arch_kvm_caps(&caps);
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned nr_regions = arch_memory_layout(cfg->mem_bytes, layout);
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->signal_fd = vm->timer_fd = vm->stop_timer_fd = -1;
	vm->machine_open = true; /* machine_close copes with a partly opened machine */
	/* Memory before the irqchip: KVM_SET_USER_MEMORY_REGION then costs 0.05 ms, not ~10. */
	if ((rc = machine_open(&vm->machine, &cfg->started_at, cfg->cpus, caps, nr_caps, err)) ||
	    (rc = machine_add_memory(&vm->machine, layout, nr_regions, err)))
		return rc;
	if ((rc = arch_vm_init(&vm->arch, &vm->machine, cfg, err)) ||
	    (rc = setup_signals(vm, err)) || (rc = arch_devices_init(&vm->arch, err)) ||
	    (rc = create_guest_abi(vm, err)))
		return rc;
	if ((rc = virtio_devices_create(&vm->virtio, &vm->machine, cfg, err)))
		return rc;
	/* ember's init takes its command over the channel; a foreign guest gets none. */
	vm->has_session = cfg->init_handshake;
	return vm->has_session ? session_create(&vm->session, &vm->virtio, &vm->machine, cfg, err) : 0;
}

static int create_vcpus(struct vm *vm, struct ember_err *err)
{
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return ember_fail(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->cfg->cpus; i++) {
		int rc = vcpu_create(&vm->vcpus[i], &vm->machine, &vm->arch, i, vm->cfg->verbose, err);
		vm->nr_vcpus = i + 1; /* destroyed by vm_destroy even when creation failed half-way */
		if (rc || (rc = arch_vcpu_init(&vm->vcpus[i].kvm, &vm->boot, err)))
			return rc;
	}
	return 0;
}

int vm_boot(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	struct arch_mmio_device devs[ARCH_VIRTIO_MMIO_SLOTS];
	int rc = arch_load_kernel(&vm->arch, cfg->kernel, &vm->boot, err);

	if (rc)
		return rc;
	if (cfg->initrd && (rc = boot_load_initrd(&vm->machine.mem, cfg->initrd, &vm->boot, err)))
		return rc;
	if ((rc = build_cmdline(vm, err)))
		return rc;
	vm->boot.cmdline_gpa = ARCH_CMDLINE_ADDR;
	vm->boot.cmdline_len = strlen(vm->cmdline);
	if (guest_write(&vm->machine.mem, vm->boot.cmdline_gpa, vm->cmdline, vm->boot.cmdline_len + 1))
		return ember_fail(err, EFAULT, "internal: command line outside guest RAM");
	unsigned nr_devs = virtio_devices_describe(&vm->virtio, devs);
	if ((rc = arch_boot_setup(&vm->arch, &vm->boot, devs, nr_devs, err)))
		return rc;
	return create_vcpus(vm, err);
}

int vm_start(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	const unsigned long *ioctls;
	unsigned nr_ioctls = arch_sandbox_ioctls(&ioctls);
	bool shares = cfg->nr_shares > 0 || (cfg->rootfs && cfg->rootfs_is_dir);
	int rc;

	/*
	 * Every file is open once create and boot are done: privileges go
	 * before the first thread starts, so no thread ever holds them.
	 */
	if ((rc = setup_timeout(vm, err)) || (rc = setup_stop_timeout(vm, err)) ||
	    (!cfg->no_sandbox && (rc = sandbox_drop_capabilities(shares, err))) ||
	    (rc = virtio_devices_start(&vm->virtio, err)))
		return rc;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if ((rc = vcpu_start(&vm->vcpus[i], err)))
			return rc;
	/*
	 * The guest's tty does the line editing: with -t, or a console that is
	 * the guest's terminal.  Without -t the host terminal stays cooked (as
	 * with docker run -i): ^C is a signal to ember, forwarded, ^D an EOF.
	 */
	if (cfg->tty || cfg->console != EMBER_CONSOLE_SPLIT)
		term_enter_raw(&vm->term);
	vm->started = true;
	/*
	 * Every thread and file exists now: from here on ember only moves
	 * bytes, and the filter holds it to that whatever the guest does.
	 */
	if (!cfg->no_sandbox && (rc = sandbox_apply(ioctls, nr_ioctls, err)) < 0)
		return rc;
	return 0;
}

int vm_wait(struct vm *vm, struct ember_err *err)
{
	int rc = loop_run(&vm->machine.loop);

	if (rc < 0) {
		struct ember_err why;
		ember_fail(&why, -rc, "event loop: %s", strerror(-rc));
		machine_request_failure(&vm->machine, &why);
	}
	/*
	 * The guest's last output may have been kicked just before it wrote its
	 * exit status: handle what is already pending before tearing down.
	 */
	loop_drain(&vm->machine.loop);
	int code = machine_exit_code(&vm->machine);
	if (code == EMBER_EXIT_FAILURE && vm->machine.stop_err.msg[0]) {
		*err = vm->machine.stop_err;
		return -EIO;
	}
	return code;
}

bool vm_pause(struct vm *vm)
{
	bool all = true;
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		all = vcpu_pause(&vm->vcpus[i]) && all;
	return all;
}

void vm_resume(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_resume(&vm->vcpus[i]);
}

int vm_save_state(struct vm *vm, struct snapshot_writer *w, struct ember_err *err)
{
	int rc = arch_vm_save(&vm->arch, w, err);
	if (!rc)
		rc = arch_devices_save(&vm->arch, w, err);
	for (unsigned i = 0; !rc && i < vm->nr_vcpus; i++)
		rc = arch_vcpu_save(&vm->vcpus[i].kvm, w, err);
	for (unsigned i = 0; !rc && i < vm->virtio.nr; i++)
		rc = virtio_mmio_save(&vm->virtio.transport[i], i, w, err);
	return rc;
}

int vm_restore_state(struct vm *vm, const struct snapshot_reader *r, struct ember_err *err)
{
	int rc = arch_vm_restore(&vm->arch, r, err);
	if (!rc)
		rc = arch_devices_restore(&vm->arch, r, err);
	for (unsigned i = 0; !rc && i < vm->virtio.nr; i++)
		rc = virtio_mmio_restore(&vm->virtio.transport[i], i, r, err);
	if (rc)
		return rc;
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return ember_fail(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->cfg->cpus; i++) {
		rc = vcpu_create(&vm->vcpus[i], &vm->machine, &vm->arch, i, vm->cfg->verbose, err);
		vm->nr_vcpus = i + 1;
		if (rc || (rc = arch_vcpu_restore(&vm->vcpus[i].kvm, r, err)))
			return rc;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	/* A VM torn down before anything asked it to stop: that is ember failing. */
	if (vm->machine_open)
		machine_request_stop(&vm->machine, EMBER_EXIT_FAILURE);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	/* Both cope with a part that was never created (an empty list, devices not ready). */
	virtio_devices_destroy(&vm->virtio);
	if (vm->has_session) {
		/* The device threads are gone: the session's state is settled. */
		if (vm->started)
			session_finish(&vm->session, machine_exit_code(&vm->machine));
		session_destroy(&vm->session);
		vm->has_session = false;
	}
	arch_devices_destroy(&vm->arch);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	vm->vcpus = NULL;
	vm->nr_vcpus = 0;
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->timer_fd >= 0)
		close(vm->timer_fd);
	if (vm->stop_timer_fd >= 0)
		close(vm->stop_timer_fd);
	vm->signal_fd = vm->timer_fd = vm->stop_timer_fd = -1;
	if (vm->machine_open)
		machine_close(&vm->machine);
	vm->machine_open = false;
	term_restore(&vm->term); /* a no-op unless vm_start made the terminal raw */
}

int vm_run(const struct ember_config *cfg, struct ember_err *err)
{
	static struct vm vm; /* the one VM object */
	int rc;

	if ((rc = vm_create(&vm, cfg, err)) || (rc = vm_boot(&vm, err)) ||
	    (rc = vm_start(&vm, err))) {
		vm_destroy(&vm);
		return rc;
	}
	rc = vm_wait(&vm, err);
	vm_destroy(&vm);
	return rc;
}
