// SPDX-License-Identifier: GPL-2.0-only
/* The machine: KVM and VM fds, guest RAM, buses, the loop, and the services devices use. */
#include "vm/machine.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

/* What every architecture's VM needs of KVM; the arch adds its own list. */
static const struct machine_cap neutral_caps[] = {
	{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
	{ KVM_CAP_IRQCHIP, "KVM_CAP_IRQCHIP" },
	{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
	{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
	{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
	{ KVM_CAP_NR_VCPUS, "KVM_CAP_NR_VCPUS" },
};

static int check_caps(int kvm_fd, const struct machine_cap *caps, unsigned nr, struct ember_err *err)
{
	for (unsigned i = 0; i < nr; i++) {
		if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, caps[i].cap) <= 0)
			return ember_fail(err, ENOTSUP, "KVM lacks %s, which ember needs", caps[i].name);
	}
	return 0;
}

static void on_stop(void *opaque, uint32_t events)
{
	struct machine *m = opaque;
	(void)events;
	m->loop.quit = true; /* the orchestrator takes over when loop_run returns */
}

int machine_open(struct machine *m, const struct timespec *start, unsigned nr_cpus,
		 const struct machine_cap *arch_caps, unsigned nr_arch_caps, struct ember_err *err)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->kvm_fd = m->vm_fd = m->stop_fd = -1;
	m->loop.epoll_fd = -1;
	m->start = *start;
	atomic_init(&m->exit_code, -1);
	pthread_mutex_init(&m->err_lock, NULL);
	bus_init(&m->pio, "port");
	bus_init(&m->mmio, "MMIO");

	m->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (m->kvm_fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return ember_fail(err, e, "/dev/kvm does not exist: load the kvm module or run on a host with virtualization");
		return ember_fail(err, e, "/dev/kvm: %s (is your user in the 'kvm' group?)", strerror(e));
	}
	int version = ioctl(m->kvm_fd, KVM_GET_API_VERSION, 0);
	if (version != KVM_API_VERSION)
		return ember_fail(err, ENOTSUP, "/dev/kvm speaks API version %d, ember needs %d",
				  version, KVM_API_VERSION);
	if ((rc = check_caps(m->kvm_fd, neutral_caps, sizeof(neutral_caps) / sizeof(neutral_caps[0]),
			     err)) ||
	    (rc = check_caps(m->kvm_fd, arch_caps, nr_arch_caps, err)))
		return rc;
	int max_vcpus = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (max_vcpus <= 0)
		max_vcpus = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if ((int)nr_cpus > max_vcpus)
		return ember_fail(err, EINVAL, "--cpus %u: this host's KVM allows at most %d", nr_cpus,
				  max_vcpus);
	int run_size = ioctl(m->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (run_size <= 0)
		return ember_fail(err, errno, "KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
	m->run_size = (size_t)run_size;

	m->vm_fd = ioctl(m->kvm_fd, KVM_CREATE_VM, 0);
	if (m->vm_fd < 0)
		return ember_fail(err, errno, "KVM_CREATE_VM: %s", strerror(errno));

	if (loop_init(&m->loop) < 0)
		return ember_fail(err, errno, "epoll: %s", strerror(errno));
	m->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->stop_fd < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	if (loop_add(&m->loop, m->stop_fd, EPOLLIN, on_stop, m))
		return ember_fail(err, EIO, "internal: cannot watch the stop event");
	return 0;
}

int machine_add_memory(struct machine *m, const struct guest_region *layout, unsigned nr,
		       struct ember_err *err)
{
	int rc = guest_memory_create(&m->mem, layout, nr, err);
	if (rc)
		return rc;
	for (unsigned i = 0; i < m->mem.nr_regions; i++) {
		const struct guest_region *r = &m->mem.region[i];
		struct kvm_userspace_memory_region kr = {
			.slot = i,
			.guest_phys_addr = r->gpa,
			.memory_size = r->size,
			.userspace_addr = (uintptr_t)r->host,
		};
		if (ioctl(m->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0)
			return ember_fail(err, errno, "KVM_SET_USER_MEMORY_REGION: %s", strerror(errno));
	}
	return 0;
}

void machine_close(struct machine *m)
{
	if (m->loop.epoll_fd >= 0)
		loop_destroy(&m->loop);
	m->loop.epoll_fd = -1;
	if (m->stop_fd >= 0)
		close(m->stop_fd);
	guest_memory_destroy(&m->mem);
	if (m->vm_fd >= 0)
		close(m->vm_fd);
	if (m->kvm_fd >= 0)
		close(m->kvm_fd);
	m->stop_fd = m->vm_fd = m->kvm_fd = -1;
	pthread_mutex_destroy(&m->err_lock);
}

int machine_set_irq_line(struct machine *m, unsigned gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = level };
	return ioctl(m->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

int machine_irqfd(struct machine *m, unsigned gsi, int fd)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };
	return ioctl(m->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int machine_ioeventfd(struct machine *m, uint64_t addr, unsigned len, uint64_t datamatch, int fd,
		      bool pio)
{
	struct kvm_ioeventfd ev = {
		.datamatch = datamatch,
		.addr = addr,
		.len = len,
		.fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH | (pio ? KVM_IOEVENTFD_FLAG_PIO : 0),
	};
	return ioctl(m->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

uint64_t machine_elapsed_ns(const struct machine *m)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)(now.tv_sec - m->start.tv_sec) * 1000000000ULL +
	       (uint64_t)(now.tv_nsec - m->start.tv_nsec);
}

void machine_request_stop(struct machine *m, int exit_code)
{
	int expected = -1;

	if (!atomic_compare_exchange_strong(&m->exit_code, &expected, exit_code))
		return;
	if (m->stop_fd >= 0 && eventfd_write(m->stop_fd, 1) < 0) {
		/* An eventfd write only fails on counter overflow: the loop is already woken. */
	}
}

void machine_request_failure(struct machine *m, const struct ember_err *why)
{
	pthread_mutex_lock(&m->err_lock);
	if (!m->stop_err.msg[0])
		m->stop_err = *why;
	pthread_mutex_unlock(&m->err_lock);
	machine_request_stop(m, EMBER_EXIT_FAILURE);
}

bool machine_stopping(const struct machine *m)
{
	return atomic_load(&m->exit_code) >= 0;
}

int machine_exit_code(const struct machine *m)
{
	return atomic_load(&m->exit_code);
}

int machine_create_vcpu(struct machine *m, unsigned id, int *fd, struct kvm_run **run,
			struct ember_err *err)
{
	*run = NULL;
	*fd = ioctl(m->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (*fd < 0)
		return ember_fail(err, errno, "KVM_CREATE_VCPU %u: %s", id, strerror(errno));
	void *area = mmap(NULL, m->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (area == MAP_FAILED) {
		int saved = errno;
		close(*fd);
		*fd = -1;
		return ember_fail(err, saved, "mapping vCPU %u run area: %s", id, strerror(saved));
	}
	*run = area;
	return 0;
}

void machine_destroy_vcpu(struct machine *m, int fd, struct kvm_run *run)
{
	if (run)
		munmap(run, m->run_size);
	if (fd >= 0)
		close(fd);
}
