// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/worker.c's I/O thread as a device with a back end of its own
 * (net with a tap, vsock with sockets) will use it: two queues served on
 * the worker, one on the event loop, and an extra host fd.  The serve
 * callback must see exactly what fired: a kick of a ready worker queue,
 * the extra fd, or every ready worker queue after a wake; nothing for a
 * loop-served queue, a queue that is not ready, a kick of a device not
 * live (its extra fds still come: their back end is the device's business),
 * or an extra fd switched off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/worker.h"
#include "vm/machine.h"

static struct machine machine;
static struct virtio_device dev;
static struct virtio_worker worker;
static int pipe_fd[2];

static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t seen_cond = PTHREAD_COND_INITIALIZER;
static uint32_t seen;       /* OR of every pending mask served */
static unsigned serves;

static void serve(struct virtio_device *d, uint32_t pending)
{
	char buf[16];

	assert_ptr_equal(d, &dev);
	if (pending & VIRTIO_WORKER_EXTRA(0)) {
		/* Consume what woke us, as a device reading its tap would. */
		if (read(pipe_fd[0], buf, sizeof(buf)) < 0)
			fail_msg("read: %s", strerror(errno));
	}
	pthread_mutex_lock(&seen_lock);
	seen |= pending;
	serves++;
	pthread_cond_broadcast(&seen_cond);
	pthread_mutex_unlock(&seen_lock);
}

/* Waits up to 2 s for a serve with `bits`; returns the whole mask seen since the last call. */
static uint32_t wait_for(uint32_t bits)
{
	struct timespec until;
	uint32_t got;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 2;
	pthread_mutex_lock(&seen_lock);
	while ((seen & bits) != bits &&
	       pthread_cond_timedwait(&seen_cond, &seen_lock, &until) == 0)
		;
	got = seen;
	seen = 0;
	pthread_mutex_unlock(&seen_lock);
	return got;
}

/* Nothing is served within 100 ms. */
static void assert_quiet(void)
{
	usleep(100 * 1000);
	pthread_mutex_lock(&seen_lock);
	uint32_t got = seen;
	seen = 0;
	pthread_mutex_unlock(&seen_lock);
	assert_int_equal(got, 0);
}

static int setup(void **state)
{
	struct ember_err err = { "" };

	(void)state;
	memset(&machine, 0, sizeof(machine));
	memset(&dev, 0, sizeof(dev));
	seen = serves = 0;
	dev.name = "virtio-test";
	dev.num_queues = 3;
	dev.queue_service[0] = VIRTIO_QUEUE_ON_WORKER;
	dev.queue_service[1] = VIRTIO_QUEUE_ON_LOOP;
	dev.queue_service[2] = VIRTIO_QUEUE_ON_WORKER;
	dev.machine = &machine;
	pthread_mutex_init(&dev.lock, NULL);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev.kick_fd[q] = q < dev.num_queues ? eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) : -1;
	dev.status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		     VIRTIO_STATUS_DRIVER_OK;
	for (unsigned q = 0; q < dev.num_queues; q++)
		dev.vq[q].ready = true;
	assert_int_equal(pipe2(pipe_fd, O_CLOEXEC | O_NONBLOCK), 0);
	assert_int_equal(virtio_worker_init(&worker, &dev, serve, "--test", "fake", &err), 0);
	assert_int_equal(virtio_worker_watch(&worker, pipe_fd[0]), 0);
	assert_int_equal(virtio_worker_start(&worker, "ember-test", &err), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	virtio_worker_stop(&worker);
	for (unsigned q = 0; q < dev.num_queues; q++)
		close(dev.kick_fd[q]);
	close(pipe_fd[0]);
	close(pipe_fd[1]);
	pthread_mutex_destroy(&dev.lock);
	return 0;
}

static void kick(unsigned q)
{
	assert_int_equal(eventfd_write(dev.kick_fd[q], 1), 0);
}

static void serves_the_kicked_queue(void **state)
{
	(void)state;
	kick(2);
	assert_int_equal(wait_for(VIRTIO_WORKER_QUEUE(2)), VIRTIO_WORKER_QUEUE(2));
	kick(0);
	assert_int_equal(wait_for(VIRTIO_WORKER_QUEUE(0)), VIRTIO_WORKER_QUEUE(0));
}

static void loop_queue_is_not_its_business(void **state)
{
	(void)state;
	kick(1); /* the event loop serves queue 1 */
	assert_quiet();
	uint64_t count;
	assert_int_equal(read(dev.kick_fd[1], &count, sizeof(count)), sizeof(count)); /* still pending */
}

static void extra_fd_wakes_it(void **state)
{
	(void)state;
	assert_int_equal(write(pipe_fd[1], "frame", 5), 5);
	assert_int_equal(wait_for(VIRTIO_WORKER_EXTRA(0)), VIRTIO_WORKER_EXTRA(0));
	assert_quiet(); /* consumed: level-triggered poll does not spin on it */
}

static void wake_looks_at_every_ready_worker_queue(void **state)
{
	(void)state;
	pthread_mutex_lock(&dev.lock);
	dev.vq[2].ready = false;
	pthread_mutex_unlock(&dev.lock);
	virtio_worker_wake(&worker);
	assert_int_equal(wait_for(VIRTIO_WORKER_QUEUE(0)), VIRTIO_WORKER_QUEUE(0));
	kick(2); /* not ready: the kick is consumed, nothing served */
	assert_quiet();
}

static void no_kicks_while_not_live(void **state)
{
	(void)state;
	pthread_mutex_lock(&dev.lock);
	dev.status |= VIRTIO_STATUS_NEEDS_RESET;
	pthread_mutex_unlock(&dev.lock);
	kick(0);
	usleep(100 * 1000);
	pthread_mutex_lock(&seen_lock);
	assert_int_equal(serves, 0);
	pthread_mutex_unlock(&seen_lock);
	/* A host fd is not the driver's: it is still served. */
	assert_int_equal(write(pipe_fd[1], "x", 1), 1);
	assert_int_equal(wait_for(VIRTIO_WORKER_EXTRA(0)), VIRTIO_WORKER_EXTRA(0));
}

static void extra_fd_switched_off_waits(void **state)
{
	(void)state;
	virtio_worker_watch_enable(&worker, 0, false);
	virtio_worker_wake(&worker); /* the thread picks up the change at its next wait */
	assert_true(wait_for(VIRTIO_WORKER_QUEUE(0)) & VIRTIO_WORKER_QUEUE(0));
	assert_int_equal(write(pipe_fd[1], "frame", 5), 5);
	assert_quiet(); /* readable, but off: not served, and no spinning */
	virtio_worker_watch_enable(&worker, 0, true);
	virtio_worker_wake(&worker);
	assert_true(wait_for(VIRTIO_WORKER_EXTRA(0)) & VIRTIO_WORKER_EXTRA(0));
}

static void watch_limits(void **state)
{
	(void)state;
	/* Started: the poll set is fixed. */
	assert_int_equal(virtio_worker_watch(&worker, pipe_fd[1]), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(serves_the_kicked_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(loop_queue_is_not_its_business, setup, teardown),
		cmocka_unit_test_setup_teardown(extra_fd_wakes_it, setup, teardown),
		cmocka_unit_test_setup_teardown(wake_looks_at_every_ready_worker_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(no_kicks_while_not_live, setup, teardown),
		cmocka_unit_test_setup_teardown(extra_fd_switched_off_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(watch_limits, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
