// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/mmio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm/vm.h"

/* Features the transport itself offers on top of the device's. */
#define TRANSPORT_FEATURES ((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_RING_F_EVENT_IDX) | \
			    (1ULL << VIRTIO_RING_F_INDIRECT_DESC))

static uint64_t offered_features(const struct virtio_device *dev)
{
	return dev->ops->features | TRANSPORT_FEATURES;
}

void virtio_mmio_init(struct virtio_mmio *t, struct virtio_device *dev)
{
	memset(t, 0, sizeof(*t));
	t->dev = dev;
}

bool virtio_is_live(const struct virtio_device *dev)
{
	const uint32_t want = VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK;
	return (dev->status & want) == want && !(dev->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void raise_interrupt(struct virtio_device *dev, unsigned bit)
{
	atomic_fetch_or(&dev->interrupt_status, bit);
	if (dev->irq_fd >= 0) {
		uint64_t one = 1;
		if (write(dev->irq_fd, &one, sizeof(one)) < 0) {
			/* counter saturated: an interrupt is pending anyway */
		}
	}
}

void virtio_notify_used(struct virtio_device *dev, unsigned q)
{
	if (virtq_should_notify(&dev->vq[q]))
		raise_interrupt(dev, 1);
}

void virtio_notify_config(struct virtio_device *dev)
{
	dev->config_generation++;
	raise_interrupt(dev, 2);
}

void virtio_set_needs_reset(struct virtio_device *dev, const char *why)
{
	if (dev->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	dev->status |= VIRTIO_STATUS_NEEDS_RESET;
	if (!dev->broken_logged) {
		dev->broken_logged = true;
		fprintf(stderr, "ember: %s at %#llx: guest driver error (%s); device needs reset\r\n",
			dev->ops->name, (unsigned long long)dev->mmio_base, why);
	}
	/* virtio 1.2 §2.1.2: tell the driver through a configuration change notification. */
	virtio_notify_config(dev);
}

void virtio_mmio_reset(struct virtio_mmio *t)
{
	struct virtio_device *dev = t->dev;

	if (dev->ops->reset)
		dev->ops->reset(dev);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		virtq_reset(&dev->vq[q]);
	dev->status = 0;
	dev->driver_features = 0;
	atomic_store(&dev->interrupt_status, 0);
	t->device_features_sel = t->driver_features_sel = t->queue_sel = 0;
}

static struct virtq *selected_queue(struct virtio_mmio *t)
{
	return t->queue_sel < t->dev->ops->num_queues ? &t->dev->vq[t->queue_sel] : NULL;
}

static uint32_t read_reg(struct virtio_mmio *t, uint64_t off)
{
	struct virtio_device *dev = t->dev;
	struct virtq *q = selected_queue(t);

	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return dev->ops->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return t->device_features_sel < 2 ?
			(uint32_t)(offered_features(dev) >> (32 * t->device_features_sel)) : 0;
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return q ? dev->ops->queue_max_size : 0;
	case VIRTIO_MMIO_QUEUE_READY: return q ? q->ready : 0;
	case VIRTIO_MMIO_INTERRUPT_STATUS: return atomic_load(&dev->interrupt_status);
	case VIRTIO_MMIO_STATUS: return dev->status;
	case VIRTIO_MMIO_SHM_LEN_LOW:
	case VIRTIO_MMIO_SHM_LEN_HIGH: return 0xffffffff; /* no shared memory regions */
	case VIRTIO_MMIO_CONFIG_GENERATION: return dev->config_generation;
	default: return 0;
	}
}

/* FEATURES_OK only sticks when the driver's choice is acceptable (virtio 1.2 §3.1.1). */
static uint32_t check_features_ok(struct virtio_device *dev, uint32_t status)
{
	if (!(status & VIRTIO_STATUS_FEATURES_OK) || (dev->status & VIRTIO_STATUS_FEATURES_OK))
		return status;
	bool subset = (dev->driver_features & ~offered_features(dev)) == 0;
	if (!subset || !virtio_has_feature(dev, VIRTIO_F_VERSION_1))
		status &= ~(uint32_t)VIRTIO_STATUS_FEATURES_OK;
	return status;
}

static void write_status(struct virtio_mmio *t, uint32_t val)
{
	struct virtio_device *dev = t->dev;

	if (val == 0) {
		virtio_mmio_reset(t);
		return;
	}
	val = check_features_ok(dev, val & 0xff);
	bool activating = (val & VIRTIO_STATUS_DRIVER_OK) && !(dev->status & VIRTIO_STATUS_DRIVER_OK);
	/* NEEDS_RESET is the device's to set; the driver cannot clear it without a reset. */
	dev->status = val | (dev->status & VIRTIO_STATUS_NEEDS_RESET);
	if (activating && (dev->status & VIRTIO_STATUS_FEATURES_OK) && dev->ops->activate)
		dev->ops->activate(dev);
}

static void write_queue_ready(struct virtio_mmio *t, struct virtq *q, uint32_t val)
{
	struct virtio_device *dev = t->dev;

	if (!val) {
		q->ready = false;
		return;
	}
	/* Ring features (EVENT_IDX, INDIRECT) are only final once FEATURES_OK stuck. */
	if (q->ready || !(dev->status & VIRTIO_STATUS_FEATURES_OK))
		return;
	int rc = virtq_start(q, &dev->vm->mem, virtio_has_feature(dev, VIRTIO_RING_F_EVENT_IDX),
			     virtio_has_feature(dev, VIRTIO_RING_F_INDIRECT_DESC));
	if (rc) {
		virtio_set_needs_reset(dev, "queue rings outside guest memory or misaligned");
		return;
	}
	q->ready = true;
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
			q->size = (uint16_t)(val <= dev->ops->queue_max_size ? val : 0);
		break;
	case VIRTIO_MMIO_QUEUE_READY:
		if (q)
			write_queue_ready(t, q, val);
		break;
	case VIRTIO_MMIO_INTERRUPT_ACK: atomic_fetch_and(&dev->interrupt_status, ~val); break;
	case VIRTIO_MMIO_STATUS: write_status(t, val); break;
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
		if (off + len <= dev->ops->config_size) {
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

/* ---- plugging transports into the VM ----------------------------------- */

static void on_kick(void *opaque, uint32_t events)
{
	struct virtio_kick *k = opaque;
	struct virtio_device *dev = k->transport->dev;
	uint64_t count;

	(void)events;
	if (read(dev->kick_fd[k->queue], &count, sizeof(count)) < 0)
		return;
	pthread_mutex_lock(&dev->lock);
	if (virtio_is_live(dev) && dev->vq[k->queue].ready && dev->ops->queue_notify)
		dev->ops->queue_notify(dev, k->queue);
	pthread_mutex_unlock(&dev->lock);
}

int virtio_mmio_add(struct vm *vm, struct virtio_device *dev, struct ember_err *err)
{
	struct virtio_mmio *t = vm->nr_virtio < EMBER_MAX_VIRTIO ? calloc(1, sizeof(*t)) : NULL;
	if (!t) {
		/* Nobody else owns the device yet: free it here, as teardown would. */
		const char *name = dev->ops->name;
		if (dev->ops->destroy)
			dev->ops->destroy(dev);
		if (vm->nr_virtio == EMBER_MAX_VIRTIO)
			return ember_fail(err, ENOSPC, "%s: too many virtio devices (at most %d)", name,
					  EMBER_MAX_VIRTIO);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	virtio_mmio_init(t, dev);
	vm->virtio[vm->nr_virtio++] = t; /* owned by the VM from here, even on failure */

	arch_virtio_mmio_slot(vm->nr_virtio - 1, &dev->mmio_base, &dev->gsi);
	dev->vm = vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	if (dev->irq_fd < 0 || vm_irqfd(vm, dev->gsi, dev->irq_fd) < 0)
		return ember_fail(err, errno, "%s: cannot set up its interrupt (irqfd on GSI %u): %s",
				  dev->ops->name, dev->gsi, strerror(errno));
	for (unsigned q = 0; q < dev->ops->num_queues; q++) {
		int rc;
		dev->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (dev->kick_fd[q] < 0)
			return ember_fail(err, errno, "eventfd: %s", strerror(errno));
		rc = vm_ioeventfd(vm, dev->mmio_base + VIRTIO_MMIO_QUEUE_NOTIFY, 4, q, dev->kick_fd[q],
				  false);
		if (rc < 0)
			return ember_fail(err, -rc, "%s: KVM_IOEVENTFD: %s", dev->ops->name, strerror(-rc));
		t->kick[q] = (struct virtio_kick){ t, q };
		if (!dev->ops->own_thread &&
		    loop_add(&vm->loop, dev->kick_fd[q], EPOLLIN, on_kick, &t->kick[q]) < 0)
			return ember_fail(err, ENOSPC, "%s: too many event sources", dev->ops->name);
	}
	return bus_register(&vm->mmio, dev->mmio_base, VIRTIO_MMIO_SIZE, virtio_mmio_access, t,
			    dev->ops->name, err);
}

int virtio_mmio_start_all(struct vm *vm, struct ember_err *err)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_device *dev = vm->virtio[i]->dev;
		int rc = dev->ops->start ? dev->ops->start(dev, err) : 0;
		if (rc)
			return rc;
	}
	return 0;
}

void virtio_mmio_destroy_all(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		struct virtio_mmio *t = vm->virtio[i];
		struct virtio_device *dev = t->dev;
		int irq_fd = dev->irq_fd, kick[VIRTIO_MAX_QUEUES];
		memcpy(kick, dev->kick_fd, sizeof(kick));
		if (dev->ops->destroy)
			dev->ops->destroy(dev); /* may free dev: use only the copies below */
		for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
			if (kick[q] >= 0)
				close(kick[q]);
		if (irq_fd >= 0)
			close(irq_fd);
		free(t);
	}
	vm->nr_virtio = 0;
}

int virtio_mmio_cmdline(const struct vm *vm, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (unsigned i = 0; i < vm->nr_virtio; i++) {
		const struct virtio_device *dev = vm->virtio[i]->dev;
		int n = snprintf(buf + used, size - used, "%svirtio_mmio.device=4K@%#llx:%u",
				 used ? " " : "", (unsigned long long)dev->mmio_base, dev->gsi);
		if (n < 0 || (size_t)n >= size - used)
			return -E2BIG;
		used += (size_t)n;
	}
	return (int)used;
}
