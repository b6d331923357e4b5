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

#endif
