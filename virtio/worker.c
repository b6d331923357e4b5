// SPDX-License-Identifier: GPL-2.0-only
#include "virtio/worker.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm/machine.h"

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

static bool drain(int fd)
{
	uint64_t count;
	return read(fd, &count, sizeof(count)) == sizeof(count);
}

/* Index in the poll set: the wake fd, then each worker-served queue, then the extras. */
struct worker_fds {
	struct pollfd pfd[1 + VIRTIO_MAX_QUEUES + VIRTIO_WORKER_MAX_EXTRA];
	unsigned queue[VIRTIO_MAX_QUEUES]; /* queue number of pfd[1 + i] */
	unsigned nr_queues, nr;
};

static void collect_fds(const struct virtio_worker *w, struct worker_fds *f)
{
	const struct virtio_device *dev = w->dev;

	memset(f, 0, sizeof(*f));
	f->pfd[f->nr++] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };
	for (unsigned q = 0; q < dev->num_queues; q++) {
		if (dev->queue_service[q] != VIRTIO_QUEUE_ON_WORKER)
			continue;
		f->queue[f->nr_queues++] = q;
		f->pfd[f->nr++] = (struct pollfd){ .fd = dev->kick_fd[q], .events = POLLIN };
	}
	for (unsigned i = 0; i < w->nr_extra; i++)
		f->pfd[f->nr++] = (struct pollfd){
			.fd = atomic_load(&w->extra_off[i]) ? -1 : w->extra_fd[i], .events = POLLIN };
}

/* Which queues and extras are pending after a poll (kick counters consumed). */
static uint32_t pending_mask(const struct virtio_worker *w, struct worker_fds *f)
{
	const struct virtio_device *dev = w->dev;
	uint32_t pending = 0;

	if (drain(w->wake_fd)) {
		/* Woken (activate): look at every worker-served queue. */
		for (unsigned i = 0; i < f->nr_queues; i++)
			pending |= VIRTIO_WORKER_QUEUE(f->queue[i]);
	}
	for (unsigned i = 0; i < f->nr_queues; i++)
		if (drain(f->pfd[1 + i].fd))
			pending |= VIRTIO_WORKER_QUEUE(f->queue[i]);
	for (unsigned i = 0; i < w->nr_extra; i++)
		if (f->pfd[1 + f->nr_queues + i].revents)
			pending |= VIRTIO_WORKER_EXTRA(i);
	/* Kicks count only for queues the driver has running, on a live device. */
	for (unsigned q = 0; q < dev->num_queues; q++)
		if (!dev->vq[q].ready || !virtio_is_live(dev))
			pending &= ~VIRTIO_WORKER_QUEUE(q);
	return pending;
}

static void *worker_thread(void *opaque)
{
	struct virtio_worker *w = opaque;
	struct virtio_device *dev = w->dev;
	struct worker_fds f;

	/*
	 * Named by the thread itself (prctl): naming another thread writes
	 * /proc/self/task/TID/comm, which Landlock (vm/sandbox.h) refuses.
	 */
	pthread_setname_np(pthread_self(), w->name);
	while (!atomic_load(&w->stopping)) {
		collect_fds(w, &f); /* again each time: an extra fd may have been switched off */
		if (poll(f.pfd, f.nr, -1) < 0) {
			if (errno == EINTR)
				continue;
			struct ember_err why;
			ember_fail(&why, errno, "%s %s: I/O thread: poll: %s", w->flag, w->subject,
				   strerror(errno));
			machine_request_failure(dev->machine, &why);
			break;
		}
		if (atomic_load(&w->stopping))
			break;
		pthread_mutex_lock(&dev->lock);
		uint32_t pending = pending_mask(w, &f);
		if (pending)
			w->serve(dev, pending);
		pthread_mutex_unlock(&dev->lock);
	}
	return NULL;
}

int virtio_worker_init(struct virtio_worker *w, struct virtio_device *dev, virtio_worker_fn serve,
		       const char *flag, const char *subject, struct ember_err *err)
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

int virtio_worker_watch(struct virtio_worker *w, int fd)
{
	if (w->started || w->nr_extra == VIRTIO_WORKER_MAX_EXTRA)
		return -ENOSPC;
	w->extra_fd[w->nr_extra++] = fd;
	return 0;
}

void virtio_worker_watch_enable(struct virtio_worker *w, unsigned i, bool on)
{
	if (i < w->nr_extra)
		atomic_store(&w->extra_off[i], !on);
}

int virtio_worker_start(struct virtio_worker *w, const char *thread_name, struct ember_err *err)
{
	sigset_t all, old;

	snprintf(w->name, sizeof(w->name), "%s", thread_name);
	/* Signals are for the main and vCPU threads: the worker takes none. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int rc = pthread_create(&w->thread, NULL, worker_thread, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return ember_fail(err, rc, "%s %s: cannot start its I/O thread: %s", w->flag, w->subject,
				  strerror(rc));
	w->started = true;
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
