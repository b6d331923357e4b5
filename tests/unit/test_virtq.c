// SPDX-License-Identifier: GPL-2.0-only
/*
 * virtio/queue.c against hand-built rings in a small fake guest memory:
 * the guest is hostile, so most cases here are broken rings that must be
 * refused (-EINVAL / -EFAULT), never followed, never hang.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "virtio/queue.h"
#include "vm/memory.h"

/*
 * One region at 1 MiB.  Its size is 64 KiB + 2 so that a 4-aligned used
 * ring (6 + 8 * size bytes, always 2 mod 4) can end exactly at its end.
 */
#define RAM_GPA  0x100000ULL
#define RAM_SIZE (0x10000ULL + 2)
#define RAM_END  (RAM_GPA + RAM_SIZE)

#define QSZ       8
#define DESC_GPA  (RAM_GPA + 0x1000)
#define AVAIL_GPA (RAM_GPA + 0x2000)
#define USED_GPA  (RAM_GPA + 0x3000)
#define IND_GPA   (RAM_GPA + 0x4000)   /* indirect tables */
#define BUF_GPA   (RAM_GPA + 0x8000)   /* data buffers */

struct fixture {
	struct guest_memory mem;
	struct virtq q;
	struct virtq_chain chain;
	const char *why;
};

static int setup(void **state)
{
	static struct fixture f;
	struct guest_region layout = { .gpa = RAM_GPA, .size = RAM_SIZE };
	struct ember_err err = { "" };

	memset(&f, 0, sizeof(f));
	if (guest_memory_create(&f.mem, &layout, 1, &err) != 0)
		fail_msg("guest_memory_create: %s", err.msg);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	guest_memory_destroy(&f->mem);
	return 0;
}

static void *host(struct fixture *f, uint64_t gpa)
{
	void *p = guest_ptr(&f->mem, gpa, 1);
	assert_non_null(p);
	return p;
}

static struct virtq_desc *desc(struct fixture *f, uint64_t table_gpa, unsigned i)
{
	return (struct virtq_desc *)host(f, table_gpa) + i;
}

static void set_desc(struct fixture *f, uint64_t table_gpa, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	*desc(f, table_gpa, i) = (struct virtq_desc){ addr, len, flags, next };
}

static uint16_t *avail(struct fixture *f) { return host(f, AVAIL_GPA); }
static uint16_t *used(struct fixture *f) { return host(f, f->q.used_gpa); }

/* Ring slots: avail flags, idx, ring[QSZ], used_event; used flags, idx, elems, avail_event. */
static uint16_t *used_event(struct fixture *f) { return &avail(f)[2 + QSZ]; }
static uint16_t *avail_event(struct fixture *f) { return &used(f)[2 + 4 * QSZ]; }

static void start_at(struct fixture *f, uint64_t used_gpa, bool event_idx, bool indirect)
{
	f->q.size = QSZ;
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = used_gpa;
	assert_int_equal(virtq_start(&f->q, &f->mem, event_idx, indirect), 0);
}

static void start(struct fixture *f, bool event_idx, bool indirect)
{
	start_at(f, USED_GPA, event_idx, indirect);
}

/* Driver side: make `head` available. */
static void offer(struct fixture *f, uint16_t head)
{
	uint16_t idx = avail(f)[1];
	avail(f)[2 + idx % QSZ] = head;
	avail(f)[1] = (uint16_t)(idx + 1);
}

static int pop(struct fixture *f)
{
	f->why = NULL;
	return virtq_pop(&f->q, &f->chain, &f->why);
}

static void expect_malformed(struct fixture *f)
{
	assert_int_equal(pop(f), -EINVAL);
	assert_non_null(f->why);
}

/* ---- virtq_start ------------------------------------------------------ */

static void start_rejects_bad_size_and_alignment(void **state)
{
	struct fixture *f = *state;
	const uint16_t sizes[] = { 0, 3, 12, VIRTQ_MAX_SIZE * 2 };

	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		f->q = (struct virtq){ .size = sizes[i], .desc_gpa = DESC_GPA, .avail_gpa = AVAIL_GPA,
				       .used_gpa = USED_GPA };
		assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EINVAL);
	}
	f->q = (struct virtq){ .size = QSZ, .desc_gpa = DESC_GPA + 8, .avail_gpa = AVAIL_GPA,
			       .used_gpa = USED_GPA };
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EINVAL);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = AVAIL_GPA + 1;
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EINVAL);
	f->q.avail_gpa = AVAIL_GPA;
	f->q.used_gpa = USED_GPA + 2;
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EINVAL);
	f->q.used_gpa = USED_GPA;
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), 0);
}

static void start_rejects_rings_outside_ram(void **state)
{
	struct fixture *f = *state;

	f->q = (struct virtq){ .size = QSZ, .desc_gpa = 0x7ff000000000ULL, .avail_gpa = AVAIL_GPA,
			       .used_gpa = USED_GPA };
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EFAULT);
	f->q.desc_gpa = RAM_GPA - 0x1000; /* below the region */
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EFAULT);
	f->q.desc_gpa = DESC_GPA;
	f->q.avail_gpa = UINT64_MAX - 1; /* + length wraps around */
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EFAULT);
	f->q.avail_gpa = (RAM_END - 6 - 2 * QSZ + 2) & ~1ULL; /* 2 bytes over the end */
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EFAULT);
	/* A descriptor table ending exactly at the end of RAM is fine... */
	f->q.avail_gpa = AVAIL_GPA;
	f->q.desc_gpa = (RAM_END - 16 * QSZ) & ~15ULL;
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), 0);
	/* ...one 16 bytes further is not. */
	f->q.desc_gpa += 16;
	assert_int_equal(virtq_start(&f->q, &f->mem, false, false), -EFAULT);
}

static void used_ring_ending_at_end_of_ram(void **state)
{
	struct fixture *f = *state;
	uint64_t used_len = 6 + 8 * QSZ; /* includes avail_event */
	uint64_t at_end = RAM_END - used_len;

	assert_int_equal(at_end & 3, 0);
	start_at(f, at_end, true, false);
	/* The whole ring, avail_event included, is usable. */
	set_desc(f, DESC_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_WRITE, 0);
	for (unsigned i = 0; i < QSZ + 3; i++) { /* wrap the ring once */
		offer(f, 0);
		assert_int_equal(pop(f), 1);
		virtq_push(&f->q, 0, 16);
	}
	assert_int_equal(used(f)[1], QSZ + 3);
	assert_int_equal(*avail_event(f), QSZ + 3);

	/* 4 bytes further, the ring (its avail_event) crosses the end of RAM. */
	virtq_reset(&f->q);
	f->q = (struct virtq){ .size = QSZ, .desc_gpa = DESC_GPA, .avail_gpa = AVAIL_GPA,
			       .used_gpa = at_end + 4 };
	assert_int_equal(virtq_start(&f->q, &f->mem, true, false), -EFAULT);
	f->q.used_gpa = RAM_END + 2;
	assert_int_equal(virtq_start(&f->q, &f->mem, true, false), -EFAULT);
}

/* ---- popping chains ----------------------------------------------------- */

static void empty_ring_pops_nothing(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	assert_int_equal(pop(f), 0);
	assert_int_equal(pop(f), 0);
}

static void good_chain(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	/* head 3: readable 16 -> readable 8 -> writable 32 */
	set_desc(f, DESC_GPA, 3, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 5);
	set_desc(f, DESC_GPA, 5, BUF_GPA + 0x100, 8, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, DESC_GPA, 0, BUF_GPA + 0x200, 32, VIRTQ_DESC_F_WRITE, 7 /* no NEXT: ignored */);
	offer(f, 3);

	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, 3);
	assert_int_equal(f->chain.n, 3);
	assert_int_equal(f->chain.readable, 24);
	assert_int_equal(f->chain.writable, 32);
	assert_ptr_equal(f->chain.buf[0].host, host(f, BUF_GPA));
	assert_int_equal(f->chain.buf[0].len, 16);
	assert_false(f->chain.buf[0].device_writes);
	assert_ptr_equal(f->chain.buf[1].host, host(f, BUF_GPA + 0x100));
	assert_ptr_equal(f->chain.buf[2].host, host(f, BUF_GPA + 0x200));
	assert_true(f->chain.buf[2].device_writes);
	assert_int_equal(pop(f), 0);

	virtq_push(&f->q, 3, 32);
	assert_int_equal(used(f)[1], 1);
	uint32_t *elem = (uint32_t *)&used(f)[2];
	assert_int_equal(elem[0], 3);
	assert_int_equal(elem[1], 32);
}

static void chain_as_long_as_the_queue(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	for (unsigned i = 0; i < QSZ; i++)
		set_desc(f, DESC_GPA, i, BUF_GPA + 16 * i, 16,
			 i + 1 < QSZ ? VIRTQ_DESC_F_NEXT : 0, (uint16_t)(i + 1));
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.n, QSZ);
	assert_int_equal(f->chain.readable, 16 * QSZ);
}

static void descriptor_loops_end(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	/* 0 -> 1 -> 0 -> ... */
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
	set_desc(f, DESC_GPA, 1, BUF_GPA + 8, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	expect_malformed(f);

	/* A descriptor that is its own successor. */
	start(f, false, false);
	avail(f)[1] = 0;
	set_desc(f, DESC_GPA, 2, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 2);
	offer(f, 2);
	expect_malformed(f);
}

static void next_past_the_queue(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, QSZ);
	offer(f, 0);
	expect_malformed(f);

	start(f, false, false);
	avail(f)[1] = 0;
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 0xffff);
	offer(f, 0);
	expect_malformed(f);
}

static void head_past_the_queue(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	offer(f, QSZ);
	expect_malformed(f);
}

static void avail_idx_jump(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	avail(f)[1] = QSZ + 1;
	expect_malformed(f);

	/* Exactly a full ring is fine. */
	start(f, false, false);
	avail(f)[1] = QSZ;
	for (unsigned i = 0; i < QSZ; i++)
		assert_int_equal(pop(f), 1);
	assert_int_equal(pop(f), 0);
}

static void addresses_outside_ram(void **state)
{
	struct fixture *f = *state;
	const struct { uint64_t addr; uint32_t len; } cases[] = {
		{ 0x7ff000000000ULL, 16 },          /* far away */
		{ RAM_GPA - 16, 16 },               /* just below */
		{ RAM_END, 1 },                     /* just above */
		{ RAM_END - 8, 16 },                /* crosses the end */
		{ BUF_GPA, 0xffffffffu },           /* oversize length */
		{ RAM_GPA, (uint32_t)RAM_SIZE + 1 },/* one byte too long */
		{ UINT64_MAX - 7, 16 },             /* address + length wraps */
	};

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(f, false, false);
		avail(f)[1] = 0;
		set_desc(f, DESC_GPA, 0, cases[i].addr, cases[i].len, VIRTQ_DESC_F_WRITE, 0);
		offer(f, 0);
		expect_malformed(f);
	}
	/* The last descriptor of an otherwise good chain counts as much as the first. */
	start(f, false, false);
	avail(f)[1] = 0;
	set_desc(f, DESC_GPA, 0, BUF_GPA, 16, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, RAM_END - 4, 8, 0, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void lengths_at_the_edges(void **state)
{
	struct fixture *f = *state;

	/* Zero-length buffers are legal and carry nothing. */
	start(f, false, false);
	set_desc(f, DESC_GPA, 0, BUF_GPA, 0, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, BUF_GPA, 0, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.n, 2);
	assert_int_equal(f->chain.readable, 0);
	assert_int_equal(f->chain.writable, 0);
	uint8_t b[4] = { 1, 2, 3, 4 };
	assert_int_equal(virtq_chain_write(&f->chain, 0, b, sizeof(b)), 0);
	assert_int_equal(virtq_chain_read(&f->chain, 0, b, sizeof(b)), 0);

	/* A buffer covering all of RAM, and one ending exactly at its end. */
	start(f, false, false);
	avail(f)[1] = 0;
	set_desc(f, DESC_GPA, 0, RAM_GPA, (uint32_t)RAM_SIZE, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, RAM_END - 16, 16, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.readable, RAM_SIZE);
	assert_int_equal(f->chain.writable, 16);
}

static void readable_after_writable(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, BUF_GPA + 8, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2);
	set_desc(f, DESC_GPA, 2, BUF_GPA + 16, 8, 0, 0);
	offer(f, 0);
	expect_malformed(f);
}

/* ---- indirect descriptors ------------------------------------------------ */

static void indirect_chain(void **state)
{
	struct fixture *f = *state;

	start(f, false, true);
	set_desc(f, IND_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, IND_GPA, 2, BUF_GPA + 0x10, 6, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, IND_GPA, 1, BUF_GPA + 0x20, 10, VIRTQ_DESC_F_WRITE, 0);
	set_desc(f, DESC_GPA, 4, IND_GPA, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 4);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.head, 4);
	assert_int_equal(f->chain.n, 3);
	assert_int_equal(f->chain.readable, 10);
	assert_int_equal(f->chain.writable, 10);
	assert_ptr_equal(f->chain.buf[1].host, host(f, BUF_GPA + 0x10));
	assert_ptr_equal(f->chain.buf[2].host, host(f, BUF_GPA + 0x20));

	/* Direct descriptors first, then an indirect table as the last one. */
	set_desc(f, DESC_GPA, 6, BUF_GPA + 0x40, 2, VIRTQ_DESC_F_NEXT, 7);
	set_desc(f, DESC_GPA, 7, IND_GPA, 3 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 6);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.n, 4);
	assert_int_equal(f->chain.readable, 12);
}

static void indirect_refused(void **state)
{
	struct fixture *f = *state;
	uint32_t three = 3 * sizeof(struct virtq_desc);

	set_desc(f, IND_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, IND_GPA, 1, BUF_GPA + 4, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, IND_GPA, 2, BUF_GPA + 8, 4, 0, 0);

	const struct { bool negotiated; uint64_t addr; uint32_t len; uint16_t flags; } cases[] = {
		{ false, IND_GPA, three, VIRTQ_DESC_F_INDIRECT },                       /* not negotiated */
		{ true, IND_GPA, three, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT },    /* with NEXT */
		{ true, IND_GPA, 0, VIRTQ_DESC_F_INDIRECT },                            /* empty */
		{ true, IND_GPA, three - 1, VIRTQ_DESC_F_INDIRECT },                    /* not whole descs */
		{ true, IND_GPA, (QSZ + 1) * 16, VIRTQ_DESC_F_INDIRECT },               /* longer than the queue */
		{ true, 0x7ff000000000ULL, three, VIRTQ_DESC_F_INDIRECT },              /* outside RAM */
		{ true, (RAM_END - 32) & ~15ULL, three, VIRTQ_DESC_F_INDIRECT },        /* crosses the end */
		{ true, UINT64_MAX - 15, three, VIRTQ_DESC_F_INDIRECT },                /* wraps */
	};
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		start(f, false, cases[i].negotiated);
		avail(f)[1] = 0;
		set_desc(f, DESC_GPA, 0, cases[i].addr, cases[i].len, cases[i].flags, 1);
		set_desc(f, DESC_GPA, 1, BUF_GPA, 4, 0, 0);
		offer(f, 0);
		expect_malformed(f);
	}
}

static void indirect_inside_indirect(void **state)
{
	struct fixture *f = *state;

	start(f, false, true);
	set_desc(f, IND_GPA + 0x100, 0, BUF_GPA, 4, 0, 0);
	set_desc(f, IND_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, IND_GPA, 1, IND_GPA + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
	set_desc(f, DESC_GPA, 0, IND_GPA, 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

static void indirect_loop_and_bad_next(void **state)
{
	struct fixture *f = *state;

	/* A loop inside the table ends too. */
	start(f, false, true);
	set_desc(f, IND_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, IND_GPA, 1, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 0);
	set_desc(f, DESC_GPA, 0, IND_GPA, 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);

	/* next is checked against the table, not the queue. */
	start(f, false, true);
	avail(f)[1] = 0;
	set_desc(f, IND_GPA, 0, BUF_GPA, 4, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 0, IND_GPA, 2 * sizeof(struct virtq_desc), VIRTQ_DESC_F_INDIRECT, 0);
	offer(f, 0);
	expect_malformed(f);
}

/* ---- copying in and out of chains ---------------------------------------- */

static void chain_read_write_across_buffers(void **state)
{
	struct fixture *f = *state;
	uint8_t *ram = host(f, BUF_GPA);

	for (unsigned i = 0; i < 0x100; i++)
		ram[i] = (uint8_t)i;
	start(f, false, false);
	/* readable: [0,5) [0x10,0x17) [0x20,0x23); writable: [0x40,0x44) [0x50,0x56) */
	set_desc(f, DESC_GPA, 0, BUF_GPA + 0x00, 5, VIRTQ_DESC_F_NEXT, 1);
	set_desc(f, DESC_GPA, 1, BUF_GPA + 0x10, 7, VIRTQ_DESC_F_NEXT, 2);
	set_desc(f, DESC_GPA, 2, BUF_GPA + 0x20, 3, VIRTQ_DESC_F_NEXT, 3);
	set_desc(f, DESC_GPA, 3, BUF_GPA + 0x40, 4, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	set_desc(f, DESC_GPA, 4, BUF_GPA + 0x50, 6, VIRTQ_DESC_F_WRITE, 0);
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(f->chain.readable, 15);
	assert_int_equal(f->chain.writable, 10);

	uint8_t out[32];
	memset(out, 0xee, sizeof(out));
	/* Offset 3 lands in the first buffer; 10 bytes span all three. */
	assert_int_equal(virtq_chain_read(&f->chain, 3, out, 10), 10);
	const uint8_t want[] = { 3, 4, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x20 };
	assert_memory_equal(out, want, sizeof(want));
	assert_int_equal(out[10], 0xee);
	/* Offset inside the second buffer, asking for more than there is. */
	assert_int_equal(virtq_chain_read(&f->chain, 6, out, sizeof(out)), 9);
	assert_int_equal(out[0], 0x11);
	assert_int_equal(out[8], 0x22);
	/* Offsets at and past the end. */
	assert_int_equal(virtq_chain_read(&f->chain, 15, out, 4), 0);
	assert_int_equal(virtq_chain_read(&f->chain, 1000, out, 4), 0);

	/* Writes go only to the writable part, from its own offset 0. */
	const uint8_t in[] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa };
	assert_int_equal(virtq_chain_write(&f->chain, 2, in, 5), 5);
	assert_int_equal(ram[0x40], 0x40);
	assert_int_equal(ram[0x41], 0x41);
	assert_int_equal(ram[0x42], 0xa0);
	assert_int_equal(ram[0x43], 0xa1);
	assert_int_equal(ram[0x50], 0xa2);
	assert_int_equal(ram[0x52], 0xa4);
	assert_int_equal(ram[0x53], 0x53);
	/* Longer than the writable part: truncated, nothing past the last buffer. */
	assert_int_equal(virtq_chain_write(&f->chain, 0, in, sizeof(in)), 10);
	assert_int_equal(ram[0x55], 0xa9);
	assert_int_equal(ram[0x56], 0x56);
	assert_int_equal(ram[0x44], 0x44);
	/* The readable buffers were not written. */
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(ram[i], i);
	assert_int_equal(virtq_chain_write(&f->chain, 10, in, 1), 0);
}

/* ---- notifications --------------------------------------------------------- */

static void push_one(struct fixture *f)
{
	virtq_push(&f->q, 0, 0);
}

static void no_interrupt_flag(void **state)
{
	struct fixture *f = *state;

	start(f, false, false);
	push_one(f);
	assert_true(virtq_should_notify(&f->q));
	avail(f)[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	push_one(f);
	assert_false(virtq_should_notify(&f->q));
	avail(f)[0] = 0;
	push_one(f);
	assert_true(virtq_should_notify(&f->q));
	/* Without EVENT_IDX, used_event means nothing. */
	*used_event(f) = 100;
	push_one(f);
	assert_true(virtq_should_notify(&f->q));
}

static void event_idx_suppression(void **state)
{
	struct fixture *f = *state;

	start(f, true, false);
	/* NO_INTERRUPT is ignored with EVENT_IDX (virtio 1.2 §2.7.10). */
	avail(f)[0] = VIRTQ_AVAIL_F_NO_INTERRUPT;
	*used_event(f) = 0;
	push_one(f);                                  /* used idx 1 */
	assert_true(virtq_should_notify(&f->q));      /* first one always */

	*used_event(f) = 1;                           /* "interrupt me after entry 1" */
	push_one(f);                                  /* 2: passed 1 */
	assert_true(virtq_should_notify(&f->q));

	*used_event(f) = 5;
	push_one(f);                                  /* 3 */
	assert_false(virtq_should_notify(&f->q));
	push_one(f);                                  /* 4 */
	push_one(f);                                  /* 5 */
	assert_false(virtq_should_notify(&f->q));     /* 3..5 do not pass 5 yet */
	push_one(f);                                  /* 6: passed 5 */
	assert_true(virtq_should_notify(&f->q));
	assert_false(virtq_should_notify(&f->q));     /* nothing new since */

	/* used_event behind: the driver asked for an earlier one, already signalled. */
	*used_event(f) = 2;
	push_one(f);                                  /* 7 */
	assert_false(virtq_should_notify(&f->q));

	/* Several pushes that jump over used_event in one go. */
	*used_event(f) = 8;
	push_one(f);                                  /* 8 */
	push_one(f);                                  /* 9: passed 8 */
	push_one(f);                                  /* 10 */
	assert_true(virtq_should_notify(&f->q));

	/* Wrap-around of the 16-bit indexes. */
	f->q.used_idx = 0xfffe;
	f->q.signalled_used = 0xfffe;
	*used_event(f) = 0xffff;
	push_one(f);                                  /* 0xffff */
	assert_false(virtq_should_notify(&f->q));
	push_one(f);                                  /* 0: passed 0xffff */
	assert_true(virtq_should_notify(&f->q));
}

static void avail_event_written_after_pop(void **state)
{
	struct fixture *f = *state;

	start(f, true, false);
	*avail_event(f) = 0x5555;
	set_desc(f, DESC_GPA, 0, BUF_GPA, 8, 0, 0);
	set_desc(f, DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	offer(f, 0);
	offer(f, 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(*avail_event(f), 1);
	assert_int_equal(pop(f), 1);
	assert_int_equal(*avail_event(f), 2);
	assert_int_equal(pop(f), 0);
	assert_int_equal(*avail_event(f), 2);

	/* Without EVENT_IDX the device never writes there. */
	start(f, false, false);
	avail(f)[1] = 0;
	*avail_event(f) = 0x5555;
	offer(f, 0);
	assert_int_equal(pop(f), 1);
	assert_int_equal(*avail_event(f), 0x5555);
}

static void reset_forgets_everything(void **state)
{
	struct fixture *f = *state;

	start(f, true, true);
	virtq_reset(&f->q);
	assert_int_equal(f->q.size, 0);
	assert_false(f->q.ready);
	assert_null(f->q.desc);
	assert_null(f->q.avail);
	assert_null(f->q.used);
	assert_int_equal(f->q.last_avail, 0);
	assert_int_equal(f->q.used_idx, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(start_rejects_bad_size_and_alignment),
		T(start_rejects_rings_outside_ram),
		T(used_ring_ending_at_end_of_ram),
		T(empty_ring_pops_nothing),
		T(good_chain),
		T(chain_as_long_as_the_queue),
		T(descriptor_loops_end),
		T(next_past_the_queue),
		T(head_past_the_queue),
		T(avail_idx_jump),
		T(addresses_outside_ram),
		T(lengths_at_the_edges),
		T(readable_after_writable),
		T(indirect_chain),
		T(indirect_refused),
		T(indirect_inside_indirect),
		T(indirect_loop_and_bad_next),
		T(chain_read_write_across_buffers),
		T(no_interrupt_flag),
		T(event_idx_suppression),
		T(avail_event_written_after_pop),
		T(reset_forgets_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
