// SPDX-License-Identifier: GPL-2.0-only
/*
 * The host back ends of virtio-net by --net kind (net_tap.c, net_passt.c),
 * and what the guest's kernel needs to know about each.
 */
#include "virtio/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

int net_backend_open(const struct ember_net *net, unsigned index, struct net_backend **out,
		     struct ember_err *err)
{
	(void)index; /* messages name the --net option itself, which says more than its position */
	switch (net->kind) {
	case EMBER_NET_TAP:
	case EMBER_NET_AUTO:
	case EMBER_NET_BRIDGE:
		return net_tap_open(net, out, err);
	case EMBER_NET_USER:
		return net_passt_open(net, out, err);
	}
	*out = NULL;
	return ember_fail(err, EINVAL, "--net: unknown kind %d", (int)net->kind);
}

/*
 * The kernel's static IP configuration for eth<index>
 * (Documentation/admin-guide/nfs/nfsroot.rst):
 *   ip=<client-ip>:<server-ip>:<gw-ip>:<netmask>:<hostname>:<device>:<autoconf>:<dns0-ip>
 * auto: the guest's address, the host's end as the gateway (it routes to
 * nothing else by itself), no DNS; user: passt's fixed set-up with its DNS
 * forwarder.  tap= and bridge=: "" (the network behind them decides; a
 * guest with a DHCP client asks it).
 *
 * The kernel configures one interface only from ip= (a second ip= word
 * overwrites the first, net/ipv4/ipconfig.c): every --net that has one
 * returns it, and the caller puts one on the command line (the first,
 * normally); the other interfaces are the guest's to set up.
 * Returns 0, -EINVAL (auto without a back end opened by net_tap_open) or
 * -ENOSPC.
 */
int net_backend_guest_cmdline(const struct ember_net *net, const struct net_backend *be,
			      unsigned index, char *buf, size_t size)
{
	struct net_ipv4 ip = { 0 };
	char guest[INET_ADDRSTRLEN], gw[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], dns[INET_ADDRSTRLEN + 1] = "";

	if (!size)
		return -ENOSPC;
	buf[0] = '\0';
	switch (net->kind) {
	case EMBER_NET_AUTO:
		if (!net_tap_guest_ipv4(be, &ip))
			return -EINVAL;
		break;
	case EMBER_NET_USER:
		inet_pton(AF_INET, NET_USER_GUEST, &ip.guest);
		inet_pton(AF_INET, NET_USER_GATEWAY, &ip.gateway);
		inet_pton(AF_INET, NET_USER_DNS, &ip.dns);
		ip.prefix = NET_USER_PREFIX;
		break;
	default:
		return 0;
	}
	uint32_t m = ip.prefix ? htonl(~0u << (32 - ip.prefix)) : 0;
	inet_ntop(AF_INET, &ip.guest, guest, sizeof(guest));
	inet_ntop(AF_INET, &ip.gateway, gw, sizeof(gw));
	inet_ntop(AF_INET, &m, mask, sizeof(mask));
	if (ip.dns) {
		dns[0] = ':';
		inet_ntop(AF_INET, &ip.dns, dns + 1, sizeof(dns) - 1);
	}
	int n = snprintf(buf, size, "ip=%s::%s:%s::eth%u:off%s", guest, gw, mask, index, dns);
	if (n < 0 || (size_t)n >= size) {
		buf[0] = '\0';
		return -ENOSPC;
	}
	return 0;
}
