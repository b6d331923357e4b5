// SPDX-License-Identifier: GPL-2.0-only
/*
 * A hostile virtio driver.  Finds ember's virtio-rng on the virtio-mmio
 * slots, drives its registers by hand with rings in this guest's own
 * memory (identity mapped), checks one good request, then feeds it broken
 * rings: each must leave the device in NEEDS_RESET (virtio 1.2 §2.1.2)
 * with a configuration-change interrupt pending, and a reset must bring it
 * back.  ember must neither crash nor hang nor touch memory outside RAM.
 *
 * When there is a virtio-net (--net), its tx queue gets the same: a good
 * frame, four chains that cannot be a frame (virtio/net.c drops each and
 * returns it, used len 0, the device stays live), and the four broken rings.
 *
 * Output: "good chain ok", one "<case> -> needs reset ok" per case; with
 * virtio-net "net good tx ok", one "net <case> -> dropped ok" or "net
 * <case> -> needs reset ok" per case; then "hostile ok" and exit 0.
 * Anything unexpected: a line saying what, exit 1.
 */
#include "guest.h"

#define MMIO_FIRST 0xd0000000UL /* ARCH_VIRTIO_MMIO_BASE: slot i at + i * 0x1000 */
#define MMIO_SLOTS 18

/* virtio-mmio registers (virtio 1.2 §4.2.2) */
#define R_MAGIC          0x000
#define R_VERSION        0x004
#define R_DEVICE_ID      0x008
#define R_DEV_FEATURES   0x010
#define R_DEV_FEAT_SEL   0x014
#define R_DRV_FEATURES   0x020
#define R_DRV_FEAT_SEL   0x024
#define R_QUEUE_SEL      0x030
#define R_QUEUE_NUM_MAX  0x034
#define R_QUEUE_NUM      0x038
#define R_QUEUE_READY    0x044
#define R_QUEUE_NOTIFY   0x050
#define R_INT_STATUS     0x060
#define R_INT_ACK        0x064
#define R_STATUS         0x070
#define R_DESC_LO        0x080
#define R_DESC_HI        0x084
#define R_DRIVER_LO      0x090
#define R_DRIVER_HI      0x094
#define R_DEVICE_LO      0x0a0
#define R_DEVICE_HI      0x0a4

#define S_ACK         1
#define S_DRIVER      2
#define S_DRIVER_OK   4
#define S_FEATURES_OK 8
#define S_NEEDS_RESET 0x40

#define F_INDIRECT (1u << 28) /* low half */
#define F_VERSION1 (1u << 0)  /* high half: bit 32 */

#define D_NEXT     1
#define D_WRITE    2
#define D_INDIRECT 4

#define QSZ      8
#define OUTSIDE  0x7ff000000000ULL /* far beyond any RAM ember gives a guest */
#define POLLS    200000            /* bounded waits: a broken device fails, not hangs */

#define NET_HDR     12                         /* struct virtio_net_hdr_v1 */
#define NET_MAX_BUF (NET_HDR + 65535 + 14 + 4) /* VIRTIO_NET_MAX_BUF, virtio/net.h */
#define RAM_LOW     0x100000UL                 /* this guest's image: RAM the device may read */

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

static struct desc ring_desc[QSZ] __attribute__((aligned(4096)));
static struct {
	uint16_t flags, idx, ring[QSZ], used_event;
} ring_avail __attribute__((aligned(4096)));
static struct {
	uint16_t flags, idx;
	struct { uint32_t id, len; } ring[QSZ];
	uint16_t avail_event;
} ring_used __attribute__((aligned(4096)));
static struct desc indirect[2] __attribute__((aligned(16)));
static uint8_t buf[32] __attribute__((aligned(16)));
/* A zeroed header (no offload asked), then a broadcast frame of a local experimental type. */
static const uint8_t tx_frame[NET_HDR + 60] = {
	[NET_HDR] = 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* destination */
	0x52, 0x54, 0x00, 0x12, 0x34, 0x56,            /* source: ember's default guest MAC */
	0x88, 0xb5,                                    /* EtherType: IEEE 802 local experimental */
};

static uintptr_t base;
static uint32_t queue; /* the queue under attack: rng's 0, or virtio-net's tx (1) */
static const char *current = "setup"; /* the case under way, for failure messages */

static uint32_t rd(uint32_t off)
{
	return *(volatile uint32_t *)(base + off);
}

static void wr(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(base + off) = v;
}

static void barrier(void)
{
	__asm__ volatile("" : : : "memory");
}

static void bad(const char *what, uint64_t got)
{
	uart_puts("virtio_hostile: ");
	uart_puts(current);
	uart_puts(": ");
	uart_puts(what);
	uart_puts(" (got ");
	uart_put_hex(got);
	fail(1, ")\n");
}

/* The slot of the first device with this id, or 0 (base is then the slot probed last). */
static uintptr_t find_device(uint32_t id)
{
	for (unsigned i = 0; i < MMIO_SLOTS; i++) {
		base = MMIO_FIRST + i * 0x1000UL;
		if (rd(R_MAGIC) != 0x74726976)
			break; /* slots are filled in order: no device past an empty one */
		if (rd(R_DEVICE_ID) != id)
			continue;
		if (rd(R_VERSION) != 2)
			bad("version is not 2", rd(R_VERSION));
		return base;
	}
	return 0;
}

static void set_addr(uint32_t lo, uint64_t a)
{
	wr(lo, (uint32_t)a);
	wr(lo + 4, (uint32_t)(a >> 32));
}

/*
 * Reset, negotiate (VERSION_1 plus `low` feature bits), `queue` at the
 * given ring addresses.  Returns with DRIVER_OK set unless the queue
 * refused to start (the caller checks).
 */
static void setup_rings(uint32_t low, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(R_STATUS, 0);
	if (rd(R_STATUS) != 0)
		bad("status after reset", rd(R_STATUS));
	memset(ring_desc, 0, sizeof(ring_desc));
	memset(&ring_avail, 0, sizeof(ring_avail));
	memset(&ring_used, 0, sizeof(ring_used));
	memset(buf, 0, sizeof(buf));
	barrier();

	wr(R_STATUS, S_ACK);
	wr(R_STATUS, S_ACK | S_DRIVER);
	wr(R_DEV_FEAT_SEL, 1);
	if (!(rd(R_DEV_FEATURES) & F_VERSION1))
		bad("VERSION_1 not offered", rd(R_DEV_FEATURES));
	wr(R_DEV_FEAT_SEL, 0);
	if ((rd(R_DEV_FEATURES) & low) != low)
		bad("features not offered", rd(R_DEV_FEATURES));
	wr(R_DRV_FEAT_SEL, 0);
	wr(R_DRV_FEATURES, low);
	wr(R_DRV_FEAT_SEL, 1);
	wr(R_DRV_FEATURES, F_VERSION1);
	wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(R_STATUS) & S_FEATURES_OK))
		bad("FEATURES_OK refused", rd(R_STATUS));

	wr(R_QUEUE_SEL, queue);
	if (rd(R_QUEUE_NUM_MAX) < QSZ)
		bad("queue too small", rd(R_QUEUE_NUM_MAX));
	if (rd(R_QUEUE_READY) != 0)
		bad("queue ready after reset", 1);
	wr(R_QUEUE_NUM, QSZ);
	set_addr(R_DESC_LO, desc);
	set_addr(R_DRIVER_LO, avail);
	set_addr(R_DEVICE_LO, used);
	wr(R_QUEUE_READY, 1);
	wr(R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

static void setup(uint32_t low)
{
	setup_rings(low, (uintptr_t)ring_desc, (uintptr_t)&ring_avail, (uintptr_t)&ring_used);
	if (rd(R_QUEUE_READY) != 1)
		bad("queue did not start", rd(R_STATUS));
	if (rd(R_STATUS) != (S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK))
		bad("status after DRIVER_OK", rd(R_STATUS));
}

/* Publishes descriptor `head` in the next avail slot (idx moved by `step`) and notifies. */
static void submit(uint16_t head, uint16_t step)
{
	ring_avail.ring[ring_avail.idx % QSZ] = head;
	barrier();
	ring_avail.idx = (uint16_t)(ring_avail.idx + step);
	barrier();
	wr(R_QUEUE_NOTIFY, queue);
}

/* Waits (bounded) for the one chain submitted, head 0, to come back with `len` written. */
static void expect_used(uint16_t used_before, uint32_t len)
{
	for (int i = 0; i < POLLS && *(volatile uint16_t *)&ring_used.idx == used_before; i++)
		__asm__ volatile("pause");
	barrier();
	if (ring_used.idx != (uint16_t)(used_before + 1))
		bad("used idx did not advance by one", ring_used.idx);
	if (ring_used.ring[used_before % QSZ].id != 0)
		bad("used id", ring_used.ring[used_before % QSZ].id);
	if (ring_used.ring[used_before % QSZ].len != len)
		bad("used len", ring_used.ring[used_before % QSZ].len);
}

/* One device-writable request of 16 bytes, directly or through an indirect table. */
static void good_request(int via_indirect)
{
	uint16_t used_before = ring_used.idx;

	memset(buf, 0, sizeof(buf));
	if (via_indirect) {
		indirect[0] = (struct desc){ (uintptr_t)buf, 8, D_NEXT | D_WRITE, 1 };
		indirect[1] = (struct desc){ (uintptr_t)buf + 8, 8, D_WRITE, 0 };
		ring_desc[0] = (struct desc){ (uintptr_t)indirect, sizeof(indirect), D_INDIRECT, 0 };
	} else {
		ring_desc[0] = (struct desc){ (uintptr_t)buf, 16, D_WRITE, 0 };
	}
	submit(0, 1);
	expect_used(used_before, 16);
	static const uint8_t zero[16];
	if (!memcmp(buf, zero, 16)) /* 2^-128: random bytes are never all zero */
		bad("buffer not written", 0);
	for (unsigned i = 16; i < sizeof(buf); i++)
		if (buf[i])
			bad("device wrote past the buffer at offset", i);
	if (rd(R_STATUS) & S_NEEDS_RESET)
		bad("NEEDS_RESET after a good request", rd(R_STATUS));
}

/* The case is done: NEEDS_RESET set, config interrupt raised, reset works. */
static void expect_needs_reset(const char *name)
{
	uint32_t status = 0;

	current = name;
	for (int i = 0; i < POLLS && !((status = rd(R_STATUS)) & S_NEEDS_RESET); i++)
		__asm__ volatile("pause");
	if (!(status & S_NEEDS_RESET))
		bad("no NEEDS_RESET in status", status);
	if (!(rd(R_INT_STATUS) & 2))
		bad("no configuration-change interrupt", rd(R_INT_STATUS));
	wr(R_INT_ACK, 3);
	if (rd(R_INT_STATUS) & 2)
		bad("interrupt ack did not clear", rd(R_INT_STATUS));
	wr(R_STATUS, 0);
	if (rd(R_STATUS) != 0)
		bad("status after reset from NEEDS_RESET", rd(R_STATUS));
	uart_puts(name);
	uart_puts(" -> needs reset ok\n");
}

/*
 * The tx chain at head 0 comes back unwritten, used len 0 (the device only
 * reads tx buffers, so a frame sent and one dropped look alike), and the
 * device is still live.
 */
static void tx_returned(void)
{
	static const uint8_t zero[sizeof(buf)];
	uint16_t used_before = ring_used.idx;

	submit(0, 1);
	expect_used(used_before, 0);
	if (memcmp(buf, zero, sizeof(buf)))
		bad("device wrote into a tx chain", buf[0]);
	if (rd(R_STATUS) & S_NEEDS_RESET)
		bad("NEEDS_RESET after a tx chain", rd(R_STATUS));
}

/* Header and frame in two descriptors, as Linux's virtio_net sends them without offloads. */
static void tx_good(void)
{
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, NET_HDR, D_NEXT, 1 };
	ring_desc[1] = (struct desc){ (uintptr_t)tx_frame + NET_HDR, sizeof(tx_frame) - NET_HDR, 0, 0 };
	tx_returned();
}

/* virtio/net.c: a chain that cannot be a frame costs that frame, not the device. */
static void tx_dropped(const char *name)
{
	current = name;
	tx_returned();
	uart_puts(name);
	uart_puts(" -> dropped ok\n");
}

static void attack_net_tx(void)
{
	current = "net good tx";
	setup(0);
	tx_good();
	uart_puts("net good tx ok\n");

	/* Dropped, one after another on the same rings. */
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, 0, 0, 0 };
	tx_dropped("net zero-length");

	/* Five pieces of RAM, one byte more than the largest GSO frame with its header. */
	for (uint16_t i = 0; i < 4; i++)
		ring_desc[i] = (struct desc){ RAM_LOW, 16384, D_NEXT, (uint16_t)(i + 1) };
	ring_desc[4] = (struct desc){ RAM_LOW, NET_MAX_BUF + 1 - 4 * 16384, 0, 0 };
	tx_dropped("net over-max-buf");

	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, NET_HDR - 1, 0, 0 };
	tx_dropped("net short-header");

	/* A whole frame, then a buffer for the device to write: tx is read-only (§5.1.6.2). */
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, sizeof(tx_frame), D_NEXT, 1 };
	ring_desc[1] = (struct desc){ (uintptr_t)buf, sizeof(buf), D_WRITE, 0 };
	tx_dropped("net device-writable");

	current = "net good tx after drops";
	tx_good();

	/* Broken rings: virtq_pop refuses them, NEEDS_RESET as for virtio-rng. */
	current = "net desc-outside-ram";
	setup(0);
	ring_desc[0] = (struct desc){ OUTSIDE, sizeof(tx_frame), 0, 0 };
	submit(0, 1);
	expect_needs_reset("net desc-outside-ram");

	current = "net desc-loop";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, NET_HDR, D_NEXT, 1 };
	ring_desc[1] = (struct desc){ (uintptr_t)tx_frame + NET_HDR, 60, D_NEXT, 0 };
	submit(0, 1);
	expect_needs_reset("net desc-loop");

	current = "net next-out-of-range";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, NET_HDR, D_NEXT, QSZ };
	submit(0, 1);
	expect_needs_reset("net next-out-of-range");

	current = "net avail-idx-jump";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)tx_frame, sizeof(tx_frame), 0, 0 };
	submit(0, QSZ + 1);
	expect_needs_reset("net avail-idx-jump");

	current = "net good tx after resets";
	setup(0);
	tx_good();
}

int guest_main(const void *boot_params)
{
	(void)boot_params;
	uintptr_t rng = find_device(4);
	if (!rng)
		bad("no virtio-rng on the virtio-mmio slots: last magic", rd(R_MAGIC));
	base = rng;

	current = "good chain";
	setup(0);
	good_request(0);
	uart_puts("good chain ok\n");

	/* (a) a buffer far outside guest RAM */
	current = "desc-outside-ram";
	setup(0);
	ring_desc[0] = (struct desc){ OUTSIDE, 16, D_WRITE, 0 };
	submit(0, 1);
	expect_needs_reset("desc-outside-ram");

	/* (b) a descriptor loop: 0 -> 1 -> 0 -> ... */
	current = "desc-loop";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)buf, 8, D_WRITE | D_NEXT, 1 };
	ring_desc[1] = (struct desc){ (uintptr_t)buf + 8, 8, D_WRITE | D_NEXT, 0 };
	submit(0, 1);
	expect_needs_reset("desc-loop");

	/* (c) next index past the queue */
	current = "next-out-of-range";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)buf, 8, D_WRITE | D_NEXT, QSZ };
	submit(0, 1);
	expect_needs_reset("next-out-of-range");

	/* (d) avail idx moved by more than the queue size */
	current = "avail-idx-jump";
	setup(0);
	ring_desc[0] = (struct desc){ (uintptr_t)buf, 16, D_WRITE, 0 };
	submit(0, QSZ + 1);
	expect_needs_reset("avail-idx-jump");

	/* (e) an indirect table outside RAM, after a good indirect request */
	current = "indirect-outside-ram";
	setup(F_INDIRECT);
	good_request(1);
	ring_desc[0] = (struct desc){ OUTSIDE, 2 * sizeof(struct desc), D_INDIRECT, 0 };
	submit(0, 1);
	expect_needs_reset("indirect-outside-ram");

	/* (f) rings outside RAM: QueueReady must not start the queue */
	current = "rings-outside-ram";
	setup_rings(0, OUTSIDE, (uintptr_t)&ring_avail, (uintptr_t)&ring_used);
	if (rd(R_QUEUE_READY) != 0)
		bad("queue with rings outside RAM is ready", 1);
	expect_needs_reset("rings-outside-ram");

	/* The device still works after all that. */
	current = "good chain after resets";
	setup(0);
	good_request(0);

	uintptr_t net = find_device(1);
	if (net) {
		base = net;
		queue = 1; /* tx; rx (0) stays unset, so the device never reads its back end */
		attack_net_tx();
	}

	uart_puts("hostile ok\n");
	return 0;
}
