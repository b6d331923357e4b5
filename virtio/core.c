// SPDX-License-Identifier: GPL-2.0-only
/*
 * What every virtio device shares whatever its transport: the device
 * status rules (virtio 1.2 §2.1, §3.1.1), feature negotiation, queue
 * enabling, notifications and NEEDS_RESET, and the eventfds through which
 * KVM delivers kicks and interrupts.
 */
#include "virtio/virtio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm/machine.h"

/* Features of the ring itself, offered for every device on top of its own. */
#define RING_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
		       (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

uint64_t virtio_offered_features(const struct virtio_device *dev)
{
	return dev->features | RING_FEATURES;
}

bool virtio_is_live(const struct virtio_device *dev)
{
	const uint32_t want = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	return (dev->status & want) == want && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void raise_interrupt(struct virtio_device *dev, unsigned bit)
{
	atomic_fetch_or(&dev->interrupt_status, bit);
	if (dev->irq_fd >= 0 && eventfd_write(dev->irq_fd, 1) < 0) {
		/* counter saturated: an interrupt is pending anyway */
	}
}

void virtio_notify_used(struct virtio_device *dev, unsigned q)
{
	if (virtq_should_notify(&dev->vq[q]))
		raise_interrupt(dev, 1);
}

void virtio_notify_config(struct virtio_device *dev)
{
	dev->config_generation++;
	raise_interrupt(dev, 2);
}

void virtio_set_needs_reset(struct virtio_device *dev, const char *why)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (!dev->broken_logged) {
		dev->broken_logged = true;
		fprintf(stderr, "ember: %s%s%s: guest driver error (%s); device needs reset\r\n",
			dev->name, dev->where[0] ? " " : "", dev->where, why);
	}
	/* virtio 1.2 §2.1.2: tell the driver through a configuration change notification. */
	virtio_notify_config(dev);
}

void virtio_reset(struct virtio_device *dev)
{
	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vq[q]);
	dev->status = 0;
	dev->driver_features = 0;
	atomic_store(&dev->interrupt_status, 0);
}

/* FEATURES_OK only sticks when the driver's choice is acceptable (virtio 1.2 §3.1.1). */
static uint32_t check_features_ok(struct virtio_device *dev, uint32_t status)
{
	if (!(status & VIRTIO_STATUS_FEATURES_OK) || (dev->status & VIRTIO_STATUS_FEATURES_OK))
		return status;
	bool subset = (dev->driver_features & ~virtio_offered_features(dev)) == 0;
	if (!subset || !virtio_has_feature(dev, VIRTIO_F_VERSION_1))
		status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	return status;
}

void virtio_write_status(struct virtio_device *dev, uint32_t val)
{
	if (val == 0) {
		virtio_reset(dev);
		return;
	}
	val = check_features_ok(dev, val & 0xff);
	bool activating = (val & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_DRIVER_OK);
	/* NEEDS_RESET is the device's to set; the driver cannot clear it without a reset. */
	dev->status = val | (dev->status & VIRTIO_STATUS_NEEDS_RESET);
	if (activating && (dev->status & VIRTIO_STATUS_FEATURES_OK) && dev->ops->activate)
		dev->ops->activate(dev);
}

void virtio_enable_queue(struct virtio_device *dev, unsigned q)
{
	struct virtq *vq = &dev->vq[q];

	/* Ring features (EVENT_IDX, INDIRECT) are only final once FEATURES_OK stuck. */
	if (vq->ready || !(dev->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	int rc = virtq_start(vq, &dev->machine->mem, virtio_has_feature(dev, VIRTIO_RING_F_EVENT_IDX),
			     virtio_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC));
	if (rc) {
		virtio_set_needs_reset(dev, "queue rings outside guest memory or misaligned");
		return;
	}
	vq->ready = true;
}

void virtio_kick_queue(struct virtio_device *dev, unsigned q)
{
	if (dev->kick_fd[q] >= 0 && eventfd_write(dev->kick_fd[q], 1) < 0) {
		/* counter saturated: a kick is pending anyway */
	}
}

/* ---- attaching to a machine ----------------------------------------------------------- */

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;
	struct virtio_device *dev = k->dev;
	uint64_t count;

	(void)events;
	if (read(dev->kick_fd[k->queue], &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&dev->lock);
	if (virtio_is_live(dev) && dev->vq[k->queue].ready && dev->ops->queue_notify)
		dev->ops->queue_notify(dev, k->queue);
	pthread_mutex_unlock(&dev->lock);
}

int virtio_device_attach(struct virtio_device *dev, struct machine *m, struct ember_err *err)
{
	dev->machine = m;
	pthread_mutex_init(&dev->lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	dev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dev->irq_fd < 0)
		return ember_fail(err, errno, "%s: eventfd: %s", dev->name, strerror(errno));
	for (unsigned q = 0; q < dev->num_queues; q++) {
		dev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->kick_fd[q] < 0)
			return ember_fail(err, errno, "%s: eventfd: %s", dev->name, strerror(errno));
		dev->kick[q] = (struct virtio_kick){ dev, q };
		if (dev->queue_service[q] == VIRTIO_QUEUE_ON_LOOP &&
		    loop_add(&m->loop, dev->kick_fd[q], EPOLLIN, on_kick, &dev->kick[q]) < 0)
			return ember_fail(err, ENOSPC, "%s: too many event sources", dev->name);
	}
	return 0;
}

int virtio_device_start(struct virtio_device *dev, struct ember_err *err)
{
	return dev->ops->start ? dev->ops->start(dev, err) : 0;
}

void virtio_device_destroy(struct virtio_device *dev)
{
	int irq_fd = dev->irq_fd, kick[VIRTIO_MAX_QUEUES];
	bool attached = dev->machine != NULL;

	memcpy(kick, dev->kick_fd, sizeof(kick));
	if (dev->ops->destroy)
		dev->ops->destroy(dev); /* may free dev: use only the copies below */
	if (!attached)
		return;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (kick[q] >= 0)
			close(kick[q]);
	if (irq_fd >= 0)
		close(irq_fd);
}
