// SPDX-License-Identifier: GPL-2.0-only
/*
 * --net: which back end a virtio-net device gets, and its addresses.
 *   tap=NAME[,mac=MAC]                           an existing tap
 *   auto[,host=IP/PREFIX][,guest=IP][,mac=MAC]    a tap ember makes and addresses
 *   bridge=BR[,mac=MAC]                           a tap ember makes on bridge BR
 *   user[,mac=MAC]                                passt (user-mode networking)
 * The same text is what a snapshot stores (config_net_format), so a
 * restored VM asks for the same network.  And --vsock PATH[,cid=N], the
 * other way a guest talks to its host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/config.h"

#define NET_USAGE "use tap=NAME, auto, bridge=BR or user, then ,mac=MAC (and for auto ,host=IP/PREFIX ,guest=IP)"

/* "52:54:00:12:34:56": six hex pairs; a multicast address cannot be a NIC's. */
static int parse_mac(const char *text, uint8_t mac[6])
{
	unsigned b[6];
	char tail;
	if (strlen(text) != 17 ||
	    sscanf(text, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (unsigned i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
	if (mac[0] & 1)
		return -EINVAL;
	return 0;
}

/* A dotted IPv4 address, network byte order. */
static int parse_ip(const char *text, uint32_t *ip)
{
	struct in_addr a;
	if (inet_pton(AF_INET, text, &a) != 1)
		return -EINVAL;
	*ip = a.s_addr;
	return 0;
}

static int parse_host(char *text, struct ember_net *net)
{
	char *slash = strchr(text, '/');
	unsigned prefix = 24;
	if (slash) {
		*slash++ = '\0';
		if (config_parse_uint(slash, 30, &prefix) || prefix < 8)
			return -EINVAL;
	}
	net->prefix = prefix;
	return parse_ip(text, &net->host_ip);
}

static int parse_kind(char *spec, struct ember_net *net)
{
	char *eq = strchr(spec, '=');
	if (eq)
		*eq++ = '\0';
	if (!strcmp(spec, "auto") && !eq)
		net->kind = EMBER_NET_AUTO;
	else if (!strcmp(spec, "user") && !eq)
		net->kind = EMBER_NET_USER;
	else if (!strcmp(spec, "tap") && eq)
		net->kind = EMBER_NET_TAP;
	else if (!strcmp(spec, "bridge") && eq)
		net->kind = EMBER_NET_BRIDGE;
	else
		return -EINVAL;
	if (eq) {
		/* A Linux interface name: 1-15 bytes, no '/', no white space (dev_valid_name). */
		if (!*eq || strlen(eq) >= IFNAMSIZ || strpbrk(eq, "/: \t\n") || !strcmp(eq, ".") ||
		    !strcmp(eq, ".."))
			return -EINVAL;
		net->ifname = eq;
	}
	return 0;
}

/* auto's addresses: the guest in the host's subnet, neither its network nor its broadcast address. */
static int check_auto_addresses(const struct ember_net *net, const char *spec, struct ember_err *err)
{
	if (!net->host_ip && net->guest_ip)
		return ember_fail(err, EINVAL, "--net %s: guest= needs host=IP/PREFIX too", spec);
	if (!net->host_ip)
		return 0;
	uint32_t mask = net->prefix ? ~0u << (32 - net->prefix) : 0;
	uint32_t host = ntohl(net->host_ip), guest = net->guest_ip ? ntohl(net->guest_ip) : 0;
	if ((host & ~mask) == 0 || (host & ~mask) == ~mask)
		return ember_fail(err, EINVAL, "--net %s: host= is the network's or broadcast address", spec);
	if (!guest)
		return 0;
	if ((guest & mask) != (host & mask) || guest == host || (guest & ~mask) == 0 ||
	    (guest & ~mask) == ~mask)
		return ember_fail(err, EINVAL,
				  "--net %s: guest= must be another usable address in host='s /%u subnet",
				  spec, net->prefix);
	return 0;
}

int config_parse_net(char *spec, struct ember_net *net, struct ember_err *err)
{
	char whole[128];
	snprintf(whole, sizeof(whole), "%s", spec); /* for messages: spec is cut up below */
	memset(net, 0, sizeof(*net));

	char *opts = strchr(spec, ',');
	if (opts)
		*opts++ = '\0';
	if (parse_kind(spec, net))
		return ember_fail(err, EINVAL, "--net %s: %s", whole, NET_USAGE);
	while (opts && *opts) {
		char *next = strchr(opts, ',');
		if (next)
			*next++ = '\0';
		int bad;
		if (!strncmp(opts, "mac=", 4)) {
			bad = parse_mac(opts + 4, net->mac);
			net->has_mac = true;
		} else if (!strncmp(opts, "host=", 5) && net->kind == EMBER_NET_AUTO) {
			bad = parse_host(opts + 5, net);
		} else if (!strncmp(opts, "guest=", 6) && net->kind == EMBER_NET_AUTO) {
			bad = parse_ip(opts + 6, &net->guest_ip);
		} else {
			return ember_fail(err, EINVAL, "--net %s: unknown option '%s' (%s)", whole, opts,
					  NET_USAGE);
		}
		if (bad)
			return ember_fail(err, EINVAL, "--net %s: bad value in '%s' (%s)", whole, opts,
					  !strncmp(opts, "mac=", 4) ? "a unicast MAC like 52:54:00:12:34:56" :
					  !strncmp(opts, "host=", 5) ? "an IPv4 address and a prefix 8-30, like 172.30.0.1/24" :
					  "an IPv4 address");
		opts = next;
	}
	return net->kind == EMBER_NET_AUTO ? check_auto_addresses(net, whole, err) : 0;
}

void config_net_default_mac(unsigned index, uint8_t mac[6])
{
	/* QEMU's default NIC address (locally administered), one per device. */
	static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
	memcpy(mac, base, 6);
	mac[5] = (uint8_t)(base[5] + index);
}

int config_net_format(const struct ember_net *net, char *buf, size_t size)
{
	static const char *const kind[] = { "tap=", "auto", "bridge=", "user" };
	char host[INET_ADDRSTRLEN] = "", guest[INET_ADDRSTRLEN] = "";
	size_t len = 0;
	int n = snprintf(buf, size, "%s%s", kind[net->kind], net->ifname ? net->ifname : "");

	if (n < 0 || (size_t)n >= size)
		return -E2BIG;
	len = (size_t)n;
	if (net->has_mac) {
		n = snprintf(buf + len, size - len, ",mac=%02x:%02x:%02x:%02x:%02x:%02x", net->mac[0],
			     net->mac[1], net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
		if (n < 0 || (size_t)n >= size - len)
			return -E2BIG;
		len += (size_t)n;
	}
	if (net->host_ip) {
		inet_ntop(AF_INET, &net->host_ip, host, sizeof(host));
		n = snprintf(buf + len, size - len, ",host=%s/%u", host, net->prefix);
		if (n < 0 || (size_t)n >= size - len)
			return -E2BIG;
		len += (size_t)n;
	}
	if (net->guest_ip) {
		inet_ntop(AF_INET, &net->guest_ip, guest, sizeof(guest));
		n = snprintf(buf + len, size - len, ",guest=%s", guest);
		if (n < 0 || (size_t)n >= size - len)
			return -E2BIG;
		len += (size_t)n;
	}
	return (int)len;
}

int config_parse_vsock(char *spec, struct ember_config *cfg, struct ember_err *err)
{
	unsigned cid = 3;
	char *opt = strrchr(spec, ',');
	if (opt && !strncmp(opt, ",cid=", 5)) {
		*opt = '\0';
		if (config_parse_uint(opt + 5, 0xfffffffeu, &cid) || cid < 3)
			return ember_fail(err, EINVAL,
					  "--vsock %s: cid=%s: the guest's context id must be 3 to 4294967294",
					  spec, opt + 5);
	}
	if (!*spec)
		return ember_fail(err, EINVAL, "--vsock: missing socket path (use --vsock PATH[,cid=N])");
	cfg->vsock_path = spec;
	cfg->vsock_cid = cid;
	return 0;
}
