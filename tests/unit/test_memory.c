// SPDX-License-Identifier: GPL-2.0-only
/* vm/memory.c with the x86 layout (arch_memory_layout): regions and bounds checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "vm/memory.h"

#define MiB (1ULL << 20)
#define GiB (1ULL << 30)

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

static void create_x86(struct guest_memory *mem, uint64_t bytes)
{
	struct guest_region layout[GUEST_MEM_MAX_REGIONS];
	struct ember_err err = { "" };
	unsigned n = arch_memory_layout(bytes, layout);
	if (guest_memory_create(mem, layout, n, &err) != 0)
		fail_msg("guest_memory_create: %s", err.msg);
}

static void layout_small(void **state)
{
	(void)state;
	struct guest_region l[GUEST_MEM_MAX_REGIONS];
	assert_int_equal(arch_memory_layout(256 * MiB, l), 1);
	assert_int_equal(l[0].gpa, 0);
	assert_int_equal(l[0].size, 256 * MiB);

	/* Exactly up to the device hole still needs one region. */
	assert_int_equal(arch_memory_layout(3 * GiB, l), 1);
	assert_int_equal(l[0].size, 3 * GiB);
}

static void layout_above_hole(void **state)
{
	(void)state;
	struct guest_region l[GUEST_MEM_MAX_REGIONS];
	assert_int_equal(arch_memory_layout(4 * GiB, l), 2);
	assert_int_equal(l[0].gpa, 0);
	assert_int_equal(l[0].size, 3 * GiB);
	assert_int_equal(l[1].gpa, 4 * GiB);
	assert_int_equal(l[1].size, 1 * GiB);

	/* One page past the hole start: that page moves above 4 GiB. */
	assert_int_equal(arch_memory_layout(3 * GiB + 4096, l), 2);
	assert_int_equal(l[0].size, 3 * GiB);
	assert_int_equal(l[1].gpa, 4 * GiB);
	assert_int_equal(l[1].size, 4096);
}

static void create_one_region(void **state)
{
	(void)state;
	struct guest_memory mem;
	create_x86(&mem, 256 * MiB);
	assert_int_equal(mem.nr_regions, 1);
	assert_non_null(mem.mapping);
	assert_int_equal(mem.mapping_size, 256 * MiB);
	assert_ptr_equal(mem.region[0].host, mem.mapping);
	assert_int_equal(mem.region[0].gpa, 0);
	assert_int_equal(guest_memory_size(&mem), 256 * MiB);
	/* Fresh anonymous memory reads as zero, and is writable. */
	assert_int_equal(mem.mapping[0], 0);
	assert_int_equal(mem.mapping[256 * MiB - 1], 0);
	mem.mapping[256 * MiB - 1] = 0x5a;
	guest_memory_destroy(&mem);
	assert_null(mem.mapping);
	assert_int_equal(mem.nr_regions, 0);
	assert_int_equal(guest_memory_size(&mem), 0);
}

static void create_two_regions(void **state)
{
	(void)state;
	struct guest_memory mem;
	create_x86(&mem, 4 * GiB);
	assert_int_equal(mem.nr_regions, 2);
	assert_int_equal(mem.mapping_size, 4 * GiB);
	assert_int_equal(guest_memory_size(&mem), 4 * GiB);
	assert_int_equal(mem.region[1].gpa, 4 * GiB);
	assert_int_equal(mem.region[1].size, 1 * GiB);
	/* The regions share one mapping, back to back. */
	assert_ptr_equal(mem.region[0].host, mem.mapping);
	assert_ptr_equal(mem.region[1].host, mem.mapping + 3 * GiB);
	guest_memory_destroy(&mem);
}

static void create_rejects_region_count(void **state)
{
	(void)state;
	struct guest_memory mem;
	struct guest_region l[GUEST_MEM_MAX_REGIONS + 1] = { { 0, MiB, NULL } };
	struct ember_err err = { "" };
	assert_int_equal(guest_memory_create(&mem, l, 0, &err), -EINVAL);
	assert_contains(err.msg, "0 memory regions");
	assert_null(mem.mapping);
	assert_int_equal(guest_memory_create(&mem, l, GUEST_MEM_MAX_REGIONS + 1, &err), -EINVAL);
	assert_contains(err.msg, "5 memory regions");
}

static void ptr_bounds_one_region(void **state)
{
	(void)state;
	struct guest_memory mem;
	const uint64_t end = 256 * MiB;
	create_x86(&mem, end);
	uint8_t *base = mem.region[0].host;

	assert_ptr_equal(guest_ptr(&mem, 0, 1), base);
	assert_ptr_equal(guest_ptr(&mem, 0x1000, 0x1000), base + 0x1000);
	assert_ptr_equal(guest_ptr(&mem, 0, end), base);                 /* all of RAM */
	assert_ptr_equal(guest_ptr(&mem, end - 16, 16), base + end - 16); /* ends at the end */
	assert_ptr_equal(guest_ptr(&mem, end - 1, 1), base + end - 1);    /* last byte */
	assert_null(guest_ptr(&mem, end - 16, 17));                       /* one byte past */
	assert_null(guest_ptr(&mem, 0, end + 1));
	assert_null(guest_ptr(&mem, end, 1));                             /* first byte after */
	assert_null(guest_ptr(&mem, end + 4096, 1));
	assert_null(guest_ptr(&mem, 0x1000, UINT64_MAX));                 /* huge len */
	assert_null(guest_ptr(&mem, 0x1000, UINT64_MAX - 0x800));         /* gpa + len wraps */
	assert_null(guest_ptr(&mem, UINT64_MAX, 1));
	assert_null(guest_ptr(&mem, UINT64_MAX, 2));                      /* wraps to 0 */
	assert_null(guest_ptr(&mem, UINT64_MAX - 0xfff, 0x2000));         /* wraps into RAM */

	/* Empty ranges: fine inside RAM, not outside it. */
	assert_ptr_equal(guest_ptr(&mem, 0x2000, 0), base + 0x2000);
	assert_null(guest_ptr(&mem, end + 1, 0));
	assert_null(guest_ptr(&mem, UINT64_MAX, 0));
	guest_memory_destroy(&mem);
}

static void ptr_bounds_two_regions(void **state)
{
	(void)state;
	struct guest_memory mem;
	create_x86(&mem, 4 * GiB + 64 * MiB);
	const uint64_t low_end = 3 * GiB, high = 4 * GiB, high_end = high + GiB + 64 * MiB;
	uint8_t *lo = mem.region[0].host, *hi = mem.region[1].host;

	assert_ptr_equal(guest_ptr(&mem, low_end - 8, 8), lo + low_end - 8);
	assert_null(guest_ptr(&mem, low_end - 8, 9));
	/* The 3-4 GiB device hole has no RAM. */
	assert_null(guest_ptr(&mem, low_end, 1));
	assert_null(guest_ptr(&mem, 0xfec00000, 4));  /* IOAPIC */
	assert_null(guest_ptr(&mem, high - 1, 1));
	assert_null(guest_ptr(&mem, high - 1, 2));    /* straddles into high RAM */
	assert_null(guest_ptr(&mem, low_end - 4, GiB + 8)); /* spans the hole */
	/* RAM above 4 GiB. */
	assert_ptr_equal(guest_ptr(&mem, high, 1), hi);
	assert_ptr_equal(guest_ptr(&mem, high + 0x1234, 0x100), hi + 0x1234);
	assert_ptr_equal(guest_ptr(&mem, high_end - 4096, 4096), hi + (high_end - high) - 4096);
	assert_null(guest_ptr(&mem, high_end - 4096, 4097));
	assert_null(guest_ptr(&mem, high_end, 1));
	assert_null(guest_ptr(&mem, high + 16, UINT64_MAX - 8)); /* gpa + len wraps */
	assert_null(guest_ptr(&mem, 0x2000ULL << 32, 1));
	assert_ptr_equal(guest_ptr(&mem, high + 8, 0), hi + 8);
	assert_null(guest_ptr(&mem, low_end + 8, 0));
	guest_memory_destroy(&mem);
}

/*
 * Two regions that touch (no hole between them): a range wholly inside the
 * second one must be found.  arch_memory_layout never produces this today.
 */
static void ptr_adjacent_regions(void **state)
{
	(void)state;
	struct guest_memory mem;
	struct ember_err err = { "" };
	const struct guest_region l[2] = { { 0, MiB, NULL }, { MiB, MiB, NULL } };
	assert_int_equal(guest_memory_create(&mem, l, 2, &err), 0);
	assert_ptr_equal(guest_ptr(&mem, MiB - 1, 1), mem.region[0].host + MiB - 1);
	assert_ptr_equal(guest_ptr(&mem, MiB + 1, 1), mem.region[1].host + 1);
	/* A range across the boundary is not "wholly inside one region". */
	assert_null(guest_ptr(&mem, MiB - 1, 2));
	/* The first byte of region 1 is region 1's, even though it is region 0's end. */
	assert_ptr_equal(guest_ptr(&mem, MiB, 1), mem.region[1].host);
	assert_ptr_equal(guest_ptr(&mem, MiB, MiB), mem.region[1].host);
	guest_memory_destroy(&mem);
}

static void read_write_round_trip(void **state)
{
	(void)state;
	struct guest_memory mem;
	create_x86(&mem, 4 * GiB + 64 * MiB);

	const char msg[] = "ember guest memory";
	assert_int_equal(guest_write(&mem, 0x7000, msg, sizeof(msg)), 0);
	char back[sizeof(msg)] = { 0 };
	assert_int_equal(guest_read(&mem, 0x7000, back, sizeof(back)), 0);
	assert_string_equal(back, msg);
	assert_memory_equal(mem.region[0].host + 0x7000, msg, sizeof(msg));

	/* Above 4 GiB the bytes land in region 1's part of the mapping. */
	uint64_t q = 0x0123456789abcdefULL, r = 0;
	assert_int_equal(guest_write(&mem, 4 * GiB + 0x10, &q, sizeof(q)), 0);
	assert_memory_equal(mem.region[1].host + 0x10, &q, sizeof(q));
	assert_int_equal(guest_read(&mem, 4 * GiB + 0x10, &r, sizeof(r)), 0);
	assert_int_equal(r, q);

	/* The very last bytes of RAM. */
	const uint64_t last = 4 * GiB + GiB + 64 * MiB - sizeof(q);
	assert_int_equal(guest_write(&mem, last, &q, sizeof(q)), 0);
	r = 0;
	assert_int_equal(guest_read(&mem, last, &r, sizeof(r)), 0);
	assert_int_equal(r, q);
	guest_memory_destroy(&mem);
}

static void read_write_fault(void **state)
{
	(void)state;
	struct guest_memory mem;
	create_x86(&mem, 256 * MiB);
	uint8_t buf[16];
	memset(buf, 0x77, sizeof(buf));

	assert_int_equal(guest_write(&mem, 256 * MiB - 8, buf, 16), -EFAULT);
	assert_int_equal(guest_read(&mem, 256 * MiB - 8, buf, 16), -EFAULT);
	assert_int_equal(guest_write(&mem, 3 * GiB + 0x100, buf, 1), -EFAULT);
	assert_int_equal(guest_read(&mem, UINT64_MAX - 3, buf, 8), -EFAULT);
	/* A failed write touches nothing: the bytes before the end are unchanged. */
	uint8_t tail[8];
	assert_int_equal(guest_read(&mem, 256 * MiB - 8, tail, 8), 0);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(tail[i], 0);
	/* A failed read leaves the destination alone. */
	for (unsigned i = 0; i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0x77);
	/* Zero-length copies inside RAM succeed. */
	assert_int_equal(guest_write(&mem, 0x1000, buf, 0), 0);
	assert_int_equal(guest_read(&mem, 0x1000, buf, 0), 0);
	guest_memory_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(layout_small),
		cmocka_unit_test(layout_above_hole),
		cmocka_unit_test(create_one_region),
		cmocka_unit_test(create_two_regions),
		cmocka_unit_test(create_rejects_region_count),
		cmocka_unit_test(ptr_bounds_one_region),
		cmocka_unit_test(ptr_bounds_two_regions),
		cmocka_unit_test(ptr_adjacent_regions),
		cmocka_unit_test(read_write_round_trip),
		cmocka_unit_test(read_write_fault),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
