// SPDX-License-Identifier: GPL-2.0-only
/*
 * The tap back ends of virtio-net: --net tap=NAME attaches to a tap that
 * root made for this user; --net auto and --net bridge=BR make their own.
 *
 * Every tap is opened with IFF_VNET_HDR and a 12-byte header
 * (TUNSETVNETHDRSZ): the tap then reads and writes exactly the device's
 * struct virtio_net_hdr_v1 in front of each frame, so frames move with one
 * readv/writev and offloads pass through untouched (be->offloads).  The
 * tap takes partially checksummed and GSO frames from the guest as they
 * are; what it may hand to the guest the device says, once the driver
 * agreed, through set_offload (TUNSETOFFLOAD); until then nothing.
 *
 * The taps ember makes are not persistent (no TUNSETPERSIST): the kernel
 * removes one when its last fd closes, so it vanishes with ember on every
 * exit path, SIGKILL included, and a failed open leaves nothing behind.
 * Their set-up (an address, a MAC, a master, up) goes through rtnetlink
 * with libnl-route-3, never by running ip(8).  send and recv keep no
 * state: any thread may call them.
 */
#include "virtio/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/errno.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>

_Static_assert(NET_OFFLOAD_CSUM == TUN_F_CSUM, "NET_OFFLOAD_CSUM is TUN_F_CSUM");
_Static_assert(NET_OFFLOAD_TSO4 == TUN_F_TSO4, "NET_OFFLOAD_TSO4 is TUN_F_TSO4");
_Static_assert(NET_OFFLOAD_TSO6 == TUN_F_TSO6, "NET_OFFLOAD_TSO6 is TUN_F_TSO6");
_Static_assert(NET_OFFLOAD_ECN == TUN_F_TSO_ECN, "NET_OFFLOAD_ECN is TUN_F_TSO_ECN");
_Static_assert(sizeof(struct virtio_net_hdr_v1) == VIRTIO_NET_HDR_SIZE, "the tap's vnet header");

#define TAP_TEMPLATE "ember%d" /* the kernel picks the lowest free number */

struct net_tap {
	struct net_backend be;
	char ifname[IFNAMSIZ];
	bool has_ipv4;               /* auto: what the guest is told */
	struct net_ipv4 ipv4;
};

/* ---- frames ------------------------------------------------------------------ */

/* The tap takes header and frame in one write, exactly as the guest sent them. */
static int tap_send(struct net_backend *be, const struct iovec *iov, unsigned n)
{
	for (;;) {
		ssize_t r = writev(be->fd, iov, (int)n);
		if (r >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		/*
		 * EAGAIN: the tap's queue is full.  EIO: the link is down (an
		 * attached tap the user took down): the frame is lost, as on
		 * an unplugged wire.  EBADFD: the tap was deleted under us.
		 */
		return errno == EBADFD ? -EPIPE : -errno;
	}
}

static ssize_t tap_recv(struct net_backend *be, void *buf, size_t size)
{
	for (;;) {
		ssize_t r = read(be->fd, buf, size);
		if (r >= 0)
			return r;
		if (errno == EINTR)
			continue;
		return errno == EBADFD ? -EPIPE : -errno;
	}
}

static int tap_set_offload(struct net_backend *be, unsigned offloads)
{
	unsigned long bits = offloads & (TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN);

	return ioctl(be->fd, TUNSETOFFLOAD, bits) < 0 ? -errno : 0;
}

static void tap_close(struct net_backend *be)
{
	if (!be)
		return;
	if (be->fd >= 0)
		close(be->fd); /* ember's own tap goes with it */
	free(be->priv);
}

static const struct net_backend_ops tap_ops = {
	.send = tap_send,
	.recv = tap_recv,
	.set_offload = tap_set_offload,
	.close = tap_close,
};

/* ---- opening a tap --------------------------------------------------------------- */

/*
 * Opens /dev/net/tun and attaches to the tap `name` (or makes one from a
 * "%d" template), with the virtio header and no offloads yet.  Fills
 * ifname with the tap's name.  Returns the fd, or -errno of the step that
 * failed (*step names it).
 */
static int tap_open_fd(const char *name, char ifname[IFNAMSIZ], const char **step)
{
	struct ifreq ifr;
	unsigned features = 0;
	int hdr = VIRTIO_NET_HDR_SIZE;

	*step = "open /dev/net/tun";
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	*step = "TUNGETFEATURES";
	if (ioctl(fd, TUNGETFEATURES, &features) < 0)
		goto fail;
	if (!(features & IFF_VNET_HDR)) {
		close(fd);
		return -EOPNOTSUPP;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	*step = "TUNSETIFF";
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		goto fail;
	*step = "TUNSETVNETHDRSZ";
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr) < 0)
		goto fail;
	/* An attached tap keeps the offloads its last user set: none until the guest agrees. */
	*step = "TUNSETOFFLOAD";
	if (ioctl(fd, TUNSETOFFLOAD, 0UL) < 0)
		goto fail;
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;
fail:;
	int e = errno;
	close(fd);
	return -e;
}

/* ---- rtnetlink (libnl-route-3) ------------------------------------------------ */

/* libnl's own error numbers back to errno, for the -errno ember returns. */
static int nl_to_errno(int nlerr)
{
	switch (nlerr < 0 ? -nlerr : nlerr) {
	case NLE_PERM:          return EPERM;
	case NLE_EXIST:         return EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:         return ENODEV;
	case NLE_BUSY:          return EBUSY;
	case NLE_NOMEM:         return ENOMEM;
	case NLE_INVAL:         return EINVAL;
	case NLE_RANGE:         return ERANGE;
	case NLE_NOADDR:        return EADDRNOTAVAIL;
	case NLE_OPNOTSUPP:     return EOPNOTSUPP;
	case NLE_AF_NOSUPPORT:  return EAFNOSUPPORT;
	default:                return EIO;
	}
}

static struct nl_sock *tap_nl_open(int *nlerr)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk) {
		*nlerr = -NLE_NOMEM;
		return NULL;
	}
	*nlerr = nl_connect(sk, NETLINK_ROUTE);
	if (*nlerr < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/*
 * One RTM_NEWLINK for the tap: its MAC, its master (0: none) and IFF_UP.
 * The kernel sets the address and the master before the flags
 * (rtnetlink.c do_setlink), so the link comes up as it will stay.
 */
static int tap_nl_link_up(struct nl_sock *sk, struct rtnl_link *link, const uint8_t mac[6],
			  int master)
{
	struct rtnl_link *change = rtnl_link_alloc();
	struct nl_addr *lladdr = nl_addr_build(AF_LLC, mac, 6);
	int rc = -NLE_NOMEM;

	if (change && lladdr) {
		rtnl_link_set_addr(change, lladdr);
		if (master)
			rtnl_link_set_master(change, master);
		rtnl_link_set_flags(change, IFF_UP);
		rc = rtnl_link_change(sk, link, change, 0);
	}
	nl_addr_put(lladdr);
	rtnl_link_put(change);
	return rc;
}

static uint32_t prefix_mask(unsigned prefix)
{
	return prefix ? htonl(~0u << (32 - prefix)) : 0;
}

struct overlap {
	int ifindex;            /* the tap: its own addresses don't count */
	uint32_t net, mask;
	int found;              /* the interface whose address overlaps */
	char addr[INET_ADDRSTRLEN + 4];
};

static void tap_check_overlap(struct nl_object *obj, void *arg)
{
	struct rtnl_addr *a = (struct rtnl_addr *)obj;
	struct overlap *o = arg;
	struct nl_addr *local = rtnl_addr_get_local(a);

	if (o->found || rtnl_addr_get_family(a) != AF_INET || rtnl_addr_get_ifindex(a) == o->ifindex ||
	    !local || nl_addr_get_len(local) != 4)
		return;
	uint32_t ip;
	memcpy(&ip, nl_addr_get_binary_addr(local), 4);
	unsigned prefix = (unsigned)rtnl_addr_get_prefixlen(a);
	uint32_t mask = prefix_mask(prefix) & o->mask; /* the wider of the two nets */
	if ((ip & mask) != (o->net & mask))
		return;
	o->found = rtnl_addr_get_ifindex(a);
	char text[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &ip, text, sizeof(text));
	snprintf(o->addr, sizeof(o->addr), "%s/%u", text, prefix);
}

/*
 * The guest's subnet must be nobody else's on this host: a second
 * connected route for it would take traffic away from the other link
 * (a Docker network in 172.30.0.0/16, another VM's tap).  Returns 0, or
 * EADDRINUSE with the other link's name and address in `who`.
 */
static int tap_nl_subnet_free(struct nl_sock *sk, int ifindex, uint32_t net, unsigned prefix,
			      char *who, size_t who_size)
{
	struct nl_cache *cache;
	struct overlap o = { .ifindex = ifindex, .mask = prefix_mask(prefix) };
	int rc = rtnl_addr_alloc_cache(sk, &cache);

	if (rc < 0)
		return rc;
	o.net = net & o.mask;
	nl_cache_foreach(cache, tap_check_overlap, &o);
	nl_cache_free(cache);
	if (!o.found)
		return 0;
	char name[IF_NAMESIZE] = "?";
	if_indextoname((unsigned)o.found, name);
	snprintf(who, who_size, "%s has %s", name, o.addr);
	return -NLE_EXIST;
}

static int tap_nl_add_addr(struct nl_sock *sk, int ifindex, uint32_t ip, unsigned prefix)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET, &ip, 4);
	int rc = -NLE_NOMEM;

	if (addr && local) {
		nl_addr_set_prefixlen(local, (int)prefix);
		rtnl_addr_set_ifindex(addr, ifindex);
		rtnl_addr_set_local(addr, local);
		rtnl_addr_set_prefixlen(addr, (int)prefix);
		/* The connected route to prefix comes with the address: the host reaches the guest. */
		rc = rtnl_addr_add(sk, addr, NLM_F_EXCL);
	}
	nl_addr_put(local);
	rtnl_addr_put(addr);
	return rc;
}

/* ---- the three kinds --------------------------------------------------------- */

/* "--net tap=foo", "--net auto", "--net bridge=br0": how every message starts. */
static const char *net_what(const struct ember_net *net, char *buf, size_t size)
{
	switch (net->kind) {
	case EMBER_NET_TAP:    snprintf(buf, size, "--net tap=%s", net->ifname); break;
	case EMBER_NET_BRIDGE: snprintf(buf, size, "--net bridge=%s", net->ifname); break;
	default:               snprintf(buf, size, "--net auto"); break;
	}
	return buf;
}

static int tap_open_error(const struct ember_net *net, int rc, const char *step, struct ember_err *err)
{
	char opt[64];
	const char *o = net_what(net, opt, sizeof(opt));

	if (rc == -ENOENT && !strcmp(step, "open /dev/net/tun"))
		return ember_fail(err, ENOENT, "%s: /dev/net/tun is missing (load the tun module: modprobe tun)",
				  o);
	if (rc == -EOPNOTSUPP)
		return ember_fail(err, EOPNOTSUPP, "%s: this kernel's tun has no IFF_VNET_HDR", o);
	if (net->kind == EMBER_NET_TAP && (rc == -EACCES || rc == -EPERM) && !strcmp(step, "open /dev/net/tun"))
		return ember_fail(err, -rc, "%s: cannot open /dev/net/tun: %s (Debian's mode for it is 0666: "
				  "chmod 0666 /dev/net/tun)", o, strerror(-rc));
	if (net->kind == EMBER_NET_TAP) {
		unsigned uid = (unsigned)geteuid();
		if (rc == -EPERM || rc == -EACCES)
			return ember_fail(err, -rc, "%s: the tap belongs to another user (root makes one for "
					  "this user with: ip tuntap add %s mode tap user %u)",
					  o, net->ifname, uid);
		if (rc == -EBUSY)
			return ember_fail(err, EBUSY, "%s: the tap is in use by another program", o);
		if (rc == -EINVAL)
			return ember_fail(err, EINVAL, "%s: not a (single-queue) tap (root makes one with: "
					  "ip tuntap add %s mode tap user %u)", o, net->ifname, uid);
	} else if (rc == -EPERM || (rc == -EACCES && !strcmp(step, "open /dev/net/tun"))) {
		if (net->kind == EMBER_NET_AUTO)
			return ember_fail(err, EPERM, "%s: creating a tap needs CAP_NET_ADMIN (run as root, "
					  "or use --net tap=NAME with a tap made by root, or --net user)", o);
		return ember_fail(err, EPERM, "%s: creating a tap needs CAP_NET_ADMIN (run as root, or use "
				  "--net tap=NAME with a tap root made and put in %s, or --net user)",
				  o, net->ifname);
	}
	return ember_fail(err, -rc, "%s: %s: %s", o, step, strerror(-rc));
}

static int tap_nl_error(const struct ember_net *net, int nlerr, const char *what, struct ember_err *err)
{
	char opt[64];
	int e = nl_to_errno(nlerr);

	if (e == EPERM)
		return tap_open_error(net, -EPERM, what, err);
	return ember_fail(err, e, "%s: %s: %s", net_what(net, opt, sizeof(opt)), what, nl_geterror(nlerr));
}

static char *ipv4_text(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	inet_ntop(AF_INET, &ip, buf, INET_ADDRSTRLEN);
	return buf;
}

/*
 * auto: the host's and the guest's addresses, from host=/guest= or from
 * the tap's number.  Checks that they make sense together.
 */
static int tap_auto_addresses(const struct ember_net *net, const char *ifname, struct net_ipv4 *ip,
			      struct ember_err *err)
{
	char a[INET_ADDRSTRLEN], b[INET_ADDRSTRLEN];
	unsigned n = 0;

	memset(ip, 0, sizeof(*ip));
	if (!net->host_ip) {
		if (sscanf(ifname, "ember%u", &n) != 1)
			n = 0;
		ip->gateway = htonl(NET_AUTO_NET | (n % 256) << 8 | 1);
		ip->prefix = NET_AUTO_PREFIX;
	} else {
		ip->gateway = net->host_ip;
		ip->prefix = net->prefix ? net->prefix : NET_AUTO_PREFIX;
	}
	if (ip->prefix > 30)
		return ember_fail(err, EINVAL, "--net auto: host=%s/%u leaves no address for the guest "
				  "(the prefix is at most 30)", ipv4_text(ip->gateway, a), ip->prefix);
	uint32_t mask = prefix_mask(ip->prefix), host = ip->gateway;
	if ((host & ~mask) == 0 || (host & ~mask) == ~mask)
		return ember_fail(err, EINVAL, "--net auto: host=%s/%u is the subnet's own or broadcast "
				  "address", ipv4_text(host, a), ip->prefix);
	if (net->guest_ip) {
		ip->guest = net->guest_ip;
	} else {
		/* The next address, or the one before when the next is the broadcast address. */
		uint32_t next = htonl(ntohl(host) + 1);
		ip->guest = (next & ~mask) == ~mask ? htonl(ntohl(host) - 1) : next;
	}
	uint32_t g = ip->guest;
	if ((g & mask) != (host & mask) || (g & ~mask) == 0 || (g & ~mask) == ~mask || g == host)
		return ember_fail(err, EINVAL, "--net auto: guest=%s is not a free address in host=%s/%u's "
				  "subnet", ipv4_text(g, a), ipv4_text(host, b), ip->prefix);
	return 0;
}

/*
 * The host end's MAC, from the guest's: stable across runs, so a guest
 * restored from a snapshot, whose ARP cache still holds the host's MAC,
 * reaches the host without a new ARP round.  The last byte differs from
 * the guest's; the address is unicast and locally administered.
 */
static void tap_host_mac(const uint8_t guest[6], uint8_t mac[6])
{
	memcpy(mac, guest, 6);
	mac[5] ^= 0x01;
	mac[0] = (uint8_t)((mac[0] | 0x02) & ~0x01);
}

/*
 * A bridge port's MAC starts with 0xfe (as libvirt's taps): a bridge
 * without an address of its own takes the lowest of its ports', and a
 * VM's tap coming and going must not change the bridge's MAC.
 */
static void tap_bridge_mac(const uint8_t guest[6], uint8_t mac[6])
{
	memcpy(mac, guest, 6);
	mac[0] = 0xfe;
}

static int tap_setup_auto(struct net_tap *t, const struct ember_net *net, struct nl_sock *sk,
			  struct rtnl_link *link, struct ember_err *err)
{
	char a[INET_ADDRSTRLEN], who[64];
	uint8_t mac[6];
	int ifindex = rtnl_link_get_ifindex(link);
	int rc = tap_auto_addresses(net, t->ifname, &t->ipv4, err);

	if (rc < 0)
		return rc;
	rc = tap_nl_subnet_free(sk, ifindex, t->ipv4.gateway, t->ipv4.prefix, who, sizeof(who));
	if (rc == -NLE_EXIST)
		return ember_fail(err, EADDRINUSE, "--net auto: %s/%u is already in use (%s): choose another "
				  "subnet with --net auto,host=IP/PREFIX,guest=IP",
				  ipv4_text(t->ipv4.gateway & prefix_mask(t->ipv4.prefix), a), t->ipv4.prefix,
				  who);
	if (rc < 0)
		return tap_nl_error(net, rc, "reading the host's addresses", err);
	rc = tap_nl_add_addr(sk, ifindex, t->ipv4.gateway, t->ipv4.prefix);
	if (rc < 0)
		return tap_nl_error(net, rc, "adding the host's address", err);
	tap_host_mac(net->mac, mac);
	rc = tap_nl_link_up(sk, link, mac, 0);
	if (rc < 0)
		return tap_nl_error(net, rc, "bringing the tap up", err);
	t->has_ipv4 = true;
	return 0;
}

static int tap_setup_bridge(const struct ember_net *net, struct nl_sock *sk, struct rtnl_link *link,
			    int bridge, struct ember_err *err)
{
	uint8_t mac[6];

	tap_bridge_mac(net->mac, mac);
	int rc = tap_nl_link_up(sk, link, mac, bridge);
	return rc < 0 ? tap_nl_error(net, rc, "putting the tap in the bridge", err) : 0;
}

/* bridge=BR: BR's index, once it is known to exist and be a bridge. */
static int tap_find_bridge(const struct ember_net *net, struct nl_sock *sk, int *index,
			   struct ember_err *err)
{
	struct rtnl_link *br = NULL;
	char opt[64];
	int rc = rtnl_link_get_kernel(sk, 0, net->ifname, &br);

	if (rc == -NLE_OBJ_NOTFOUND || rc == -NLE_NODEV || (rc < 0 && nl_to_errno(rc) == ENODEV))
		return ember_fail(err, ENODEV, "%s: no such interface (root makes a bridge with: ip link add "
				  "%s type bridge)", net_what(net, opt, sizeof(opt)), net->ifname);
	if (rc < 0)
		return tap_nl_error(net, rc, "looking up the bridge", err);
	const char *type = rtnl_link_get_type(br);
	if (!type || strcmp(type, "bridge")) {
		rc = ember_fail(err, EINVAL, "%s: %s is not a bridge (it is %s)", net_what(net, opt, sizeof(opt)),
				net->ifname, type ? type : "a plain interface");
		rtnl_link_put(br); /* type is br's */
		return rc;
	}
	*index = rtnl_link_get_ifindex(br);
	rtnl_link_put(br);
	return 0;
}

int net_tap_open(const struct ember_net *net, struct net_backend **out, struct ember_err *err)
{
	char opt[64];
	const char *step;
	struct nl_sock *sk = NULL;
	struct rtnl_link *link = NULL;
	int bridge = 0, rc, nlerr;

	*out = NULL;
	if (net->kind == EMBER_NET_USER)
		return ember_fail(err, EINVAL, "--net user: not a tap");
	if (net->kind != EMBER_NET_AUTO) {
		if (!net->ifname || !*net->ifname || strlen(net->ifname) >= IFNAMSIZ || strchr(net->ifname, '%') ||
		    strchr(net->ifname, '/'))
			return ember_fail(err, EINVAL, "%s: not an interface name (1 to %d characters, no '%%' "
					  "or '/')", net_what(net, opt, sizeof(opt)), IFNAMSIZ - 1);
	}
	if (net->kind == EMBER_NET_TAP && if_nametoindex(net->ifname) == 0)
		/* TUNSETIFF would make a new tap of that name: the user meant an existing one. */
		return ember_fail(err, ENODEV, "--net tap=%s: no such interface (root makes it with: ip tuntap "
				  "add %s mode tap user %u)", net->ifname, net->ifname, (unsigned)geteuid());

	struct net_tap *t = calloc(1, sizeof(*t));
	if (!t)
		return ember_fail(err, ENOMEM, "%s: out of memory", net_what(net, opt, sizeof(opt)));
	t->be.fd = -1;

	if (net->kind == EMBER_NET_BRIDGE) {
		/* Before making the tap: a wrong bridge= then costs nothing. */
		sk = tap_nl_open(&nlerr);
		if (!sk) {
			rc = tap_nl_error(net, nlerr, "rtnetlink", err);
			goto fail;
		}
		rc = tap_find_bridge(net, sk, &bridge, err);
		if (rc < 0)
			goto fail;
	}

	rc = tap_open_fd(net->kind == EMBER_NET_TAP ? net->ifname : TAP_TEMPLATE, t->ifname, &step);
	if (rc < 0) {
		rc = tap_open_error(net, rc, step, err);
		goto fail;
	}
	t->be.fd = rc;

	if (net->kind != EMBER_NET_TAP) {
		if (!sk && !(sk = tap_nl_open(&nlerr))) {
			rc = tap_nl_error(net, nlerr, "rtnetlink", err);
			goto fail;
		}
		rc = rtnl_link_get_kernel(sk, 0, t->ifname, &link);
		if (rc < 0) {
			rc = tap_nl_error(net, rc, "looking up the new tap", err);
			goto fail;
		}
		rc = net->kind == EMBER_NET_AUTO ? tap_setup_auto(t, net, sk, link, err) :
						   tap_setup_bridge(net, sk, link, bridge, err);
		if (rc < 0)
			goto fail;
	}

	t->be.ops = &tap_ops;
	t->be.offloads = true;
	t->be.priv = t;
	if (net->kind == EMBER_NET_BRIDGE)
		snprintf(t->be.what, sizeof(t->be.what), "bridge %s via tap %s", net->ifname, t->ifname);
	else
		snprintf(t->be.what, sizeof(t->be.what), "tap %s", t->ifname);
	rtnl_link_put(link);
	nl_socket_free(sk);
	*out = &t->be;
	return 0;

fail:
	/* The tap ember made is not persistent: closing its fd removes it, address and all. */
	if (t->be.fd >= 0)
		close(t->be.fd);
	free(t);
	rtnl_link_put(link);
	if (sk)
		nl_socket_free(sk);
	return rc;
}

bool net_tap_guest_ipv4(const struct net_backend *be, struct net_ipv4 *out)
{
	if (!be || be->ops != &tap_ops)
		return false;
	const struct net_tap *t = be->priv;
	if (!t->has_ipv4)
		return false;
	*out = t->ipv4;
	return true;
}
