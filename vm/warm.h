/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Warm start: `ember run` restores a guest that already booted instead of
 * booting one.  The first run of a guest shape boots cold and snapshots
 * the guest when its init says HELLO on the command channel (before any
 * command ran); later runs of the same shape restore that snapshot and
 * send their command.  The cache lives in $XDG_CACHE_HOME/ember/warm
 * (~/.cache/ember/warm), one snapshot directory (vm/snapshot_dir.h) per
 * shape, named by a hash of the shape's key.
 *
 * The shape is what the booted guest depends on: ember's version and
 * binary (a rebuilt ember may save devices or build the command line
 * differently), the host (arch_host_identity, kernel release), the kernel and initrd files
 * (device, inode, size, times: a rebuilt kernel is another shape), memory,
 * vCPUs, console, kernel command line, and the kinds and counts of disks
 * and shares.  The key leaves out what a later run may change without a
 * new boot but must still fit: disk sizes (the guest read them at boot).
 * The whole shape is saved in the snapshot and compared on restore; a
 * misfit means a cold boot, and that boot's snapshot replaces the old one.
 */
#ifndef EMBER_VM_WARM_H
#define EMBER_VM_WARM_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "vm/config.h"
#include "vm/error.h"
#include "vm/snapshot_file.h"

/* Snapshot section with the shape text (vm's own tags are 0x001-0x0ff). */
#define SNAP_VM_SHAPE 0x001

struct warm_shape {
	char key[4096];          /* the part that names the cache entry */
	char full[8192];         /* key, then what must fit as well */
	char dir[PATH_MAX];      /* the cache entry: <cache>/<hash of key> */
};

/* The cache's directory: $XDG_CACHE_HOME/ember/warm or ~/.cache/ember/warm; -1 without either. */
int warm_cache_root(char *buf, size_t size);
/* The shape cfg asks for; -1 (no warm start) when there is no cache directory. */
int warm_shape_describe(struct warm_shape *ws, const struct ember_config *cfg);
/* Adds the shape to a snapshot being written. */
int warm_shape_put(const struct warm_shape *ws, struct snapshot_writer *w);
/* Whether the snapshot's saved shape is this one; otherwise `why` names the first difference. */
bool warm_shape_fits(const struct warm_shape *ws, const struct snapshot_reader *r, char *why,
		     size_t size);
/* `ember cache prune`: removes every warm snapshot (and leftovers of interrupted ones). */
int warm_prune(unsigned *removed, struct ember_err *err);

#endif
