// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/devices.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "virtio/9p.h"
#include "virtio/blk.h"
#include "virtio/net.h"
#include "virtio/vsock.h"
#include "vm/machine.h"

int virtio_devices_add(struct virtio_devices *list, struct virtio_device *dev, struct ember_err *err)
{
	if (list->nr == ARCH_VIRTIO_MMIO_SLOTS) {
		const char *name = dev->name;
		virtio_device_destroy(dev);
		return ember_fail(err, ENOSPC, "%s: too many virtio devices (at most %d)", name,
				  ARCH_VIRTIO_MMIO_SLOTS);
	}
	struct virtio_mmio *t = &list->transport[list->nr++];
	struct arch_mmio_device slot;

	arch_virtio_mmio_slot(list->nr - 1, &slot);
	virtio_mmio_init(t, dev); /* owned by the list from here, even on failure */
	int rc = virtio_device_attach(dev, list->machine, err);
	return rc ? rc : virtio_mmio_plug(t, list->machine, slot.base, slot.gsi, err);
}

static enum p9_own p9_own_of(enum ember_own own)
{
	return own == EMBER_OWN_MAPPED ? P9_OWN_MAPPED : P9_OWN_HOST;
}

/*
 * One --net: its back end (a tap, a bridge port or passt, opened now,
 * before privileges go), the device over it, and the kernel's ip= word
 * for the guest's address, which the kernel takes for one interface only.
 */
static int add_net(struct virtio_devices *list, const struct ember_net *net, unsigned index,
		   struct ember_err *err)
{
	struct net_backend *be;
	struct virtio_device *dev;
	char word[sizeof(list->net_cmdline)];
	uint8_t mac[6];
	int rc;

	if (net->has_mac)
		memcpy(mac, net->mac, sizeof(mac));
	else
		config_net_default_mac(index, mac);
	if ((rc = net_backend_open(net, index, &be, err)))
		return rc;
	if (net_backend_guest_cmdline(net, be, index, word, sizeof(word)) < 0) {
		be->ops->close(be);
		return ember_fail(err, E2BIG, "--net %u: its kernel command line is too long", index);
	}
	if (word[0] && list->net_cmdline[0]) {
		be->ops->close(be);
		return ember_fail(err, EINVAL,
				  "--net: only one auto or user network per VM (the kernel's ip= sets up one interface)");
	}
	if (word[0])
		snprintf(list->net_cmdline, sizeof(list->net_cmdline), "%s", word);
	if ((rc = virtio_net_new(be, mac, &dev, err))) /* closes be on failure */
		return rc;
	return virtio_devices_add(list, dev, err);
}

/*
 * Runs a constructor that fills `dev`, then adds dev; the || orders the
 * two (the list owns dev even when adding fails).
 */
#define CREATE_AND_ADD(ctor) ((rc = (ctor)) || (rc = virtio_devices_add(list, dev, err)))

int virtio_devices_create(struct virtio_devices *list, struct machine *m,
			  const struct ember_config *cfg, struct ember_err *err)
{
	struct virtio_device *dev = NULL;
	bool hold = cfg->init_handshake;
	int rc = 0;

	memset(list, 0, sizeof(*list));
	list->machine = m;
	/* The console first, so that it is hvc0 in the guest. */
	if (cfg->console == EMBER_CONSOLE_VIRTIO &&
	    CREATE_AND_ADD(virtio_console_new(STDOUT_FILENO, true, hold, &dev, err)))
		return rc;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if (CREATE_AND_ADD(virtio_blk_new(&cfg->disks[i], &dev, err)))
			return rc;
	if (cfg->rootfs && cfg->rootfs_is_dir) {
		struct p9_share root = { .host_dir = cfg->rootfs, .tag = "rootfs",
					 .own = p9_own_of(cfg->rootfs_own), .flag = "--rootfs" };
		if (CREATE_AND_ADD(virtio_9p_new(&root, &dev, err)))
			return rc;
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++)
		if ((rc = add_net(list, &cfg->nets[i], i, err)))
			return rc;
	if (cfg->vsock_path && CREATE_AND_ADD(virtio_vsock_new(cfg->vsock_path, cfg->vsock_cid, &dev, err)))
		return rc;
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		const struct ember_share *sh = &cfg->shares[i];
		struct p9_share share = { .host_dir = sh->host_dir, .tag = sh->tag,
					  .read_only = sh->read_only, .own = p9_own_of(sh->own) };
		if (CREATE_AND_ADD(virtio_9p_new(&share, &dev, err)))
			return rc;
	}
	return CREATE_AND_ADD(virtio_rng_new(&dev, err)) ? rc : 0;
}

int virtio_devices_start(struct virtio_devices *list, struct ember_err *err)
{
	for (unsigned i = 0; i < list->nr; i++) {
		int rc = virtio_device_start(list->transport[i].dev, err);
		if (rc)
			return rc;
	}
	return 0;
}

void virtio_devices_destroy(struct virtio_devices *list)
{
	for (unsigned i = 0; i < list->nr; i++)
		virtio_device_destroy(list->transport[i].dev);
	list->nr = 0;
}

void virtio_devices_console_ready(struct virtio_devices *list)
{
	/* The list is fixed before any vCPU runs: no lock to walk it. */
	for (unsigned i = 0; i < list->nr; i++)
		virtio_console_release_input(list->transport[i].dev);
}

void virtio_devices_lock(struct virtio_devices *list)
{
	for (unsigned i = 0; i < list->nr; i++)
		pthread_mutex_lock(&list->transport[i].dev->lock);
}

void virtio_devices_unlock(struct virtio_devices *list)
{
	for (unsigned i = list->nr; i-- > 0;)
		pthread_mutex_unlock(&list->transport[i].dev->lock);
}

unsigned virtio_devices_describe(const struct virtio_devices *list,
				 struct arch_mmio_device out[ARCH_VIRTIO_MMIO_SLOTS])
{
	for (unsigned i = 0; i < list->nr; i++)
		out[i] = (struct arch_mmio_device){ list->transport[i].base, VIRTIO_MMIO_SIZE,
						    list->transport[i].gsi };
	return list->nr;
}

int virtio_devices_cmdline(const struct virtio_devices *list, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < list->nr; i++) {
		if (used) {
			if (used + 1 >= size)
				return -E2BIG;
			buf[used++] = ' ';
			buf[used] = '\0';
		}
		int n = virtio_mmio_cmdline_word(&list->transport[i], buf + used, size - used);
		if (n < 0)
			return n;
		used += (size_t)n;
	}
	if (list->net_cmdline[0]) {
		int n = snprintf(buf + used, size - used, "%s%s", used ? " " : "", list->net_cmdline);
		if (n < 0 || (size_t)n >= size - used)
			return -E2BIG;
		used += (size_t)n;
	}
	return (int)used;
}
