/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one host-side event thread: epoll over stdin, signals, device
 * eventfds.  Callbacks run on the loop thread, one at a time.
 */
#ifndef EMBER_VM_LOOP_H
#define EMBER_VM_LOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*loop_fn)(void *opaque, uint32_t events);

#define LOOP_MAX_HANDLERS 32

struct loop_handler {
	int fd;          /* -1: free slot */
	loop_fn fn;
	void *opaque;
	bool retired;    /* removed during this epoll batch: not reusable until the next */
};

struct loop {
	int epoll_fd;
	struct loop_handler handler[LOOP_MAX_HANDLERS];
	unsigned nr;
	bool quit;
};

int loop_init(struct loop *loop);
void loop_destroy(struct loop *loop);
/* Watches fd for `events` (EPOLLIN...); -EPERM for files epoll cannot watch. */
int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *opaque);
int loop_remove(struct loop *loop, int fd);
/* Runs until loop->quit is set by a callback. */
int loop_run(struct loop *loop);
/* Dispatches the events already pending, without waiting (after loop_run ended). */
void loop_drain(struct loop *loop);

#endif
