// SPDX-License-Identifier: GPL-2.0-only
/*
 * The vsock connector: a tiny process that makes the host-side sockets of
 * guest -> host connections, so that the running ember never connects to
 * anything itself.
 *
 * Why a process.  A guest connect() to CID 2 port P must reach the Unix
 * socket "PATH_P" (Firecracker's convention).  After start-up ember runs
 * under a seccomp filter (vm/sandbox.c) that allows neither socket() nor
 * connect(): connect() takes a path, which no filter can inspect, so
 * allowing it would let a subverted ember (a guest that found a bug in a
 * device) connect to any Unix socket ember's user may reach, such as
 * /var/run/docker.sock, which is root on the host.  So the connecting is
 * done here, in a process forked when the device is made (before the
 * sandbox), which
 *   - takes nothing from ember but a port number (a 12-byte message on a
 *     SOCK_SEQPACKET socketpair), and builds the path itself from the
 *     prefix it was given at fork: exactly "<PATH>_<decimal port>";
 *   - answers with an errno, or the connected socket (SCM_RIGHTS);
 *   - runs under its own filter (libseccomp, default: kill the process):
 *     read and sendmsg on its socketpair only, socket() for AF_UNIX stream
 *     sockets only, connect, close, unlinkat in the socket's directory
 *     only (to remove PATH when it ends), exit.  No open, no exec, no
 *     mmap: it cannot even grow its heap;
 *   - has no other descriptor (everything inherited is closed), no
 *     capabilities, its own session (the terminal's ^C is not for it),
 *     and PR_SET_PDEATHSIG so that it dies with ember.
 * Its address space is its own (fork, not a thread or CLONE_VM), so ember,
 * however subverted, cannot change the prefix it builds paths from: the
 * only Unix sockets a running ember can ever obtain are "<PATH>_<port>".
 *
 * The device thread asks synchronously and waits for the answer with a
 * timeout (VSOCK_CONNECTOR_TIMEOUT_MS): a local non-blocking connect()
 * returns at once (refused, or a full backlog, is an immediate error), so
 * a round trip is two context switches, tens of microseconds.  A connector
 * that misses the deadline is taken for dead, and guest connects are
 * refused from then on rather than stalling the device once per attempt.
 *
 * The connector also removes PATH when it ends (told to by ember at
 * destroy, or when ember's end of the socketpair closes because ember
 * died): it is not under ember's Landlock rules, which need not cover the
 * socket's directory.
 *
 * The running ember needs recvmsg (to take the socket), shutdown (half
 * closes, vsock.c) and wait4 (to reap this process at destroy) from the
 * sandbox; none of them names a path.
 */
#include "virtio/vsock.h"

#include <cap-ng.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { CONNECTOR_CONNECT = 1, CONNECTOR_QUIT = 2 };

/* ember -> connector. */
struct connector_req {
	uint32_t op;
	uint32_t seq;
	uint32_t port;
};

/* connector -> ember: err 0 comes with the socket; seq 0 is the "ready" message. */
struct connector_rep {
	uint32_t seq;
	int32_t err;
};

#define CONNECTOR_SOCK_TYPE (SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC)

/* ---- the connector process --------------------------------------------------------------- */

static int send_reply(int sock, uint32_t seq, int err, int fd)
{
	struct connector_rep rep = { seq, err };
	struct iovec iov = { &rep, sizeof(rep) };
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int))];
	} ctl;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = sizeof(ctl.buf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == (ssize_t)sizeof(rep) ? 0 : -1;
}

/* Closes every descriptor but a and b (a < b). */
static void close_others(int a, int b)
{
	if ((a > 0 && close_range(0, (unsigned)a - 1, 0) < 0) ||
	    (b > a + 1 && close_range((unsigned)a + 1, (unsigned)b - 1, 0) < 0) ||
	    close_range((unsigned)b + 1, ~0u, 0) < 0) {
		/* Before Linux 5.9: one by one, as far as descriptors go. */
		long max = sysconf(_SC_OPEN_MAX);
		for (long fd = 0; fd < (max > 0 && max < 65536 ? max : 65536); fd++)
			if (fd != a && fd != b)
				close((int)fd);
	}
}

/* The filter of the top comment; 0 or -errno. */
static int connector_filter(int sock, int dir_fd)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	int rc;

	if (!ctx)
		return -ENOMEM;
	rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(read), 1, SCMP_A0(SCMP_CMP_EQ, (unsigned)sock));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(sendmsg), 1,
				      SCMP_A0(SCMP_CMP_EQ, (unsigned)sock));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 3, SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
				      SCMP_A1(SCMP_CMP_EQ, CONNECTOR_SOCK_TYPE), SCMP_A2(SCMP_CMP_EQ, 0));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(connect), 0);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(close), 0);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unlinkat), 1,
				      SCMP_A0(SCMP_CMP_EQ, (unsigned)dir_fd));
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit_group), 0);
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(exit), 0);
	if (!rc)
		rc = seccomp_load(ctx);
	/* Not released: free() might hand memory back (munmap), which the filter now refuses. */
	return rc;
}

/* "<prefix>_<port>" into path (prefix_len bytes already there); no stdio in here. */
static void connector_path(char *path, size_t prefix_len, uint32_t port)
{
	char digits[10];
	unsigned n = 0;

	do {
		digits[n++] = (char)('0' + port % 10);
		port /= 10;
	} while (port);
	path[prefix_len] = '_';
	size_t at = prefix_len + 1;
	while (n)
		path[at++] = digits[--n];
	path[at] = '\0';
}

static void __attribute__((noreturn)) connector_main(int sock, int dir_fd, const char *uds_path,
						      const char *name, pid_t parent)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t prefix_len = strlen(uds_path); /* checked by vsock.c: room for "_4294967295" */
	int err = 0;

	memcpy(addr.sun_path, uds_path, prefix_len);
	/* Not in the terminal's process group: ^C is ember's to forward, not ours to die of. */
	setsid();
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		err = errno;
	if (getppid() != parent) /* ember died before the line above */
		_exit(0);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, sig == SIGPIPE ? SIG_IGN : SIG_DFL);
	capng_get_caps_process();
	if (!err && capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
		capng_clear(CAPNG_SELECT_CAPS);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			err = EPERM;
	}
	close_others(sock < dir_fd ? sock : dir_fd, sock < dir_fd ? dir_fd : sock);
	/*
	 * The filter refuses brk and munmap: no free() from here on may give
	 * memory back (libseccomp frees its program after loading it), and
	 * nothing here allocates after that.
	 */
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
	mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);
	if (!err) {
		int rc = connector_filter(sock, dir_fd);
		if (rc < 0)
			err = -rc;
	}
	if (send_reply(sock, 0, err, -1) < 0 || err)
		_exit(1);

	for (;;) {
		struct connector_req req;
		ssize_t n = read(sock, &req, sizeof(req));
		if (n == 0 || (n < 0 && errno != EINTR))
			break; /* ember closed its end: it ended, or died */
		if (n != (ssize_t)sizeof(req))
			continue;
		if (req.op == CONNECTOR_QUIT)
			break;
		if (req.op != CONNECTOR_CONNECT)
			continue;
		connector_path(addr.sun_path, prefix_len, req.port);
		int fd = socket(AF_UNIX, CONNECTOR_SOCK_TYPE, 0);
		int rc = 0;
		if (fd < 0)
			rc = errno;
		else if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0)
			rc = errno;
		send_reply(sock, req.seq, rc, rc ? -1 : fd);
		if (fd >= 0)
			close(fd);
	}
	unlinkat(dir_fd, name, 0);
	_exit(0);
}

/* ---- ember's side ------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Receives one reply within the deadline: returns 1 with *rep (and *fd,
 * -1 if none came), 0 on timeout, -1 when the connector is gone.
 */
static int recv_reply(struct vsock_connector *c, int64_t deadline, struct connector_rep *rep, int *fd)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = { .fd = c->sock, .events = POLLIN };
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;

		union {
			struct cmsghdr h;
			char buf[CMSG_SPACE(4 * sizeof(int))];
		} ctl;
		struct iovec iov = { rep, sizeof(*rep) };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				      .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(c->sock, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return -1;
		*fd = -1;
		for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < nfds; i++) {
				int got;
				memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
				if (*fd < 0)
					*fd = got;
				else
					close(got); /* one socket per answer: never more */
			}
		}
		if (n != (ssize_t)sizeof(*rep) || (msg.msg_flags & MSG_CTRUNC)) {
			if (*fd >= 0)
				close(*fd);
			continue; /* not an answer of ours */
		}
		return 1;
	}
}

int vsock_connector_start(struct vsock_connector *c, const char *uds_path, int dir_fd,
			  const char *name, struct ember_err *err)
{
	int sv[2];
	pid_t parent = getpid();

	c->pid = -1;
	c->sock = -1;
	c->seq = 0;
	c->dead = false;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ember_fail(err, errno, "--vsock %s: socketpair: %s", uds_path, strerror(errno));
	/*
	 * A plain fork: ember is still single-threaded here (devices are made
	 * before the first thread starts), so the child may use libc freely.
	 */
	pid_t pid = fork();
	if (pid < 0) {
		int e = errno;
		close(sv[0]);
		close(sv[1]);
		return ember_fail(err, e, "--vsock %s: cannot start its connector: %s", uds_path,
				  strerror(e));
	}
	if (pid == 0)
		connector_main(sv[1], dir_fd, uds_path, name, parent);
	close(sv[1]);
	c->pid = pid;
	c->sock = sv[0];

	struct connector_rep rep;
	int fd = -1;
	int r = recv_reply(c, now_ms() + 5000, &rep, &fd);
	if (fd >= 0)
		close(fd);
	if (r == 1 && rep.seq == 0 && rep.err == 0)
		return 0;
	int e = r == 1 && rep.err > 0 ? rep.err : EIO;
	vsock_connector_stop(c);
	return ember_fail(err, e, "--vsock %s: its connector process did not start: %s", uds_path,
			  r == 1 ? strerror(e) : "no answer");
}

int vsock_connector_connect(struct vsock_connector *c, uint32_t port)
{
	if (c->dead || c->pid < 0)
		return -EPIPE;
	struct connector_req req = { CONNECTOR_CONNECT, ++c->seq, port };
	if (c->seq == 0)
		req.seq = c->seq = 1; /* 0 is the ready message's */
	if (write(c->sock, &req, sizeof(req)) != (ssize_t)sizeof(req)) {
		c->dead = true;
		return -EPIPE;
	}
	int64_t deadline = now_ms() + VSOCK_CONNECTOR_TIMEOUT_MS;
	for (;;) {
		struct connector_rep rep;
		int fd = -1;
		int r = recv_reply(c, deadline, &rep, &fd);
		if (r <= 0) {
			c->dead = true;
			return -EPIPE;
		}
		if (rep.seq != req.seq) {
			if (fd >= 0)
				close(fd); /* a late answer to an older question */
			continue;
		}
		if (rep.err == 0 && fd >= 0)
			return fd;
		if (fd >= 0)
			close(fd);
		return rep.err > 0 ? -rep.err : -EPROTO;
	}
}

void vsock_connector_stop(struct vsock_connector *c)
{
	bool ended = false;

	if (c->pid < 0)
		return;
	if (c->sock >= 0) {
		struct connector_req req = { CONNECTOR_QUIT, 0, 0 };
		if (write(c->sock, &req, sizeof(req)) < 0) {
			/* gone already: the read below sees the end at once */
		}
		/*
		 * The connector removes the socket and exits; its end closes when
		 * it is gone.  Answers still queued are dropped by read(), their
		 * descriptors closed by the kernel.
		 */
		int64_t deadline = now_ms() + VSOCK_CONNECTOR_TIMEOUT_MS;
		char buf[64];
		for (;;) {
			int64_t left = deadline - now_ms();
			struct pollfd p = { .fd = c->sock, .events = POLLIN };
			if (left <= 0 || (poll(&p, 1, (int)left) < 0 && errno != EINTR))
				break;
			ssize_t n = read(c->sock, buf, sizeof(buf));
			if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
				ended = true;
				break;
			}
		}
		close(c->sock);
		c->sock = -1;
	}
	/*
	 * Its end closed: it is exiting, and the wait is short.  Otherwise
	 * (stuck, stopped) it ends when its socket's end is seen, or with
	 * ember (PDEATHSIG): reap it only if it is gone already.
	 */
	int status;
	while (waitpid(c->pid, &status, ended ? 0 : WNOHANG) < 0 && errno == EINTR)
		;
	c->pid = -1;
}
