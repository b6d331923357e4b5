// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/queue.h"

#include <errno.h>
#include <string.h>

/* Ring layouts (virtio 1.2 §2.7.6, §2.7.8): all little-endian, x86 hosts only. */
static size_t avail_bytes(uint16_t size) { return 6 + 2 * (size_t)size; }
static size_t used_bytes(uint16_t size) { return 6 + 8 * (size_t)size; }

int virtq_start(struct virtq *q, const struct guest_memory *mem, bool event_idx, bool indirect)
{
	if (q->size == 0 || q->size > VIRTQ_MAX_SIZE || (q->size & (q->size - 1)))
		return -EINVAL;
	/* Alignment (virtio 1.2 §2.7): descriptors 16, avail 2, used 4. */
	if ((q->desc_gpa & 15) || (q->avail_gpa & 1) || (q->used_gpa & 3))
		return -EINVAL;
	void *desc = guest_ptr(mem, q->desc_gpa, 16 * (uint64_t)q->size);
	void *avail = guest_ptr(mem, q->avail_gpa, avail_bytes(q->size));
	void *used = guest_ptr(mem, q->used_gpa, used_bytes(q->size));
	if (!desc || !avail || !used)
		return -EFAULT;
	q->mem = mem;
	q->desc = desc;
	q->avail = avail;
	q->used = used;
	q->event_idx = event_idx;
	q->indirect = indirect;
	q->last_avail = 0;
	q->used_idx = 0;
	q->signalled_valid = false;
	return 0;
}

void virtq_reset(struct virtq *q)
{
	memset(q, 0, sizeof(*q));
}

static uint16_t load_acquire16(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

/*
 * One descriptor, copied once: the guest may change it while we look.  An
 * indirect table need only be 8-byte aligned in practice (Linux's SLOB
 * hands out such tables), so copy bytes rather than dereference.
 */
static struct virtq_desc read_desc(const uint8_t *table, uint16_t i)
{
	struct virtq_desc d;
	memcpy(&d, table + (size_t)i * sizeof(d), sizeof(d));
	__atomic_signal_fence(__ATOMIC_SEQ_CST); /* one copy, not re-reads */
	return d;
}

static int malformed(const char **why, const char *reason)
{
	if (why)
		*why = reason;
	return -EINVAL;
}

int virtq_pop(struct virtq *q, struct virtq_chain *c, const char **why)
{
	uint16_t avail_idx = load_acquire16(&q->avail[1]);

	if (avail_idx == q->last_avail) {
		if (!q->event_idx)
			return 0;
		/*
		 * Ask for a kick at the next index, then look again: a buffer the
		 * driver added before it could see our avail_event would otherwise
		 * wait for a kick that never comes (virtio 1.2 §2.7.10).
		 */
		__atomic_store_n(&q->used[2 + 4 * q->size], q->last_avail, __ATOMIC_RELEASE);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = load_acquire16(&q->avail[1]);
		if (avail_idx == q->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return malformed(why, "available index moved by more than the queue size");

	uint16_t head = q->avail[2 + q->last_avail % q->size];
	if (head >= q->size)
		return malformed(why, "available ring names a descriptor past the queue size");
	q->last_avail++;
	if (q->event_idx) /* avail_event: wake us when the driver passes this index */
		__atomic_store_n(&q->used[2 + 4 * q->size], q->last_avail, __ATOMIC_RELEASE);

	const uint8_t *table = (const uint8_t *)q->desc;
	uint16_t limit = q->size, i = head;
	bool in_indirect = false, seen_writable = false;

	c->head = head;
	c->n = 0;
	c->readable = c->writable = 0;
	for (;;) {
		struct virtq_desc d = read_desc(table, i);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* virtio 1.2 §2.7.5.3.1: not nested, not combined with NEXT. */
			if (!q->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT))
				return malformed(why, "indirect descriptor not allowed here");
			if (d.len == 0 || d.len % sizeof(struct virtq_desc) ||
			    d.len / sizeof(struct virtq_desc) > q->size)
				return malformed(why, "indirect table has a bad length");
			table = guest_ptr(q->mem, d.addr, d.len);
			if (!table)
				return malformed(why, "indirect table outside guest memory");
			limit = (uint16_t)(d.len / sizeof(struct virtq_desc));
			in_indirect = true;
			i = 0;
			continue;
		}
		if (c->n == q->size)
			return malformed(why, "descriptor chain longer than the queue (a loop?)");
		uint8_t *host = guest_ptr(q->mem, d.addr, d.len);
		if (!host)
			return malformed(why, "descriptor points outside guest memory");
		bool writes = d.flags & VIRTQ_DESC_F_WRITE;
		if (!writes && seen_writable)
			return malformed(why, "device-readable descriptor after a writable one");
		seen_writable |= writes;
		c->buf[c->n++] = (struct virtq_buf){ host, d.len, writes };
		if (writes)
			c->writable += d.len;
		else
			c->readable += d.len;

		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 1;
		if (d.next >= limit)
			return malformed(why, "next descriptor index past the table");
		i = d.next;
	}
}

void virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
	volatile struct virtq_used_elem *ring = (volatile struct virtq_used_elem *)(q->used + 2);
	uint16_t slot = q->used_idx % q->size;

	ring[slot].id = head;
	ring[slot].len = written;
	q->used_idx++;
	/* The element must be visible before the index that publishes it. */
	__atomic_store_n(&q->used[1], q->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtq *q)
{
	/* Order our used->idx store before reading the driver's suppression state. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!q->event_idx)
		return !(q->avail[0] & VIRTQ_AVAIL_F_NO_INTERRUPT);

	uint16_t old = q->signalled_used, now = q->used_idx;
	bool valid = q->signalled_valid;
	q->signalled_used = now;
	q->signalled_valid = true;
	if (!valid)
		return true;
	uint16_t used_event = q->avail[2 + q->size];
	/* vring_need_event(): did the index pass used_event since the last notification? */
	return (uint16_t)(now - used_event - 1) < (uint16_t)(now - old);
}

static size_t chain_copy(const struct virtq_chain *c, bool writable, uint64_t offset,
			 uint8_t *mem, size_t len, bool to_guest)
{
	size_t done = 0;

	for (unsigned i = 0; i < c->n && done < len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		if (b->device_writes != writable)
			continue;
		if (offset >= b->len) {
			offset -= b->len;
			continue;
		}
		size_t n = b->len - offset;
		if (n > len - done)
			n = len - done;
		if (to_guest)
			memcpy(b->host + offset, mem + done, n);
		else
			memcpy(mem + done, b->host + offset, n);
		done += n;
		offset = 0;
	}
	return done;
}

size_t virtq_chain_read(const struct virtq_chain *c, uint64_t offset, void *dst, size_t len)
{
	return chain_copy(c, false, offset, dst, len, false);
}

size_t virtq_chain_write(const struct virtq_chain *c, uint64_t offset, const void *src, size_t len)
{
	return chain_copy(c, true, offset, (uint8_t *)src, len, true);
}

void virtq_rewind(struct virtq *q, uint16_t mark)
{
	q->last_avail = mark;
}

unsigned virtq_chain_iov(const struct virtq_chain *c, bool writable, uint64_t skip, uint64_t len,
			 struct iovec *iov)
{
	unsigned n = 0;

	for (unsigned i = 0; i < c->n && len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		if (b->device_writes != writable)
			continue;
		if (skip >= b->len) {
			skip -= b->len;
			continue;
		}
		uint64_t take = b->len - skip;
		if (take > len)
			take = len;
		iov[n++] = (struct iovec){ b->host + skip, (size_t)take };
		len -= take;
		skip = 0;
	}
	return n;
}
