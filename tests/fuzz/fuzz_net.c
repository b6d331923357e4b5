// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for virtio-net (virtio/net.c) and the split virtqueue
 * under it (virtio/queue.c): the input is what a hostile guest driver does.
 * It picks the features it accepts and how it sets the rx and tx queues up
 * (through the core, virtio/core.c, as the transport would), then writes
 * descriptors, avail entries, headers and frames into guest memory and
 * kicks; the host side is a fake back end that takes every frame sent and
 * offers the frames (and errors) the input queues up for rx.  The device's
 * thread is not started: the harness calls virtio_net_serve() with the
 * pending bits the worker would pass, as tests/unit/test_net.c does.
 *
 * Guest RAM is two regions, adjacent in guest-physical space (64 KiB at 0,
 * 16 KiB after it) but separate heap blocks, so that ASan reports any byte
 * the device touches outside guest RAM, a range that straddles the two
 * regions included.  The back end checks what it is handed: the header is
 * the device's checked copy, asking only for what the driver negotiated;
 * every other piece lies inside one region; a frame is at most
 * VIRTIO_NET_MAX_BUF.  After each serve every running queue has at most
 * its size of chains taken and not returned.  A fresh device per input
 * (virtio_net_init over a static struct; no allocation, no thread), with
 * its "needs reset" line muted: printed once per device, it would be
 * printed for most inputs.
 *
 * Input: a set-up (below, driver_setup), then commands until the input
 * ends, then one last serve of everything.  Each command is an opcode byte
 * (bit 7: the tx queue, else rx; the rest modulo NR_OPS) and its operands,
 * little-endian; bytes missing at the end read as zero.
 *   OP_DESC      u16 index, u32 addr, u32 len, u16 flags, u16 next: one raw
 *                descriptor (addr decoded by decode_gpa: mostly in RAM)
 *   OP_CHAIN     u8 shape, then per buffer u16 len, u8 n and n bytes: a
 *                well-formed chain in a fresh buffer of the guest's heap,
 *                direct or through an indirect table, made available
 *   OP_AVAIL     u16 head: appended to the avail ring
 *   OP_AVAIL_IDX u16: the avail index itself (a driver that lies)
 *   OP_MEM       u32 addr, u8 n, n bytes: raw guest memory (rings included)
 *   OP_FRAME     u8 kind, u16 len, u8 n, n bytes: the back end's next rx
 *                result (a frame, padded with a pattern, or an error)
 *   OP_SERVE     u8 mask: tx kick, rx kick, back end readable
 *   OP_SEND_RC   u8: what the back end's send returns from now on
 *   OP_RING      u16 avail flags, u16 used_event: interrupt suppression
 *   OP_RESET     a device reset (status 0), then driver_setup again
 *   OP_CONFIG    u8 offset, u8 len: a config space read (the transport's check first)
 * The seeds in tests/fuzz/corpus/net (seed-*) were written by hand: a tx
 * frame; a GSO frame merged over three rx buffers; an indirect TSO chain;
 * a ring that lies, a reset and a new start; frames too large for a single
 * rx buffer, then the back end's end of file.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "virtio/net.h"
#include "vm/machine.h"

#define R0_SIZE  0x10000u            /* region 0: gpa 0, rings and buffers */
#define R1_GPA   R0_SIZE             /* region 1: right after, another heap block */
#define R1_SIZE  0x4000u
#define RAM_END  (R1_GPA + R1_SIZE)
#define HEAP_GPA 0x4000u             /* OP_CHAIN's buffers, from here to RAM_END */
#define MAX_FRAMES 64                /* rx results queued at once */

#define F(bit) (1ULL << (bit))

enum { OP_DESC, OP_CHAIN, OP_AVAIL, OP_AVAIL_IDX, OP_MEM, OP_FRAME, OP_SERVE, OP_SEND_RC, OP_RING,
       OP_RESET, OP_CONFIG, NR_OPS };

/* Default ring addresses: rx desc/avail/used, then tx's (256 entries fit). */
static const uint64_t ring_gpa[2][3] = { { 0x0000, 0x1000, 0x1400 }, { 0x2000, 0x3000, 0x3400 } };

static const uint8_t fuzz_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

/* ---- reading the input ------------------------------------------------------------------- */

struct input {
	const uint8_t *p;
	size_t left;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
	uint16_t lo = in_u8(in);
	return (uint16_t)(lo | in_u8(in) << 8);
}

static uint32_t in_u32(struct input *in)
{
	uint32_t lo = in_u16(in);
	return lo | (uint32_t)in_u16(in) << 16;
}

/* Up to n bytes of the input, in place; *got says how many. */
static const uint8_t *in_bytes(struct input *in, size_t n, size_t *got)
{
	const uint8_t *p = in->p;

	*got = n < in->left ? n : in->left;
	in->p += *got;
	in->left -= *got;
	return p;
}

/* ---- guest RAM and the fake machine ------------------------------------------------------ */

static uint8_t *region0, *region1;   /* malloc'd: ASan's redzones around each */
static struct machine vm;            /* only vm.mem is used */

static void ram_init(void)
{
	region0 = malloc(R0_SIZE);
	region1 = malloc(R1_SIZE);
	if (!region0 || !region1)
		abort();
	vm.mem.region[0] = (struct guest_region){ .gpa = 0, .size = R0_SIZE, .host = region0 };
	vm.mem.region[1] = (struct guest_region){ .gpa = R1_GPA, .size = R1_SIZE, .host = region1 };
	vm.mem.nr_regions = 2;
	vm.mem.backing_fd = -1;
}

/* The guest writes its own memory; what lies outside RAM is simply not written. */
static void gwrite(uint64_t gpa, const void *src, size_t len)
{
	void *dst = guest_ptr(&vm.mem, gpa, len);
	if (dst && len)
		memcpy(dst, src, len);
}

static bool in_region(const void *p, size_t len)
{
	const uint8_t *b = p;
	return (b >= region0 && len <= R0_SIZE && b - region0 <= (ptrdiff_t)(R0_SIZE - len)) ||
	       (b >= region1 && len <= R1_SIZE && b - region1 <= (ptrdiff_t)(R1_SIZE - len));
}

/*
 * A descriptor's address as the input gives it: mostly inside RAM (and a
 * little past its end), sometimes far outside, sometimes so close to 2^64
 * that addr + len wraps.
 */
static uint64_t decode_gpa(uint32_t a)
{
	switch (a >> 30) {
	case 3:
		return UINT64_MAX - (a & 0xffff);
	case 2:
		return (uint64_t)(a & 0x3fffffff) << 12;
	default:
		return (a & 0x7fffffff) % (RAM_END + 0x100);
	}
}

/* ---- the fake back end ------------------------------------------------------------------- */

struct frame {
	int32_t rc;               /* > 0: a frame of rc bytes; else what recv returns */
	const uint8_t *data;      /* its first n bytes (the input's), the rest a pattern */
	size_t n;
};

static struct fake_be {
	struct net_backend be;
	struct frame frame[MAX_FRAMES];
	unsigned head, count;
	int send_rc;
	unsigned offloads;
} fb;

static struct virtio_net net;        /* ~90 KiB: static, made afresh per input */

/* The header the device passes on asks only for what the driver accepted (net.c, §5.1.6.2.1). */
static void check_tx_header(const struct virtio_net_hdr_v1 *h)
{
	const struct virtio_device *dev = &net.dev;
	uint8_t gso = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (h->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM || h->num_buffers)
		abort();
	if (h->flags && !virtio_has_feature(dev, VIRTIO_NET_F_CSUM))
		abort();
	if ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
	    (gso == VIRTIO_NET_HDR_GSO_NONE || !virtio_has_feature(dev, VIRTIO_NET_F_HOST_ECN)))
		abort();
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 ? !virtio_has_feature(dev, VIRTIO_NET_F_HOST_TSO4) :
	    gso == VIRTIO_NET_HDR_GSO_TCPV6 ? !virtio_has_feature(dev, VIRTIO_NET_F_HOST_TSO6) :
	    gso != VIRTIO_NET_HDR_GSO_NONE)
		abort();
}

static volatile uint8_t sink;

static int fake_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct fake_be *f = be->priv;
	size_t total = 0;
	uint8_t sum = 0;

	if (n == 0 || n > VIRTQ_MAX_SIZE + 1 || iov[0].iov_base != &net.tx_hdr ||
	    iov[0].iov_len != VIRTIO_NET_HDR_SIZE)
		abort();
	check_tx_header(iov[0].iov_base);
	for (unsigned i = 0; i < n; i++) {
		if (i > 0 && !in_region(iov[i].iov_base, iov[i].iov_len))
			abort(); /* the frame is sent from guest memory, nowhere else */
		/* Read every byte, as a tap would: ASan checks each. */
		for (size_t j = 0; j < iov[i].iov_len; j++)
			sum ^= ((const uint8_t *)iov[i].iov_base)[j];
		total += iov[i].iov_len;
	}
	if (total > VIRTIO_NET_MAX_BUF)
		abort();
	sink = sum;
	return f->send_rc;
}

static ssize_t fake_recv(struct net_backend *be, void *buf, size_t size)
{
	struct fake_be *f = be->priv;

	if (size < VIRTIO_NET_MAX_BUF)
		abort(); /* net.h: the device always offers room for the largest frame */
	if (!f->count)
		return -EAGAIN;
	const struct frame *fr = &f->frame[f->head];
	f->head = (f->head + 1) % MAX_FRAMES;
	f->count--;
	if (fr->rc <= 0)
		return fr->rc;
	size_t len = (size_t)fr->rc < size ? (size_t)fr->rc : size;
	size_t n = fr->n < len ? fr->n : len;
	memcpy(buf, fr->data, n);
	for (size_t i = n; i < len; i++)
		((uint8_t *)buf)[i] = (uint8_t)(i * 7 + 1);
	return (ssize_t)len;
}

static int fake_set_offload(struct net_backend *be, unsigned offloads)
{
	((struct fake_be *)be->priv)->offloads = offloads;
	return 0;
}

static void fake_close(struct net_backend *be)
{
	(void)be;
}

static const struct net_backend_ops fake_ops = {
	.send = fake_send, .recv = fake_recv, .set_offload = fake_set_offload, .close = fake_close,
};

/* A back end without offloads may have no set_offload (net.h). */
static const struct net_backend_ops fake_plain_ops = {
	.send = fake_send, .recv = fake_recv, .close = fake_close,
};

/* ---- the driver -------------------------------------------------------------------------- */

static struct driver {
	uint16_t avail_idx[2];
	uint16_t next_desc[2];
	uint32_t heap;            /* next free gpa for OP_CHAIN's buffers */
} drv;

static struct virtq *vq(unsigned q)
{
	return &net.dev.vq[q];
}

/*
 * The driver's set-up, as the transport passes it to the core:
 *   u32 pick   bit k: accept the k-th offered feature (VERSION_1 always,
 *              unless bit 30; bit 31: also one never offered, HOST_UFO)
 *   u8 qcfg    bit 0/1: enable rx/tx; bit 2/3: rx/tx rings at input
 *              addresses (3 x u16 each, after the sizes); bit 4: enable
 *              the queues only after DRIVER_OK; bit 5: no DRIVER_OK
 *   u8 size    per queue: < 0x80: 1 << (n % 9), else 3 * (n - 0x80): not a
 *              power of two, or 0 when past 256 (mmio.c's QueueNum rule)
 */
static uint16_t decode_size(uint8_t b)
{
	unsigned n = 3u * (b - 0x80u);
	return b < 0x80 ? (uint16_t)(1u << (b % 9)) : (uint16_t)(n <= VIRTIO_NET_QUEUE_SIZE ? n : 0);
}

static void enable_queues(uint8_t qcfg)
{
	for (unsigned q = 0; q < 2; q++)
		if ((qcfg >> q) & 1)
			virtio_enable_queue(&net.dev, q);
}

static void driver_setup(struct input *in)
{
	struct virtio_device *dev = &net.dev;
	uint32_t pick = in_u32(in);
	uint8_t qcfg = in_u8(in);
	uint16_t size[2];
	uint64_t offered = virtio_offered_features(dev), want = 0;
	unsigned k = 0;

	size[0] = decode_size(in_u8(in));
	size[1] = decode_size(in_u8(in));
	for (unsigned bit = 0; bit < 64; bit++)
		if ((offered >> bit) & 1 && (pick >> (k++ % 30)) & 1)
			want |= F(bit);
	want |= F(VIRTIO_F_VERSION_1);
	if (pick & (1u << 30))
		want &= ~F(VIRTIO_F_VERSION_1);
	if (pick & (1u << 31))
		want |= F(VIRTIO_NET_F_HOST_UFO);

	/* A driver zeroes its rings before it hands them over (the default ones: below HEAP_GPA). */
	memset(region0, 0, HEAP_GPA);
	memset(&drv.avail_idx, 0, sizeof(drv.avail_idx));
	memset(&drv.next_desc, 0, sizeof(drv.next_desc));
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	dev->driver_features = want;
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < 2; q++) {
		struct virtq *v = vq(q);
		bool own = (qcfg >> (2 + q)) & 1;
		v->size = size[q];
		v->desc_gpa = own ? in_u16(in) : ring_gpa[q][0];
		v->avail_gpa = own ? in_u16(in) : ring_gpa[q][1];
		v->used_gpa = own ? in_u16(in) : ring_gpa[q][2];
	}
	if (!(qcfg & 0x10))
		enable_queues(qcfg);
	if (!(qcfg & 0x20))
		virtio_write_status(dev, dev->status | VIRTIO_STATUS_DRIVER_OK);
	if (qcfg & 0x10)
		enable_queues(qcfg);
}

/* One descriptor of queue q's table (or of a table at `table`), where it lies inside RAM. */
static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	gwrite(table + 16ULL * i, &d, sizeof(d));
}

static void make_avail(unsigned q, uint16_t head)
{
	struct virtq *v = vq(q);
	uint16_t slot = v->size ? drv.avail_idx[q] % v->size : 0;

	gwrite(v->avail_gpa + 4 + 2ULL * slot, &head, sizeof(head));
	drv.avail_idx[q]++;
	gwrite(v->avail_gpa + 2, &drv.avail_idx[q], sizeof(drv.avail_idx[q]));
}

/* len bytes of the guest's heap (wrapping to its start), not always inside one region. */
static uint32_t heap_alloc(uint32_t len)
{
	len %= RAM_END - HEAP_GPA;
	if (drv.heap + len > RAM_END)
		drv.heap = HEAP_GPA;
	uint32_t gpa = drv.heap;
	drv.heap = (drv.heap + len + 15) & ~15u;
	return gpa;
}

/*
 * OP_CHAIN: u8 shape: bits 0-1 + 1 buffers, bit 2 through an indirect
 * table, bits 3-6: flip buffer i's direction (rx buffers are writable, tx
 * readable); then per buffer u16 len, u8 n, n bytes at its start.
 */
static void op_chain(struct input *in, unsigned q)
{
	uint8_t shape = in_u8(in);
	unsigned nbuf = 1 + (shape & 3);
	bool indirect = shape & 4;
	struct virtq *v = vq(q);
	uint16_t size = v->size ? v->size : 1;
	uint16_t head = drv.next_desc[q] % size;
	uint64_t table = v->desc_gpa;
	uint16_t first = head;

	if (indirect) {
		table = heap_alloc(16 * nbuf);
		first = 0;
	}
	for (unsigned i = 0; i < nbuf; i++) {
		uint32_t len = in_u16(in);
		size_t n;
		const uint8_t *bytes = in_bytes(in, in_u8(in), &n);
		uint32_t gpa = heap_alloc(len);
		bool writable = (q == VIRTIO_NET_RXQ) != (bool)((shape >> (3 + i)) & 1);
		uint16_t d = indirect ? (uint16_t)i : (uint16_t)((first + i) % size);
		uint16_t next = indirect ? (uint16_t)(i + 1) : (uint16_t)((first + i + 1) % size);

		gwrite(gpa, bytes, n < len ? n : len);
		put_desc(table, d, gpa, len,
			 (uint16_t)((writable ? VIRTQ_DESC_F_WRITE : 0) |
				    (i + 1 < nbuf ? VIRTQ_DESC_F_NEXT : 0)), next);
	}
	if (indirect) {
		put_desc(v->desc_gpa, head, table, 16 * nbuf, VIRTQ_DESC_F_INDIRECT, 0);
		drv.next_desc[q] = (uint16_t)(head + 1);
	} else {
		drv.next_desc[q] = (uint16_t)(head + nbuf);
	}
	make_avail(q, head);
}

/*
 * OP_FRAME: u8 kind: (kind & 0x7f) 6 -EAGAIN, 7 end of file, 8 -EIO, else
 * a frame of len bytes (bit 7: 64 KiB more); u16 len; u8 n, n bytes: the
 * frame's first bytes (header included), the rest a pattern.
 */
static void op_frame(struct input *in)
{
	uint8_t kind = in_u8(in);
	uint32_t len = in_u16(in) | (kind & 0x80 ? 0x10000u : 0);
	size_t n;
	const uint8_t *bytes = in_bytes(in, in_u8(in), &n);
	struct frame fr = { .data = bytes, .n = n };

	switch (kind & 0x7f) {
	case 6:
		fr.rc = -EAGAIN;
		break;
	case 7:
		fr.rc = 0;
		break;
	case 8:
		fr.rc = -EIO;
		break;
	default:
		fr.rc = (int32_t)(len ? len : 1);
		break;
	}
	if (fb.count == MAX_FRAMES)
		return;
	fb.frame[(fb.head + fb.count++) % MAX_FRAMES] = fr;
}

static void serve(uint32_t pending)
{
	struct virtio_device *dev = &net.dev;

	pthread_mutex_lock(&dev->lock);
	virtio_net_serve(dev, pending);
	pthread_mutex_unlock(&dev->lock);
	/* A running queue never has more chains out than it has entries. */
	for (unsigned q = 0; q < 2; q++) {
		const struct virtq *v = vq(q);
		if (v->ready && (uint16_t)(v->last_avail - v->used_idx) > v->size)
			abort();
	}
	if (net.rx_len > VIRTIO_NET_MAX_BUF)
		abort();
}

static void command(struct input *in)
{
	uint8_t op = in_u8(in);
	unsigned q = op & 0x80 ? VIRTIO_NET_TXQ : VIRTIO_NET_RXQ;

	switch ((op & 0x7f) % NR_OPS) {
	case OP_DESC: {
		uint16_t i = in_u16(in);
		uint64_t addr = decode_gpa(in_u32(in));
		uint32_t len = in_u32(in);
		uint16_t flags = in_u16(in);
		put_desc(vq(q)->desc_gpa, vq(q)->size ? i % vq(q)->size : i, addr, len, flags, in_u16(in));
		break;
	}
	case OP_CHAIN:
		op_chain(in, q);
		break;
	case OP_AVAIL:
		make_avail(q, in_u16(in));
		break;
	case OP_AVAIL_IDX:
		drv.avail_idx[q] = in_u16(in);
		gwrite(vq(q)->avail_gpa + 2, &drv.avail_idx[q], sizeof(drv.avail_idx[q]));
		break;
	case OP_MEM: {
		uint64_t gpa = decode_gpa(in_u32(in));
		size_t n;
		const uint8_t *bytes = in_bytes(in, in_u8(in), &n);
		gwrite(gpa, bytes, n);
		break;
	}
	case OP_FRAME:
		op_frame(in);
		break;
	case OP_SERVE: {
		uint8_t m = in_u8(in);
		serve((m & 1 ? VIRTIO_WORKER_QUEUE(VIRTIO_NET_TXQ) : 0) |
		      (m & 2 ? VIRTIO_WORKER_QUEUE(VIRTIO_NET_RXQ) : 0) |
		      (m & 4 ? VIRTIO_WORKER_EXTRA(VIRTIO_NET_WATCH_BE) : 0));
		break;
	}
	case OP_SEND_RC: {
		static const int rc[] = { 0, -EAGAIN, -EIO, -ENOBUFS };
		fb.send_rc = rc[in_u8(in) % 4];
		break;
	}
	case OP_RING: {
		uint16_t flags = in_u16(in), used_event = in_u16(in);
		gwrite(vq(q)->avail_gpa, &flags, sizeof(flags));
		gwrite(vq(q)->avail_gpa + 4 + 2ULL * vq(q)->size, &used_event, sizeof(used_event));
		break;
	}
	case OP_RESET:
		pthread_mutex_lock(&net.dev.lock);
		virtio_write_status(&net.dev, 0);
		driver_setup(in);
		pthread_mutex_unlock(&net.dev.lock);
		break;
	case OP_CONFIG: {
		uint8_t off = in_u8(in), len = in_u8(in) % 9, buf[8];
		if (len && off + len <= net.dev.config_size) /* mmio.c's check */
			net.dev.ops->config_read(&net.dev, off, buf, len);
		break;
	}
	}
}

/* ---- libFuzzer --------------------------------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct ember_err err = { .msg = "" };

	if (!region0)
		ram_init();
	memset(region0, 0, R0_SIZE);
	memset(region1, 0, R1_SIZE);

	/* u8 flags: bit 0, a back end with offloads (the device offers CSUM/TSO); bit 1, no set_offload. */
	uint8_t flags = in_u8(&in);
	memset(&fb, 0, sizeof(fb));
	fb.be = (struct net_backend){ .ops = flags & 2 ? &fake_plain_ops : &fake_ops, .fd = -1,
				      .offloads = flags & 1, .what = "fuzz", .priv = &fb };
	if (virtio_net_init(&net, &fb.be, fuzz_mac, &err)) {
		fprintf(stderr, "fuzz_net: %s\n", err.msg);
		abort();
	}
	/* What virtio_device_attach would have done, without eventfds: nothing waits on them. */
	struct virtio_device *dev = &net.dev;
	dev->machine = &vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	/* The "needs reset" line would be printed for most inputs: it is once per device. */
	dev->broken_logged = true;
	memset(&drv, 0, sizeof(drv));
	drv.heap = HEAP_GPA;

	pthread_mutex_lock(&dev->lock);
	driver_setup(&in);
	pthread_mutex_unlock(&dev->lock);
	while (in.left)
		command(&in);
	serve(VIRTIO_WORKER_QUEUE(VIRTIO_NET_TXQ) | VIRTIO_WORKER_QUEUE(VIRTIO_NET_RXQ) |
	      VIRTIO_WORKER_EXTRA(VIRTIO_NET_WATCH_BE));

	virtio_net_uninit(&net); /* the worker's eventfd; the back end is ours */
	pthread_mutex_destroy(&dev->lock);
	return 0;
}
