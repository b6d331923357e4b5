/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Split virtqueue (virtio 1.2 §2.7), written once for every device.  The
 * guest is hostile: every descriptor is copied before it is checked, every
 * address and length goes through vm/memory.c, a chain is at most as long
 * as the queue (so loops end), and a malformed chain is reported, never
 * followed.
 */
#ifndef EMBER_VIRTIO_QUEUE_H
#define EMBER_VIRTIO_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vm/memory.h"

#define VIRTQ_MAX_SIZE 256

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq {
	/* Set by the driver through the transport. */
	uint16_t size;
	bool ready;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* Derived when the queue goes live (virtq_start). */
	const struct guest_memory *mem;
	volatile struct virtq_desc *desc;
	volatile uint16_t *avail;  /* flags, idx, ring[size], used_event */
	volatile uint16_t *used;   /* flags, idx, then elems; avail_event after them */
	bool event_idx;            /* VIRTIO_RING_F_EVENT_IDX negotiated */
	bool indirect;             /* VIRTIO_RING_F_INDIRECT_DESC negotiated */

	uint16_t last_avail;       /* next avail ring entry to take */
	uint16_t used_idx;         /* our copy of used->idx */
	uint16_t signalled_used;   /* used->idx when the driver was last notified */
	bool signalled_valid;
};

/* One buffer of a chain: guest range and its (checked) host mapping. */
struct virtq_buf {
	uint8_t *host;
	uint32_t len;
	bool device_writes;        /* VIRTQ_DESC_F_WRITE */
};

struct virtq_chain {
	uint16_t head;             /* what goes back in the used ring */
	unsigned n;
	uint64_t readable, writable; /* total bytes the device may read / write */
	struct virtq_buf buf[VIRTQ_MAX_SIZE];
};

/* Checks the ring addresses and maps them; -EFAULT if any part lies outside RAM. */
int virtq_start(struct virtq *q, const struct guest_memory *mem, bool event_idx, bool indirect);
/* Back to the state before the driver set it up (device reset). */
void virtq_reset(struct virtq *q);

/*
 * Takes the next available chain.  Returns 1 and fills *chain, 0 when the
 * ring is empty, -EINVAL when the driver wrote a malformed chain or ring
 * (the caller puts the device into NEEDS_RESET).  *why gets a reason.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *chain, const char **why);

/*
 * Gives back every chain popped since q->last_avail was `mark`, none of
 * them pushed yet: they are the device's until used (virtio 1.2 §2.7), so
 * taking them again later is invisible to the driver.  For a device that
 * needs several chains for one request and finds the ring short midway.
 */
void virtq_rewind(struct virtq *q, uint16_t mark);

/* Returns a chain to the driver with `written` bytes written into it. */
void virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* After pushes: must the driver be interrupted (EVENT_IDX / NO_INTERRUPT)? */
bool virtq_should_notify(struct virtq *q);

/* Copy out of the device-readable part / into the device-writable part,
 * starting `offset` bytes into that part.  Return bytes copied. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len);

/*
 * Points iov at up to `len` bytes of the chain's device-readable part (or,
 * with `writable`, its device-writable part), starting `skip` bytes into
 * it, for preadv/writev on guest memory without a copy.  Returns the
 * number of iovecs filled: at most c->n, so VIRTQ_MAX_SIZE entries suffice.
 */
unsigned virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t skip, uint64_t len,
			 struct iovec *iov);

#endif
