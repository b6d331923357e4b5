// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's life as named steps (vm/vm.h): create the machine and its
 * devices, boot a kernel onto it, start the threads, wait for a stop,
 * pause/resume, destroy in reverse.  vm_run() strings them together for a
 * one-shot run.  This is the only file that knows every part.
 */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
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

int vm_create(struct vm *vm, const struct ember_config *cfg, enum session_mode mode,
	      struct ember_err *err)
{
	const struct machine_cap *caps;
	unsigned nr_caps = arch_kvm_caps(&caps);
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned nr_regions = arch_memory_layout(cfg->mem_bytes, layout);
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->signal_fd = vm->timer_fd = vm->stop_timer_fd = -1;
	vm->capture_dir.parent_fd = vm->capture_dir.pagemap_fd = -1;
	vm->snapshot_to.parent_fd = vm->snapshot_to.pagemap_fd = -1;
	vm->control_fd = -1;
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
	return vm->has_session ? session_create(&vm->session, &vm->virtio, &vm->machine, cfg, mode, err) : 0;
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

/*
 * The only trees a running ember reaches by name: the shares (read-only
 * ones read-only) and where snapshots go.  Before the first thread starts:
 * every thread inherits it.
 */
static int confine_paths(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	struct sandbox_path paths[EMBER_MAX_SHARES + 3];
	unsigned n = 0;
	bool confined;
	int rc = 0;

	for (unsigned i = 0; !rc && i < cfg->nr_shares; i++) {
		paths[n].fd = open(cfg->shares[i].host_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		paths[n].writable = !cfg->shares[i].read_only;
		if (paths[n].fd < 0)
			rc = ember_fail(err, errno, "--share %s: %s", cfg->shares[i].host_dir, strerror(errno));
		else
			n++;
	}
	if (!rc && cfg->rootfs && cfg->rootfs_is_dir) {
		paths[n] = (struct sandbox_path){ open(cfg->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC), true };
		if (paths[n].fd < 0)
			rc = ember_fail(err, errno, "--rootfs %s: %s", cfg->rootfs, strerror(errno));
		else
			n++;
	}
	if (vm->capture_dir.parent_fd >= 0)
		paths[n++] = (struct sandbox_path){ vm->capture_dir.parent_fd, true };
	if (vm->snapshot_to.parent_fd >= 0)
		paths[n++] = (struct sandbox_path){ vm->snapshot_to.parent_fd, true };
	if (!rc)
		rc = sandbox_restrict_paths(paths, n, &confined, err);
	for (unsigned i = 0; i < n; i++)
		if (paths[i].fd != vm->capture_dir.parent_fd && paths[i].fd != vm->snapshot_to.parent_fd)
			close(paths[i].fd);
	return rc;
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
	    (!cfg->no_sandbox && (rc = confine_paths(vm, err))) ||
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

int vm_snapshot(struct vm *vm, struct snapshot_dir *dir, const struct warm_shape *shape,
		bool compress, struct snapshot_dir_stats *stats, struct ember_err *err)
{
	struct snapshot_writer w = { 0 };
	const char *why;
	int rc;

	if (!vm_pause(vm)) {
		vm_resume(vm);
		return ember_fail(err, ECANCELED, "snapshot: the VM is stopping");
	}
	virtio_devices_lock(&vm->virtio);
	if (vm->has_session && !session_can_snapshot(&vm->session, &why))
		rc = ember_fail(err, EBUSY, "snapshot refused: %s; try again", why);
	else if (!(rc = vm_save_state(vm, &w, err)) && shape && warm_shape_put(shape, &w))
		rc = ember_fail(err, ENOMEM, "out of memory");
	char config[8192];
	if (!rc && !(rc = config_save(vm->cfg, config, sizeof(config), err)) &&
	    snapshot_put(&w, SNAP_VM_CONFIG, 0, config, strlen(config)))
		rc = ember_fail(err, ENOMEM, "out of memory");
	if (!rc)
		rc = snapshot_dir_write(dir, &w, &vm->machine.mem, compress, stats, err);
	virtio_devices_unlock(&vm->virtio);
	vm_resume(vm);
	snapshot_writer_free(&w);
	return rc;
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
	snapshot_dir_close(&vm->capture_dir);
	snapshot_dir_close(&vm->snapshot_to);
	vm->capture_shape = NULL;
	if (vm->control_fd >= 0)
		close(vm->control_fd);
	vm->control_fd = -1;
	term_restore(&vm->term); /* a no-op unless vm_start made the terminal raw */
}

/*
 * Warm start's first run: the guest's init said HELLO and waits for its
 * request.  Nothing of a command has run yet: save this moment for the
 * runs after, then let the request go (loop thread).
 */
static void on_hello_capture(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct snapshot_dir_stats stats;
	struct ember_err err = { "" };
	uint64_t count;
	(void)events;

	if (read(vm->session.hello_fd, &count, sizeof(count)) < 0)
		return;
	if (!vm->capture_shape) { /* nowhere to save it: just run the command */
		session_release(&vm->session);
		return;
	}
	uint64_t t0 = machine_elapsed_ns(&vm->machine);
	if (vm_snapshot(vm, &vm->capture_dir, vm->capture_shape, false, &stats, &err))
		fprintf(stderr, "ember: warm start: the booted guest was not saved (%s)\r\n", err.msg);
	else if (vm->cfg->verbose)
		fprintf(stderr, "ember: warm start: booted guest saved to %s (%.1f MiB on disk) in %.1f ms\r\n",
			vm->capture_dir.path, (double)stats.memory_bytes / (1 << 20),
			(double)(machine_elapsed_ns(&vm->machine) - t0) / 1e6);
	session_release(&vm->session);
}

/*
 * After vm_create, before vm_start: snapshot the guest at HELLO into
 * shape->dir.  A cache that cannot be written (a read-only home) costs the
 * warm start, not the run: one line, and the command goes at HELLO.
 */
static int capture_at_hello(struct vm *vm, const struct warm_shape *shape, struct ember_err *err)
{
	struct ember_err why = { "" };

	if (loop_add(&vm->machine.loop, vm->session.hello_fd, EPOLLIN, on_hello_capture, vm))
		return ember_fail(err, EIO, "internal: cannot watch the command channel's hello");
	if (snapshot_dir_prepare(&vm->capture_dir, shape->dir, &why)) {
		snapshot_dir_close(&vm->capture_dir);
		fprintf(stderr, "ember: warm start: cannot save the booted guest (%s): booting cold each time\n",
			why.msg);
		return 0;
	}
	vm->capture_shape = shape;
	return 0;
}

/*
 * `ember snapshot DIR` connected to DIR/control: one request line
 * ("snapshot" or "snapshot compress"), one answer line ("ok STATE MEMORY
 * MS" with bytes on disk, or "error WHY").  Loop thread; the socket is
 * ember's user's alone (0600), and a silent client times out after 1 s.
 */
static void on_control(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	char req[64], reply[600];
	struct snapshot_dir_stats stats;
	struct ember_err err = { "" };
	(void)events;

	int fd = accept4(vm->control_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	ssize_t n = read(fd, req, sizeof(req) - 1);
	req[n > 0 ? n : 0] = '\0';
	req[strcspn(req, "\r\n")] = '\0';
	bool compress = !strcmp(req, "snapshot compress");
	if (!compress && strcmp(req, "snapshot")) {
		snprintf(reply, sizeof(reply), "error unknown request \"%.40s\"\n", req);
	} else {
		uint64_t t0 = machine_elapsed_ns(&vm->machine);
		if (vm_snapshot(vm, &vm->snapshot_to, NULL, compress, &stats, &err))
			snprintf(reply, sizeof(reply), "error %s\n", err.msg);
		else
			snprintf(reply, sizeof(reply), "ok %llu %llu %.1f\n",
				 (unsigned long long)stats.state_bytes, (unsigned long long)stats.memory_bytes,
				 (double)(machine_elapsed_ns(&vm->machine) - t0) / 1e6);
	}
	if (write(fd, reply, strlen(reply)) < 0) {
		/* the client went away: nothing to tell */
	}
	close(fd);
}

/* --snapshot-to DIR: DIR/control listens, DIR/snapshot receives (made before the sandbox). */
static int listen_for_snapshots(struct vm *vm, struct ember_err *err)
{
	const char *dir = vm->cfg->snapshot_to;
	char path[PATH_MAX];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int rc;

	if (snprintf(path, sizeof(path), "%s/" SNAPSHOT_SUBDIR, dir) >= (int)sizeof(path))
		return ember_fail(err, ENAMETOOLONG, "--snapshot-to %s: path too long", dir);
	if ((rc = snapshot_dir_prepare(&vm->snapshot_to, path, err)))
		return rc;
	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/" SNAPSHOT_CONTROL_SOCKET, dir) >=
	    (int)sizeof(addr.sun_path))
		return ember_fail(err, ENAMETOOLONG, "--snapshot-to %s: too long for a socket path", dir);
	vm->control_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (vm->control_fd < 0)
		return ember_fail(err, errno, "--snapshot-to: socket: %s", strerror(errno));
	struct timeval timeout = { .tv_sec = 1 };
	unlink(addr.sun_path); /* a socket left by an ember that was killed */
	mode_t old = umask(077);
	rc = bind(vm->control_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	/* Accepted sockets inherit the timeout: a client that says nothing cannot hold the loop. */
	if (rc < 0 || listen(vm->control_fd, 4) < 0 ||
	    setsockopt(vm->control_fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout)) < 0)
		return ember_fail(err, errno, "--snapshot-to %s: %s", addr.sun_path, strerror(errno));
	if (loop_add(&vm->machine.loop, vm->control_fd, EPOLLIN, on_control, vm))
		return ember_fail(err, EIO, "internal: cannot watch the snapshot socket");
	return 0;
}

/*
 * A --net auto without host=/guest= gets its subnet from the tap the
 * kernel names at this run (172.30.N.0/24 for tap emberN), so that VMs
 * started side by side never share one; a saved guest would keep a past
 * run's address.  Such runs boot cold (README: give host= and guest=).
 */
static bool net_addresses_fixed(const struct ember_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if (cfg->nets[i].kind == EMBER_NET_AUTO && !cfg->nets[i].guest_ip)
			return false;
	return true;
}

/* A run that may start warm: ember's init takes the command, nothing asks for a real boot. */
static bool warm_wanted(const struct ember_config *cfg)
{
	return cfg->init_handshake && !cfg->cold && !cfg->boot_timer && net_addresses_fixed(cfg);
}

enum warm_outcome { WARM_RUNNING, WARM_BOOT_COLD, WARM_FAILED };

/*
 * Restores the warm snapshot of this shape when there is one that fits,
 * and starts it.  WARM_BOOT_COLD: there is none (the first run of this
 * shape), or it is damaged, does not fit, or its state was refused, said
 * once on stderr: a cold boot then saves a new one.  Any failure before
 * the guest runs again ends there, never in a guest on half-restored
 * state.  WARM_FAILED (err filled): the VM itself cannot be made (a disk
 * in use, no KVM...), as a cold boot could not either.
 */
static enum warm_outcome try_warm(struct vm *vm, const struct ember_config *cfg,
				  const struct warm_shape *shape, struct ember_err *err)
{
	struct snapshot_loaded l;
	struct ember_err why = { "" };
	char misfit[512];

	int rc = snapshot_dir_load(&l, shape->dir, EMBER_VERSION, &why);
	if (rc == -ENOENT || rc == -ENOTDIR) {
		snapshot_loaded_free(&l);
		return WARM_BOOT_COLD; /* the first run of this shape (or no cache to hold one) */
	}
	if (!rc && !warm_shape_fits(shape, &l.state, misfit, sizeof(misfit)))
		rc = ember_fail(&why, EINVAL, "%s", misfit);
	if (!rc && (rc = vm_create(vm, cfg, SESSION_WARM, err))) {
		snapshot_loaded_free(&l);
		return WARM_FAILED;
	}
	if (!rc && !(rc = snapshot_dir_load_memory(&l, &vm->machine.mem, &why)))
		rc = vm_restore_state(vm, &l.state, &why);
	snapshot_loaded_free(&l);
	if (rc) {
		if (vm->machine_open)
			vm_destroy(vm);
		fprintf(stderr, "ember: warm start: not using %s (%s): booting cold\n", shape->dir, why.msg);
		return WARM_BOOT_COLD;
	}
	if ((cfg->snapshot_to && listen_for_snapshots(vm, err)) || vm_start(vm, err))
		return WARM_FAILED;
	if (cfg->verbose)
		fprintf(stderr, "ember: warm start: restored %s in %.1f ms\r\n", shape->dir,
			(double)machine_elapsed_ns(&vm->machine) / 1e6);
	session_release(&vm->session);
	return WARM_RUNNING;
}

int vm_run(const struct ember_config *cfg, struct ember_err *err)
{
	static struct vm vm; /* the one VM object */
	static struct warm_shape shape;
	enum session_mode mode = SESSION_BOOT;
	int rc;

	if (warm_wanted(cfg) && warm_shape_describe(&shape, cfg) == 0) {
		switch (try_warm(&vm, cfg, &shape, err)) {
		case WARM_RUNNING:
			goto running;
		case WARM_FAILED:
			vm_destroy(&vm);
			return -EIO;
		case WARM_BOOT_COLD:
			mode = SESSION_CAPTURE;
			break;
		}
	}
	if ((rc = vm_create(&vm, cfg, mode, err)) ||
	    (mode == SESSION_CAPTURE && (rc = capture_at_hello(&vm, &shape, err))) ||
	    (cfg->snapshot_to && (rc = listen_for_snapshots(&vm, err))) ||
	    (rc = vm_boot(&vm, err)) || (rc = vm_start(&vm, err))) {
		vm_destroy(&vm);
		return rc;
	}
running:
	rc = vm_wait(&vm, err);
	vm_destroy(&vm);
	return rc;
}

int vm_restore_run(const char *dir, struct ember_config *cfg, struct ember_err *err)
{
	static struct vm vm;
	static struct snapshot_loaded l;
	static char config[8192];
	char path[PATH_MAX];
	struct stat st;
	int rc;

	/* A --snapshot-to directory holds its snapshot one level down. */
	if (snprintf(path, sizeof(path), "%s/" SNAPSHOT_SUBDIR, dir) >= (int)sizeof(path) ||
	    stat(path, &st) < 0)
		snprintf(path, sizeof(path), "%s", dir);
	if ((rc = snapshot_dir_load(&l, path, EMBER_VERSION, err)))
		goto out;
	const struct snapshot_section *sec = snapshot_find(&l.state, SNAP_VM_CONFIG, 0);
	if (!sec || sec->len >= sizeof(config) || memchr(sec->data, '\0', sec->len)) {
		rc = ember_fail(err, EINVAL, "snapshot %s: no usable configuration in it", path);
		goto out;
	}
	memcpy(config, sec->data, sec->len);
	config[sec->len] = '\0';
	if ((rc = config_load(cfg, config, err)))
		goto out;
	if ((rc = vm_create(&vm, cfg, SESSION_RESUMED, err)) ||
	    (cfg->snapshot_to && (rc = listen_for_snapshots(&vm, err))) ||
	    (rc = snapshot_dir_load_memory(&l, &vm.machine.mem, err)) ||
	    (rc = vm_restore_state(&vm, &l.state, err)) || (rc = vm_start(&vm, err))) {
		vm_destroy(&vm);
		goto out;
	}
	if (cfg->verbose)
		fprintf(stderr, "ember: restored %s in %.1f ms\r\n", path,
			(double)machine_elapsed_ns(&vm.machine) / 1e6);
	snapshot_loaded_free(&l);
	rc = vm_wait(&vm, err);
	vm_destroy(&vm);
	return rc;
out:
	snapshot_loaded_free(&l);
	return rc;
}
