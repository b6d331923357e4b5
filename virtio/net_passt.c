// SPDX-License-Identifier: GPL-2.0-only
/*
 * --net user: Debian's passt(1) gives the guest the host's network without
 * any privilege.  ember starts passt with one end of a socketpair (-F) and
 * keeps the other; frames cross it in the format of QEMU's stream netdev,
 * which is passt's "qemu socket transport": each Ethernet frame (no virtio
 * header) preceded by its length as a 32-bit big-endian number.  passt
 * writes that length with htonl() (its tap.c, struct tap_hdr.vnet_len) and
 * the unit test checks it against the installed passt.
 *
 * Addresses: the guest gets a fixed set-up, QEMU's (net.h NET_USER_*):
 * 10.0.2.15/24, gateway 10.0.2.2 (which is the host: passt maps it to the
 * host's loopback), DNS 10.0.2.3 (forwarded to the host's first resolver).
 * Debian 12's passt (0.0~git20230309) takes these with -a/-n/-g and
 * --dns-forward although the host's own addresses differ: it answers ARP
 * for the whole subnet, and outbound traffic leaves through host sockets,
 * so the guest's addresses never appear on the host's network.  Checked in
 * a network namespace: ARP for the gateway, UDP to the gateway (arrives
 * from the host's 127.0.0.1) and back, UDP to the host's address.  Being
 * fixed, the set-up goes on the kernel command line (ip=) and into
 * snapshots unchanged.
 *
 * Lifetime: passt must not outlive ember.  -F makes passt quit once its
 * socket closes (passt(1), --fd implies --one-off), which the kernel does
 * when ember dies in any way, SIGKILL included; PR_SET_PDEATHSIG(SIGKILL)
 * is a second line where it holds (the kernel clears it when passt changes
 * its uid, as it does when started by root: to nobody).  close() reaps it.
 *
 * Receiving reads exactly one frame's bytes at a time (its length, then
 * its body), never more: data for the next frame stays in the socket, so
 * the socket is readable whenever a frame (or a part) waits, which is what
 * the device's poll on be->fd assumes.  A frame that arrives in parts is
 * kept here until it is whole.  send and recv keep separate state: one
 * thread may send while another receives.
 */
#include "virtio/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/route.h>

#define PASST_FD        3    /* the socket, in passt */
#define PASST_START_MS  3000 /* passt's answer to the first ARP request: it is up */
#define PASST_SEND_MS   1000 /* the rest of a frame passt took only part of */
#define PASST_EXIT_MS   500  /* after EOF, passt's own exit; then SIGKILL */
#define PASST_MAX_IOV   (VIRTQ_MAX_SIZE + 1)
#define ETH_HDR_LEN     14
#define ETH_P_ARP_      0x0806

struct net_passt {
	struct net_backend be;
	pid_t pid;
	/*
	 * A pidfd of passt, taken at start (-1 on kernels before 5.3): the
	 * sandbox lets ember signal a process only through one it holds, so
	 * this is the only process a subverted ember could kill.
	 */
	int pidfd;
	bool out_of_step;            /* a frame went out in part only: passt would misread the rest */
	/* The frame on its way in, over as many recv calls as it takes. */
	uint8_t len_bytes[4];
	unsigned len_got;            /* 4: frame_len is known, the body is coming */
	uint32_t frame_len, body_got;
	bool dropping;               /* too big for the guest: its bytes are read and dropped */
	struct iovec txv[PASST_MAX_IOV];
	uint8_t frame[VIRTIO_NET_MAX_FRAME]; /* a part-received frame; scratch when dropping */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- frames out ------------------------------------------------------------------- */

/*
 * Writes a whole length-prefixed frame.  The socket is non-blocking: if
 * passt cannot take any of it now, -EAGAIN and nothing was written (the
 * stream is still in step).  Once part of it went, the rest must follow or
 * passt reads garbage from there on: wait (poll) up to PASST_SEND_MS for
 * room, which passt, reading as fast as it can, makes within microseconds.
 */
static int passt_write_frame(struct net_passt *p, struct iovec *v, unsigned n, size_t total)
{
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = n };
	int64_t deadline = 0;
	size_t done = 0;

	for (;;) {
		ssize_t r = sendmsg(p->be.fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				int e = errno == ECONNRESET ? EPIPE : errno;
				p->out_of_step |= done > 0;
				return -e;
			}
			if (!done)
				return -EAGAIN;
			if (!deadline)
				deadline = now_ms() + PASST_SEND_MS;
			int64_t left = deadline - now_ms();
			struct pollfd pfd = { .fd = p->be.fd, .events = POLLOUT };
			if (left <= 0 || (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)) {
				p->out_of_step = true;
				return -EPIPE;
			}
			continue;
		}
		done += (size_t)r;
		if (done == total)
			return 0;
		while (r > 0 && (size_t)r >= mh.msg_iov->iov_len) {
			r -= (ssize_t)mh.msg_iov->iov_len;
			mh.msg_iov++;
			mh.msg_iovlen--;
		}
		mh.msg_iov->iov_base = (uint8_t *)mh.msg_iov->iov_base + r;
		mh.msg_iov->iov_len -= (size_t)r;
	}
}

/* The guest's frame without its virtio header (which holds nothing: no offloads). */
static int passt_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	struct net_passt *p = be->priv;
	size_t skip = VIRTIO_NET_HDR_SIZE, len = 0;
	uint32_t len_be;
	unsigned k = 1;

	if (p->out_of_step)
		return -EPIPE;
	p->txv[0] = (struct iovec){ &len_be, sizeof(len_be) };
	for (unsigned i = 0; i < n; i++) {
		uint8_t *base = iov[i].iov_base;
		size_t l = iov[i].iov_len;
		size_t s = skip < l ? skip : l;
		base += s;
		l -= s;
		skip -= s;
		if (!l)
			continue;
		if (k == PASST_MAX_IOV)
			return -EMSGSIZE;
		p->txv[k++] = (struct iovec){ base, l };
		len += l;
	}
	if (skip || len < ETH_HDR_LEN || len > VIRTIO_NET_MAX_FRAME)
		return -EMSGSIZE;
	len_be = htonl((uint32_t)len);
	return passt_write_frame(p, p->txv, k, sizeof(len_be) + len);
}

/* ---- frames in -------------------------------------------------------------------- */

/* Up to n bytes, without waiting: > 0, -EAGAIN, or -EPIPE once passt has gone. */
static ssize_t passt_read(int fd, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);
		if (r > 0)
			return r;
		if (r == 0)
			return -EPIPE;
		if (errno == EINTR)
			continue;
		return errno == ECONNRESET ? -EPIPE : -errno;
	}
}

static void passt_next_frame(struct net_passt *p)
{
	p->len_got = 0;
	p->frame_len = p->body_got = 0;
	p->dropping = false;
}

static ssize_t passt_recv(struct net_backend *be, void *buf, size_t size)
{
	struct net_passt *p = be->priv;
	uint8_t *body = (uint8_t *)buf + VIRTIO_NET_HDR_SIZE;
	ssize_t r;

	for (;;) {
		if (p->len_got < sizeof(p->len_bytes)) {
			r = passt_read(be->fd, p->len_bytes + p->len_got, sizeof(p->len_bytes) - p->len_got);
			if (r < 0)
				return r;
			p->len_got += (unsigned)r;
			if (p->len_got < sizeof(p->len_bytes))
				continue; /* the next read says -EAGAIN, or brings the rest */
			uint32_t len_be;
			memcpy(&len_be, p->len_bytes, sizeof(len_be));
			p->frame_len = ntohl(len_be);
			p->body_got = 0;
			/* Nothing passt should send, but its bytes must go for the stream to stay in step. */
			p->dropping = p->frame_len > VIRTIO_NET_MAX_FRAME || p->frame_len < ETH_HDR_LEN ||
				      size < VIRTIO_NET_HDR_SIZE + (size_t)p->frame_len;
		}
		if (p->dropping) {
			while (p->body_got < p->frame_len) {
				uint32_t want = p->frame_len - p->body_got;
				r = passt_read(be->fd, p->frame, want < sizeof(p->frame) ? want : sizeof(p->frame));
				if (r < 0)
					return r;
				p->body_got += (uint32_t)r;
			}
			passt_next_frame(p);
			continue;
		}
		/* Straight into buf when the frame comes whole; a part waits in p->frame. */
		uint8_t *dst = p->body_got ? p->frame : body;
		while (p->body_got < p->frame_len) {
			r = passt_read(be->fd, dst + p->body_got, p->frame_len - p->body_got);
			if (r < 0) {
				if (dst == body && p->body_got)
					memcpy(p->frame, body, p->body_got);
				return r;
			}
			p->body_got += (uint32_t)r;
		}
		if (dst != body)
			memcpy(body, p->frame, p->frame_len);
		memset(buf, 0, VIRTIO_NET_HDR_SIZE); /* no offloads: nothing to say */
		ssize_t n = VIRTIO_NET_HDR_SIZE + (ssize_t)p->frame_len;
		passt_next_frame(p);
		return n;
	}
}

/* ---- passt's process ----------------------------------------------------------------- */

/* Reaps pid within ms milliseconds: its wait status, or -1 if it still runs. */
static int passt_reap(pid_t pid, int ms)
{
	int64_t deadline = now_ms() + ms;
	int status;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		if (r < 0 && errno != EINTR)
			return 0; /* ECHILD: reaped elsewhere (SIGCHLD ignored) */
		if (now_ms() >= deadline)
			return -1;
		struct timespec ms1 = { 0, 1000000 };
		nanosleep(&ms1, NULL);
	}
}

static int passt_kill(struct net_passt *p)
{
	if (p->pidfd >= 0)
		return (int)syscall(SYS_pidfd_send_signal, p->pidfd, SIGKILL, NULL, 0);
	return kill(p->pid, SIGKILL);
}

/*
 * Ends passt: EOF on its socket makes it quit (-F implies --one-off);
 * SIGKILL if it has not within PASST_EXIT_MS.  The wait is bounded either
 * way: if passt cannot be killed (it runs as nobody and ember dropped
 * CAP_KILL), it is left to quit on its own and to init.
 */
static int passt_stop(struct net_passt *p)
{
	if (p->be.fd >= 0)
		close(p->be.fd);
	p->be.fd = -1;
	if (p->pid <= 0)
		return 0;
	int status = passt_reap(p->pid, PASST_EXIT_MS);
	if (status < 0 && passt_kill(p) == 0)
		status = passt_reap(p->pid, PASST_EXIT_MS);
	p->pid = 0;
	if (p->pidfd >= 0)
		close(p->pidfd);
	p->pidfd = -1;
	return status;
}

static void passt_close(struct net_backend *be)
{
	if (!be)
		return;
	passt_stop(be->priv);
	free(be->priv);
}

static const struct net_backend_ops passt_ops = {
	.send = passt_send,
	.recv = passt_recv,
	.close = passt_close,
};

/* The first executable "passt" on $PATH (as execvp would find it), into path. */
static int passt_find(char *path, size_t size)
{
	const char *dirs = getenv("PATH");

	if (!dirs)
		dirs = "/usr/local/bin:/usr/bin:/bin";
	while (*dirs) {
		const char *end = strchrnul(dirs, ':');
		size_t len = (size_t)(end - dirs);
		struct stat st;
		if (len && len + sizeof("/passt") <= size) {
			memcpy(path, dirs, len);
			memcpy(path + len, "/passt", sizeof("/passt"));
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0)
				return 0;
		}
		dirs = *end ? end + 1 : end;
	}
	return -ENOENT;
}

/*
 * Does the main routing table have a default route for family?  passt
 * needs an IPv4 one; without an IPv6 one it only warns (on every start),
 * so ember then runs it with -4.  True when it cannot tell.
 */
static bool passt_host_has_default_route(int family)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *routes = NULL;
	bool found = true;

	if (sk && nl_connect(sk, NETLINK_ROUTE) == 0 && rtnl_route_alloc_cache(sk, family, 0, &routes) == 0) {
		found = false;
		for (struct nl_object *o = nl_cache_get_first(routes); o && !found; o = nl_cache_get_next(o)) {
			struct rtnl_route *r = (struct rtnl_route *)o;
			struct nl_addr *dst = rtnl_route_get_dst(r);
			found = rtnl_route_get_table(r) == RT_TABLE_MAIN && rtnl_route_get_type(r) == RTN_UNICAST &&
				(!dst || nl_addr_get_prefixlen(dst) == 0);
		}
		nl_cache_free(routes);
	}
	if (sk)
		nl_socket_free(sk);
	return found;
}

/*
 * In the child, between fork and exec: only async-signal-safe calls (ember
 * may have threads).  The socket becomes fd 3, the exec-error pipe fd 4
 * (close-on-exec: EOF on it means passt runs), stdin/stdout/stderr stay
 * (passt's own messages reach ember's stderr), every other fd is closed.
 * Note: PR_SET_PDEATHSIG follows the thread that forked, not the process:
 * net_backend_open runs on the main thread, which lives as long as ember.
 */
static _Noreturn void passt_child(int sock, int errpipe, const char *path, char *const argv[],
				  pid_t parent)
{
	sigset_t none;
	int e;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
		_exit(127); /* ember is already gone */
	int s = fcntl(sock, F_DUPFD_CLOEXEC, 5), r = fcntl(errpipe, F_DUPFD_CLOEXEC, 5);
	if (s < 0 || r < 0)
		goto fail;
	errpipe = r;
	if (dup2(s, PASST_FD) < 0 || dup3(r, PASST_FD + 1, O_CLOEXEC) < 0)
		goto fail;
	errpipe = PASST_FD + 1;
	if (close_range(PASST_FD + 2, ~0u, 0) < 0)
		for (int fd = PASST_FD + 2; fd < 4096; fd++)
			close(fd);
	execv(path, argv);
fail:
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0)
		_exit(126);
	_exit(127);
}

/* An ARP request from the guest's address for the gateway's: passt answers once it runs. */
static size_t passt_arp_probe(const uint8_t mac[6], uint8_t f[42])
{
	static const uint8_t head[] = { 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1 };
	struct in_addr guest, gw;

	inet_pton(AF_INET, NET_USER_GUEST, &guest);
	inet_pton(AF_INET, NET_USER_GATEWAY, &gw);
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	memcpy(f + 12, head, sizeof(head));
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, &guest, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, &gw, 4);
	return 42;
}

static bool passt_is_arp_reply(const uint8_t *f, size_t len)
{
	struct in_addr gw;

	inet_pton(AF_INET, NET_USER_GATEWAY, &gw);
	return len >= 42 && f[12] == ETH_P_ARP_ >> 8 && f[13] == (ETH_P_ARP_ & 0xff) && f[20] == 0 &&
	       f[21] == 2 && !memcmp(f + 28, &gw, 4);
}

/*
 * Waits until passt is up: it answers an ARP request only from its main
 * loop, after its configuration checks (which end it within milliseconds
 * when they fail), so the answer is a better sign than any fixed delay.
 * The reply (and anything before it) is the probe's, not the guest's.
 */
static int passt_wait_ready(struct net_passt *p, const uint8_t mac[6], struct ember_err *err)
{
	uint8_t hdr[VIRTIO_NET_HDR_SIZE] = { 0 }, probe[42];
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { probe, passt_arp_probe(mac, probe) } };
	int64_t deadline = now_ms() + PASST_START_MS;
	uint8_t *buf = malloc(VIRTIO_NET_MAX_BUF);
	int rc;

	if (!buf)
		return ember_fail(err, ENOMEM, "--net user: out of memory");
	rc = passt_send(&p->be, iov, 2); /* an empty socket buffer takes it whole */
	while (rc == 0) {
		ssize_t n = passt_recv(&p->be, buf, VIRTIO_NET_MAX_BUF);
		if (n > 0) {
			if (passt_is_arp_reply(buf + VIRTIO_NET_HDR_SIZE, (size_t)n - VIRTIO_NET_HDR_SIZE))
				break;
			continue;
		}
		int64_t left = deadline - now_ms();
		if (n != -EAGAIN || left <= 0) {
			rc = n == -EAGAIN ? -ETIMEDOUT : (int)n;
			break;
		}
		struct pollfd pfd = { .fd = p->be.fd, .events = POLLIN };
		poll(&pfd, 1, (int)left);
	}
	free(buf);
	if (rc == 0)
		return 0;
	if (rc == -ETIMEDOUT)
		return ember_fail(err, ETIMEDOUT, "--net user: passt did not answer within %d s",
				  PASST_START_MS / 1000);
	if (rc != -EPIPE)
		return ember_fail(err, -rc, "--net user: talking to passt: %s", strerror(-rc));
	int status = passt_stop(p);
	char how[48];
	if (status >= 0 && WIFEXITED(status))
		snprintf(how, sizeof(how), "with status %d", WEXITSTATUS(status));
	else if (status >= 0 && WIFSIGNALED(status))
		snprintf(how, sizeof(how), "on signal %d", WTERMSIG(status));
	else
		snprintf(how, sizeof(how), "(it closed its socket)");
	return ember_fail(err, EPIPE, "--net user: passt exited at once %s%s (its own message is above)", how,
			  passt_host_has_default_route(AF_INET) ?
				  "" : ": the host has no IPv4 default route, which passt needs");
}

int net_passt_open(const struct ember_net *net, struct net_backend **out, struct ember_err *err)
{
	char path[PATH_MAX], fd_arg[8];
	int sv[2] = { -1, -1 }, ep[2] = { -1, -1 }, rc;
	char *argv[24];
	unsigned a = 0;

	*out = NULL;
	if (passt_find(path, sizeof(path)) < 0)
		return ember_fail(err, ENOENT, "--net user needs passt (Debian package passt): apt-get install passt");

	snprintf(fd_arg, sizeof(fd_arg), "%d", PASST_FD);
	argv[a++] = "passt";
	argv[a++] = "-f";                    /* foreground: ember's child, reaped by ember */
	argv[a++] = "-q";                    /* errors and warnings only */
	argv[a++] = "-F";                    /* the socket; passt quits when it closes */
	argv[a++] = fd_arg;
	argv[a++] = "-a";
	argv[a++] = NET_USER_GUEST;
	argv[a++] = "-n";
	argv[a++] = "24";
	argv[a++] = "-g";
	argv[a++] = NET_USER_GATEWAY;
	argv[a++] = "--dns-forward";
	argv[a++] = NET_USER_DNS;
	if (geteuid() == 0) {
		/* passt's own default for root, said aloud so that passt does not warn about it. */
		argv[a++] = "--runas";
		argv[a++] = "nobody";
	}
	if (!passt_host_has_default_route(AF_INET6))
		argv[a++] = "-4";
	argv[a] = NULL;
	_Static_assert(NET_USER_PREFIX == 24, "-n above");

	struct net_passt *p = calloc(1, sizeof(*p));
	if (!p)
		return ember_fail(err, ENOMEM, "--net user: out of memory");
	p->be.fd = -1;
	p->pidfd = -1;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0 || pipe2(ep, O_CLOEXEC) < 0) {
		rc = ember_fail(err, errno, "--net user: socketpair/pipe: %s", strerror(errno));
		for (unsigned i = 0; i < 2; i++) {
			if (sv[i] >= 0)
				close(sv[i]);
			if (ep[i] >= 0)
				close(ep[i]);
		}
		free(p);
		return rc;
	}
	pid_t parent = getpid();
	p->pid = fork();
	if (p->pid == 0)
		passt_child(sv[1], ep[1], path, argv, parent);
	int fork_errno = errno;
	close(sv[1]);
	close(ep[1]);
	p->be.fd = sv[0];
	p->pidfd = p->pid > 0 ? (int)syscall(SYS_pidfd_open, p->pid, 0) : -1;
	if (p->pid < 0) {
		p->pid = 0;
		rc = ember_fail(err, fork_errno, "--net user: fork: %s", strerror(fork_errno));
		goto fail;
	}

	int exec_errno = 0;
	ssize_t n;
	do
		n = read(ep[0], &exec_errno, sizeof(exec_errno));
	while (n < 0 && errno == EINTR);
	close(ep[0]);
	ep[0] = -1;
	if (n == (ssize_t)sizeof(exec_errno)) {
		rc = ember_fail(err, exec_errno, "--net user: cannot run %s: %s", path, strerror(exec_errno));
		goto fail;
	}

	if (fcntl(p->be.fd, F_SETFL, O_NONBLOCK) < 0) {
		rc = ember_fail(err, errno, "--net user: %s", strerror(errno));
		goto fail;
	}
	p->be.ops = &passt_ops;
	p->be.offloads = false;
	p->be.priv = p;
	snprintf(p->be.what, sizeof(p->be.what), "passt (pid %d)", (int)p->pid);
	rc = passt_wait_ready(p, net->mac, err);
	if (rc < 0)
		goto fail;
	*out = &p->be;
	return 0;

fail:
	passt_stop(p); /* closes the socket, reaps passt */
	if (ep[0] >= 0)
		close(ep[0]);
	free(p);
	return rc;
}
