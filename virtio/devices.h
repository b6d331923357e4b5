/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The device list: which virtio devices the configuration asks for, in a
 * stable slot order, each attached to a virtio-mmio transport at the place
 * the arch gives its slot.  Adding a device means a constructor here (or in
 * the device's own header) and a few lines in virtio_devices_create().
 */
#ifndef EMBER_VIRTIO_DEVICES_H
#define EMBER_VIRTIO_DEVICES_H

#include <stdbool.h>
#include <stddef.h>

#include "arch/arch.h"
#include "virtio/mmio.h"
#include "vm/config.h"
#include "vm/error.h"

struct machine;

/* Constructors of devices without a header of their own. */
int virtio_rng_new(struct virtio_device **out, struct ember_err *err);
/*
 * An hvc port: guest output to out_fd; with_input: stdin to the guest;
 * hold_input: keep stdin back until virtio_console_release_input().
 */
int virtio_console_new(int out_fd, bool with_input, bool hold_input, struct virtio_device **out,
		       struct ember_err *err);
/* ember's init reported its console ready: start delivering stdin (any thread; others ignore it). */
void virtio_console_release_input(struct virtio_device *dev);

struct virtio_devices {
	struct machine *machine;
	struct virtio_mmio transport[ARCH_VIRTIO_MMIO_SLOTS]; /* in slot order */
	unsigned nr;
	char net_cmdline[160];   /* the kernel's ip= word for the one addressed --net, or "" */
};

/* Creates and attaches every device the configuration asks for. */
int virtio_devices_create(struct virtio_devices *list, struct machine *m,
			  const struct ember_config *cfg, struct ember_err *err);
/* Attaches one more device at the next slot; the list owns it from here, even on failure. */
int virtio_devices_add(struct virtio_devices *list, struct virtio_device *dev, struct ember_err *err);
/* Starts every device's threads (ops->start), in slot order. */
int virtio_devices_start(struct virtio_devices *list, struct ember_err *err);
/* Tears down every device and its transport (after the vCPUs stopped). */
void virtio_devices_destroy(struct virtio_devices *list);
/* Lets every console deliver stdin (the guest's init is ready for it). */
void virtio_devices_console_ready(struct virtio_devices *list);
/*
 * Holds every device's lock (slot order), for a snapshot of a paused VM:
 * device threads finish what they are doing and then wait.
 */
void virtio_devices_lock(struct virtio_devices *list);
void virtio_devices_unlock(struct virtio_devices *list);
/* The transports' windows, for the arch's tables (ACPI DSDT, device tree). */
unsigned virtio_devices_describe(const struct virtio_devices *list,
				 struct arch_mmio_device out[ARCH_VIRTIO_MMIO_SLOTS]);
/*
 * "virtio_mmio.device=4K@ADDR:IRQ ..." for kernels that take devices from
 * the command line, then the guest's ip= address when a --net gives one.
 */
int virtio_devices_cmdline(const struct virtio_devices *list, char *buf, size_t size);

#endif
