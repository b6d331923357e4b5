// SPDX-License-Identifier: GPL-2.0-only
/* Placeholder until the console device lands. */
#include <errno.h>
#include "virtio/devices.h"
int virtio_console_create(struct vm *vm, struct ember_err *err)
{
	(void)vm;
	return ember_fail(err, ENOTSUP, "--console virtio: not built yet");
}
