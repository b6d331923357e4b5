// SPDX-License-Identifier: GPL-2.0-only
#include "vm/loop.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

int loop_init(struct loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

void loop_destroy(struct loop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
}

/* A free slot; slots retired in the current batch may still have events queued for them. */
static struct loop_handler *free_slot(struct loop *loop)
{
	for (unsigned i = 0; i < loop->nr; i++)
		if (loop->handler[i].fd < 0 && !loop->handler[i].retired)
			return &loop->handler[i];
	return loop->nr < LOOP_MAX_HANDLERS ? &loop->handler[loop->nr] : NULL;
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *opaque)
{
	struct loop_handler *h = free_slot(loop);
	if (!h)
		return -ENOSPC;
	struct epoll_event ev = { .events = events, .data.ptr = h };
	if (epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	*h = (struct loop_handler){ fd, fn, opaque, false };
	if (h == &loop->handler[loop->nr])
		loop->nr++;
	return 0;
}

int loop_remove(struct loop *loop, int fd)
{
	for (unsigned i = 0; i < loop->nr; i++) {
		if (loop->handler[i].fd != fd)
			continue;
		epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		/* epoll may still hold an event for this slot in the current batch. */
		loop->handler[i].fd = -1;
		loop->handler[i].fn = NULL;
		loop->handler[i].retired = true;
		return 0;
	}
	return -ENOENT;
}

int loop_run(struct loop *loop)
{
	struct epoll_event ev[8];

	while (!loop->quit) {
		for (unsigned i = 0; i < loop->nr; i++)
			loop->handler[i].retired = false;
		int n = epoll_wait(loop->epoll_fd, ev, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < n && !loop->quit; i++) {
			struct loop_handler *h = ev[i].data.ptr;
			if (h->fn)
				h->fn(h->opaque, ev[i].events);
		}
	}
	return 0;
}

void loop_drain(struct loop *loop)
{
	struct epoll_event ev[8];
	/* Bounded: a handler that keeps its fd readable cannot hold teardown up. */
	for (int round = 0; round < 4; round++) {
		int n = epoll_wait(loop->epoll_fd, ev, 8, 0);
		if (n <= 0)
			return;
		for (int i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;
			if (h->fn)
				h->fn(h->opaque, ev[i].events);
		}
	}
}
