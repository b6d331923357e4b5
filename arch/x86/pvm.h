/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one place for a software-KVM (kvm_pvm) host: detection and its
 * workarounds.  Hardware KVM hosts never enter these paths.  The facts
 * behind each workaround are in shared/pvm-notes.md.
 */
#ifndef EMBER_ARCH_X86_PVM_H
#define EMBER_ARCH_X86_PVM_H

#include <linux/kvm.h>
#include <stdbool.h>

#include "arch/x86/emulate/emulate.h"
#include "vm/error.h"

struct vcpu_kvm;

/* True on a kvm_pvm host; EMBER_PVM=0/1 in the environment overrides detection. */
bool pvm_host_detect(void);

/*
 * Guest command-line words a kvm_pvm host needs: hide the instructions
 * its emulator rejects (xsave/xrstor, popcnt, rep-string fast paths) and
 * skip code paths that are very slow when ring 0 is interpreted.
 */
extern const char pvm_guest_cmdline[];

/*
 * kvm_pvm's `syscall` from guest ring 3 reaches LSTAR still in ring 3 and
 * page-faults on the fetch.  Every exception entry starts with `clac`,
 * which kvm_pvm hands to us: when that exit is the page-fault entry for
 * exactly this fault, rewrite the vCPU into the state a real syscall
 * produces.  Returns 1 if it did, 0 if this clac is an ordinary one,
 * -errno on failure.
 */
int pvm_fixup_syscall(struct vcpu_kvm *vcpu, struct kvm_regs *regs, struct kvm_sregs *sregs,
		      const struct emu_cpu *cpu, const struct emu_mem_ops *ops, void *ctx);

#endif
