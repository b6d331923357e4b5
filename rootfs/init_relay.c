// SPDX-License-Identifier: GPL-2.0-only
#include "rootfs/init_relay.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PORT_WAIT_MS 120000 /* ports appear when the driver's control work has run */
#define PUMP_BUF (64u << 10)

/* ---- ports ----------------------------------------------------------------------- */

static int find_port(const char *name, char *dev, size_t size)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	struct dirent *e;
	int found = -1;

	if (!d)
		return -1;
	while (found < 0 && (e = readdir(d))) {
		char path[300], got[128];
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/virtio-ports/%s/name", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		ssize_t n = read(fd, got, sizeof(got) - 1);
		close(fd);
		if (n <= 0)
			continue;
		got[n] = '\0';
		got[strcspn(got, "\n")] = '\0';
		if (!strcmp(got, name)) {
			snprintf(dev, size, "/dev/%s", e->d_name);
			found = 0;
		}
	}
	closedir(d);
	return found;
}

int relay_open_port(const char *name, int flags)
{
	char dev[300];

	for (int waited = 0; waited < PORT_WAIT_MS; waited += 10) {
		if (find_port(name, dev, sizeof(dev)) == 0) {
			int fd = open(dev, flags | O_CLOEXEC | O_NOCTTY);
			if (fd >= 0)
				return fd;
		}
		usleep(10 * 1000);
	}
	fprintf(stderr, "ember-init: virtio-console port %s never appeared\n", name);
	return -1;
}

static int write_all(int fd, const void *p, size_t len)
{
	const uint8_t *b = p;
	while (len) {
		ssize_t n = write(fd, b, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				poll(&pfd, 1, -1);
				continue;
			}
			return -1;
		}
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

int relay_send_u32(struct relay *r, uint32_t type, uint32_t value)
{
	struct channel_buf b = { 0 };
	int rc = channel_put_u32(&b, type, value);
	if (rc == 0)
		rc = write_all(r->control, b.data, b.len);
	channel_buf_free(&b);
	return rc;
}

int relay_read_request(struct relay *r, struct channel_request *req)
{
	static uint8_t buf[PUMP_BUF];
	char error[128];

	channel_request_init(req);
	while (!req->started) {
		ssize_t n = read(r->control, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "ember-init: command channel closed before the command arrived\n");
			return -1;
		}
		const uint8_t *p = buf;
		size_t left = (size_t)n;
		while (left) {
			size_t used;
			int rc = channel_reader_push(&r->reader, p, left, &used);
			p += used;
			left -= used;
			if (rc < 0) {
				fprintf(stderr, "ember-init: command channel: %s\n", r->reader.error);
				return -1;
			}
			if (rc == 0)
				continue;
			if (channel_request_apply(req, &r->reader, error, sizeof(error)) < 0) {
				fprintf(stderr, "ember-init: command channel: %s\n", error);
				return -1;
			}
			/* Bytes after START are for the running command: relay_run takes them. */
			if (req->started && left) {
				r->early = malloc(left);
				if (!r->early)
					return -1;
				memcpy(r->early, p, left);
				r->early_len = left;
				break;
			}
		}
	}
	return 0;
}

/* ---- the command ------------------------------------------------------------------- */

struct pump {
	int from, to;
	size_t head, len;
	bool eof;
	uint8_t buf[PUMP_BUF];
};

static struct pump in_pump, out_pump, err_pump;

/* Reads what `from` has (non-blocking); false at EOF or error. */
static bool pump_read(struct pump *p)
{
	ssize_t n;
	while ((n = read(p->from, p->buf, sizeof(p->buf))) < 0 && errno == EINTR)
		;
	if (n > 0) {
		p->head = 0;
		p->len = (size_t)n;
		return true;
	}
	if (n < 0 && errno == EAGAIN)
		return true;
	p->eof = true; /* 0: every writer gone; EIO: a pty whose other side closed */
	return false;
}

/* Output to a port: blocking, the host always takes it. */
static void pump_out(struct pump *p)
{
	if (p->eof)
		return;
	if (pump_read(p) && p->len) {
		if (write_all(p->to, p->buf, p->len) < 0)
			p->eof = true;
		p->len = 0;
	}
}

/* Output left in the pipe once the command is gone (background writers: what is there now). */
static void pump_drain(struct pump *p)
{
	for (int i = 0; i < 1024 && !p->eof; i++) {
		pump_read(p);
		if (!p->len)
			break;
		if (write_all(p->to, p->buf, p->len) < 0)
			p->eof = true;
		p->len = 0;
	}
}

/* Input to the command: never blocks init (the command may not read it). */
static void pump_in_write(struct pump *p)
{
	while (p->len) {
		ssize_t n = write(p->to, p->buf + p->head, p->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) { /* EPIPE: the command closed its stdin; drop the rest */
			p->len = 0;
			p->eof = true;
			return;
		}
		p->head += (size_t)n;
		p->len -= (size_t)n;
	}
}

/*
 * Fills the input buffer from the stdin port (non-blocking): a port read
 * returns at most one of the driver's page-sized buffers, and each system
 * call is costly in a guest whose kernel is slow, so gather up to 64 KiB
 * and hand it to the command in one write.  Sets eof when ember's stdin
 * ended (the port's host end closed: read returns 0 once it is drained).
 */
static void pump_in_fill(struct pump *p)
{
	p->head = p->len = 0;
	while (p->len < sizeof(p->buf)) {
		ssize_t got = read(p->from, p->buf + p->len, sizeof(p->buf) - p->len);
		if (got > 0) {
			p->len += (size_t)got;
			continue;
		}
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0 || errno != EAGAIN) /* a terminal keeps going: only a pipe's end is told */
			p->eof = true;
		return;
	}
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

struct stdio_fds {
	int in, out, err;    /* the command's 0, 1, 2 in the child; -1: keep init's */
	int master;          /* -t: the pty master, else -1 */
	char slave[64];
};

static int make_stdio(const struct relay *r, const struct channel_request *req, struct stdio_fds *c)
{
	int p[2];

	memset(c, 0, sizeof(*c));
	c->in = c->out = c->err = c->master = -1;
	in_pump = (struct pump){ .from = -1, .to = -1, .eof = true };
	out_pump = (struct pump){ .from = -1, .to = -1, .eof = true };
	err_pump = (struct pump){ .from = -1, .to = -1, .eof = true };
	if (!(r->flags & CHANNEL_FLAG_STDIO_PORTS))
		return 0; /* the console is the command's stdio */
	if (r->in_port >= 0)
		set_nonblock(r->in_port); /* pump_in_fill reads until the port is empty */
	if (r->flags & CHANNEL_FLAG_TTY) {
		c->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (c->master < 0 || grantpt(c->master) || unlockpt(c->master) ||
		    ptsname_r(c->master, c->slave, sizeof(c->slave))) {
			fprintf(stderr, "ember-init: pseudo-terminal: %s\n", strerror(errno));
			return -1;
		}
		if (req->rows && req->cols) {
			struct winsize ws = { .ws_row = req->rows, .ws_col = req->cols };
			ioctl(c->master, TIOCSWINSZ, &ws);
		}
		set_nonblock(c->master);
		out_pump = (struct pump){ .from = c->master, .to = r->out_port };
		if (r->in_port >= 0)
			in_pump = (struct pump){ .from = r->in_port, .to = c->master };
		return 0;
	}
	if (r->in_port >= 0) {
		if (pipe2(p, O_CLOEXEC))
			return -1;
		c->in = p[0];
		set_nonblock(p[1]);
		in_pump = (struct pump){ .from = r->in_port, .to = p[1] };
	} else {
		c->in = open("/dev/null", O_RDONLY | O_CLOEXEC); /* no -i: stdin is empty */
	}
	if (pipe2(p, O_CLOEXEC))
		return -1;
	c->out = p[1];
	set_nonblock(p[0]);
	out_pump = (struct pump){ .from = p[0], .to = r->out_port };
	if (pipe2(p, O_CLOEXEC))
		return -1;
	c->err = p[1];
	set_nonblock(p[0]);
	err_pump = (struct pump){ .from = p[0], .to = r->err_port };
	return 0;
}

static void child(const struct relay *r, const struct stdio_fds *c, char **argv,
		  const struct channel_request *req,
		  int (*become_user)(const struct channel_request *req))
{
	sigset_t none;

	/* What init changed for itself must not reach the command. */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	/* A session of its own, so that a shell gets job control and ^C reaches its job. */
	setsid();
	if (c->master >= 0) {
		int slave = open(c->slave, O_RDWR); /* the first tty a session leader opens is its ctty */
		if (slave < 0) {
			fprintf(stderr, "ember-init: %s: %s\n", c->slave, strerror(errno));
			_exit(STATUS_INIT_FAILED);
		}
		ioctl(slave, TIOCSCTTY, 0);
		dup2(slave, 0);
		dup2(slave, 1);
		dup2(slave, 2);
		if (slave > 2)
			close(slave);
	} else if (r->flags & CHANNEL_FLAG_STDIO_PORTS) {
		dup2(c->in, 0);
		dup2(c->out, 1);
		dup2(c->err, 2);
	} else {
		ioctl(0, TIOCSCTTY, 0); /* the console */
	}
	if (become_user(req) < 0)
		_exit(STATUS_INIT_FAILED);
	execvp(argv[0], argv);
	int err = errno;
	fprintf(stderr, "ember-init: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/*
 * ember's reader of this stream is gone: close our end of the command's
 * pipe, so its next write gets SIGPIPE/EPIPE as in a shell pipeline.  (A
 * terminal is left alone: closing it would hang up the whole session.)
 */
static void close_output(struct pump *p, int master)
{
	if (p->from < 0 || p->from == master)
		return;
	close(p->from);
	p->from = -1;
	p->eof = true;
	p->len = 0;
}

/* One control message while the command runs. */
static void control_message(struct relay *r, pid_t pid, int master)
{
	uint32_t v;
	uint16_t rows, cols;

	if (r->reader.type == CHANNEL_SIGNAL && channel_get_u32(&r->reader, &v) == 0 && v > 0 && v < 65)
		kill(pid, (int)v);
	else if (r->reader.type == CHANNEL_CLOSE_OUTPUT && channel_get_u32(&r->reader, &v) == 0)
		close_output(v == 1 ? &out_pump : &err_pump, master);
	else if (r->reader.type == CHANNEL_WINSIZE && master >= 0 &&
		 channel_get_winsize(&r->reader, &rows, &cols) == 0) {
		struct winsize ws = { .ws_row = rows, .ws_col = cols };
		ioctl(master, TIOCSWINSZ, &ws); /* the kernel sends SIGWINCH to the foreground job */
	}
}

static bool control_feed(struct relay *r, const uint8_t *buf, size_t n, pid_t pid, int master)
{
	for (size_t off = 0; off < n;) {
		size_t used;
		int rc = channel_reader_push(&r->reader, buf + off, n - off, &used);
		off += used;
		if (rc < 0)
			return false;
		if (rc == 1)
			control_message(r, pid, master);
	}
	return true;
}

/* Reads the control port; false once the host closed it or it broke. */
static bool control_read(struct relay *r, pid_t pid, int master)
{
	static uint8_t buf[4096];
	ssize_t n = read(r->control, buf, sizeof(buf));

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return true;
	if (n <= 0)
		return false;
	return control_feed(r, buf, (size_t)n, pid, master);
}

static int wait_status(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int relay_run(struct relay *r, const struct channel_request *req, char **argv,
	      int (*become_user)(const struct channel_request *req))
{
	struct stdio_fds c;
	sigset_t chld;
	int status = STATUS_INIT_FAILED;
	bool control_open = true, done = false;

	if (make_stdio(r, req, &c) < 0)
		return STATUS_INIT_FAILED;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	pid_t pid = fork();
	if (pid == 0)
		child(r, &c, argv, req, become_user);
	/* The command's ends belong to it alone: EOF on ours then means it (and its children) closed them. */
	if (c.in >= 0)
		close(c.in);
	if (c.out >= 0)
		close(c.out);
	if (c.err >= 0)
		close(c.err);
	if (pid < 0) {
		fprintf(stderr, "ember-init: fork: %s\n", strerror(errno));
		return STATUS_INIT_FAILED;
	}
	if (r->early_len)
		control_open = control_feed(r, r->early, r->early_len, pid, c.master);
	while (!done) {
		struct pollfd pfd[6];
		int n = 0, i_sig = -1, i_ctl = -1, i_in = -1, i_out = -1, i_err = -1;

		pfd[i_sig = n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		if (control_open)
			pfd[i_ctl = n++] = (struct pollfd){ .fd = r->control, .events = POLLIN };
		if (in_pump.len || (!in_pump.eof && in_pump.from >= 0))
			pfd[i_in = n++] = in_pump.len ?
				(struct pollfd){ .fd = in_pump.to, .events = POLLOUT } :
				(struct pollfd){ .fd = in_pump.from, .events = POLLIN };
		if (!out_pump.eof)
			pfd[i_out = n++] = (struct pollfd){ .fd = out_pump.from, .events = POLLIN };
		if (!err_pump.eof)
			pfd[i_err = n++] = (struct pollfd){ .fd = err_pump.from, .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (i_out >= 0 && pfd[i_out].revents) {
			pump_out(&out_pump);
			/*
			 * Every writer closed the command's stdout (it may go on running):
			 * closing the port is what tells ember, whose reader sees EOF now.
			 */
			if (out_pump.eof && r->out_port >= 0) {
				close(r->out_port);
				r->out_port = -1;
			}
		}
		if (i_err >= 0 && pfd[i_err].revents)
			pump_out(&err_pump);
		if (i_in >= 0 && pfd[i_in].revents) {
			if (!in_pump.len)
				pump_in_fill(&in_pump);
			pump_in_write(&in_pump);
			/* ember's stdin ended and all of it is in the pipe: the command reads EOF. */
			if (in_pump.eof && !in_pump.len && c.master < 0 && in_pump.to >= 0) {
				close(in_pump.to);
				in_pump.to = -1;
			}
		}
		if (i_ctl >= 0 && pfd[i_ctl].revents)
			control_open = control_read(r, pid, c.master);
		if (pfd[i_sig].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			int st;
			pid_t w;
			/* PID 1 reaps every orphan; the command's status is the one that counts. */
			while ((w = waitpid(-1, &st, WNOHANG)) > 0)
				if (w == pid) {
					status = wait_status(st);
					done = true;
				}
		}
	}
	/* The command is gone: what it wrote last is still in the pipes. */
	pump_drain(&out_pump);
	pump_drain(&err_pump);
	if (c.master < 0 && in_pump.to >= 0)
		close(in_pump.to);
	if (out_pump.from >= 0 && out_pump.from != c.master)
		close(out_pump.from);
	if (err_pump.from >= 0)
		close(err_pump.from);
	if (c.master >= 0)
		close(c.master);
	close(sfd);
	return status;
}
