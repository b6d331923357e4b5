/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio device and its virtio-mmio transport in and out of a snapshot
 * (virtio/snapshot.c).  The device's own state beyond the rings goes
 * through its ops->save/ops->restore.
 */
#ifndef EMBER_VIRTIO_SNAPSHOT_H
#define EMBER_VIRTIO_SNAPSHOT_H

#include "virtio/mmio.h"
#include "vm/snapshot_file.h"

/* Section tags 0x200-0x2ff are virtio's; the index is the device's slot. */
#define SNAP_VIRTIO_DEVICE  0x200
#define SNAP_VIRTIO_PRIVATE 0x201 /* for ops->save: the device's own state */

/*
 * Saves t's device: the VM paused and dev->lock held (virtio_devices_lock),
 * so that neither a vCPU nor the device's own thread changes it meanwhile.
 */
int virtio_mmio_save(struct virtio_mmio *t, unsigned slot, struct snapshot_writer *w,
		     struct ember_err *err);
/*
 * Into a freshly attached device of the same kind: the driver's setup,
 * each ready queue checked like a QueueReady write and resumed at its
 * saved ring positions.  Before the device's threads start.
 */
int virtio_mmio_restore(struct virtio_mmio *t, unsigned slot, const struct snapshot_reader *r,
			struct ember_err *err);

#endif
