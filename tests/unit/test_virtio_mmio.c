// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/mmio.c's register file (virtio 1.2 §4.2.2), driven through
 * virtio_mmio_access() on a fake device: no KVM, no irqfd (irq_fd = -1),
 * a fake machine that only has guest memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/mmio.h"
#include "vm/machine.h"

#define RAM_SIZE  0x20000ULL
#define DESC_GPA  0x1000ULL
#define AVAIL_GPA 0x2000ULL
#define USED_GPA  0x3000ULL

#define FAKE_DEVICE_ID 42
#define FAKE_FEATURE   5 /* a device-specific feature bit */
#define FAKE_QMAX      16

struct fake {
	unsigned resets, activations;
	uint8_t config[8];
	uint32_t config_write_off;
	uint8_t config_written[8];
	unsigned config_write_len;
};

static struct fake fake;

static void fake_config_read(struct virtio_device *dev, uint32_t offset, void *data, unsigned len)
{
	(void)dev;
	memcpy(data, fake.config + offset, len);
}

static void fake_config_write(struct virtio_device *dev, uint32_t offset, const void *data,
			      unsigned len)
{
	(void)dev;
	fake.config_write_off = offset;
	fake.config_write_len = len;
	memcpy(fake.config_written, data, len);
}

static void fake_activate(struct virtio_device *dev)
{
	(void)dev;
	fake.activations++;
}

static void fake_reset(struct virtio_device *dev)
{
	(void)dev;
	fake.resets++;
}

static const struct virtio_device_ops fake_ops = {
	.config_read = fake_config_read,
	.config_write = fake_config_write,
	.activate = fake_activate,
	.reset = fake_reset,
};

static struct machine vm;
static struct virtio_device dev;
static struct virtio_mmio t;

static int setup(void **state)
{
	struct guest_region layout = { .gpa = 0, .size = RAM_SIZE };
	struct ember_err err = { "" };

	(void)state;
	memset(&fake, 0, sizeof(fake));
	memset(&vm, 0, sizeof(vm));
	memset(&dev, 0, sizeof(dev));
	if (guest_memory_create(&vm.mem, &layout, 1, &err) != 0)
		fail_msg("guest_memory_create: %s", err.msg);
	for (unsigned i = 0; i < sizeof(fake.config); i++)
		fake.config[i] = (uint8_t)(0x10 + i);
	/* What a device constructor fills in. */
	dev.name = "virtio-fake";
	dev.device_id = FAKE_DEVICE_ID;
	dev.num_queues = 2;
	dev.queue_max_size = FAKE_QMAX;
	dev.features = 1ULL << FAKE_FEATURE;
	dev.config_size = sizeof(fake.config);
	dev.ops = &fake_ops;
	dev.machine = &vm;
	dev.irq_fd = -1;
	dev.broken_logged = true; /* keeps virtio_set_needs_reset()'s one log line out of test output */
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev.kick_fd[q] = -1;
	pthread_mutex_init(&dev.lock, NULL);
	virtio_mmio_init(&t, &dev);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	pthread_mutex_destroy(&dev.lock);
	guest_memory_destroy(&vm.mem);
	return 0;
}

static uint32_t rd(uint64_t off)
{
	uint8_t data[4] = { 0xff, 0xff, 0xff, 0xff }; /* the bus presets an open bus */
	uint32_t v;
	virtio_mmio_access(&t, off, data, 4, false);
	memcpy(&v, data, 4);
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	uint8_t data[4];
	memcpy(data, &v, 4);
	virtio_mmio_access(&t, off, data, 4, true);
}

static void write_features(uint64_t f)
{
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)f);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(f >> 32));
}

#define S_AD (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER)
#define S_FOK (S_AD | VIRTIO_STATUS_FEATURES_OK)

/* The driver's side of §3.1.1 up to FEATURES_OK; returns the status read back. */
static uint32_t negotiate(uint64_t features)
{
	wr(VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	wr(VIRTIO_MMIO_STATUS, S_AD);
	write_features(features);
	wr(VIRTIO_MMIO_STATUS, S_FOK);
	return rd(VIRTIO_MMIO_STATUS);
}

static void set_queue(unsigned q, uint32_t num, uint64_t desc, uint64_t avail, uint64_t used)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, q);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(used >> 32));
}

static const uint64_t V1 = 1ULL << VIRTIO_F_VERSION_1;

/* ---- identity and features ---------------------------------------------- */

static void identity(void **state)
{
	(void)state;
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), FAKE_DEVICE_ID);
	assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID), VIRTIO_MMIO_VENDOR);
	/* Read-only: writes change nothing. */
	wr(VIRTIO_MMIO_MAGIC_VALUE, 0);
	wr(VIRTIO_MMIO_DEVICE_ID, 7);
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), FAKE_DEVICE_ID);
}

static void device_features_in_halves(void **state)
{
	(void)state;
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint32_t low = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	assert_true(low & (1u << VIRTIO_RING_F_EVENT_IDX));
	assert_true(low & (1u << VIRTIO_RING_F_INDIRECT_DESC));
	assert_true(low & (1u << FAKE_FEATURE));
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	uint32_t high = rd(VIRTIO_MMIO_DEVICE_FEATURES);
	assert_int_equal(high & 1, 1); /* VERSION_1 is bit 32 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0xffffffff);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
}

static void driver_features_in_halves(void **state)
{
	(void)state;
	wr(VIRTIO_MMIO_STATUS, S_AD);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << VIRTIO_RING_F_EVENT_IDX);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	assert_int_equal(dev.driver_features, V1 | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	/* Rewriting one half leaves the other alone. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1u << FAKE_FEATURE);
	assert_int_equal(dev.driver_features, V1 | (1ULL << FAKE_FEATURE));
	/* Selectors past 1 select nothing. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 2);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0xffffffff);
	assert_int_equal(dev.driver_features, V1 | (1ULL << FAKE_FEATURE));
}

static void features_ok_needs_version_1(void **state)
{
	(void)state;
	/* A legacy driver (no VERSION_1): FEATURES_OK does not stick. */
	uint32_t status = negotiate(1ULL << VIRTIO_RING_F_EVENT_IDX);
	assert_int_equal(status & VIRTIO_STATUS_FEATURES_OK, 0);
	assert_int_equal(status, S_AD);

	/* Nor does it for a feature the device never offered. */
	wr(VIRTIO_MMIO_STATUS, 0);
	status = negotiate(V1 | (1ULL << 40));
	assert_int_equal(status & VIRTIO_STATUS_FEATURES_OK, 0);

	wr(VIRTIO_MMIO_STATUS, 0);
	status = negotiate(V1 | (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << FAKE_FEATURE));
	assert_int_equal(status, S_FOK);
}

static void features_frozen_after_features_ok(void **state)
{
	(void)state;
	assert_int_equal(negotiate(V1), S_FOK);
	write_features(V1 | (1ULL << VIRTIO_RING_F_EVENT_IDX));
	assert_int_equal(dev.driver_features, V1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	assert_int_equal(dev.driver_features, V1);
}

static void driver_ok_activates_once(void **state)
{
	(void)state;
	assert_int_equal(negotiate(V1), S_FOK);
	wr(VIRTIO_MMIO_STATUS, S_FOK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(fake.activations, 1);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), S_FOK | VIRTIO_STATUS_DRIVER_OK);
	assert_true(virtio_is_live(&dev));
	wr(VIRTIO_MMIO_STATUS, S_FOK | VIRTIO_STATUS_DRIVER_OK);
	assert_int_equal(fake.activations, 1);
}

/* ---- queues -------------------------------------------------------------------- */

static void queue_num_max(void **state)
{
	(void)state;
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), FAKE_QMAX);
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), FAKE_QMAX);
	/* Queues the device does not have: size 0, never ready, writes ignored. */
	wr(VIRTIO_MMIO_QUEUE_SEL, 2);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, 8);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, VIRTIO_MAX_QUEUES + 100);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		assert_false(dev.vq[q].ready);
}

static void queue_ready_starts_the_queue(void **state)
{
	(void)state;
	assert_int_equal(negotiate(V1 | (1ULL << VIRTIO_RING_F_EVENT_IDX)), S_FOK);
	set_queue(1, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	struct virtq *q = &dev.vq[1];
	assert_true(q->ready);
	assert_int_equal(q->size, 8);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	assert_ptr_equal((void *)q->desc, guest_ptr(&vm.mem, DESC_GPA, 1));
	assert_true(q->event_idx);
	assert_false(q->indirect);
	assert_false(dev.vq[0].ready);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET, 0);
}

static void expect_needs_reset(void)
{
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & 2); /* configuration change */
	assert_false(virtio_is_live(&dev));
}

static void queue_ready_with_bad_rings(void **state)
{
	(void)state;
	const struct { uint32_t num; uint64_t desc, avail, used; } cases[] = {
		{ 8, 0x7ff000000000ULL, AVAIL_GPA, USED_GPA },   /* outside RAM */
		{ 8, DESC_GPA, RAM_SIZE - 4, USED_GPA },          /* crosses the end */
		{ 8, DESC_GPA, AVAIL_GPA, RAM_SIZE },             /* just past the end */
		{ 8, DESC_GPA + 4, AVAIL_GPA, USED_GPA },         /* misaligned */
		{ 6, DESC_GPA, AVAIL_GPA, USED_GPA },             /* not a power of two */
		{ FAKE_QMAX * 2, DESC_GPA, AVAIL_GPA, USED_GPA }, /* above QueueNumMax */
		{ 0, DESC_GPA, AVAIL_GPA, USED_GPA },             /* never set */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		wr(VIRTIO_MMIO_STATUS, 0);
		assert_int_equal(negotiate(V1), S_FOK);
		set_queue(0, cases[i].num, cases[i].desc, cases[i].avail, cases[i].used);
		wr(VIRTIO_MMIO_QUEUE_READY, 1);
		expect_needs_reset();
		/* The driver cannot clear NEEDS_RESET but by a reset. */
		wr(VIRTIO_MMIO_STATUS, S_FOK | VIRTIO_STATUS_DRIVER_OK);
		assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
		assert_false(virtio_is_live(&dev));
	}
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
}

static void queue_frozen_while_ready(void **state)
{
	(void)state;
	assert_int_equal(negotiate(V1), S_FOK);
	set_queue(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	set_queue(0, 4, 0x4000, 0x5000, 0x6000);
	struct virtq *q = &dev.vq[0];
	assert_true(q->ready);
	assert_int_equal(q->size, 8);
	assert_int_equal(q->desc_gpa, DESC_GPA);
	assert_int_equal(q->avail_gpa, AVAIL_GPA);
	assert_int_equal(q->used_gpa, USED_GPA);
	/* A second QueueReady=1 does not restart it either. */
	q->last_avail = 3;
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(q->last_avail, 3);
}

static void status_zero_resets_everything(void **state)
{
	(void)state;
	assert_int_equal(negotiate(V1 | (1ULL << VIRTIO_RING_F_INDIRECT_DESC)), S_FOK);
	set_queue(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	set_queue(1, 4, 0x7ff000000000ULL, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1); /* NEEDS_RESET, config interrupt */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	atomic_fetch_or(&dev.interrupt_status, 1);

	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(fake.resets, 1);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(dev.driver_features, 0);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(t.queue_sel, 0);
	assert_int_equal(t.device_features_sel, 0);
	assert_int_equal(t.driver_features_sel, 0);
	for (unsigned q = 0; q < 2; q++) {
		wr(VIRTIO_MMIO_QUEUE_SEL, q);
		assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
		assert_int_equal(dev.vq[q].size, 0);
		assert_int_equal(dev.vq[q].desc_gpa, 0);
		assert_null(dev.vq[q].desc);
	}
	/* And the device can be brought up again from scratch. */
	assert_int_equal(negotiate(V1), S_FOK);
	set_queue(0, 8, DESC_GPA, AVAIL_GPA, USED_GPA);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	assert_false(dev.vq[0].indirect);
}

static void interrupt_ack(void **state)
{
	(void)state;
	atomic_store(&dev.interrupt_status, 3);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 3);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, 1);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 2);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, 2);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	/* The status register itself is read-only. */
	wr(VIRTIO_MMIO_INTERRUPT_STATUS, 3);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);

	/* virtio_notify_config raises bit 1 and bumps the generation. */
	uint32_t gen = rd(VIRTIO_MMIO_CONFIG_GENERATION);
	virtio_notify_config(&dev);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 2);
	assert_int_not_equal(rd(VIRTIO_MMIO_CONFIG_GENERATION), gen);
}

/* ---- config space and odd accesses ------------------------------------------ */

static void config_space(void **state)
{
	(void)state;
	uint8_t b[8];

	assert_int_equal(rd(VIRTIO_MMIO_CONFIG), 0x13121110);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 4), 0x17161514);
	/* Byte and 16-bit accesses are fine in config space. */
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(&t, VIRTIO_MMIO_CONFIG + 7, b, 1, false);
	assert_int_equal(b[0], 0x17);
	virtio_mmio_access(&t, VIRTIO_MMIO_CONFIG + 2, b, 2, false);
	assert_int_equal(b[0], 0x12);
	assert_int_equal(b[1], 0x13);
	/* Crossing the end, or past it: zeros, config_read not asked. */
	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(&t, VIRTIO_MMIO_CONFIG + 6, b, 4, false);
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	assert_int_equal(rd(VIRTIO_MMIO_CONFIG + 8), 0);
	assert_int_equal(rd(VIRTIO_MMIO_SIZE - 4), 0);

	/* Writes inside go to config_write; outside are dropped. */
	wr(VIRTIO_MMIO_CONFIG + 4, 0xdeadbeef);
	assert_int_equal(fake.config_write_off, 4);
	assert_int_equal(fake.config_write_len, 4);
	assert_memory_equal(fake.config_written, "\xef\xbe\xad\xde", 4);
	fake.config_write_len = 0;
	wr(VIRTIO_MMIO_CONFIG + 6, 0x11111111);
	wr(VIRTIO_MMIO_CONFIG + 0x100, 0x11111111);
	assert_int_equal(fake.config_write_len, 0);
}

static void odd_register_accesses(void **state)
{
	(void)state;
	uint8_t b[8];

	/* Registers are 32-bit: byte, 16-bit, 64-bit and unaligned accesses are ignored. */
	uint8_t one = VIRTIO_STATUS_ACKNOWLEDGE;
	virtio_mmio_access(&t, VIRTIO_MMIO_STATUS, &one, 1, true);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	uint8_t eight[8] = { VIRTIO_STATUS_ACKNOWLEDGE };
	virtio_mmio_access(&t, VIRTIO_MMIO_STATUS, eight, 8, true);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	uint8_t four[4] = { 0, VIRTIO_STATUS_ACKNOWLEDGE, 0, 0 };
	virtio_mmio_access(&t, VIRTIO_MMIO_STATUS - 1, four, 4, true);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);

	memset(b, 0xff, sizeof(b));
	virtio_mmio_access(&t, VIRTIO_MMIO_MAGIC_VALUE, b, 2, false);
	assert_int_equal(b[0], 0xff); /* untouched: the bus's open-bus value stays */
	assert_int_equal(b[1], 0xff);
	virtio_mmio_access(&t, VIRTIO_MMIO_MAGIC_VALUE + 1, b, 4, false);
	assert_int_equal(b[0], 0xff);

	/* Unknown and write-only registers read 0; unknown writes do nothing. */
	assert_int_equal(rd(0x0c0), 0);
	assert_int_equal(rd(0x0f0), 0);
	assert_int_equal(rd(0x0ec), 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NOTIFY), 0);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_ACK), 0);
	wr(0x0c0, 0xffffffff);
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0); /* KVM's ioeventfd takes these: nothing here */
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	/* No shared memory regions: length reads as all ones (virtio 1.2 §4.2.2). */
	assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(identity),
		T(device_features_in_halves),
		T(driver_features_in_halves),
		T(features_ok_needs_version_1),
		T(features_frozen_after_features_ok),
		T(driver_ok_activates_once),
		T(queue_num_max),
		T(queue_ready_starts_the_queue),
		T(queue_ready_with_bad_rings),
		T(queue_frozen_while_ready),
		T(status_zero_resets_everything),
		T(interrupt_ack),
		T(config_space),
		T(odd_register_accesses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
