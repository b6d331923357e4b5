// SPDX-License-Identifier: GPL-2.0-only
/*
 * rootfs/init_relay.c, the guest init's relay between the command
 * channel's virtio-console ports and the command's stdio, run on the host.
 * relay_run only read()s, write()s and poll()s its ports, so pipes and a
 * socketpair stand in for them: the test's helper threads are ember's end
 * (they feed the stdin port, take everything the stdout and stderr ports
 * give until end of file, and write control messages), and the commands
 * are real programs (sh, tee, wc, stty).
 *
 * Like init (PID 1, which the kernel sends no SIGPIPE it does not handle),
 * the test process ignores SIGPIPE, and it keeps SIGCHLD blocked in every
 * thread: relay_run takes SIGCHLD from a signalfd, which a helper thread
 * with SIGCHLD unblocked could otherwise consume and discard first.
 * A watchdog (alarm) ends the run when a test hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "rootfs/init_relay.h"

#ifndef WATCHDOG_S
#define WATCHDOG_S 120 /* a test that takes this long hangs: the run fails */
#endif
#define WAIT_S     60  /* a helper's wait for output it expects (it stops early at end of file) */
#define BUF_SIZE   (64u << 10)
#define EOF_WAIT_S 20  /* for end of file on stdout, which should take milliseconds */

#define STDIO       CHANNEL_FLAG_STDIO_PORTS
#define INTERACTIVE CHANNEL_FLAG_INTERACTIVE
#define TTY         CHANNEL_FLAG_TTY

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((const char *)(hay), (needle)))                            \
			fail_msg("\"%s\" does not contain \"%s\"", (const char *)(hay), \
				 (needle));                                            \
	} while (0)

/* ---- ember's end of an output port: everything until end of file ----------------- */

struct sink {
	int fd;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	uint8_t *data; /* NUL-terminated for the string checks */
	size_t len, cap;
	bool eof;
	bool hold;     /* ember stops reading: the port fills and the relay's writes block */
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	uint8_t *buf = malloc(BUF_SIZE);

	if (!buf)
		abort();
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->hold)
			pthread_cond_wait(&s->cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
		ssize_t n = read(s->fd, buf, BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&s->mu);
		if (n > 0) {
			if (s->len + (size_t)n + 1 > s->cap) {
				size_t cap = s->cap ? s->cap : 4096;
				while (s->len + (size_t)n + 1 > cap)
					cap *= 2;
				uint8_t *d = realloc(s->data, cap);
				if (!d)
					abort();
				s->data = d;
				s->cap = cap;
			}
			memcpy(s->data + s->len, buf, (size_t)n);
			s->len += (size_t)n;
			s->data[s->len] = 0;
		} else {
			s->eof = true;
		}
		pthread_cond_broadcast(&s->cv);
		pthread_mutex_unlock(&s->mu);
		if (n <= 0) {
			free(buf);
			return NULL;
		}
	}
}

static void sink_start(struct sink *s, int fd)
{
	pthread_condattr_t a;

	memset(s, 0, sizeof(*s));
	s->fd = fd;
	s->data = calloc(1, 1);
	s->cap = 1;
	assert_non_null(s->data);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &a);
	pthread_condattr_destroy(&a);
	assert_int_equal(pthread_create(&s->thread, NULL, sink_main, s), 0);
}

/*
 * Waits until the output holds `needle` (NULL: until end of file) or
 * `seconds` pass; false when it did not happen (end of file ends the wait).
 */
static bool sink_wait(struct sink *s, const char *needle, int seconds)
{
	struct timespec until;
	bool found = false;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += seconds;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		found = needle ? memmem(s->data, s->len, needle, strlen(needle)) != NULL : s->eof;
		if (found || s->eof)
			break;
		if (pthread_cond_timedwait(&s->cv, &s->mu, &until) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&s->mu);
	return found;
}

static void sink_hold(struct sink *s, bool hold)
{
	pthread_mutex_lock(&s->mu);
	s->hold = hold;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

static void sink_join(struct sink *s)
{
	pthread_join(s->thread, NULL);
	close(s->fd);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
}

/* ---- the host: the ports' other ends --------------------------------------------- */

struct host {
	struct relay r;       /* init's ends */
	int ctl;              /* ember's end of the control port */
	int in_w;             /* ember's end of the stdin port, -1 without -i */
	struct sink out, err;
	/* stdin: `feed` bytes in pieces of at most `piece` (0: all at once), `pause_us` between them */
	const uint8_t *feed;
	size_t feed_len, piece;
	useconds_t pause_us;
	/* or a script of ember's side, in a thread of its own */
	void (*script)(struct host *h);
	pthread_t thread;
	bool threaded;
	bool seen;            /* what a script saw, for the test to check */
	int in_dup;           /* a script's own descriptor of the stdin port, or -1 */
	char gate[64];        /* a path the command waits for */
};

static void *feeder_main(void *arg)
{
	struct host *h = arg;
	uint32_t seed = 99;

	for (size_t off = 0; off < h->feed_len;) {
		size_t n = h->feed_len - off;
		if (h->piece) {
			seed = seed * 1103515245u + 12345u;
			size_t p = 1 + (seed >> 8) % h->piece;
			if (n > p)
				n = p;
		}
		ssize_t w = write(h->in_w, h->feed + off, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break; /* EPIPE: the relay is gone; the test sees the output short */
		off += (size_t)w;
		if (h->pause_us)
			usleep(h->pause_us);
	}
	close(h->in_w); /* end of file on the stdin port */
	h->in_w = -1;
	return NULL;
}

static void *script_main(void *arg)
{
	struct host *h = arg;
	h->script(h);
	return NULL;
}

static void host_open(struct host *h, uint32_t flags)
{
	int sv[2], p[2];

	memset(h, 0, sizeof(*h));
	h->r = (struct relay){ .control = -1, .in_port = -1, .out_port = -1, .err_port = -1 };
	h->in_w = h->in_dup = -1;
	h->r.flags = flags;
	/* O_CLOEXEC as init's ports: the command must not hold ember's ends. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	h->r.control = sv[0];
	h->ctl = sv[1];
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	h->r.out_port = p[1];
	sink_start(&h->out, p[0]);
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	h->r.err_port = p[1];
	sink_start(&h->err, p[0]);
	if (flags & INTERACTIVE) {
		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		h->r.in_port = p[0];
		h->in_w = p[1];
	}
}

/* Starts the stdin feeder or the script, if the test set one. */
static void host_start(struct host *h)
{
	if (h->feed || h->script) {
		assert_int_equal(pthread_create(&h->thread, NULL, h->feed ? feeder_main : script_main, h), 0);
		h->threaded = true;
	}
}

/* After relay_run: init's ends closed as run_channel does, then ember's side ends. */
static void host_close(struct host *h)
{
	if (h->r.in_port >= 0)
		close(h->r.in_port);
	if (h->r.out_port >= 0)
		close(h->r.out_port);
	if (h->r.err_port >= 0)
		close(h->r.err_port);
	close(h->r.control);
	if (h->threaded)
		pthread_join(h->thread, NULL);
	sink_join(&h->out);
	sink_join(&h->err);
	if (h->in_w >= 0)
		close(h->in_w);
	if (h->in_dup >= 0)
		close(h->in_dup);
	close(h->ctl);
	free(h->r.early);
	channel_reader_free(&h->r.reader);
}

static void host_free(struct host *h)
{
	free(h->out.data);
	free(h->err.data);
}

static int no_user_change(const struct channel_request *req)
{
	(void)req;
	return 0;
}

/* relay_run with the host's ports, its helper running alongside; closes everything after. */
static int run(struct host *h, struct channel_request *req, char **argv)
{
	struct channel_request plain;

	if (!req) {
		channel_request_init(&plain);
		plain.flags = h->r.flags;
		req = &plain;
	}
	host_start(h);
	int status = relay_run(&h->r, req, argv, no_user_change);
	host_close(h);
	return status;
}

static void send_u32(int fd, uint32_t type, uint32_t value)
{
	struct channel_buf b = { 0 };
	if (channel_put_u32(&b, type, value) == 0 && write(fd, b.data, b.len) != (ssize_t)b.len)
		perror("test_init_relay: control write");
	channel_buf_free(&b);
}

static void send_winsize(int fd, uint16_t rows, uint16_t cols)
{
	struct channel_buf b = { 0 };
	if (channel_put_winsize(&b, rows, cols) == 0 && write(fd, b.data, b.len) != (ssize_t)b.len)
		perror("test_init_relay: control write");
	channel_buf_free(&b);
}

/* Byte-for-byte, naming the first difference rather than printing megabytes. */
static void assert_same_bytes(const struct sink *got, const uint8_t *want, size_t len, const char *what)
{
	size_t common = got->len < len ? got->len : len;
	for (size_t i = 0; i < common; i++)
		if (got->data[i] != want[i])
			fail_msg("%s: byte %zu differs (0x%02x, want 0x%02x)", what, i, got->data[i], want[i]);
	if (got->len != len)
		fail_msg("%s: %zu bytes, want %zu", what, got->len, len);
}

static uint8_t *random_bytes(size_t len, uint64_t seed)
{
	uint8_t *d = malloc(len);
	assert_non_null(d);
	for (size_t i = 0; i < len; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		d[i] = (uint8_t)(seed >> 24);
	}
	return d;
}

#define SH(script) ((char *[]){ "sh", "-c", (script), NULL })

/* ---- stdin to stdout and stderr ------------------------------------------------ */

/* `tee /dev/stderr` with `len` random bytes on stdin: both ports get exactly them. */
static void tee_round_trip(size_t len, size_t piece, useconds_t pause_us)
{
	struct host h;
	uint8_t *data = random_bytes(len, 0x5eed0000u + len);

	host_open(&h, STDIO | INTERACTIVE);
	h.feed = data;
	h.feed_len = len;
	h.piece = piece;
	h.pause_us = pause_us;
	int status = run(&h, NULL, (char *[]){ "tee", "/dev/stderr", NULL });
	assert_same_bytes(&h.out, data, len, "stdout port");
	assert_same_bytes(&h.err, data, len, "stderr port");
	assert_int_equal(status, 0);
	host_free(&h);
	free(data);
}

/*
 * The regression as seen in the guest: 3 MB at full speed, then EOF; the
 * output was 42 KB short.  Here timing decides whether EOF comes with the
 * last data while the pipe is full; the test after next makes sure it does.
 */
static void tee_three_megabytes(void **state)
{
	(void)state;
	tee_round_trip(3000000, 0, 0);
}

/* ember's stdin trickling in: small pieces with pauses, EOF alone at the end. */
static void tee_slow_small_pieces(void **state)
{
	(void)state;
	tee_round_trip(300000, 3000, 1000);
}

/* Opens the gate once the relay has read the whole stdin port, its end of file with it. */
static void gate_when_stdin_read(struct host *h)
{
	for (int i = 0; i < WAIT_S * 100; i++) {
		int queued = -1;
		if (ioctl(h->in_dup, FIONREAD, &queued) < 0 || queued == 0)
			break;
		usleep(10 * 1000);
	}
	int fd = open(h->gate, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
}

/*
 * The regression made deterministic: all of ember's stdin and its end of
 * file are in the port before the relay starts, and the command reads
 * nothing until the relay has read them.  The first 64 KiB fill the pipe
 * to the command; the second read of the port brings the last 34 464
 * bytes and EOF together, and the pipe is full: they must wait for room,
 * not be dropped with the pipe closed.
 */
static void stdin_eof_with_data_while_the_pipe_is_full(void **state)
{
	struct host h;
	enum { LEN = 100000 };
	uint8_t *data = random_bytes(LEN, 0xfeed);
	char dir[] = "/tmp/ember-test-relay-XXXXXX";
	(void)state;

	assert_non_null(mkdtemp(dir));
	host_open(&h, STDIO | INTERACTIVE);
	snprintf(h.gate, sizeof(h.gate), "%s/gate", dir);
	assert_true(fcntl(h.in_w, F_SETPIPE_SZ, 1 << 20) >= LEN);
	assert_int_equal(write(h.in_w, data, LEN), LEN);
	close(h.in_w);
	h.in_w = -1;
	h.in_dup = fcntl(h.r.in_port, F_DUPFD_CLOEXEC, 3);
	h.script = gate_when_stdin_read;
	int status = run(&h, NULL,
			 (char *[]){ "sh", "-c",
				     "i=0; while [ ! -e \"$0\" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; "
				     "exec tee /dev/stderr",
				     h.gate, NULL });
	unlink(h.gate);
	rmdir(dir);
	assert_same_bytes(&h.out, data, LEN, "stdout port");
	assert_same_bytes(&h.err, data, LEN, "stderr port");
	assert_int_equal(status, 0);
	host_free(&h);
	free(data);
}

static void stdin_eof_at_once(void **state)
{
	struct host h;
	(void)state;

	host_open(&h, STDIO | INTERACTIVE);
	close(h.in_w); /* ember's stdin is empty */
	h.in_w = -1;
	int status = run(&h, NULL, (char *[]){ "wc", "-c", NULL });
	assert_int_equal(status, 0);
	assert_string_equal((char *)h.out.data, "0\n");
	assert_int_equal(h.err.len, 0);
	host_free(&h);
}

/*
 * Without -i the command's stdin is /dev/null, not init's: the test's own
 * stdin is made a pipe holding five bytes, which wc would count.
 */
static void no_interactive_stdin_is_dev_null(void **state)
{
	struct host h;
	int p[2];
	(void)state;

	int saved = fcntl(0, F_DUPFD_CLOEXEC, 3); /* -1 when the test runs with stdin closed */
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "12345", 5), 5);
	close(p[1]);
	dup2(p[0], 0);
	close(p[0]);

	host_open(&h, STDIO);
	assert_int_equal(h.r.in_port, -1);
	int status = run(&h, NULL, (char *[]){ "wc", "-c", NULL });
	if (saved >= 0) {
		dup2(saved, 0);
		close(saved);
	} else {
		close(0);
	}
	assert_int_equal(status, 0);
	assert_string_equal((char *)h.out.data, "0\n");
	host_free(&h);
}

static void stdout_and_stderr_are_apart(void **state)
{
	struct host h;
	(void)state;

	host_open(&h, STDIO);
	int status = run(&h, NULL, SH("echo out; echo err >&2; echo out2"));
	assert_int_equal(status, 0);
	assert_string_equal((char *)h.out.data, "out\nout2\n");
	assert_string_equal((char *)h.err.data, "err\n");
	host_free(&h);
}

/* The test binary itself, as a command that leaves more than a pump's read in its pipe. */
static char self_exe[4096];
#define HELPER_ARG "--write-and-exit"
#define HELPER_LEN 600000

static int helper_write_and_exit(const char *marker)
{
	static uint8_t buf[HELPER_LEN];

	/* A pipe that takes it all: the command is gone before the relay read most of it. */
	if (fcntl(1, F_SETPIPE_SZ, 1 << 20) < HELPER_LEN)
		return 2;
	for (size_t i = 0; i < HELPER_LEN; i++)
		buf[i] = (uint8_t)(i * 7 + i / 251);
	for (size_t off = 0; off < HELPER_LEN;) {
		ssize_t n = write(1, buf + off, HELPER_LEN - off);
		if (n <= 0)
			return 3;
		off += (size_t)n;
	}
	int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC, 0600); /* about to exit */
	if (fd < 0)
		return 4;
	close(fd);
	return 0;
}

/*
 * Lets ember read stdout again once the command is gone: it made its
 * marker and is a zombie (not reaped: the relay is stuck in a write) or
 * was reaped already (the relay saw the exit first and is stuck in its
 * drain).  Either way, the rest of its output waits in the pipe.
 */
static void release_when_exited(struct host *h)
{
	for (int i = 0; i < WAIT_S * 100; i++) {
		siginfo_t si = { 0 };
		if (access(h->gate, F_OK) == 0) {
			int rc = waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT);
			if ((rc == 0 && si.si_pid) || (rc < 0 && errno == ECHILD)) {
				h->seen = true;
				break;
			}
		}
		usleep(10 * 1000);
	}
	sink_hold(&h->out, false);
}

/*
 * The relay is stuck writing to a full stdout port while the command
 * writes the rest of its output and exits: what is still in the pipe
 * when the relay sees the exit reaches ember all the same.
 */
static void output_left_at_exit_is_drained(void **state)
{
	struct host h;
	char dir[] = "/tmp/ember-test-relay-XXXXXX";
	(void)state;

	assert_non_null(mkdtemp(dir));
	host_open(&h, STDIO);
	snprintf(h.gate, sizeof(h.gate), "%s/exiting", dir);
	sink_hold(&h.out, true);
	h.script = release_when_exited;
	int status = run(&h, NULL, (char *[]){ self_exe, HELPER_ARG, h.gate, NULL });
	unlink(h.gate);
	rmdir(dir);
	assert_int_equal(status, 0);
	assert_true(h.seen);
	assert_int_equal(h.out.len, HELPER_LEN);
	for (size_t i = 0; i < HELPER_LEN; i++)
		if (h.out.data[i] != (uint8_t)(i * 7 + i / 251))
			fail_msg("stdout port: byte %zu differs", i);
	host_free(&h);
}

/* ---- exit status ---------------------------------------------------------------- */

static int status_of(char **argv, struct host *h)
{
	host_open(h, STDIO);
	return run(h, NULL, argv);
}

static void exit_status(void **state)
{
	struct host h;
	(void)state;

	assert_int_equal(status_of(SH("exit 7"), &h), 7);
	host_free(&h);
	assert_int_equal(status_of(SH("exit 0"), &h), 0);
	host_free(&h);
	/* Killed by signal N: 128+N. */
	assert_int_equal(status_of(SH("kill -TERM $$; sleep 5"), &h), 128 + SIGTERM);
	host_free(&h);
	assert_int_equal(status_of(SH("kill -KILL $$; sleep 5"), &h), 128 + SIGKILL);
	host_free(&h);
}

static void command_not_found_or_not_runnable(void **state)
{
	struct host h;
	(void)state;

	assert_int_equal(status_of((char *[]){ "ember-test-no-such-command", NULL }, &h), 127);
	/* init's message goes where the command's stderr would have. */
	assert_contains(h.err.data, "ember-test-no-such-command");
	assert_int_equal(h.out.len, 0);
	host_free(&h);
	assert_int_equal(status_of((char *[]){ "/dev/null", NULL }, &h), 126);
	assert_contains(h.err.data, "/dev/null");
	host_free(&h);
}

/* ---- control messages while the command runs ------------------------------------- */

/* A shell that says "ready" and loops for at most 30 s (exit 3: nothing reached it). */
#define WAITING_LOOP "echo ready; i=0; while [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done; exit 3"

static void signal_when_ready(struct host *h)
{
	if (sink_wait(&h->out, "ready", WAIT_S))
		send_u32(h->ctl, CHANNEL_SIGNAL, SIGTERM);
}

static void signal_is_forwarded(void **state)
{
	struct host h;
	(void)state;

	host_open(&h, STDIO);
	h.script = signal_when_ready;
	int status = run(&h, NULL, SH("trap 'echo trapped; exit 42' TERM; " WAITING_LOOP));
	assert_string_equal((char *)h.out.data, "ready\ntrapped\n");
	assert_int_equal(status, 42);
	host_free(&h);
}

/*
 * A SIGNAL that came in with the request (r->early) reaches the command at
 * once.  (Under valgrind this and the next test can fail: a signal that
 * reaches the child between fork and exec may be lost in valgrind's own
 * signal handling.  Natively the kernel kills the child or the command.)
 */
static void early_signal_is_delivered_after_fork(void **state)
{
	struct host h;
	struct channel_buf b = { 0 };
	(void)state;

	host_open(&h, STDIO);
	assert_int_equal(channel_put_u32(&b, CHANNEL_SIGNAL, SIGTERM), 0);
	h.r.early = b.data; /* host_close frees it, as the relay never does */
	h.r.early_len = b.len;
	/* Nothing on the control port: only r->early can stop it before 30 s. */
	int status = run(&h, NULL, (char *[]){ "sleep", "30", NULL });
	assert_int_equal(status, 128 + SIGTERM);
	host_free(&h);
}

/* ---- the request ---------------------------------------------------------------- */

static void read_request_keeps_what_follows_start(void **state)
{
	struct host h;
	struct channel_request req;
	struct channel_buf b = { 0 };
	(void)state;

	host_open(&h, STDIO | INTERACTIVE);
	h.r.flags = 0; /* run_channel takes them from the request */
	assert_int_equal(channel_put_u32(&b, CHANNEL_FLAGS, STDIO | INTERACTIVE), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "sleep"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "30"), 0);
	assert_int_equal(channel_put_str(&b, CHANNEL_ENV, "EMBER_TEST=1"), 0);
	assert_int_equal(channel_put_winsize(&b, 33, 101), 0);
	assert_int_equal(channel_put(&b, CHANNEL_START, NULL, 0), 0);
	assert_int_equal(channel_put_u32(&b, CHANNEL_SIGNAL, SIGTERM), 0);
	/* One write: the relay's first read takes the request and the signal together. */
	assert_int_equal(write(h.ctl, b.data, b.len), (ssize_t)b.len);
	channel_buf_free(&b);

	assert_int_equal(relay_read_request(&h.r, &req), 0);
	assert_true(req.started);
	assert_int_equal(req.flags, STDIO | INTERACTIVE);
	assert_int_equal(req.argc, 2);
	assert_string_equal(req.argv[0], "sleep");
	assert_string_equal(req.argv[1], "30");
	assert_null(req.argv[2]);
	assert_int_equal(req.envc, 1);
	assert_string_equal(req.env[0], "EMBER_TEST=1");
	assert_int_equal(req.rows, 33);
	assert_int_equal(req.cols, 101);
	h.r.flags = req.flags;

	/* The SIGNAL is in r->early, whole. */
	assert_int_equal(h.r.early_len, CHANNEL_HDR_SIZE + 4);
	struct channel_reader rd = { 0 };
	size_t used = 0;
	uint32_t v = 0;
	assert_int_equal(channel_reader_push(&rd, h.r.early, h.r.early_len, &used), 1);
	assert_int_equal(used, h.r.early_len);
	assert_int_equal(rd.type, CHANNEL_SIGNAL);
	assert_int_equal(channel_get_u32(&rd, &v), 0);
	assert_int_equal(v, SIGTERM);
	channel_reader_free(&rd);

	/* And relay_run delivers it: the 30 s sleep ends at once. */
	int status = run(&h, &req, req.argv);
	assert_int_equal(status, 128 + SIGTERM);
	channel_request_free(&req);
	host_free(&h);
}

/* relay_read_request with fd 2 caught: its message, and its result. */
static int read_request_quietly(struct host *h, struct channel_request *req, char *msg, size_t size)
{
	int p[2];
	fflush(stderr);
	int saved = dup(2);
	if (saved < 0 || pipe(p))
		return -2;
	dup2(p[1], 2);
	close(p[1]);
	int rc = relay_read_request(&h->r, req);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = read(p[0], msg, size - 1); /* the write end is closed: no wait */
	msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	return rc;
}

static void read_request_refuses_garbage(void **state)
{
	struct host h;
	struct channel_request req;
	char msg[256];
	/* An unknown type in a well-formed-looking header. */
	static const uint8_t garbage[] = { 0xef, 0xbe, 0xad, 0xde, 0, 0, 0, 0 };
	(void)state;

	host_open(&h, STDIO);
	assert_int_equal(write(h.ctl, garbage, sizeof(garbage)), (ssize_t)sizeof(garbage));
	shutdown(h.ctl, SHUT_WR); /* refused at once, not taken for a channel that closed */
	assert_int_equal(read_request_quietly(&h, &req, msg, sizeof(msg)), -1);
	assert_contains(msg, "unknown message type");
	channel_request_free(&req);
	host_close(&h);
	host_free(&h);

	/* A request that ends before START: the port closed. */
	struct channel_buf b = { 0 };
	host_open(&h, STDIO);
	assert_int_equal(channel_put_str(&b, CHANNEL_ARG, "true"), 0);
	assert_int_equal(write(h.ctl, b.data, b.len), (ssize_t)b.len);
	channel_buf_free(&b);
	shutdown(h.ctl, SHUT_WR);
	assert_int_equal(read_request_quietly(&h, &req, msg, sizeof(msg)), -1);
	assert_contains(msg, "closed before");
	channel_request_free(&req);
	host_close(&h);
	host_free(&h);
}

/* ---- end of file on stdout while the command goes on ------------------------------- */

/* Waits for EOF on the stdout port, then lets the command go on (it reads a line). */
static void eof_then_stdin(struct host *h)
{
	h->seen = sink_wait(&h->out, NULL, EOF_WAIT_S);
	if (write(h->in_w, "go\n", 3) != 3)
		perror("test_init_relay: stdin write");
	close(h->in_w);
	h->in_w = -1;
}

static void stdout_closed_early_ends_the_port_at_once(void **state)
{
	struct host h;
	(void)state;

	host_open(&h, STDIO | INTERACTIVE);
	h.script = eof_then_stdin;
	/* The command cannot end before ember's side saw EOF on stdout (or gave up waiting). */
	int status = run(&h, NULL, SH("echo first; exec >&-; read x; echo \"late $x\" >&2"));
	assert_true(h.seen);
	assert_string_equal((char *)h.out.data, "first\n");
	assert_string_equal((char *)h.err.data, "late go\n");
	assert_int_equal(h.r.out_port, -1); /* the relay closed it */
	assert_int_equal(status, 0);
	host_free(&h);
}

/* ---- -t: a pseudo-terminal ------------------------------------------------------- */

static void tty_is_a_pty(void **state)
{
	struct host h;
	(void)state;

	host_open(&h, STDIO | TTY);
	int status = run(&h, NULL, SH("tty; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo in-tty; echo err >&2"));
	assert_int_equal(status, 0);
	assert_contains(h.out.data, "/dev/pts/");
	assert_contains(h.out.data, "in-tty");
	assert_contains(h.out.data, "err"); /* stderr is the terminal too */
	assert_int_equal(h.err.len, 0);
	host_free(&h);
}

static void winsize_when_ready(struct host *h)
{
	if (sink_wait(&h->out, "ready", WAIT_S))
		send_winsize(h->ctl, 50, 132);
}

static void tty_winsize_initial_and_changed(void **state)
{
	struct host h;
	struct channel_request req;
	(void)state;

	host_open(&h, STDIO | TTY);
	channel_request_init(&req);
	req.flags = h.r.flags;
	req.rows = 24;
	req.cols = 80;
	h.script = winsize_when_ready;
	/* The kernel sends SIGWINCH to the terminal's foreground job: the shell's. */
	int status = run(&h, &req, SH("trap 'echo \"now $(stty size)\"; exit 0' WINCH; "
				      "echo \"was $(stty size)\"; " WAITING_LOOP));
	assert_contains(h.out.data, "was 24 80");
	assert_contains(h.out.data, "now 50 132");
	assert_int_equal(status, 0);
	host_free(&h);
}

/* ---- the harness ------------------------------------------------------------------ */

static int watchdog_fd = 2; /* the real stderr: a test may have caught fd 2 */

static void watchdog(int sig)
{
	static const char msg[] = "test_init_relay: watchdog: a test hung (relay_run never returned?)\n";
	(void)sig;
	if (write(watchdog_fd, msg, sizeof(msg) - 1) < 0)
		_exit(1);
	_exit(1);
}

static int group_setup(void **state)
{
	sigset_t chld;
	(void)state;

	/* Before any helper thread exists: they inherit the mask. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	watchdog_fd = fcntl(2, F_DUPFD_CLOEXEC, 10);
	if (watchdog_fd < 0)
		watchdog_fd = 2;
	signal(SIGALRM, watchdog);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	if (watchdog_fd > 2)
		close(watchdog_fd);
	return 0;
}

static int arm(void **state)
{
	(void)state;
	alarm(WATCHDOG_S);
	return 0;
}

static int disarm(void **state)
{
	(void)state;
	alarm(0);
	return 0;
}

#define T(f) cmocka_unit_test_setup_teardown(f, arm, disarm)

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], HELPER_ARG))
		return helper_write_and_exit(argv[2]);
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	const struct CMUnitTest tests[] = {
		T(tee_three_megabytes),
		T(tee_slow_small_pieces),
		T(stdin_eof_with_data_while_the_pipe_is_full),
		T(stdin_eof_at_once),
		T(no_interactive_stdin_is_dev_null),
		T(stdout_and_stderr_are_apart),
		T(output_left_at_exit_is_drained),
		T(exit_status),
		T(command_not_found_or_not_runnable),
		T(signal_is_forwarded),
		T(early_signal_is_delivered_after_fork),
		T(read_request_keeps_what_follows_start),
		T(read_request_refuses_garbage),
		T(stdout_closed_early_ends_the_port_at_once),
		T(tty_is_a_pty),
		T(tty_winsize_initial_and_changed),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
