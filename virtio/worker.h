/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What every virtio device does the same way, written once: serving a
 * queue (pop each chain, handle it, push it, notify once), and an I/O
 * thread for devices whose requests block (disk, shared directory) or
 * whose back end is a host fd of its own (a tap, sockets), so that no vCPU
 * thread and not the event loop waits on host I/O.  The thread waits on
 * the kick fd of every VIRTIO_QUEUE_ON_WORKER queue of its device, its
 * wake fd, and the extra fds the device asked it to watch.
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

#define VIRTIO_WORKER_MAX_EXTRA 4

/* Bits of the `pending` mask the serve callback gets. */
#define VIRTIO_WORKER_QUEUE(q)    (1u << (q))        /* queue q was kicked (or woken) */
#define VIRTIO_WORKER_EXTRA(i)    (1u << (16 + (i))) /* extra fd i is readable */

/*
 * Serves what is pending, with dev->lock held.  Kick bits are set only
 * for queues that are ready and only while the device is live; extra-fd
 * bits come whatever the device's state (the device checks it).
 */
typedef void (*virtio_worker_fn)(struct virtio_device *dev, uint32_t pending);

struct virtio_worker {
	struct virtio_device *dev;
	virtio_worker_fn serve;
	const char *flag;        /* "--disk": with subject, names the device in errors */
	const char *subject;     /* its image or directory */
	int wake_fd;             /* eventfd: activate and stop poke the thread */
	int extra_fd[VIRTIO_WORKER_MAX_EXTRA];
	atomic_bool extra_off[VIRTIO_WORKER_MAX_EXTRA]; /* not watched for now */
	unsigned nr_extra;
	atomic_bool stopping;
	pthread_t thread;
	char name[16];           /* the thread's name ("ember-blk"), set by the thread itself */
	bool started;
};

/* Prepares w (its wake eventfd); the thread starts with virtio_worker_start. */
int virtio_worker_init(struct virtio_worker *w, struct virtio_device *dev, virtio_worker_fn serve,
		       const char *flag, const char *subject, struct ember_err *err);
/* Before start: also wake for `fd` readable (pending bit VIRTIO_WORKER_EXTRA(i), i in order). */
int virtio_worker_watch(struct virtio_worker *w, int fd);
/*
 * Stops or resumes watching extra fd i (any thread; takes effect at the
 * thread's next wait): a level-triggered fd the device cannot consume for
 * now (input while the guest has no buffers) would otherwise spin it.
 */
void virtio_worker_watch_enable(struct virtio_worker *w, unsigned i, bool on);
/* Starts the thread, which waits on the device's worker-served kick fds, the wake fd, the extras. */
int virtio_worker_start(struct virtio_worker *w, const char *thread_name, struct ember_err *err);
/* Makes the thread look at every ready queue now (after DRIVER_OK: kicks before it were dropped). */
void virtio_worker_wake(struct virtio_worker *w);
/* Stops and joins the thread, closes the wake fd; safe on a never-started worker. */
void virtio_worker_stop(struct virtio_worker *w);

#endif
