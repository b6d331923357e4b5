// SPDX-License-Identifier: GPL-2.0-only
/*
 * A virtio device's state in a snapshot (vm/snapshot_file.h): what the
 * driver negotiated and set up (status, features, each queue's size,
 * ring addresses and our place in the rings, the pending interrupt
 * status), the transport's register selectors, and whatever the device
 * keeps beyond its rings (ops->save/restore).  Rings and buffers live in
 * guest RAM, which the snapshot carries: restoring the indices puts the
 * device exactly where the driver left it (virtio 1.2 §2.7: the driver
 * only sees used-ring updates, so they must continue from used_idx).
 *
 * Sections are packed structs with explicit padding, compared by size on
 * restore; the file header pins the ember version, so layouts need no
 * compatibility across versions.
 */
#include "virtio/snapshot.h"

#include <errno.h>
#include <string.h>

#include "vm/machine.h"

struct saved_queue {
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint16_t size;
	uint16_t last_avail, used_idx, signalled_used;
	uint8_t ready, signalled_valid, pad[6];
};

struct saved_device {
	uint32_t device_id;
	uint32_t num_queues;
	uint64_t driver_features;
	uint32_t status;
	uint32_t interrupt_status;
	uint32_t config_generation;
	uint32_t device_features_sel, driver_features_sel, queue_sel; /* virtio-mmio selectors */
	struct saved_queue q[VIRTIO_MAX_QUEUES];
};

int virtio_mmio_save(struct virtio_mmio *t, unsigned slot, struct snapshot_writer *w,
		     struct ember_err *err)
{
	struct virtio_device *dev = t->dev;
	struct saved_device s;

	memset(&s, 0, sizeof(s)); /* no uninitialised padding in the file */
	s.device_id = dev->device_id;
	s.num_queues = dev->num_queues;
	s.driver_features = dev->driver_features;
	s.status = dev->status;
	s.interrupt_status = atomic_load(&dev->interrupt_status);
	s.config_generation = dev->config_generation;
	s.device_features_sel = t->device_features_sel;
	s.driver_features_sel = t->driver_features_sel;
	s.queue_sel = t->queue_sel;
	for (unsigned q = 0; q < dev->num_queues; q++) {
		const struct virtq *vq = &dev->vq[q];
		s.q[q] = (struct saved_queue){
			.desc_gpa = vq->desc_gpa, .avail_gpa = vq->avail_gpa, .used_gpa = vq->used_gpa,
			.size = vq->size, .last_avail = vq->last_avail, .used_idx = vq->used_idx,
			.signalled_used = vq->signalled_used, .ready = vq->ready,
			.signalled_valid = vq->signalled_valid,
		};
	}
	int rc = snapshot_put(w, SNAP_VIRTIO_DEVICE, slot, &s, sizeof(s));
	if (rc)
		return ember_fail(err, -rc, "snapshot: state too large");
	if (dev->ops->save)
		return dev->ops->save(dev, w, slot, err);
	return 0;
}

int virtio_mmio_restore(struct virtio_mmio *t, unsigned slot, const struct snapshot_reader *r,
			struct ember_err *err)
{
	struct virtio_device *dev = t->dev;
	const struct snapshot_section *sec = snapshot_find(r, SNAP_VIRTIO_DEVICE, slot);
	struct saved_device s;

	if (!sec || sec->len != sizeof(s))
		return ember_fail(err, EINVAL, "snapshot: %s %s: state %s", dev->name, dev->where,
				  sec ? "has the wrong size" : "is missing");
	memcpy(&s, sec->data, sizeof(s));
	if (s.device_id != dev->device_id || s.num_queues != dev->num_queues)
		return ember_fail(err, EINVAL, "snapshot: slot %u held device %u with %u queues, not %s",
				  slot, s.device_id, s.num_queues, dev->name);
	if (s.driver_features & ~virtio_offered_features(dev))
		return ember_fail(err, EINVAL, "snapshot: %s: features this device does not offer",
				  dev->name);
	if (s.queue_sel > 0xffff || s.device_features_sel > 1 || s.driver_features_sel > 1)
		return ember_fail(err, EINVAL, "snapshot: %s: transport registers out of range", dev->name);

	pthread_mutex_lock(&dev->lock);
	int rc = 0;
	dev->driver_features = s.driver_features;
	dev->status = s.status & 0xff;
	dev->config_generation = s.config_generation;
	atomic_store(&dev->interrupt_status, s.interrupt_status & 3);
	t->device_features_sel = s.device_features_sel;
	t->driver_features_sel = s.driver_features_sel;
	t->queue_sel = s.queue_sel;
	for (unsigned q = 0; q < dev->num_queues && !rc; q++) {
		struct virtq *vq = &dev->vq[q];
		const struct saved_queue *sq = &s.q[q];
		virtq_reset(vq);
		vq->size = sq->size;
		vq->desc_gpa = sq->desc_gpa;
		vq->avail_gpa = sq->avail_gpa;
		vq->used_gpa = sq->used_gpa;
		if (!sq->ready)
			continue;
		/* The same checks as QueueReady = 1: sizes, alignment, rings inside RAM. */
		if (virtq_start(vq, &dev->machine->mem, virtio_has_feature(dev, VIRTIO_RING_F_EVENT_IDX),
				virtio_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC))) {
			rc = ember_fail(err, EINVAL, "snapshot: %s queue %u: rings outside guest memory",
					dev->name, q);
			break;
		}
		vq->last_avail = sq->last_avail;
		vq->used_idx = sq->used_idx;
		vq->signalled_used = sq->signalled_used;
		vq->signalled_valid = sq->signalled_valid;
		vq->ready = true;
	}
	pthread_mutex_unlock(&dev->lock);
	if (!rc && dev->ops->restore)
		rc = dev->ops->restore(dev, r, slot, err);
	/*
	 * A kick the old process took but had not served yet is gone with it:
	 * one replayed kick per ready queue makes whoever serves it look again.
	 */
	for (unsigned q = 0; !rc && q < dev->num_queues; q++)
		if (dev->vq[q].ready)
			virtio_kick_queue(dev, q);
	return rc;
}
