// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console, MULTIPORT (virtio 1.2 §5.3.6.2): named ports with an
 * open/closed state on each end (see ports.h).
 *
 * Queues (§5.3.2): receiveq/transmitq of port 0, the control receiveq
 * (device -> driver) and transmitq (driver -> device), then a pair per
 * further port.  The control protocol (§5.3.6.2):
 *   driver DEVICE_READY(1)   -> device DEVICE_ADD(id) for every port
 *   driver PORT_READY(id, 1) -> device PORT_NAME(id) + name, PORT_OPEN(id, 1)
 *   driver PORT_OPEN(id, v)  -> the guest opened (1) or closed (0) the port
 *   device PORT_OPEN(id, 0)  -> host end closed: Linux returns 0 from read()
 *                               once the port's queued data is read
 *                               (drivers/char/virtio_console.c, port_fops_read)
 * Data sent to a port the guest has not opened is thrown away by Linux
 * (in_intr -> discard_port_data), so nothing is sent before it opens.
 *
 * Threads: all queues are served on the device's I/O thread (virtio/worker.c),
 * which also watches the back end's host fds, so the back end sees one
 * thread.  Each batch drains every transmit queue, data ports and control
 * alike, and repeats while any of them had something.  Which of two chains
 * on different queues the guest wrote first cannot be told from the rings,
 * so a pass takes the queues in a fixed order: ports from the last down to
 * port 0, then the control transmitq.  A message the guest wrote on port 0
 * (ember's command channel: an exit status) or on the control queue (a port
 * closed) after its data on another port is thus never handled before that
 * data, whatever order the kicks arrived in.
 */
#include "virtio/ports.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/snapshot.h"
#include "virtio/worker.h"

#define PORTS_QUEUE_SIZE 128
#define PORTS_CONFIG_SIZE 12 /* cols, rows, max_nr_ports, emerg_wr */
#define PORTS_OUTBOX 64      /* control messages waiting for driver buffers */
#define PORTS_MAX_PASSES 64  /* drain rounds per batch (a guest writing flat out cannot starve the rest) */

#define VIRTIO_CONSOLE_F_MULTIPORT 1

/* §5.3.6.2 control events. */
enum {
	CONSOLE_DEVICE_READY = 0,
	CONSOLE_DEVICE_ADD = 1,
	CONSOLE_DEVICE_REMOVE = 2,
	CONSOLE_PORT_READY = 3,
	CONSOLE_CONSOLE_PORT = 4,
	CONSOLE_RESIZE = 5,
	CONSOLE_PORT_OPEN = 6,
	CONSOLE_PORT_NAME = 7,
};

enum { CONTROL_RX = 2, CONTROL_TX = 3 };

/* struct virtio_console_control, little-endian (VERSION_1). */
struct control_msg {
	uint32_t id;
	uint16_t event;
	uint16_t value;
};

struct port {
	const char *name;
	bool guest_ready;   /* PORT_READY came: the guest has the port */
	bool guest_open;    /* the guest has it open */
	bool host_open;     /* our end, as we tell the guest */
};

struct virtio_ports {
	struct virtio_device dev;
	struct virtio_worker worker;
	struct virtio_ports_backend be;
	struct port port[VIRTIO_PORTS_MAX];
	unsigned nr;
	struct control_msg outbox[PORTS_OUTBOX];
	unsigned out_head, out_len;
	/*
	 * One scratch chain per role: a back-end callback made while a
	 * transmit chain is being served may send (rx) or flush control
	 * messages, and must not overwrite the chain that is still to be pushed.
	 */
	struct virtq_chain tx_chain, rx_chain, ctl_chain;
};

static unsigned rx_queue(unsigned port)
{
	return port == 0 ? 0 : 2 + 2 * port;
}

static unsigned tx_queue(unsigned port)
{
	return rx_queue(port) + 1;
}

static struct virtio_ports *to_ports(struct virtio_device *dev)
{
	return dev->priv;
}

/* ---- control receiveq: device -> driver -------------------------------------------- */

static void control_queue(struct virtio_ports *vp, uint32_t id, uint16_t event, uint16_t value)
{
	if (vp->out_len == PORTS_OUTBOX) {
		/* Only a driver that keeps asking (DEVICE_READY over and over) gets here. */
		virtio_set_needs_reset(&vp->dev, "control messages pile up unread");
		return;
	}
	vp->outbox[(vp->out_head + vp->out_len++) % PORTS_OUTBOX] =
		(struct control_msg){ id, event, value };
}

/* Hands queued control messages to the driver's buffers, as many as it gave. */
static void control_flush(struct virtio_ports *vp)
{
	struct virtio_device *dev = &vp->dev;
	struct virtq *q = &dev->vq[CONTROL_RX];
	const char *why = NULL;
	bool pushed = false;

	while (vp->out_len && q->ready) {
		int got = virtq_pop(q, &vp->ctl_chain, &why);
		if (got <= 0) {
			if (got < 0)
				virtio_set_needs_reset(dev, why);
			break;
		}
		const struct control_msg *m = &vp->outbox[vp->out_head];
		uint8_t buf[8 + 64];
		size_t len = 8;
		buf[0] = (uint8_t)m->id;
		buf[1] = (uint8_t)(m->id >> 8);
		buf[2] = (uint8_t)(m->id >> 16);
		buf[3] = (uint8_t)(m->id >> 24);
		buf[4] = (uint8_t)m->event;
		buf[5] = (uint8_t)(m->event >> 8);
		buf[6] = (uint8_t)m->value;
		buf[7] = (uint8_t)(m->value >> 8);
		if (m->event == CONSOLE_PORT_NAME) {
			/* The name follows the header, without a NUL (Linux adds one). */
			size_t n = strlen(vp->port[m->id].name);
			memcpy(buf + 8, vp->port[m->id].name, n);
			len += n;
		}
		size_t wrote = virtq_chain_write(&vp->ctl_chain, 0, buf, len);
		virtq_push(q, vp->ctl_chain.head, (uint32_t)wrote);
		pushed = true;
		vp->out_head = (vp->out_head + 1) % PORTS_OUTBOX;
		vp->out_len--;
	}
	if (pushed)
		virtio_notify_used(dev, CONTROL_RX);
}

/* ---- control transmitq: driver -> device -------------------------------------------- */

static void set_guest_open(struct virtio_ports *vp, unsigned id, bool open)
{
	if (vp->port[id].guest_open == open)
		return;
	vp->port[id].guest_open = open;
	if (vp->be.guest_open)
		vp->be.guest_open(vp->be.opaque, id, open);
}

static void control_event(struct virtio_ports *vp, const struct control_msg *m)
{
	if (m->event == CONSOLE_DEVICE_READY) {
		if (m->value != 1)
			return; /* the driver gave up on the device */
		for (unsigned i = 0; i < vp->nr; i++)
			control_queue(vp, i, CONSOLE_DEVICE_ADD, 0);
		return;
	}
	if (m->id >= vp->nr)
		return; /* a port we never added: nothing to do */
	struct port *p = &vp->port[m->id];
	switch (m->event) {
	case CONSOLE_PORT_READY:
		if (m->value != 1 || p->guest_ready)
			return;
		p->guest_ready = true;
		control_queue(vp, m->id, CONSOLE_PORT_NAME, 0);
		if (p->host_open)
			control_queue(vp, m->id, CONSOLE_PORT_OPEN, 1);
		break;
	case CONSOLE_PORT_OPEN:
		if (p->guest_ready)
			set_guest_open(vp, m->id, m->value != 0);
		break;
	default:
		break; /* nothing else is the driver's to send */
	}
}

static int control_handle(void *ctx, const struct virtq_chain *c, uint32_t *used_len,
			  const char **why)
{
	struct virtio_ports *vp = ctx;
	uint8_t b[8];

	(void)why;
	*used_len = 0;
	if (virtq_chain_read(c, 0, b, sizeof(b)) != sizeof(b))
		return 0; /* too short to mean anything: returned unread */
	struct control_msg m = {
		.id = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24,
		.event = (uint16_t)(b[4] | b[5] << 8),
		.value = (uint16_t)(b[6] | b[7] << 8),
	};
	control_event(vp, &m);
	return 0;
}

/* ---- port data ---------------------------------------------------------------------- */

struct tx_ctx {
	struct virtio_ports *vp;
	unsigned port;
};

static int tx_handle(void *ctx, const struct virtq_chain *c, uint32_t *used_len, const char **why)
{
	struct tx_ctx *t = ctx;
	(void)why;
	for (unsigned i = 0; i < c->n; i++) {
		const struct virtq_buf *b = &c->buf[i];
		if (!b->device_writes && b->len && t->vp->be.guest_wrote)
			t->vp->be.guest_wrote(t->vp->be.opaque, t->port, b->host, b->len);
	}
	*used_len = 0;
	return 0;
}

/* Serves one transmit queue; true when it had chains. */
static bool drain_queue(struct virtio_ports *vp, unsigned q, virtio_chain_fn fn, void *ctx)
{
	struct virtq *vq = &vp->dev.vq[q];
	if (!vq->ready || !virtio_is_live(&vp->dev))
		return false;
	uint16_t before = vq->used_idx;
	virtio_serve_queue(&vp->dev, q, &vp->tx_chain, fn, ctx);
	return vq->used_idx != before;
}

size_t virtio_ports_send(struct virtio_device *dev, unsigned port, const void *data, size_t len)
{
	struct virtio_ports *vp = to_ports(dev);
	if (port >= vp->nr || !vp->port[port].guest_open || !vp->port[port].host_open ||
	    !virtio_is_live(dev))
		return 0;
	struct virtq *q = &dev->vq[rx_queue(port)];
	const char *why = NULL;
	size_t sent = 0;
	bool pushed = false;

	while (q->ready && sent < len) {
		int got = virtq_pop(q, &vp->rx_chain, &why);
		if (got <= 0) {
			if (got < 0)
				virtio_set_needs_reset(dev, why);
			break;
		}
		size_t n = virtq_chain_write(&vp->rx_chain, 0, (const uint8_t *)data + sent, len - sent);
		virtq_push(q, vp->rx_chain.head, (uint32_t)n);
		pushed = true;
		sent += n;
		if (n == 0)
			break; /* a receive buffer with no writable space: the driver broke the rules */
	}
	if (pushed)
		virtio_notify_used(dev, rx_queue(port));
	return sent;
}

void virtio_ports_close(struct virtio_device *dev, unsigned port)
{
	struct virtio_ports *vp = to_ports(dev);
	if (port >= vp->nr || !vp->port[port].host_open)
		return;
	vp->port[port].host_open = false;
	if (vp->port[port].guest_ready && virtio_is_live(dev)) {
		control_queue(vp, port, CONSOLE_PORT_OPEN, 0);
		control_flush(vp);
	}
}

bool virtio_ports_guest_open(const struct virtio_device *dev, unsigned port)
{
	const struct virtio_ports *vp = dev->priv;
	return port < vp->nr && vp->port[port].guest_open;
}

void virtio_ports_watch_enable(struct virtio_device *dev, unsigned index, bool on)
{
	virtio_worker_watch_enable(&to_ports(dev)->worker, index, on);
}

int virtio_ports_watch(struct virtio_device *dev, int fd)
{
	struct virtio_ports *vp = to_ports(dev);
	unsigned index = vp->worker.nr_extra;
	return virtio_worker_watch(&vp->worker, fd) ? -1 : (int)index;
}

/* ---- the I/O thread ------------------------------------------------------------------ */

static void ports_serve(struct virtio_device *dev, uint32_t pending)
{
	struct virtio_ports *vp = to_ports(dev);

	for (unsigned pass = 0; pass < PORTS_MAX_PASSES; pass++) {
		bool progress = false;
		for (unsigned p = vp->nr; p-- > 0;) { /* port 0 last: see the top of the file */
			struct tx_ctx t = { vp, p };
			progress |= drain_queue(vp, tx_queue(p), tx_handle, &t);
		}
		progress |= drain_queue(vp, CONTROL_TX, control_handle, vp);
		if (!progress)
			break;
	}
	if (virtio_is_live(dev)) {
		control_flush(vp);
		for (unsigned p = 0; p < vp->nr; p++)
			if ((pending & VIRTIO_WORKER_QUEUE(rx_queue(p))) && vp->be.can_send)
				vp->be.can_send(vp->be.opaque, p);
	}
	for (unsigned i = 0; i < vp->worker.nr_extra; i++)
		if ((pending & VIRTIO_WORKER_EXTRA(i)) && vp->be.fd_ready)
			vp->be.fd_ready(vp->be.opaque, i);
	if (vp->be.batch_done)
		vp->be.batch_done(vp->be.opaque);
}

/* ---- device ops ---------------------------------------------------------------------- */

static void ports_config_read(struct virtio_device *dev, uint32_t offset, void *data, unsigned len)
{
	struct virtio_ports *vp = to_ports(dev);
	uint8_t cfg[PORTS_CONFIG_SIZE] = { 0 };

	/* cols = rows = 0 (no F_SIZE); max_nr_ports at offset 4; emerg_wr reads 0. */
	cfg[4] = (uint8_t)vp->nr;
	if (offset > sizeof(cfg) || len > sizeof(cfg) - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, cfg + offset, len);
}

static void ports_activate(struct virtio_device *dev)
{
	/* Kicks before DRIVER_OK were dropped: look at every queue now. */
	virtio_worker_wake(&to_ports(dev)->worker);
}

static void ports_reset(struct virtio_device *dev)
{
	struct virtio_ports *vp = to_ports(dev);

	/* The driver let go of every port: the guest's ends are closed. */
	for (unsigned p = 0; p < vp->nr; p++) {
		set_guest_open(vp, p, false);
		vp->port[p].guest_ready = false;
	}
	vp->out_head = vp->out_len = 0;
}

static int ports_start(struct virtio_device *dev, struct ember_err *err)
{
	return virtio_worker_start(&to_ports(dev)->worker, "ember-ports", err);
}

static void ports_destroy(struct virtio_device *dev)
{
	struct virtio_ports *vp = to_ports(dev);
	virtio_worker_stop(&vp->worker);
	free(vp);
}

/* ---- snapshots ----------------------------------------------------------------------- */

/* Each port's three states and the control messages the driver has not taken yet. */
struct saved_ports {
	uint32_t nr, out_len;
	struct {
		uint8_t guest_ready, guest_open, host_open, pad;
	} port[VIRTIO_PORTS_MAX];
	uint32_t pad;
	struct control_msg outbox[PORTS_OUTBOX]; /* in delivery order */
};

static int ports_save(struct virtio_device *dev, struct snapshot_writer *w, unsigned slot,
		      struct ember_err *err)
{
	struct virtio_ports *vp = to_ports(dev);
	struct saved_ports s;

	memset(&s, 0, sizeof(s));
	s.nr = vp->nr;
	s.out_len = vp->out_len;
	for (unsigned p = 0; p < vp->nr; p++) {
		s.port[p].guest_ready = vp->port[p].guest_ready;
		s.port[p].guest_open = vp->port[p].guest_open;
		s.port[p].host_open = vp->port[p].host_open;
	}
	for (unsigned i = 0; i < vp->out_len; i++)
		s.outbox[i] = vp->outbox[(vp->out_head + i) % PORTS_OUTBOX];
	int rc = snapshot_put(w, SNAP_VIRTIO_PRIVATE, slot, &s, sizeof(s));
	return rc ? ember_fail(err, -rc, "snapshot: state too large") : 0;
}

/*
 * The back end is not called back: it asks virtio_ports_guest_open()
 * for the ports the guest had open when it takes over a restored device.
 */
static int ports_restore(struct virtio_device *dev, const struct snapshot_reader *r, unsigned slot,
			 struct ember_err *err)
{
	struct virtio_ports *vp = to_ports(dev);
	const struct snapshot_section *sec = snapshot_find(r, SNAP_VIRTIO_PRIVATE, slot);
	struct saved_ports s;

	if (!sec || sec->len != sizeof(s))
		return ember_fail(err, EINVAL, "snapshot: virtio-console ports: state %s",
				  sec ? "has the wrong size" : "is missing");
	memcpy(&s, sec->data, sizeof(s));
	if (s.nr != vp->nr || s.out_len > PORTS_OUTBOX)
		return ember_fail(err, EINVAL, "snapshot: virtio-console had %u ports, this one %u",
				  s.nr, vp->nr);
	for (unsigned i = 0; i < s.out_len; i++)
		if (s.outbox[i].id >= vp->nr)
			return ember_fail(err, EINVAL, "snapshot: virtio-console: message for port %u",
					  s.outbox[i].id);
	pthread_mutex_lock(&dev->lock);
	for (unsigned p = 0; p < vp->nr; p++) {
		vp->port[p].guest_ready = s.port[p].guest_ready != 0;
		vp->port[p].guest_open = s.port[p].guest_open != 0;
		vp->port[p].host_open = s.port[p].host_open != 0;
	}
	memcpy(vp->outbox, s.outbox, sizeof(vp->outbox));
	vp->out_head = 0;
	vp->out_len = s.out_len;
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

static const struct virtio_device_ops ports_ops = {
	.config_read = ports_config_read,
	.activate = ports_activate,
	.reset = ports_reset,
	.start = ports_start,
	.destroy = ports_destroy,
	.save = ports_save,
	.restore = ports_restore,
};

int virtio_ports_new(const char *const *names, unsigned nr, const struct virtio_ports_backend *be,
		     struct virtio_device **out, struct ember_err *err)
{
	if (nr == 0 || nr > VIRTIO_PORTS_MAX)
		return ember_fail(err, EINVAL, "virtio-console: %u ports (1 to %d)", nr, VIRTIO_PORTS_MAX);
	struct virtio_ports *vp = calloc(1, sizeof(*vp));
	if (!vp)
		return ember_fail(err, ENOMEM, "out of memory");
	vp->be = *be;
	vp->nr = nr;
	for (unsigned p = 0; p < nr; p++) {
		if (strlen(names[p]) > 64 - 1) {
			free(vp);
			return ember_fail(err, EINVAL, "virtio-console: port name '%s' too long", names[p]);
		}
		vp->port[p] = (struct port){ .name = names[p], .host_open = true };
	}
	vp->dev = (struct virtio_device){
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.num_queues = 2 + 2 * nr,
		.queue_max_size = PORTS_QUEUE_SIZE,
		.features = 1ULL << VIRTIO_CONSOLE_F_MULTIPORT,
		.config_size = PORTS_CONFIG_SIZE,
		.ops = &ports_ops,
		.priv = vp,
	};
	for (unsigned q = 0; q < vp->dev.num_queues; q++)
		vp->dev.queue_service[q] = VIRTIO_QUEUE_ON_WORKER;
	int rc = virtio_worker_init(&vp->worker, &vp->dev, ports_serve, "--console", "ports", err);
	if (rc) {
		free(vp);
		return rc;
	}
	*out = &vp->dev;
	return 0;
}
