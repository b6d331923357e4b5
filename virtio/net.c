// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-net (virtio 1.2 §5.1): one rx and one tx queue in front of a host
 * back end (net.h) that moves whole frames, each with its 12-byte header.
 *
 * Threads: both queues are served on the device's I/O thread
 * (virtio/worker.c), which also watches the back end's fd, so no vCPU
 * thread and not the event loop ever waits on the host network.  The
 * thread holds dev->lock for a batch, as blk does: a reset never sees a
 * frame half delivered.
 *
 * tx: each chain is [header][frame], device-readable only.  The header is
 * copied once and checked against what the driver negotiated; the frame
 * goes to the back end as an iovec over guest memory, not copied.  A chain
 * that cannot be a frame is dropped and returned (a driver's mistake in
 * one chain costs that frame, not the device): only a malformed ring, which
 * virtq_pop reports, means NEEDS_RESET.  A back end that cannot take a
 * frame now (-EAGAIN: a tap's queue or passt's socket is full) loses it, as
 * a wire would; passt's back end waits (up to 1 s) only to finish a frame
 * it began, with dev->lock held (a vCPU touching this device's registers
 * meanwhile waits too).
 *
 * rx: the back end is read only while the device can deliver: one frame
 * at a time into rx_buf, then into the guest's buffers.  When the guest
 * has not posted enough, the frame stays in rx_buf and the back end's fd
 * is no longer watched (the host queues, or drops, further frames as it
 * would for a slow NIC); the guest's next rx kick delivers it.  Nothing
 * the device read is ever thrown away for want of buffers.
 */
#include "virtio/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/snapshot.h"

_Static_assert(sizeof(struct virtio_net_hdr_v1) == VIRTIO_NET_HDR_SIZE, "net header");
_Static_assert(offsetof(struct virtio_net_hdr_v1, num_buffers) == 10, "num_buffers");
_Static_assert(offsetof(struct virtio_net_config, status) == 6, "config status");
_Static_assert(VIRTIO_NET_QUEUE_SIZE <= VIRTQ_MAX_SIZE, "queue size");
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtio is little endian; so is ember");

/* Offered whatever the back end: a real MAC, the link state, merged rx buffers. */
#define NET_FEATURES ((1ULL << VIRTIO_NET_F_MAC) | (1ULL << VIRTIO_NET_F_STATUS) | \
		      (1ULL << VIRTIO_NET_F_MRG_RXBUF))
/*
 * Only when frames carry real headers both ways (a tap with IFF_VNET_HDR,
 * not passt).  No UFO: Linux removed it, and a tap ignores TUN_F_UFO.
 */
#define NET_OFFLOAD_FEATURES ((1ULL << VIRTIO_NET_F_CSUM) | (1ULL << VIRTIO_NET_F_GUEST_CSUM) | \
			      (1ULL << VIRTIO_NET_F_GUEST_TSO4) | (1ULL << VIRTIO_NET_F_GUEST_TSO6) | \
			      (1ULL << VIRTIO_NET_F_GUEST_ECN) | (1ULL << VIRTIO_NET_F_HOST_TSO4) | \
			      (1ULL << VIRTIO_NET_F_HOST_TSO6) | (1ULL << VIRTIO_NET_F_HOST_ECN))

static struct virtio_net *to_net(struct virtio_device *dev)
{
	return dev->priv;
}

/* ---- offloads ------------------------------------------------------------------------ */

/*
 * What the guest can take in rx frames (virtio 1.2 §5.1.3.1: TSO needs
 * GUEST_CSUM, ECN needs TSO).  TUNSETOFFLOAD rejects ECN without TSO, so
 * the same rules keep the set one a tap accepts.
 */
unsigned virtio_net_offloads(const struct virtio_device *dev)
{
	unsigned o;

	if (!virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM))
		return 0;
	o = NET_OFFLOAD_CSUM;
	if (virtio_has_feature(dev, VIRTIO_NET_F_GUEST_TSO4))
		o |= NET_OFFLOAD_TSO4;
	if (virtio_has_feature(dev, VIRTIO_NET_F_GUEST_TSO6))
		o |= NET_OFFLOAD_TSO6;
	if ((o & (NET_OFFLOAD_TSO4 | NET_OFFLOAD_TSO6)) &&
	    virtio_has_feature(dev, VIRTIO_NET_F_GUEST_ECN))
		o |= NET_OFFLOAD_ECN;
	return o;
}

/* Tells the back end what the driver accepted; without it the back end just never offloads. */
static void net_apply_offloads(struct virtio_net *n)
{
	struct net_backend *be = n->be;
	unsigned o = virtio_net_offloads(&n->dev);

	n->offloads = o;
	if (!be->ops->set_offload)
		return;
	int rc = be->ops->set_offload(be, o);
	if (rc < 0 && !n->offload_failed_logged) {
		n->offload_failed_logged = true;
		fprintf(stderr, "ember: virtio-net (%s): cannot set offloads 0x%x: %s; "
			"the guest gets plain frames\r\n", be->what, o, strerror(-rc));
	}
}

/* ---- tx: driver -> back end ---------------------------------------------------------- */

/*
 * A gso_type one side may use: NONE, or TCP segmentation of a kind the
 * driver negotiated (feature bits tso4/tso6/ecn, the host's for tx, the
 * guest's for rx).  UFO and unknown types are never offered.
 */
static bool net_gso_ok(const struct virtio_device *dev, uint8_t gso_type, unsigned tso4,
		       unsigned tso6, unsigned ecn)
{
	bool has_ecn = gso_type & VIRTIO_NET_HDR_GSO_ECN;

	if (has_ecn && !virtio_has_feature(dev, ecn))
		return false;
	switch (gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		return !has_ecn;
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return virtio_has_feature(dev, tso4);
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return virtio_has_feature(dev, tso6);
	default:
		return false;
	}
}

/*
 * The header may only ask for what the driver negotiated (virtio 1.2
 * §5.1.6.2.1); flag bits the device does not know are ignored (§5.1.6.2.2),
 * so they are not passed on.  A back end without offloads then always gets
 * a header that asks for nothing.
 */
static bool net_tx_hdr_ok(const struct virtio_device *dev, struct virtio_net_hdr_v1 *h)
{
	h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->num_buffers = 0;
	if (h->flags && !virtio_has_feature(dev, VIRTIO_NET_F_CSUM))
		return false;
	return net_gso_ok(dev, h->gso_type, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6,
			  VIRTIO_NET_F_HOST_ECN);
}

/* tx_iov: the checked header copy, then the chain's bytes after the guest's header (no copy). */
static unsigned net_tx_map(struct virtio_net *n, const struct virtq_chain *c)
{
	n->tx_iov[0] = (struct iovec){ &n->tx_hdr, VIRTIO_NET_HDR_SIZE };
	return 1 + virtq_chain_iov(c, false, VIRTIO_NET_HDR_SIZE, c->readable - VIRTIO_NET_HDR_SIZE,
				   n->tx_iov + 1);
}

/* One chain: the frame goes to the back end, or is counted as dropped. */
static void net_tx_frame(struct virtio_net *n, const struct virtq_chain *c)
{
	struct virtio_net_stats *s = &n->stats;

	/* §5.1.6.2: device-readable only, a whole header, at most a GSO frame. */
	if (c->writable || c->readable < VIRTIO_NET_HDR_SIZE || c->readable > VIRTIO_NET_MAX_BUF) {
		s->tx_dropped++;
		return;
	}
	/* Copied once: the guest may rewrite it while the back end reads. */
	virtq_chain_read(c, 0, &n->tx_hdr, sizeof(n->tx_hdr));
	if (!net_tx_hdr_ok(&n->dev, &n->tx_hdr)) {
		s->tx_dropped++;
		return;
	}
	unsigned nr = net_tx_map(n, c);
	if (n->be->ops->send(n->be, n->tx_iov, nr) < 0) {
		s->tx_dropped++; /* -EAGAIN included: lost as on a wire, see the top */
		return;
	}
	s->tx_frames++;
	s->tx_bytes += c->readable - VIRTIO_NET_HDR_SIZE;
}

static void net_tx_process(struct virtio_net *n)
{
	struct virtio_device *dev = &n->dev;
	struct virtq *q = &dev->vq[VIRTIO_NET_TXQ];
	const char *why = NULL;
	bool pushed = false;
	unsigned done = 0;
	int got = 0;

	if (!virtio_is_live(dev) || !q->ready)
		return;
	while (done < VIRTIO_NET_TX_BUDGET && (got = virtq_pop(q, &n->tx_chain, &why)) > 0) {
		net_tx_frame(n, &n->tx_chain);
		virtq_push(q, n->tx_chain.head, 0); /* the device writes nothing into tx buffers */
		pushed = true;
		done++;
	}
	if (got < 0)
		virtio_set_needs_reset(dev, why);
	else if (done == VIRTIO_NET_TX_BUDGET)
		virtio_kick_queue(dev, VIRTIO_NET_TXQ); /* more may wait: come back after rx */
	if (pushed)
		virtio_notify_used(dev, VIRTIO_NET_TXQ); /* once per batch */
}

/* ---- rx: back end -> driver ----------------------------------------------------------- */

enum net_rx {
	NET_RX_DONE,       /* delivered or dropped: go on with the next frame */
	NET_RX_WAIT,       /* not enough buffers: the frame stays pending */
	NET_RX_STOP,       /* nothing to read, the back end is gone, or the ring is broken */
};

/*
 * Watch the back end exactly while a frame read from it could go
 * somewhere: the device live, the rx queue running, no frame pending, the
 * back end still there.  The fd is level-triggered: left watched while
 * the device cannot read it, it would wake the thread over and over.
 */
static void net_rx_watch(struct virtio_net *n)
{
	struct virtio_device *dev = &n->dev;
	bool on = virtio_is_live(dev) && dev->vq[VIRTIO_NET_RXQ].ready && !n->rx_len && !n->be_gone;

	if (on == n->watching)
		return;
	n->watching = on;
	virtio_worker_watch_enable(&n->worker, VIRTIO_NET_WATCH_BE, on);
}

/* Like a cable pulled: the device stays, its link goes down (virtio 1.2 §5.1.4 status). */
static void net_backend_lost(struct virtio_net *n, ssize_t rc)
{
	n->be_gone = true;
	n->link_up = false;
	fprintf(stderr, "ember: virtio-net (%s): back end gone (%s); the guest's link is down\r\n",
		n->be->what, rc < 0 ? strerror((int)-rc) : "end of file");
	if (virtio_is_live(&n->dev))
		virtio_notify_config(&n->dev);
}

/*
 * What reaches the driver is what it accepted (virtio 1.2 §5.1.6.4.1):
 * without GUEST_CSUM, flags zero and a fully checksummed frame; GSO only
 * of the negotiated kinds.  set_offload asked the back end for no more, so
 * a frame needing more is the back end's mistake and is dropped;
 * DATA_VALID (a tap marks frames the host checked) is only cleared.
 */
static bool net_rx_hdr_ok(const struct virtio_device *dev, uint8_t *frame)
{
	struct virtio_net_hdr_v1 h;

	memcpy(&h, frame, sizeof(h));
	if (!virtio_has_feature(dev, VIRTIO_NET_F_GUEST_CSUM)) {
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return false;
		h.flags = 0;
	}
	memcpy(frame, &h, sizeof(h));
	return net_gso_ok(dev, h.gso_type, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
			  VIRTIO_NET_F_GUEST_ECN);
}

/* Reads one frame into rx_buf: NET_RX_DONE when there is one (or a bad one was dropped). */
static enum net_rx net_rx_fetch(struct virtio_net *n)
{
	if (n->be_gone)
		return NET_RX_STOP;
	ssize_t r = n->be->ops->recv(n->be, n->rx_buf, sizeof(n->rx_buf));
	if (r == -EAGAIN)
		return NET_RX_STOP;
	if (r <= 0) {
		net_backend_lost(n, r);
		return NET_RX_STOP;
	}
	if (r < VIRTIO_NET_HDR_SIZE || (size_t)r > sizeof(n->rx_buf) ||
	    !net_rx_hdr_ok(&n->dev, n->rx_buf))
		n->stats.rx_dropped++; /* not even a header, or one the driver cannot take */
	else
		n->rx_len = (size_t)r;
	return NET_RX_DONE;
}

/* The pending frame is lost: never for want of buffers, only for an error or a reset. */
static void net_rx_drop(struct virtio_net *n)
{
	n->stats.rx_dropped++;
	n->rx_len = 0;
}

static void net_rx_delivered(struct virtio_net *n)
{
	n->stats.rx_frames++;
	n->stats.rx_bytes += n->rx_len - VIRTIO_NET_HDR_SIZE;
	n->rx_len = 0;
}

/* The ring itself is malformed: NEEDS_RESET, and the reset forgets the frame anyway. */
static enum net_rx net_rx_broken(struct virtio_net *n, const char *why)
{
	virtio_set_needs_reset(&n->dev, why);
	net_rx_drop(n);
	return NET_RX_STOP;
}

/*
 * A receive chain is device-writable only (virtio 1.2 §5.1.6.3) and, with
 * or without MRG_RXBUF, holds at least the header (§5.1.6.3.1): so the
 * header never straddles chains, and each chain takes a piece of a frame.
 */
static bool net_rx_chain_ok(const struct virtq_chain *c)
{
	return c->readable == 0 && c->writable >= VIRTIO_NET_HDR_SIZE;
}

static void net_rx_set_num_buffers(struct virtio_net *n, uint16_t count)
{
	memcpy(n->rx_buf + offsetof(struct virtio_net_hdr_v1, num_buffers), &count, sizeof(count));
}

/* Without MRG_RXBUF one chain takes the whole frame, num_buffers = 1 (virtio 1.2 §5.1.6.3.2). */
static enum net_rx net_rx_single(struct virtio_net *n, bool *pushed)
{
	struct virtq *q = &n->dev.vq[VIRTIO_NET_RXQ];
	struct virtq_chain *c = &n->rx_chain;
	const char *why = NULL;
	int got = virtq_pop(q, c, &why);

	if (got < 0)
		return net_rx_broken(n, why);
	if (got == 0)
		return NET_RX_WAIT;
	*pushed = true;
	if (!net_rx_chain_ok(c) || c->writable < n->rx_len) {
		/* The driver sized its buffers against §5.1.6.3.1: this frame cannot fit. */
		virtq_push(q, c->head, 0);
		net_rx_drop(n);
		return NET_RX_DONE;
	}
	net_rx_set_num_buffers(n, 1);
	virtq_chain_write(c, 0, n->rx_buf, n->rx_len);
	virtq_push(q, c->head, (uint32_t)n->rx_len);
	net_rx_delivered(n);
	return NET_RX_DONE;
}

/* Returns the `nr` chains taken for a frame: with their pieces' lengths, or empty (used len 0). */
static void net_rx_push_taken(struct virtio_net *n, unsigned nr, bool empty)
{
	struct virtq *q = &n->dev.vq[VIRTIO_NET_RXQ];

	for (unsigned i = 0; i < nr; i++)
		virtq_push(q, n->rx_head[i], empty ? 0 : n->rx_piece[i]);
}

/*
 * Takes chains until they hold the frame, writing each piece but the first
 * as it goes; the first chain gets the header once num_buffers is known
 * (virtio 1.2 §5.1.6.3.2: the count of chains the frame spans).  The used entries go
 * out together at the end, so the driver sees the frame whole or not at
 * all.
 *
 * When the ring runs dry midway, nothing was returned: the chains taken so
 * far are given back (virtq_rewind), and the frame waits.  That
 * is safe because nothing was pushed meanwhile, and a buffer is the
 * device's from when it is made available until it is used (virtio 1.2
 * §2.7), so the bytes already written there are invisible to the driver; and with EVENT_IDX the failed virtq_pop left avail_event at
 * the driver's avail index, so its next buffer brings a kick.
 */
static enum net_rx net_rx_merge(struct virtio_net *n, bool *pushed)
{
	struct virtq *q = &n->dev.vq[VIRTIO_NET_RXQ];
	uint16_t mark = q->last_avail;
	const char *why = NULL;
	unsigned nr = 0;
	size_t off = 0;

	while (off < n->rx_len) {
		if (nr == q->size) {
			/* The whole ring cannot hold it: no later buffer would either. */
			virtq_rewind(q, mark);
			net_rx_drop(n);
			return NET_RX_DONE;
		}
		struct virtq_chain *c = nr == 0 ? &n->rx_first : &n->rx_chain;
		int got = virtq_pop(q, c, &why);
		if (got < 0)
			return net_rx_broken(n, why);
		if (got == 0) {
			virtq_rewind(q, mark);
			return NET_RX_WAIT;
		}
		n->rx_head[nr] = c->head;
		if (!net_rx_chain_ok(c)) {
			/* A driver error in one chain: every chain taken goes back empty, the frame is lost. */
			net_rx_push_taken(n, nr + 1, true);
			*pushed = true;
			net_rx_drop(n);
			return NET_RX_DONE;
		}
		size_t take = c->writable < n->rx_len - off ? (size_t)c->writable : n->rx_len - off;
		if (nr > 0)
			virtq_chain_write(c, 0, n->rx_buf + off, take);
		n->rx_piece[nr++] = (uint32_t)take;
		off += take;
	}
	net_rx_set_num_buffers(n, (uint16_t)nr);
	virtq_chain_write(&n->rx_first, 0, n->rx_buf, n->rx_piece[0]);
	net_rx_push_taken(n, nr, false);
	*pushed = true;
	net_rx_delivered(n);
	return NET_RX_DONE;
}

static void net_rx_process(struct virtio_net *n)
{
	struct virtio_device *dev = &n->dev;
	bool mrg = virtio_has_feature(dev, VIRTIO_NET_F_MRG_RXBUF), pushed = false;

	if (!virtio_is_live(dev) || !dev->vq[VIRTIO_NET_RXQ].ready)
		return;
	/* Bounded: a host flooding the guest must not starve its tx. */
	for (unsigned i = 0; i < VIRTIO_NET_RX_BUDGET; i++) {
		if (!n->rx_len && net_rx_fetch(n) == NET_RX_STOP)
			break;
		if (!n->rx_len)
			continue; /* a bad frame was dropped */
		enum net_rx r = mrg ? net_rx_merge(n, &pushed) : net_rx_single(n, &pushed);
		if (r != NET_RX_DONE)
			break;
	}
	if (pushed)
		virtio_notify_used(dev, VIRTIO_NET_RXQ); /* once per batch */
}

/* ---- the I/O thread ------------------------------------------------------------------- */

void virtio_net_serve(struct virtio_device *dev, uint32_t pending)
{
	struct virtio_net *n = to_net(dev);

	if (pending & VIRTIO_WORKER_QUEUE(VIRTIO_NET_TXQ))
		net_tx_process(n);
	if (pending & (VIRTIO_WORKER_QUEUE(VIRTIO_NET_RXQ) | VIRTIO_WORKER_EXTRA(VIRTIO_NET_WATCH_BE)))
		net_rx_process(n);
	net_rx_watch(n);
}

int virtio_net_start(struct virtio_net *n, struct ember_err *err)
{
	return virtio_worker_start(&n->worker, "ember-net", err);
}

void virtio_net_uninit(struct virtio_net *n)
{
	virtio_worker_stop(&n->worker);
}

/* ---- virtio_device_ops ------------------------------------------------------------------ */

/* mac, then status (virtio 1.2 §5.1.4); little endian. */
static void net_config_read(struct virtio_device *dev, uint32_t offset, void *data, unsigned len)
{
	const struct virtio_net *n = dev->priv;
	uint8_t cfg[VIRTIO_NET_CONFIG_SIZE];
	uint16_t status = n->link_up ? VIRTIO_NET_S_LINK_UP : 0;

	memcpy(cfg, n->mac, sizeof(n->mac));
	memcpy(cfg + offsetof(struct virtio_net_config, status), &status, sizeof(status));
	/* The transport checked the range already; this keeps the copy safe on its own. */
	if (offset > sizeof(cfg) || len > sizeof(cfg) - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, cfg + offset, len);
}

/*
 * DRIVER_OK (vCPU thread, dev->lock held): the features are final, so the
 * back end learns the rx offloads now; kicks before DRIVER_OK were dropped
 * by the worker, so it looks at both queues again.
 */
static void net_activate(struct virtio_device *dev)
{
	struct virtio_net *n = to_net(dev);

	net_apply_offloads(n);
	net_rx_watch(n);
	virtio_worker_wake(&n->worker);
}

/*
 * Reset (dev->lock held, status not yet cleared): the frame read but not
 * delivered is dropped, as a NIC reset drops its FIFO; the back end is
 * not watched until the next DRIVER_OK.
 */
static void net_reset(struct virtio_device *dev)
{
	struct virtio_net *n = to_net(dev);

	if (n->rx_len)
		net_rx_drop(n);
	n->watching = false;
	virtio_worker_watch_enable(&n->worker, VIRTIO_NET_WATCH_BE, false);
}

static int net_start(struct virtio_device *dev, struct ember_err *err)
{
	return virtio_net_start(to_net(dev), err);
}

static void net_destroy(struct virtio_device *dev)
{
	struct virtio_net *n = to_net(dev);

	virtio_net_uninit(n); /* the thread first: it may be inside the back end */
	n->be->ops->close(n->be);
	free(n);
}

/* ---- snapshots ------------------------------------------------------------------------- */

/*
 * The MAC the guest's driver read and the link state.  A frame pending in
 * rx_buf is not saved: a restored guest misses it, as a frame lost on a
 * wire, and TCP resends it.  The device in this process keeps it.
 */
struct saved_net {
	uint8_t mac[6];
	uint16_t status;
};

static int net_save(struct virtio_device *dev, struct snapshot_writer *w, unsigned slot,
		    struct ember_err *err)
{
	const struct virtio_net *n = to_net(dev);
	struct saved_net s;

	memcpy(s.mac, n->mac, sizeof(s.mac));
	s.status = n->link_up ? VIRTIO_NET_S_LINK_UP : 0;
	int rc = snapshot_put(w, SNAP_VIRTIO_PRIVATE, slot, &s, sizeof(s));
	return rc ? ember_fail(err, -rc, "snapshot: state too large") : 0;
}

/*
 * Before the threads start.  The guest keeps the MAC it read.  The link
 * follows the new back end, which is there: if the saved link was down,
 * a config change tells the driver it is up again.  activate() does not
 * run for a restored device, so its work (offloads, watching) is done here.
 */
static int net_restore(struct virtio_device *dev, const struct snapshot_reader *r, unsigned slot,
		       struct ember_err *err)
{
	struct virtio_net *n = to_net(dev);
	const struct snapshot_section *sec = snapshot_find(r, SNAP_VIRTIO_PRIVATE, slot);
	struct saved_net s;

	if (!sec || sec->len != sizeof(s))
		return ember_fail(err, EINVAL, "snapshot: virtio-net (%s): state %s", n->be->what,
				  sec ? "has the wrong size" : "is missing");
	memcpy(&s, sec->data, sizeof(s));
	pthread_mutex_lock(&dev->lock);
	memcpy(n->mac, s.mac, sizeof(n->mac));
	/* n->link_up stays true: this device's back end was just opened. */
	if (virtio_is_live(dev)) {
		net_apply_offloads(n);
		if (n->link_up && !(s.status & VIRTIO_NET_S_LINK_UP))
			virtio_notify_config(dev);
	}
	net_rx_watch(n);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

/* No config_write: the MAC is read-only in virtio 1.x (§5.1.4), writes are ignored. */
static const struct virtio_device_ops net_ops = {
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.start = net_start,
	.destroy = net_destroy,
	.save = net_save,
	.restore = net_restore,
};

/* ---- construction ----------------------------------------------------------------------- */

int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t mac[6],
		    struct ember_err *err)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->worker.wake_fd = -1;
	if (!be->ops || !be->ops->send || !be->ops->recv || !be->ops->close)
		return ember_fail(err, EINVAL, "virtio-net (%s): back end without send/recv/close",
				  be->what);
	n->be = be;
	memcpy(n->mac, mac, sizeof(n->mac));
	n->link_up = true;
	n->dev = (struct virtio_device){
		.name = "virtio-net",
		.device_id = VIRTIO_ID_NET,
		.num_queues = 2,
		.queue_max_size = VIRTIO_NET_QUEUE_SIZE,
		/* send may block (passt) and the back end's fd is the worker's to watch. */
		.queue_service = { VIRTIO_QUEUE_ON_WORKER, VIRTIO_QUEUE_ON_WORKER },
		.features = NET_FEATURES | (be->offloads ? NET_OFFLOAD_FEATURES : 0),
		.config_size = VIRTIO_NET_CONFIG_SIZE,
		.ops = &net_ops,
		.priv = n,
	};
	if ((rc = virtio_worker_init(&n->worker, &n->dev, virtio_net_serve, "--net", be->what, err)))
		return rc;
	if ((rc = virtio_worker_watch(&n->worker, be->fd)) < 0) {
		virtio_worker_stop(&n->worker);
		return ember_fail(err, -rc, "virtio-net (%s): cannot watch its fd", be->what);
	}
	/* Not before DRIVER_OK: until then a frame could go nowhere. */
	virtio_worker_watch_enable(&n->worker, VIRTIO_NET_WATCH_BE, false);
	return 0;
}

/* The device owns be from virtio_net_new on, failure included (net.h). */
static void net_backend_release(struct net_backend *be)
{
	if (be->ops && be->ops->close)
		be->ops->close(be);
}

int virtio_net_new(struct net_backend *be, const uint8_t mac[6], struct virtio_device **out,
		   struct ember_err *err)
{
	struct virtio_net *n = malloc(sizeof(*n)); /* ~80 KiB: rx_buf holds a whole GSO frame */
	int rc;

	if (!n) {
		net_backend_release(be);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	if ((rc = virtio_net_init(n, be, mac, err))) {
		net_backend_release(be);
		free(n);
		return rc;
	}
	*out = &n->dev;
	return 0;
}
