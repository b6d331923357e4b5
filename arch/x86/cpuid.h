/* SPDX-License-Identifier: GPL-2.0-only */
/* Shaping what KVM_GET_SUPPORTED_CPUID offers into what one vCPU reports. */
#ifndef EMBER_ARCH_X86_CPUID_H
#define EMBER_ARCH_X86_CPUID_H

#include <linux/kvm.h>
#include <stdbool.h>

/*
 * Rewrites entries in place for vCPU `vcpu_id` of `nr_vcpus`: APIC IDs and
 * topology (one thread per core, all cores in one package), the hypervisor
 * bit, and on a kvm_pvm host the paravirt features whose hypercalls hang.
 */
void cpuid_filter(struct kvm_cpuid_entry2 *entries, unsigned nr, unsigned vcpu_id,
		  unsigned nr_vcpus, bool pvm);

/* KVM's paravirt feature bits in CPUID 0x40000001 EAX (Documentation/virt/kvm/x86/cpuid.rst). */
#define KVM_CPUID_FEATURES       0x40000001
#define KVM_FEATURE_PV_UNHALT_BIT       7
#define KVM_FEATURE_PV_SEND_IPI_BIT     11
#define KVM_FEATURE_PV_SCHED_YIELD_BIT  13

#endif
