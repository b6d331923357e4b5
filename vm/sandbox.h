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

#include <stdbool.h>

#include "vm/error.h"

/*
 * Drops every capability (and empties the bounding set) when ember runs
 * privileged, before any thread exists so that none inherits them.  With
 * shared directories it keeps the few that file operations on the share
 * need as the user running ember (root reads and writes others' files).
 * Unprivileged ember has nothing to drop.
 */
int sandbox_drop_capabilities(bool keep_file_access, struct ember_err *err);

/* A directory tree ember's threads may still reach by name once the VM runs. */
struct sandbox_path {
	int fd;                  /* the tree's top (O_PATH is enough) */
	bool writable;           /* create, write, rename, remove below it; else read only */
};

/*
 * Confines file access by path to these trees (Landlock, Linux 5.13+,
 * unprivileged), on every thread started after it and the calling one:
 * call before the first thread starts.  The syscall filter allows *at()
 * calls relative to held descriptors (the 9p server's, snapshot writing's),
 * but Linux ignores the descriptor for an absolute path, so without this
 * a subverted ember could name any path its user may open.  Where the
 * kernel has no Landlock, returns 0 and *confined is false.
 */
int sandbox_restrict_paths(const struct sandbox_path *paths, unsigned nr, bool *confined,
			   struct ember_err *err);

/*
 * Installs the filter on every thread of the process (TSYNC).  A refused
 * call raises SIGSYS, whose handler prints the call's number and exits
 * with 125.  Call after the last thread and file were created.  extra_ioctls
 * are request numbers the arch needs (arch_sandbox_ioctls()).
 */
int sandbox_apply(const unsigned long *extra_ioctls, unsigned nr_extra, struct ember_err *err);

#endif
