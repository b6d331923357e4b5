/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The syscall filter (libseccomp): once the VM is set up, ember's threads
 * only move bytes between the guest, KVM and files they already hold, so
 * everything else is refused.  A guest that finds a bug in a device model
 * then cannot make ember open sockets, execute programs or create files
 * outside a share.
 */
#ifndef EMBER_VM_SANDBOX_H
#define EMBER_VM_SANDBOX_H

#include "vm/error.h"

/*
 * Installs the filter on every thread of the process (TSYNC).  A refused
 * call raises SIGSYS, whose handler prints the call's number and exits
 * with 125.  Call after the last thread and file were created.
 */
int sandbox_apply(struct ember_err *err);

#endif
