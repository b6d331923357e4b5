// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for virtio-vsock (virtio/vsock.c): the input is a
 * hostile guest driver's packets on the tx queue (any op, CID, port, type,
 * flags, credit, a len that may lie, a header split across buffers or cut
 * short, direct or indirect chains), the receive and event buffers it
 * posts, and what host programs do meanwhile: clients that connect to the
 * device's socket and send a CONNECT line (or garbage), host peers that
 * write, read, half-close or close.  The device's thread is not started:
 * the harness calls virtio_vsock_poll(), what the thread does when woken,
 * as tests/unit/test_vsock.c does.
 *
 * One device for the whole run, made on the first input: virtio_vsock_new
 * forks its connector process then (before libFuzzer starts any thread),
 * never per input.  Its socket lives in a fresh directory under /tmp, next
 * to listeners at "<path>_1024" and "<path>_1025" that guest connects
 * reach through the connector (port 1026 has none: refused, an RST); all
 * of it goes at exit (after a crash, libFuzzer's _Exit leaves the
 * directory and its two listeners' names).  Between inputs the driver resets the device
 * (status 0: every connection closes, the RST ring empties) after the host
 * side closed its ends and the device saw them go, so that one input
 * leaves nothing to the next: no connection, no allocation, no descriptor.
 *
 * Guest RAM is two regions, adjacent in guest-physical space but separate
 * heap blocks, so that ASan reports any byte touched outside them.  Besides
 * ASan and UBSan, the harness checks, unless the input wrote descriptors or
 * rings by hand (OP_RAW):
 *   - every packet the device puts on rx: used length at least a header and
 *     within the buffers; dst_cid the guest's; a stream packet; a known op;
 *     len equal to the bytes that follow, data only in RW; our buffer
 *     size in all but an RST; SHUTDOWN flags only in SHUTDOWN;
 *   - tx chains come back with nothing written; event buffers with one event;
 *   - bytes arrive intact both ways: guest and host always send a pattern
 *     indexed by the byte's offset in its stream (the data means nothing to
 *     the device), the harness counts offsets per connection as the driver
 *     would, and compares whatever a host peer or an rx packet receives;
 *   - at most VIRTIO_VSOCK_MAX_CONNS connections, none after a reset.
 *
 * Input: u8 features, u8 x 3 queue sizes (driver_setup), then commands to
 * the end, then a last poll; an opcode byte (modulo NR_OPS) and operands,
 * little-endian, missing bytes read as zero:
 *   OP_TX       a guest packet (op_tx says how the bytes are read)
 *   OP_RX       u8 count, u8 shape [, u16 size]: receive buffers
 *   OP_EVT      u8 count, u8 size: event buffers
 *   OP_POLL     u8 n: n % 3 + 1 rounds of the device thread's work
 *   OP_CONNECT  u8 how [, u8 n, n bytes]: a host client and its line
 *   OP_WRITE    u8 peer, u16 len: a host peer writes
 *   OP_READ     u8 peer: a host peer reads what it has (and checks it)
 *   OP_SHUT     u8 peer, u8 how: shutdown(SHUT_WR / SHUT_RD) or close
 *   OP_RESTORE  the device was restored from a snapshot (TRANSPORT_RESET owed)
 *   OP_RAW      u8 what, ...: a raw descriptor, avail index or memory
 *   OP_RESET    a device reset, then driver_setup again
 *   OP_CONFIG   u8 offset, u8 len: a config space read (the transport's check first)
 * The seeds in tests/fuzz/corpus/vsock were written by hand: a guest
 * connect with data both ways, a host client's CONNECT answered by the
 * guest, and malformed packets.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "virtio/vsock.h"
#include "vm/machine.h"

#define GUEST_CID 3
#define HDR       VIRTIO_VSOCK_HDR_SIZE
#define NQ        3

#define R0_SIZE   0x40000u                 /* region 0: gpa 0 */
#define R1_GPA    R0_SIZE                  /* region 1: right after it, another heap block */
#define R1_SIZE   0x4000u
#define RAM_END   (R1_GPA + R1_SIZE)
/* Queue q's rings: descriptors, avail and used, 256 entries each. */
#define DESC_GPA(q)  ((uint64_t)(q) * 0x2000)
#define AVAIL_GPA(q) (DESC_GPA(q) + 0x1000)
#define USED_GPA(q)  (DESC_GPA(q) + 0x1400)
#define RINGS_END    0x6000u
/* Receive and event buffers: a slot per descriptor (those queues have at most SMALL_Q entries). */
#define SMALL_Q      32
#define RX_SLOT      0x1040u               /* 4 KiB of data and a header */
#define RX_GPA(d)    (0x8000 + (uint64_t)(d) * RX_SLOT)
#define EV_GPA(d)    (0x29000 + (uint64_t)(d) * 16)
/* tx packets: a heap, given back whenever the device has taken them all. */
#define HEAP_GPA     0x2a000u
#define HEAP_END     R0_SIZE

#define MAX_PEERS 32
#define MAX_SEEN  16
#define MAX_PAIRS 64

enum { OP_TX, OP_RX, OP_EVT, OP_POLL, OP_CONNECT, OP_WRITE, OP_READ, OP_SHUT, OP_RESTORE, OP_RAW,
       OP_RESET, OP_CONFIG, NR_OPS };

/* Guest ports the packets use, and host ports that have a listener (1026 has none). */
static const uint32_t guest_ports[4] = { 1000, 1001, 1002, 1003 };
static const uint32_t host_ports[3] = { 1024, 1025, 1026 };

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

static uint64_t in_u64(struct input *in)
{
	uint64_t lo = in_u32(in);
	return lo | (uint64_t)in_u32(in) << 32;
}

/* ---- the world: guest RAM, the device, the host's sockets --------------------------------- */

static uint8_t *region0, *region1;        /* malloc'd: ASan's redzones around each */
static struct machine vm;                 /* only vm.mem is used */
static struct virtio_device *dev;
static char dir[64], path[96];
static int listen_fd[2] = { -1, -1 };     /* "<path>_1024", "<path>_1025" */

/* A host program's end of a connection: accepted from a listener, or a client of the device's socket. */
struct peer {
	int fd;
	uint64_t rd_off, wr_off;  /* bytes read and written in the pattern's stream */
	bool skip_line;           /* a client: "OK <port>\n" comes first */
	bool unchecked;           /* its line was the input's: what it reads is not checked */
};

/* A connection as the driver sees it (ports of its packets), and its streams' offsets. */
struct pair {
	uint32_t guest_port, host_port;
	uint64_t tx_off;          /* bytes the guest sent on it */
	uint64_t rx_off;          /* bytes the guest received */
};

static struct driver {
	uint16_t size[NQ];
	uint16_t avail_idx[NQ], next_desc[NQ], used_seen[NQ];
	unsigned outstanding[NQ];             /* descriptors posted and not returned */
	uint8_t chain_len[NQ][VIRTQ_MAX_SIZE]; /* descriptors of the chain at each head */
	uint32_t rx_len[SMALL_Q][2];          /* bytes of the rx chain's buffers at each head */
	uint32_t heap;
	bool raw;                             /* OP_RAW: rings and buffers are the input's */
	bool rx_unchecked;                    /* a client line of the input's: data not a pattern */
	struct peer peer[MAX_PEERS];
	unsigned npeers;
	struct { uint32_t src_port, dst_port; } seen[MAX_SEEN]; /* rx REQUEST/RESPONSE ports */
	unsigned nseen;
	struct pair pair[MAX_PAIRS];
	unsigned npairs;
	bool pairs_full;
} drv;

/*
 * The byte at offset i of every stream is pattern[i % PATTERN_PERIOD]: a
 * prime period, so a byte misplaced by anything but a multiple of it shows
 * (the device's buffer is 2^18).  Copied and compared a run at a time: a
 * loop over bytes would cost most of the harness's time in coverage hooks.
 */
#define PATTERN_PERIOD 65521u
static uint8_t pattern[PATTERN_PERIOD];

static void pattern_init(void)
{
	for (uint32_t i = 0; i < PATTERN_PERIOD; i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 8) * 13 + 1);
}

static void fill_pattern(uint8_t *p, size_t n, uint64_t off)
{
	while (n) {
		uint32_t at = (uint32_t)(off % PATTERN_PERIOD);
		size_t run = PATTERN_PERIOD - at < n ? PATTERN_PERIOD - at : n;
		memcpy(p, pattern + at, run);
		p += run;
		off += run;
		n -= run;
	}
}

/* Whether p holds the stream's n bytes from off; if not, *bad is the offset of the first wrong one. */
static bool is_pattern(const uint8_t *p, size_t n, uint64_t off, uint64_t *bad)
{
	while (n) {
		uint32_t at = (uint32_t)(off % PATTERN_PERIOD);
		size_t run = PATTERN_PERIOD - at < n ? PATTERN_PERIOD - at : n;
		if (memcmp(p, pattern + at, run)) {
			for (*bad = off; p[*bad - off] == pattern[*bad % PATTERN_PERIOD]; (*bad)++)
				;
			return false;
		}
		p += run;
		off += run;
		n -= run;
	}
	return true;
}

static void *gptr(uint64_t gpa, uint64_t len)
{
	return guest_ptr(&vm.mem, gpa, len);
}

static void gwrite(uint64_t gpa, const void *src, size_t len)
{
	void *dst = gptr(gpa, len);
	if (dst && len)
		memcpy(dst, src, len);
}

/* A connection's streams, made when `create` (a REQUEST or RESPONSE went by); else NULL when unknown. */
static struct pair *pair_find(uint32_t guest_port, uint32_t host_port, bool create)
{
	for (unsigned i = 0; i < drv.npairs; i++)
		if (drv.pair[i].guest_port == guest_port && drv.pair[i].host_port == host_port)
			return &drv.pair[i];
	if (!create)
		return NULL;
	if (drv.npairs == MAX_PAIRS) {
		drv.pairs_full = true; /* offsets no longer known: data is not checked */
		return NULL;
	}
	drv.pair[drv.npairs] = (struct pair){ guest_port, host_port, 0, 0 };
	return &drv.pair[drv.npairs++];
}

/* ---- the host side ----------------------------------------------------------------------- */

static bool checking(void)
{
	return !drv.raw && !drv.pairs_full;
}

static void peer_add(int fd, bool skip_line, bool unchecked)
{
	if (drv.npeers == MAX_PEERS) {
		close(fd);
		return;
	}
	drv.peer[drv.npeers++] = (struct peer){ .fd = fd, .skip_line = skip_line, .unchecked = unchecked };
}

static void peer_close(unsigned i)
{
	close(drv.peer[i].fd);
	drv.peer[i] = drv.peer[--drv.npeers];
}

/* The connector's connections for guest REQUESTs, in the order they were made. */
static void accept_peers(void)
{
	for (unsigned l = 0; l < 2; l++) {
		int fd;
		while ((fd = accept4(listen_fd[l], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0)
			peer_add(fd, false, false);
	}
}

/* Whatever the peer can read now: the guest's bytes, in order, after a client's "OK" line. */
static void peer_read(struct peer *p)
{
	static uint8_t buf[64 * 1024];

	for (unsigned round = 0; round < 16; round++) {
		ssize_t n = read(p->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		const uint8_t *data = buf;
		uint64_t bad;
		if (p->skip_line) {
			const uint8_t *nl = memchr(buf, '\n', (size_t)n);
			p->skip_line = !nl;
			data = nl ? nl + 1 : buf + n;
		}
		size_t len = (size_t)(buf + n - data);
		if (checking() && !p->unchecked && !is_pattern(data, len, p->rd_off, &bad)) {
			fprintf(stderr, "fuzz_vsock: a host peer read byte %llu of its stream wrong\n",
				(unsigned long long)bad);
			abort();
		}
		p->rd_off += len;
	}
}

static void peer_write(struct peer *p, size_t len)
{
	static uint8_t buf[64 * 1024];

	if (len > sizeof(buf))
		len = sizeof(buf);
	fill_pattern(buf, len, p->wr_off);
	ssize_t n = send(p->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n > 0)
		p->wr_off += (uint64_t)n;
}

/* ---- the driver -------------------------------------------------------------------------- */

static uint16_t used_idx(unsigned q)
{
	uint16_t *u = gptr(USED_GPA(q) + 2, 2);
	return u ? __atomic_load_n(u, __ATOMIC_ACQUIRE) : 0;
}

static void make_avail(unsigned q, uint16_t head)
{
	uint16_t slot = drv.size[q] ? drv.avail_idx[q] % drv.size[q] : 0;

	gwrite(AVAIL_GPA(q) + 4 + 2ULL * slot, &head, sizeof(head));
	drv.avail_idx[q]++;
	__atomic_thread_fence(__ATOMIC_RELEASE);
	gwrite(AVAIL_GPA(q) + 2, &drv.avail_idx[q], sizeof(drv.avail_idx[q]));
}

static void put_desc(uint64_t table, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	struct virtq_desc d = { .addr = addr, .len = len, .flags = flags, .next = next };
	gwrite(table + 16ULL * i, &d, sizeof(d));
}

/* n descriptors of queue q, or false when the driver must wait for the device to give some back. */
static bool take_descs(unsigned q, unsigned n, uint16_t *first)
{
	if (!drv.size[q] || drv.outstanding[q] + n > drv.size[q])
		return false;
	*first = drv.next_desc[q];
	drv.next_desc[q] = (uint16_t)((drv.next_desc[q] + n) % drv.size[q]);
	drv.outstanding[q] += n;
	return true;
}

/* The ports of a REQUEST or RESPONSE the guest got, for packets that answer it (OP_TX). */
static void record_seen(const struct virtio_vsock_hdr *h)
{
	unsigned i = drv.nseen < MAX_SEEN ? drv.nseen++ : h->src_port % MAX_SEEN;

	drv.seen[i].src_port = h->src_port;
	drv.seen[i].dst_port = h->dst_port;
}

/* One packet the device returned on rx: checked, and its data against its stream. */
static void check_rx(uint16_t head, uint32_t len)
{
	static uint8_t pkt[HDR + RX_SLOT];
	struct virtio_vsock_hdr h;
	uint32_t got = 0;

	uint32_t total = drv.rx_len[head][0] + drv.rx_len[head][1];

	if (len < HDR || len > total) {
		fprintf(stderr, "fuzz_vsock: rx used length %u (buffers %u)\n", len, total);
		abort();
	}
	/* Gather the chain as posted: one buffer, or two in consecutive descriptors. */
	for (uint16_t d = head, i = 0; i < drv.chain_len[0][head] && got < len; i++) {
		uint32_t take = len - got < drv.rx_len[head][i] ? len - got : drv.rx_len[head][i];
		memcpy(pkt + got, gptr(RX_GPA(d), take), take);
		got += take;
		d = (uint16_t)((d + 1) % drv.size[0]);
	}
	memcpy(&h, pkt, HDR);
	bool ok = h.dst_cid == GUEST_CID && h.type == VIRTIO_VSOCK_TYPE_STREAM && h.len == len - HDR &&
		  (h.op == VIRTIO_VSOCK_OP_RW) == (h.len > 0) &&
		  (h.op == VIRTIO_VSOCK_OP_SHUTDOWN ? h.flags && !(h.flags & ~3u) : !h.flags);
	switch (h.op) {
	case VIRTIO_VSOCK_OP_RST:
		break; /* for a packet it never had a connection for: none of its counts */
	case VIRTIO_VSOCK_OP_REQUEST:
	case VIRTIO_VSOCK_OP_RESPONSE:
	case VIRTIO_VSOCK_OP_SHUTDOWN:
	case VIRTIO_VSOCK_OP_RW:
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		ok = ok && h.src_cid == VIRTIO_VSOCK_HOST_CID && h.buf_alloc == VIRTIO_VSOCK_BUF_ALLOC;
		break;
	default:
		ok = false;
	}
	if (!ok) {
		fprintf(stderr, "fuzz_vsock: bad rx packet: op %u len %u (used %u) cid %llu -> %llu "
			"type %u flags %#x buf_alloc %u\n", h.op, h.len, len,
			(unsigned long long)h.src_cid, (unsigned long long)h.dst_cid, h.type, h.flags,
			h.buf_alloc);
		abort();
	}
	if (h.op == VIRTIO_VSOCK_OP_REQUEST || h.op == VIRTIO_VSOCK_OP_RESPONSE) {
		/* A new connection: its stream starts again. */
		struct pair *pr = pair_find(h.dst_port, h.src_port, true);
		if (pr)
			pr->rx_off = 0;
		record_seen(&h);
	}
	if (h.op == VIRTIO_VSOCK_OP_RW) {
		struct pair *pr = pair_find(h.dst_port, h.src_port, false);
		if (!pr && checking()) {
			/* A connection's REQUEST or RESPONSE always goes before its data. */
			fprintf(stderr, "fuzz_vsock: rx data for %u -> %u, never announced\n", h.src_port,
				h.dst_port);
			abort();
		}
		if (!pr)
			return;
		uint64_t bad;
		if (checking() && !drv.rx_unchecked && !is_pattern(pkt + HDR, h.len, pr->rx_off, &bad)) {
			fprintf(stderr, "fuzz_vsock: rx data byte %llu of %u -> %u wrong\n",
				(unsigned long long)bad, h.src_port, h.dst_port);
			abort();
		}
		pr->rx_off += h.len;
	}
}

/* Takes back what the device returned on each queue (and checks it). */
static void reap(void)
{
	for (unsigned q = 0; q < NQ; q++) {
		uint16_t now = used_idx(q);
		if (!drv.size[q])
			continue;
		for (; drv.used_seen[q] != now; drv.used_seen[q]++) {
			struct virtq_used_elem e;
			uint64_t at = USED_GPA(q) + 4 + 8ULL * (drv.used_seen[q] % drv.size[q]);
			memcpy(&e, gptr(at, sizeof(e)), sizeof(e));
			if (e.id >= drv.size[q]) {
				if (!drv.raw)
					abort(); /* a head the ring never had */
				continue;
			}
			unsigned n = drv.chain_len[q][e.id];
			drv.outstanding[q] -= n < drv.outstanding[q] ? n : drv.outstanding[q];
			if (drv.raw)
				continue;
			if (q == VIRTIO_VSOCK_RXQ)
				check_rx((uint16_t)e.id, e.len);
			else if (q == VIRTIO_VSOCK_TXQ ? e.len != 0 :
				 e.len != 4 || *(uint32_t *)gptr(EV_GPA(e.id), 4) !=
						VIRTIO_VSOCK_EVENT_TRANSPORT_RESET)
				abort();
		}
	}
}

/* What the device thread does when woken, n times; then the host side catches up. */
static void poll_dev(unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		pthread_mutex_lock(&dev->lock);
		virtio_vsock_poll(dev);
		unsigned conns = virtio_vsock_nr_conns(dev);
		pthread_mutex_unlock(&dev->lock);
		if (conns > VIRTIO_VSOCK_MAX_CONNS)
			abort();
		accept_peers();
		reap();
	}
}

/*
 * The driver's set-up, as the transport passes it to the core:
 *   u8 feat   bit 0: EVENT_IDX, bit 1: INDIRECT_DESC, bit 2: no VERSION_1
 *             (FEATURES_OK is refused), bit 3: no DRIVER_OK, bit 4: the
 *             queues are enabled after DRIVER_OK, bits 5-7: queue q not enabled
 *   u8 x 3    queue sizes: rx and event 1 << (n % 6); tx 1 << (n % 9) below
 *             0x80, else 3 * (n - 0x80): not a power of two, or 0 past 256
 */
static void enable_queues(uint8_t feat)
{
	for (unsigned q = 0; q < NQ; q++)
		if (!((feat >> (5 + q)) & 1))
			virtio_enable_queue(dev, q);
}

static void driver_setup(struct input *in)
{
	uint8_t feat = in_u8(in);
	uint64_t want = 0;

	for (unsigned q = 0; q < NQ; q++) {
		uint8_t b = in_u8(in);
		unsigned n = 3u * (b - 0x80u);
		drv.size[q] = q != VIRTIO_VSOCK_TXQ ? (uint16_t)(1u << (b % 6)) :
			      b < 0x80 ? (uint16_t)(1u << (b % 9)) : (uint16_t)(n <= 256 ? n : 0);
	}
	if (feat & 1)
		want |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (feat & 2)
		want |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (!(feat & 4))
		want |= 1ULL << VIRTIO_F_VERSION_1;

	/* A driver zeroes its rings before it hands them over. */
	memset(region0, 0, RINGS_END);
	memset(drv.avail_idx, 0, sizeof(drv.avail_idx));
	memset(drv.next_desc, 0, sizeof(drv.next_desc));
	memset(drv.used_seen, 0, sizeof(drv.used_seen));
	memset(drv.outstanding, 0, sizeof(drv.outstanding));
	drv.heap = HEAP_GPA;
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE);
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	dev->driver_features = want;
	virtio_write_status(dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
			    VIRTIO_STATUS_FEATURES_OK);
	for (unsigned q = 0; q < NQ; q++) {
		dev->vq[q].size = drv.size[q];
		dev->vq[q].desc_gpa = DESC_GPA(q);
		dev->vq[q].avail_gpa = AVAIL_GPA(q);
		dev->vq[q].used_gpa = USED_GPA(q);
	}
	if (!(feat & 0x10))
		enable_queues(feat);
	if (!(feat & 8))
		virtio_write_status(dev, dev->status | VIRTIO_STATUS_DRIVER_OK);
	if (feat & 0x10)
		enable_queues(feat);
}

static void locked_setup(struct input *in)
{
	pthread_mutex_lock(&dev->lock);
	driver_setup(in);
	pthread_mutex_unlock(&dev->lock);
}

/* tx bytes from the heap; when it is used up, the device first takes what waits there. */
static uint32_t heap_alloc(uint32_t len)
{
	if (drv.heap + len > HEAP_END) {
		poll_dev(1);
		drv.heap = HEAP_GPA;
	}
	uint32_t gpa = drv.heap;
	drv.heap = (drv.heap + len + 15) & ~15u;
	return gpa;
}

/*
 * OP_TX, a guest packet:
 *   u8 a   bits 0-2: op (REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE,
 *          CREDIT_REQUEST; 7: a u16 follows, any op); bits 3-4: SHUTDOWN
 *          flags; bit 5: u64 src_cid, u64 dst_cid, u16 type, u32 flags
 *          follow (raw); bits 6-7: len 0 true, 1 too long by a u16 that
 *          follows, 2 a u32 that follows, 3 half the data
 *   u8 b   ports: bits 0-2 0-3: guest port b & 3 to host port (b >> 3) & 3
 *          (1024, 1025 listen; 1026 does not; 3: a u32 follows); 4-5: the
 *          answer to the ((b >> 3) % seen)th REQUEST/RESPONSE the guest got;
 *          6: u32 src_port, u32 dst_port follow; 7: guest port (b >> 3) & 3
 *          to host port 2^30 + (b >> 5) (a host client's, maybe)
 *   u8 c   bits 0-1: one buffer; header | data; the header split after 20
 *          bytes; through an indirect table (header | data); bit 2: only a
 *          u8 % 44 bytes of header; bit 3: u32 buf_alloc, u32 fwd_cnt follow,
 *          else buf_alloc (256K, 0, 4K, 64K)[bits 4-5] and fwd_cnt what the
 *          guest received on the connection
 *   u16    data length (the data itself is the stream's pattern)
 */
static void op_tx(struct input *in)
{
	static const uint16_t ops[7] = {
		VIRTIO_VSOCK_OP_REQUEST, VIRTIO_VSOCK_OP_RESPONSE, VIRTIO_VSOCK_OP_RST,
		VIRTIO_VSOCK_OP_SHUTDOWN, VIRTIO_VSOCK_OP_RW, VIRTIO_VSOCK_OP_CREDIT_UPDATE,
		VIRTIO_VSOCK_OP_CREDIT_REQUEST,
	};
	static const uint32_t buf_allocs[4] = { VIRTIO_VSOCK_BUF_ALLOC, 0, 4096, 65536 };
	uint8_t a = in_u8(in), b = in_u8(in), c = in_u8(in);
	struct virtio_vsock_hdr h = {
		.src_cid = GUEST_CID, .dst_cid = VIRTIO_VSOCK_HOST_CID, .type = VIRTIO_VSOCK_TYPE_STREAM,
	};

	h.op = (a & 7) == 7 ? in_u16(in) : ops[a & 7];
	if (h.op == VIRTIO_VSOCK_OP_SHUTDOWN)
		h.flags = (a >> 3) & 3;
	if (a & 0x20) {
		h.src_cid = in_u64(in);
		h.dst_cid = in_u64(in);
		h.type = in_u16(in);
		h.flags = in_u32(in);
	}
	switch (b & 7) {
	case 4:
	case 5:
		if (drv.nseen) {
			unsigned k = (b >> 3) % drv.nseen;
			h.src_port = drv.seen[k].dst_port;
			h.dst_port = drv.seen[k].src_port;
			break;
		}
		/* fall through: nothing seen yet */
	default:
		h.src_port = guest_ports[b & 3];
		h.dst_port = ((b >> 3) & 3) == 3 ? in_u32(in) : host_ports[(b >> 3) & 3];
		break;
	case 6:
		h.src_port = in_u32(in);
		h.dst_port = in_u32(in);
		break;
	case 7:
		h.src_port = guest_ports[(b >> 3) & 3];
		h.dst_port = VIRTIO_VSOCK_FIRST_HOST_PORT + (b >> 5);
		break;
	}
	struct pair *pr = pair_find(h.src_port, h.dst_port, false);
	if (c & 8) {
		h.buf_alloc = in_u32(in);
		h.fwd_cnt = in_u32(in);
	} else {
		h.buf_alloc = buf_allocs[(c >> 4) & 3];
		h.fwd_cnt = pr ? (uint32_t)pr->rx_off : 0;
	}
	uint32_t hdr_bytes = c & 4 ? in_u8(in) % HDR : HDR;
	uint32_t data = hdr_bytes == HDR ? in_u16(in) : 0;
	switch (a >> 6) {
	case 0:
		h.len = data;
		break;
	case 1:
		h.len = data + 1 + in_u16(in);
		break;
	case 2:
		h.len = in_u32(in);
		break;
	case 3:
		h.len = data / 2;
		break;
	}

	bool indirect = (c & 3) == 3;
	unsigned nbuf = (c & 3) == 0 || hdr_bytes < HDR ? 1 : 2;
	uint16_t first;
	if (drv.outstanding[VIRTIO_VSOCK_TXQ] + (indirect ? 1 : nbuf) > drv.size[VIRTIO_VSOCK_TXQ])
		poll_dev(1); /* the ring is full: a driver waits for the device */
	if (!take_descs(VIRTIO_VSOCK_TXQ, indirect ? 1 : nbuf, &first))
		return; /* never sent (two buffers in a ring of one, a device that took nothing) */

	/*
	 * The data is its stream's next bytes; a packet the device takes (this
	 * guest's, to the host, a stream, a len within the data) moves the
	 * stream on.  A new connection starts it again.
	 */
	bool taken = h.src_cid == GUEST_CID && h.dst_cid == VIRTIO_VSOCK_HOST_CID &&
		     h.type == VIRTIO_VSOCK_TYPE_STREAM && hdr_bytes == HDR && h.len <= data;
	if (taken && (h.op == VIRTIO_VSOCK_OP_REQUEST || h.op == VIRTIO_VSOCK_OP_RESPONSE) &&
	    (pr = pair_find(h.src_port, h.dst_port, true)))
		pr->tx_off = 0;
	uint64_t off = pr ? pr->tx_off : 0;
	if (pr && taken && h.op == VIRTIO_VSOCK_OP_RW)
		pr->tx_off += h.len;
	uint32_t gpa = heap_alloc(hdr_bytes + data + (indirect ? 48 : 0)); /* an aligned table of 2 */
	uint8_t *p = gptr(gpa, hdr_bytes + data);
	memcpy(p, &h, hdr_bytes);
	fill_pattern(p + hdr_bytes, data, off);

	/* The buffers: [all], [header][data], [20 bytes][the rest]. */
	uint32_t cut = (c & 3) == 2 ? 20 : hdr_bytes;
	uint32_t len[2] = { nbuf == 1 ? hdr_bytes + data : cut, hdr_bytes + data - cut };
	uint64_t table = DESC_GPA(VIRTIO_VSOCK_TXQ);
	uint16_t size = drv.size[VIRTIO_VSOCK_TXQ];
	uint16_t d0 = first, d1 = (uint16_t)((first + 1) % size);
	if (indirect) {
		table = gpa + hdr_bytes + data;
		table = (table + 15) & ~15ULL;
		d0 = 0;
		d1 = 1;
	}
	put_desc(table, d0, gpa, len[0], nbuf == 2 ? VIRTQ_DESC_F_NEXT : 0, d1);
	if (nbuf == 2)
		put_desc(table, d1, gpa + len[0], len[1], 0, 0);
	if (indirect)
		put_desc(DESC_GPA(VIRTIO_VSOCK_TXQ), first, table, 16 * nbuf, VIRTQ_DESC_F_INDIRECT, 0);
	drv.chain_len[VIRTIO_VSOCK_TXQ][first] = (uint8_t)(indirect ? 1 : nbuf);
	make_avail(VIRTIO_VSOCK_TXQ, first);
}

/*
 * OP_RX: u8 count (% 8 + 1), u8 shape: bits 0-1 one buffer of a header and
 * 4 KiB (as Linux 6.x posts), a header and 4 KiB in two (Linux before 6.3),
 * a header only, a u16 % (4 KiB + 64) that follows; bit 2: device-readable
 * (a driver error); bit 3: 20 bytes (smaller than a header: another).
 */
static void op_rx(struct input *in)
{
	unsigned count = in_u8(in) % 8 + 1;
	uint8_t shape = in_u8(in);
	uint32_t raw = (shape & 3) == 3 ? in_u16(in) % RX_SLOT : 0;
	uint16_t flags = shape & 4 ? 0 : VIRTQ_DESC_F_WRITE;

	for (unsigned i = 0; i < count; i++) {
		bool split = (shape & 3) == 1;
		uint16_t first;
		if (!take_descs(VIRTIO_VSOCK_RXQ, split ? 2 : 1, &first))
			return;
		uint16_t second = (uint16_t)((first + 1) % drv.size[VIRTIO_VSOCK_RXQ]);
		uint32_t len = (shape & 3) == 0 ? HDR + 4096 : (shape & 3) == 3 ? raw : HDR;
		if (shape & 8)
			len = 20;
		put_desc(DESC_GPA(VIRTIO_VSOCK_RXQ), first, RX_GPA(first), len,
			 (uint16_t)(flags | (split ? VIRTQ_DESC_F_NEXT : 0)), second);
		if (split)
			put_desc(DESC_GPA(VIRTIO_VSOCK_RXQ), second, RX_GPA(second), 4096, flags, 0);
		drv.chain_len[VIRTIO_VSOCK_RXQ][first] = split ? 2 : 1;
		drv.rx_len[first][0] = len;
		drv.rx_len[first][1] = split ? 4096 : 0;
		make_avail(VIRTIO_VSOCK_RXQ, first);
	}
}

/* OP_EVT: u8 count (% 4 + 1), u8 size: % 8 bytes, 0 meaning 4 (struct virtio_vsock_event). */
static void op_evt(struct input *in)
{
	unsigned count = in_u8(in) % 4 + 1;
	uint32_t len = in_u8(in) % 8;

	for (unsigned i = 0; i < count; i++) {
		uint16_t d;
		if (!take_descs(VIRTIO_VSOCK_EVTQ, 1, &d))
			return;
		put_desc(DESC_GPA(VIRTIO_VSOCK_EVTQ), d, EV_GPA(d), len ? len : 4, VIRTQ_DESC_F_WRITE, 0);
		drv.chain_len[VIRTIO_VSOCK_EVTQ][d] = 1;
		make_avail(VIRTIO_VSOCK_EVTQ, d);
	}
}

/*
 * OP_CONNECT: a host client of the device's socket.  u8 how: bits 0-1 the
 * guest port of its "CONNECT <port>\n"; bit 2: no newline (yet); bit 3: the
 * line is u8 n and n bytes of the input instead; bits 4-7: that many
 * 64-byte pieces of data right after the line.
 */
static void op_connect(struct input *in)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	uint8_t how = in_u8(in);
	char line[300];
	size_t n;

	if (drv.npeers == MAX_PEERS)
		return;
	if (how & 8) {
		n = in_u8(in);
		for (size_t i = 0; i < n; i++)
			line[i] = (char)in_u8(in);
		drv.rx_unchecked = true; /* what follows a newline in there is data */
	} else {
		n = (size_t)snprintf(line, sizeof(line), "CONNECT %u%s", guest_ports[how & 3],
				     how & 4 ? "" : "\n");
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
	    (n && send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n)) {
		close(fd); /* the backlog is full: a client that could not get in */
		return;
	}
	peer_add(fd, true, how & 8);
	if (drv.npeers && drv.peer[drv.npeers - 1].fd == fd)
		peer_write(&drv.peer[drv.npeers - 1], 64u * (how >> 4));
}

static struct peer *pick_peer(struct input *in, unsigned *i)
{
	uint8_t b = in_u8(in);

	if (!drv.npeers)
		return NULL;
	*i = b % drv.npeers;
	return &drv.peer[*i];
}

/* OP_RAW: u8 what: 0-2 a descriptor of queue `what` (u16 index, u64 addr, u32 len, u16 flags, u16 next); 3-5 its avail index (u16); else u32 addr, u8 n, n bytes. */
static void op_raw(struct input *in)
{
	uint8_t what = in_u8(in) % 7;

	drv.raw = true;
	if (what < 3) {
		uint16_t i = in_u16(in);
		uint64_t addr = in_u64(in);
		uint32_t len = in_u32(in);
		uint16_t flags = in_u16(in);
		put_desc(DESC_GPA(what), drv.size[what] ? i % drv.size[what] : i, addr, len, flags,
			 in_u16(in));
	} else if (what < 6) {
		drv.avail_idx[what - 3] = in_u16(in);
		gwrite(AVAIL_GPA(what - 3) + 2, &drv.avail_idx[what - 3], 2);
	} else {
		uint32_t gpa = in_u32(in) % (RAM_END + 0x100);
		uint8_t n = in_u8(in);
		for (unsigned i = 0; i < n; i++) {
			uint8_t v = in_u8(in);
			gwrite(gpa + i, &v, 1);
		}
	}
}

static void command(struct input *in)
{
	unsigned i;
	struct peer *p;

	switch (in_u8(in) % NR_OPS) {
	case OP_TX:
		op_tx(in);
		break;
	case OP_RX:
		op_rx(in);
		break;
	case OP_EVT:
		op_evt(in);
		break;
	case OP_POLL:
		poll_dev(in_u8(in) % 3 + 1);
		break;
	case OP_CONNECT:
		op_connect(in);
		break;
	case OP_WRITE:
		p = pick_peer(in, &i);
		if (p)
			peer_write(p, in_u16(in));
		break;
	case OP_READ:
		p = pick_peer(in, &i);
		if (p)
			peer_read(p);
		break;
	case OP_SHUT: {
		p = pick_peer(in, &i);
		uint8_t how = in_u8(in) % 3;
		if (!p)
			break;
		if (how == 2)
			peer_close(i);
		else
			shutdown(p->fd, how == 0 ? SHUT_WR : SHUT_RD);
		break;
	}
	case OP_RESTORE:
		dev->ops->restore(dev, NULL, 0, NULL); /* takes dev->lock itself */
		break;
	case OP_RAW:
		op_raw(in);
		break;
	case OP_RESET: {
		pthread_mutex_lock(&dev->lock);
		virtio_write_status(dev, 0);
		unsigned conns = virtio_vsock_nr_conns(dev);
		pthread_mutex_unlock(&dev->lock);
		if (conns)
			abort(); /* a reset ends every connection */
		locked_setup(in);
		break;
	}
	case OP_CONFIG: {
		uint8_t off = in_u8(in), len = in_u8(in) % 9;
		uint8_t buf[8];
		if (len && off + len <= dev->config_size) /* mmio.c's check */
			dev->ops->config_read(dev, off, buf, len);
		break;
	}
	}
}

/* ---- set-up and teardown ----------------------------------------------------------------- */

static void cleanup(void)
{
	if (dev) {
		virtio_device_destroy(dev); /* the connector removes the device's socket */
		dev = NULL;
	}
	for (unsigned l = 0; l < 2; l++) {
		char lpath[128];
		if (listen_fd[l] < 0)
			continue;
		close(listen_fd[l]);
		snprintf(lpath, sizeof(lpath), "%s_%u", path, host_ports[l]);
		unlink(lpath);
	}
	rmdir(dir);
	free(region0);
	free(region1);
	region0 = region1 = NULL;
}

static void setup(void)
{
	struct ember_err err = { .msg = "" };

	/* A peer that closed makes the device's writes fail with EPIPE; ember ignores SIGPIPE too (vm.c). */
	signal(SIGPIPE, SIG_IGN);
	pattern_init();
	region0 = malloc(R0_SIZE);
	region1 = malloc(R1_SIZE);
	if (!region0 || !region1)
		abort();
	vm.mem.region[0] = (struct guest_region){ .gpa = 0, .size = R0_SIZE, .host = region0 };
	vm.mem.region[1] = (struct guest_region){ .gpa = R1_GPA, .size = R1_SIZE, .host = region1 };
	vm.mem.nr_regions = 2;
	vm.mem.backing_fd = -1;

	snprintf(dir, sizeof(dir), "/tmp/ember-fuzz-vsock-XXXXXX");
	if (!mkdtemp(dir)) {
		perror("fuzz_vsock: mkdtemp");
		abort();
	}
	snprintf(path, sizeof(path), "%s/v.sock", dir);
	for (unsigned l = 0; l < 2; l++) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		snprintf(addr.sun_path, sizeof(addr.sun_path), "%s_%u", path, host_ports[l]);
		listen_fd[l] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (listen_fd[l] < 0 || bind(listen_fd[l], (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
		    listen(listen_fd[l], 256) < 0) {
			perror("fuzz_vsock: a host listener");
			abort();
		}
	}
	atexit(cleanup);
	/* Before libFuzzer's threads: the connector is forked now, once. */
	if (virtio_vsock_new(path, GUEST_CID, &dev, &err)) {
		fprintf(stderr, "fuzz_vsock: %s\n", err.msg);
		abort();
	}
	/* What virtio_device_attach would have done, without eventfds: nothing waits on them. */
	pthread_mutex_init(&dev->lock, NULL);
	dev->machine = &vm;
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setup();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };

	memset(region0, 0, R0_SIZE);
	memset(region1, 0, R1_SIZE);
	memset(&drv, 0, sizeof(drv));
	locked_setup(&in);
	while (in.left)
		command(&in);
	poll_dev(2);
	for (unsigned i = 0; i < drv.npeers; i++)
		peer_read(&drv.peer[i]);

	/*
	 * Leave nothing behind: the host closes its ends, the device sees
	 * clients that never got accepted go, and the driver resets it.
	 */
	while (drv.npeers)
		peer_close(drv.npeers - 1);
	pthread_mutex_lock(&dev->lock);
	for (unsigned i = 0; i < 3; i++) /* a full backlog is 2 batches of clients (ACCEPT_BATCH) */
		virtio_vsock_poll(dev);
	virtio_write_status(dev, 0);
	unsigned conns = virtio_vsock_nr_conns(dev);
	pthread_mutex_unlock(&dev->lock);
	if (conns)
		abort();
	accept_peers(); /* guest connects made in the last poll */
	while (drv.npeers)
		peer_close(drv.npeers - 1);
	return 0;
}
