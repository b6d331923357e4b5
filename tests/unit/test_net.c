// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/net.c driven like a guest driver drives it, without KVM: a fake
 * VM with guest memory, the rx and tx split virtqueues laid out by hand in
 * it, and a fake back end over a SOCK_SEQPACKET socketpair (one frame per
 * message, readable when a frame waits) that records what the device sends.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/mmio.h"
#include "virtio/net.h"
#include "virtio/snapshot.h"
#include "vm/machine.h"

#define MiB (1ULL << 20)
#define QSIZE 16
#define HDR VIRTIO_NET_HDR_SIZE

/* Guest-physical layout of the fake VM: rx rings, tx rings, then buffers. */
#define RX_DESC  0x1000
#define RX_AVAIL 0x2000
#define RX_USED  0x3000
#define TX_DESC  0x4000
#define TX_AVAIL 0x5000
#define TX_USED  0x6000
#define HEAP_GPA 0x10000
#define MEM_SIZE (8 * MiB)

#define F(bit) (1ULL << (bit))

static const uint8_t test_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- the fake back end --------------------------------------------------------------- */

struct fake_be {
	struct net_backend be;
	int peer;                   /* the test's end: frames written here are the host's */
	unsigned recv_calls, sends, set_offload_calls;
	int send_rc;                /* what send returns (0: takes the frame) */
	ssize_t recv_rc;            /* when nonzero, what recv returns instead of reading */
	unsigned offloads;
	bool closed;
	uint8_t sent[VIRTIO_NET_MAX_BUF + 16];
	size_t sent_len;
	unsigned sent_iovs;
	const void *sent_base[4];   /* where the first iovecs pointed */
};

static int fake_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct fake_be *fb = be->priv;
	size_t len = 0;

	if (fb->send_rc)
		return fb->send_rc;
	for (unsigned i = 0; i < n; i++) {
		assert_true(len + iov[i].iov_len <= sizeof(fb->sent));
		memcpy(fb->sent + len, iov[i].iov_base, iov[i].iov_len);
		len += iov[i].iov_len;
		if (i < 4)
			fb->sent_base[i] = iov[i].iov_base;
	}
	fb->sent_len = len;
	fb->sent_iovs = n;
	fb->sends++;
	return 0;
}

static ssize_t fake_recv(struct net_backend *be, void *buf, size_t size)
{
	struct fake_be *fb = be->priv;

	fb->recv_calls++;
	assert_true(size >= VIRTIO_NET_MAX_BUF);
	if (fb->recv_rc)
		return fb->recv_rc;
	ssize_t r = recv(be->fd, buf, size, MSG_DONTWAIT);
	return r < 0 ? -errno : r;
}

static int fake_set_offload(struct net_backend *be, unsigned offloads)
{
	struct fake_be *fb = be->priv;
	fb->set_offload_calls++;
	fb->offloads = offloads;
	return 0;
}

static void fake_close(struct net_backend *be)
{
	struct fake_be *fb = be->priv;
	assert_false(fb->closed);
	fb->closed = true;
	close(be->fd);
	close(fb->peer);
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send,
	.recv = fake_recv,
	.set_offload = fake_set_offload,
	.close = fake_close,
};

/* Without offloads a back end may have no set_offload at all. */
static const struct net_backend_ops fake_plain_ops = {
	.send = fake_send,
	.recv = fake_recv,
	.close = fake_close,
};

static struct fake_be *fake_new(bool offloads)
{
	struct fake_be *fb = calloc(1, sizeof(*fb));
	int sv[2];

	assert_non_null(fb);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	fb->be = (struct net_backend){ .ops = offloads ? &fake_ops : &fake_plain_ops, .fd = sv[0],
				       .offloads = offloads, .priv = fb };
	snprintf(fb->be.what, sizeof(fb->be.what), "fake");
	fb->peer = sv[1];
	return fb;
}

/* ---- the fake VM and driver ----------------------------------------------------------- */

struct ring {
	uint64_t desc, avail, used;
	uint16_t avail_idx, next_desc;
};

struct fx {
	struct machine vm;
	struct fake_be *fb;
	struct virtio_net *n;
	struct virtio_device *dev;
	struct ring ring[2];        /* VIRTIO_NET_RXQ, VIRTIO_NET_TXQ */
	uint64_t heap;
	uint64_t spare_gpa;         /* rx_roundtrip's buffer, still posted after a drop */
	uint16_t spare_head;
	bool spare;
};

/* One buffer of a chain the test builds. */
struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static void *gptr(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&f->vm.mem, gpa, len);
	assert_non_null(p);
	return p;
}

static uint64_t galloc(struct fx *f, uint32_t len)
{
	uint64_t gpa = f->heap;
	f->heap = (f->heap + len + 15) & ~15ULL;
	assert_true(f->heap < MEM_SIZE);
	memset(gptr(f, gpa, len), 0xcc, len); /* stale bytes, so "written by the device" means something */
	return gpa;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 8));
}

static void start_queue(struct fx *f, unsigned q, bool event_idx)
{
	struct virtq *vq = &f->dev->vq[q];
	vq->size = QSIZE;
	vq->desc_gpa = f->ring[q].desc;
	vq->avail_gpa = f->ring[q].avail;
	vq->used_gpa = f->ring[q].used;
	assert_int_equal(virtq_start(vq, &f->vm.mem, event_idx, true), 0);
	vq->ready = true;
}

/*
 * The device over a fresh fake back end, with the driver having accepted
 * `features` (VERSION_1 added) and set DRIVER_OK: both queues live and
 * activate() run, as the transport would.
 */
static struct fx *fx_new_ev(bool offloads, uint64_t features, bool event_idx)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ember_err err = { "" };
	assert_non_null(f);

	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	if (guest_memory_create(&f->vm.mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
	f->fb = fake_new(offloads);
	f->n = malloc(sizeof(*f->n));
	assert_non_null(f->n);
	if (virtio_net_init(f->n, &f->fb->be, test_mac, &err))
		fail_msg("virtio_net_init: %s", err.msg);

	struct virtio_device *dev = &f->n->dev;
	f->dev = dev;
	dev->machine = &f->vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	f->ring[VIRTIO_NET_RXQ] = (struct ring){ RX_DESC, RX_AVAIL, RX_USED, 0, 0 };
	f->ring[VIRTIO_NET_TXQ] = (struct ring){ TX_DESC, TX_AVAIL, TX_USED, 0, 0 };
	f->heap = HEAP_GPA;

	assert_int_equal(features & ~virtio_offered_features(dev), 0); /* a driver can only accept these */
	dev->driver_features = features | F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_INDIRECT_DESC) |
			       (event_idx ? F(VIRTIO_RING_F_EVENT_IDX) : 0);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK;
	start_queue(f, VIRTIO_NET_RXQ, event_idx);
	start_queue(f, VIRTIO_NET_TXQ, event_idx);
	pthread_mutex_lock(&dev->lock);
	dev->status |= VIRTIO_STATUS_DRIVER_OK;
	dev->ops->activate(dev);
	pthread_mutex_unlock(&dev->lock);
	return f;
}

static struct fx *fx_new(bool offloads, uint64_t features)
{
	return fx_new_ev(offloads, features, false);
}

static void fx_free(struct fx *f)
{
	/* What virtio_device_destroy does: ops->destroy stops the worker, closes the back end, frees n. */
	f->dev->ops->destroy(f->dev);
	assert_true(f->fb->closed);
	free(f->fb);
	guest_memory_destroy(&f->vm.mem);
	free(f);
}

/* Writes a chain into queue q's descriptor table and makes it available; returns its head. */
static uint16_t submit(struct fx *f, unsigned q, const struct seg *segs, unsigned n)
{
	struct ring *r = &f->ring[q];
	volatile struct virtq_desc *table = gptr(f, r->desc, 16 * QSIZE);
	uint16_t head = r->next_desc;

	assert_true(n <= QSIZE);
	for (unsigned i = 0; i < n; i++) {
		uint16_t d = (uint16_t)((head + i) % QSIZE);
		table[d].addr = segs[i].gpa;
		table[d].len = segs[i].len;
		table[d].flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		table[d].next = (uint16_t)((d + 1) % QSIZE);
	}
	r->next_desc = (uint16_t)((head + n) % QSIZE);
	uint16_t *avail = gptr(f, r->avail, 6 + 2 * QSIZE);
	avail[2 + r->avail_idx % QSIZE] = head;
	r->avail_idx++;
	__atomic_store_n(&avail[1], r->avail_idx, __ATOMIC_RELEASE);
	return head;
}

/* A receive buffer: one writable descriptor of `len` bytes; returns its gpa. */
static uint64_t post_rx(struct fx *f, uint32_t len)
{
	uint64_t gpa = galloc(f, len);
	struct seg s = { gpa, len, true };
	submit(f, VIRTIO_NET_RXQ, &s, 1);
	return gpa;
}

static void serve(struct fx *f, uint32_t pending)
{
	pthread_mutex_lock(&f->dev->lock);
	virtio_net_serve(f->dev, pending);
	pthread_mutex_unlock(&f->dev->lock);
}

#define KICK_RX VIRTIO_WORKER_QUEUE(VIRTIO_NET_RXQ)
#define KICK_TX VIRTIO_WORKER_QUEUE(VIRTIO_NET_TXQ)
#define BE_READY VIRTIO_WORKER_EXTRA(VIRTIO_NET_WATCH_BE)

static uint16_t used_idx(struct fx *f, unsigned q)
{
	uint16_t *used = gptr(f, f->ring[q].used, 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(struct fx *f, unsigned q, uint16_t i)
{
	struct virtq_used_elem *ring = gptr(f, f->ring[q].used + 4, 8 * QSIZE);
	return ring[i % QSIZE];
}

/* The device watches the back end's fd (the worker's extra fd 0 is switched on). */
static bool watching(struct fx *f)
{
	return !atomic_load(&f->n->worker.extra_off[VIRTIO_NET_WATCH_BE]);
}

/* The host side puts a frame (header + payload) on the back end. */
static void host_send(struct fx *f, const struct virtio_net_hdr_v1 *h, const uint8_t *payload,
		      size_t len)
{
	static uint8_t buf[VIRTIO_NET_MAX_BUF];
	assert_true(HDR + len <= sizeof(buf));
	memcpy(buf, h, HDR);
	memcpy(buf + HDR, payload, len);
	assert_int_equal(send(f->fb->peer, buf, HDR + len, 0), (ssize_t)(HDR + len));
}

/* A header any driver takes (no flags, no GSO); num_buffers stale, as a tap leaves it. */
static struct virtio_net_hdr_v1 rx_hdr(void)
{
	return (struct virtio_net_hdr_v1){ .hdr_len = 54, .csum_start = 34, .csum_offset = 16,
					   .num_buffers = 0xbeef };
}

/* ---- config space and features ---------------------------------------------------- */

static uint32_t reg_read(struct virtio_mmio *t, uint32_t off)
{
	uint32_t v = 0;
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void reg_write(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, true);
}

static uint64_t device_features(struct virtio_mmio *t)
{
	reg_write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = reg_read(t, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)reg_read(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void cfg_read(struct virtio_mmio *t, uint32_t off, void *buf, unsigned len)
{
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG + off, buf, len, false);
}

#define OFFLOAD_FEATURES (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | \
			  F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) | \
			  F(VIRTIO_NET_F_GUEST_ECN) | F(VIRTIO_NET_F_HOST_TSO4) | \
			  F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_HOST_ECN))

static void config_space_and_features(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MAC));
	struct virtio_mmio t;
	virtio_mmio_init(&t, f->dev);

	assert_int_equal(reg_read(&t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_NET);
	reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_NET_RXQ);
	assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
	reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, VIRTIO_NET_TXQ);
	assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), VIRTIO_NET_QUEUE_SIZE);
	reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* no control queue */

	/* Without offloads: MAC, STATUS, MRG_RXBUF and the ring's own; nothing checksum or GSO. */
	uint64_t feat = device_features(&t);
	uint64_t want = F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS) | F(VIRTIO_NET_F_MRG_RXBUF) |
			F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX) |
			F(VIRTIO_RING_F_INDIRECT_DESC);
	assert_int_equal(feat, want);

	/* mac at 0, status at 6 (LINK_UP), nothing past 8 (no max_virtqueue_pairs, no mtu). */
	uint8_t mac[6] = { 0 };
	cfg_read(&t, 0, mac, 6);
	assert_memory_equal(mac, test_mac, 6);
	uint16_t status = 0;
	cfg_read(&t, 6, &status, 2);
	assert_int_equal(status, VIRTIO_NET_S_LINK_UP);
	uint8_t one = 0;
	cfg_read(&t, 3, &one, 1);
	assert_int_equal(one, test_mac[3]); /* byte accesses too */
	uint32_t past = 0xffffffff;
	cfg_read(&t, 8, &past, 2);
	assert_int_equal(past & 0xffff, 0);

	/* Config writes are ignored: the MAC stays. */
	uint8_t other[6] = { 1, 2, 3, 4, 5, 6 };
	virtio_mmio_access(&t, VIRTIO_MMIO_CONFIG, other, 6, true);
	cfg_read(&t, 0, mac, 6);
	assert_memory_equal(mac, test_mac, 6);
	fx_free(f);

	/* With offloads: exactly the eight checksum/TSO/ECN bits more; no UFO, MTU, MQ or CTRL_VQ. */
	f = fx_new(true, F(VIRTIO_NET_F_MAC));
	virtio_mmio_init(&t, f->dev);
	feat = device_features(&t);
	assert_int_equal(feat, want | OFFLOAD_FEATURES);
	assert_false(feat & F(VIRTIO_NET_F_GUEST_UFO));
	assert_false(feat & F(VIRTIO_NET_F_HOST_UFO));
	assert_false(feat & F(VIRTIO_NET_F_MTU));
	fx_free(f);
}

/* ---- offloads ---------------------------------------------------------------------------- */

static void offloads_follow_guest_features(void **state)
{
	(void)state;
	static const struct {
		uint64_t features;
		unsigned want;
	} cases[] = {
		{ 0, 0 },
		{ F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4), 0 }, /* host side: not the back end's rx */
		{ F(VIRTIO_NET_F_GUEST_CSUM), NET_OFFLOAD_CSUM },
		{ F(VIRTIO_NET_F_GUEST_TSO4), 0 },                       /* TSO without CSUM */
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6),
		  NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO6 },
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_ECN), NET_OFFLOAD_CSUM }, /* ECN without TSO */
		{ F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_ECN),
		  NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_ECN },
		{ OFFLOAD_FEATURES,
		  NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6 | NET_OFFLOAD_ECN },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fx *f = fx_new(true, cases[i].features);
		/* activate() told the back end once, with what the driver accepted. */
		assert_int_equal(f->fb->set_offload_calls, 1);
		if (f->fb->offloads != cases[i].want)
			fail_msg("case %zu: offloads 0x%x, want 0x%x", i, f->fb->offloads, cases[i].want);
		assert_int_equal(virtio_net_offloads(f->dev), cases[i].want);
		fx_free(f);
	}

	/* A back end without offloads and without set_offload: activate is fine. */
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	assert_int_equal(f->fb->set_offload_calls, 0);
	assert_true(watching(f));
	fx_free(f);
}

/* ---- tx ------------------------------------------------------------------------------------- */

static void tx_split_frame_arrives_intact(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4));
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
				       .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 66,
				       .gso_size = 1448, .csum_start = 34, .csum_offset = 16 };
	uint8_t payload[1501], want[HDR + sizeof(payload)];
	pattern(payload, sizeof(payload), 1);
	memcpy(want, &h, HDR);
	memcpy(want + HDR, payload, sizeof(payload));

	/* Header split 5 + 7, the second descriptor carrying 100 payload bytes too. */
	uint64_t a = galloc(f, 5), b = galloc(f, 7 + 100), c = galloc(f, 1401);
	memcpy(gptr(f, a, 5), want, 5);
	memcpy(gptr(f, b, 107), want + 5, 107);
	memcpy(gptr(f, c, 1401), want + 112, 1401);
	struct seg segs[3] = { { a, 5, false }, { b, 107, false }, { c, 1401, false } };
	uint16_t head = submit(f, VIRTIO_NET_TXQ, segs, 3);
	serve(f, KICK_TX);

	assert_int_equal(f->fb->sends, 1);
	assert_int_equal(f->fb->sent_len, sizeof(want));
	assert_memory_equal(f->fb->sent, want, sizeof(want));
	/* Not copied: after the header, the iovecs point into guest memory. */
	assert_int_equal(f->fb->sent_iovs, 3);
	assert_ptr_equal(f->fb->sent_base[1], gptr(f, b + 7, 100));
	assert_ptr_equal(f->fb->sent_base[2], gptr(f, c, 1401));

	assert_int_equal(used_idx(f, VIRTIO_NET_TXQ), 1);
	assert_int_equal(used_elem(f, VIRTIO_NET_TXQ, 0).id, head);
	assert_int_equal(used_elem(f, VIRTIO_NET_TXQ, 0).len, 0);
	assert_int_equal(f->n->stats.tx_frames, 1);
	assert_int_equal(f->n->stats.tx_bytes, sizeof(payload));
	assert_int_equal(f->n->stats.tx_dropped, 0);
	assert_true(atomic_load(&f->dev->interrupt_status) & 1);
	fx_free(f);
}

static void tx_batch_and_header_hygiene(void **state)
{
	(void)state;
	/* No offloads negotiated: stray flag bits are not passed on, num_buffers is zeroed. */
	struct fx *f = fx_new(false, 0);
	uint8_t frame[HDR + 60];
	pattern(frame, sizeof(frame), 2);
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 7 };
	memcpy(frame, &h, HDR);
	for (unsigned i = 0; i < 3; i++) {
		uint64_t g = galloc(f, sizeof(frame));
		memcpy(gptr(f, g, sizeof(frame)), frame, sizeof(frame));
		struct seg s = { g, sizeof(frame), false };
		submit(f, VIRTIO_NET_TXQ, &s, 1);
	}
	serve(f, KICK_TX);
	assert_int_equal(f->fb->sends, 3);
	assert_int_equal(used_idx(f, VIRTIO_NET_TXQ), 3);
	struct virtio_net_hdr_v1 got;
	memcpy(&got, f->fb->sent, HDR);
	assert_int_equal(got.flags, 0);
	assert_int_equal(got.num_buffers, 0);
	assert_memory_equal(f->fb->sent + HDR, frame + HDR, 60);
	assert_int_equal(f->n->stats.tx_frames, 3);
	fx_free(f);
}

/* Submits one tx chain; asserts it came back unused and nothing was sent. */
static void expect_tx_dropped(struct fx *f, const struct seg *segs, unsigned n)
{
	uint16_t before = used_idx(f, VIRTIO_NET_TXQ);
	unsigned sends = f->fb->sends;
	uint64_t dropped = f->n->stats.tx_dropped;
	uint16_t head = submit(f, VIRTIO_NET_TXQ, segs, n);

	serve(f, KICK_TX);
	assert_int_equal(used_idx(f, VIRTIO_NET_TXQ), (uint16_t)(before + 1));
	assert_int_equal(used_elem(f, VIRTIO_NET_TXQ, before).id, head);
	assert_int_equal(used_elem(f, VIRTIO_NET_TXQ, before).len, 0);
	assert_int_equal(f->fb->sends, sends);
	assert_int_equal(f->n->stats.tx_dropped, dropped + 1);
	assert_true(virtio_is_live(f->dev)); /* one bad frame, not a broken device */
}

static void tx_bad_chains_are_dropped(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_CSUM));

	/* Shorter than the header. */
	uint64_t small = galloc(f, 8);
	struct seg short_hdr[1] = { { small, 8, false } };
	expect_tx_dropped(f, short_hdr, 1);

	/* A device-writable buffer in a tx chain. */
	uint64_t frame = galloc(f, HDR + 64), wr = galloc(f, 64);
	memset(gptr(f, frame, HDR), 0, HDR);
	struct seg with_writable[2] = { { frame, HDR + 64, false }, { wr, 64, true } };
	expect_tx_dropped(f, with_writable, 2);
	assert_int_equal(*(uint8_t *)gptr(f, wr, 1), 0xcc); /* and nothing written there */

	/* One byte more than the largest frame (two descriptors so each is plausible). */
	uint64_t big = galloc(f, VIRTIO_NET_MAX_BUF + 1);
	memset(gptr(f, big, HDR), 0, HDR);
	struct seg too_big[2] = { { big, 40000, false },
				  { big + 40000, VIRTIO_NET_MAX_BUF + 1 - 40000, false } };
	expect_tx_dropped(f, too_big, 2);

	/* A header asking for TSO the driver did not negotiate (HOST_TSO4). */
	struct virtio_net_hdr_v1 gso = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					 .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448 };
	memcpy(gptr(f, frame, HDR), &gso, HDR);
	struct seg tso[1] = { { frame, HDR + 64, false } };
	expect_tx_dropped(f, tso, 1);
	/* UFO is never offered. */
	gso.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	memcpy(gptr(f, frame, HDR), &gso, HDR);
	expect_tx_dropped(f, tso, 1);

	/* The back end cannot take it now: lost, as on a wire, and returned. */
	memset(gptr(f, frame, HDR), 0, HDR);
	f->fb->send_rc = -EAGAIN;
	expect_tx_dropped(f, tso, 1);
	f->fb->send_rc = 0;

	/* The largest frame exactly is fine, and the device still sends. */
	struct seg max[2] = { { big, 40000, false }, { big + 40000, VIRTIO_NET_MAX_BUF - 40000, false } };
	submit(f, VIRTIO_NET_TXQ, max, 2);
	serve(f, KICK_TX);
	assert_int_equal(f->fb->sends, 1);
	assert_int_equal(f->fb->sent_len, VIRTIO_NET_MAX_BUF);
	assert_int_equal(f->n->stats.tx_dropped, 6);
	assert_int_equal(f->n->stats.tx_frames, 1);
	fx_free(f);
}

/* ---- rx --------------------------------------------------------------------------------- */

static void rx_mergeable_spans_three_chains(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM));
	uint8_t payload[2500];
	pattern(payload, sizeof(payload), 3);
	struct virtio_net_hdr_v1 h = rx_hdr();
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM; /* a CHECKSUM_PARTIAL TCP frame from a tap */

	/* Three chains of 1000 bytes; the second is two descriptors (600 + 400). */
	uint64_t b0 = post_rx(f, 1000);
	uint64_t b1 = galloc(f, 600), b1b = galloc(f, 400);
	struct seg two[2] = { { b1, 600, true }, { b1b, 400, true } };
	submit(f, VIRTIO_NET_RXQ, two, 2);
	uint64_t b2 = post_rx(f, 1000);
	uint64_t b3 = post_rx(f, 1000); /* a fourth, not needed */

	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);

	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 3);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).id, 0);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).len, 1000);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 1).id, 1);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 1).len, 1000);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 2).id, 3);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 2).len, HDR + 2500 - 2000);

	struct virtio_net_hdr_v1 got;
	memcpy(&got, gptr(f, b0, HDR), HDR);
	assert_int_equal(got.num_buffers, 3);
	h.num_buffers = 3;
	assert_memory_equal(&got, &h, HDR); /* the rest of the back end's header, as it was */

	uint8_t all[HDR + 2500];
	memcpy(all, gptr(f, b0, 1000), 1000);
	memcpy(all + 1000, gptr(f, b1, 600), 600);
	memcpy(all + 1600, gptr(f, b1b, 400), 400);
	memcpy(all + 2000, gptr(f, b2, HDR + 500), HDR + 500);
	assert_memory_equal(all + HDR, payload, sizeof(payload));
	assert_int_equal(*(uint8_t *)gptr(f, b2 + HDR + 500, 1), 0xcc); /* not one byte more */
	assert_int_equal(*(uint8_t *)gptr(f, b3, 1), 0xcc);
	assert_int_equal(f->n->stats.rx_frames, 1);
	assert_int_equal(f->n->stats.rx_bytes, 2500);
	assert_true(atomic_load(&f->dev->interrupt_status) & 1);
	assert_true(watching(f));
	fx_free(f);
}

static void rx_mergeable_gso_frame(void **state)
{
	(void)state;
	/* The largest frame (a 64 KiB GSO frame) over 16 chains of 4200 bytes: the whole ring. */
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM) |
				     F(VIRTIO_NET_F_GUEST_TSO4));
	static uint8_t payload[VIRTIO_NET_MAX_FRAME], got[VIRTIO_NET_MAX_BUF];
	pattern(payload, sizeof(payload), 4);
	uint64_t buf[QSIZE];
	for (unsigned i = 0; i < QSIZE; i++)
		buf[i] = post_rx(f, 4200);
	struct virtio_net_hdr_v1 h = rx_hdr();
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h.gso_size = 1448;
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);

	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), QSIZE);
	size_t off = 0;
	for (unsigned i = 0; i < QSIZE; i++) {
		uint32_t len = used_elem(f, VIRTIO_NET_RXQ, (uint16_t)i).len;
		assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, (uint16_t)i).id, i);
		assert_int_equal(len, i + 1 < QSIZE ? 4200 : VIRTIO_NET_MAX_BUF - 15 * 4200);
		memcpy(got + off, gptr(f, buf[i], len), len);
		off += len;
	}
	assert_int_equal(off, VIRTIO_NET_MAX_BUF);
	struct virtio_net_hdr_v1 gh;
	memcpy(&gh, got, HDR);
	assert_int_equal(gh.num_buffers, QSIZE);
	assert_int_equal(gh.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_memory_equal(got + HDR, payload, sizeof(payload));
	fx_free(f);
}

static void rx_single_chain_too_small_drops(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, 0); /* no MRG_RXBUF: one chain per frame */
	uint8_t payload[1500];
	pattern(payload, sizeof(payload), 5);
	struct virtio_net_hdr_v1 h = rx_hdr();

	uint64_t small = post_rx(f, 1000);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 1);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).len, 0);
	assert_int_equal(f->n->stats.rx_dropped, 1);
	assert_int_equal(f->n->stats.rx_frames, 0);
	assert_int_equal(*(uint8_t *)gptr(f, small, 1), 0xcc);
	assert_int_equal(f->n->rx_len, 0);
	assert_true(virtio_is_live(f->dev));

	/* A chain big enough, in two descriptors (header apart, as old drivers do): delivered. */
	uint64_t hb = galloc(f, HDR), data = galloc(f, 1600);
	struct seg split[2] = { { hb, HDR, true }, { data, 1600, true } };
	uint16_t head = submit(f, VIRTIO_NET_RXQ, split, 2);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 2);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 1).id, head);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 1).len, HDR + 1500);
	struct virtio_net_hdr_v1 got;
	memcpy(&got, gptr(f, hb, HDR), HDR);
	assert_int_equal(got.num_buffers, 1);
	assert_int_equal(got.csum_start, 34);
	assert_memory_equal(gptr(f, data, 1500), payload, 1500);
	assert_int_equal(f->n->stats.rx_frames, 1);
	fx_free(f);
}

static void rx_empty_ring_keeps_frame(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, 0);
	uint8_t p1[300], p2[400];
	pattern(p1, sizeof(p1), 6);
	pattern(p2, sizeof(p2), 7);
	struct virtio_net_hdr_v1 h = rx_hdr();
	host_send(f, &h, p1, sizeof(p1));
	host_send(f, &h, p2, sizeof(p2));

	/* No buffers: one frame is read and kept, the back end is no longer watched. */
	serve(f, BE_READY);
	assert_int_equal(f->fb->recv_calls, 1);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 0);
	assert_int_equal(f->n->rx_len, HDR + sizeof(p1));
	assert_false(watching(f));
	/* A wake that still says readable (it raced the switch-off) reads nothing more. */
	serve(f, BE_READY);
	assert_int_equal(f->fb->recv_calls, 1);

	/* One buffer and a kick: the kept frame goes, the next is read and kept in turn. */
	uint64_t b1 = post_rx(f, 2048);
	serve(f, KICK_RX);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 1);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).len, HDR + sizeof(p1));
	assert_memory_equal(gptr(f, b1 + HDR, sizeof(p1)), p1, sizeof(p1));
	assert_int_equal(f->fb->recv_calls, 2);
	assert_int_equal(f->n->rx_len, HDR + sizeof(p2));
	assert_false(watching(f));

	uint64_t b2 = post_rx(f, 2048);
	serve(f, KICK_RX);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 2);
	assert_memory_equal(gptr(f, b2 + HDR, sizeof(p2)), p2, sizeof(p2));
	/* The back end had nothing more (-EAGAIN): watched again. */
	assert_int_equal(f->fb->recv_calls, 3);
	assert_int_equal(f->n->rx_len, 0);
	assert_true(watching(f));
	assert_int_equal(f->n->stats.rx_frames, 2);
	assert_int_equal(f->n->stats.rx_dropped, 0);
	fx_free(f);
}

static void rx_mergeable_runs_dry_midway(void **state)
{
	(void)state;
	/* EVENT_IDX on: the device must ask for the kick that brings the missing buffers. */
	struct fx *f = fx_new_ev(false, F(VIRTIO_NET_F_MRG_RXBUF), true);
	uint8_t payload[2500];
	pattern(payload, sizeof(payload), 8);
	struct virtio_net_hdr_v1 h = rx_hdr();

	uint64_t b0 = post_rx(f, 1000);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	/* One chain of three: nothing used, the frame kept, the chain still the driver's to give. */
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 0);
	assert_int_equal(f->n->rx_len, HDR + sizeof(payload));
	assert_int_equal(f->dev->vq[VIRTIO_NET_RXQ].last_avail, 0);
	assert_false(watching(f));
	uint16_t *avail_event = gptr(f, RX_USED + 4 + 8 * QSIZE, 2);
	assert_int_equal(*avail_event, 1); /* kick me when the driver adds past index 1 */

	/* Still short with two. */
	uint64_t b1 = post_rx(f, 1000);
	serve(f, KICK_RX);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 0);
	assert_int_equal(f->fb->recv_calls, 1);

	uint64_t b2 = post_rx(f, 1000);
	serve(f, KICK_RX);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 3);
	struct virtio_net_hdr_v1 got;
	memcpy(&got, gptr(f, b0, HDR), HDR);
	assert_int_equal(got.num_buffers, 3);
	uint8_t all[HDR + 2500];
	memcpy(all, gptr(f, b0, 1000), 1000);
	memcpy(all + 1000, gptr(f, b1, 1000), 1000);
	memcpy(all + 2000, gptr(f, b2, 512), 512);
	assert_memory_equal(all + HDR, payload, sizeof(payload));
	assert_int_equal(f->n->stats.rx_dropped, 0);
	assert_true(watching(f));
	fx_free(f);
}

static void rx_many_frames_few_buffers(void **state)
{
	(void)state;
	/* 20 frames, 16 buffers: 16 delivered in order, the 17th kept, none lost. */
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	struct virtio_net_hdr_v1 h = rx_hdr();
	uint64_t b[QSIZE];
	uint8_t p[100];

	for (unsigned i = 0; i < 20; i++) {
		pattern(p, sizeof(p), 100 + i);
		host_send(f, &h, p, sizeof(p));
	}
	for (unsigned i = 0; i < QSIZE; i++)
		b[i] = post_rx(f, 1500);
	serve(f, BE_READY);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), QSIZE);
	for (unsigned i = 0; i < QSIZE; i++) {
		pattern(p, sizeof(p), 100 + i);
		assert_memory_equal(gptr(f, b[i] + HDR, sizeof(p)), p, sizeof(p));
	}
	assert_int_equal(f->fb->recv_calls, QSIZE + 1);
	assert_false(watching(f));

	/* The driver recycles four buffers. */
	for (unsigned i = 0; i < 4; i++)
		b[i] = post_rx(f, 1500);
	serve(f, KICK_RX);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), QSIZE + 4);
	for (unsigned i = 0; i < 4; i++) {
		pattern(p, sizeof(p), 100 + QSIZE + i);
		assert_memory_equal(gptr(f, b[i] + HDR, sizeof(p)), p, sizeof(p));
	}
	assert_int_equal(f->n->stats.rx_frames, 20);
	assert_int_equal(f->n->stats.rx_dropped, 0);
	assert_true(watching(f));
	fx_free(f);
}

static void rx_frame_larger_than_the_ring(void **state)
{
	(void)state;
	/* 16 chains of 100 bytes cannot hold 2012: no buffer the driver adds later could help. */
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	uint8_t big[2000], small[50];
	pattern(big, sizeof(big), 15);
	pattern(small, sizeof(small), 16);
	struct virtio_net_hdr_v1 h = rx_hdr();
	uint64_t b0 = post_rx(f, 100);
	for (unsigned i = 1; i < QSIZE; i++)
		post_rx(f, 100);

	host_send(f, &h, big, sizeof(big));
	host_send(f, &h, small, sizeof(small));
	serve(f, BE_READY);
	/* The big frame is dropped without using a chain; the small one takes the first. */
	assert_int_equal(f->n->stats.rx_dropped, 1);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 1);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).id, 0);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).len, HDR + sizeof(small));
	assert_memory_equal(gptr(f, b0 + HDR, sizeof(small)), small, sizeof(small));
	assert_int_equal(f->n->rx_len, 0);
	assert_true(watching(f));
	fx_free(f);
}

static void rx_bad_chains_drop_the_frame(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	uint8_t payload[1500];
	pattern(payload, sizeof(payload), 9);
	struct virtio_net_hdr_v1 h = rx_hdr();

	/* A good chain, then one with a device-readable buffer: the frame needs both. */
	uint64_t good = post_rx(f, 1000);
	uint64_t ro = galloc(f, 64), wr = galloc(f, 1000);
	struct seg bad[2] = { { ro, 64, false }, { wr, 1000, true } };
	submit(f, VIRTIO_NET_RXQ, bad, 2);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	/* Both chains back empty, the frame counted as dropped, the device alive. */
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 2);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 0).len, 0);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 1).len, 0);
	assert_int_equal(f->n->stats.rx_dropped, 1);
	assert_int_equal(*(uint8_t *)gptr(f, ro, 1), 0xcc);
	assert_true(virtio_is_live(f->dev));
	(void)good;

	/* A chain smaller than the header. */
	post_rx(f, 8);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 3);
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, 2).len, 0);
	assert_int_equal(f->n->stats.rx_dropped, 2);

	/* A runt from the back end (shorter than a header) is dropped, not delivered. */
	uint64_t next = post_rx(f, 2000);
	assert_int_equal(send(f->fb->peer, "tiny", 4, 0), 4);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(f->n->stats.rx_dropped, 3);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 4);
	assert_memory_equal(gptr(f, next + HDR, sizeof(payload)), payload, sizeof(payload));
	assert_true(virtio_is_live(f->dev));
	fx_free(f);
}

/* Sends a frame with header h and serves; returns the header the guest got (zeroes if none). */
static struct virtio_net_hdr_v1 rx_roundtrip(struct fx *f, struct virtio_net_hdr_v1 h)
{
	uint8_t payload[80];
	uint16_t before = used_idx(f, VIRTIO_NET_RXQ);
	struct virtio_net_hdr_v1 got = { 0 };

	/* A dropped frame leaves the buffer posted: the next frame gets that one. */
	if (!f->spare) {
		struct seg s = { galloc(f, 2000), 2000, true };
		f->spare_gpa = s.gpa;
		f->spare_head = submit(f, VIRTIO_NET_RXQ, &s, 1);
		f->spare = true;
	}
	pattern(payload, sizeof(payload), 14);
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	if (used_idx(f, VIRTIO_NET_RXQ) == before)
		return got;
	f->spare = false;
	assert_int_equal(used_elem(f, VIRTIO_NET_RXQ, before).id, f->spare_head);
	memcpy(&got, gptr(f, f->spare_gpa, HDR), HDR);
	assert_memory_equal(gptr(f, f->spare_gpa + HDR, sizeof(payload)), payload, sizeof(payload));
	return got;
}

static void rx_header_follows_features(void **state)
{
	(void)state;
	struct virtio_net_hdr_v1 h = rx_hdr(), got;

	/* No GUEST_CSUM: flags must be zero (DATA_VALID cleared), partial checksums and GSO refused. */
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_MRG_RXBUF));
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	got = rx_roundtrip(f, h);
	assert_int_equal(got.num_buffers, 1);
	assert_int_equal(got.flags, 0);
	assert_int_equal(got.csum_start, 34);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	got = rx_roundtrip(f, h);
	assert_int_equal(got.num_buffers, 0); /* nothing delivered */
	assert_int_equal(f->n->stats.rx_dropped, 1);
	h.flags = 0;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	got = rx_roundtrip(f, h);
	assert_int_equal(f->n->stats.rx_dropped, 2);
	assert_int_equal(f->n->stats.rx_frames, 1);
	fx_free(f);

	/* GUEST_CSUM and GUEST_TSO6: both flags pass, TCPv6 GSO passes, TCPv4 and ECN do not. */
	f = fx_new(true, F(VIRTIO_NET_F_MRG_RXBUF) | F(VIRTIO_NET_F_GUEST_CSUM) |
			 F(VIRTIO_NET_F_GUEST_TSO6));
	h = rx_hdr();
	h.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(rx_roundtrip(f, h).flags, VIRTIO_NET_HDR_F_DATA_VALID);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	h.gso_size = 1428;
	got = rx_roundtrip(f, h);
	assert_int_equal(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(got.gso_size, 1428);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	rx_roundtrip(f, h);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	rx_roundtrip(f, h);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	rx_roundtrip(f, h);
	assert_int_equal(f->n->stats.rx_frames, 2);
	assert_int_equal(f->n->stats.rx_dropped, 3);
	assert_true(virtio_is_live(f->dev));
	fx_free(f);
}

/* ---- a broken driver, a reset, a lost back end --------------------------------------------- */

static void malformed_ring_needs_reset(void **state)
{
	(void)state;
	/* tx: a descriptor outside guest memory. */
	struct fx *f = fx_new(false, 0);
	struct seg wild[1] = { { MEM_SIZE - 16, 64, false } };
	submit(f, VIRTIO_NET_TXQ, wild, 1);
	serve(f, KICK_TX);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_is_live(f->dev));
	assert_int_equal(used_idx(f, VIRTIO_NET_TXQ), 0);
	assert_int_equal(f->fb->sends, 0);
	assert_true(atomic_load(&f->dev->interrupt_status) & 2); /* config change told the driver */
	fx_free(f);

	/* rx: the same, with a frame waiting: it is dropped and the back end left alone. */
	f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	struct seg wild_rx[1] = { { MEM_SIZE + 4096, 1500, true } };
	submit(f, VIRTIO_NET_RXQ, wild_rx, 1);
	uint8_t payload[100] = { 0 };
	struct virtio_net_hdr_v1 h = rx_hdr();
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(f, VIRTIO_NET_RXQ), 0);
	assert_int_equal(f->n->rx_len, 0);
	assert_false(watching(f));
	/* A readable back end on a broken device reads nothing. */
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(f->fb->recv_calls, 1);
	fx_free(f);

	/* An avail index that jumped by more than the queue size. */
	f = fx_new(false, 0);
	uint16_t *avail = gptr(f, TX_AVAIL, 4);
	avail[1] = QSIZE + 1;
	serve(f, KICK_TX);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	fx_free(f);
}

static void reset_forgets_pending_frame(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, 0);
	uint8_t payload[200] = { 1 };
	struct virtio_net_hdr_v1 h = rx_hdr();
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(f->n->rx_len, HDR + sizeof(payload));

	pthread_mutex_lock(&f->dev->lock);
	virtio_reset(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(f->n->rx_len, 0);
	assert_int_equal(f->n->stats.rx_dropped, 1);
	assert_false(watching(f));
	/* Not live: a readable back end is not read. */
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(f->fb->recv_calls, 1);
	fx_free(f);
}

static void backend_gone_link_down(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, 0);
	struct virtio_mmio t;
	virtio_mmio_init(&t, f->dev);
	uint32_t gen = reg_read(&t, VIRTIO_MMIO_CONFIG_GENERATION);

	f->fb->recv_rc = -EPIPE;
	serve(f, BE_READY);
	assert_true(f->n->be_gone);
	assert_false(watching(f));
	uint16_t status = 0xffff;
	cfg_read(&t, 6, &status, 2);
	assert_int_equal(status, 0);
	assert_true(atomic_load(&f->dev->interrupt_status) & 2);
	assert_int_not_equal(reg_read(&t, VIRTIO_MMIO_CONFIG_GENERATION), gen);
	assert_true(virtio_is_live(f->dev));

	/* Never read again, even on a kick with buffers; tx still goes to the back end. */
	post_rx(f, 2000);
	serve(f, KICK_RX | BE_READY);
	assert_int_equal(f->fb->recv_calls, 1);
	uint64_t g = galloc(f, HDR + 10);
	memset(gptr(f, g, HDR), 0, HDR);
	struct seg s = { g, HDR + 10, false };
	submit(f, VIRTIO_NET_TXQ, &s, 1);
	serve(f, KICK_TX);
	assert_int_equal(f->fb->sends, 1);
	fx_free(f);
}

/* ---- snapshots ---------------------------------------------------------------------------- */

static void snapshot_keeps_mac_and_link(void **state)
{
	(void)state;
	struct fx *f = fx_new(true, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6));
	struct ember_err err = { "" };
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ember-net-snap-%ld", (long)getpid());

	/* A frame pending at save time stays with this device; the snapshot has no room for it. */
	uint8_t payload[64] = { 0 };
	struct virtio_net_hdr_v1 h = rx_hdr();
	host_send(f, &h, payload, sizeof(payload));
	serve(f, BE_READY);
	assert_int_equal(f->n->rx_len, HDR + sizeof(payload));
	f->n->link_up = false; /* saved down: the restore must bring it up and say so */

	struct snapshot_writer w = { 0 };
	pthread_mutex_lock(&f->dev->lock);
	assert_int_equal(f->dev->ops->save(f->dev, &w, 3, &err), 0);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(f->n->rx_len, HDR + sizeof(payload));
	assert_int_equal(snapshot_write_file(&w, "test", path, &err), 0);
	snapshot_writer_free(&w);
	struct snapshot_reader r;
	if (snapshot_read_file(&r, path, "test", &err))
		fail_msg("%s", err.msg);
	unlink(path);

	/* A new device (another MAC from the command line), live as virtio_mmio_restore leaves it. */
	struct fx *g = fx_new(true, F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_GUEST_TSO6));
	g->n->mac[0] = 0x02;
	g->fb->set_offload_calls = 0;
	g->fb->offloads = 0;
	atomic_store(&g->dev->interrupt_status, 0);
	assert_int_equal(g->dev->ops->restore(g->dev, &r, 3, &err), 0);
	assert_memory_equal(g->n->mac, test_mac, 6);
	assert_true(g->n->link_up);
	assert_true(atomic_load(&g->dev->interrupt_status) & 2);
	assert_int_equal(g->fb->set_offload_calls, 1);
	assert_int_equal(g->fb->offloads, NET_OFFLOAD_CSUM | NET_OFFLOAD_TSO6);
	assert_true(watching(g));
	assert_int_equal(g->n->rx_len, 0);

	/* The wrong slot: missing, said so. */
	assert_int_equal(g->dev->ops->restore(g->dev, &r, 4, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "missing"));
	snapshot_reader_free(&r);
	fx_free(g);
	fx_free(f);
}

/* ---- the worker thread ------------------------------------------------------------------- */

static bool wait_used(struct fx *f, unsigned q, uint16_t want)
{
	for (int i = 0; i < 2000; i++) {
		if (used_idx(f, q) == want)
			return true;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return used_idx(f, q) == want;
}

static void worker_moves_frames(void **state)
{
	(void)state;
	struct fx *f = fx_new(false, F(VIRTIO_NET_F_MRG_RXBUF));
	struct ember_err err = { "" };
	int kick[2];
	for (unsigned q = 0; q < 2; q++) {
		kick[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(kick[q] >= 0);
		f->dev->kick_fd[q] = kick[q];
	}
	if (virtio_net_start(f->n, &err))
		fail_msg("virtio_net_start: %s", err.msg);

	/* The host sends before the guest has buffers: the frame waits, then comes on the kick. */
	uint8_t payload[1000];
	pattern(payload, sizeof(payload), 11);
	struct virtio_net_hdr_v1 h = rx_hdr();
	host_send(f, &h, payload, sizeof(payload));
	usleep(50 * 1000);
	pthread_mutex_lock(&f->dev->lock);
	uint64_t b = post_rx(f, 2000);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(eventfd_write(kick[VIRTIO_NET_RXQ], 1), 0);
	assert_true(wait_used(f, VIRTIO_NET_RXQ, 1));
	assert_memory_equal(gptr(f, b + HDR, sizeof(payload)), payload, sizeof(payload));

	/* A second frame with a buffer posted: the watched fd alone brings it. */
	pthread_mutex_lock(&f->dev->lock);
	uint64_t b2 = post_rx(f, 2000);
	pthread_mutex_unlock(&f->dev->lock);
	pattern(payload, sizeof(payload), 12);
	host_send(f, &h, payload, sizeof(payload));
	assert_true(wait_used(f, VIRTIO_NET_RXQ, 2));
	assert_memory_equal(gptr(f, b2 + HDR, sizeof(payload)), payload, sizeof(payload));

	/* tx on a kick. */
	pthread_mutex_lock(&f->dev->lock);
	uint64_t g = galloc(f, HDR + 50);
	memset(gptr(f, g, HDR), 0, HDR);
	pattern(gptr(f, g + HDR, 50), 50, 13);
	struct seg s = { g, HDR + 50, false };
	submit(f, VIRTIO_NET_TXQ, &s, 1);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(eventfd_write(kick[VIRTIO_NET_TXQ], 1), 0);
	assert_true(wait_used(f, VIRTIO_NET_TXQ, 1));
	pthread_mutex_lock(&f->dev->lock);
	assert_int_equal(f->fb->sends, 1);
	assert_int_equal(f->fb->sent_len, HDR + 50);
	pthread_mutex_unlock(&f->dev->lock);

	fx_free(f); /* ops->destroy joins the worker, then closes the back end */
	close(kick[0]);
	close(kick[1]);
}

static void new_owns_the_backend(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct fake_be *fb = fake_new(true);
	struct virtio_device *dev = NULL;

	assert_int_equal(virtio_net_new(&fb->be, test_mac, &dev, &err), 0);
	assert_non_null(dev);
	assert_int_equal(dev->device_id, VIRTIO_ID_NET);
	assert_int_equal(dev->num_queues, 2);
	assert_int_equal(dev->config_size, VIRTIO_NET_CONFIG_SIZE);
	assert_int_equal(dev->queue_service[VIRTIO_NET_RXQ], VIRTIO_QUEUE_ON_WORKER);
	assert_int_equal(dev->queue_service[VIRTIO_NET_TXQ], VIRTIO_QUEUE_ON_WORKER);
	virtio_device_destroy(dev); /* never attached: ops->destroy only */
	assert_true(fb->closed);
	free(fb);

	/* A back end without recv: refused, and closed (the device owned it). */
	static const struct net_backend_ops no_recv = { .send = fake_send, .close = fake_close };
	fb = fake_new(false);
	fb->be.ops = &no_recv;
	assert_int_equal(virtio_net_new(&fb->be, test_mac, &dev, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "fake"));
	assert_true(fb->closed);
	free(fb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_space_and_features),
		cmocka_unit_test(offloads_follow_guest_features),
		cmocka_unit_test(tx_split_frame_arrives_intact),
		cmocka_unit_test(tx_batch_and_header_hygiene),
		cmocka_unit_test(tx_bad_chains_are_dropped),
		cmocka_unit_test(rx_mergeable_spans_three_chains),
		cmocka_unit_test(rx_mergeable_gso_frame),
		cmocka_unit_test(rx_single_chain_too_small_drops),
		cmocka_unit_test(rx_empty_ring_keeps_frame),
		cmocka_unit_test(rx_mergeable_runs_dry_midway),
		cmocka_unit_test(rx_many_frames_few_buffers),
		cmocka_unit_test(rx_frame_larger_than_the_ring),
		cmocka_unit_test(rx_bad_chains_drop_the_frame),
		cmocka_unit_test(rx_header_follows_features),
		cmocka_unit_test(malformed_ring_needs_reset),
		cmocka_unit_test(reset_forgets_pending_frame),
		cmocka_unit_test(backend_gone_link_down),
		cmocka_unit_test(snapshot_keeps_mac_and_link),
		cmocka_unit_test(worker_moves_frames),
		cmocka_unit_test(new_owns_the_backend),
	};
	return cmocka_run_group_tests_name("virtio-net", tests, NULL, NULL);
}
