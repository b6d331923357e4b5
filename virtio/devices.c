// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/devices.h"

#include "vm/vm.h"

int virtio_devices_create(struct vm *vm, struct ember_err *err)
{
	const struct ember_config *cfg = vm->cfg;
	int rc = 0;

	/* Console first: it is what a user debugging a boot wants at a fixed place. */
	if (cfg->console == EMBER_CONSOLE_VIRTIO && (rc = virtio_console_create(vm, err)))
		return rc;
	for (unsigned i = 0; i < cfg->nr_disks; i++)
		if ((rc = virtio_blk_create(vm, &cfg->disks[i], err)))
			return rc;
	return virtio_rng_create(vm, err);
}
