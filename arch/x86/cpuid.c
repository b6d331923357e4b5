// SPDX-License-Identifier: GPL-2.0-only
/* Topology leaves follow the Intel SDM, Vol. 2A, CPUID leaves 01H, 04H, 0BH and 1FH. */
#include "arch/x86/cpuid.h"

#define LEAF1_ECX_HYPERVISOR (1u << 31)
#define LEAF1_EDX_HTT        (1u << 28)

/* Bits needed to number n things (the x2APIC ID shift for the core level). */
static unsigned order_base_2(unsigned n)
{
	unsigned bits = 0;
	while ((1u << bits) < n)
		bits++;
	return bits;
}

static void topology_leaf(struct kvm_cpuid_entry2 *e, unsigned vcpu_id, unsigned nr_vcpus)
{
	unsigned level = e->index;

	e->edx = vcpu_id; /* x2APIC ID */
	switch (level) {
	case 0: /* SMT level: one thread per core */
		e->eax = 0;
		e->ebx = 1;
		e->ecx = (1u << 8) | level;
		break;
	case 1: /* core level: every vCPU in one package */
		e->eax = order_base_2(nr_vcpus);
		e->ebx = nr_vcpus;
		e->ecx = (2u << 8) | level;
		break;
	default: /* invalid level terminates the enumeration */
		e->eax = 0;
		e->ebx = 0;
		e->ecx = level;
		break;
	}
}

void cpuid_filter(struct kvm_cpuid_entry2 *entries, unsigned nr, unsigned vcpu_id,
		  unsigned nr_vcpus, bool pvm)
{
	for (unsigned i = 0; i < nr; i++) {
		struct kvm_cpuid_entry2 *e = &entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (vcpu_id << 24) | ((nr_vcpus & 0xff) << 16);
			e->ecx |= LEAF1_ECX_HYPERVISOR;
			if (nr_vcpus > 1)
				e->edx |= LEAF1_EDX_HTT;
			else
				e->edx &= ~LEAF1_EDX_HTT;
			break;
		case 4:
			/* EAX[31:26]: cores per package - 1; EAX[25:14]: threads sharing the cache - 1. */
			e->eax &= 0x3fff;
			e->eax |= ((nr_vcpus - 1) & 0x3f) << 26;
			break;
		case 0xb:
		case 0x1f:
			topology_leaf(e, vcpu_id, nr_vcpus);
			break;
		case KVM_CPUID_FEATURES:
			/*
			 * On kvm_pvm, vmcall/vmmcall never return: drop every
			 * paravirt feature that is used through a hypercall.
			 */
			if (pvm)
				e->eax &= ~((1u << KVM_FEATURE_PV_UNHALT_BIT) |
					    (1u << KVM_FEATURE_PV_SEND_IPI_BIT) |
					    (1u << KVM_FEATURE_PV_SCHED_YIELD_BIT));
			break;
		default:
			break;
		}
	}
}
