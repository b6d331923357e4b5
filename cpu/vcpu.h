/* SPDX-License-Identifier: GPL-2.0-only */
/* vCPU threads: the only place that calls KVM_RUN. */
#ifndef EMBER_CPU_VCPU_H
#define EMBER_CPU_VCPU_H

#include "vm/vm.h"

int vcpu_create(struct vm *vm, struct vcpu *vcpu, unsigned id, struct ember_err *err);
int vcpu_start(struct vcpu *vcpu, struct ember_err *err);
/* Makes a running vCPU leave KVM_RUN soon (any thread). */
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);
void vcpu_destroy(struct vcpu *vcpu);

/* Signal used for kicks; blocked everywhere except inside vCPU threads. */
#define VCPU_KICK_SIGNAL SIGUSR1

#endif
