// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 boot structures in guest RAM: GDT, identity page tables, the zero
 * page or PVH start_info, the MP table; and ember's default command line.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"
#include "arch/x86/acpi.h"
#include "arch/x86/boot_params.h"
#include "arch/x86/gdt.h"
#include "arch/x86/mptable.h"
#include "arch/x86/pvm.h"

#define PVH_MAGIC       0x336ec578
#define PVH_MODLIST_OFF 0x40
#define PVH_MEMMAP_OFF  0x100

struct __attribute__((packed)) hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};
struct __attribute__((packed)) hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};
struct __attribute__((packed)) hvm_memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

int arch_default_cmdline(const struct arch_vm *a, char *buf, size_t size)
{
	/* reboot=k: a guest reboot or panic goes through the i8042 and stops the VM. */
	const char *console = a->cfg->console == EMBER_CONSOLE_VIRTIO ? "hvc0" : "ttyS0";
	int n = snprintf(buf, size, "console=%s reboot=k panic=-1%s%s", console,
			 a->pvm ? " " : "", a->pvm ? pvm_guest_cmdline : "");
	return n < 0 || (size_t)n >= size ? -E2BIG : n;
}

static int write_gdt(struct guest_memory *mem)
{
	uint64_t gdt[GDT_ENTRIES];
	gdt_build(gdt);
	return guest_write(mem, ARCH_GDT_ADDR, gdt, sizeof(gdt));
}

/* 4 GiB identity map with 2 MiB pages: enough for any kernel entry and the device hole. */
static int write_page_tables(struct guest_memory *mem)
{
	uint64_t pml4[512] = { ARCH_PDPT_ADDR | 0x03 };
	uint64_t pdpt[512] = { 0 };
	static uint64_t pd[4][512];

	for (unsigned i = 0; i < 4; i++) {
		pdpt[i] = (ARCH_PD_ADDR + i * 0x1000) | 0x03; /* present, writable */
		for (unsigned j = 0; j < 512; j++)
			pd[i][j] = ((uint64_t)(i * 512 + j) << 21) | 0x83; /* + 2 MiB page */
	}
	if (guest_write(mem, ARCH_PML4_ADDR, pml4, sizeof(pml4)) ||
	    guest_write(mem, ARCH_PDPT_ADDR, pdpt, sizeof(pdpt)) ||
	    guest_write(mem, ARCH_PD_ADDR, pd, sizeof(pd)))
		return -EFAULT;
	return 0;
}

static int write_pvh_info(struct guest_memory *mem, const struct boot_info *boot,
			  const struct e820_entry *e820, unsigned nr, uint64_t rsdp)
{
	struct hvm_start_info si = {
		.magic = PVH_MAGIC,
		.version = 1,
		.cmdline_paddr = boot->cmdline_gpa,
		.memmap_paddr = ARCH_PVH_INFO_ADDR + PVH_MEMMAP_OFF,
		.memmap_entries = nr,
		.rsdp_paddr = rsdp,
	};
	if (boot->initrd_size) {
		struct hvm_modlist_entry mod = { .paddr = boot->initrd_gpa, .size = boot->initrd_size };
		si.nr_modules = 1;
		si.modlist_paddr = ARCH_PVH_INFO_ADDR + PVH_MODLIST_OFF;
		if (guest_write(mem, si.modlist_paddr, &mod, sizeof(mod)))
			return -EFAULT;
	}
	for (unsigned i = 0; i < nr; i++) {
		struct hvm_memmap_entry m = { e820[i].addr, e820[i].size, e820[i].type, 0 };
		if (guest_write(mem, si.memmap_paddr + i * sizeof(m), &m, sizeof(m)))
			return -EFAULT;
	}
	return guest_write(mem, ARCH_PVH_INFO_ADDR, &si, sizeof(si));
}

/*
 * ACPI tables in the BIOS area: stock kernels find virtio-mmio devices only
 * through the DSDT.  Returns the RSDP address, 0 on failure.
 */
static uint64_t write_acpi(struct arch_vm *a, const struct arch_mmio_device *devs, unsigned nr,
			   struct ember_err *err)
{
	struct acpi_mmio_device acpi_devs[ARCH_VIRTIO_MMIO_SLOTS];
	uint8_t *area = guest_ptr(&a->machine->mem, ACPI_TABLES_ADDR, ACPI_TABLES_MAX);
	uint64_t rsdp = 0;

	if (nr > ARCH_VIRTIO_MMIO_SLOTS) {
		ember_fail(err, E2BIG, "internal: %u MMIO devices, the DSDT holds %d", nr,
			   ARCH_VIRTIO_MMIO_SLOTS);
		return 0;
	}
	for (unsigned i = 0; i < nr; i++)
		acpi_devs[i] = (struct acpi_mmio_device){ devs[i].base, devs[i].size, devs[i].gsi };
	if (!area || acpi_build(area, ACPI_TABLES_MAX, ACPI_TABLES_ADDR, a->cfg->cpus, acpi_devs, nr,
				&rsdp) < 0) {
		ember_fail(err, E2BIG, "internal: ACPI tables do not fit");
		return 0;
	}
	return rsdp;
}

int arch_boot_setup(struct arch_vm *a, const struct boot_info *boot,
		    const struct arch_mmio_device *devs, unsigned nr_devs, struct ember_err *err)
{
	struct guest_memory *mem = &a->machine->mem;
	struct e820_entry e820[E820_MAX];
	unsigned nr = e820_build(mem, e820, E820_MAX);
	uint8_t *zp = guest_ptr(mem, ARCH_ZERO_PAGE_ADDR, BOOT_PARAMS_SIZE);
	uint8_t *ebda = guest_ptr(mem, ARCH_EBDA_ADDR, 0xa0000 - ARCH_EBDA_ADDR);

	a->kernel.boot = *boot; /* the final placement: initrd and command line included */
	if (!zp || !ebda)
		return ember_fail(err, EFAULT, "internal: low memory missing");
	if (boot->kernel_start < ARCH_HIGH_MEMORY)
		return ember_fail(err, EINVAL, "--kernel %s: loads at %#llx, below 1 MiB where ember keeps boot data",
				  a->cfg->kernel, (unsigned long long)boot->kernel_start);
	uint64_t rsdp = write_acpi(a, devs, nr_devs, err);
	if (!rsdp)
		return -E2BIG;
	boot_params_build(zp, &a->kernel, e820, nr, rsdp);
	if (write_gdt(mem) || write_page_tables(mem))
		return ember_fail(err, EFAULT, "internal: cannot write boot page tables");
	if (a->kernel.protocol == X86_BOOT_PVH && write_pvh_info(mem, boot, e820, nr, rsdp))
		return ember_fail(err, EFAULT, "internal: cannot write PVH start info");
	if (mptable_build(ebda, 0xa0000 - ARCH_EBDA_ADDR, ARCH_EBDA_ADDR, a->cfg->cpus) < 0)
		return ember_fail(err, E2BIG, "internal: MP table does not fit for %u vCPUs",
				  a->cfg->cpus);
	return 0;
}
