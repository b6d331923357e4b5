/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-console with VIRTIO_CONSOLE_F_MULTIPORT (virtio 1.2 §5.3): named
 * byte-stream ports (the guest's /dev/vportNpM, named in
 * /sys/class/virtio-ports/vportNpM/name), each with an open/closed state
 * on both ends.  That state is what a plain console lacks: when the host
 * end closes, the guest's read() returns 0 once the data before it is read
 * (end of file), and the guest closing its end is reported to the host.
 *
 * The device knows nothing of what the ports carry.  Its back end (one
 * set of callbacks for all ports) is told what the guest wrote and when it
 * opened or closed a port, and it sends bytes with virtio_ports_send().
 * Every callback runs with the device lock held, on the device's I/O
 * thread (guest_open(false) also on the vCPU thread that resets the
 * device); the back end may call virtio_ports_send/close and
 * virtio_ports_watch_enable from them, and nothing else of this device.
 */
#ifndef EMBER_VIRTIO_PORTS_H
#define EMBER_VIRTIO_PORTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"
#include "vm/error.h"

/* Ports per device: the queue count is 2 + 2 * ports (§5.3.2), within VIRTIO_MAX_QUEUES. */
#define VIRTIO_PORTS_MAX ((VIRTIO_MAX_QUEUES - 2) / 2)

struct virtio_ports_backend {
	void *opaque;
	/* The guest wrote [data, data+len) on `port`: take all of it (blocking is fine). */
	void (*guest_wrote)(void *opaque, unsigned port, const uint8_t *data, size_t len);
	/* The guest opened (true) or closed (false) its end of `port`. */
	void (*guest_open)(void *opaque, unsigned port, bool open);
	/* The guest gave `port` receive buffers: virtio_ports_send may take more now. */
	void (*can_send)(void *opaque, unsigned port);
	/* Host fd number `index` (virtio_ports_watch order) is readable. */
	void (*fd_ready)(void *opaque, unsigned index);
	/* After every batch of events, once the rings are drained. */
	void (*batch_done)(void *opaque);
};

/*
 * A device with `nr` ports named names[0..nr), all open on the host side.
 * `thread` names its I/O thread.  The back end is copied.
 */
int virtio_ports_new(const char *const *names, unsigned nr, const struct virtio_ports_backend *be,
		     struct virtio_device **out, struct ember_err *err);
/* Before the device starts: also wake the I/O thread for `fd`; returns its index or -1. */
int virtio_ports_watch(struct virtio_device *dev, int fd);

/* ---- from the back end's callbacks only -------------------------------------------- */

/*
 * Copies up to len bytes into the guest's receive buffers of `port`;
 * returns how many it took (0 while the guest has not opened the port, has
 * no buffers, or the device is not running).
 */
size_t virtio_ports_send(struct virtio_device *dev, unsigned port, const void *data, size_t len);
/* Closes the host end of `port`: the guest reads what was sent, then end of file. */
void virtio_ports_close(struct virtio_device *dev, unsigned port);
/* Whether the guest has `port` open now. */
bool virtio_ports_guest_open(const struct virtio_device *dev, unsigned port);
/* Stops or resumes watching host fd `index` (e.g. input while the guest has no room). */
void virtio_ports_watch_enable(struct virtio_device *dev, unsigned index, bool on);

#endif
