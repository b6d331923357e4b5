/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio device as its device file sees it (kvmtool's shape, Firecracker's
 * separation): the device implements struct virtio_device_ops and knows
 * nothing of MMIO addresses; the transport (mmio.c) owns registers, feature
 * negotiation, status, queue setup, ioeventfds and the interrupt.
 */
#ifndef EMBER_VIRTIO_VIRTIO_H
#define EMBER_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/queue.h"
#include "vm/error.h"

struct vm;

/* Device status bits (virtio 1.2 §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* Reserved feature bits (virtio 1.2 §6). */
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* Device IDs (virtio 1.2 §5). */
#define VIRTIO_ID_NET     1
#define VIRTIO_ID_BLOCK   2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG     4
#define VIRTIO_ID_9P      9
#define VIRTIO_ID_VSOCK   19

#define VIRTIO_MAX_QUEUES 8

struct virtio_device;

struct virtio_device_ops {
	const char *name;            /* "virtio-blk", for messages */
	uint32_t device_id;
	unsigned num_queues;
	uint16_t queue_max_size;     /* power of two, <= VIRTQ_MAX_SIZE */
	uint64_t features;           /* device-specific feature bits offered */
	uint32_t config_size;        /* bytes of device config space */
	/* Device config space access (offset < config_size, checked by the transport). */
	void (*config_read)(struct virtio_device *dev, uint32_t offset, void *data, unsigned len);
	void (*config_write)(struct virtio_device *dev, uint32_t offset, const void *data,
			     unsigned len);
	/*
	 * Queue `q` has new buffers.  Runs on the event-loop thread with
	 * dev->lock held (devices with own_thread watch dev->kick_fd[q] themselves
	 * and take the lock around their own processing).
	 */
	void (*queue_notify)(struct virtio_device *dev, unsigned q);
	/* The driver set DRIVER_OK: the negotiated features are final. */
	void (*activate)(struct virtio_device *dev);
	/* The driver reset the device: stop using the queues, forget requests in flight. */
	void (*reset)(struct virtio_device *dev);
	/*
	 * Starts the device's own threads, once every device exists and ember
	 * dropped its capabilities (so threads never hold them).  Optional.
	 */
	int (*start)(struct virtio_device *dev, struct ember_err *err);
	/* Frees the device (its threads stopped first); the transport closes its fds. */
	void (*destroy)(struct virtio_device *dev);
	bool own_thread;             /* device reads its kick fds itself */
};

struct virtio_device {
	const struct virtio_device_ops *ops;
	void *priv;                  /* the device model's state */
	struct vm *vm;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES]; /* ioeventfd per queue, written by KVM on QueueNotify */

	/*
	 * Device state shared by vCPU threads (register writes) and whoever
	 * processes queues: held while a queue is processed and while the
	 * transport changes status or queue setup.
	 */
	pthread_mutex_t lock;
	uint32_t status;
	uint64_t driver_features;
	atomic_uint interrupt_status; /* bit 0: used buffer, bit 1: config change */
	uint32_t config_generation;
	int irq_fd;                  /* irqfd for the device's GSI */
	uint32_t gsi;
	uint64_t mmio_base;
	bool broken_logged;
};

/* Whether the driver accepted feature `bit`. */
static inline bool virtio_has_feature(const struct virtio_device *dev, unsigned bit)
{
	return (dev->driver_features >> bit) & 1;
}

/* Device -> driver: new used buffers in queue q (honours EVENT_IDX / NO_INTERRUPT). */
void virtio_notify_used(struct virtio_device *dev, unsigned q);
/* Device -> driver: config space changed. */
void virtio_notify_config(struct virtio_device *dev);
/*
 * The driver broke the protocol (bad descriptor chain): set NEEDS_RESET
 * and tell it (virtio 1.2 §2.1.2); logged once per device.  Call with
 * dev->lock held.
 */
void virtio_set_needs_reset(struct virtio_device *dev, const char *why);
/* True while the driver has the device running (DRIVER_OK, not NEEDS_RESET). */
bool virtio_is_live(const struct virtio_device *dev);

#endif
