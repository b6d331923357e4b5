// SPDX-License-Identifier: GPL-2.0-only
#include "rootfs/init_net.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void net_loopback_up(void)
{
	struct ifreq ifr = { .ifr_name = "lo" };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return; /* a kernel without INET: nothing to bring up */
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP)) {
		ifr.ifr_flags |= IFF_UP;
		if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
			fprintf(stderr, "ember-init: lo up: %s\n", strerror(errno));
	}
	close(fd);
}

/* /proc/net/pnp names a server: "nameserver 10.0.2.3" (net/ipv4/ipconfig.c, pnp_seq_show). */
static int pnp_has_nameserver(void)
{
	char buf[512];
	int fd = open("/proc/net/pnp", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, "nameserver ") != NULL;
}

void net_resolv_conf(void)
{
	if (!pnp_has_nameserver())
		return;
	mkdir("/etc", 0755);
	/* The mount point must exist; an empty file in the tree is all a bind needs. */
	int fd = open("/etc/resolv.conf", O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd >= 0)
		close(fd);
	if (mount("/proc/net/pnp", "/etc/resolv.conf", NULL, MS_BIND, NULL) < 0)
		fprintf(stderr, "ember-init: /etc/resolv.conf: %s\n", strerror(errno));
}
