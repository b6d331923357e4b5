/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-vsock (virtio 1.2 §5.10): stream sockets between the guest and
 * host programs, over Unix sockets on the host side in Firecracker's
 * "hybrid" convention, so that tools written for Firecracker work as is:
 *
 *   host -> guest  a host program connects to the device's socket PATH,
 *                  writes "CONNECT <port>\n", reads "OK <host port>\n",
 *                  and then talks to whatever listens on that vsock port
 *                  in the guest;
 *   guest -> host  a guest connect() to CID 2 port P reaches whatever
 *                  listens on the Unix socket "PATH_P" (made by a small
 *                  connector process, vsock_connect.c: the running ember
 *                  may not connect() itself).
 *
 * virtio_vsock_new() is the constructor for the device list; the rest is
 * here so that unit tests drive the device without KVM or its thread.
 */
#ifndef EMBER_VIRTIO_VSOCK_H
#define EMBER_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtio/virtio.h"
#include "vm/error.h"

/* Queues (virtio 1.2 §5.10.2). */
#define VIRTIO_VSOCK_RXQ   0
#define VIRTIO_VSOCK_TXQ   1
#define VIRTIO_VSOCK_EVTQ  2

/* Well-known CIDs (§5.10.4): the host is 2; 0, 1 and 2 are never a guest's. */
#define VIRTIO_VSOCK_HOST_CID 2
#define VIRTIO_VSOCK_CID_ANY  0xffffffffULL /* VMADDR_CID_ANY: not a guest's either */

/* Packet types and operations (§5.10.6). */
#define VIRTIO_VSOCK_TYPE_STREAM    1
#define VIRTIO_VSOCK_TYPE_SEQPACKET 2

#define VIRTIO_VSOCK_OP_INVALID        0
#define VIRTIO_VSOCK_OP_REQUEST        1
#define VIRTIO_VSOCK_OP_RESPONSE       2
#define VIRTIO_VSOCK_OP_RST            3
#define VIRTIO_VSOCK_OP_SHUTDOWN       4
#define VIRTIO_VSOCK_OP_RW             5
#define VIRTIO_VSOCK_OP_CREDIT_UPDATE  6
#define VIRTIO_VSOCK_OP_CREDIT_REQUEST 7

/* OP_SHUTDOWN flags, from the sender's side; cumulative (§5.10.6.5). */
#define VIRTIO_VSOCK_SHUTDOWN_RCV  1 /* the sender will receive no more */
#define VIRTIO_VSOCK_SHUTDOWN_SEND 2 /* the sender will send no more */

/* Event queue (virtio 1.2 §5.10.6.7; §5.10.6.6 in 1.1). */
#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

/* The header in front of every packet, both ways (§5.10.6), little-endian. */
struct virtio_vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VIRTIO_VSOCK_HDR_SIZE 44

/* Limits (vsock.c explains them). */
#define VIRTIO_VSOCK_QUEUE_SIZE 256
#define VIRTIO_VSOCK_MAX_CONNS  1024          /* connections, host clients still sending CONNECT included */
#define VIRTIO_VSOCK_BUF_ALLOC  (256 * 1024)  /* guest -> host credit per connection */
#define VIRTIO_VSOCK_LINE_MAX   32            /* "CONNECT <port>\n" */
#define VIRTIO_VSOCK_FIRST_HOST_PORT (1u << 30) /* host ports of host -> guest connections */

/*
 * A device for the guest `guest_cid` (3 to 2^32-2) behind the Unix socket
 * `uds_path`, which it creates and listens on now (it must not exist),
 * and removes when the device is destroyed.  Also starts the connector
 * process: call it before the sandbox and before any thread exists.
 * Errors are the user's, in one line: "--vsock PATH: reason".
 */
int virtio_vsock_new(const char *uds_path, uint64_t guest_cid, struct virtio_device **out,
		     struct ember_err *err);

/* ---- for unit tests -------------------------------------------------------------------- */

/*
 * Serves everything that is pending now, as the device thread does when
 * woken: the tx, rx and event queues (when the device is live and they
 * are ready) and the host sockets.  dev->lock held.
 */
void virtio_vsock_poll(struct virtio_device *dev);
/* Entries in the connection table (connections and host clients not yet connected). */
unsigned virtio_vsock_nr_conns(const struct virtio_device *dev);

/* ---- the connector (vsock_connect.c), used by vsock.c only ----------------------------- */

struct vsock_connector {
	pid_t pid;          /* -1: none */
	int sock;           /* SOCK_SEQPACKET to it */
	uint32_t seq;       /* of the last request */
	bool dead;          /* stopped answering: guest connects are refused */
};

/*
 * Forks the connector for `uds_path` (its socket's directory is `dir_fd`
 * and its name in there `name`) and waits for it to say it is ready.
 * The connector removes the socket when it ends.
 */
int vsock_connector_start(struct vsock_connector *c, const char *uds_path, int dir_fd,
			  const char *name, struct ember_err *err);
/*
 * Asks it to connect to "<uds_path>_<port>": returns the connected
 * socket (non-blocking, close-on-exec) or -errno.  Waits for the answer
 * at most VSOCK_CONNECTOR_TIMEOUT_MS (a local connect takes microseconds).
 */
int vsock_connector_connect(struct vsock_connector *c, uint32_t port);
/* Tells it to end (it removes the socket), waits for that, and reaps it. */
void vsock_connector_stop(struct vsock_connector *c);

#define VSOCK_CONNECTOR_TIMEOUT_MS 1000

#endif
