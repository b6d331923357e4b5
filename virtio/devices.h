/* SPDX-License-Identifier: GPL-2.0-only */
/* Constructors for every virtio device; each plugs itself in with virtio_mmio_add(). */
#ifndef EMBER_VIRTIO_DEVICES_H
#define EMBER_VIRTIO_DEVICES_H

#include <stdbool.h>

#include "vm/config.h"
#include "vm/error.h"

struct vm;

int virtio_blk_create(struct vm *vm, const struct ember_disk *disk, struct ember_err *err);
int virtio_rng_create(struct vm *vm, struct ember_err *err);
/* An hvc port: guest output to out_fd; with_input: stdin to the guest. */
int virtio_console_create(struct vm *vm, int out_fd, bool with_input, struct ember_err *err);
/* ember's init reported its console ready: start delivering stdin (any thread). */
void virtio_console_ready(struct vm *vm);

/* The devices the configuration asks for, in a stable slot order. */
int virtio_devices_create(struct vm *vm, struct ember_err *err);

#endif
