/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every virtio device does the same way, written once: serving a
 * queue (pop each chain, handle it, push it, notify once), and an I/O
 * thread for devices whose requests block (disk, shared directory), so
 * that no vCPU thread and not the event loop waits on host I/O.
 */
#ifndef EMBER_VIRTIO_WORKER_H
#define EMBER_VIRTIO_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"
#include "vm/error.h"

/*
 * Handles one chain: fills *used_len with the bytes written into it.
 * Returns 0, or -EINVAL with *why when the driver broke the protocol.
 */
typedef int (*virtio_chain_fn)(void *ctx, const struct virtq_chain *chain, uint32_t *used_len,
			       const char **why);

/*
 * Serves every chain queue q has, with dev->lock held.  A malformed chain
 * (from the ring or from handle) puts the device into NEEDS_RESET and ends
 * the batch; chains already handled are still returned and notified.
 */
void virtio_serve_queue(struct virtio_device *dev, unsigned q, struct virtq_chain *chain,
			virtio_chain_fn handle, void *ctx);

struct virtio_worker {
	struct virtio_device *dev;
	void (*serve)(struct virtio_device *dev); /* dev->lock held, device live, queue 0 ready */
	const char *flag;        /* "--disk": with subject, names the device in errors */
	const char *subject;     /* its image or directory */
	int wake_fd;             /* eventfd: activate and stop poke the thread */
	atomic_bool stopping;
	pthread_t thread;
	bool started;
};

/* Prepares w (its wake eventfd); the thread starts with virtio_worker_start. */
int virtio_worker_init(struct virtio_worker *w, struct virtio_device *dev,
		       void (*serve)(struct virtio_device *dev), const char *flag,
		       const char *subject, struct ember_err *err);
/* Starts the thread, which waits on dev->kick_fd[0] and the wake fd. */
int virtio_worker_start(struct virtio_worker *w, const char *thread_name, struct ember_err *err);
/* Makes the thread look at the queue now (after DRIVER_OK: kicks before it were dropped). */
void virtio_worker_wake(struct virtio_worker *w);
/* Stops and joins the thread, closes the wake fd; safe on a never-started worker. */
void virtio_worker_stop(struct virtio_worker *w);

#endif
