// SPDX-License-Identifier: GPL-2.0-only
/* x86 VM-wide setup: RAM layout, in-kernel irqchip and PIT, host detection. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/pvm.h"
#include "vm/vm.h"

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

int arch_vm_init(struct vm *vm, struct ember_err *err)
{
	vm->arch.pvm = pvm_host_detect();

	/* Intel VMX needs these pages for real-mode emulation; harmless elsewhere. */
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &(uint64_t){ ARCH_IDENTITY_MAP_ADDR }) < 0 &&
	    errno != EINVAL && errno != ENOTTY)
		return ember_fail(err, errno, "KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)ARCH_TSS_ADDR) < 0)
		return ember_fail(err, errno, "KVM_SET_TSS_ADDR: %s", strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return ember_fail(err, errno, "KVM_CREATE_IRQCHIP: %s", strerror(errno));

	/* KVM_PIT_SPEAKER_DUMMY: port 0x61 reads work without a speaker model. */
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return ember_fail(err, errno, "KVM_CREATE_PIT2: %s", strerror(errno));
	return 0;
}

/*
 * virtio-mmio transports: 4 KiB each from 0xd0000000, in the device hole.
 * GSIs avoid the legacy devices (0 PIT, 1 keyboard, 2 cascade, 3/4 COM,
 * 8 RTC); every GSI up to 23 is described in the MP table and MADT.
 */
void arch_virtio_mmio_slot(unsigned slot, uint64_t *base, uint32_t *gsi)
{
	static const uint8_t gsis[] = { 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17,
					18, 19, 20, 21, 22, 23 };
	*base = ARCH_VIRTIO_MMIO_BASE + (uint64_t)slot * 0x1000;
	*gsi = gsis[slot % sizeof(gsis)];
}
