// SPDX-License-Identifier: GPL-2.0-only
#include "vm/session.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "virtio/ports.h"
#include "vm/machine.h"

enum { PORT_CONTROL, PORT_STDIN, PORT_STDOUT, PORT_STDERR };

static const char *const port_names[] = {
	CHANNEL_PORT_CONTROL, CHANNEL_PORT_STDIN, CHANNEL_PORT_STDOUT, CHANNEL_PORT_STDERR,
};

/* ---- the request ------------------------------------------------------------------- */

static int host_winsize(uint16_t *rows, uint16_t *cols)
{
	struct winsize ws;
	int fds[] = { STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO };
	for (unsigned i = 0; i < 3; i++)
		if (ioctl(fds[i], TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
			*rows = ws.ws_row;
			*cols = ws.ws_col;
			return 0;
		}
	return -1;
}

static int build_request(struct session *s, struct channel_buf *b)
{
	const struct ember_config *cfg = s->cfg;
	uint32_t flags = 0;
	struct timespec now;
	uint16_t rows, cols;
	int rc = 0;

	if (s->stdio_ports)
		flags |= CHANNEL_FLAG_STDIO_PORTS;
	else if (isatty(STDIN_FILENO))
		flags |= CHANNEL_FLAG_HOST_TTY;
	if (cfg->tty)
		flags |= CHANNEL_FLAG_TTY;
	if (cfg->interactive)
		flags |= CHANNEL_FLAG_INTERACTIVE;
	clock_gettime(CLOCK_REALTIME, &now);
	rc |= channel_put_u32(b, CHANNEL_FLAGS, flags);
	rc |= channel_put_time(b, (uint64_t)now.tv_sec, (uint32_t)now.tv_nsec);
	/* Fresh randomness for each run (a restored guest's own is a copy). */
	uint8_t seed[CHANNEL_SEED_MIN * 2];
	if (getrandom(seed, sizeof(seed), 0) != (ssize_t)sizeof(seed))
		return -1;
	rc |= channel_put(b, CHANNEL_SEED, seed, sizeof(seed));
	if (cfg->tty && host_winsize(&rows, &cols) == 0)
		rc |= channel_put_winsize(b, rows, cols);
	if (cfg->rootfs)
		rc |= channel_put_str(b, CHANNEL_ROOT,
				      cfg->rootfs_is_dir ? "9p:rootfs" : "ext4:/dev/vda");
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		const struct ember_share *sh = &cfg->shares[i];
		size_t len = strlen(sh->tag) + strlen(sh->guest_dir) + 5;
		char *mount = malloc(len);
		if (!mount)
			return -1;
		snprintf(mount, len, "%s:%s:%s", sh->tag, sh->read_only ? "ro" : "rw", sh->guest_dir);
		rc |= channel_put_str(b, CHANNEL_MOUNT, mount);
		free(mount);
	}
	for (unsigned i = 0; i < cfg->nr_env; i++)
		rc |= channel_put_str(b, CHANNEL_ENV, cfg->env[i]);
	if (cfg->workdir)
		rc |= channel_put_str(b, CHANNEL_WORKDIR, cfg->workdir);
	if (cfg->has_user)
		rc |= channel_put_user(b, cfg->uid, cfg->gid);
	for (int i = 0; i < cfg->argc; i++)
		rc |= channel_put_str(b, CHANNEL_ARG, cfg->argv[i]);
	rc |= channel_put(b, CHANNEL_START, NULL, 0);
	return rc ? -1 : 0;
}

/* ---- control port ---------------------------------------------------------------- */

/* Gives the guest as much of the pending host -> guest bytes as it has room for. */
static void control_flush(struct session *s)
{
	if (s->broken || s->out_sent == s->out.len)
		return;
	s->out_sent += virtio_ports_send(s->dev, PORT_CONTROL, s->out.data + s->out_sent,
					 s->out.len - s->out_sent);
	if (s->out_sent == s->out.len)
		s->out.len = s->out_sent = 0; /* all taken: reuse the buffer */
}

/* The guest broke the protocol: close the channel, stop with one line. */
static void channel_broken(struct session *s, const char *why)
{
	struct ember_err err;

	if (s->broken)
		return;
	s->broken = true;
	atomic_store(&s->running, false);
	virtio_ports_close(s->dev, PORT_CONTROL);
	ember_fail(&err, EPROTO, "the guest broke the command channel protocol (%s): channel closed",
		   why);
	machine_request_failure(s->machine, &err);
}

static void stdin_end(struct session *s);
static void stdin_pump(struct session *s);

/*
 * The guest's init waits for its request: built now, with this moment's
 * wall-clock time and fresh random bytes (after a restore too), and the
 * stdin port closed unless -i.  Until now every port was open on ember's
 * side, as a snapshot taken at HELLO must have them for any later run.
 */
static void release_now(struct session *s)
{
	if (s->released || s->broken)
		return;
	s->released = true;
	if (build_request(s, &s->out)) {
		struct ember_err err;
		ember_fail(&err, ENOMEM, "out of memory (or no random bytes) for the request");
		machine_request_failure(s->machine, &err);
		return;
	}
	if (s->stdio_ports && !s->cfg->interactive)
		stdin_end(s); /* no -i: the command's stdin is empty */
	else if (s->stdio_ports)
		stdin_pump(s);
	control_flush(s);
}

static void control_message(struct session *s, const struct channel_reader *r)
{
	uint32_t v;

	if (!s->hello) {
		if (r->type != CHANNEL_HELLO || channel_get_u32(r, &v))
			return channel_broken(s, "first message is not HELLO");
		if (v != CHANNEL_VERSION)
			return channel_broken(s, "the guest's init speaks another version: rebuild the guest");
		s->hello = true;
		atomic_store(&s->running, true);
		if (s->mode == SESSION_CAPTURE) {
			/* The orchestrator snapshots this moment, then session_release(). */
			if (eventfd_write(s->hello_fd, 1) < 0) {
				/* cannot fail below 2^64 - 1 writes */
			}
			return;
		}
		release_now(s);
		return;
	}
	if (r->type != CHANNEL_EXIT || channel_get_u32(r, &v) || v > 255 || s->exit_seen)
		return channel_broken(s, "unexpected message");
	s->exit_seen = true;
	s->exit_status = (int)v;
	atomic_store(&s->running, false);
}

static void control_bytes(struct session *s, const uint8_t *data, size_t len)
{
	while (len && !s->broken) {
		size_t used;
		int rc = channel_reader_push(&s->reader, data, len, &used);
		data += used;
		len -= used;
		if (rc < 0)
			return channel_broken(s, s->reader.error);
		if (rc == 1)
			control_message(s, &s->reader);
	}
}

/* ---- stdin ----------------------------------------------------------------------- */

static void stdin_watch(struct session *s, bool on)
{
	if (s->stdin_watch >= 0)
		virtio_ports_watch_enable(s->dev, (unsigned)s->stdin_watch, on);
}

static void stdin_end(struct session *s)
{
	s->stdin_done = true;
	stdin_watch(s, false);
	virtio_ports_close(s->dev, PORT_STDIN); /* the command reads EOF after the rest */
}

/* Reads what stdin has now: >0 bytes, 0 at EOF or error, -EAGAIN when nothing is there yet. */
static ssize_t stdin_read(struct session *s)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	int r;

	/* stdin may be a blocking fd shared with other processes: read only what is there. */
	while ((r = poll(&pfd, 1, 0)) < 0 && errno == EINTR)
		;
	if (r == 0)
		return -EAGAIN;
	if (r < 0 || (pfd.revents & POLLNVAL))
		return 0;
	ssize_t n;
	while ((n = read(STDIN_FILENO, s->in_buf, sizeof(s->in_buf))) < 0 && errno == EINTR)
		;
	if (n < 0 && errno == EAGAIN)
		return -EAGAIN;
	return n < 0 ? 0 : n;
}

/* Moves stdin into the guest while it has buffers; each round uses one up or ends. */
static void stdin_pump(struct session *s)
{
	if (s->stdin_done || !s->released || !virtio_ports_guest_open(s->dev, PORT_STDIN))
		return;
	for (;;) {
		if (s->in_len == 0) {
			ssize_t n = stdin_read(s);
			if (n == -EAGAIN) {
				stdin_watch(s, true);
				return;
			}
			if (n == 0)
				return stdin_end(s);
			s->in_head = 0;
			s->in_len = (size_t)n;
		}
		size_t sent = virtio_ports_send(s->dev, PORT_STDIN, s->in_buf + s->in_head, s->in_len);
		s->in_head += sent;
		s->in_len -= sent;
		if (s->in_len) {
			stdin_watch(s, false); /* the guest is full: its next buffers resume us */
			return;
		}
	}
}

/* ---- stdout/stderr --------------------------------------------------------------- */

static void output_write(struct session *s, unsigned which, const uint8_t *p, size_t len)
{
	int fd = which == 0 ? STDOUT_FILENO : STDERR_FILENO;

	while (len && !s->out_gone[which]) {
		ssize_t n = write(fd, p, len);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
		} else if (n < 0 && errno == EAGAIN) {
			/* Someone made it non-blocking: wait as a blocking write would. */
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };
			if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
				s->out_gone[which] = true;
		} else if (!(n < 0 && errno == EINTR)) {
			s->out_gone[which] = true; /* EPIPE (SIGPIPE is ignored), EIO... */
			/*
			 * Nobody reads it any more: tell the guest, whose init closes the
			 * command's end, so `ember run -- yes | head -1` ends like the
			 * shell pipeline would (SIGPIPE) instead of running on unread.
			 */
			if (channel_put_u32(&s->out, CHANNEL_CLOSE_OUTPUT, which + 1) == 0)
				control_flush(s);
		}
	}
}

/* ---- back-end callbacks (device I/O thread, device lock held) --------------------- */

static void on_guest_wrote(void *opaque, unsigned port, const uint8_t *data, size_t len)
{
	struct session *s = opaque;

	if (port == PORT_CONTROL)
		control_bytes(s, data, len);
	else if (port == PORT_STDOUT || port == PORT_STDERR)
		output_write(s, port - PORT_STDOUT, data, len);
	/* Bytes written to the stdin port go nowhere: it is the host's to write. */
}

static void on_guest_open(void *opaque, unsigned port, bool open)
{
	struct session *s = opaque;

	if (port == PORT_CONTROL && open) {
		control_flush(s);
	} else if (port == PORT_STDIN) {
		if (open)
			stdin_pump(s);
		else
			stdin_watch(s, false);
	} else if (port == PORT_STDOUT && !open && s->hello) {
		/*
		 * Every writer in the guest is gone.  Acted on at the end of the
		 * batch: output the guest queued before closing may be drained
		 * after this event (the device serves queues one after another).
		 */
		s->stdout_closing = true;
	}
}

static void on_can_send(void *opaque, unsigned port)
{
	struct session *s = opaque;

	if (port == PORT_CONTROL)
		control_flush(s);
	else if (port == PORT_STDIN)
		stdin_pump(s);
}

static void on_fd_ready(void *opaque, unsigned index)
{
	struct session *s = opaque;

	if ((int)index == s->stdin_watch) {
		stdin_pump(s);
		return;
	}
	if ((int)index != s->event_watch)
		return;
	uint64_t count;
	if (read(s->event_fd, &count, sizeof(count)) < 0) {
		/* nothing posted after all */
	}
	if (atomic_exchange(&s->release_pending, false))
		release_now(s);
	/* Signals and sizes wait for the request (a snapshot at HELLO may hold it): it goes first. */
	if (!s->released)
		return;
	unsigned sigs = atomic_exchange(&s->pending_signals, 0);
	unsigned ws = atomic_exchange(&s->winsize, 0);
	if (s->broken)
		return;
	int rc = 0;
	if (ws)
		rc |= channel_put_winsize(&s->out, (uint16_t)(ws >> 16), (uint16_t)ws);
	for (int sig = 1; sig < 32; sig++)
		if (sigs & (1u << sig))
			rc |= channel_put_u32(&s->out, CHANNEL_SIGNAL, (uint32_t)sig);
	if (rc) {
		struct ember_err err;
		ember_fail(&err, ENOMEM, "out of memory");
		machine_request_failure(s->machine, &err);
		return;
	}
	control_flush(s);
}

static void on_batch_done(void *opaque)
{
	struct session *s = opaque;

	/*
	 * Whoever reads ember's stdout sees end of file now, not when the VM
	 * ends.  (stderr stays: ember's own messages use it.)
	 */
	if (s->stdout_closing && !s->out_gone[0]) {
		if (s->devnull >= 0)
			dup2(s->devnull, STDOUT_FILENO);
		s->out_gone[0] = true;
	}
	/* After the batch: every byte the guest wrote before its EXIT is out. */
	if (s->exit_seen)
		machine_request_stop(s->machine, s->exit_status);
}

/* ---- life ------------------------------------------------------------------------- */

int session_create(struct session *s, struct virtio_devices *list, struct machine *m,
		   const struct ember_config *cfg, enum session_mode mode, struct ember_err *err)
{
	int rc;

	memset(s, 0, sizeof(*s));
	s->machine = m;
	s->cfg = cfg;
	s->mode = mode;
	s->stdin_watch = s->event_watch = -1;
	s->devnull = s->hello_fd = -1;
	/* Restored: the guest said HELLO before its snapshot was taken. */
	if (mode == SESSION_WARM || mode == SESSION_RESUMED) {
		s->hello = true;
		atomic_store(&s->running, true);
	}
	/* Resumed mid-command: its request went to the guest long ago. */
	s->released = mode == SESSION_RESUMED;
	s->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->event_fd < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	if (mode == SESSION_CAPTURE &&
	    (s->hello_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	s->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (s->devnull < 0)
		return ember_fail(err, errno, "/dev/null: %s", strerror(errno));
	s->stdio_ports = cfg->console == EMBER_CONSOLE_SPLIT;
	/* Built for real at HELLO; once now to refuse what cannot be sent before booting. */
	struct channel_buf trial = { 0 };
	rc = build_request(s, &trial);
	channel_buf_free(&trial);
	if (rc)
		return ember_fail(err, E2BIG,
				  "the command does not fit the command channel (an argument or variable over %u bytes?)",
				  CHANNEL_MAX_PAYLOAD);

	struct virtio_ports_backend be = {
		.opaque = s,
		.guest_wrote = on_guest_wrote,
		.guest_open = on_guest_open,
		.can_send = on_can_send,
		.fd_ready = on_fd_ready,
		.batch_done = on_batch_done,
	};
	struct virtio_device *dev;
	if ((rc = virtio_ports_new(port_names, s->stdio_ports ? 4 : 1, &be, &dev, err)))
		return rc;
	s->dev = dev;
	if ((rc = virtio_devices_add(list, dev, err)))
		return rc; /* the list owns and frees dev */
	if ((s->event_watch = virtio_ports_watch(dev, s->event_fd)) < 0)
		return ember_fail(err, ENOSPC, "internal: virtio-console cannot watch its events");
	if (s->stdio_ports && cfg->interactive) {
		s->stdin_watch = virtio_ports_watch(dev, STDIN_FILENO);
		if (s->stdin_watch < 0)
			return ember_fail(err, ENOSPC, "internal: virtio-console cannot watch stdin");
		/* Watched only while the guest has the port open and room in it. */
		virtio_ports_watch_enable(dev, (unsigned)s->stdin_watch, false);
	}
	/* No -i: the command's stdin is empty, closed at release (a resumed one's now). */
	if (mode == SESSION_RESUMED && s->stdio_ports) {
		s->stdin_done = true;
		virtio_ports_close(dev, PORT_STDIN);
	}
	return 0;
}

void session_release(struct session *s)
{
	atomic_store(&s->release_pending, true);
	if (eventfd_write(s->event_fd, 1) < 0) {
		/* saturated: the I/O thread is due to look anyway */
	}
}

bool session_can_snapshot(const struct session *s, const char **why)
{
	if (s->broken)
		*why = "the command channel is closed";
	else if (s->out_sent != s->out.len)
		*why = "the command channel has bytes in flight to the guest";
	else if (s->reader.hdr_have) /* 0 between messages (channel_reader_push) */
		*why = "the command channel has half a message from the guest";
	else if (s->exit_seen)
		*why = "the command has already exited";
	else if (s->in_len)
		*why = "stdin has bytes in flight to the guest";
	else
		return true;
	return false;
}

void session_signal(struct session *s, int signo)
{
	if (signo <= 0 || signo >= 32)
		return;
	atomic_fetch_or(&s->pending_signals, 1u << signo);
	if (eventfd_write(s->event_fd, 1) < 0) {
		/* saturated: the I/O thread is due to look anyway */
	}
}

void session_host_resized(struct session *s)
{
	uint16_t rows, cols;

	if (host_winsize(&rows, &cols) < 0)
		return;
	atomic_store(&s->winsize, (unsigned)rows << 16 | cols);
	if (eventfd_write(s->event_fd, 1) < 0) {
		/* saturated: the I/O thread is due to look anyway */
	}
}

bool session_running(struct session *s)
{
	return atomic_load(&s->running);
}

void session_finish(struct session *s, int code)
{
	/* Not when ember stopped it (timeout, signal, failure): the guest may just be slow. */
	bool by_guest = code >= 0 && code <= 255 && code != EMBER_EXIT_TIMEOUT &&
			code != EMBER_EXIT_FAILURE && code < 128;
	if (s->dev && !s->hello && !s->broken && by_guest)
		fprintf(stderr, "ember: the guest never opened ember's command channel (not ember's init?): "
				"the command was not run\r\n");
}

void session_destroy(struct session *s)
{
	channel_buf_free(&s->out);
	channel_reader_free(&s->reader);
	if (s->event_fd >= 0)
		close(s->event_fd);
	if (s->devnull >= 0)
		close(s->devnull);
	if (s->hello_fd >= 0)
		close(s->hello_fd);
	s->event_fd = s->devnull = s->hello_fd = -1;
	s->dev = NULL;
}
