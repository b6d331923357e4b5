// SPDX-License-Identifier: GPL-2.0-only
/* vm/loop.c: handlers fire, and removed slots are reused (no slow leak). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <cmocka.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "vm/loop.h"

struct counter {
	struct loop *loop;
	int fd;
	int calls;
};

static void on_event(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;
	(void)events;
	if (read(c->fd, &v, sizeof(v)) == sizeof(v))
		c->calls++;
	c->loop->quit = true;
}

static void fires_and_quits(void **state)
{
	(void)state;
	struct loop loop;
	assert_int_equal(loop_init(&loop), 0);
	struct counter c = { &loop, eventfd(1, EFD_NONBLOCK), 0 };
	assert_int_equal(loop_add(&loop, c.fd, EPOLLIN, on_event, &c), 0);
	assert_int_equal(loop_run(&loop), 0);
	assert_int_equal(c.calls, 1);
	close(c.fd);
	loop_destroy(&loop);
}

static void slots_are_reused(void **state)
{
	(void)state;
	struct loop loop;
	assert_int_equal(loop_init(&loop), 0);
	int fd = eventfd(0, EFD_NONBLOCK);
	struct counter c = { &loop, fd, 0 };
	/* Far more add/remove cycles than there are slots. */
	for (int i = 0; i < 10 * LOOP_MAX_HANDLERS; i++) {
		assert_int_equal(loop_add(&loop, fd, EPOLLIN, on_event, &c), 0);
		assert_int_equal(loop_remove(&loop, fd), 0);
		/* A new batch makes retired slots reusable, as loop_run does. */
		loop.handler[0].retired = false;
	}
	assert_true(loop.nr <= 1);
	assert_int_equal(loop_remove(&loop, fd), -ENOENT);
	/* The table still fills up to its size and then refuses. */
	int fds[LOOP_MAX_HANDLERS];
	for (int i = 0; i < LOOP_MAX_HANDLERS; i++) {
		fds[i] = eventfd(0, EFD_NONBLOCK);
		assert_int_equal(loop_add(&loop, fds[i], EPOLLIN, on_event, &c), 0);
	}
	int extra = eventfd(0, EFD_NONBLOCK);
	assert_int_equal(loop_add(&loop, extra, EPOLLIN, on_event, &c), -ENOSPC);
	close(extra);
	for (int i = 0; i < LOOP_MAX_HANDLERS; i++)
		close(fds[i]);
	close(fd);
	loop_destroy(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fires_and_quits),
		cmocka_unit_test(slots_are_reused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
