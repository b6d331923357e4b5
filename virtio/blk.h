/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-blk (virtio 1.2 §5.2) over a raw image file or host block device.
 * The public constructor is virtio_blk_create() in virtio/devices.h; this
 * header shows the device's insides so unit tests can drive it without
 * KVM: virtio_blk_init() + a hand-made queue + virtio_blk_process_queue().
 */
#ifndef EMBER_VIRTIO_BLK_H
#define EMBER_VIRTIO_BLK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/virtio.h"
#include "virtio/worker.h"
#include "vm/config.h"
#include "vm/error.h"

/* Feature bits (virtio 1.2 §5.2.3). */
#define VIRTIO_BLK_F_SIZE_MAX     1
#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_GEOMETRY     4
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_TOPOLOGY     10
#define VIRTIO_BLK_F_CONFIG_WCE   11
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

/* Request types (virtio 1.2 §5.2.6). */
#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_GET_LIFETIME 10
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13
#define VIRTIO_BLK_T_SECURE_ERASE 14

/* Status byte values. */
#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP 1u

#define VIRTIO_BLK_SECTOR_SIZE 512
#define VIRTIO_BLK_ID_BYTES    20
#define VIRTIO_BLK_QUEUE_SIZE  256

/* The request header the driver puts first in every chain (device-readable). */
struct virtio_blk_req_hdr {
	uint32_t type;
	uint32_t reserved;           /* ioprio in legacy drivers; ignored */
	uint64_t sector;
};

/* One discard / write-zeroes range (the data of those requests). */
struct virtio_blk_discard_write_zeroes {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;              /* bit 0: unmap */
};

/*
 * Device configuration space, virtio 1.2 §5.2.4, fields up to and
 * including write_zeroes_may_unmap (blk.c checks every offset).  Little
 * endian: ember runs on little-endian hosts only (see virtio/queue.c).
 */
struct virtio_blk_config {
	uint64_t capacity;           /* in 512-byte sectors */
	uint32_t size_max;
	uint32_t seg_max;
	struct {
		uint16_t cylinders;
		uint8_t heads;
		uint8_t sectors;
	} geometry;
	uint32_t blk_size;
	struct {
		uint8_t physical_block_exp;
		uint8_t alignment_offset;
		uint16_t min_io_size;
		uint32_t opt_io_size;
	} topology;
	uint8_t writeback;
	uint8_t unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors;
	uint32_t max_discard_seg;
	uint32_t discard_sector_alignment;
	uint32_t max_write_zeroes_sectors;
	uint32_t max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap;
	uint8_t unused1[3];
};

#define VIRTIO_BLK_CONFIG_SIZE 60 /* through unused1: no secure erase, no zoned fields */

struct virtio_blk {
	struct virtio_device dev;
	const char *path;            /* for messages */
	int fd;                      /* the image, O_RDONLY for ro disks */
	bool read_only;
	uint64_t capacity;           /* 512-byte sectors */
	char id[VIRTIO_BLK_ID_BYTES]; /* GET_ID answer, zero padded, not NUL terminated */
	struct virtio_blk_config config;

	struct virtio_worker worker; /* the I/O thread */

	/* Scratch for the request being handled (only under dev.lock). */
	struct virtq_chain chain;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

/*
 * Opens the image and fills blk (ops, config space, id); no thread, no
 * transport.  Errors are the user's: "--disk PATH: reason".  On failure
 * nothing is left open.
 */
int virtio_blk_init(struct virtio_blk *blk, const struct ember_disk *disk, struct ember_err *err);
/* Starts the I/O worker; dev.kick_fd[0] must exist (virtio_device_attach made it). */
int virtio_blk_start(struct virtio_blk *blk, struct ember_err *err);
/* Stops the worker (if any) and closes the fds; does not free blk. */
void virtio_blk_uninit(struct virtio_blk *blk);

/*
 * Handles every available request on queue 0, then notifies the driver
 * once.  Call with dev->lock held, with the device live and the queue
 * ready.  A malformed chain puts the device into NEEDS_RESET and stops.
 */
void virtio_blk_process_queue(struct virtio_device *dev);

/* A disk as a virtio device for the device list (it owns the result: virtio_device_destroy). */
int virtio_blk_new(const struct ember_disk *disk, struct virtio_device **out, struct ember_err *err);

#endif
