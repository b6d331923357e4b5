/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A virtio device as its device file sees it (kvmtool's shape, Firecracker's
 * separation).  Three layers, each knowing only the one below:
 *   device file (blk.c, console.c...)  what the device is (id, features,
 *                                      config, queues) and its requests;
 *   core (core.c)                      status and feature rules, queue
 *                                      enabling, notifications, NEEDS_RESET,
 *                                      kick and interrupt eventfds;
 *   transport (mmio.c)                 registers and addresses only.
 * A device constructor fills a struct virtio_device; the device list
 * (devices.c) attaches it to a transport.  No device knows an address.
 */
#ifndef EMBER_VIRTIO_VIRTIO_H
#define EMBER_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/queue.h"
#include "vm/error.h"

struct machine;
struct snapshot_writer;
struct snapshot_reader;

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

#define VIRTIO_MAX_QUEUES 16 /* a multiport console with 7 ports; worker bits 0-15 */

struct virtio_device;

/* How a queue's notifications are served. */
enum virtio_queue_service {
	/* The event loop calls ops->queue_notify on each kick: for requests that never block. */
	VIRTIO_QUEUE_ON_LOOP,
	/*
	 * The device's own thread waits on the kick fd (virtio/worker.h),
	 * together with any host fds the device watches there (a tap, a socket,
	 * an epoll set of sockets): for requests that block on host I/O.
	 */
	VIRTIO_QUEUE_ON_WORKER,
};

struct virtio_device_ops {
	/* Device config space access (offset + len <= config_size, checked by the transport). */
	void (*config_read)(struct virtio_device *dev, uint32_t offset, void *data, unsigned len);
	void (*config_write)(struct virtio_device *dev, uint32_t offset, const void *data,
			     unsigned len);
	/* A VIRTIO_QUEUE_ON_LOOP queue has new buffers: loop thread, dev->lock held. */
	void (*queue_notify)(struct virtio_device *dev, unsigned q);
	/* The driver set DRIVER_OK: the negotiated features are final (vCPU thread, lock held). */
	void (*activate)(struct virtio_device *dev);
	/* The driver reset the device: stop using the queues, forget requests in flight. */
	void (*reset)(struct virtio_device *dev);
	/*
	 * Starts the device's threads and host watches, once every device is
	 * attached and ember dropped its capabilities (so threads never hold
	 * them), before any vCPU runs.  Optional.
	 */
	int (*start)(struct virtio_device *dev, struct ember_err *err);
	/* Frees the device (its threads stopped first); the core closes its eventfds. */
	void (*destroy)(struct virtio_device *dev);
	/*
	 * Snapshots (virtio/snapshot.h), optional: the device's state beyond
	 * its rings, as section SNAP_VIRTIO_PRIVATE with index `slot`.  A device
	 * that cannot be saved in its current state (open 9p fids...) fails
	 * with a message saying why.
	 */
	int (*save)(struct virtio_device *dev, struct snapshot_writer *w, unsigned slot,
		    struct ember_err *err);
	int (*restore)(struct virtio_device *dev, const struct snapshot_reader *r, unsigned slot,
		       struct ember_err *err);
};

/* What a kick fd's loop handler needs to know. */
struct virtio_kick {
	struct virtio_device *dev;
	unsigned queue;
};

struct virtio_device {
	/* What the device is: filled by its constructor, fixed from then on. */
	const char *name;            /* "virtio-blk", for messages */
	uint32_t device_id;
	unsigned num_queues;
	uint16_t queue_max_size;     /* power of two, <= VIRTQ_MAX_SIZE */
	uint64_t features;           /* device-specific feature bits offered */
	uint32_t config_size;        /* bytes of device config space */
	enum virtio_queue_service queue_service[VIRTIO_MAX_QUEUES];
	const struct virtio_device_ops *ops;
	void *priv;                  /* the device model's state */

	/* Filled when attached (virtio_device_attach). */
	struct machine *machine;
	char where[32];              /* the transport's name for it in messages: "at 0xd0000000" */
	struct virtq vq[VIRTIO_MAX_QUEUES];
	int kick_fd[VIRTIO_MAX_QUEUES]; /* eventfd per queue, signalled by KVM on a notify */
	struct virtio_kick kick[VIRTIO_MAX_QUEUES];
	int irq_fd;                  /* eventfd KVM turns into the device's interrupt */

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
	bool broken_logged;
};

/* Whether the driver accepted feature `bit`. */
static inline bool virtio_has_feature(const struct virtio_device *dev, unsigned bit)
{
	return (dev->driver_features >> bit) & 1;
}

/* ---- the core (virtio/core.c) ---------------------------------------------------------- */

/* Device and ring features offered to the driver. */
uint64_t virtio_offered_features(const struct virtio_device *dev);
/* True while the driver has the device running (DRIVER_OK, not NEEDS_RESET). */
bool virtio_is_live(const struct virtio_device *dev);
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

/* Driver writes, whatever the transport (dev->lock held). */
void virtio_write_status(struct virtio_device *dev, uint32_t status);
/* QueueReady = 1: checks and maps the rings; NEEDS_RESET if they are bad. */
void virtio_enable_queue(struct virtio_device *dev, unsigned q);
/* Full device reset (status 0). */
void virtio_reset(struct virtio_device *dev);

/* Makes the server of queue q look at it as if the driver had kicked it (any thread). */
void virtio_kick_queue(struct virtio_device *dev, unsigned q);

/*
 * Gives the device its machine: the lock, an interrupt eventfd and one
 * kick eventfd per queue, the ON_LOOP kicks on the machine's event loop.
 * The transport then wires these to its addresses (ioeventfd, irqfd).
 * From here on virtio_device_destroy() frees the device, even on failure.
 */
int virtio_device_attach(struct virtio_device *dev, struct machine *m, struct ember_err *err);
int virtio_device_start(struct virtio_device *dev, struct ember_err *err);
/* ops->destroy, then the eventfds. */
void virtio_device_destroy(struct virtio_device *dev);

#endif
