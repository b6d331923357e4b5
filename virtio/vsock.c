// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-vsock (virtio 1.2 §5.10), stream sockets only, over host Unix
 * sockets in Firecracker's hybrid convention (vsock.h says what a host
 * program sees).
 *
 * Queues (§5.10.2): rx (device -> driver packets), tx (driver -> device)
 * and event; all three, the listening socket and every connection's host
 * socket are served on the device's own thread (virtio/worker.c), with
 * dev->lock held.  The host side is one epoll set, watched by that thread
 * as a single extra fd: the listener, a timer, and one socket per
 * connection (level-triggered, the interest of each socket recomputed
 * from its state by conn_watch()).
 *
 * Connections are keyed by (host port, guest port): the host port is P
 * for a guest connect to port P, and an ephemeral port from 2^30 up for a
 * host client's "CONNECT <guest port>".  The table has a fixed size
 * (VIRTIO_VSOCK_MAX_CONNS), and so has everything else the device keeps:
 *
 * Flow control (§5.10.6.3).  Each side tells the other, in every packet,
 * buf_alloc (its receive buffer for the connection) and fwd_cnt (bytes
 * it has taken out of that buffer); a sender may have at most
 * buf_alloc - (tx_cnt - fwd_cnt) bytes in flight.
 *   host -> guest: we never send more than the guest's credit; with none
 *     left the socket is not read (its data stays in the kernel, which
 *     makes the host writer wait) and we ask for an update once
 *     (CREDIT_REQUEST).  Nor is it read while the guest has no rx
 *     buffers: a readable socket waits on the data list, unwatched.
 *   guest -> host: we advertise VIRTIO_VSOCK_BUF_ALLOC per connection.
 *     Guest data goes straight to the host socket (non-blocking); what
 *     the socket does not take is buffered, which the credit bounds to
 *     that size: a guest sending past its credit broke the protocol and
 *     its connection is reset, nothing is buffered beyond it.  fwd_cnt
 *     counts what the host socket took; once half the buffer's worth has
 *     gone since we last told the guest, a CREDIT_UPDATE goes out (and
 *     every packet we send carries the counts anyway).
 *   Packets owed to the guest without data (REQUEST, RESPONSE, SHUTDOWN,
 *     credit) are flags on their connection, and the RSTs of connections
 *     that no longer (or never) existed a fixed ring: the "additional
 *     resources" of §5.10.6.1 that let tx be served while rx is full.
 *     When the ring is full an RST is dropped (the guest's connect then
 *     times out) rather than tx stopping, as §5.10.6.1 would allow: a
 *     driver that stops reading rx while its own replies wait on tx
 *     (Linux does, virtio_transport_rx_work) and a device that stops
 *     reading tx while its replies wait on rx can wait for each other.
 * So memory is bounded by the table: per connection its state and at most
 * VIRTIO_VSOCK_BUF_ALLOC of buffer, allocated only while the host socket
 * does not keep up and freed as soon as it is drained.
 *
 * Closing (§5.10.6.5: SHUTDOWN(s), then an RST from the peer; an RST
 * after a timeout otherwise):
 *   host EOF (the peer shut its write side)  -> SHUTDOWN(SEND);
 *   host gone (EPOLLHUP: the peer closed)    -> SHUTDOWN(RCV|SEND), then
 *       wait for the guest's RST, or send one after VSOCK_CLOSE_MS;
 *   guest SHUTDOWN(RCV)  -> shutdown(SHUT_RD) of the host socket;
 *   guest SHUTDOWN(SEND) -> shutdown(SHUT_WR) once its data is written;
 *   guest shut both ways -> RST (the clean end) once its data is written
 *       (or after VSOCK_CLOSE_MS), and the host socket is closed;
 *   guest RST -> the host socket is closed, buffered data dropped.
 * Firecracker sends SHUTDOWN(RCV|SEND) on any host EOF; telling a half
 * close from a close keeps "send a request, shut, read the answer"
 * clients working.
 *
 * Host -> guest connects: a client on the listener sends its
 * "CONNECT <port>\n" at its own pace; the line is read one byte at a time
 * (what follows it is data for the guest), without ever blocking, and
 * must come within VSOCK_LINE_MS and VIRTIO_VSOCK_LINE_MAX bytes.  The
 * guest answers the REQUEST with RESPONSE ("OK <host port>\n" to the
 * client) or RST (the client is closed, as Firecracker does).
 *
 * Guest -> host connects go through the connector process
 * (vsock_connect.c, which says why), one synchronous round trip per
 * REQUEST.
 *
 * A guest packet that cannot be meant (shorter than a header, or from
 * another guest's CID) is dropped.  One for a connection that does not
 * exist, of a type we do not offer (§5.10.6.4: RST), or whose len runs
 * past its buffers, is answered with an RST (and resets its connection),
 * never an RST with an RST.  Only a malformed ring puts the device into
 * NEEDS_RESET.
 *
 * Snapshots: connections cannot be saved (their host sockets belong to
 * this process), so a snapshot with any open is refused, as 9p refuses
 * one with open fids.  A restored device tells the guest
 * VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.7), which makes it reset
 * whatever it still believes is connected and read its CID again (the new
 * VM may have another).
 */
#include "virtio/vsock.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "virtio/worker.h"

/* The packet header as the spec lays it out (virtio 1.2 §5.10.6). */
_Static_assert(offsetof(struct virtio_vsock_hdr, src_cid) == 0, "src_cid");
_Static_assert(offsetof(struct virtio_vsock_hdr, dst_cid) == 8, "dst_cid");
_Static_assert(offsetof(struct virtio_vsock_hdr, src_port) == 16, "src_port");
_Static_assert(offsetof(struct virtio_vsock_hdr, dst_port) == 20, "dst_port");
_Static_assert(offsetof(struct virtio_vsock_hdr, len) == 24, "len");
_Static_assert(offsetof(struct virtio_vsock_hdr, type) == 28, "type");
_Static_assert(offsetof(struct virtio_vsock_hdr, op) == 30, "op");
_Static_assert(offsetof(struct virtio_vsock_hdr, flags) == 32, "flags");
_Static_assert(offsetof(struct virtio_vsock_hdr, buf_alloc) == 36, "buf_alloc");
_Static_assert(offsetof(struct virtio_vsock_hdr, fwd_cnt) == 40, "fwd_cnt");
_Static_assert(sizeof(struct virtio_vsock_hdr) == VIRTIO_VSOCK_HDR_SIZE, "header size");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio is little endian; so is ember");
_Static_assert((VIRTIO_VSOCK_MAX_CONNS & (VIRTIO_VSOCK_MAX_CONNS - 1)) == 0, "table size");

#define HDR VIRTIO_VSOCK_HDR_SIZE
#define BUF_ALLOC VIRTIO_VSOCK_BUF_ALLOC
#define CONFIG_SIZE 8               /* le64 guest_cid (§5.10.4) */
#define HASH_BUCKETS (2 * VIRTIO_VSOCK_MAX_CONNS)
#define RST_RING 256                /* RSTs owed for connections not in the table */
#define MAX_RW (64 * 1024)          /* payload of one packet to the guest (Linux's largest) */
#define EVENTS_BATCH 64             /* host events handled per wake-up */
#define ACCEPT_BATCH 64             /* clients accepted per wake-up */
#define VSOCK_LINE_MS 5000          /* for a client's CONNECT line */
#define VSOCK_REQUEST_MS 5000       /* for the guest's answer to a REQUEST */
#define VSOCK_CLOSE_MS 8000         /* for the final RST: Linux's VSOCK_CLOSE_TIMEOUT */
#define VSOCK_TICK_MS 250           /* the timer's period while anything has a deadline */
#define SHUTDOWN_BOTH (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)

/* epoll tokens: connections are slot | generation << 32, with a 31-bit generation. */
#define TOKEN_LISTENER UINT64_MAX
#define TOKEN_TIMER    (UINT64_MAX - 1)

/* Packets a connection owes the guest, in the order they go out. */
#define CTL_REQUEST        1u
#define CTL_RESPONSE       2u
#define CTL_SHUTDOWN       4u
#define CTL_CREDIT_UPDATE  8u
#define CTL_CREDIT_REQUEST 16u

struct link {
	struct link *prev, *next;
};

enum conn_state {
	CONN_LINE,        /* a host client, its CONNECT line not complete yet */
	CONN_CONNECTING,  /* REQUEST owed or sent to the guest, no answer yet */
	CONN_ESTABLISHED,
};

struct conn {
	uint32_t host_port, guest_port; /* the key, once known (not in CONN_LINE) */
	unsigned slot;
	uint32_t gen;
	int fd;                         /* the host socket */
	enum conn_state state;
	bool hashed, in_epoll;
	uint32_t watched;               /* epoll events asked for */
	struct conn *hnext;
	struct link ctl_link;           /* on ctl_list while ctl != 0 */
	struct link data_link;          /* on data_list: host data to read when rx allows */
	uint32_t ctl;                   /* CTL_* owed */
	uint64_t deadline;              /* ns of CLOCK_MONOTONIC; 0: none */

	/* Host side. */
	bool hup;                       /* the host peer closed (EPOLLHUP): no longer in epoll */
	bool host_eof;                  /* read() said end of file */
	bool write_dead;                /* the host takes no more: guest data is dropped */
	bool shut_wr;                   /* shutdown(SHUT_WR) done */

	/* Guest side. */
	bool guest_no_rcv, guest_no_send; /* SHUTDOWN flags it sent */
	uint32_t shut_want, shut_sent;  /* SHUTDOWN flags we owe / have sent */
	bool closing;                   /* waiting for the last RST, deadline set */
	bool stalled;                   /* out of the guest's credit, CREDIT_REQUEST sent */

	/* §5.10.6.3: host -> guest. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	/* §5.10.6.3: guest -> host; buf_len == rx_cnt - fwd_cnt always. */
	uint32_t rx_cnt, fwd_cnt, fwd_told;
	uint8_t *buf;                   /* ring of BUF_ALLOC bytes, only while not empty */
	uint32_t buf_head, buf_len;

	char line[VIRTIO_VSOCK_LINE_MAX];
	unsigned line_len;
};

struct rst_entry {
	uint64_t src_cid;
	uint32_t src_port, dst_port;
};

struct virtio_vsock {
	struct virtio_device dev;
	struct virtio_worker worker;
	char *uds_path;                 /* as given, for messages */
	char *name;                     /* its last component, for unlinkat(dir_fd) */
	uint64_t guest_cid;
	int listen_fd, epoll_fd, timer_fd, dir_fd;
	bool listener_paused;           /* out of descriptors: retried on the next tick */
	bool timer_armed;
	struct vsock_connector connector;
	bool connector_logged;

	struct conn *slot[VIRTIO_VSOCK_MAX_CONNS];
	uint32_t slot_gen[VIRTIO_VSOCK_MAX_CONNS];
	unsigned free_slot[VIRTIO_VSOCK_MAX_CONNS], nr_free;
	struct conn *bucket[HASH_BUCKETS];
	unsigned nr_conns;
	uint32_t next_host_port;

	struct link ctl_list, data_list;
	struct rst_entry rst[RST_RING];
	unsigned rst_head, rst_len;
	bool event_pending;             /* TRANSPORT_RESET owed (after a restore) */

	/* Scratch, under dev.lock. */
	struct virtq_chain tx_chain, rx_chain, ev_chain;
	struct iovec iov[VIRTQ_MAX_SIZE];
};

static struct virtio_vsock *to_vsock(struct virtio_device *dev)
{
	return dev->priv;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- lists ------------------------------------------------------------------------------- */

static void link_init(struct link *l)
{
	l->prev = l->next = l;
}

static bool link_linked(const struct link *l)
{
	return l->next != l;
}

static void link_del(struct link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	link_init(l);
}

static void link_add_tail(struct link *head, struct link *l)
{
	if (link_linked(l))
		link_del(l);
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

#define CONN_OF(l, member) ((struct conn *)((char *)(l) - offsetof(struct conn, member)))

/* ---- the connection table ---------------------------------------------------------------- */

static unsigned hash_ports(uint32_t host_port, uint32_t guest_port)
{
	return ((host_port * 2654435761u) ^ (guest_port * 40503u)) & (HASH_BUCKETS - 1);
}

static struct conn *conn_find(struct virtio_vsock *vs, uint32_t host_port, uint32_t guest_port)
{
	for (struct conn *c = vs->bucket[hash_ports(host_port, guest_port)]; c; c = c->hnext)
		if (c->host_port == host_port && c->guest_port == guest_port)
			return c;
	return NULL;
}

static void conn_hash(struct virtio_vsock *vs, struct conn *c, uint32_t host_port, uint32_t guest_port)
{
	unsigned b = hash_ports(host_port, guest_port);
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->hnext = vs->bucket[b];
	vs->bucket[b] = c;
	c->hashed = true;
}

static void conn_unhash(struct virtio_vsock *vs, struct conn *c)
{
	struct conn **p = &vs->bucket[hash_ports(c->host_port, c->guest_port)];
	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
	c->hashed = false;
}

static uint64_t conn_token(const struct conn *c)
{
	return (uint64_t)c->gen << 32 | c->slot;
}

/* A new entry for host socket fd, watched for nothing yet; NULL when the table is full. */
static struct conn *conn_new(struct virtio_vsock *vs, int fd, enum conn_state state)
{
	if (vs->nr_free == 0)
		return NULL;
	struct conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	unsigned s = vs->free_slot[vs->nr_free - 1];
	c->slot = s;
	c->gen = vs->slot_gen[s] = (vs->slot_gen[s] + 1) & 0x7fffffff;
	c->fd = fd;
	c->state = state;
	link_init(&c->ctl_link);
	link_init(&c->data_link);
	struct epoll_event ev = { .events = 0, .data.u64 = conn_token(c) };
	if (epoll_ctl(vs->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		free(c);
		return NULL;
	}
	c->in_epoll = true;
	vs->nr_free--;
	vs->slot[s] = c;
	vs->nr_conns++;
	return c;
}

/* Forgets c and closes its host socket (a host client sees end of file). */
static void conn_free(struct virtio_vsock *vs, struct conn *c)
{
	if (c->in_epoll)
		epoll_ctl(vs->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	link_del(&c->ctl_link);
	link_del(&c->data_link);
	if (c->hashed)
		conn_unhash(vs, c);
	vs->slot[c->slot] = NULL;
	vs->free_slot[vs->nr_free++] = c->slot;
	vs->nr_conns--;
	free(c->buf);
	free(c);
}

/* An RST for a connection the table does not hold (any more); dropped when the ring is full. */
static void rst_push(struct virtio_vsock *vs, uint64_t src_cid, uint32_t src_port, uint32_t dst_port)
{
	if (vs->rst_len == RST_RING)
		return; /* the guest's side times out instead: see the top of the file */
	vs->rst[(vs->rst_head + vs->rst_len++) % RST_RING] =
		(struct rst_entry){ src_cid, src_port, dst_port };
}

/* Ends c at once; tell_guest: with an RST (not when the guest reset it itself). */
static void conn_reset(struct virtio_vsock *vs, struct conn *c, bool tell_guest)
{
	if (tell_guest && c->hashed)
		rst_push(vs, VIRTIO_VSOCK_HOST_CID, c->host_port, c->guest_port);
	conn_free(vs, c);
}

static void ctl_set(struct virtio_vsock *vs, struct conn *c, uint32_t what)
{
	c->ctl |= what;
	if (!link_linked(&c->ctl_link))
		link_add_tail(&vs->ctl_list, &c->ctl_link);
}

static void ctl_clear(struct conn *c, uint32_t what)
{
	c->ctl &= ~what;
	if (!c->ctl)
		link_del(&c->ctl_link);
}

/* ---- timing ------------------------------------------------------------------------------ */

static void timer_set(struct virtio_vsock *vs, bool on)
{
	long ns = on ? VSOCK_TICK_MS * 1000000L : 0;
	struct itimerspec its = { .it_interval = { 0, ns }, .it_value = { 0, ns } };
	if (timerfd_settime(vs->timer_fd, 0, &its, NULL) == 0)
		vs->timer_armed = on;
}

static void conn_deadline(struct virtio_vsock *vs, struct conn *c, unsigned ms)
{
	c->deadline = now_ns() + (uint64_t)ms * 1000000u;
	if (!vs->timer_armed)
		timer_set(vs, true);
}

/* ---- flow control ------------------------------------------------------------------------ */

/* What the guest still takes on c (§5.10.6.3); 0 if it shrank its buffer below what is in flight. */
static uint32_t peer_credit(const struct conn *c)
{
	uint32_t in_flight = c->tx_cnt - c->peer_fwd_cnt;
	return in_flight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - in_flight;
}

/* Whether c's host socket should be read for the guest. */
static bool conn_can_read(const struct conn *c)
{
	return c->state == CONN_ESTABLISHED && !c->host_eof && !c->guest_no_rcv;
}

/* The host took more of the guest's data: tell the guest once half a buffer is free again. */
static void credit_check(struct virtio_vsock *vs, struct conn *c)
{
	if (!c->guest_no_send && c->fwd_cnt - c->fwd_told >= BUF_ALLOC / 2)
		ctl_set(vs, c, CTL_CREDIT_UPDATE);
}

/* Sets c's epoll interest from its state (level-triggered: only what it can act on now). */
static void conn_watch(struct virtio_vsock *vs, struct conn *c)
{
	uint32_t want = 0;

	if (!c->in_epoll) {
		/* Closed by the host (hup): what it left is read without epoll, as credit allows. */
		if (c->hup && conn_can_read(c) && peer_credit(c) > 0 && !link_linked(&c->data_link))
			link_add_tail(&vs->data_list, &c->data_link);
		return;
	}
	if (c->state == CONN_LINE) {
		want = EPOLLIN;
	} else if (c->state == CONN_ESTABLISHED) {
		if (conn_can_read(c) && !link_linked(&c->data_link) && peer_credit(c) > 0)
			want |= EPOLLIN;
		if (c->buf_len)
			want |= EPOLLOUT;
	}
	if (want == c->watched)
		return;
	struct epoll_event ev = { .events = want, .data.u64 = conn_token(c) };
	if (epoll_ctl(vs->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->watched = want;
}

/* The host no longer reads: what the guest sends is dropped (still counted as taken). */
static void conn_write_dead(struct conn *c)
{
	c->write_dead = true;
	c->fwd_cnt += c->buf_len;
	c->buf_len = 0;
	c->buf_head = 0;
	free(c->buf);
	c->buf = NULL;
}

/*
 * The guest has shut both ways and all its data reached the host: end
 * with an RST (the clean end of §5.10.6.5).  Returns false when c is gone.
 */
static bool conn_check_guest_done(struct virtio_vsock *vs, struct conn *c)
{
	if (c->guest_no_rcv && c->guest_no_send && c->buf_len == 0) {
		conn_reset(vs, c, true);
		return false;
	}
	return true;
}

/* The guest shut its sending side and everything it sent is written: the host sees EOF. */
static void conn_shut_host_write(struct conn *c)
{
	if (c->guest_no_send && !c->buf_len && !c->write_dead && !c->shut_wr) {
		shutdown(c->fd, SHUT_WR);
		c->shut_wr = true;
	}
}

/* Writes buffered guest data to the host; false when c is gone. */
static bool conn_flush(struct virtio_vsock *vs, struct conn *c)
{
	while (c->buf_len) {
		uint32_t first = BUF_ALLOC - c->buf_head;
		if (first > c->buf_len)
			first = c->buf_len;
		struct iovec iov[2] = { { c->buf + c->buf_head, first },
					{ c->buf, c->buf_len - first } };
		ssize_t w = writev(c->fd, iov, c->buf_len > first ? 2 : 1);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			conn_write_dead(c);
			break;
		}
		c->buf_head = (c->buf_head + (uint32_t)w) % BUF_ALLOC;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (!c->buf_len && c->buf) {
		free(c->buf); /* 256 KiB come from mmap: given back to the system at once */
		c->buf = NULL;
		c->buf_head = 0;
	}
	conn_shut_host_write(c);
	credit_check(vs, c);
	return conn_check_guest_done(vs, c);
}

/* ---- host -> guest packets (rx queue) ---------------------------------------------------- */

/*
 * A header from c to the guest.  Every packet carries our credit
 * (§5.10.6.3), so it stands for a pending CREDIT_UPDATE as well.
 */
static void conn_hdr(struct virtio_vsock *vs, struct conn *c, struct virtio_vsock_hdr *h, uint16_t op,
		     uint32_t flags, uint32_t len)
{
	*h = (struct virtio_vsock_hdr){
		.src_cid = VIRTIO_VSOCK_HOST_CID, .dst_cid = vs->guest_cid,
		.src_port = c->host_port, .dst_port = c->guest_port, .len = len,
		.type = VIRTIO_VSOCK_TYPE_STREAM, .op = op, .flags = flags,
		.buf_alloc = BUF_ALLOC, .fwd_cnt = c->fwd_cnt,
	};
	c->fwd_told = c->fwd_cnt;
	if (c->ctl & CTL_CREDIT_UPDATE)
		ctl_clear(c, CTL_CREDIT_UPDATE);
}

/* The next packet c owes the guest without data, into chain; returns the bytes written. */
static uint32_t emit_ctl(struct virtio_vsock *vs, struct conn *c, const struct virtq_chain *chain)
{
	struct virtio_vsock_hdr h;
	uint32_t what = c->ctl & -c->ctl; /* the lowest bit: CTL_* are in sending order */
	uint16_t op = VIRTIO_VSOCK_OP_CREDIT_UPDATE; /* with nothing owed: harmless */
	uint32_t flags = 0;

	ctl_clear(c, what);
	switch (what) {
	case CTL_REQUEST:
		op = VIRTIO_VSOCK_OP_REQUEST;
		break;
	case CTL_RESPONSE:
		op = VIRTIO_VSOCK_OP_RESPONSE;
		break;
	case CTL_SHUTDOWN:
		op = VIRTIO_VSOCK_OP_SHUTDOWN;
		flags = c->shut_sent = c->shut_want;
		if (c->shut_sent == SHUTDOWN_BOTH && !c->closing) {
			/* Now the guest's RST ends it (§5.10.6.5), or ours after the timeout. */
			c->closing = true;
			conn_deadline(vs, c, VSOCK_CLOSE_MS);
		}
		break;
	case CTL_CREDIT_REQUEST:
		op = VIRTIO_VSOCK_OP_CREDIT_REQUEST;
		break;
	default:
		break;
	}
	conn_hdr(vs, c, &h, op, flags, 0);
	return (uint32_t)virtq_chain_write(chain, 0, &h, HDR);
}

/* The host will send no more (EOF), and with hup takes no more either: tell the guest. */
static void conn_host_done(struct virtio_vsock *vs, struct conn *c)
{
	uint32_t want = VIRTIO_VSOCK_SHUTDOWN_SEND | (c->hup ? VIRTIO_VSOCK_SHUTDOWN_RCV : 0);
	if ((c->shut_want | want) != c->shut_want) {
		c->shut_want |= want;
		ctl_set(vs, c, CTL_SHUTDOWN);
	}
}

/*
 * Reads c's host socket into chain as an RW packet, as much as the guest's
 * credit and the buffer allow.  End of file becomes a SHUTDOWN, an error an
 * RST (c is then gone: *gone).  Returns the bytes written into the chain.
 */
static uint32_t emit_data(struct virtio_vsock *vs, struct conn *c, const struct virtq_chain *chain,
			  bool *gone)
{
	struct virtio_vsock_hdr h;
	uint64_t max = chain->writable - HDR;

	if (max > peer_credit(c))
		max = peer_credit(c);
	if (max > MAX_RW)
		max = MAX_RW;
	if (max == 0) {
		/* A buffer with room for a header only: it carries our credit instead. */
		ctl_set(vs, c, CTL_CREDIT_UPDATE);
		return emit_ctl(vs, c, chain);
	}

	unsigned n = virtq_chain_iov(chain, true, HDR, max, vs->iov);
	ssize_t got;
	do
		got = readv(c->fd, vs->iov, (int)n);
	while (got < 0 && errno == EINTR);

	if (got > 0) {
		conn_hdr(vs, c, &h, VIRTIO_VSOCK_OP_RW, 0, (uint32_t)got);
		c->tx_cnt += (uint32_t)got;
		virtq_chain_write(chain, 0, &h, HDR);
		/* Filled: more may wait (next turn); short: drained, epoll says when there is more. */
		if ((uint64_t)got == max || c->hup)
			link_add_tail(&vs->data_list, &c->data_link);
		else
			link_del(&c->data_link);
		return HDR + (uint32_t)got;
	}
	if (got == 0) {
		c->host_eof = true;
		link_del(&c->data_link);
		conn_host_done(vs, c);
		return emit_ctl(vs, c, chain); /* the SHUTDOWN (or what else is owed first) */
	}
	if (errno == EAGAIN) {
		/* Readable a moment ago, not now: the chain carries a credit update instead. */
		link_del(&c->data_link);
		ctl_set(vs, c, CTL_CREDIT_UPDATE);
		return emit_ctl(vs, c, chain);
	}
	/* The host socket failed (ECONNRESET...): the connection is over. */
	conn_hdr(vs, c, &h, VIRTIO_VSOCK_OP_RST, 0, 0);
	conn_free(vs, c);
	*gone = true;
	return (uint32_t)virtq_chain_write(chain, 0, &h, HDR);
}

static uint32_t emit_rst(struct virtio_vsock *vs, const struct virtq_chain *chain)
{
	const struct rst_entry *e = &vs->rst[vs->rst_head];
	struct virtio_vsock_hdr h = {
		.src_cid = e->src_cid, .dst_cid = vs->guest_cid, .src_port = e->src_port,
		.dst_port = e->dst_port, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = VIRTIO_VSOCK_OP_RST,
	};
	vs->rst_head = (vs->rst_head + 1) % RST_RING;
	vs->rst_len--;
	return (uint32_t)virtq_chain_write(chain, 0, &h, HDR);
}

/*
 * Fills the guest's rx buffers: RSTs first, then the packets connections
 * owe (a connection's control packets always precede its data: REQUEST or
 * RESPONSE before RW), then host data, a packet per connection in turn.
 * Stops when the guest has no buffers left; its next rx kick resumes.
 */
static void rx_flush(struct virtio_vsock *vs)
{
	struct virtio_device *dev = &vs->dev;
	struct virtq *q = &dev->vq[VIRTIO_VSOCK_RXQ];
	const char *why = NULL;
	bool pushed = false;

	while (virtio_is_live(dev) && q->ready) {
		struct conn *c = NULL;
		if (!vs->rst_len && link_linked(&vs->ctl_list)) {
			c = CONN_OF(vs->ctl_list.next, ctl_link);
		} else if (!vs->rst_len) {
			if (!link_linked(&vs->data_list))
				break;
			c = CONN_OF(vs->data_list.next, data_link);
			if (!conn_can_read(c)) {
				link_del(&c->data_link);
				conn_watch(vs, c);
				continue;
			}
			if (peer_credit(c) == 0) {
				/* Out of credit: leave the data in the kernel, ask once (§5.10.6.3). */
				link_del(&c->data_link);
				if (!c->stalled) {
					c->stalled = true;
					ctl_set(vs, c, CTL_CREDIT_REQUEST);
				}
				conn_watch(vs, c);
				continue;
			}
		}
		int got = virtq_pop(q, &vs->rx_chain, &why);
		if (got < 0)
			virtio_set_needs_reset(dev, why);
		if (got <= 0)
			break;
		if (vs->rx_chain.writable < HDR) {
			virtio_set_needs_reset(dev, "vsock receive buffer smaller than a packet header");
			break;
		}
		uint32_t written;
		bool gone = false;
		if (!c)
			written = emit_rst(vs, &vs->rx_chain);
		else if (link_linked(&c->ctl_link) && c->ctl)
			written = emit_ctl(vs, c, &vs->rx_chain);
		else
			written = emit_data(vs, c, &vs->rx_chain, &gone);
		if (c && !gone)
			conn_watch(vs, c);
		virtq_push(q, vs->rx_chain.head, written);
		pushed = true;
	}
	if (pushed)
		virtio_notify_used(dev, VIRTIO_VSOCK_RXQ);
}

/* The TRANSPORT_RESET owed after a restore (§5.10.6.7), when the driver gave an event buffer. */
static void event_flush(struct virtio_vsock *vs)
{
	struct virtio_device *dev = &vs->dev;
	struct virtq *q = &dev->vq[VIRTIO_VSOCK_EVTQ];
	const char *why = NULL;

	if (!vs->event_pending || !virtio_is_live(dev) || !q->ready)
		return;
	int got = virtq_pop(q, &vs->ev_chain, &why);
	if (got < 0)
		virtio_set_needs_reset(dev, why);
	if (got <= 0)
		return;
	if (vs->ev_chain.writable < 4) {
		virtio_set_needs_reset(dev, "vsock event buffer smaller than an event");
		return;
	}
	uint32_t id = VIRTIO_VSOCK_EVENT_TRANSPORT_RESET; /* struct virtio_vsock_event: le32 id */
	virtq_chain_write(&vs->ev_chain, 0, &id, sizeof(id));
	virtq_push(q, vs->ev_chain.head, sizeof(id));
	vs->event_pending = false;
	virtio_notify_used(dev, VIRTIO_VSOCK_EVTQ);
}

/* ---- guest -> host packets (tx queue) ---------------------------------------------------- */

/* A guest REQUEST for host port P: the connector connects to "PATH_P"; RESPONSE or RST (§5.10.6.5). */
static void guest_connect(struct virtio_vsock *vs, const struct virtio_vsock_hdr *h)
{
	if (vs->nr_free == 0) {
		rst_push(vs, VIRTIO_VSOCK_HOST_CID, h->dst_port, h->src_port);
		return;
	}
	int fd = vsock_connector_connect(&vs->connector, h->dst_port);
	if (fd < 0) {
		if (vs->connector.dead && !vs->connector_logged) {
			vs->connector_logged = true;
			fprintf(stderr, "ember: --vsock %s: the connector process stopped answering; "
				"guest connections to the host are refused from now on\r\n", vs->uds_path);
		}
		rst_push(vs, VIRTIO_VSOCK_HOST_CID, h->dst_port, h->src_port);
		return;
	}
	struct conn *c = conn_new(vs, fd, CONN_ESTABLISHED);
	if (!c) {
		close(fd);
		rst_push(vs, VIRTIO_VSOCK_HOST_CID, h->dst_port, h->src_port);
		return;
	}
	conn_hash(vs, c, h->dst_port, h->src_port);
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	ctl_set(vs, c, CTL_RESPONSE);
	conn_watch(vs, c);
}

/* The guest answered our REQUEST: the client learns its port, and bytes flow. */
static bool guest_accepted(struct virtio_vsock *vs, struct conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

	if (write(c->fd, ok, (size_t)n) != n) {
		/* A fresh socket takes 14 bytes unless the client is gone. */
		conn_reset(vs, c, true);
		return false;
	}
	c->state = CONN_ESTABLISHED;
	c->deadline = 0;
	return true;
}

/* Guest data for the host: straight to the socket, the rest buffered within our credit. */
static bool guest_rw(struct virtio_vsock *vs, struct conn *c, const struct virtq_chain *chain,
		     uint32_t len)
{
	if (c->state != CONN_ESTABLISHED || c->guest_no_send ||
	    (uint64_t)c->buf_len + len > BUF_ALLOC) {
		/* Data before the connection, after its SHUTDOWN(SEND), or past our credit (§5.10.6.3). */
		conn_reset(vs, c, true);
		return false;
	}
	c->rx_cnt += len;
	if (c->write_dead) {
		c->fwd_cnt += len;
		credit_check(vs, c);
		return true;
	}
	uint32_t done = 0;
	if (c->buf_len == 0 && len) {
		unsigned n = virtq_chain_iov(chain, false, HDR, len, vs->iov);
		ssize_t w;
		do
			w = writev(c->fd, vs->iov, (int)n);
		while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN) {
			c->fwd_cnt += len; /* EPIPE...: the host stopped reading */
			conn_write_dead(c);
			credit_check(vs, c);
			return true;
		}
		done = w > 0 ? (uint32_t)w : 0;
		c->fwd_cnt += done;
	}
	if (done < len) {
		if (!c->buf) {
			c->buf = malloc(BUF_ALLOC);
			if (!c->buf) {
				conn_reset(vs, c, true);
				return false;
			}
			c->buf_head = 0;
		}
		uint32_t rest = len - done;
		uint32_t tail = (c->buf_head + c->buf_len) % BUF_ALLOC;
		uint32_t first = BUF_ALLOC - tail < rest ? BUF_ALLOC - tail : rest;
		virtq_chain_read(chain, HDR + done, c->buf + tail, first);
		virtq_chain_read(chain, HDR + done + first, c->buf, rest - first);
		c->buf_len += rest;
	}
	credit_check(vs, c);
	return true;
}

static bool guest_shutdown(struct virtio_vsock *vs, struct conn *c, uint32_t flags)
{
	if (c->state != CONN_ESTABLISHED) {
		conn_reset(vs, c, true);
		return false;
	}
	if ((flags & VIRTIO_VSOCK_SHUTDOWN_RCV) && !c->guest_no_rcv) {
		c->guest_no_rcv = true;
		link_del(&c->data_link);
		if (!c->hup)
			shutdown(c->fd, SHUT_RD); /* the host's writes now fail (EPIPE) rather than pile up */
	}
	if ((flags & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->guest_no_send) {
		c->guest_no_send = true;
		conn_shut_host_write(c);
	}
	if (c->guest_no_rcv && c->guest_no_send) {
		if (!conn_check_guest_done(vs, c))
			return false;
		/* Its data still to be written: the RST follows the flush, or the timeout. */
		if (!c->closing) {
			c->closing = true;
			conn_deadline(vs, c, VSOCK_CLOSE_MS);
		}
	}
	return true;
}

/* A packet for connection c; false when c is gone. */
static bool guest_packet(struct virtio_vsock *vs, struct conn *c, const struct virtio_vsock_hdr *h,
			 const struct virtq_chain *chain)
{
	/* Every packet carries the guest's credit (§5.10.6.3). */
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (peer_credit(c) > 0)
		c->stalled = false;

	switch (h->op) {
	case VIRTIO_VSOCK_OP_RST:
		conn_free(vs, c);
		return false;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != CONN_CONNECTING) {
			conn_reset(vs, c, true);
			return false;
		}
		return guest_accepted(vs, c);
	case VIRTIO_VSOCK_OP_RW:
		return guest_rw(vs, c, chain, h->len);
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		return guest_shutdown(vs, c, h->flags);
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return true; /* the counts above were all it had to say */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		ctl_set(vs, c, CTL_CREDIT_UPDATE);
		return true;
	default:
		/* A REQUEST for a connection that exists, or no operation at all. */
		conn_reset(vs, c, true);
		return false;
	}
}

/* A virtio_chain_fn for the tx queue: one packet.  Nothing a packet says resets the device. */
static int tx_handle(void *ctx, const struct virtq_chain *chain, uint32_t *used_len, const char **why)
{
	struct virtio_vsock *vs = ctx;
	struct virtio_vsock_hdr h;

	(void)why;
	*used_len = 0;
	if (chain->readable < HDR)
		return 0; /* not even a header: nothing to answer to */
	virtq_chain_read(chain, 0, &h, HDR); /* copied once, then checked */
	if (h.src_cid != vs->guest_cid)
		return 0; /* not this guest's address: drop */

	struct conn *c = h.dst_cid == VIRTIO_VSOCK_HOST_CID ? conn_find(vs, h.dst_port, h.src_port) : NULL;
	if (h.len > chain->readable - HDR || h.type != VIRTIO_VSOCK_TYPE_STREAM ||
	    h.dst_cid != VIRTIO_VSOCK_HOST_CID) {
		/*
		 * A packet that lies about its length, of a type we do not offer
		 * (no SEQPACKET: §5.10.6.4 wants an RST), or for another CID (a
		 * sibling VM: there is none; the RST comes from the CID it asked
		 * for, so that the guest's connect fails at once): reset what it
		 * belongs to, answer the rest with an RST.
		 */
		if (c)
			conn_reset(vs, c, h.op != VIRTIO_VSOCK_OP_RST);
		else if (h.op != VIRTIO_VSOCK_OP_RST)
			rst_push(vs, h.dst_cid, h.dst_port, h.src_port);
		return 0;
	}
	if (!c) {
		if (h.op == VIRTIO_VSOCK_OP_REQUEST)
			guest_connect(vs, &h);
		else if (h.op != VIRTIO_VSOCK_OP_RST)
			rst_push(vs, VIRTIO_VSOCK_HOST_CID, h.dst_port, h.src_port);
		return 0;
	}
	if (guest_packet(vs, c, &h, chain))
		conn_watch(vs, c);
	return 0;
}

/* ---- host events ------------------------------------------------------------------------- */

/* "CONNECT <port>" (the newline gone, an optional \r kept), as Firecracker reads it. */
static bool parse_connect(const char *line, unsigned len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	unsigned i = sizeof(verb) - 1;
	uint64_t v = 0;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len <= i || memcmp(line, verb, i) != 0)
		return false;
	while (i < len && line[i] == ' ')
		i++;
	if (i == len)
		return false;
	for (; i < len; i++) {
		if (line[i] < '0' || line[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(line[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	*port = (uint32_t)v;
	return true;
}

/* A host port for a connection to guest port `guest_port` that no connection uses. */
static uint32_t pick_host_port(struct virtio_vsock *vs, uint32_t guest_port)
{
	for (;;) {
		uint32_t p = vs->next_host_port++;
		if (vs->next_host_port < VIRTIO_VSOCK_FIRST_HOST_PORT)
			vs->next_host_port = VIRTIO_VSOCK_FIRST_HOST_PORT; /* wrapped */
		if (!conn_find(vs, p, guest_port))
			return p; /* found within nr_conns + 1 tries */
	}
}

/*
 * Reads what there is of a client's CONNECT line, a byte at a time: what
 * follows the newline is the client's first data for the guest.  A bad or
 * too long line, or the end before the newline, closes the client.
 */
static void client_read_line(struct virtio_vsock *vs, struct conn *c)
{
	for (;;) {
		char ch;
		ssize_t n = read(c->fd, &ch, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return; /* the rest comes later */
		if (n <= 0 || (ch != '\n' && c->line_len == VIRTIO_VSOCK_LINE_MAX - 1)) {
			conn_free(vs, c);
			return;
		}
		if (ch == '\n')
			break;
		c->line[c->line_len++] = ch;
	}
	uint32_t port;
	if (!parse_connect(c->line, c->line_len, &port)) {
		conn_free(vs, c);
		return;
	}
	conn_hash(vs, c, pick_host_port(vs, port), port);
	c->state = CONN_CONNECTING;
	ctl_set(vs, c, CTL_REQUEST);
	conn_deadline(vs, c, VSOCK_REQUEST_MS);
	conn_watch(vs, c);
}

static void listener_pause(struct virtio_vsock *vs, bool pause)
{
	if (pause == vs->listener_paused)
		return;
	if (pause) {
		epoll_ctl(vs->epoll_fd, EPOLL_CTL_DEL, vs->listen_fd, NULL);
		if (!vs->timer_armed)
			timer_set(vs, true);
	} else {
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TOKEN_LISTENER };
		if (epoll_ctl(vs->epoll_fd, EPOLL_CTL_ADD, vs->listen_fd, &ev) < 0)
			return; /* still paused: the next tick tries again */
	}
	vs->listener_paused = pause;
}

static void accept_clients(struct virtio_vsock *vs)
{
	for (unsigned i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				listener_pause(vs, true); /* EMFILE...: not a spin on a readable listener */
			return;
		}
		struct conn *c = conn_new(vs, fd, CONN_LINE);
		if (!c) {
			close(fd); /* the table is full: the client sees end of file */
			continue;
		}
		conn_deadline(vs, c, VSOCK_LINE_MS);
		conn_watch(vs, c);
		client_read_line(vs, c); /* the line may be there already */
	}
}

/* The host peer closed: read what it left without epoll, or tell the guest it is over. */
static bool conn_host_hup(struct virtio_vsock *vs, struct conn *c)
{
	if (c->in_epoll) {
		/* EPOLLHUP cannot be masked: a level-triggered watch would spin on it. */
		epoll_ctl(vs->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
		c->in_epoll = false;
		c->watched = 0;
	}
	c->hup = true;
	conn_write_dead(c); /* nobody reads what is still buffered */
	if (!conn_check_guest_done(vs, c))
		return false;
	if (conn_can_read(c)) {
		if (!link_linked(&c->data_link))
			link_add_tail(&vs->data_list, &c->data_link);
	} else {
		conn_host_done(vs, c);
	}
	return true;
}

static void conn_event(struct virtio_vsock *vs, struct conn *c, uint32_t events)
{
	if (c->state == CONN_LINE) {
		if (events & EPOLLERR)
			conn_free(vs, c);
		else
			client_read_line(vs, c); /* data, or end of file */
		return;
	}
	if (events & EPOLLERR) {
		conn_reset(vs, c, true);
		return;
	}
	if (c->state == CONN_CONNECTING) {
		if (events & EPOLLHUP)
			conn_reset(vs, c, true); /* the client left before the guest answered */
		return;
	}
	if ((events & EPOLLOUT) && !conn_flush(vs, c))
		return;
	if ((events & EPOLLHUP) && !conn_host_hup(vs, c))
		return;
	if ((events & EPOLLIN) && conn_can_read(c) && !link_linked(&c->data_link))
		link_add_tail(&vs->data_list, &c->data_link);
	conn_watch(vs, c);
}

static void on_tick(struct virtio_vsock *vs)
{
	uint64_t expirations, now = now_ns();
	unsigned waiting = 0;

	if (read(vs->timer_fd, &expirations, sizeof(expirations)) < 0) {
		/* not due after all */
	}
	listener_pause(vs, false);
	for (unsigned s = 0; s < VIRTIO_VSOCK_MAX_CONNS; s++) {
		struct conn *c = vs->slot[s];
		if (!c || !c->deadline)
			continue;
		if (now < c->deadline) {
			waiting++;
			continue;
		}
		/* A client that never sent its line just goes; the others end with an RST. */
		conn_reset(vs, c, c->state != CONN_LINE);
	}
	if (!waiting && !vs->listener_paused)
		timer_set(vs, false);
}

static void host_events(struct virtio_vsock *vs)
{
	struct epoll_event ev[EVENTS_BATCH];
	int n = epoll_wait(vs->epoll_fd, ev, EVENTS_BATCH, 0);

	for (int i = 0; i < n; i++) {
		uint64_t token = ev[i].data.u64;
		if (token == TOKEN_LISTENER) {
			accept_clients(vs);
			continue;
		}
		if (token == TOKEN_TIMER) {
			on_tick(vs);
			continue;
		}
		/* An entry freed by an earlier event of this batch is not looked at. */
		uint32_t s = (uint32_t)token, gen = (uint32_t)(token >> 32);
		struct conn *c = s < VIRTIO_VSOCK_MAX_CONNS ? vs->slot[s] : NULL;
		if (c && c->gen == gen)
			conn_event(vs, c, ev[i].events);
	}
}

/* ---- the device thread ------------------------------------------------------------------- */

static void vsock_serve(struct virtio_device *dev, uint32_t pending)
{
	struct virtio_vsock *vs = to_vsock(dev);

	if (pending & VIRTIO_WORKER_QUEUE(VIRTIO_VSOCK_TXQ))
		virtio_serve_queue(dev, VIRTIO_VSOCK_TXQ, &vs->tx_chain, tx_handle, vs);
	if (pending & VIRTIO_WORKER_EXTRA(0))
		host_events(vs);
	/* Whatever woke us (an rx kick: new buffers), owed packets and host data go out now. */
	rx_flush(vs);
	event_flush(vs);
}

void virtio_vsock_poll(struct virtio_device *dev)
{
	uint32_t pending = VIRTIO_WORKER_EXTRA(0);

	for (unsigned q = 0; q < dev->num_queues; q++)
		if (virtio_is_live(dev) && dev->vq[q].ready)
			pending |= VIRTIO_WORKER_QUEUE(q);
	vsock_serve(dev, pending);
}

unsigned virtio_vsock_nr_conns(const struct virtio_device *dev)
{
	const struct virtio_vsock *vs = dev->priv;
	return vs->nr_conns;
}

/* ---- device ops -------------------------------------------------------------------------- */

static void vsock_config_read(struct virtio_device *dev, uint32_t offset, void *data, unsigned len)
{
	const struct virtio_vsock *vs = dev->priv;
	uint64_t cfg = vs->guest_cid; /* le64 guest_cid (§5.10.4) */

	if (offset > CONFIG_SIZE || len > CONFIG_SIZE - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, (const uint8_t *)&cfg + offset, len);
}

static void vsock_activate(struct virtio_device *dev)
{
	/* Kicks before DRIVER_OK were dropped; owed packets wait for rx buffers: look now. */
	virtio_worker_wake(&to_vsock(dev)->worker);
}

/* The driver let go of the device: every connection ends (host clients see end of file). */
static void vsock_reset(struct virtio_device *dev)
{
	struct virtio_vsock *vs = to_vsock(dev);

	for (unsigned s = 0; s < VIRTIO_VSOCK_MAX_CONNS; s++)
		if (vs->slot[s])
			conn_free(vs, vs->slot[s]);
	vs->rst_head = vs->rst_len = 0;
	vs->event_pending = false; /* a new driver knows of no connection to reset */
}

static int vsock_start(struct virtio_device *dev, struct ember_err *err)
{
	return virtio_worker_start(&to_vsock(dev)->worker, "ember-vsock", err);
}

static void vsock_free(struct virtio_vsock *vs)
{
	for (unsigned s = 0; s < VIRTIO_VSOCK_MAX_CONNS; s++)
		if (vs->slot[s])
			conn_free(vs, vs->slot[s]);
	if (vs->listen_fd >= 0)
		close(vs->listen_fd);
	/* The connector removes the socket as it ends (it is not under ember's Landlock rules). */
	bool connector_ran = vs->connector.pid >= 0 && !vs->connector.dead;
	vsock_connector_stop(&vs->connector);
	if (!connector_ran && vs->dir_fd >= 0 && vs->listen_fd >= 0)
		unlinkat(vs->dir_fd, vs->name, 0); /* it never ran, or died: best effort */
	if (vs->epoll_fd >= 0)
		close(vs->epoll_fd);
	if (vs->timer_fd >= 0)
		close(vs->timer_fd);
	if (vs->dir_fd >= 0)
		close(vs->dir_fd);
	free(vs->uds_path);
	free(vs->name);
	free(vs);
}

static void vsock_destroy(struct virtio_device *dev)
{
	struct virtio_vsock *vs = to_vsock(dev);
	virtio_worker_stop(&vs->worker);
	vsock_free(vs);
}

/*
 * A connection is a host socket of this process and a peer that expects
 * its bytes: neither can travel in a snapshot, so a snapshot with any
 * open is refused (the user closes them, or takes it before they open).
 * Without connections the device has no state beyond its rings.
 */
static int vsock_save(struct virtio_device *dev, struct snapshot_writer *w, unsigned slot,
		      struct ember_err *err)
{
	struct virtio_vsock *vs = to_vsock(dev);

	(void)w;
	(void)slot;
	if (vs->nr_conns) /* dev->lock held by the caller */
		return ember_fail(err, EBUSY,
				  "snapshot refused: --vsock %s has %u connection%s open (close them first)",
				  vs->uds_path, vs->nr_conns, vs->nr_conns == 1 ? "" : "s");
	return 0;
}

/*
 * §5.10.6.7: the guest may believe in connections (half-open, or opened
 * after the snapshot's refusal check in the old process' lifetime) that
 * this process never had, and the CID may differ: TRANSPORT_RESET makes
 * it reset them and read the CID again.  Sent on the event queue's first
 * buffer (virtio_mmio_restore replays a kick of every ready queue).
 */
static int vsock_restore(struct virtio_device *dev, const struct snapshot_reader *r, unsigned slot,
			 struct ember_err *err)
{
	(void)r;
	(void)slot;
	(void)err;
	pthread_mutex_lock(&dev->lock);
	to_vsock(dev)->event_pending = true;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static const struct virtio_device_ops vsock_ops = {
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.reset = vsock_reset,
	.start = vsock_start,
	.destroy = vsock_destroy,
	.save = vsock_save,
	.restore = vsock_restore,
};

/* ---- construction ------------------------------------------------------------------------ */

/* The listening socket at vs->uds_path, private to ember's user. */
static int vsock_listen(struct virtio_vsock *vs, struct ember_err *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	const char *path = vs->uds_path;

	memcpy(addr.sun_path, path, strlen(path) + 1); /* length checked by the caller */
	vs->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (vs->listen_fd < 0)
		return ember_fail(err, errno, "--vsock %s: socket: %s", path, strerror(errno));
	mode_t old = umask(077); /* ember is single-threaded here */
	int rc = bind(vs->listen_fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old);
	if (rc < 0) {
		int e = errno;
		close(vs->listen_fd);
		vs->listen_fd = -1;
		if (e == EADDRINUSE)
			return ember_fail(err, e, "--vsock %s: already exists (another VM's socket, or one "
					  "left by an ember that was killed: remove it)", path);
		return ember_fail(err, e, "--vsock %s: cannot create the socket: %s", path, strerror(e));
	}
	if (listen(vs->listen_fd, 128) < 0) {
		int e = errno;
		unlinkat(vs->dir_fd, vs->name, 0);
		close(vs->listen_fd);
		vs->listen_fd = -1;
		return ember_fail(err, e, "--vsock %s: listen: %s", path, strerror(e));
	}
	return 0;
}

/* Splits path into its directory (opened O_PATH) and last component. */
static int vsock_open_dir(struct virtio_vsock *vs, struct ember_err *err)
{
	const char *path = vs->uds_path;
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	if (slash && slash[1] == '\0')
		return ember_fail(err, EINVAL, "--vsock %s: not a file name", path);
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	vs->name = strdup(slash ? slash + 1 : path);
	if (!vs->name)
		return ember_fail(err, ENOMEM, "out of memory");
	vs->dir_fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (vs->dir_fd < 0)
		return ember_fail(err, errno, "--vsock %s: %s: %s", path, dir, strerror(errno));
	return 0;
}

int virtio_vsock_new(const char *uds_path, uint64_t guest_cid, struct virtio_device **out,
		     struct ember_err *err)
{
	/* Room for the longest guest-connect path too: "<path>_4294967295" and its NUL. */
	const size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - sizeof("_4294967295");
	struct virtio_vsock *vs;
	int rc;

	if (guest_cid <= VIRTIO_VSOCK_HOST_CID)
		return ember_fail(err, EINVAL, "--vsock %s: guest CID %llu is reserved (0, 1 and 2 are "
				  "never a guest's; use 3 or more)", uds_path, (unsigned long long)guest_cid);
	if (guest_cid >= VIRTIO_VSOCK_CID_ANY)
		return ember_fail(err, EINVAL, "--vsock %s: guest CID %llu is too large (at most %llu)",
				  uds_path, (unsigned long long)guest_cid, VIRTIO_VSOCK_CID_ANY - 1);
	if (!uds_path[0] || strlen(uds_path) > max)
		return ember_fail(err, ENAMETOOLONG, "--vsock %s: %s (a socket path has at most %zu "
				  "bytes here, leaving room for the \"_PORT\" of guest connects)", uds_path,
				  uds_path[0] ? "too long" : "empty", max);
	vs = calloc(1, sizeof(*vs));
	if (!vs)
		return ember_fail(err, ENOMEM, "out of memory");
	vs->listen_fd = vs->epoll_fd = vs->timer_fd = vs->dir_fd = -1;
	vs->connector.pid = -1;
	vs->connector.sock = -1;
	vs->guest_cid = guest_cid;
	vs->next_host_port = VIRTIO_VSOCK_FIRST_HOST_PORT;
	link_init(&vs->ctl_list);
	link_init(&vs->data_list);
	for (unsigned s = 0; s < VIRTIO_VSOCK_MAX_CONNS; s++)
		vs->free_slot[s] = VIRTIO_VSOCK_MAX_CONNS - 1 - s; /* slot 0 first */
	vs->nr_free = VIRTIO_VSOCK_MAX_CONNS;
	vs->worker.wake_fd = -1;
	vs->uds_path = strdup(uds_path);
	if (!vs->uds_path) {
		free(vs);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	if ((rc = vsock_open_dir(vs, err)) || (rc = vsock_listen(vs, err)))
		goto fail;

	struct epoll_event lev = { .events = EPOLLIN, .data.u64 = TOKEN_LISTENER };
	struct epoll_event tev = { .events = EPOLLIN, .data.u64 = TOKEN_TIMER };
	vs->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	vs->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (vs->epoll_fd < 0 || vs->timer_fd < 0 ||
	    epoll_ctl(vs->epoll_fd, EPOLL_CTL_ADD, vs->listen_fd, &lev) < 0 ||
	    epoll_ctl(vs->epoll_fd, EPOLL_CTL_ADD, vs->timer_fd, &tev) < 0) {
		rc = ember_fail(err, errno, "--vsock %s: epoll: %s", uds_path, strerror(errno));
		goto fail;
	}
	if ((rc = vsock_connector_start(&vs->connector, vs->uds_path, vs->dir_fd, vs->name, err)) ||
	    (rc = virtio_worker_init(&vs->worker, &vs->dev, vsock_serve, "--vsock", vs->uds_path, err)))
		goto fail;
	if (virtio_worker_watch(&vs->worker, vs->epoll_fd) < 0) {
		rc = ember_fail(err, ENOSPC, "--vsock %s: internal: cannot watch its sockets", uds_path);
		goto fail;
	}
	vs->dev = (struct virtio_device){
		.name = "virtio-vsock",
		.device_id = VIRTIO_ID_VSOCK,
		.num_queues = 3,
		.queue_max_size = VIRTIO_VSOCK_QUEUE_SIZE,
		/* Streams only, which needs no feature bit (§5.10.3): no SEQPACKET. */
		.features = 0,
		.config_size = CONFIG_SIZE,
		.queue_service = { VIRTIO_QUEUE_ON_WORKER, VIRTIO_QUEUE_ON_WORKER, VIRTIO_QUEUE_ON_WORKER },
		.ops = &vsock_ops,
		.priv = vs,
	};
	*out = &vs->dev;
	return 0;
fail:
	virtio_worker_stop(&vs->worker);
	vsock_free(vs);
	return rc;
}
