// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/blk.c driven like a guest driver drives it, without KVM: a fake
 * VM with a few MiB of guest memory, a split virtqueue laid out by hand in
 * it, requests written into it, and a temporary image file on the host.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "vm/machine.h"

#define MiB (1ULL << 20)
#define SECTOR 512
#define IMAGE_SECTORS 256 /* 128 KiB image */
#define QSIZE 16

/* Guest-physical layout of the fake VM. */
#define DESC_GPA     0x1000
#define AVAIL_GPA    0x2000
#define USED_GPA     0x3000
#define INDIRECT_GPA 0x4000
#define HEAP_GPA     0x10000
#define MEM_SIZE     (4 * MiB)

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

struct fx {
	struct machine vm;
	struct virtio_blk *blk;
	struct virtio_device *dev;
	char path[64];
	uint64_t heap;          /* bump allocator for request buffers */
	uint16_t avail_idx;
};

/* One buffer of a chain the test builds. */
struct seg {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

static void *gptr(struct fx *f, uint64_t gpa, uint64_t len)
{
	void *p = guest_ptr(&f->vm.mem, gpa, len);
	assert_non_null(p);
	return p;
}

static uint64_t galloc(struct fx *f, uint32_t len)
{
	uint64_t gpa = f->heap;
	f->heap = (f->heap + len + 15) & ~15ULL;
	assert_true(f->heap < MEM_SIZE);
	memset(gptr(f, gpa, len), 0xcc, len); /* stale bytes, so "zeroed by the device" means something */
	return gpa;
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7 + seed * 13 + (i >> 9));
}

/* Creates the image (filled with a pattern) and the device; a live queue 0. */
static struct fx *fx_new(size_t image_bytes, bool ro, const char *serial)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct ember_err err = { "" };
	assert_non_null(f);

	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(f->path, sizeof(f->path), "%s/ember-blk-XXXXXX", tmp);
	int fd = mkstemp(f->path);
	assert_true(fd >= 0);
	uint8_t *img = malloc(image_bytes);
	pattern(img, image_bytes, 1);
	assert_int_equal(write(fd, img, image_bytes), (ssize_t)image_bytes);
	free(img);
	close(fd);

	struct guest_region layout = { .gpa = 0, .size = MEM_SIZE };
	if (guest_memory_create(&f->vm.mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);

	f->blk = malloc(sizeof(*f->blk));
	struct ember_disk disk = { .path = f->path, .read_only = ro, .serial = serial };
	if (virtio_blk_init(f->blk, &disk, &err))
		fail_msg("virtio_blk_init: %s", err.msg);

	/* What virtio_device_attach and a driver's setup would have done. */
	struct virtio_device *dev = &f->blk->dev;
	f->dev = dev;
	dev->machine = &f->vm;
	pthread_mutex_init(&dev->lock, NULL);
	dev->irq_fd = -1;
	for (unsigned q = 0; q < VIRTIO_MAX_QUEUES; q++)
		dev->kick_fd[q] = -1;
	dev->driver_features = dev->features | (1ULL << VIRTIO_F_VERSION_1) |
			       (1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	dev->status = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		      VIRTIO_STATUS_DRIVER_OK;
	struct virtq *q = &dev->vq[0];
	q->size = QSIZE;
	q->desc_gpa = DESC_GPA;
	q->avail_gpa = AVAIL_GPA;
	q->used_gpa = USED_GPA;
	assert_int_equal(virtq_start(q, &f->vm.mem, false, true), 0);
	q->ready = true;
	f->heap = HEAP_GPA;
	return f;
}

static void fx_free(struct fx *f)
{
	virtio_blk_uninit(f->blk);
	pthread_mutex_destroy(&f->dev->lock);
	free(f->blk);
	guest_memory_destroy(&f->vm.mem);
	unlink(f->path);
	free(f);
}

/* Writes a chain into the descriptor table (or an indirect table) and makes it available. */
static void submit(struct fx *f, const struct seg *segs, unsigned n, bool indirect)
{
	volatile struct virtq_desc *table = gptr(f, indirect ? INDIRECT_GPA : DESC_GPA,
						  16 * (uint64_t)n);
	for (unsigned i = 0; i < n; i++) {
		table[i].addr = segs[i].gpa;
		table[i].len = segs[i].len;
		table[i].flags = (uint16_t)((segs[i].writable ? VIRTQ_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		table[i].next = (uint16_t)(i + 1);
	}
	if (indirect) {
		volatile struct virtq_desc *d = gptr(f, DESC_GPA, 16);
		d->addr = INDIRECT_GPA;
		d->len = 16 * n;
		d->flags = VIRTQ_DESC_F_INDIRECT;
		d->next = 0;
	}
	uint16_t *avail = gptr(f, AVAIL_GPA, 6 + 2 * QSIZE);
	avail[2 + f->avail_idx % QSIZE] = 0; /* every chain starts at descriptor 0 */
	f->avail_idx++;
	__atomic_store_n(&avail[1], f->avail_idx, __ATOMIC_RELEASE);
}

static void process(struct fx *f)
{
	pthread_mutex_lock(&f->dev->lock);
	virtio_blk_process_queue(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
}

static uint16_t used_idx(struct fx *f)
{
	uint16_t *used = gptr(f, USED_GPA, 4);
	return __atomic_load_n(&used[1], __ATOMIC_ACQUIRE);
}

static struct virtq_used_elem used_elem(struct fx *f, uint16_t i)
{
	struct virtq_used_elem *ring = gptr(f, USED_GPA + 4, 8 * QSIZE);
	return ring[i % QSIZE];
}

static uint64_t header(struct fx *f, uint32_t type, uint64_t sector)
{
	uint64_t gpa = galloc(f, 16);
	struct virtio_blk_req_hdr h = { .type = type, .sector = sector };
	memcpy(gptr(f, gpa, 16), &h, 16);
	return gpa;
}

/* A request as Linux builds it: header | data (if any) | status.  Returns the status byte. */
struct result {
	uint8_t status;
	uint32_t used_len;
};

static struct result request(struct fx *f, uint32_t type, uint64_t sector, uint64_t data_gpa,
			     uint32_t data_len, bool data_writable)
{
	uint64_t status_gpa = galloc(f, 1);
	struct seg segs[3];
	unsigned n = 0;
	uint16_t before = used_idx(f);

	segs[n++] = (struct seg){ header(f, type, sector), 16, false };
	if (data_len)
		segs[n++] = (struct seg){ data_gpa, data_len, data_writable };
	segs[n++] = (struct seg){ status_gpa, 1, true };
	submit(f, segs, n, false);
	process(f);
	assert_int_equal(used_idx(f), (uint16_t)(before + 1));
	struct virtq_used_elem e = used_elem(f, before);
	assert_int_equal(e.id, 0);
	return (struct result){ *(uint8_t *)gptr(f, status_gpa, 1), e.len };
}

static struct result discard_req(struct fx *f, uint32_t type, uint64_t sector, uint32_t count,
				 uint32_t flags)
{
	uint64_t gpa = galloc(f, 16);
	struct virtio_blk_discard_write_zeroes s = { sector, count, flags };
	memcpy(gptr(f, gpa, 16), &s, 16);
	return request(f, type, 0, gpa, 16, false);
}

static void read_image(struct fx *f, uint64_t off, void *buf, size_t len)
{
	int fd = open(f->path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, len, (off_t)off), (ssize_t)len);
	close(fd);
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* ---- config space and features ------------------------------------------------ */

static uint64_t cfg_read(struct virtio_mmio *t, uint32_t off, unsigned len)
{
	uint64_t v = 0;
	virtio_mmio_access(t, VIRTIO_MMIO_CONFIG + off, (uint8_t *)&v, len, false);
	return v;
}

static uint32_t reg_read(struct virtio_mmio *t, uint32_t off)
{
	uint32_t v = 0;
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, false);
	return v;
}

static void reg_write(struct virtio_mmio *t, uint32_t off, uint32_t v)
{
	virtio_mmio_access(t, off, (uint8_t *)&v, 4, true);
}

static uint64_t device_features(struct virtio_mmio *t)
{
	reg_write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	uint64_t lo = reg_read(t, VIRTIO_MMIO_DEVICE_FEATURES);
	reg_write(t, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return lo | (uint64_t)reg_read(t, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

static void config_space_rw(void **state)
{
	(void)state;
	/* 100 sectors and 488 bytes: the tail is not addressable. */
	struct fx *f = fx_new(100 * SECTOR + 1000 - SECTOR, false, NULL);
	struct virtio_mmio t;
	virtio_mmio_init(&t, f->dev);

	assert_int_equal(reg_read(&t, VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_BLOCK);
	reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), 256);
	reg_write(&t, VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(reg_read(&t, VIRTIO_MMIO_QUEUE_NUM_MAX), 0); /* one queue only */

	uint64_t feat = device_features(&t);
	assert_true(feat & (1ULL << VIRTIO_BLK_F_SEG_MAX));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_BLK_SIZE));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_FLUSH));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_DISCARD));
	assert_true(feat & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_MQ));
	assert_true(feat & (1ULL << VIRTIO_F_VERSION_1));

	assert_int_equal(cfg_read(&t, 0, 8), 100);         /* capacity */
	assert_int_equal(cfg_read(&t, 0, 4), 100);         /* low half, 32-bit access */
	assert_int_equal(cfg_read(&t, 4, 4), 0);           /* high half */
	assert_int_equal(cfg_read(&t, 0, 1), 100);         /* byte access */
	assert_int_equal(cfg_read(&t, 12, 4), 254);        /* seg_max = queue size - 2 */
	assert_int_equal(cfg_read(&t, 20, 4), 512);        /* blk_size */
	assert_int_equal(cfg_read(&t, 21, 1), 2);          /* its second byte (unaligned) */
	assert_int_equal(cfg_read(&t, 34, 2), 1);          /* num_queues */
	assert_true(cfg_read(&t, 36, 4) > 0);              /* max_discard_sectors */
	assert_int_equal(cfg_read(&t, 40, 4), 1);          /* max_discard_seg */
	assert_true(cfg_read(&t, 44, 4) >= 1);             /* discard_sector_alignment */
	assert_true(cfg_read(&t, 48, 4) > 0);              /* max_write_zeroes_sectors */
	assert_int_equal(cfg_read(&t, 52, 4), 1);          /* max_write_zeroes_seg */
	assert_int_equal(cfg_read(&t, 56, 1), 1);          /* write_zeroes_may_unmap */
	assert_int_equal(cfg_read(&t, 56, 4), 1);          /* with unused1 */
	/* Past config_size (60): zeroes, from the transport. */
	assert_int_equal(cfg_read(&t, 60, 4), 0);
	assert_int_equal(cfg_read(&t, 58, 4), 0);
	fx_free(f);
}

static void config_space_ro(void **state)
{
	(void)state;
	struct fx *f = fx_new(64 * SECTOR, true, NULL);
	struct virtio_mmio t;
	virtio_mmio_init(&t, f->dev);

	uint64_t feat = device_features(&t);
	assert_true(feat & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_DISCARD));
	assert_false(feat & (1ULL << VIRTIO_BLK_F_WRITE_ZEROES));
	assert_int_equal(cfg_read(&t, 0, 8), 64);
	assert_int_equal(cfg_read(&t, 36, 4), 0);
	assert_int_equal(cfg_read(&t, 48, 4), 0);
	fx_free(f);
}

/* ---- requests ------------------------------------------------------------------- */

static void write_then_read(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint64_t data = galloc(f, 2 * SECTOR);
	uint8_t want[2 * SECTOR], got[2 * SECTOR];
	pattern(want, sizeof(want), 42);
	memcpy(gptr(f, data, sizeof(want)), want, sizeof(want));

	struct result r = request(f, VIRTIO_BLK_T_OUT, 3, data, 2 * SECTOR, false);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, 1); /* only the status byte was written */
	read_image(f, 3 * SECTOR, got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	/* Neighbours untouched. */
	uint8_t orig[IMAGE_SECTORS * SECTOR], now[SECTOR];
	pattern(orig, sizeof(orig), 1);
	read_image(f, 2 * SECTOR, now, SECTOR);
	assert_memory_equal(now, orig + 2 * SECTOR, SECTOR);
	read_image(f, 5 * SECTOR, now, SECTOR);
	assert_memory_equal(now, orig + 5 * SECTOR, SECTOR);

	uint64_t back = galloc(f, 2 * SECTOR);
	r = request(f, VIRTIO_BLK_T_IN, 3, back, 2 * SECTOR, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, 2 * SECTOR + 1);
	assert_memory_equal(gptr(f, back, sizeof(want)), want, sizeof(want));

	/* The last sector is addressable, and a read of it returns the image. */
	r = request(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, back, SECTOR, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, back, SECTOR), orig + (IMAGE_SECTORS - 1) * SECTOR, SECTOR);
	fx_free(f);
}

static void flush_ok(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	struct result r = request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, 1);
	fx_free(f);
}

static void get_id(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, "disk-serial-7");
	uint64_t id = galloc(f, VIRTIO_BLK_ID_BYTES);
	struct result r = request(f, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, VIRTIO_BLK_ID_BYTES + 1);
	char want[VIRTIO_BLK_ID_BYTES] = "disk-serial-7"; /* zero padded */
	assert_memory_equal(gptr(f, id, VIRTIO_BLK_ID_BYTES), want, VIRTIO_BLK_ID_BYTES);
	fx_free(f);

	/* Exactly 20 bytes: no terminating NUL. */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, "ABCDEFGHIJKLMNOPQRST");
	id = galloc(f, VIRTIO_BLK_ID_BYTES);
	r = request(f, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, id, VIRTIO_BLK_ID_BYTES), "ABCDEFGHIJKLMNOPQRST", 20);
	fx_free(f);

	/* No serial=: an empty id (all zeroes). */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	id = galloc(f, VIRTIO_BLK_ID_BYTES);
	r = request(f, VIRTIO_BLK_T_GET_ID, 0, id, VIRTIO_BLK_ID_BYTES, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_true(all_zero(gptr(f, id, VIRTIO_BLK_ID_BYTES), VIRTIO_BLK_ID_BYTES));
	fx_free(f);
}

static void discard_punches(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint8_t buf[16 * SECTOR];

	struct result r = discard_req(f, VIRTIO_BLK_T_DISCARD, 16, 16, 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_int_equal(r.used_len, 1);
	read_image(f, 16 * SECTOR, buf, sizeof(buf));
	assert_true(all_zero(buf, sizeof(buf)));
	/* The sectors around it keep their data, and the size stays. */
	read_image(f, 15 * SECTOR, buf, SECTOR);
	assert_false(all_zero(buf, SECTOR));
	read_image(f, 32 * SECTOR, buf, SECTOR);
	assert_false(all_zero(buf, SECTOR));
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, IMAGE_SECTORS * SECTOR);

	/* virtio 1.2 §5.2.6.2: unmap on a discard, or an unknown flag, is unsupported. */
	r = discard_req(f, VIRTIO_BLK_T_DISCARD, 40, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	r = discard_req(f, VIRTIO_BLK_T_DISCARD, 40, 8, 2);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	read_image(f, 40 * SECTOR, buf, 8 * SECTOR);
	assert_false(all_zero(buf, 8 * SECTOR));
	/* Out of range, and overflowing. */
	r = discard_req(f, VIRTIO_BLK_T_DISCARD, IMAGE_SECTORS - 4, 8, 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	r = discard_req(f, VIRTIO_BLK_T_DISCARD, UINT64_MAX - 2, 8, 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);

	/* Two segments are more than max_discard_seg (1). */
	uint64_t segs = galloc(f, 32);
	struct virtio_blk_discard_write_zeroes two[2] = { { 48, 8, 0 }, { 64, 8, 0 } };
	memcpy(gptr(f, segs, 32), two, 32);
	r = request(f, VIRTIO_BLK_T_DISCARD, 0, segs, 32, false);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	fx_free(f);
}

static void write_zeroes(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint8_t buf[8 * SECTOR];

	struct result r = discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 9, 3, 0); /* unaligned to 4 KiB */
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	read_image(f, 9 * SECTOR, buf, 3 * SECTOR);
	assert_true(all_zero(buf, 3 * SECTOR));
	read_image(f, 8 * SECTOR, buf, SECTOR);
	assert_false(all_zero(buf, SECTOR));
	read_image(f, 12 * SECTOR, buf, SECTOR);
	assert_false(all_zero(buf, SECTOR));

	r = discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 100, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	read_image(f, 100 * SECTOR, buf, 8 * SECTOR);
	assert_true(all_zero(buf, 8 * SECTOR));

	r = discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, IMAGE_SECTORS, 1, 0);
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	r = discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, UINT32_MAX, 0); /* > max_write_zeroes_sectors */
	assert_int_equal(r.status, VIRTIO_BLK_S_IOERR);
	r = discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 1, 0x80000000u);
	assert_int_equal(r.status, VIRTIO_BLK_S_UNSUPP);
	fx_free(f);
}

static void read_only_refuses_writes(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, true, NULL);
	uint8_t orig[IMAGE_SECTORS * SECTOR], now[IMAGE_SECTORS * SECTOR];
	pattern(orig, sizeof(orig), 1);
	uint64_t data = galloc(f, SECTOR);
	memset(gptr(f, data, SECTOR), 0x55, SECTOR);

	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, data, SECTOR, false).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(discard_req(f, VIRTIO_BLK_T_DISCARD, 0, 8, 0).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(discard_req(f, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0).status,
			 VIRTIO_BLK_S_IOERR);
	read_image(f, 0, now, sizeof(now));
	assert_memory_equal(now, orig, sizeof(orig));

	/* Reads and flushes still work. */
	struct result r = request(f, VIRTIO_BLK_T_IN, 0, data, SECTOR, true);
	assert_int_equal(r.status, VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, data, SECTOR), orig, SECTOR);
	assert_int_equal(request(f, VIRTIO_BLK_T_FLUSH, 0, 0, 0, false).status, VIRTIO_BLK_S_OK);
	fx_free(f);
}

static void out_of_range(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint64_t data = galloc(f, 2 * SECTOR);
	uint8_t orig[IMAGE_SECTORS * SECTOR], now[IMAGE_SECTORS * SECTOR];
	pattern(orig, sizeof(orig), 1);

	/* Starts inside, ends past the end. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS - 1, data, 2 * SECTOR, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, IMAGE_SECTORS - 1, data, 2 * SECTOR, false).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, IMAGE_SECTORS, data, SECTOR, true).status,
			 VIRTIO_BLK_S_IOERR);
	/* sector * 512 and sector + count overflow. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, UINT64_MAX, data, SECTOR, true).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, UINT64_MAX, data, SECTOR, false).status,
			 VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, UINT64_MAX / 512 + 1, data, SECTOR, false).status,
			 VIRTIO_BLK_S_IOERR);
	/* Data not a whole number of sectors. */
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 0, data, 100, true).status, VIRTIO_BLK_S_IOERR);
	assert_int_equal(request(f, VIRTIO_BLK_T_OUT, 0, data, SECTOR + 1, false).status,
			 VIRTIO_BLK_S_IOERR);
	read_image(f, 0, now, sizeof(now));
	assert_memory_equal(now, orig, sizeof(orig));
	assert_true(virtio_is_live(f->dev)); /* guest mistakes in a request are I/O errors, not resets */
	fx_free(f);
}

static void unaddressable_tail(void **state)
{
	(void)state;
	struct fx *f = fx_new(2 * SECTOR + 300, false, NULL);
	uint64_t data = galloc(f, SECTOR);
	assert_int_equal(f->blk->capacity, 2);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 1, data, SECTOR, true).status, VIRTIO_BLK_S_OK);
	assert_int_equal(request(f, VIRTIO_BLK_T_IN, 2, data, SECTOR, true).status, VIRTIO_BLK_S_IOERR);
	fx_free(f);
}

static void unknown_type(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint64_t data = galloc(f, SECTOR);
	assert_int_equal(request(f, 99, 0, 0, 0, false).status, VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, VIRTIO_BLK_T_GET_LIFETIME, 0, data, 16, true).status,
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, VIRTIO_BLK_T_SECURE_ERASE, 0, data, 16, false).status,
			 VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(request(f, 0xffffffffu, 0, 0, 0, false).status, VIRTIO_BLK_S_UNSUPP);
	fx_free(f);
}

/* ---- chain shapes ------------------------------------------------------------------ */

static void malformed_chains_need_reset(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint64_t data = galloc(f, SECTOR);

	/* No writable byte at all: nowhere to put a status. */
	struct seg no_status[2] = { { header(f, VIRTIO_BLK_T_OUT, 0), 16, false }, { data, SECTOR, false } };
	submit(f, no_status, 2, false);
	process(f);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(virtio_is_live(f->dev));
	assert_int_equal(used_idx(f), 0);
	assert_true(atomic_load(&f->dev->interrupt_status) & 2); /* config change told the driver */
	fx_free(f);

	/* A header too short (8 bytes). */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint64_t st = galloc(f, 1);
	struct seg short_hdr[2] = { { header(f, VIRTIO_BLK_T_IN, 0), 8, false }, { st, 1, true } };
	submit(f, short_hdr, 2, false);
	process(f);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(f), 0);
	fx_free(f);

	/* Only a writable status byte, no header at all. */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	st = galloc(f, 1);
	struct seg status_only[1] = { { st, 1, true } };
	submit(f, status_only, 1, false);
	process(f);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	fx_free(f);

	/* A good request before a bad one completes; processing stops at the bad one. */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	st = galloc(f, 1);
	struct seg good[2] = { { header(f, VIRTIO_BLK_T_FLUSH, 0), 16, false }, { st, 1, true } };
	submit(f, good, 2, false);
	uint64_t hdr2 = header(f, VIRTIO_BLK_T_FLUSH, 0);
	/* The second chain lives at descriptors 4.. so it does not overwrite the first. */
	volatile struct virtq_desc *d = gptr(f, DESC_GPA, 16 * QSIZE);
	d[4] = (struct virtq_desc){ hdr2, 16, 0, 0 };
	uint16_t *avail = gptr(f, AVAIL_GPA, 6 + 2 * QSIZE);
	avail[2 + 1] = 4;
	avail[1] = 2;
	process(f);
	assert_int_equal(used_idx(f), 1);
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	fx_free(f);

	/* A descriptor outside guest memory: the queue code refuses it, the device resets. */
	f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	st = galloc(f, 1);
	struct seg wild[3] = { { header(f, VIRTIO_BLK_T_IN, 0), 16, false },
			       { MEM_SIZE - 256, SECTOR, true }, { st, 1, true } };
	submit(f, wild, 3, false);
	process(f);
	assert_true(f->dev->status & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(used_idx(f), 0);
	fx_free(f);
}

static void split_header_and_merged_status(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint8_t want[SECTOR], got[SECTOR];
	pattern(want, sizeof(want), 9);

	/* Header in two 8-byte halves, data in three odd pieces. */
	uint64_t hdr = header(f, VIRTIO_BLK_T_OUT, 7);
	uint64_t data = galloc(f, SECTOR), st = galloc(f, 1);
	memcpy(gptr(f, data, SECTOR), want, SECTOR);
	struct seg out[6] = { { hdr, 8, false }, { hdr + 8, 8, false }, { data, 100, false },
			      { data + 100, 400, false }, { data + 500, 12, false }, { st, 1, true } };
	submit(f, out, 6, false);
	process(f);
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	read_image(f, 7 * SECTOR, got, SECTOR);
	assert_memory_equal(got, want, SECTOR);

	/* Header and data in one readable buffer. */
	uint64_t both = galloc(f, 16 + SECTOR);
	struct virtio_blk_req_hdr h = { .type = VIRTIO_BLK_T_OUT, .sector = 8 };
	memcpy(gptr(f, both, 16), &h, 16);
	memcpy(gptr(f, both + 16, SECTOR), want, SECTOR);
	struct seg merged_out[2] = { { both, 16 + SECTOR, false }, { st, 1, true } };
	submit(f, merged_out, 2, false);
	process(f);
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	read_image(f, 8 * SECTOR, got, SECTOR);
	assert_memory_equal(got, want, SECTOR);

	/* IN whose data and status share one writable buffer. */
	uint64_t in = galloc(f, SECTOR + 1);
	struct seg merged_in[2] = { { header(f, VIRTIO_BLK_T_IN, 7), 16, false }, { in, SECTOR + 1, true } };
	submit(f, merged_in, 2, false);
	process(f);
	assert_int_equal(used_elem(f, 2).len, SECTOR + 1);
	assert_int_equal(*(uint8_t *)gptr(f, in + SECTOR, 1), VIRTIO_BLK_S_OK);
	assert_memory_equal(gptr(f, in, SECTOR), want, SECTOR);
	fx_free(f);
}

static void indirect_descriptors(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint8_t want[4 * SECTOR], got[4 * SECTOR];
	pattern(want, sizeof(want), 3);

	/* OUT through an indirect table: header, 4 sector-sized pieces, status. */
	uint64_t data = galloc(f, sizeof(want)), st = galloc(f, 1);
	memcpy(gptr(f, data, sizeof(want)), want, sizeof(want));
	struct seg out[6] = { { header(f, VIRTIO_BLK_T_OUT, 20), 16, false } };
	for (unsigned i = 0; i < 4; i++)
		out[1 + i] = (struct seg){ data + i * SECTOR, SECTOR, false };
	out[5] = (struct seg){ st, 1, true };
	submit(f, out, 6, true);
	process(f);
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	read_image(f, 20 * SECTOR, got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));

	/* And IN back through one. */
	uint64_t back = galloc(f, sizeof(want));
	struct seg in[3] = { { header(f, VIRTIO_BLK_T_IN, 20), 16, false },
			     { back, sizeof(want), true }, { st, 1, true } };
	submit(f, in, 3, true);
	process(f);
	assert_int_equal(used_idx(f), 2);
	assert_int_equal(used_elem(f, 1).len, sizeof(want) + 1);
	assert_memory_equal(gptr(f, back, sizeof(want)), want, sizeof(want));
	fx_free(f);
}

static void many_segments(void **state)
{
	(void)state;
	/* A queue of 16 and an indirect table of 16: 14 data descriptors, the seg_max shape. */
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	uint8_t want[14 * SECTOR];
	pattern(want, sizeof(want), 5);
	uint64_t data = galloc(f, sizeof(want)), st = galloc(f, 1);
	memcpy(gptr(f, data, sizeof(want)), want, sizeof(want));
	struct seg out[16] = { { header(f, VIRTIO_BLK_T_OUT, 100), 16, false } };
	for (unsigned i = 0; i < 14; i++)
		out[1 + i] = (struct seg){ data + i * SECTOR, SECTOR, false };
	out[15] = (struct seg){ st, 1, true };
	submit(f, out, 16, true);
	process(f);
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	uint8_t got[sizeof(want)];
	read_image(f, 100 * SECTOR, got, sizeof(got));
	assert_memory_equal(got, want, sizeof(want));
	fx_free(f);
}

static void batch_of_requests(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	volatile struct virtq_desc *d = gptr(f, DESC_GPA, 16 * QSIZE);
	uint16_t *avail = gptr(f, AVAIL_GPA, 6 + 2 * QSIZE);
	uint64_t st[5];

	/* Five flushes of 2 descriptors each, made available at once. */
	for (unsigned i = 0; i < 5; i++) {
		st[i] = galloc(f, 1);
		d[2 * i] = (struct virtq_desc){ header(f, VIRTIO_BLK_T_FLUSH, 0), 16, VIRTQ_DESC_F_NEXT,
						(uint16_t)(2 * i + 1) };
		d[2 * i + 1] = (struct virtq_desc){ st[i], 1, VIRTQ_DESC_F_WRITE, 0 };
		avail[2 + i] = (uint16_t)(2 * i);
	}
	__atomic_store_n(&avail[1], 5, __ATOMIC_RELEASE);
	process(f);
	assert_int_equal(used_idx(f), 5);
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(used_elem(f, (uint16_t)i).id, 2 * i);
		assert_int_equal(*(uint8_t *)gptr(f, st[i], 1), VIRTIO_BLK_S_OK);
	}
	assert_true(atomic_load(&f->dev->interrupt_status) & 1); /* one used-buffer interrupt */
	fx_free(f);
}

/* ---- the worker thread ---------------------------------------------------------------- */

static bool wait_used(struct fx *f, uint16_t want, int ms)
{
	for (int i = 0; i < ms; i++) {
		if (used_idx(f) == want)
			return true;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return used_idx(f) == want;
}

static void worker_processes_kicks(void **state)
{
	(void)state;
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	struct ember_err err = { "" };
	f->dev->kick_fd[0] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(f->dev->kick_fd[0] >= 0);
	if (virtio_blk_start(f->blk, &err))
		fail_msg("virtio_blk_start: %s", err.msg);

	uint64_t data = galloc(f, SECTOR), st = galloc(f, 1);
	memset(gptr(f, data, SECTOR), 0xab, SECTOR);
	struct seg out[3] = { { header(f, VIRTIO_BLK_T_OUT, 1), 16, false }, { data, SECTOR, false },
			      { st, 1, true } };
	pthread_mutex_lock(&f->dev->lock);
	submit(f, out, 3, false);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(eventfd_write(f->dev->kick_fd[0], 1), 0); /* what KVM does on QueueNotify */
	assert_true(wait_used(f, 1, 2000));
	assert_int_equal(*(uint8_t *)gptr(f, st, 1), VIRTIO_BLK_S_OK);
	uint8_t got[SECTOR], want[SECTOR];
	memset(want, 0xab, SECTOR);
	read_image(f, SECTOR, got, SECTOR);
	assert_memory_equal(got, want, SECTOR);

	/* A kick before DRIVER_OK is not lost: activate() makes the worker look again. */
	pthread_mutex_lock(&f->dev->lock);
	f->dev->status &= ~(uint32_t)VIRTIO_STATUS_DRIVER_OK;
	struct seg flush[2] = { { header(f, VIRTIO_BLK_T_FLUSH, 0), 16, false }, { st, 1, true } };
	submit(f, flush, 2, false);
	pthread_mutex_unlock(&f->dev->lock);
	assert_int_equal(eventfd_write(f->dev->kick_fd[0], 1), 0);
	assert_false(wait_used(f, 2, 100));
	pthread_mutex_lock(&f->dev->lock);
	f->dev->status |= VIRTIO_STATUS_DRIVER_OK;
	f->dev->ops->activate(f->dev);
	pthread_mutex_unlock(&f->dev->lock);
	assert_true(wait_used(f, 2, 2000));

	int kick = f->dev->kick_fd[0];
	fx_free(f); /* joins the worker */
	close(kick);
}

static void destroy_with_worker(void **state)
{
	(void)state;
	/* ops->destroy stops and joins the worker, closes the image and frees the device. */
	struct fx *f = fx_new(IMAGE_SECTORS * SECTOR, false, NULL);
	struct ember_err err = { "" };
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	f->dev->kick_fd[0] = kick;
	if (virtio_blk_start(f->blk, &err))
		fail_msg("virtio_blk_start: %s", err.msg);
	f->dev->ops->destroy(f->dev);
	close(kick);
	guest_memory_destroy(&f->vm.mem);
	unlink(f->path);
	free(f);
}

/* ---- user errors ------------------------------------------------------------------------ */

static void init_errors(void **state)
{
	(void)state;
	struct virtio_blk *blk = malloc(sizeof(*blk));
	struct ember_err err = { "" };
	struct ember_disk disk = { .path = "/nonexistent/disk.img" };

	assert_int_equal(virtio_blk_init(blk, &disk, &err), -ENOENT);
	assert_string_equal(err.msg, "--disk /nonexistent/disk.img: No such file or directory");

	/* A directory is neither an image nor a block device. */
	disk = (struct ember_disk){ .path = "/", .read_only = true };
	assert_true(virtio_blk_init(blk, &disk, &err) < 0);
	assert_contains(err.msg, "--disk /: ");

	/* Smaller than one sector. */
	char path[64];
	snprintf(path, sizeof(path), "/tmp/ember-blk-small-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "tiny", 4), 4);
	close(fd);
	disk = (struct ember_disk){ .path = path };
	assert_int_equal(virtio_blk_init(blk, &disk, &err), -EINVAL);
	assert_contains(err.msg, "smaller than one 512-byte sector");

	/* Not writable without ,ro: the message says what to do (root can write anyway). */
	if (geteuid() != 0) {
		assert_int_equal(chmod(path, 0444), 0);
		assert_int_equal(virtio_blk_init(blk, &disk, &err), -EACCES);
		assert_contains(err.msg, "add ,ro");
	}
	unlink(path);
	free(blk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(config_space_rw),
		cmocka_unit_test(config_space_ro),
		cmocka_unit_test(write_then_read),
		cmocka_unit_test(flush_ok),
		cmocka_unit_test(get_id),
		cmocka_unit_test(discard_punches),
		cmocka_unit_test(write_zeroes),
		cmocka_unit_test(read_only_refuses_writes),
		cmocka_unit_test(out_of_range),
		cmocka_unit_test(unaddressable_tail),
		cmocka_unit_test(unknown_type),
		cmocka_unit_test(malformed_chains_need_reset),
		cmocka_unit_test(split_header_and_merged_status),
		cmocka_unit_test(indirect_descriptors),
		cmocka_unit_test(many_segments),
		cmocka_unit_test(batch_of_requests),
		cmocka_unit_test(worker_processes_kicks),
		cmocka_unit_test(destroy_with_worker),
		cmocka_unit_test(init_errors),
	};
	return cmocka_run_group_tests_name("virtio-blk", tests, NULL, NULL);
}
