/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-net (virtio 1.2 §5.1) and its host back ends.  The device file
 * (net.c) moves frames between the guest's rx/tx queues and a back end;
 * a back end (net_tap.c: a tap, made or attached, with libnl for
 * addresses, routes and bridges; net_passt.c: Debian's passt over a
 * socketpair) only moves whole frames to and from the host.  The device
 * knows nothing of taps or passt, the back ends nothing of rings.
 */
#ifndef EMBER_VIRTIO_NET_H
#define EMBER_VIRTIO_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "virtio/virtio.h"
#include "virtio/worker.h"
#include "vm/config.h"
#include "vm/error.h"

/* Feature bits (virtio 1.2 §5.1.3). */
#define VIRTIO_NET_F_CSUM       0  /* device takes partially checksummed tx frames */
#define VIRTIO_NET_F_GUEST_CSUM 1  /* driver takes partially checksummed rx frames */
#define VIRTIO_NET_F_MTU        3
#define VIRTIO_NET_F_MAC        5
#define VIRTIO_NET_F_GUEST_TSO4 7
#define VIRTIO_NET_F_GUEST_TSO6 8
#define VIRTIO_NET_F_GUEST_ECN  9
#define VIRTIO_NET_F_GUEST_UFO  10
#define VIRTIO_NET_F_HOST_TSO4  11
#define VIRTIO_NET_F_HOST_TSO6  12
#define VIRTIO_NET_F_HOST_ECN   13
#define VIRTIO_NET_F_HOST_UFO   14
#define VIRTIO_NET_F_MRG_RXBUF  15
#define VIRTIO_NET_F_STATUS     16

#define VIRTIO_NET_S_LINK_UP 1

/* virtio_net_hdr flags and gso_type (virtio 1.2 §5.1.6). */
#define VIRTIO_NET_HDR_F_NEEDS_CSUM 1
#define VIRTIO_NET_HDR_F_DATA_VALID 2
#define VIRTIO_NET_HDR_GSO_NONE  0
#define VIRTIO_NET_HDR_GSO_TCPV4 1
#define VIRTIO_NET_HDR_GSO_UDP   3
#define VIRTIO_NET_HDR_GSO_TCPV6 4
#define VIRTIO_NET_HDR_GSO_ECN   0x80

/*
 * The header in front of every frame, both ways (virtio 1.2 §5.1.6): with
 * VIRTIO_F_VERSION_1 it always has num_buffers, so it is 12 bytes whether
 * or not MRG_RXBUF was negotiated.  A tap opened with IFF_VNET_HDR and
 * TUNSETVNETHDRSZ 12 reads and writes exactly this layout.
 */
struct virtio_net_hdr_v1 {
	uint8_t flags;
	uint8_t gso_type;
	uint16_t hdr_len;
	uint16_t gso_size;
	uint16_t csum_start;
	uint16_t csum_offset;
	uint16_t num_buffers;    /* rx with MRG_RXBUF: chains the frame spans */
};

/* Device configuration space (virtio 1.2 §5.1.4), up to mtu. */
struct virtio_net_config {
	uint8_t mac[6];
	uint16_t status;
	uint16_t max_virtqueue_pairs;
	uint16_t mtu;
};

#define VIRTIO_NET_HDR_SIZE   12
#define VIRTIO_NET_QUEUE_SIZE 256
#define VIRTIO_NET_RXQ 0
#define VIRTIO_NET_TXQ 1
/*
 * The largest frame either way: a 64 KiB GSO super-frame plus its
 * Ethernet (and VLAN) header, as Linux's tun and virtio_net allow.
 */
#define VIRTIO_NET_MAX_FRAME (65535 + 14 + 4)
#define VIRTIO_NET_MAX_BUF   (VIRTIO_NET_HDR_SIZE + VIRTIO_NET_MAX_FRAME)

/* TUNSETOFFLOAD bits a device asks of its back end (from <linux/if_tun.h>). */
#define NET_OFFLOAD_CSUM 0x01
#define NET_OFFLOAD_TSO4 0x02
#define NET_OFFLOAD_TSO6 0x04
#define NET_OFFLOAD_ECN  0x08

struct net_backend;

struct net_backend_ops {
	/*
	 * Sends one frame the guest transmitted.  iov starts with its 12-byte
	 * struct virtio_net_hdr_v1 (a back end without offloads drops it; the
	 * device then never offered checksum or GSO features, so it holds
	 * nothing).  Returns 0, -EAGAIN when the back end cannot take it now
	 * (the device retries when fd is writable... or drops it: see net.c),
	 * or another -errno (the frame is lost, as on a wire).
	 */
	int (*send)(struct net_backend *be, const struct iovec *iov, unsigned n);
	/*
	 * Receives one whole frame into buf (size >= VIRTIO_NET_MAX_BUF),
	 * starting with its 12-byte header (zeroed by a back end without
	 * offloads).  Returns the bytes stored (header included), -EAGAIN when
	 * no frame waits, or another -errno (the back end is gone: -EPIPE).
	 */
	ssize_t (*recv)(struct net_backend *be, void *buf, size_t size);
	/*
	 * The guest accepted these offloads for received frames (NET_OFFLOAD_*):
	 * the back end may now hand such frames over.  Optional (back ends
	 * without offloads).
	 */
	int (*set_offload)(struct net_backend *be, unsigned offloads);
	/* Closes the back end: its fds, its helper process, its tap. */
	void (*close)(struct net_backend *be);
};

struct net_backend {
	const struct net_backend_ops *ops;
	int fd;                  /* readable when a frame may wait: the device thread watches it */
	bool offloads;           /* frames carry real headers: the device may offer CSUM/TSO */
	char what[48];           /* for messages: "tap ember0", "passt (pid 123)" */
	void *priv;              /* the back end's own state */
};

/*
 * Opens the back end a --net option asks for (net_tap.c, net_passt.c):
 * attaches to or creates the tap, or starts passt.  Before the sandbox:
 * this may need CAP_NET_ADMIN and fork/exec.  On failure nothing is left
 * behind and err says which --net and why, in one line.
 */
int net_backend_open(const struct ember_net *net, unsigned index, struct net_backend **out,
		     struct ember_err *err);
/* What the guest's kernel command line needs for this interface ("ip=..."), or "" if nothing. */
int net_backend_guest_cmdline(const struct ember_net *net, const struct net_backend *be,
			      unsigned index, char *buf, size_t size);

/* The device, over a back end it then owns; mac is the guest's address. */
int virtio_net_new(struct net_backend *be, const uint8_t mac[6], struct virtio_device **out,
		   struct ember_err *err);
/*
 * virtio_net_new() owns be from the call on: when it fails it closes be
 * too, so a caller never closes a back end it handed over.
 */

/* ---- the device's insides -------------------------------------------------------------
 * Shown so that unit tests drive the device without KVM, as blk.h does:
 * virtio_net_init() over a fake back end, hand-made queues, then
 * virtio_net_serve() with the pending bits the worker would pass.
 */

#define VIRTIO_NET_CONFIG_SIZE 8  /* mac and status: neither MQ nor MTU is offered */
#define VIRTIO_NET_RX_BUDGET   64 /* frames received per wake: tx gets its turn between */
#define VIRTIO_NET_TX_BUDGET   VIRTIO_NET_QUEUE_SIZE /* chains sent per wake */
#define VIRTIO_NET_WATCH_BE    0  /* the back end's fd: the worker's extra fd 0 */

/* Counters, changed and read under dev.lock. */
struct virtio_net_stats {
	uint64_t tx_frames, tx_bytes, tx_dropped; /* bytes: frames without their header */
	uint64_t rx_frames, rx_bytes, rx_dropped;
};

struct virtio_net {
	struct virtio_device dev;
	struct net_backend *be;      /* owned: closed by destroy */
	uint8_t mac[6];
	bool link_up;                /* config status: cleared when the back end goes */
	bool be_gone;                /* recv failed for good: never read again */
	bool watching;               /* the worker watches be->fd (see net_rx_watch) */
	unsigned offloads;           /* NET_OFFLOAD_* last given to the back end */
	bool offload_failed_logged;
	struct virtio_net_stats stats;
	struct virtio_worker worker;

	/* Scratch, only under dev.lock. */
	size_t rx_len;               /* bytes of rx_buf holding a frame not delivered yet; 0: none */
	struct virtq_chain rx_first, rx_chain, tx_chain;
	uint16_t rx_head[VIRTQ_MAX_SIZE];   /* chains taken for the frame being delivered */
	uint32_t rx_piece[VIRTQ_MAX_SIZE];  /* and the bytes each gets */
	struct virtio_net_hdr_v1 tx_hdr;    /* the guest's header, copied once and checked */
	struct iovec tx_iov[VIRTQ_MAX_SIZE + 1];
	uint8_t rx_buf[VIRTIO_NET_MAX_BUF];
};

/*
 * Fills n (ops, features, config space, a worker that will watch be->fd
 * from DRIVER_OK on); no thread, no transport.  n does not own be until virtio_net_new: on
 * failure be is left open.
 */
int virtio_net_init(struct virtio_net *n, struct net_backend *be, const uint8_t mac[6],
		    struct ember_err *err);
/* Starts the worker thread; dev.kick_fd[] must exist (virtio_device_attach made them). */
int virtio_net_start(struct virtio_net *n, struct ember_err *err);
/* Stops the worker (if any); does not close the back end nor free n. */
void virtio_net_uninit(struct virtio_net *n);
/*
 * The worker's serve callback (virtio_worker_fn), dev->lock held: tx on
 * VIRTIO_WORKER_QUEUE(VIRTIO_NET_TXQ); rx on a kick of the rx queue or
 * on VIRTIO_WORKER_EXTRA(VIRTIO_NET_WATCH_BE).
 */
void virtio_net_serve(struct virtio_device *dev, uint32_t pending);
/* The NET_OFFLOAD_* set the driver's accepted features ask of the back end. */
unsigned virtio_net_offloads(const struct virtio_device *dev);

/* ---- inside the back ends (net_backend.c, net_tap.c, net_passt.c) ---------- */

/*
 * The IPv4 set-up a back end gives its guest through the kernel's ip=
 * word, in network byte order (dns 0: none).
 */
struct net_ipv4 {
	uint32_t guest, gateway, dns;
	unsigned prefix;
};

/*
 * --net user: the fixed set-up of QEMU's user networking, documented so
 * that it can be relied on.  passt answers ARP for the whole subnet, takes
 * traffic to the gateway to the host's loopback (as QEMU's 10.0.2.2 is the
 * host), forwards DNS sent to NET_USER_DNS to the host's first resolver,
 * and everything else leaves through the host's own sockets.
 */
#define NET_USER_GUEST   "10.0.2.15"
#define NET_USER_PREFIX  24
#define NET_USER_GATEWAY "10.0.2.2"
#define NET_USER_DNS     "10.0.2.3"

/*
 * --net auto without host=/guest=: 172.30.N.1/24 on the host's end of tap
 * "emberN" and 172.30.N.2 in the guest, N the tap's number modulo 256.
 */
#define NET_AUTO_NET    0xac1e0000u /* 172.30.0.0, host byte order */
#define NET_AUTO_PREFIX 24

/* tap=, auto and bridge= (net_tap.c). */
int net_tap_open(const struct ember_net *net, struct net_backend **out, struct ember_err *err);
/* auto: the addresses net_tap_open gave the link and leaves to the guest; false for any other back end. */
bool net_tap_guest_ipv4(const struct net_backend *be, struct net_ipv4 *out);
/* user (net_passt.c). */
int net_passt_open(const struct ember_net *net, struct net_backend **out, struct ember_err *err);

#endif
