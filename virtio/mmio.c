// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-mmio transport, version 2 (virtio 1.2 §4.2): the register file
 * and the device's place in the machine.  Status, feature and queue rules
 * are the core's (core.c); this file only decodes registers.
 */
#include "virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vm/machine.h"

void virtio_mmio_init(struct virtio_mmio *t, struct virtio_device *dev)
{
	memset(t, 0, sizeof(*t));
	t->dev = dev;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev->num_queues ? &t->dev->vq[t->queue_sel] : NULL;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtio_device *dev = t->dev;
	struct virtq *q = selected_queue(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return dev->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->device_features_sel < 2 ?
			(uint32_t)(virtio_offered_features(dev) >> (32 * t->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? dev->queue_max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&dev->interrupt_status);
	case VIRTIO_MMIO_STATUS: return dev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION: return dev->config_generation;
	default: return 0;
	}
}

static void set_half(uint64_t *v, bool high, uint32_t val)
{
	*v = high ? (*v & 0xffffffffULL) | (uint64_t)val << 32 : (*v & ~0xffffffffULL) | val;
}

static void write_reg(struct virtio_mmio *t, uint64_t off, uint32_t val)
{
	struct virtio_device *dev = t->dev;
	struct virtq *q = selected_queue(t);
	/* Queue layout is frozen while the queue is live (virtio 1.2 §4.2.2.2). */
	bool q_writable = q && !q->ready;
	bool features_writable = !(dev->status & VIRTIO_STATUS_FEATURES_OK);

	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: t->device_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: t->driver_features_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES:
		if (features_writable && t->driver_features_sel < 2)
			set_half(&dev->driver_features, t->driver_features_sel == 1, val);
		break;
	case VIRTIO_MMIO_QUEUE_SEL: t->queue_sel = val; break;
	case VIRTIO_MMIO_QUEUE_NUM:
		if (q_writable)
			q->size = (uint16_t)(val <= dev->queue_max_size ? val : 0);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q && val)
			virtio_enable_queue(dev, t->queue_sel);
		else if (q)
			q->ready = false;
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK: atomic_fetch_and(&dev->interrupt_status, ~val); break;
	case VIRTIO_MMIO_STATUS:
		virtio_write_status(dev, val);
		if (val == 0) /* a reset also clears the transport's selectors */
			t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
		break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		if (q_writable)
			set_half(&q->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
	case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
		if (q_writable)
			set_half(&q->avail_gpa, off == VIRTIO_MMIO_QUEUE_DRIVER_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
	case VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
		if (q_writable)
			set_half(&q->used_gpa, off == VIRTIO_MMIO_QUEUE_DEVICE_HIGH, val);
		break;
	default: break; /* read-only or unknown: ignored */
	}
}

void virtio_mmio_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct virtio_mmio *t = opaque;
	struct virtio_device *dev = t->dev;

	pthread_mutex_lock(&dev->lock);
	if (offset >= VIRTIO_MMIO_CONFIG) {
		uint64_t off = offset - VIRTIO_MMIO_CONFIG;
		if (off + len <= dev->config_size) {
			if (is_write && dev->ops->config_write)
				dev->ops->config_write(dev, (uint32_t)off, data, len);
			else if (!is_write && dev->ops->config_read)
				dev->ops->config_read(dev, (uint32_t)off, data, len);
		} else if (!is_write) {
			memset(data, 0, len);
		}
	} else if (len == 4 && !(offset & 3)) {
		/* virtio 1.2 §4.2.2.2: registers are 32-bit, accessed whole. */
		if (is_write) {
			uint32_t val;
			memcpy(&val, data, 4);
			write_reg(t, offset, val);
		} else {
			uint32_t val = read_reg(t, offset);
			memcpy(data, &val, 4);
		}
	}
	pthread_mutex_unlock(&dev->lock);
}

int virtio_mmio_plug(struct virtio_mmio *t, struct machine *m, uint64_t base, uint32_t gsi,
		     struct ember_err *err)
{
	struct virtio_device *dev = t->dev;
	int rc;

	t->base = base;
	t->gsi = gsi;
	snprintf(dev->where, sizeof(dev->where), "at %#llx", (unsigned long long)base);
	if ((rc = machine_irqfd(m, gsi, dev->irq_fd)) < 0)
		return ember_fail(err, -rc, "%s: cannot set up its interrupt (irqfd on GSI %u): %s",
				  dev->name, gsi, strerror(-rc));
	for (unsigned q = 0; q < dev->num_queues; q++) {
		rc = machine_ioeventfd(m, base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, dev->kick_fd[q], false);
		if (rc < 0)
			return ember_fail(err, -rc, "%s: KVM_IOEVENTFD: %s", dev->name, strerror(-rc));
	}
	return bus_register(&m->mmio, base, VIRTIO_MMIO_SIZE, virtio_mmio_access, t, dev->name, err);
}

int virtio_mmio_cmdline_word(const struct virtio_mmio *t, char *buf, size_t size)
{
	int n = snprintf(buf, size, "virtio_mmio.device=4K@%#llx:%u", (unsigned long long)t->base,
			 t->gsi);
	return n < 0 || (size_t)n >= size ? -E2BIG : n;
}
