// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/pvm.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"

#define MSR_STAR         0xc0000081
#define MSR_LSTAR        0xc0000082
#define MSR_SYSCALL_MASK 0xc0000084
#define PF_USER_FETCH    (EMU_PF_U | EMU_PF_ID) /* kvm_pvm reports 0x15 */

bool pvm_host_detect(void)
{
	const char *force = getenv("EMBER_PVM");
	if (force && *force)
		return strcmp(force, "0") != 0;
	return access("/sys/module/kvm_pvm", F_OK) == 0;
}

/*
 * noxsave: xrstor is rejected.  clearcpuid=151,297,580: POPCNT, ERMS, FSRM
 * (CPUID changes to leaves 1 and 7 do not reach a kvm_pvm guest, so the
 * kernel must be told).  clocksource=kvm-clock: the guest TSC is the
 * host's and cannot be set, so a guest restored from a snapshot on the tsc
 * clocksource sees every second it spent on disk at once (jiffies jump,
 * RCU reports a stall and dumps stacks, seconds of console output at
 * ring-0 speed); kvm-clock is the value KVM_SET_CLOCK restores, and the
 * guest's time goes on from where it was saved.  GLIBC_TUNABLES (passed by
 * the kernel to init, which hands it on to every command): guest user space
 * runs natively here and sees the host CPU's AVX and AVX-512 through its own
 * CPUID and XGETBV, but with noxsave the guest kernel never saves those
 * registers and kvm_pvm does not keep them either: the upper halves of YMM
 * and the AVX-512 registers come back from a syscall, page fault or
 * interrupt with stale values (110 of 3000 syscalls in the probe recorded
 * in pvm-notes.md), and glibc's AVX2/EVEX memcpy and string functions
 * then corrupt data (a static binary's TLS copied as zeros: SIGSEGV in
 * pipelines).  Turning those ifuncs off leaves glibc on SSE2, whose
 * registers survive (pvm-notes.md, "AVX state on this host").  The rest
 * skip work that costs seconds when ring 0 runs at ~1 M instructions/s
 * (pvm-notes.md, "/init reached").
 */
const char pvm_guest_cmdline[] =
	"noxsave clearcpuid=151,297,580 noreplace-smp percpu_alloc=page tsc=reliable "
	"no_timer_check nokaslr mitigations=off random.trust_cpu=1 cryptomgr.notests nowatchdog "
	"clocksource=kvm-clock "
	"GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-AVX512F,-AVX512VL,-AVX512BW,-AVX512DQ,"
	"-AVX512CD,-AVX_Fast_Unaligned_Load";

static int read_syscall_msrs(struct vcpu_kvm *vcpu, uint64_t *star, uint64_t *lstar, uint64_t *mask)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[3];
	} m;
	memset(&m, 0, sizeof(m));
	m.hdr.nmsrs = 3;
	m.e[0].index = MSR_STAR;
	m.e[1].index = MSR_LSTAR;
	m.e[2].index = MSR_SYSCALL_MASK;
	if (ioctl(vcpu->fd, KVM_GET_MSRS, &m) != 3)
		return -EIO;
	*star = m.e[0].data;
	*lstar = m.e[1].data;
	*mask = m.e[2].data;
	return 0;
}

int pvm_fixup_syscall(struct vcpu_kvm *vcpu, struct kvm_regs *regs, struct kvm_sregs *sregs,
		      const struct emu_cpu *cpu, const struct emu_mem_ops *ops, void *ctx)
{
	/* Cheap test first: a syscall fault has CR2 == LSTAR. */
	if (vcpu->arch.lstar && sregs->cr2 != vcpu->arch.lstar)
		return 0;

	uint64_t star, lstar, sfmask;
	if (read_syscall_msrs(vcpu, &star, &lstar, &sfmask) < 0)
		return -EIO;
	vcpu->arch.lstar = lstar;
	if (!lstar || sregs->cr2 != lstar)
		return 0;

	/* The frame the CPU pushed: error code, RIP, CS, RFLAGS, RSP, SS. */
	uint64_t frame[6];
	struct emu_exception exc;
	if (emu_read_linear(cpu, ops, ctx, regs->rsp, frame, sizeof(frame), EMU_ACC_PEEK, &exc) < 0)
		return 0;
	if ((frame[0] & PF_USER_FETCH) != PF_USER_FETCH || frame[1] != lstar || (frame[2] & 3) != 3)
		return 0;

	/* What `syscall` does (SDM Vol. 2B, SYSCALL): RCX/R11 are already right. */
	uint16_t kernel_cs = (uint16_t)((star >> 32) & 0xfffc);
	sregs->cs = (struct kvm_segment){ .selector = kernel_cs, .limit = 0xffffffff, .type = 0xb,
					  .present = 1, .dpl = 0, .s = 1, .l = 1, .g = 1 };
	sregs->ss = (struct kvm_segment){ .selector = (uint16_t)(kernel_cs + 8), .limit = 0xffffffff,
					  .type = 0x3, .present = 1, .dpl = 0, .s = 1, .db = 1, .g = 1 };
	regs->rip = lstar;
	regs->rsp = frame[4]; /* entry_SYSCALL_64 saves the user RSP itself */
	regs->rflags = (regs->r11 & ~sfmask) | 0x2;
	if (ioctl(vcpu->fd, KVM_SET_SREGS, sregs) < 0 || ioctl(vcpu->fd, KVM_SET_REGS, regs) < 0)
		return -errno;
	vcpu->arch.syscall_fixups++;
	return 1;
}
