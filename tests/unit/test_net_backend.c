// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/net_tap.c, net_passt.c and net_backend.c against the real kernel
 * and the real passt.  Everything that needs privileges runs as root only,
 * and never in the host's network namespace: main() leaves it before the
 * first test and every such test starts in a fresh one of its own (the
 * others skip when not root).
 *
 * The same binary is also a fake passt: run under the name "passt" (a
 * symlink on a PATH the test sets), it speaks passt's framing on its -F
 * socket, answers ARP, echoes frames and obeys command frames (EtherType
 * 0x88b5) that make it write raw bytes, so that the back end's reassembly
 * of frames arriving in pieces can be driven byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>

#include "virtio/net.h"

#define FAKE_CMD  0x88b5 /* to the fake passt: a command */
#define FAKE_INFO 0x88b6 /* from it: what it saw of its start */

static const uint8_t guest_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static bool in_netns;      /* main() left the host's network namespace */
static char self_exe[PATH_MAX];

/* ---- helpers ---------------------------------------------------------------------- */

/* A fresh network namespace for this test, with lo up; skips unless main() could leave the host's. */
static void fresh_netns(void)
{
	if (!in_netns)
		skip();
	assert_int_equal(unshare(CLONE_NEWNET), 0);
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = { .ifr_name = "lo" };
	assert_int_equal(ioctl(s, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	assert_int_equal(ioctl(s, SIOCSIFFLAGS, &ifr), 0);
	close(s);
}

/* Runs an ip(8) command line (inside the test's namespace only). */
static void sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int rc = system(cmd);
	if (rc != 0)
		fail_msg("`%s` failed (%d)", cmd, rc);
}

static uint32_t ip4(const char *text)
{
	struct in_addr a;
	assert_int_equal(inet_pton(AF_INET, text, &a), 1);
	return a.s_addr;
}

static int if_ioctl(const char *name, unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	memset(ifr, 0, sizeof(*ifr));
	snprintf(ifr->ifr_name, sizeof(ifr->ifr_name), "%s", name);
	int rc = ioctl(s, req, ifr);
	close(s);
	return rc;
}

static uint32_t if_addr(const char *name, unsigned long req)
{
	struct ifreq ifr;
	assert_int_equal(if_ioctl(name, req, &ifr), 0);
	return ((struct sockaddr_in *)&ifr.ifr_addr)->sin_addr.s_addr;
}

/* The error is one line that starts with the --net option. */
static void assert_one_line(const struct ember_err *err, const char *start)
{
	if (strncmp(err->msg, start, strlen(start)))
		fail_msg("message \"%s\" does not start with \"%s\"", err->msg, start);
	assert_null(strchr(err->msg, '\n'));
}

static void assert_msg(const struct ember_err *err, const char *want)
{
	if (strcmp(err->msg, want))
		fail_msg("message \"%s\"\n   wanted \"%s\"", err->msg, want);
}

static struct ember_net net_of(enum ember_net_kind kind, const char *ifname)
{
	struct ember_net net = { .kind = kind, .ifname = ifname };
	memcpy(net.mac, guest_mac, 6);
	return net;
}

/* Makes a persistent tap (as `ip tuntap add` does), owned by uid unless -1. */
static void make_persistent_tap(const char *name, long owner)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	if (owner >= 0)
		assert_int_equal(ioctl(fd, TUNSETOWNER, owner), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 1), 0);
	close(fd);
}

static void remove_persistent_tap(const char *name)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(ioctl(fd, TUNSETPERSIST, 0), 0);
	close(fd);
	assert_int_equal(if_nametoindex(name), 0);
}

/* Waits until the interface is gone (closing a tap's last fd unregisters it). */
static bool if_gone(const char *name)
{
	for (int i = 0; i < 200; i++) {
		if (if_nametoindex(name) == 0)
			return true;
		usleep(5000);
	}
	return false;
}

/*
 * Waits until the interface runs: a tap gets its carrier when ember
 * attaches, but the kernel's link watch (which may wait up to a second)
 * only then gives it a real queue; until it does, the host's frames to it
 * are dropped.
 */
static bool if_running(const char *name)
{
	struct ifreq ifr;
	for (int i = 0; i < 300; i++) {
		assert_int_equal(if_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
		if (ifr.ifr_flags & IFF_RUNNING)
			return true;
		usleep(10000);
	}
	return false;
}

/* Ethernet + IPv4 + UDP (checksum 0: none, allowed for IPv4). */
static size_t udp_frame(uint8_t *f, const uint8_t dst_mac[6], const uint8_t src_mac[6], uint32_t src,
			uint32_t dst, uint16_t sport, uint16_t dport, const char *payload)
{
	size_t plen = strlen(payload), ulen = 8 + plen, tlen = 20 + ulen;
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[13] = 0x00;
	uint8_t *ip = f + 14;
	memset(ip, 0, 20);
	ip[0] = 0x45;
	ip[2] = (uint8_t)(tlen >> 8);
	ip[3] = (uint8_t)tlen;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	ip[10] = (uint8_t)(~sum >> 8);
	ip[11] = (uint8_t)~sum;
	uint8_t *u = ip + 20;
	u[0] = (uint8_t)(sport >> 8);
	u[1] = (uint8_t)sport;
	u[2] = (uint8_t)(dport >> 8);
	u[3] = (uint8_t)dport;
	u[4] = (uint8_t)(ulen >> 8);
	u[5] = (uint8_t)ulen;
	u[6] = u[7] = 0;
	memcpy(u + 8, payload, plen);
	return 14 + tlen;
}

static size_t arp_request(uint8_t *f, const uint8_t mac[6], uint32_t sender, uint32_t target)
{
	static const uint8_t head[] = { 0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4, 0, 1 };
	memset(f, 0xff, 6);
	memcpy(f + 6, mac, 6);
	memcpy(f + 12, head, sizeof(head));
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, &sender, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, &target, 4);
	return 42;
}

static int send_frame(struct net_backend *be, const uint8_t *frame, size_t len)
{
	uint8_t hdr[VIRTIO_NET_HDR_SIZE] = { 0 };
	struct iovec iov[2] = { { hdr, sizeof(hdr) }, { (void *)frame, len } };
	return be->ops->send(be, iov, 2);
}

typedef bool (*frame_match)(const uint8_t *f, size_t len, const void *arg);

/* recv() until a frame matches (others are skipped): its length with the header, or -1 after ms. */
static ssize_t recv_matching(struct net_backend *be, uint8_t *buf, frame_match match, const void *arg,
			    int ms)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		ssize_t n;
		while ((n = be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF)) > 0)
			if (match(buf + VIRTIO_NET_HDR_SIZE, (size_t)n - VIRTIO_NET_HDR_SIZE, arg))
				return n;
		assert_int_equal(n, -EAGAIN);
		struct pollfd pfd = { .fd = be->fd, .events = POLLIN };
		poll(&pfd, 1, 10);
	}
	return -1;
}

/* A UDP datagram to port *(uint16_t *)arg whose payload follows. */
static bool is_udp_to(const uint8_t *f, size_t len, const void *arg)
{
	uint16_t port = *(const uint16_t *)arg;
	return len >= 42 && f[12] == 0x08 && f[13] == 0x00 && f[23] == IPPROTO_UDP &&
	       (f[36] << 8 | f[37]) == port;
}

static bool is_arp_reply(const uint8_t *f, size_t len, const void *arg)
{
	return len >= 42 && f[12] == 0x08 && f[13] == 0x06 && f[21] == 2 && !memcmp(f + 28, arg, 4);
}

static int udp_socket(uint32_t addr, uint16_t port)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = addr };
	assert_true(s >= 0);
	assert_int_equal(bind(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return s;
}

static ssize_t udp_recv(int s, char *buf, size_t size, struct sockaddr_in *from, int ms)
{
	struct pollfd pfd = { .fd = s, .events = POLLIN };
	socklen_t fl = sizeof(*from);
	if (poll(&pfd, 1, ms) != 1)
		return -1;
	ssize_t n = recvfrom(s, buf, size - 1, 0, (struct sockaddr *)from, &fl);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/* The source address the kernel picks for dst: proves the route the back end's address brought. */
static uint32_t route_source(uint32_t dst)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = dst };
	socklen_t l = sizeof(sa);
	assert_int_equal(connect(s, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(s, (struct sockaddr *)&sa, &l), 0);
	close(s);
	return sa.sin_addr.s_addr;
}

/*
 * Runs fn in a child without CAP_NET_ADMIN (still uid 0, so /dev/net/tun
 * opens): returns the error message fn's back end gave.
 */
static void open_without_cap_net_admin(const struct ember_net *net, struct ember_err *err)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct ember_err e = { "" };
		struct net_backend *be;
		capng_get_caps_process();
		capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN);
		if (capng_apply(CAPNG_SELECT_CAPS) < 0)
			_exit(2);
		int rc = net_backend_open(net, 0, &be, &e);
		if (write(p[1], e.msg, strlen(e.msg)) < 0)
			_exit(3);
		_exit(rc == -EPERM ? 0 : 1);
	}
	close(p[1]);
	ssize_t n = read(p[0], err->msg, sizeof(err->msg) - 1);
	err->msg[n > 0 ? n : 0] = '\0';
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* ---- the kernel command line ----------------------------------------------------------- */

static void cmdline_per_kind(void **state)
{
	(void)state;
	char buf[128] = "x";
	struct ember_net tap = net_of(EMBER_NET_TAP, "tap0"), br = net_of(EMBER_NET_BRIDGE, "br0");
	struct ember_net user = net_of(EMBER_NET_USER, NULL), autonet = net_of(EMBER_NET_AUTO, NULL);

	assert_int_equal(net_backend_guest_cmdline(&tap, NULL, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(net_backend_guest_cmdline(&br, NULL, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(net_backend_guest_cmdline(&user, NULL, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ip=10.0.2.15::10.0.2.2:255.255.255.0::eth1:off:10.0.2.3");
	/* auto's addresses come from the tap it made (see auto_makes_tap). */
	assert_int_equal(net_backend_guest_cmdline(&autonet, NULL, 0, buf, sizeof(buf)), -EINVAL);
	assert_int_equal(net_backend_guest_cmdline(&user, NULL, 0, buf, 20), -ENOSPC);
	assert_string_equal(buf, "");
}

/* ---- tap=NAME ----------------------------------------------------------------------- */

static void tap_missing(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be = (void *)1;
	char want[200];

	if (in_netns)
		fresh_netns();
	struct ember_net net = net_of(EMBER_NET_TAP, "nosuchtap0");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -ENODEV);
	assert_null(be);
	snprintf(want, sizeof(want), "--net tap=nosuchtap0: no such interface (root makes it with: "
		 "ip tuntap add nosuchtap0 mode tap user %u)", (unsigned)geteuid());
	assert_msg(&err, want);

	net.ifname = "a-name-too-long-for-linux";
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_one_line(&err, "--net tap=a-name-too-long-for-linux: not an interface name");
}

static void tap_wrong_kind_of_interface(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;

	fresh_netns();
	sh("ip link add v0 type veth peer name v1");
	struct ember_net net = net_of(EMBER_NET_TAP, "v0");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_one_line(&err, "--net tap=v0: not a (single-queue) tap (root makes one with: ip tuntap add v0 mode tap");
}

static void tap_of_another_user(void **state)
{
	(void)state;
	struct ember_err err = { "" };

	fresh_netns();
	make_persistent_tap("other0", 12345);
	struct ember_net net = net_of(EMBER_NET_TAP, "other0");
	open_without_cap_net_admin(&net, &err);
	assert_msg(&err, "--net tap=other0: the tap belongs to another user (root makes one for this user "
		   "with: ip tuntap add other0 mode tap user 0)");
	remove_persistent_tap("other0");
}

static bool is_pong(const uint8_t *f, size_t len, const void *arg)
{
	return is_udp_to(f, len, arg) && len >= 46 && !memcmp(f + 42, "pong", 4);
}

/*
 * A tap the test made (persistent, addressed, up): a frame sent through
 * the back end reaches a UDP socket of the host, and a datagram the host
 * sends to the guest's address comes out of recv() as a frame.
 */
static void tap_attached_moves_frames(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be, *again;
	uint8_t frame[128], tap_mac[6];
	uint8_t *buf = malloc(VIRTIO_NET_MAX_BUF);
	struct ifreq ifr;
	char text[64];
	struct sockaddr_in from;

	fresh_netns();
	make_persistent_tap("t0", -1);
	sh("ip addr add 10.99.0.1/24 dev t0 && ip link set t0 up");
	/* No guest answers ARP: the host learns the guest's MAC from a static entry. */
	sh("ip neigh add 10.99.0.2 lladdr 52:54:00:12:34:56 dev t0 nud permanent");

	struct ember_net net = net_of(EMBER_NET_TAP, "t0");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	assert_string_equal(be->what, "tap t0");
	assert_true(be->offloads);
	assert_true(be->fd >= 0);
	assert_true(fcntl(be->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(be->fd, F_GETFD) & FD_CLOEXEC);
	/* One program per (single-queue) tap. */
	assert_int_equal(net_backend_open(&net, 0, &again, &err), -EBUSY);
	assert_msg(&err, "--net tap=t0: the tap is in use by another program");

	assert_int_equal(if_ioctl("t0", SIOCGIFHWADDR, &ifr), 0);
	memcpy(tap_mac, ifr.ifr_hwaddr.sa_data, 6);

	/* Guest to host. */
	int s = udp_socket(ip4("10.99.0.1"), 5000);
	size_t len = udp_frame(frame, tap_mac, guest_mac, ip4("10.99.0.2"), ip4("10.99.0.1"), 4000, 5000, "ping");
	assert_int_equal(send_frame(be, frame, len), 0);
	assert_int_equal(udp_recv(s, text, sizeof(text), &from, 2000), 4);
	assert_string_equal(text, "ping");
	assert_int_equal(from.sin_addr.s_addr, ip4("10.99.0.2"));
	assert_int_equal(ntohs(from.sin_port), 4000);

	/* Host to guest: the header says nothing until the guest accepts offloads. */
	uint16_t port = 4000;
	assert_true(if_running("t0"));
	assert_int_equal(sendto(s, "pong", 4, 0, (struct sockaddr *)&from, sizeof(from)), 4);
	ssize_t n = recv_matching(be, buf, is_pong, &port, 2000);
	assert_int_equal(n, VIRTIO_NET_HDR_SIZE + 14 + 20 + 8 + 4);
	struct virtio_net_hdr_v1 h;
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_NONE);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, guest_mac, 6);

	/* With checksum offload accepted, the host leaves the UDP checksum to the guest's side. */
	assert_int_equal(be->ops->set_offload(be, NET_OFFLOAD_CSUM), 0);
	assert_int_equal(sendto(s, "pong", 4, 0, (struct sockaddr *)&from, sizeof(from)), 4);
	n = recv_matching(be, buf, is_pong, &port, 2000);
	assert_true(n > 0);
	memcpy(&h, buf, sizeof(h));
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(h.csum_start, 14 + 20);
	assert_int_equal(h.csum_offset, 6);
	assert_int_equal(be->ops->set_offload(be, 0), 0);

	close(s);
	be->ops->close(be);
	/* The user's tap outlives ember. */
	assert_true(if_nametoindex("t0") != 0);
	remove_persistent_tap("t0");
	free(buf);
}

/* ---- auto ------------------------------------------------------------------------------ */

static void assert_auto_tap(const char *name, const char *host, const char *mask, const uint8_t mac[6])
{
	struct ifreq ifr;

	assert_int_equal(if_addr(name, SIOCGIFADDR), ip4(host));
	assert_int_equal(if_addr(name, SIOCGIFNETMASK), ip4(mask));
	assert_int_equal(if_ioctl(name, SIOCGIFHWADDR, &ifr), 0);
	assert_memory_equal(ifr.ifr_hwaddr.sa_data, mac, 6);
	assert_int_equal(if_ioctl(name, SIOCGIFFLAGS, &ifr), 0);
	assert_true(ifr.ifr_flags & IFF_UP);
	assert_true(if_running(name));
}

static void auto_makes_tap(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be, *be1;
	char buf[128];
	/* 52:54:00:12:34:56 -> last byte ^ 1, locally administered (0x52 has the bit already). */
	static const uint8_t host_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

	fresh_netns();
	struct ember_net net = net_of(EMBER_NET_AUTO, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	assert_string_equal(be->what, "tap ember0");
	assert_true(be->offloads);
	assert_auto_tap("ember0", "172.30.0.1", "255.255.255.0", host_mac);
	/* The address brought the connected route: the host reaches the guest through the tap. */
	assert_int_equal(route_source(ip4("172.30.0.2")), ip4("172.30.0.1"));
	assert_int_equal(net_backend_guest_cmdline(&net, be, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ip=172.30.0.2::172.30.0.1:255.255.255.0::eth0:off");

	/* A second VM's tap gets the next number and subnet. */
	assert_int_equal(net_backend_open(&net, 1, &be1, &err), 0);
	assert_string_equal(be1->what, "tap ember1");
	assert_auto_tap("ember1", "172.30.1.1", "255.255.255.0", host_mac);
	assert_int_equal(net_backend_guest_cmdline(&net, be1, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ip=172.30.1.2::172.30.1.1:255.255.255.0::eth1:off");

	/* Not persistent: closing the back end removes the tap, its address and route. */
	be->ops->close(be);
	assert_true(if_gone("ember0"));
	be1->ops->close(be1);
	assert_true(if_gone("ember1"));
}

static void auto_given_addresses(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	char buf[128];
	static const uint8_t mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x10 };
	static const uint8_t host_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x11 };

	fresh_netns();
	struct ember_net net = net_of(EMBER_NET_AUTO, NULL);
	memcpy(net.mac, mac, 6);
	net.host_ip = ip4("10.77.0.1");
	net.prefix = 28;
	net.guest_ip = ip4("10.77.0.5");
	assert_int_equal(net_backend_open(&net, 2, &be, &err), 0);
	assert_auto_tap("ember0", "10.77.0.1", "255.255.255.240", host_mac);
	assert_int_equal(net_backend_guest_cmdline(&net, be, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ip=10.77.0.5::10.77.0.1:255.255.255.240::eth2:off");
	be->ops->close(be);
	assert_true(if_gone("ember0"));

	/* host= alone: the guest takes the next address. */
	net.guest_ip = 0;
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	assert_int_equal(net_backend_guest_cmdline(&net, be, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ip=10.77.0.2::10.77.0.1:255.255.255.240::eth0:off");
	be->ops->close(be);
	assert_true(if_gone("ember0"));

	/* Addresses that cannot work: one line each, and no tap left behind. */
	net.guest_ip = ip4("10.78.0.5");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_msg(&err, "--net auto: guest=10.78.0.5 is not a free address in host=10.77.0.1/28's subnet");
	net.guest_ip = ip4("10.77.0.1");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	net.guest_ip = 0;
	net.prefix = 31;
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_one_line(&err, "--net auto: host=10.77.0.1/31 leaves no address for the guest");
	net.host_ip = ip4("10.77.0.0");
	net.prefix = 24;
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_one_line(&err, "--net auto: host=10.77.0.0/24 is the subnet's own");
	assert_true(if_gone("ember0"));
}

static void auto_subnet_in_use(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;

	fresh_netns();
	sh("ip link add v0 type veth peer name v1 && ip addr add 172.30.0.9/16 dev v0");
	struct ember_net net = net_of(EMBER_NET_AUTO, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EADDRINUSE);
	assert_msg(&err, "--net auto: 172.30.0.0/24 is already in use (v0 has 172.30.0.9/16): choose another "
		   "subnet with --net auto,host=IP/PREFIX,guest=IP");
	assert_true(if_gone("ember0"));
}

static void auto_needs_cap_net_admin(void **state)
{
	(void)state;
	struct ember_err err = { "" };

	fresh_netns();
	struct ember_net net = net_of(EMBER_NET_AUTO, NULL);
	open_without_cap_net_admin(&net, &err);
	assert_msg(&err, "--net auto: creating a tap needs CAP_NET_ADMIN (run as root, or use --net tap=NAME "
		   "with a tap made by root, or --net user)");
	assert_int_equal(if_nametoindex("ember0"), 0);
}

/* ---- bridge=BR --------------------------------------------------------------------------- */

static void bridge_errors(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;

	fresh_netns();
	struct ember_net net = net_of(EMBER_NET_BRIDGE, "nobr0");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -ENODEV);
	assert_msg(&err, "--net bridge=nobr0: no such interface (root makes a bridge with: ip link add nobr0 "
		   "type bridge)");
	sh("ip link add v0 type veth peer name v1");
	net.ifname = "v0";
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_msg(&err, "--net bridge=v0: v0 is not a bridge (it is veth)");
	net.ifname = "lo";
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EINVAL);
	assert_msg(&err, "--net bridge=lo: lo is not a bridge (it is a plain interface)");
	/* No tap was made for a bridge that is not there. */
	assert_int_equal(if_nametoindex("ember0"), 0);
}

static void bridge_enslaves_tap(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	struct nl_sock *sk = nl_socket_alloc();
	struct rtnl_link *link;
	static const uint8_t port_mac[6] = { 0xfe, 0x54, 0x00, 0x12, 0x34, 0x56 };
	char buf[64] = "x";

	fresh_netns();
	sh("ip link add br0 type bridge && ip link set br0 up");
	struct ember_net net = net_of(EMBER_NET_BRIDGE, "br0");
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	assert_string_equal(be->what, "bridge br0 via tap ember0");
	assert_true(be->offloads);

	assert_int_equal(nl_connect(sk, NETLINK_ROUTE), 0);
	assert_int_equal(rtnl_link_get_kernel(sk, 0, "ember0", &link), 0);
	assert_int_equal(rtnl_link_get_master(link), (int)if_nametoindex("br0"));
	assert_true(rtnl_link_get_flags(link) & IFF_UP);
	struct nl_addr *ll = rtnl_link_get_addr(link);
	assert_int_equal(nl_addr_get_len(ll), 6);
	assert_memory_equal(nl_addr_get_binary_addr(ll), port_mac, 6);
	rtnl_link_put(link);
	nl_socket_free(sk);
	/* No address on a bridge port: the bridge's network decides. */
	struct ifreq ifr;
	assert_int_equal(if_ioctl("ember0", SIOCGIFADDR, &ifr), -1);
	assert_int_equal(net_backend_guest_cmdline(&net, be, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	be->ops->close(be);
	assert_true(if_gone("ember0"));
	assert_true(if_nametoindex("br0") != 0);
}

/* ---- user: the fake passt ------------------------------------------------------------------ */

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t r = write(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t r = read(fd, p, len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

static int fake_write_frame(int fd, const uint8_t *f, uint32_t len)
{
	uint32_t len_be = htonl(len);
	return write_all(fd, &len_be, 4) || write_all(fd, f, len) ? -1 : 0;
}

/* What the fake passt saw of its start: pdeathsig, fds open above 2, argv. */
static void fake_info(int fd, int argc, char **argv)
{
	static uint8_t f[2048];
	int sig = -1, n;
	memset(f, 0xff, 12);
	f[12] = FAKE_INFO >> 8;
	f[13] = FAKE_INFO & 0xff;
	prctl(PR_GET_PDEATHSIG, &sig);
	char *t = (char *)f + 14;
	size_t room = sizeof(f) - 14;
	n = snprintf(t, room, "pdeathsig=%d fds=", sig);
	for (int i = 3; i < 1024; i++)
		if (fcntl(i, F_GETFD) >= 0)
			n += snprintf(t + n, room - (size_t)n, "%d,", i);
	n += snprintf(t + n, room - (size_t)n, " argv=");
	for (int i = 0; i < argc; i++)
		n += snprintf(t + n, room - (size_t)n, "%s%s", i ? " " : "", argv[i]);
	fake_write_frame(fd, f, (uint32_t)(14 + n + 1));
}

/*
 * passt's part, played by this binary: frames in passt's framing on the
 * -F socket.  ARP requests get a reply from the target's address; command
 * frames (FAKE_CMD) say: 'R' write the rest raw, 'B' + length: a frame
 * header of that length and that many bytes, 'I' report fake_info, 'Q'
 * exit, 'S' sleep 300 ms, 'D'/'E' discard/echo from now on; any other
 * frame is echoed (or discarded).
 */
static int fake_passt(int argc, char **argv)
{
	static uint8_t f[VIRTIO_NET_MAX_FRAME + 64];
	bool discard = false;
	static const uint8_t mac[6] = { 0x9a, 0x55, 0x9a, 0x55, 0x9a, 0x55 };
	const char *mode = getenv("EMBER_FAKE_PASST");
	int fd = -1;

	for (int i = 1; i + 1 < argc; i++)
		if (!strcmp(argv[i], "-F"))
			fd = atoi(argv[i + 1]);
	if (mode && !strcmp(mode, "exit")) {
		fprintf(stderr, "fake passt: exits at once, as passt does on a bad option\n");
		return 3;
	}
	for (;;) {
		uint32_t len_be, len;
		if (read_all(fd, &len_be, 4) < 0)
			return 0; /* ember closed the socket: quit, as -F makes passt do */
		len = ntohl(len_be);
		if (len < 14 || len > sizeof(f) || read_all(fd, f, len) < 0)
			return 1;
		unsigned type = (unsigned)(f[12] << 8 | f[13]);
		if (type == 0x0806 && len >= 42 && f[21] == 1) {
			uint8_t r[42];
			memcpy(r, f + 6, 6);
			memcpy(r + 6, mac, 6);
			memcpy(r + 12, f + 12, 8);
			r[20] = 0;
			r[21] = 2;
			memcpy(r + 22, mac, 6);
			memcpy(r + 28, f + 38, 4);
			memcpy(r + 32, f + 22, 10);
			fake_write_frame(fd, r, 42);
		} else if (type == FAKE_CMD && len > 14) {
			uint8_t *c = f + 14;
			size_t clen = len - 15;
			if (c[0] == 'R') {
				write_all(fd, c + 1, clen);
			} else if (c[0] == 'B' && clen >= 4) {
				uint32_t big;
				memcpy(&big, c + 1, 4); /* network order already */
				write_all(fd, &big, 4);
				memset(f, 0xab, sizeof(f));
				for (uint32_t left = ntohl(big); left;) {
					uint32_t k = left < sizeof(f) ? left : (uint32_t)sizeof(f);
					write_all(fd, f, k);
					left -= k;
				}
			} else if (c[0] == 'I') {
				fake_info(fd, argc, argv);
			} else if (c[0] == 'Q') {
				return 0;
			} else if (c[0] == 'D' || c[0] == 'E') {
				discard = c[0] == 'D';
			} else if (c[0] == 'S') {
				usleep(300000);
			}
		} else if (!discard) {
			fake_write_frame(fd, f, len);
		}
	}
}

/* A directory with a "passt" that is this binary; PATH points to it. */
struct fake_path {
	char dir[64];
	char passt[96];
	char *old_path;
};

static void fake_path_set(struct fake_path *fp, bool executable_passt)
{
	snprintf(fp->dir, sizeof(fp->dir), "/tmp/ember-test-net-XXXXXX");
	assert_non_null(mkdtemp(fp->dir));
	snprintf(fp->passt, sizeof(fp->passt), "%s/passt", fp->dir);
	if (executable_passt) {
		assert_int_equal(symlink(self_exe, fp->passt), 0);
	} else {
		/* Executable, but not a program: execve says ENOEXEC. */
		int fd = open(fp->passt, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "\x7f" "ELF-not-really", 15), 15);
		close(fd);
	}
	const char *old = getenv("PATH");
	fp->old_path = old ? strdup(old) : NULL;
	setenv("PATH", fp->dir, 1);
}

static void fake_path_clear(struct fake_path *fp)
{
	if (fp->old_path)
		setenv("PATH", fp->old_path, 1);
	else
		unsetenv("PATH");
	free(fp->old_path);
	unlink(fp->passt);
	rmdir(fp->dir);
	unsetenv("EMBER_FAKE_PASST");
}

static void user_passt_missing(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

	setenv("PATH", "/nonexistent-dir:/proc/self", 1);
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -ENOENT);
	assert_msg(&err, "--net user needs passt (Debian package passt): apt-get install passt");
	if (old)
		setenv("PATH", old, 1);
	free(old);
}

static void user_passt_cannot_run(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	struct fake_path fp;
	char want[200];

	fake_path_set(&fp, false);
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -ENOEXEC);
	snprintf(want, sizeof(want), "--net user: cannot run %s: %s", fp.passt, strerror(ENOEXEC));
	assert_msg(&err, want);
	fake_path_clear(&fp);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1); /* reaped: no zombie */
	assert_int_equal(errno, ECHILD);
}

static void user_passt_exits_at_once(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	struct fake_path fp;

	fake_path_set(&fp, true);
	setenv("EMBER_FAKE_PASST", "exit", 1);
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), -EPIPE);
	assert_one_line(&err, "--net user: passt exited at once with status 3");
	assert_non_null(strstr(err.msg, "(its own message is above)"));
	fake_path_clear(&fp);
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* send(), and while the back end says -EAGAIN, wait until its fd is writable and send again. */
static int send_waiting(struct net_backend *be, const uint8_t *frame, size_t len)
{
	int rc;
	for (int i = 0; i < 100 && (rc = send_frame(be, frame, len)) == -EAGAIN; i++) {
		struct pollfd pfd = { .fd = be->fd, .events = POLLOUT };
		poll(&pfd, 1, 100);
	}
	return rc;
}

static void fake_command(struct net_backend *be, char cmd, const void *data, size_t len)
{
	uint8_t f[256];
	assert_true(len + 15 <= sizeof(f));
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = FAKE_CMD >> 8;
	f[13] = FAKE_CMD & 0xff;
	f[14] = (uint8_t)cmd;
	if (len)
		memcpy(f + 15, data, len);
	assert_int_equal(send_waiting(be, f, 15 + len), 0);
}

/* Waits until bytes wait on the back end's fd (the fake wrote them in one go). */
static void wait_readable(struct net_backend *be)
{
	struct pollfd pfd = { .fd = be->fd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
}

static bool any_frame(const uint8_t *f, size_t len, const void *arg)
{
	(void)f, (void)len, (void)arg;
	return true;
}

static bool is_info(const uint8_t *f, size_t len, const void *arg)
{
	(void)arg;
	return len > 14 && f[12] == FAKE_INFO >> 8 && f[13] == (FAKE_INFO & 0xff);
}

/*
 * The framing, driven through the fake: the header goes, the length comes
 * first in network order; frames arriving in any pieces come out whole;
 * frames too big or too small are skipped; EOF is -EPIPE.
 */
static void user_framing(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	struct fake_path fp;
	uint8_t *buf = malloc(VIRTIO_NET_MAX_BUF);
	uint8_t frame[300], raw[400];

	fake_path_set(&fp, true);
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	int pid = 0;
	assert_int_equal(sscanf(be->what, "passt (pid %d)", &pid), 1);
	assert_false(be->offloads);
	assert_true(fcntl(be->fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(be->fd, F_GETFD) & FD_CLOEXEC);
	/* open() ate the ARP reply to its probe: nothing waits for the guest. */
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), -EAGAIN);

	/* What passt was started with: the socket as fd 3 and nothing else, death signal, options. */
	fake_command(be, 'I', NULL, 0);
	ssize_t n = recv_matching(be, buf, is_info, NULL, 2000);
	assert_true(n > 0);
	const char *info = (const char *)buf + VIRTIO_NET_HDR_SIZE + 14;
	if (!strstr(info, "pdeathsig=9 fds=3, argv=passt -f -q -F 3 -a 10.0.2.15 -n 24 -g 10.0.2.2 "
			  "--dns-forward 10.0.2.3"))
		fail_msg("passt started as: %s", info);

	/* Out: the header spread over three iovecs is dropped; back comes the same frame. */
	for (size_t i = 0; i < sizeof(frame); i++)
		frame[i] = (uint8_t)(i * 7);
	memcpy(frame, guest_mac, 6);
	frame[12] = 0x08, frame[13] = 0x00;
	uint8_t hdr[VIRTIO_NET_HDR_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	struct iovec iov[3] = { { hdr, 5 }, { hdr + 5, 7 }, { frame, sizeof(frame) } };
	assert_int_equal(be->ops->send(be, iov, 3), 0);
	n = recv_matching(be, buf, any_frame, NULL, 2000);
	assert_int_equal(n, VIRTIO_NET_HDR_SIZE + (ssize_t)sizeof(frame));
	static const uint8_t zero[VIRTIO_NET_HDR_SIZE];
	assert_memory_equal(buf, zero, VIRTIO_NET_HDR_SIZE);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, frame, sizeof(frame));

	/* A runt and a header-only send are refused, not sent. */
	struct iovec runt[2] = { { hdr, sizeof(hdr) }, { frame, 10 } };
	assert_int_equal(be->ops->send(be, runt, 2), -EMSGSIZE);
	assert_int_equal(be->ops->send(be, runt, 1), -EMSGSIZE);

	/* In: a frame in three pieces (2 bytes of length, 2 + 50, the rest and a whole second frame). */
	uint32_t len_be = htonl(100);
	memcpy(raw, &len_be, 4);
	memcpy(raw + 4, frame, 100);
	memcpy(raw + 104, &len_be, 4);
	memcpy(raw + 108, frame + 100, 100);
	fake_command(be, 'R', raw, 2);
	wait_readable(be);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), -EAGAIN);
	fake_command(be, 'R', raw + 2, 52);
	wait_readable(be);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), -EAGAIN);
	fake_command(be, 'R', raw + 54, 154);
	wait_readable(be);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), VIRTIO_NET_HDR_SIZE + 100);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, frame, 100);
	/* The second frame waited in the socket, not in the back end: poll sees it. */
	wait_readable(be);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), VIRTIO_NET_HDR_SIZE + 100);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, frame + 100, 100);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), -EAGAIN);

	/* Too big for any guest buffer: its bytes are skipped and the next frame is fine. */
	uint32_t big = htonl(VIRTIO_NET_MAX_FRAME + 1000);
	fake_command(be, 'B', &big, 4);
	uint32_t runt_len = htonl(3);
	memcpy(raw, &runt_len, 4);
	memcpy(raw + 4, "abc", 3);
	memcpy(raw + 7, &len_be, 4);
	memcpy(raw + 11, frame + 50, 100);
	fake_command(be, 'R', raw, 111);
	n = recv_matching(be, buf, any_frame, NULL, 2000);
	assert_int_equal(n, VIRTIO_NET_HDR_SIZE + 100);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, frame + 50, 100);

	/* The largest frame passes. */
	uint32_t max = htonl(VIRTIO_NET_MAX_FRAME);
	fake_command(be, 'B', &max, 4);
	n = recv_matching(be, buf, any_frame, NULL, 2000);
	assert_int_equal(n, VIRTIO_NET_MAX_BUF);

	/* passt gone: -EPIPE; close() still reaps it. */
	fake_command(be, 'Q', NULL, 0);
	wait_readable(be);
	assert_int_equal(be->ops->recv(be, buf, VIRTIO_NET_MAX_BUF), -EPIPE);
	be->ops->close(be);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	fake_path_clear(&fp);
	free(buf);
}

static bool is_big(const uint8_t *f, size_t len, const void *arg)
{
	return len == 60000 && !memcmp(f, arg, len);
}

/*
 * passt busy: sends say -EAGAIN with nothing written once the socket is
 * full; a big frame goes out whole when there is room again, in parts
 * (the socket buffer is made small for that), and arrives intact.
 */
static void user_backpressure(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	struct fake_path fp;
	uint8_t *big = malloc(60000), *buf = malloc(VIRTIO_NET_MAX_BUF);
	uint8_t frame[1000] = { 0 };
	int rc, sent = 0;

	fake_path_set(&fp, true);
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	memcpy(frame, guest_mac, 6);
	frame[12] = 0x08;
	for (size_t i = 0; i < 60000; i++)
		big[i] = (uint8_t)(i * 13 + i / 251);
	memcpy(big, frame, 14);

	int sndbuf = 4096;
	assert_int_equal(setsockopt(be->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)), 0);
	fake_command(be, 'D', NULL, 0);
	fake_command(be, 'S', NULL, 0); /* and the fake reads nothing for a while */
	while ((rc = send_frame(be, frame, sizeof(frame))) == 0 && sent < 100000)
		sent++;
	assert_int_equal(rc, -EAGAIN);
	assert_true(sent > 0);
	fake_command(be, 'E', NULL, 0);
	for (int i = 0; i < 1000 && (rc = send_frame(be, big, 60000)) == -EAGAIN; i++)
		usleep(1000);
	assert_int_equal(rc, 0);
	assert_int_equal(recv_matching(be, buf, is_big, big, 3000), VIRTIO_NET_HDR_SIZE + 60000);

	be->ops->close(be);
	fake_path_clear(&fp);
	free(big);
	free(buf);
}

/* ---- user: the real passt ---------------------------------------------------------------- */

/* passt needs a host interface with an address and a default route: a veth pair stands in. */
static void passt_netns(void)
{
	fresh_netns();
	if (access("/usr/bin/passt", X_OK) != 0)
		skip();
	sh("ip link add v0 type veth peer name v1 && ip addr add 192.0.2.10/24 dev v0 && "
	   "ip link set v0 up && ip link set v1 up && ip route add default via 192.0.2.1");
}

static bool is_back(const uint8_t *f, size_t len, const void *arg)
{
	return is_udp_to(f, len, arg) && len >= 46 && !memcmp(f + 42, "back", 4);
}

static void user_passt_round_trip(void **state)
{
	(void)state;
	struct ember_err err = { "" };
	struct net_backend *be;
	uint8_t frame[128];
	uint8_t *buf = malloc(VIRTIO_NET_MAX_BUF);
	uint32_t gw = ip4("10.0.2.2"), guest = ip4("10.0.2.15");
	char text[64];
	struct sockaddr_in from;

	passt_netns();
	struct ember_net net = net_of(EMBER_NET_USER, NULL);
	assert_int_equal(net_backend_open(&net, 0, &be, &err), 0);
	int pid = 0;
	assert_int_equal(sscanf(be->what, "passt (pid %d)", &pid), 1);

	/* ARP for the gateway: passt answers from it. */
	assert_int_equal(send_frame(be, frame, arp_request(frame, guest_mac, guest, gw)), 0);
	ssize_t n = recv_matching(be, buf, is_arp_reply, &gw, 2000);
	assert_true(n >= VIRTIO_NET_HDR_SIZE + 42);
	uint8_t passt_mac[6];
	memcpy(passt_mac, buf + VIRTIO_NET_HDR_SIZE + 22, 6);
	assert_memory_equal(buf + VIRTIO_NET_HDR_SIZE, guest_mac, 6);

	/* UDP to the gateway reaches the host's loopback, and the answer comes back from the gateway. */
	int s = udp_socket(ip4("127.0.0.1"), 5555);
	size_t len = udp_frame(frame, passt_mac, guest_mac, guest, gw, 40000, 5555, "hello");
	assert_int_equal(send_frame(be, frame, len), 0);
	assert_int_equal(udp_recv(s, text, sizeof(text), &from, 2000), 5);
	assert_string_equal(text, "hello");
	assert_int_equal(sendto(s, "back", 4, 0, (struct sockaddr *)&from, sizeof(from)), 4);
	uint16_t port = 40000;
	n = recv_matching(be, buf, is_back, &port, 2000);
	assert_true(n > 0);
	const uint8_t *f = buf + VIRTIO_NET_HDR_SIZE;
	assert_memory_equal(f, guest_mac, 6);
	assert_memory_equal(f + 14 + 12, &gw, 4);    /* from the gateway */
	assert_memory_equal(f + 14 + 16, &guest, 4); /* to the guest */
	assert_int_equal(f[34] << 8 | f[35], 5555);
	static const uint8_t zero[VIRTIO_NET_HDR_SIZE];
	assert_memory_equal(buf, zero, VIRTIO_NET_HDR_SIZE);
	close(s);

	/* close() ends passt and reaps it: no process, no zombie. */
	be->ops->close(be);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
	free(buf);
}

/* ember SIGKILLed: its socket closes, and passt (-F: one client only) quits. */
static void user_passt_dies_with_ember(void **state)
{
	(void)state;
	int p[2];

	passt_netns();
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0); /* orphaned passt comes to us */
	assert_int_equal(pipe(p), 0);
	pid_t ember = fork();
	assert_true(ember >= 0);
	if (ember == 0) {
		struct ember_err err;
		struct net_backend *be;
		struct ember_net net = net_of(EMBER_NET_USER, NULL);
		int pid = 0;
		if (net_backend_open(&net, 0, &be, &err) == 0)
			sscanf(be->what, "passt (pid %d)", &pid);
		if (write(p[1], &pid, sizeof(pid)) != sizeof(pid))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	int pid = 0;
	assert_int_equal(read(p[0], &pid, sizeof(pid)), sizeof(pid));
	close(p[0]);
	assert_true(pid > 0);
	assert_int_equal(kill(pid, 0), 0);
	assert_int_equal(kill(ember, SIGKILL), 0);
	assert_int_equal(waitpid(ember, NULL, 0), ember);
	bool gone = false;
	for (int i = 0; i < 300 && !gone; i++) {
		gone = waitpid(pid, NULL, WNOHANG) == pid;
		if (!gone)
			usleep(10000);
	}
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0), 0);
	if (!gone) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		fail_msg("passt outlived ember by 3 s");
	}
}

int main(int argc, char **argv)
{
	if (argc > 0 && !strcmp(argv[0], "passt"))
		return fake_passt(argc, argv);

	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	/* Out of the host's network namespace before anything else, or no privileged test runs. */
	in_netns = geteuid() == 0 && unshare(CLONE_NEWNET) == 0;

	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cmdline_per_kind),
		cmocka_unit_test(tap_missing),
		cmocka_unit_test(tap_wrong_kind_of_interface),
		cmocka_unit_test(tap_of_another_user),
		cmocka_unit_test(tap_attached_moves_frames),
		cmocka_unit_test(auto_makes_tap),
		cmocka_unit_test(auto_given_addresses),
		cmocka_unit_test(auto_subnet_in_use),
		cmocka_unit_test(auto_needs_cap_net_admin),
		cmocka_unit_test(bridge_errors),
		cmocka_unit_test(bridge_enslaves_tap),
		cmocka_unit_test(user_passt_missing),
		cmocka_unit_test(user_passt_cannot_run),
		cmocka_unit_test(user_passt_exits_at_once),
		cmocka_unit_test(user_framing),
		cmocka_unit_test(user_backpressure),
		cmocka_unit_test(user_passt_round_trip),
		cmocka_unit_test(user_passt_dies_with_ember),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
