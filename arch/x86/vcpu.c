// SPDX-License-Identifier: GPL-2.0-only
/* x86 vCPU state at power-on, and exits KVM hands back for emulation. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch/arch.h"
#include "arch/x86/cpuid.h"
#include "arch/x86/gdt.h"
#include "arch/x86/emulate/emulate.h"
#include "arch/x86/pvm.h"

#define CR0_PE 0x1ULL
#define CR0_ET 0x10ULL
#define CR0_NE 0x20ULL
#define CR0_PG 0x80000000ULL
#define CR4_PAE 0x20ULL
#define EFER_LME 0x100ULL
#define EFER_LMA 0x400ULL
#define APIC_LVT0 0x350
#define APIC_LVT1 0x360
#define APIC_MODE_NMI 0x4
#define APIC_MODE_EXTINT 0x7
#define MAX_CPUID_ENTRIES 256

static int set_cpuid(struct vcpu_kvm *vcpu, struct ember_err *err)
{
	const struct arch_vm *a = vcpu->vm;
	size_t bytes = sizeof(struct kvm_cpuid2) + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, bytes);
	if (!cpuid)
		return ember_fail(err, ENOMEM, "out of memory");
	cpuid->nent = MAX_CPUID_ENTRIES;
	int rc = 0;
	if (ioctl(a->machine->kvm_fd, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) {
		rc = ember_fail(err, errno, "KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
	} else {
		cpuid_filter(cpuid->entries, cpuid->nent, vcpu->id, a->cfg->cpus, a->pvm);
		if (ioctl(vcpu->fd, KVM_SET_CPUID2, cpuid) < 0)
			rc = ember_fail(err, errno, "KVM_SET_CPUID2: %s", strerror(errno));
	}
	free(cpuid);
	return rc;
}

/*
 * MSRs a real CPU has at reset that Linux relies on.  Set one at a time:
 * a host that refuses one (kvm_pvm refuses several) still boots.
 */
static void set_boot_msrs(struct vcpu_kvm *vcpu)
{
	static const struct { uint32_t index; uint64_t value; } msrs[] = {
		{ 0x174, 0 }, { 0x175, 0 }, { 0x176, 0 },      /* SYSENTER_CS/ESP/EIP */
		{ 0xc0000081, 0 }, { 0xc0000082, 0 },          /* STAR, LSTAR */
		{ 0xc0000083, 0 }, { 0xc0000084, 0 },          /* CSTAR, SYSCALL_MASK */
		{ 0xc0000102, 0 },                             /* KERNEL_GS_BASE */
		{ 0x10, 0 },                                   /* TSC */
		{ 0x1a0, 1 },                                  /* MISC_ENABLE: fast strings */
		{ 0x2ff, (1 << 11) | 6 },                      /* MTRRdefType: enabled, write-back */
	};
	for (size_t i = 0; i < sizeof(msrs) / sizeof(msrs[0]); i++) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} m = { .hdr.nmsrs = 1, .e = { .index = msrs[i].index, .data = msrs[i].value } };
		ioctl(vcpu->fd, KVM_SET_MSRS, &m);
	}
}

/* LINT0 as ExtINT (the PIC's output), LINT1 as NMI, like a PC's BIOS leaves them. */
static int set_lapic_lints(struct vcpu_kvm *vcpu, struct ember_err *err)
{
	struct kvm_lapic_state lapic;
	if (ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		return ember_fail(err, errno, "KVM_GET_LAPIC: %s", strerror(errno));
	uint32_t lvt0, lvt1;
	memcpy(&lvt0, lapic.regs + APIC_LVT0, 4);
	memcpy(&lvt1, lapic.regs + APIC_LVT1, 4);
	lvt0 = (lvt0 & ~0x700u) | (APIC_MODE_EXTINT << 8);
	lvt1 = (lvt1 & ~0x700u) | (APIC_MODE_NMI << 8);
	memcpy(lapic.regs + APIC_LVT0, &lvt0, 4);
	memcpy(lapic.regs + APIC_LVT1, &lvt1, 4);
	if (ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		return ember_fail(err, errno, "KVM_SET_LAPIC: %s", strerror(errno));
	return 0;
}

static int set_fpu(struct vcpu_kvm *vcpu, struct ember_err *err)
{
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	if (ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0)
		return ember_fail(err, errno, "KVM_SET_FPU: %s", strerror(errno));
	return 0;
}

/* The boot vCPU's entry state for the kernel's protocol. */
static int set_entry_state(struct vcpu_kvm *vcpu, const struct boot_info *boot,
			   enum x86_boot_protocol protocol, struct ember_err *err)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { .rflags = 0x2, .rip = boot->entry };
	uint64_t gdt[GDT_ENTRIES];

	if (ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return ember_fail(err, errno, "KVM_GET_SREGS: %s", strerror(errno));
	gdt_build(gdt);
	sregs.gdt.base = ARCH_GDT_ADDR;
	sregs.gdt.limit = sizeof(gdt) - 1;
	sregs.idt.base = 0;
	sregs.idt.limit = 0;
	sregs.tr = gdt_segment(gdt, GDT_TSS);
	sregs.ldt = (struct kvm_segment){ .type = 2, .present = 1, .limit = 0xffff };

	struct kvm_segment data = gdt_segment(gdt, GDT_DATA);
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;

	if (protocol == X86_BOOT_PVH) {
		/* PVH: flat 32-bit protected mode, paging off, EBX = start_info. */
		sregs.cs = gdt_segment(gdt, GDT_CODE32);
		sregs.cr0 = CR0_PE | CR0_ET | CR0_NE;
		sregs.cr4 = 0;
		sregs.efer = 0;
		regs.rbx = ARCH_PVH_INFO_ADDR;
	} else {
		/* 64-bit boot protocol: long mode, identity paging, RSI = boot_params. */
		sregs.cs = gdt_segment(gdt, GDT_CODE64);
		sregs.cr0 = CR0_PE | CR0_ET | CR0_NE | CR0_PG;
		sregs.cr3 = ARCH_PML4_ADDR;
		sregs.cr4 = CR4_PAE;
		sregs.efer = EFER_LME | EFER_LMA;
		regs.rsi = ARCH_ZERO_PAGE_ADDR;
	}
	if (ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		return ember_fail(err, errno, "KVM_SET_SREGS: %s", strerror(errno));
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return ember_fail(err, errno, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

int arch_vcpu_init(struct vcpu_kvm *vcpu, const struct boot_info *boot, struct ember_err *err)
{
	int rc;

	if ((rc = set_cpuid(vcpu, err)))
		return rc;
	set_boot_msrs(vcpu);
	if ((rc = set_lapic_lints(vcpu, err)) || (rc = set_fpu(vcpu, err)))
		return rc;
	/* Application processors wait for INIT/SIPI in the in-kernel LAPIC. */
	if (vcpu->id == 0)
		return set_entry_state(vcpu, boot, vcpu->vm->kernel.protocol, err);
	return 0;
}

/* ---- emulation of instructions KVM hands back ------------------------- */

/* Emulated accesses outside RAM go to the MMIO bus, as KVM_EXIT_MMIO would. */
static int mmio_access(struct machine *m, uint64_t gpa, void *buf, size_t len, bool is_write)
{
	if (len > 8)
		return -EFAULT;
	bus_access(&m->mmio, gpa, buf, (unsigned)len, is_write);
	return 0;
}

static int mem_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	struct machine *m = ctx;
	if (guest_read(&m->mem, gpa, buf, len) == 0)
		return 0;
	return mmio_access(m, gpa, buf, len, false);
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	struct machine *m = ctx;
	if (guest_write(&m->mem, gpa, buf, len) == 0)
		return 0;
	uint8_t copy[8];
	if (len > sizeof(copy))
		return -EFAULT;
	memcpy(copy, buf, len);
	return mmio_access(m, gpa, copy, len, true);
}

static int mem_cmpxchg(void *ctx, uint64_t gpa, void *expected, const void *desired, size_t len,
		       bool *swapped)
{
	struct machine *m = ctx;
	void *hva = guest_ptr(&m->mem, gpa, len);
	if (!hva)
		return -EFAULT;
	return emu_host_cmpxchg(hva, expected, desired, len, swapped);
}

/* Emulated IN/OUT (string forms) go to the port bus, as KVM_EXIT_IO would. */
static int port_access(void *ctx, uint16_t port, void *data, unsigned size, bool is_write)
{
	struct machine *m = ctx;
	bus_access(&m->pio, port, data, size, is_write);
	return 0;
}

static const struct emu_mem_ops guest_mem_ops = {
	.pio = port_access,
	.read_phys = mem_read,
	.write_phys = mem_write,
	.cmpxchg_phys = mem_cmpxchg,
};

static void cpu_from_kvm(struct emu_cpu *cpu, const struct kvm_regs *r, const struct kvm_sregs *s)
{
	const uint64_t gpr[16] = { r->rax, r->rcx, r->rdx, r->rbx, r->rsp, r->rbp, r->rsi, r->rdi,
				   r->r8, r->r9, r->r10, r->r11, r->r12, r->r13, r->r14, r->r15 };
	memset(cpu, 0, sizeof(*cpu));
	memcpy(cpu->gpr, gpr, sizeof(gpr));
	cpu->rip = r->rip;
	cpu->rflags = r->rflags;
	cpu->cr0 = s->cr0;
	cpu->cr2 = s->cr2;
	cpu->cr3 = s->cr3;
	cpu->cr4 = s->cr4;
	cpu->efer = s->efer;
	cpu->seg_base[EMU_SEG_ES] = s->es.base;
	cpu->seg_base[EMU_SEG_CS] = s->cs.base;
	cpu->seg_base[EMU_SEG_SS] = s->ss.base;
	cpu->seg_base[EMU_SEG_DS] = s->ds.base;
	cpu->seg_base[EMU_SEG_FS] = s->fs.base;
	cpu->seg_base[EMU_SEG_GS] = s->gs.base;
	cpu->cs_l = s->cs.l;
	cpu->cs_db = s->cs.db;
	cpu->ss_db = s->ss.db;
	cpu->cpl = s->ss.dpl;
}

static void cpu_to_kvm(const struct emu_cpu *cpu, struct kvm_regs *r)
{
	__u64 *dst[16] = { &r->rax, &r->rcx, &r->rdx, &r->rbx, &r->rsp, &r->rbp, &r->rsi,
			      &r->rdi, &r->r8, &r->r9, &r->r10, &r->r11, &r->r12, &r->r13,
			      &r->r14, &r->r15 };
	for (int i = 0; i < 16; i++)
		*dst[i] = cpu->gpr[i];
	r->rip = cpu->rip;
	r->rflags = cpu->rflags;
}

static int inject_exception(struct vcpu_kvm *vcpu, const struct emu_exception *exc,
			    struct kvm_sregs *sregs)
{
	struct kvm_vcpu_events ev;

	if (exc->has_cr2) {
		sregs->cr2 = exc->cr2;
		if (ioctl(vcpu->fd, KVM_SET_SREGS, sregs) < 0)
			return -errno;
	}
	if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) < 0)
		return -errno;
	ev.exception.injected = 1;
	ev.exception.nr = exc->vector;
	ev.exception.has_error_code = exc->has_error_code;
	ev.exception.error_code = exc->error_code;
	ev.flags = 0;
	return ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev) < 0 ? -errno : 0;
}

static int emulate(struct vcpu_kvm *vcpu, struct ember_err *err)
{
	struct kvm_run *run = vcpu->run;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct emu_cpu cpu;
	struct emu_insn insn;
	struct emu_result res;
	const uint8_t *bytes = NULL;
	size_t nbytes = 0;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		return ember_fail(err, errno, "vCPU %u: reading registers: %s", vcpu->id, strerror(errno));
	cpu_from_kvm(&cpu, &regs, &sregs);
	if (run->emulation_failure.ndata >= 2 &&
	    (run->emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		bytes = run->emulation_failure.insn_bytes;
		nbytes = run->emulation_failure.insn_size;
		if (nbytes > sizeof(run->emulation_failure.insn_bytes))
			nbytes = sizeof(run->emulation_failure.insn_bytes);
	}

	/* kvm_pvm: a clac at the page-fault entry may be a broken syscall. */
	if (vcpu->vm->pvm && nbytes >= 3 && bytes[0] == 0x0f && bytes[1] == 0x01 &&
	    bytes[2] == 0xca) {
		int rc = pvm_fixup_syscall(vcpu, &regs, &sregs, &cpu, &guest_mem_ops, vcpu->vm->machine);
		if (rc < 0)
			return ember_fail(err, -rc, "vCPU %u: syscall fix-up failed: %s", vcpu->id,
					  strerror(-rc));
		if (rc > 0)
			return 0;
	}

	int rc = emu_step(&cpu, bytes, nbytes, &guest_mem_ops, vcpu->vm->machine, &insn, &res);
	if (rc < 0)
		return ember_fail(err, -rc, "vCPU %u: emulating at rip %#llx: %s", vcpu->id,
				  (unsigned long long)regs.rip, strerror(-rc));
	if (res.status == EMU_UNSUPPORTED) {
		char hex[64];
		emu_insn_format(&insn, hex, sizeof(hex));
		return ember_fail(err, ENOTSUP,
				  "vCPU %u: KVM could not run instruction %s at rip %#llx and ember cannot emulate it",
				  vcpu->id, hex, (unsigned long long)regs.rip);
	}
	cpu_to_kvm(&cpu, &regs);
	if (ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		return ember_fail(err, errno, "vCPU %u: KVM_SET_REGS: %s", vcpu->id, strerror(errno));
	if (res.status == EMU_EXCEPTION && (rc = inject_exception(vcpu, &res.exc, &sregs)) < 0)
		return ember_fail(err, -rc, "vCPU %u: injecting exception %u: %s", vcpu->id,
				  res.exc.vector, strerror(-rc));
	vcpu->arch.emulated++;
	return 0;
}

int arch_vcpu_handle_exit(struct vcpu_kvm *vcpu, struct ember_err *err)
{
	struct kvm_run *run = vcpu->run;

	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR &&
	    run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		return emulate(vcpu, err);
	if (run->exit_reason == KVM_EXIT_INTERNAL_ERROR)
		return ember_fail(err, EIO, "vCPU %u: KVM internal error, suberror %u", vcpu->id,
				  run->internal.suberror);
	return ember_fail(err, EIO, "vCPU %u: unexpected KVM exit reason %u", vcpu->id,
			  run->exit_reason);
}

void arch_vcpu_describe(struct vcpu_kvm *vcpu, char *buf, size_t size)
{
	struct kvm_regs regs;

	if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0)
		snprintf(buf, size, "at rip %#llx", (unsigned long long)regs.rip);
	else
		snprintf(buf, size, "(registers unreadable: %s)", strerror(errno));
}
