// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-rng (virtio 1.2 §5.4): one request queue; the device fills each
 * writable buffer with bytes from the host's getrandom().
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "virtio/devices.h"
#include "virtio/worker.h"

#define RNG_QUEUE_SIZE 64
#define RNG_MAX_CHUNK  4096 /* bytes per request: the host's getrandom() is cheap, guests ask small */

struct virtio_rng {
	struct virtio_device dev;
	struct virtq_chain chain;
};

/* Fills the request's writable buffers with host entropy. */
static int rng_fill(void *ctx, const struct virtq_chain *c, uint32_t *used_len, const char **why)
{
	uint8_t buf[RNG_MAX_CHUNK];
	size_t want = c->writable < sizeof(buf) ? c->writable : sizeof(buf);
	ssize_t n = want ? getrandom(buf, want, 0) : 0;

	(void)ctx;
	(void)why;
	if (n < 0)
		n = 0; /* an empty answer: the guest asks again */
	*used_len = (uint32_t)virtq_chain_write(c, 0, buf, (size_t)n);
	return 0;
}

static void rng_queue_notify(struct virtio_device *dev, unsigned q)
{
	struct virtio_rng *rng = dev->priv;
	virtio_serve_queue(dev, q, &rng->chain, rng_fill, NULL);
}

static void rng_destroy(struct virtio_device *dev)
{
	free(dev->priv);
}

static const struct virtio_device_ops rng_ops = {
	.queue_notify = rng_queue_notify,
	.destroy = rng_destroy,
};

int virtio_rng_new(struct virtio_device **out, struct ember_err *err)
{
	struct virtio_rng *rng = calloc(1, sizeof(*rng));
	if (!rng)
		return ember_fail(err, ENOMEM, "out of memory");
	rng->dev = (struct virtio_device){
		.name = "virtio-rng",
		.device_id = VIRTIO_ID_RNG,
		.num_queues = 1,
		.queue_max_size = RNG_QUEUE_SIZE,
		.queue_service = { VIRTIO_QUEUE_ON_LOOP }, /* getrandom() never blocks once seeded */
		.ops = &rng_ops,
		.priv = rng,
	};
	*out = &rng->dev;
	return 0;
}
