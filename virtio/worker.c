// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm/vm.h"

void virtio_serve_queue(struct virtio_device *dev, unsigned q, struct virtq_chain *chain,
			virtio_chain_fn handle, void *ctx)
{
	struct virtq *vq = &dev->vq[q];
	const char *why = NULL;
	bool pushed = false;
	int got;

	while ((got = virtq_pop(vq, chain, &why)) > 0) {
		uint32_t used_len = 0;
		if (handle(ctx, chain, &used_len, &why) < 0) {
			got = -EINVAL; /* the driver must reset: stop here */
			break;
		}
		virtq_push(vq, chain->head, used_len);
		pushed = true;
	}
	if (got < 0)
		virtio_set_needs_reset(dev, why);
	if (pushed)
		virtio_notify_used(dev, q);
}

static void drain(int fd)
{
	uint64_t count;

	if (read(fd, &count, sizeof(count)) < 0) {
		/* EAGAIN: this fd did not fire */
	}
}

static void *worker_thread(void *opaque)
{
	struct virtio_worker *w = opaque;
	struct virtio_device *dev = w->dev;
	struct pollfd fds[2] = {
		{ .fd = dev->kick_fd[0], .events = POLLIN },
		{ .fd = w->wake_fd, .events = POLLIN },
	};

	while (!atomic_load(&w->stopping)) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			struct ember_err why;
			ember_fail(&why, errno, "%s %s: I/O thread: poll: %s", w->flag, w->subject,
				   strerror(errno));
			vm_fail(dev->vm, &why);
			break;
		}
		drain(dev->kick_fd[0]);
		drain(w->wake_fd);
		if (atomic_load(&w->stopping))
			break;
		pthread_mutex_lock(&dev->lock);
		if (virtio_is_live(dev) && dev->vq[0].ready)
			w->serve(dev);
		pthread_mutex_unlock(&dev->lock);
	}
	return NULL;
}

int virtio_worker_init(struct virtio_worker *w, struct virtio_device *dev,
		       void (*serve)(struct virtio_device *dev), const char *flag,
		       const char *subject, struct ember_err *err)
{
	memset(w, 0, sizeof(*w));
	w->dev = dev;
	w->serve = serve;
	w->flag = flag;
	w->subject = subject;
	atomic_init(&w->stopping, false);
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return ember_fail(err, errno, "%s %s: eventfd: %s", flag, subject, strerror(errno));
	return 0;
}

int virtio_worker_start(struct virtio_worker *w, const char *thread_name, struct ember_err *err)
{
	sigset_t all, old;

	/* Signals are for the main and vCPU threads: the worker takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, worker_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return ember_fail(err, rc, "%s %s: cannot start its I/O thread: %s", w->flag, w->subject,
				  strerror(rc));
	w->started = true;
	pthread_setname_np(w->thread, thread_name);
	return 0;
}

void virtio_worker_wake(struct virtio_worker *w)
{
	if (w->wake_fd >= 0 && eventfd_write(w->wake_fd, 1) < 0) {
		/* counter saturated: the thread is due to wake anyway */
	}
}

void virtio_worker_stop(struct virtio_worker *w)
{
	if (w->started) {
		atomic_store(&w->stopping, true);
		if (eventfd_write(w->wake_fd, 1) == 0)
			pthread_join(w->thread, NULL);
		w->started = false;
	}
	if (w->wake_fd >= 0)
		close(w->wake_fd);
	w->wake_fd = -1;
}
