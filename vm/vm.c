// SPDX-License-Identifier: GPL-2.0-only
/*
 * The VM's life in one readable sequence (vm_run): open KVM and check it,
 * create the VM and its RAM, platform devices, load kernel/initrd/cmdline,
 * arch boot structures, vCPUs; then the event loop runs on this thread
 * until something stops the VM; then everything is torn down in reverse.
 */
#include "vm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "boot/cmdline.h"
#include "cpu/vcpu.h"
#include "virtio/devices.h"
#include "virtio/mmio.h"
#include "vm/sandbox.h"
#include "vm/term.h"

/* Every capability ember relies on, checked up front so a gap is one clear line. */
static const struct {
	int cap;
	const char *name;
} required_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
	{ KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS" },
};

uint64_t vm_elapsed_ns(const struct vm *vm)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - vm->start.tv_sec) * 1000000000ULL +
	       (uint64_t)(now.tv_nsec - vm->start.tv_nsec);
}

void vm_stop(struct vm *vm, int exit_code)
{
	int expected = -1;

	if (!atomic_compare_exchange_strong(&vm->exit_code, &expected, exit_code))
		return;
	uint64_t one = 1;
	if (write(vm->stop_fd, &one, sizeof(one)) < 0) {
		/* An eventfd write only fails on counter overflow: the loop is already woken. */
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
}

void vm_fail(struct vm *vm, const struct ember_err *why)
{
	pthread_mutex_lock(&vm->err_lock);
	if (!vm->run_err.msg[0])
		vm->run_err = *why;
	pthread_mutex_unlock(&vm->err_lock);
	vm_stop(vm, EMBER_EXIT_FAILURE);
}

int vm_set_irq_line(struct vm *vm, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, unsigned len, uint64_t datamatch, int fd, bool pio)
{
	struct kvm_ioeventfd ev = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0),
	};
	return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

int vm_irqfd(struct vm *vm, unsigned gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };
	return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

static int open_kvm(struct vm *vm, struct ember_err *err)
{
	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return ember_fail(err, e, "/dev/kvm does not exist: load the kvm module or run on a host with virtualization");
		return ember_fail(err, e, "/dev/kvm: %s (is your user in the 'kvm' group?)", strerror(e));
	}
	int version = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return ember_fail(err, ENOTSUP, "/dev/kvm speaks API version %d, ember needs %d",
				  version, KVM_API_VERSION);
	for (size_t i = 0; i < sizeof(required_caps) / sizeof(required_caps[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, required_caps[i].cap) <= 0)
			return ember_fail(err, ENOTSUP, "KVM lacks %s, which ember needs",
					  required_caps[i].name);
	}
	int max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if ((int)vm->cfg->cpus > max_vcpus)
		return ember_fail(err, EINVAL, "--cpus %u: this host's KVM allows at most %d",
				  vm->cfg->cpus, max_vcpus);
	int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return ember_fail(err, errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	vm->run_size = (size_t)run_size;

	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return ember_fail(err, errno, "KVM_CREATE_VM: %s", strerror(errno));
	return 0;
}

static int setup_memory(struct vm *vm, struct ember_err *err)
{
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];
	unsigned n = arch_memory_layout(vm->cfg->mem_bytes, layout);
	int rc = guest_memory_create(&vm->mem, layout, n, err);
	if (rc)
		return rc;
	for (unsigned i = 0; i < vm->mem.nr_regions; i++) {
		const struct guest_region *r = &vm->mem.region[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return ember_fail(err, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
	return 0;
}

/* ember's defaults, then the user's --cmdline, then the guest command for init. */
static int build_cmdline(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	struct cmdline cl;
	char defaults[EMBER_CMDLINE_MAX];
	int rc = 0;

	cmdline_init(&cl, vm->cmdline, sizeof(vm->cmdline));
	if (arch_default_cmdline(vm, defaults, sizeof(defaults)) < 0)
		return ember_fail(err, E2BIG, "internal: default command line too long");
	rc = cmdline_append(&cl, defaults);
	if (!rc && virtio_mmio_cmdline(vm, defaults, sizeof(defaults)) < 0)
		rc = -E2BIG;
	if (!rc)
		rc = cmdline_append(&cl, defaults);
	if (!rc && !cfg->verbose)
		rc = cmdline_append(&cl, "quiet");
	if (!rc && cfg->cmdline)
		rc = cmdline_append(&cl, cfg->cmdline);
	if (!rc && isatty(STDIN_FILENO))
		rc = cmdline_append(&cl, "ember.tty=1");
	if (!rc && cfg->console == EMBER_CONSOLE_SPLIT)
		rc = cmdline_append(&cl, "ember.stdio=split");
	if (!rc && cfg->rootfs)
		rc = cmdline_append(&cl, cfg->rootfs_is_dir ? "ember.root=9p:rootfs" : "ember.root=ext4:/dev/vda");
	for (unsigned i = 0; !rc && i < cfg->nr_env; i++)
		rc = cmdline_append_encoded(&cl, "ember.env=", cfg->env[i]);
	for (unsigned i = 0; !rc && i < cfg->nr_shares; i++) {
		char mount[EMBER_CMDLINE_MAX];
		const struct ember_share *sh = &cfg->shares[i];
		snprintf(mount, sizeof(mount), "%s:%s:%s", sh->tag, sh->read_only ? "ro" : "rw",
			 sh->guest_dir);
		rc = cmdline_append_encoded(&cl, "ember.mount=", mount);
	}
	if (!rc && cfg->workdir)
		rc = cmdline_append_encoded(&cl, "ember.workdir=", cfg->workdir);
	if (!rc && cfg->user)
		rc = cmdline_append_encoded(&cl, "ember.user=", cfg->user);
	for (int i = 0; !rc && i < cfg->argc; i++)
		rc = cmdline_append_encoded(&cl, "ember.arg=", cfg->argv[i]);
	if (rc)
		return ember_fail(err, E2BIG,
				  "kernel command line too long (the kernel takes %d bytes): shorten --cmdline or the command",
				  EMBER_CMDLINE_MAX - 1);
	return 0;
}

static void on_stop(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	(void)events;
	vm->loop.quit = true;
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
	vm_stop(vm, EMBER_EXIT_TIMEOUT);
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
	if (loop_add(&vm->loop, vm->timer_fd, EPOLLIN, on_timeout, vm))
		return ember_fail(err, EIO, "internal: cannot watch the timeout");
	return 0;
}

static void on_signal(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;
	(void)events;
	if (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si))
		vm_stop(vm, 128 + (int)si.ssi_signo);
}

/* Signals that end ember are read on the loop; the kick signal only interrupts KVM_RUN. */
static int setup_signals(struct vm *vm, struct ember_err *err)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	/* Blocked before any thread exists so every thread inherits the mask. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sigdelset(&set, VCPU_KICK_SIGNAL);
	vm->signal_fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (vm->signal_fd < 0)
		return ember_fail(err, errno, "signalfd: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);
	return loop_add(&vm->loop, vm->signal_fd, EPOLLIN, on_signal, vm) ?
		ember_fail(err, EIO, "internal: cannot watch signals") : 0;
}

static int create(struct vm *vm, struct ember_err *err)
{
	int rc;

	bus_init(&vm->pio, "port");
	bus_init(&vm->mmio, "MMIO");
	/* Memory before the irqchip: KVM_SET_USER_MEMORY_REGION then costs 0.05 ms, not ~10. */
	if ((rc = open_kvm(vm, err)) || (rc = setup_memory(vm, err)) ||
	    (rc = arch_vm_init(vm, err)))
		return rc;
	if (loop_init(&vm->loop) < 0)
		return ember_fail(err, errno, "epoll: %s", strerror(errno));
	vm->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_fd < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	if (loop_add(&vm->loop, vm->stop_fd, EPOLLIN, on_stop, vm))
		return ember_fail(err, EIO, "internal: cannot watch the stop event");
	if ((rc = setup_signals(vm, err)) || (rc = arch_devices_init(vm, err)))
		return rc;
	return virtio_devices_create(vm, err);
}

static int load(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	int rc = boot_load_kernel(&vm->mem, cfg->kernel, ARCH_KERNEL_LOAD_ADDR, &vm->boot, err);
	if (rc)
		return rc;
	if (cfg->initrd && (rc = boot_load_initrd(&vm->mem, cfg->initrd, &vm->boot, err)))
		return rc;
	if ((rc = build_cmdline(vm, err)))
		return rc;
	vm->boot.cmdline_gpa = ARCH_CMDLINE_ADDR;
	vm->boot.cmdline_len = strlen(vm->cmdline);
	if (guest_write(&vm->mem, vm->boot.cmdline_gpa, vm->cmdline, vm->boot.cmdline_len + 1))
		return ember_fail(err, EFAULT, "internal: command line outside guest RAM");
	return arch_boot_setup(vm, &vm->boot, err);
}

static int start_vcpus(struct vm *vm, struct ember_err *err)
{
	vm->vcpus = calloc(vm->cfg->cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return ember_fail(err, ENOMEM, "out of memory");
	for (unsigned i = 0; i < vm->cfg->cpus; i++) {
		int rc = vcpu_create(vm, &vm->vcpus[i], i, err);
		if (rc)
			return rc;
		vm->nr_vcpus = i + 1;
		if ((rc = arch_vcpu_init(&vm->vcpus[i], &vm->boot, err)))
			return rc;
	}
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		int rc = vcpu_start(&vm->vcpus[i], err);
		if (rc)
			return rc;
	}
	return 0;
}

static void teardown(struct vm *vm)
{
	if (atomic_load(&vm->exit_code) < 0)
		atomic_store(&vm->exit_code, EMBER_EXIT_FAILURE);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_kick(&vm->vcpus[i]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_join(&vm->vcpus[i]);
	virtio_mmio_destroy_all(vm);
	arch_devices_destroy(vm);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		vcpu_destroy(&vm->vcpus[i]);
	free(vm->vcpus);
	loop_destroy(&vm->loop);
	if (vm->stop_fd >= 0)
		close(vm->stop_fd);
	if (vm->signal_fd >= 0)
		close(vm->signal_fd);
	if (vm->timer_fd >= 0)
		close(vm->timer_fd);
	guest_memory_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	pthread_mutex_destroy(&vm->err_lock);
}

int vm_run(const struct ember_config *cfg, struct ember_err *err)
{
	static struct vm vm; /* the one VM object */
	int rc;

	memset(&vm, 0, sizeof(vm));
	vm.cfg = cfg;
	vm.kvm_fd = vm.vm_fd = vm.stop_fd = vm.signal_fd = vm.timer_fd = -1;
	atomic_init(&vm.exit_code, -1);
	pthread_mutex_init(&vm.err_lock, NULL);
	vm.start = cfg->started_at;

	/*
	 * Every file is open once create and load are done: privileges go
	 * before the first thread starts, so no thread ever holds them.
	 */
	bool shares = cfg->nr_shares > 0 || (cfg->rootfs && cfg->rootfs_is_dir);
	if ((rc = create(&vm, err)) || (rc = load(&vm, err)) || (rc = setup_timeout(&vm, err)) ||
	    (!cfg->no_sandbox && (rc = sandbox_drop_capabilities(shares, err))) ||
	    (rc = virtio_mmio_start_all(&vm, err)) || (rc = start_vcpus(&vm, err))) {
		teardown(&vm);
		return rc;
	}
	term_enter_raw(&vm.term);
	/*
	 * Every thread and file exists now: from here on ember only moves
	 * bytes, and the filter holds it to that whatever the guest does.
	 */
	if (!cfg->no_sandbox && (rc = sandbox_apply(err)) < 0) {
		vm_stop(&vm, EMBER_EXIT_FAILURE);
		teardown(&vm);
		term_restore(&vm.term);
		return rc;
	}
	if ((rc = loop_run(&vm.loop)) < 0) {
		struct ember_err why;
		ember_fail(&why, -rc, "event loop: %s", strerror(-rc));
		vm_fail(&vm, &why);
	}
	/*
	 * The guest's last output may have been kicked just before it wrote its
	 * exit status: handle what is already pending before tearing down.
	 */
	loop_drain(&vm.loop);
	int code = atomic_load(&vm.exit_code);
	teardown(&vm);
	term_restore(&vm.term);
	if (code == EMBER_EXIT_FAILURE && vm.run_err.msg[0]) {
		*err = vm.run_err;
		return -EIO;
	}
	return code;
}
