/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The guest's network, as a container runtime would leave it: loopback up,
 * and the DNS server ember gave the kernel (ip=...:DNS, --net user) as the
 * command's /etc/resolv.conf.  Interfaces with ip= are configured by the
 * kernel itself (CONFIG_IP_PNP) before init runs.
 */
#ifndef EMBER_ROOTFS_INIT_NET_H
#define EMBER_ROOTFS_INIT_NET_H

/* Brings "lo" up (the kernel does it only when ip= configured an interface). */
void net_loopback_up(void);
/*
 * When the kernel learnt a DNS server from ip= (it lists it in /proc/net/pnp,
 * in resolv.conf's own format), bind-mounts that file on /etc/resolv.conf
 * in the root the command runs in, as docker does with its own file.
 */
void net_resolv_conf(void);

#endif
