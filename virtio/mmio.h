/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register file,
 * feature negotiation, status and queue setup.  QueueNotify never reaches
 * this code: KVM signals the queue's ioeventfd instead.  Interrupts go out
 * through one irqfd per device.
 */
#ifndef EMBER_VIRTIO_MMIO_H
#define EMBER_VIRTIO_MMIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"
#include "vm/error.h"

struct machine;

#define VIRTIO_MMIO_SIZE 0x1000

/* Register offsets (virtio 1.2 §4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE         0x000
#define VIRTIO_MMIO_VERSION             0x004
#define VIRTIO_MMIO_DEVICE_ID           0x008
#define VIRTIO_MMIO_VENDOR_ID           0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES     0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES     0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL           0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX       0x034
#define VIRTIO_MMIO_QUEUE_NUM           0x038
#define VIRTIO_MMIO_QUEUE_READY         0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY        0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS    0x060
#define VIRTIO_MMIO_INTERRUPT_ACK       0x064
#define VIRTIO_MMIO_STATUS              0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW      0x080
#define VIRTIO_MMIO_QUEUE_DESC_HIGH     0x084
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW    0x090
#define VIRTIO_MMIO_QUEUE_DRIVER_HIGH   0x094
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW    0x0a0
#define VIRTIO_MMIO_QUEUE_DEVICE_HIGH   0x0a4
#define VIRTIO_MMIO_SHM_SEL             0x0ac
#define VIRTIO_MMIO_SHM_LEN_LOW         0x0b0
#define VIRTIO_MMIO_SHM_LEN_HIGH        0x0b4
#define VIRTIO_MMIO_SHM_BASE_LOW        0x0b8
#define VIRTIO_MMIO_SHM_BASE_HIGH       0x0bc
#define VIRTIO_MMIO_CONFIG_GENERATION   0x0fc
#define VIRTIO_MMIO_CONFIG              0x100

#define VIRTIO_MMIO_MAGIC  0x74726976 /* "virt" */
#define VIRTIO_MMIO_VENDOR 0x524d4245 /* "EBMR": ember */

/* One transport: a 4 KiB register window for one device. */
struct virtio_mmio {
	struct virtio_device *dev;
	uint64_t base;
	uint32_t gsi;
	uint32_t device_features_sel;
	uint32_t driver_features_sel;
	uint32_t queue_sel;
};

/* Register-file semantics, callable without KVM (unit tests drive it directly). */
void virtio_mmio_init(struct virtio_mmio *t, struct virtio_device *dev);
void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/*
 * Puts t's device, attached already (virtio_device_attach), at `base` with
 * interrupt `gsi`: the register window on the machine's MMIO bus, one
 * ioeventfd per queue (QueueNotify with the queue index as datamatch), the
 * irqfd.  t comes from virtio_mmio_init, so its owner can free the device
 * even when this fails.  Before any vCPU runs.
 */
int virtio_mmio_plug(struct virtio_mmio *t, struct machine *m, uint64_t base, uint32_t gsi,
		     struct ember_err *err);
/* Appends "virtio_mmio.device=4K@ADDR:IRQ" for the transport; -E2BIG when it does not fit. */
int virtio_mmio_cmdline_word(const struct virtio_mmio *t, char *buf, size_t size);

#endif
