// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-console (virtio 1.2 §5.3): one port, no MULTIPORT, no F_SIZE.
 * transmitq bytes go to ember's stdout; ember's stdin goes into the
 * guest's receiveq buffers.  The guest's hvc0 is then the VM's console.
 *
 * Threads: everything here runs on the event-loop thread (queue kicks and
 * the stdin watch) with dev->lock held, except activate and
 * virtio_console_release_input(), which run on a vCPU thread, also under
 * dev->lock, and only replay a kick to the loop.  So all state below is
 * guarded by dev->lock, and the loop's handler table is only touched from
 * the loop thread (or before the vCPUs start).
 *
 * stdin is watched edge-triggered (EPOLLET): the device reads it only when
 * the guest has room, so a guest that stops taking input leaves the rest
 * in the host pipe or tty, and the watch never has to be removed and
 * re-added to avoid a busy loop.  An edge arrives when new data does; data
 * left behind while the guest had no buffers is picked up on the next
 * receiveq kick (the guest kicks when it adds buffers to an exhausted
 * queue, EVENT_IDX or not).
 *
 * With ember's own init (cfg->init_handshake) host input is held until
 * that init reports its console ready (virtio_console_release_input()): Linux's
 * virtio_console frees, unread, any input that arrives between filling
 * the receiveq and registering the port (drivers/char/virtio_console.c:
 * in_intr() -> flush_bufs()), and the guest tty would echo input that
 * arrives before init made it raw.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "virtio/devices.h"
#include "vm/machine.h"

#define CONSOLE_QUEUE_SIZE 64
#define CONSOLE_RX_BUF     4096 /* stdin bytes read ahead of the guest's buffers */
#define CONSOLE_CONFIG_SIZE 8   /* cols, rows, max_nr_ports: all zero (no F_SIZE, no MULTIPORT) */

/* virtio 1.2 §5.3.2: port 0's queues. */
enum { CONSOLE_RX = 0, CONSOLE_TX = 1 };

enum stdin_state {
	STDIN_WATCHED, /* on the event loop (pipe, tty, socket): read when poll says so */
	STDIN_FILE,    /* epoll refused it (regular file, /dev/null): read on receiveq kicks */
	STDIN_DONE,    /* EOF, error or no stdin: the guest gets no more input */
};

struct virtio_console {
	struct virtio_device dev;
	int out_fd;                    /* where transmitted bytes go: stdout or stderr */
	bool with_input;               /* stdin feeds this port */                    /* where transmitted bytes go: stdout or stderr */
	enum stdin_state stdin_state;
	bool stdout_gone;              /* a write failed for good: drop guest output */
	bool input_held;               /* waiting for virtio_console_ready() */
	size_t rx_head, rx_len;        /* undelivered stdin bytes: rx_buf[rx_head, +rx_len) */
	uint8_t rx_buf[CONSOLE_RX_BUF];
	struct virtq_chain chain;      /* scratch for the chain being handled */
};

/* ---- transmitq: guest -> stdout ----------------------------------------- */

/* All of [p, p+len) to stdout, or nothing more ever once stdout is gone. */
static void stdout_write(struct virtio_console *con, const uint8_t *p, size_t len)
{
	while (len && !con->stdout_gone) {
		ssize_t n = write(con->out_fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			/* Someone made stdout non-blocking: wait as a blocking write would. */
			struct pollfd pfd = { .fd = con->out_fd, .events = POLLOUT };
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				con->stdout_gone = true;
		} else if (!(n < 0 && errno == EINTR)) {
			con->stdout_gone = true; /* EPIPE (SIGPIPE is ignored), EBADF, EIO... */
		}
	}
}

static void tx_drain(struct virtio_console *con)
{
	struct virtio_device *dev = &con->dev;
	struct virtq *q = &dev->vq[CONSOLE_TX];
	const char *why = NULL;
	bool pushed = false;
	int got;

	while ((got = virtq_pop(q, &con->chain, &why)) > 0) {
		/* Writable parts of a transmit buffer are ignored; nothing is written back. */
		for (unsigned i = 0; i < con->chain.n; i++) {
			const struct virtq_buf *b = &con->chain.buf[i];
			if (!b->device_writes)
				stdout_write(con, b->host, b->len);
		}
		virtq_push(q, con->chain.head, 0);
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(dev, why);
	if (pushed)
		virtio_notify_used(dev, CONSOLE_TX);
}

/* ---- receiveq: stdin -> guest ------------------------------------------- */

static void stdin_stop(struct virtio_console *con)
{
	if (con->stdin_state == STDIN_WATCHED)
		loop_remove(&con->dev.machine->loop, STDIN_FILENO); /* loop thread only */
	con->stdin_state = STDIN_DONE;
}

/*
 * Reads the next chunk of stdin into the (empty) rx buffer without ever
 * blocking the loop.  Returns true when bytes arrived.
 */
static bool stdin_fill(struct virtio_console *con)
{
	if (con->stdin_state == STDIN_DONE)
		return false;
	if (con->stdin_state == STDIN_WATCHED) {
		/* stdin may be a blocking fd shared with others: read only what is there. */
		struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
		int r;
		while ((r = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
			;
		if (r == 0)
			return false;
		if (r < 0 || (pfd.revents & POLLNVAL)) {
			stdin_stop(con);
			return false;
		}
		/* POLLIN, POLLHUP or POLLERR: read() tells data from EOF or error. */
	}
	ssize_t n;
	while ((n = read(STDIN_FILENO, con->rx_buf, sizeof(con->rx_buf))) < 0 && errno == EINTR)
		;
	if (n > 0) {
		con->rx_head = 0;
		con->rx_len = (size_t)n;
		return true;
	}
	if (n < 0 && errno == EAGAIN)
		return false;
	stdin_stop(con); /* EOF: the guest simply gets no more input */
	return false;
}

static bool rx_ready(const struct virtio_device *dev)
{
	return virtio_is_live(dev) && dev->vq[CONSOLE_RX].ready;
}

/*
 * Moves undelivered bytes into the guest's receive buffers.  Returns true
 * when nothing is left undelivered and the guest may take more, false
 * when the guest has no buffers (the next receiveq kick resumes) or the
 * device is not running.
 */
static bool rx_deliver(struct virtio_console *con)
{
	struct virtio_device *dev = &con->dev;
	struct virtq *q = &dev->vq[CONSOLE_RX];
	const char *why = NULL;
	bool pushed = false, more = true;

	if (!rx_ready(dev))
		return false;
	while (con->rx_len) {
		int got = virtq_pop(q, &con->chain, &why);
		if (got <= 0) {
			if (got < 0)
				virtio_set_needs_reset(dev, why);
			more = false;
			break;
		}
		/* A chain without writable space gets 0 bytes back: still one chain per pop. */
		size_t n = virtq_chain_write(&con->chain, 0, con->rx_buf + con->rx_head, con->rx_len);
		virtq_push(q, con->chain.head, (uint32_t)n);
		pushed = true;
		con->rx_head += n;
		con->rx_len -= n;
	}
	if (pushed)
		virtio_notify_used(dev, CONSOLE_RX);
	return more;
}

/*
 * Alternate delivering and reading until the guest is out of buffers or
 * stdin has nothing more for now.  Each round either uses up a guest
 * buffer or ends, so this is bounded by the queue size per call.
 */
static void rx_pump(struct virtio_console *con)
{
	if (con->input_held)
		return; /* stdin stays unread; virtio_console_release_input() replays a kick */
	while (rx_deliver(con) && stdin_fill(con))
		;
}

static void stdin_readable(void *opaque, uint32_t events)
{
	struct virtio_console *con = opaque;

	(void)events;
	pthread_mutex_lock(&con->dev.lock);
	rx_pump(con);
	pthread_mutex_unlock(&con->dev.lock);
}

/* ---- device ops ----------------------------------------------------------- */

static void console_queue_notify(struct virtio_device *dev, unsigned q)
{
	struct virtio_console *con = dev->priv;

	if (q == CONSOLE_RX)
		rx_pump(con);
	else if (q == CONSOLE_TX)
		tx_drain(con);
}

static void console_activate(struct virtio_device *dev)
{
	/*
	 * Kicks that came before DRIVER_OK were dropped by the transport:
	 * replay one per queue on the loop thread (we are on a vCPU thread).
	 */
	virtio_kick_queue(dev, CONSOLE_RX);
	virtio_kick_queue(dev, CONSOLE_TX);
}

static void console_config_read(struct virtio_device *dev, uint32_t offset, void *data,
				unsigned len)
{
	(void)dev;
	(void)offset;
	memset(data, 0, len); /* cols = rows = 0: F_SIZE not offered; max_nr_ports unused */
}

static void console_destroy(struct virtio_device *dev)
{
	free(dev->priv);
}

/* Before any vCPU runs: the loop's handler table is not locked. */
static int console_start(struct virtio_device *dev, struct ember_err *err)
{
	struct virtio_console *con = dev->priv;

	if (!con->with_input)
		return 0;
	int rc = loop_add(&dev->machine->loop, STDIN_FILENO, EPOLLIN | EPOLLET, stdin_readable, con);
	if (rc == 0)
		con->stdin_state = STDIN_WATCHED;
	else if (rc == -EPERM)
		con->stdin_state = STDIN_FILE;
	else if (rc == -ENOSPC)
		return ember_fail(err, ENOSPC, "virtio-console: too many event sources");
	/* Otherwise no usable stdin (closed): no input. */
	return 0;
}

static const struct virtio_device_ops console_ops = {
	.config_read = console_config_read,
	.queue_notify = console_queue_notify,
	.activate = console_activate,
	.start = console_start,
	.destroy = console_destroy,
	/* Undelivered stdin bytes survive a reset: the next driver gets them. */
};

void virtio_console_release_input(struct virtio_device *dev)
{
	struct virtio_console *con = dev->priv;

	if (dev->ops != &console_ops)
		return;
	pthread_mutex_lock(&dev->lock);
	bool was_held = con->input_held;
	con->input_held = false;
	pthread_mutex_unlock(&dev->lock);
	if (was_held)
		virtio_kick_queue(dev, CONSOLE_RX); /* rx_pump on the loop thread */
}

int virtio_console_new(int out_fd, bool with_input, bool hold_input, struct virtio_device **out,
		       struct ember_err *err)
{
	struct virtio_console *con = calloc(1, sizeof(*con));
	if (!con)
		return ember_fail(err, ENOMEM, "out of memory");
	con->out_fd = out_fd;
	con->with_input = with_input;
	con->input_held = hold_input;
	con->stdin_state = STDIN_DONE;

	con->dev = (struct virtio_device){
		.name = "virtio-console",
		.device_id = VIRTIO_ID_CONSOLE,
		.num_queues = 2,
		.queue_max_size = CONSOLE_QUEUE_SIZE,
		/* Terminal and pipe I/O without waiting: both ports on the event loop. */
		.queue_service = { [CONSOLE_RX] = VIRTIO_QUEUE_ON_LOOP, [CONSOLE_TX] = VIRTIO_QUEUE_ON_LOOP },
		.config_size = CONSOLE_CONFIG_SIZE,
		.ops = &console_ops,
		.priv = con,
	};
	*out = &con->dev;
	return 0;
}
