// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/devices.h"

#include <unistd.h>

#include "virtio/9p.h"

#include "vm/vm.h"

int virtio_devices_create(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	int rc = 0;

	/* Consoles first, so that they are hvc0 and hvc1 in the guest. */
	if ((cfg->console == EMBER_CONSOLE_VIRTIO || cfg->console == EMBER_CONSOLE_SPLIT) &&
	    (rc = virtio_console_create(vm, STDOUT_FILENO, true, err)))
		return rc;
	if (cfg->console == EMBER_CONSOLE_SPLIT &&
	    (rc = virtio_console_create(vm, STDERR_FILENO, false, err)))
		return rc;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if ((rc = virtio_blk_create(vm, &cfg->disks[i], err)))
			return rc;
	if (cfg->rootfs && cfg->rootfs_is_dir) {
		struct p9_share root = { .host_dir = cfg->rootfs, .tag = "rootfs" };
		if ((rc = virtio_9p_create(vm, &root, err)))
			return rc;
	}
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		const struct ember_share *sh = &cfg->shares[i];
		struct p9_share share = { sh->host_dir, sh->tag, sh->read_only };
		if ((rc = virtio_9p_create(vm, &share, err)))
			return rc;
	}
	return virtio_rng_create(vm, err);
}
