// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 VM-wide setup: what the host must offer, RAM layout, in-kernel
 * irqchip and PIT, host detection, and where devices live.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/guest_abi.h"
#include "arch/x86/pvm.h"

static const struct machine_cap x86_caps[] = {
	{ KVM_CAP_PIT2, "KVM_CAP_PIT2" },
	{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	{ KVM_CAP_SET_TSS_ADDR, "KVM_CAP_SET_TSS_ADDR" },
	{ KVM_CAP_VCPU_EVENTS, "KVM_CAP_VCPU_EVENTS" },
};

unsigned arch_kvm_caps(const struct machine_cap **caps)
{
	*caps = x86_caps;
	return sizeof(x86_caps) / sizeof(x86_caps[0]);
}

/*
 * The emulator's register access and exception injection, and legacy IRQ
 * lines; and the reads a snapshot of the running VM makes (arch/x86/
 * snapshot.c), all of them GETs of this VM's own state.
 */
static const unsigned long x86_ioctls[] = {
	KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_GET_MSRS,
	KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_IRQ_LINE,
	KVM_CHECK_EXTENSION, KVM_GET_CPUID2, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_XCRS,
	KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_MP_STATE, KVM_GET_MSR_INDEX_LIST,
	KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK,
};

unsigned arch_sandbox_ioctls(const unsigned long **requests)
{
	*requests = x86_ioctls;
	return sizeof(x86_ioctls) / sizeof(x86_ioctls[0]);
}

unsigned arch_memory_layout(uint64_t mem_bytes, struct guest_region out[GUEST_MEM_MAX_REGIONS])
{
	uint64_t low = mem_bytes < ARCH_MMIO_HOLE_START ? mem_bytes : ARCH_MMIO_HOLE_START;

	out[0] = (struct guest_region){ .gpa = 0, .size = low };
	if (mem_bytes == low)
		return 1;
	/* RAM that does not fit below the device hole continues above 4 GiB. */
	out[1] = (struct guest_region){ .gpa = ARCH_MMIO_HOLE_END, .size = mem_bytes - low };
	return 2;
}

int arch_vm_init(struct arch_vm *a, struct machine *m, const struct ember_config *cfg,
		 struct ember_err *err)
{
	memset(a, 0, sizeof(*a));
	a->machine = m;
	a->cfg = cfg;
	a->null_fd = a->rx_wake_fd = -1;
	a->pvm = pvm_host_detect();

	/* Intel VMX needs these pages for real-mode emulation; harmless elsewhere. */
	if (ioctl(m->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ ARCH_IDENTITY_MAP_ADDR }) < 0 &&
	    errno != EINVAL && errno != ENOTTY)
		return ember_fail(err, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)ARCH_TSS_ADDR) < 0)
		return ember_fail(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(m->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return ember_fail(err, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));

	/* KVM_PIT_SPEAKER_DUMMY: port 0x61 reads work without a speaker model. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(m->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return ember_fail(err, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

_Static_assert(EMBER_BOOT_TIMER_MAGIC == GUEST_ABI_BOOT_TIMER_MAGIC, "guest_abi.h and vm/guest_abi.h agree");

/* Exit status and console ready are I/O ports (one out instruction); the boot timer is Firecracker's MMIO page. */
void arch_guest_abi_layout(struct guest_abi_layout *out)
{
	*out = (struct guest_abi_layout){
		.exit_status = { .pio = true, .addr = EMBER_EXIT_PORT, .len = 1 },
		.console_ready = { .pio = true, .addr = EMBER_CONSOLE_READY_PORT, .len = 1 },
		.boot_timer = { .pio = false, .addr = EMBER_BOOT_TIMER_GPA, .len = 0x1000 },
	};
}

/* virtio-mmio transports: 4 KiB each from 0xd0000000, in the device hole. */
void arch_virtio_mmio_slot(unsigned slot, struct arch_mmio_device *out)
{
	static const uint8_t gsis[ARCH_VIRTIO_MMIO_SLOTS] = { 5, 6, 7, 9, 10, 11, 12, 13, 14, 15,
							      16, 17, 18, 19, 20, 21, 22, 23 };
	out->base = ARCH_VIRTIO_MMIO_BASE + (uint64_t)slot * 0x1000;
	out->size = 0x1000;
	out->gsi = gsis[slot % ARCH_VIRTIO_MMIO_SLOTS];
}
