// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng (virtio 1.2 §5.4): one request queue; the device fills each
 * writable buffer with bytes from the host's getrandom().
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio/devices.h"
#include "virtio/mmio.h"
#include "vm/vm.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_CHUNK  4096 /* bytes per request: the host's getrandom() is cheap, guests ask small */

struct virtio_rng {
	struct virtio_device dev;
	struct virtq_chain chain;
};

static void rng_queue_notify(struct virtio_device *dev, unsigned q)
{
	struct virtio_rng *rng = dev->priv;
	const char *why;
	int got;
	bool pushed = false;

	while ((got = virtq_pop(&dev->vq[q], &rng->chain, &why)) > 0) {
		uint8_t buf[RNG_MAX_CHUNK];
		size_t want = rng->chain.writable < sizeof(buf) ? rng->chain.writable : sizeof(buf);
		ssize_t n = want ? getrandom(buf, want, 0) : 0;
		if (n < 0)
			n = 0; /* an empty answer: the guest asks again */
		size_t written = virtq_chain_write(&rng->chain, 0, buf, (size_t)n);
		virtq_push(&dev->vq[q], rng->chain.head, (uint32_t)written);
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(dev, why);
	if (pushed)
		virtio_notify_used(dev, q);
}

static void rng_destroy(struct virtio_device *dev)
{
	free(dev->priv);
}

static const struct virtio_device_ops rng_ops = {
	.name = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max_size = RNG_QUEUE_SIZE,
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int virtio_rng_create(struct vm *vm, struct ember_err *err)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng)
		return ember_fail(err, ENOMEM, "out of memory");
	rng->dev.ops = &rng_ops;
	rng->dev.priv = rng;
	return virtio_mmio_add(vm, &rng->dev, err);
}
