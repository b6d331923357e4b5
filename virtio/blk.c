// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder until the block device lands. */
#include <errno.h>
#include "virtio/devices.h"
int virtio_blk_create(struct vm *vm, const struct ember_disk *disk, struct ember_err *err)
{
	(void)vm;
	return ember_fail(err, ENOTSUP, "--disk %s: virtio-blk is not built yet", disk->path);
}
