/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-9p: a host directory shared with the guest.  Device ID 9 ("9P
 * transport", virtio 1.2 §5); the spec has no section for it, so the
 * config layout and feature bit follow Linux's include/uapi/linux/
 * virtio_9p.h and net/9p/trans_virtio.c.  The guest mounts it with
 *   mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 TAG DIR
 * The 9P2000.L server itself is virtio/p9_server.[ch] (no virtio in it);
 * this is the glue: config space (the mount tag), the request queue and
 * the I/O thread.  The public constructor is virtio_9p_create(); the rest
 * is here so unit tests can drive the device without KVM, as with blk.h.
 */
#ifndef EMBER_VIRTIO_9P_H
#define EMBER_VIRTIO_9P_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/p9_server.h"
#include "virtio/virtio.h"
#include "virtio/worker.h"
#include "vm/error.h"

#define VIRTIO_9P_MOUNT_TAG   0   /* feature bit: the config space holds a mount tag */
#define VIRTIO_9P_TAG_MAX     255 /* bytes; the guest mounts by this name */
#define VIRTIO_9P_QUEUE_SIZE  256 /* a 512 KiB zero-copy read is 129 descriptors or more */

struct p9_share {
	const char *host_dir;
	const char *tag;             /* mount tag the guest names ("share0") */
	bool read_only;
	enum p9_own own;             /* whose files the guest sees (p9_server.h) */
	const char *flag;            /* for messages: "--share" (NULL) or "--rootfs" */
};

struct virtio_9p {
	struct virtio_device dev;
	const char *host_dir;        /* for messages */
	struct p9_server srv;
	uint8_t config[2 + VIRTIO_9P_TAG_MAX]; /* le16 tag_len, then the tag (no NUL) */

	/* Private copies of one request and its reply: the guest cannot change them under us. */
	uint8_t *req, *rep;          /* P9_MAX_MSIZE bytes each */
	struct virtq_chain chain;

	struct virtio_worker worker; /* the I/O thread */
};

/* A 9p device serving share->host_dir, for the device list (virtio_device_destroy frees it). */
int virtio_9p_new(const struct p9_share *share, struct virtio_device **out, struct ember_err *err);

/* Opens the share and fills v (ops, config); no thread, no transport. */
int virtio_9p_init(struct virtio_9p *v, const struct p9_share *share, struct ember_err *err);
/* Starts the I/O thread; dev.kick_fd[0] must exist (virtio_device_attach made it). */
int virtio_9p_start(struct virtio_9p *v, struct ember_err *err);
/* Stops the thread (if any), closes every fd and frees the buffers; does not free v. */
void virtio_9p_uninit(struct virtio_9p *v);
/*
 * Answers every available request on queue 0, then notifies the driver
 * once.  Call with dev->lock held, the device live and the queue ready.
 */
void virtio_9p_process_queue(struct virtio_device *dev);

#endif
