// SPDX-License-Identifier: GPL-2.0-only
/*
 * The guest's end of tests/integration/vsock.sh: AF_VSOCK stream sockets
 * from inside an ember guest (built static on the host, shared in).
 *
 *   vsock_peer echo PORT          listen on VMADDR_CID_ANY:PORT, accept one
 *                                 connection, send back everything it reads;
 *                                 at its end of file shut the write side and
 *                                 close: "echo PORT: echoed N bytes"
 *   vsock_peer hello PORT         accept one connection, write a line, close
 *   vsock_peer send PORT NBYTES   connect to the host (CID 2) PORT, send NBYTES
 *                                 of pattern(), shut the write side, print
 *                                 what comes back until end of file
 *
 * A peer that goes away mid-stream is not an error here: the line says
 * "PORT: peer closed after N bytes (ERRNO)" and the exit status is 0; the
 * test decides whether that was expected.  Other failures exit non-zero.
 * pattern(i) is i % 251 (vsock.sh computes the same).  Nothing may hang the
 * guest: every mode ends after $PEER_TIMEOUT seconds (default 200).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/*
 * <linux/vm_sockets.h>, spelled out: musl-gcc has no kernel headers.
 * The layout is the kernel's ABI (struct sockaddr_vm).
 */
#ifndef AF_VSOCK
#define AF_VSOCK 40
#endif
#define CID_ANY  0xffffffffu
#define CID_HOST 2u
struct vsock_addr {
	sa_family_t family;
	unsigned short reserved1;
	unsigned int port;
	unsigned int cid;
	unsigned char flags;
	unsigned char zero[3];
};
_Static_assert(sizeof(struct vsock_addr) == 16, "struct sockaddr_vm is 16 bytes");

#define PATTERN_PERIOD 251
#define CHUNK (64 * 1024)

static char timeout_msg[64];

static void on_alarm(int sig)
{
	(void)sig;
	ssize_t n = write(1, timeout_msg, strlen(timeout_msg));
	(void)n;
	_exit(3);
}

static const char *errname(int e)
{
	switch (e) {
	case ECONNRESET: return "ECONNRESET";
	case ECONNREFUSED: return "ECONNREFUSED";
	case EPIPE: return "EPIPE";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ENOTCONN: return "ENOTCONN";
	case ENODEV: return "ENODEV";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EADDRINUSE: return "EADDRINUSE";
	case EINTR: return "EINTR";
	default: return strerror(e);
	}
}

/* The errors of a peer that closed or reset the connection. */
static int peer_gone(int e)
{
	return e == EPIPE || e == ECONNRESET || e == ENOTCONN;
}

static long long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static uint32_t parse_u32(const char *s, const char *what)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v > UINT32_MAX) {
		fprintf(stderr, "vsock_peer: bad %s '%s'\n", what, s);
		exit(2);
	}
	return (uint32_t)v;
}

/* Writes all of buf; 0, or the errno of the failed write. */
static int write_all(int fd, const char *buf, size_t len, unsigned long long *count)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		buf += n;
		len -= (size_t)n;
		*count += (unsigned long long)n;
	}
	return 0;
}

static int listen_accept(uint32_t port)
{
	struct vsock_addr a = { .family = AF_VSOCK, .port = port, .cid = CID_ANY };
	int ls = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(ls, 4) < 0) {
		printf("%u: listen failed: %s\n", port, errname(errno));
		exit(1);
	}
	int fd;
	do
		fd = accept(ls, NULL, NULL);
	while (fd < 0 && errno == EINTR);
	if (fd < 0) {
		printf("%u: accept failed: %s\n", port, errname(errno));
		exit(1);
	}
	close(ls);
	return fd;
}

static int do_echo(uint32_t port)
{
	static char buf[CHUNK];
	unsigned long long in = 0, out = 0;
	int fd = listen_accept(port);

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (!peer_gone(errno))
				goto failed;
			printf("echo %u: peer closed after %llu bytes (%s)\n", port, in, errname(errno));
			return 0;
		}
		if (n == 0)
			break;
		in += (unsigned long long)n;
		int e = write_all(fd, buf, (size_t)n, &out);
		if (e) {
			errno = e;
			if (!peer_gone(e))
				goto failed;
			printf("echo %u: peer closed after %llu bytes (%s)\n", port, in, errname(e));
			return 0;
		}
	}
	if (shutdown(fd, SHUT_WR) < 0)
		goto failed;
	close(fd);
	printf("echo %u: echoed %llu bytes\n", port, out);
	return 0;
failed:
	printf("echo %u: failed after %llu bytes: %s\n", port, in, errname(errno));
	return 1;
}

static int do_hello(uint32_t port)
{
	static const char msg[] = "hello from the guest\n";
	unsigned long long out = 0;
	int fd = listen_accept(port);
	int e = write_all(fd, msg, sizeof(msg) - 1, &out);
	if (e) {
		printf("hello %u: write failed: %s\n", port, errname(e));
		return 1;
	}
	close(fd);
	printf("hello %u: sent and closed\n", port);
	return 0;
}

static int do_send(uint32_t port, unsigned long long nbytes)
{
	static char pat[CHUNK + PATTERN_PERIOD];
	char reply[512];
	size_t got = 0;
	unsigned long long sent = 0;
	struct timespec t0;

	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (char)(i % PATTERN_PERIOD);
	struct vsock_addr a = { .family = AF_VSOCK, .port = port, .cid = CID_HOST };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);
	if (fd < 0) {
		printf("send %u: socket failed: %s\n", port, errname(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r;
	do
		r = connect(fd, (struct sockaddr *)&a, sizeof(a));
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		printf("send %u: connect failed: %s after %lld ms\n", port, errname(errno), ms_since(&t0));
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < nbytes) {
		size_t len = nbytes - sent < CHUNK ? (size_t)(nbytes - sent) : CHUNK;
		int e = write_all(fd, pat + sent % PATTERN_PERIOD, len, &sent);
		if (e) {
			if (!peer_gone(e)) {
				printf("send %u: failed after %llu bytes: %s\n", port, sent, errname(e));
				return 1;
			}
			printf("send %u: peer closed after %llu bytes (%s)\n", port, sent, errname(e));
			return 0;
		}
	}
	if (shutdown(fd, SHUT_WR) < 0) {
		printf("send %u: shutdown failed: %s\n", port, errname(errno));
		return 1;
	}
	printf("send %u: sent %llu bytes in %lld ms\n", port, sent, ms_since(&t0));
	for (;;) {
		ssize_t n = read(fd, reply + got, sizeof(reply) - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			printf("send %u: reading the reply failed: %s\n", port, errname(errno));
			return 1;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(reply) - 1)
			break;
	}
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	printf("send %u: reply %s\n", port, reply);
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	if (argc < 3 || (strcmp(argv[1], "send") == 0 && argc != 4)) {
		fprintf(stderr, "usage: vsock_peer echo|hello PORT | send PORT NBYTES\n");
		return 2;
	}
	uint32_t port = parse_u32(argv[2], "port");
	const char *t = getenv("PEER_TIMEOUT");
	snprintf(timeout_msg, sizeof(timeout_msg), "%s %u: timed out\n", argv[1], port);
	signal(SIGALRM, on_alarm);
	alarm(t ? parse_u32(t, "PEER_TIMEOUT") : 200);

	if (strcmp(argv[1], "echo") == 0)
		return do_echo(port);
	if (strcmp(argv[1], "hello") == 0)
		return do_hello(port);
	if (strcmp(argv[1], "send") == 0)
		return do_send(port, parse_u32(argv[3], "byte count"));
	fprintf(stderr, "vsock_peer: unknown mode '%s'\n", argv[1]);
	return 2;
}
