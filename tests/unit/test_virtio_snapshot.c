// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/snapshot.c: a device set up by a driver through the virtio-mmio
 * registers and used for a while is saved, then restored into a brand-new
 * device of the same kind on the same guest RAM (as a restored VM has):
 * the registers read back as the driver left them, and the next request
 * lands at the next used-ring slot (not at 0, which the driver would
 * never see).  Restores that do not fit are refused: another kind of
 * device, rings outside guest RAM, features the device does not offer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/devices.h"
#include "virtio/snapshot.h"
#include "vm/machine.h"

#define QSIZE 16
#define DESC_GPA  0x1000
#define AVAIL_GPA 0x2000
#define USED_GPA  0x3000
#define BUF_GPA   0x10000
#define MEM_SIZE  (1u << 20)
#define SLOT 3

static struct machine m;
static char path[64];
static uint16_t avail_idx;

static void attach(struct virtio_device *dev, struct virtio_mmio *t)
{
	dev->machine = &m;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	virtio_mmio_init(t, dev);
}

static uint32_t rd(struct virtio_mmio *t, uint64_t off)
{
	uint32_t v = 0;
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void wr(struct virtio_mmio *t, uint64_t off, uint32_t v)
{
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, true);
}

/* What a driver does (virtio 1.2 §3.1.1), with queue 0 of QSIZE entries. */
static void driver_setup(struct virtio_mmio *t)
{
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(t, VIRTIO_MMIO_DRIVER_FEATURES, 1); /* VERSION_1 */
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK);
	wr(t, VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(t, VIRTIO_MMIO_QUEUE_NUM, QSIZE);
	wr(t, VIRTIO_MMIO_QUEUE_DESC_LOW, DESC_GPA);
	wr(t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, AVAIL_GPA);
	wr(t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, USED_GPA);
	wr(t, VIRTIO_MMIO_QUEUE_READY, 1);
	wr(t, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				  VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

/* One writable 64-byte buffer at descriptor `d`, made available. */
static void post(uint16_t d)
{
	volatile struct virtq_desc *desc = guest_ptr(&m.mem, DESC_GPA + 16ULL * d, 16);
	desc->addr = BUF_GPA + 64ULL * d;
	desc->len = 64;
	desc->flags = VIRTQ_DESC_F_WRITE;
	desc->next = 0;
	uint16_t *avail = guest_ptr(&m.mem, AVAIL_GPA, 4 + 2 * QSIZE);
	avail[2 + avail_idx % QSIZE] = d;
	avail_idx++;
	__atomic_store_n(&avail[1], avail_idx, __ATOMIC_RELEASE);
}

static void serve(struct virtio_device *dev)
{
	pthread_mutex_lock(&dev->lock);
	dev->ops->queue_notify(dev, 0);
	pthread_mutex_unlock(&dev->lock);
}

static uint16_t used_idx(void)
{
	uint16_t *used = guest_ptr(&m.mem, USED_GPA, 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(uint16_t i)
{
	struct virtq_used_elem *ring = guest_ptr(&m.mem, USED_GPA + 4, 8 * QSIZE);
	return ring[i % QSIZE];
}

/* Saves `t` into the state file and reads it back. */
static void save_and_read(struct virtio_mmio *t, struct snapshot_reader *r)
{
	struct snapshot_writer w = { 0 };
	struct ember_err err = { "" };
	assert_int_equal(virtio_mmio_save(t, SLOT, &w, &err), 0);
	assert_int_equal(snapshot_write_file(&w, "test", path, &err), 0);
	snapshot_writer_free(&w);
	if (snapshot_read_file(r, path, "test", &err))
		fail_msg("%s", err.msg);
}

static int setup(void **state)
{
	struct ember_err err = { "" };
	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	(void)state;
	memset(&m, 0, sizeof(m));
	if (guest_memory_create(&m.mem, &layout, 1, &err))
		fail_msg("%s", err.msg);
	snprintf(path, sizeof(path), "/tmp/ember-vsnap-%ld", (long)getpid());
	avail_idx = 0;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	guest_memory_destroy(&m.mem);
	unlink(path);
	return 0;
}

static void restored_device_continues_the_rings(void **state)
{
	struct virtio_device *a, *b;
	struct virtio_mmio ta, tb;
	struct snapshot_reader r;
	struct ember_err err = { "" };

	(void)state;
	assert_int_equal(virtio_rng_new(&a, &err), 0);
	attach(a, &ta);
	driver_setup(&ta);
	post(0);
	post(1);
	serve(a);
	assert_int_equal(used_idx(), 2);
	wr(&ta, VIRTIO_MMIO_QUEUE_SEL, 0);
	save_and_read(&ta, &r);
	virtio_device_destroy(a);

	assert_int_equal(virtio_rng_new(&b, &err), 0);
	attach(b, &tb);
	assert_int_equal(rd(&tb, VIRTIO_MMIO_STATUS), 0); /* a fresh device, before the restore */
	assert_int_equal(virtio_mmio_restore(&tb, SLOT, &r, &err), 0);
	assert_int_equal(rd(&tb, VIRTIO_MMIO_STATUS), VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
						       VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(rd(&tb, VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(rd(&tb, VIRTIO_MMIO_QUEUE_NUM_MAX) >= QSIZE, 1);
	post(5);
	serve(b);
	assert_int_equal(used_idx(), 3);
	assert_int_equal(used_elem(2).id, 5);
	assert_int_equal(used_elem(2).len, 64);
	snapshot_reader_free(&r);
	virtio_device_destroy(b);
}

static void pending_request_survives(void **state)
{
	struct virtio_device *a, *b;
	struct virtio_mmio ta, tb;
	struct snapshot_reader r;
	struct ember_err err = { "" };

	(void)state;
	assert_int_equal(virtio_rng_new(&a, &err), 0);
	attach(a, &ta);
	driver_setup(&ta);
	post(0);
	serve(a);
	post(7); /* kicked, not yet served when the VM paused */
	save_and_read(&ta, &r);
	virtio_device_destroy(a);
	assert_int_equal(virtio_rng_new(&b, &err), 0);
	attach(b, &tb);
	assert_int_equal(virtio_mmio_restore(&tb, SLOT, &r, &err), 0);
	serve(b);
	assert_int_equal(used_idx(), 2);
	assert_int_equal(used_elem(1).id, 7);
	snapshot_reader_free(&r);
	virtio_device_destroy(b);
}

static void misfits_are_refused(void **state)
{
	struct virtio_device *a, *other;
	struct virtio_mmio ta, to;
	struct snapshot_reader r;
	struct ember_err err = { "" };

	(void)state;
	assert_int_equal(virtio_rng_new(&a, &err), 0);
	attach(a, &ta);
	driver_setup(&ta);
	save_and_read(&ta, &r);

	/* Another kind of device in that slot. */
	assert_int_equal(virtio_console_new(STDOUT_FILENO, false, false, &other, &err), 0);
	attach(other, &to);
	assert_int_equal(virtio_mmio_restore(&to, SLOT, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "held device 4"));
	virtio_device_destroy(other);

	/* Nothing saved for this slot. */
	assert_int_equal(virtio_mmio_restore(&ta, SLOT + 1, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "missing"));

	/* Rings outside guest RAM, as a tampered state would say (the reader's buffer is ours). */
	struct snapshot_section *s = &r.section[0];
	uint64_t far = MEM_SIZE * 4ULL;
	size_t desc_off = 4 + 4 + 8 + 4 * 6; /* first queue's desc_gpa, see struct saved_device */
	memcpy((uint8_t *)s->data + desc_off, &far, sizeof(far));
	assert_int_equal(virtio_mmio_restore(&ta, SLOT, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "outside guest memory"));

	/* Features the device never offered. */
	uint64_t bogus = 1ULL << 50;
	memcpy((uint8_t *)s->data + 8, &bogus, sizeof(bogus));
	assert_int_equal(virtio_mmio_restore(&ta, SLOT, &r, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "does not offer"));
	snapshot_reader_free(&r);
	virtio_device_destroy(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(restored_device_continues_the_rings, setup, teardown),
		cmocka_unit_test_setup_teardown(pending_request_survives, setup, teardown),
		cmocka_unit_test_setup_teardown(misfits_are_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
