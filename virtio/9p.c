// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio-9p glue: the mount tag in config space, one request queue, and an
 * I/O thread that hands each request to the 9P server (p9_server.c).
 *
 * A request is one chain: the driver-readable part is the T-message, the
 * writable part receives the R-message (net/9p/trans_virtio.c).  Both are
 * copied: the request into a private buffer before the server parses it
 * (the guest cannot change a length after it was checked), the reply out
 * after it is complete.  The used length is the reply's length, which
 * Linux checks against the reply's size field.
 *
 * Threading, as virtio-blk: the worker waits on the queue's ioeventfd and
 * handles a batch with dev->lock held, so a reset never meets a request
 * half done.  A slow host file-system operation (a large fsync, a file
 * system on a slow disk or on the network) holds the lock meanwhile, and
 * a vCPU touching this device's registers waits for it.  Acceptable for
 * now; the fix, if it shows, is to drop the lock around the server call
 * and make reset wait for the request in flight.
 */
#include "virtio/9p.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include "virtio/p9_proto.h"

/* ---- requests ---------------------------------------------------------------- */

/* One chain: 0 and the reply's length, or -EINVAL (and *why) when no answer is possible. */
/* A virtio_chain_fn: ctx is the struct virtio_9p. */
static int p9_handle_chain(void *ctx, const struct virtq_chain *c, uint32_t *used_len,
			   const char **why)
{
	struct virtio_9p *v = ctx;
	size_t n;

	if (c->readable < P9_HDR_SIZE) {
		*why = "9P request shorter than its 7-byte header";
		return -EINVAL;
	}
	if (c->writable < P9_RLERROR_SIZE) {
		*why = "9P request without room for an 11-byte reply";
		return -EINVAL;
	}
	size_t cap = c->writable < P9_MAX_MSIZE ? (size_t)c->writable : P9_MAX_MSIZE;
	if (c->readable > P9_MAX_MSIZE) {
		virtq_chain_read(c, 0, v->req, P9_HDR_SIZE);
		n = p9_server_error(v->req, EMSGSIZE, v->rep, cap);
	} else {
		virtq_chain_read(c, 0, v->req, (size_t)c->readable);
		n = p9_server_handle(&v->srv, v->req, (size_t)c->readable, v->rep, cap);
	}
	if (n == 0) { /* not reached: both sizes were checked above */
		*why = "9P request could not be answered";
		return -EINVAL;
	}
	virtq_chain_write(c, 0, v->rep, n);
	*used_len = (uint32_t)n;
	return 0;
}

void virtio_9p_process_queue(struct virtio_device *dev)
{
	struct virtio_9p *v = dev->priv;
	virtio_serve_queue(dev, 0, &v->chain, p9_handle_chain, v);
}

int virtio_9p_start(struct virtio_9p *v, struct ember_err *err)
{
	return virtio_worker_start(&v->worker, "ember-9p", err);
}

void virtio_9p_uninit(struct virtio_9p *v)
{
	virtio_worker_stop(&v->worker);
	p9_server_destroy(&v->srv);
	free(v->req);
	free(v->rep);
	v->req = v->rep = NULL;
}

/* ---- virtio_device_ops ----------------------------------------------------------- */

static void p9_config_read(struct virtio_device *dev, uint32_t offset, void *data, unsigned len)
{
	const struct virtio_9p *v = dev->priv;

	/* The transport checked offset + len <= config_size; stay safe on our own too. */
	if (offset > v->dev.config_size || len > v->dev.config_size - offset) {
		memset(data, 0, len);
		return;
	}
	memcpy(data, v->config + offset, len);
}

/* DRIVER_OK: a kick sent before it was dropped by the worker; look at the queue now. */
static void p9_activate(struct virtio_device *dev)
{
	struct virtio_9p *v = dev->priv;
	virtio_worker_wake(&v->worker);
}

/* Device reset (dev->lock held, so no request is in flight): a new driver starts a new session. */
static void p9_reset(struct virtio_device *dev)
{
	struct virtio_9p *v = dev->priv;

	p9_server_reset(&v->srv);
}

static int p9_start(struct virtio_device *dev, struct ember_err *err)
{
	return virtio_9p_start(dev->priv, err);
}

static void p9_destroy(struct virtio_device *dev)
{
	struct virtio_9p *v = dev->priv;

	virtio_9p_uninit(v);
	free(v);
}

/*
 * A fid is a host file or directory the guest holds open: its host fd
 * and path cannot travel in a snapshot (the share may not even exist
 * where it is restored), so a share in use refuses, saying so.  Unused
 * shares (nothing mounted yet, as when a warm-start snapshot is taken
 * before the command's mounts) have no state beyond the rings.
 */
static int p9_save(struct virtio_device *dev, struct snapshot_writer *w, unsigned slot,
		   struct ember_err *err)
{
	struct virtio_9p *v = dev->priv;

	(void)w;
	(void)slot;
	unsigned fids = v->srv.nr_fids; /* dev->lock held by the caller */
	if (fids)
		return ember_fail(err, EBUSY,
				  "snapshot refused: the guest has files open on shared directory %s (%u fids)",
				  v->host_dir, fids);
	return 0;
}

static const struct virtio_device_ops p9_ops = {
	.config_read = p9_config_read,
	.activate = p9_activate,
	.reset = p9_reset,
	.start = p9_start,
	.destroy = p9_destroy,
	.save = p9_save,
};

static void p9_serve(struct virtio_device *dev, uint32_t pending)
{
	if (pending & VIRTIO_WORKER_QUEUE(0))
		virtio_9p_process_queue(dev);
}

/* ---- construction ------------------------------------------------------------- */

/*
 * Each fid holds up to three descriptors (object, its directory, an open
 * file) and a guest keeps a fid per cached dentry, so the usual soft limit
 * of 1024 descriptors would run out long before the fid limit.  Raise the
 * soft limit to the hard one (ember uses poll/epoll, never select).
 */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int virtio_9p_init(struct virtio_9p *v, const struct p9_share *share, struct ember_err *err)
{
	size_t tag_len = share->tag ? strlen(share->tag) : 0;
	const char *flag = share->flag ? share->flag : "--share";
	int rc;

	memset(v, 0, sizeof(*v));
	v->worker.wake_fd = -1;
	v->srv.root_fd = -1;
	v->host_dir = share->host_dir;
	if (tag_len == 0 || tag_len > VIRTIO_9P_TAG_MAX)
		return ember_fail(err, EINVAL, "%s %s: mount tag must be 1 to %d bytes", flag,
				  share->host_dir, VIRTIO_9P_TAG_MAX);
	rc = p9_server_init(&v->srv, share->host_dir, share->read_only, share->own);
	if (rc == -EOPNOTSUPP && share->own == P9_OWN_MAPPED)
		return ember_fail(err, EOPNOTSUPP,
				  "%s %s: own=mapped keeps the guest's owners and modes in user extended attributes, which this file system does not support (add ,own=host, or use a directory on ext4, xfs, btrfs, or tmpfs of Linux 6.6 or later)",
				  flag, share->host_dir);
	if (rc)
		return ember_fail(err, -rc, "%s %s: %s", flag, share->host_dir, strerror(-rc));

	v->req = malloc(P9_MAX_MSIZE);
	v->rep = malloc(P9_MAX_MSIZE);
	rc = !v->req || !v->rep ? ember_fail(err, ENOMEM, "out of memory") :
		virtio_worker_init(&v->worker, &v->dev, p9_serve, "--share",
				   share->host_dir, err);
	if (rc) {
		virtio_9p_uninit(v);
		return rc;
	}

	v->config[0] = (uint8_t)tag_len; /* le16 tag_len */
	v->config[1] = (uint8_t)(tag_len >> 8);
	memcpy(v->config + 2, share->tag, tag_len);
	v->dev = (struct virtio_device){
		.name = "virtio-9p",
		.device_id = VIRTIO_ID_9P,
		.num_queues = 1,
		.queue_max_size = VIRTIO_9P_QUEUE_SIZE,
		.queue_service = { VIRTIO_QUEUE_ON_WORKER }, /* host file-system calls block */
		.features = 1ULL << VIRTIO_9P_MOUNT_TAG,
		.config_size = (uint32_t)(2 + tag_len), /* follows the tag's length */
		.ops = &p9_ops,
		.priv = v,
	};
	raise_fd_limit();
	return 0;
}

int virtio_9p_new(const struct p9_share *share, struct virtio_device **out, struct ember_err *err)
{
	struct virtio_9p *v = malloc(sizeof(*v));
	int rc;

	if (!v)
		return ember_fail(err, ENOMEM, "out of memory");
	if ((rc = virtio_9p_init(v, share, err))) {
		free(v);
		return rc;
	}
	*out = &v->dev;
	return 0;
}
