// SPDX-License-Identifier: GPL-2.0-only
/* vm/bus.c: range registration (sorted, overlap, limits), lookup and dispatch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "vm/bus.h"

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

/* What the last handler call saw. */
struct probe {
	unsigned calls;
	uint64_t offset;
	unsigned len;
	bool is_write;
	uint8_t seen[8];  /* data as the handler received it */
	uint8_t reply[8]; /* what a read fills in */
	unsigned reply_len;
};

static void probe_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			 bool is_write)
{
	struct probe *p = opaque;
	p->calls++;
	p->offset = offset;
	p->len = len;
	p->is_write = is_write;
	memcpy(p->seen, data, len < sizeof(p->seen) ? len : sizeof(p->seen));
	if (!is_write)
		memcpy(data, p->reply, p->reply_len < len ? p->reply_len : len);
}

static void never_called(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			 bool is_write)
{
	(void)opaque; (void)offset; (void)data; (void)len; (void)is_write;
	fail_msg("handler called for an address it does not own");
}

static int reg(struct bus *bus, uint64_t base, uint64_t len, const char *name,
	       struct ember_err *err)
{
	return bus_register(bus, base, len, never_called, NULL, name, err);
}

static void init_is_empty(void **state)
{
	(void)state;
	struct bus bus;
	memset(&bus, 0xa5, sizeof(bus));
	bus_init(&bus, "port");
	assert_int_equal(bus.nr, 0);
	assert_string_equal(bus.name, "port");
	assert_null(bus_find(&bus, 0));
	assert_null(bus_find(&bus, UINT64_MAX));
}

static void registers_sorted(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "port");

	/* Out of order on purpose: the table must end up sorted by base. */
	assert_int_equal(reg(&bus, 0x3f8, 8, "uart", &err), 0);
	assert_int_equal(reg(&bus, 0x60, 1, "i8042-data", &err), 0);
	assert_int_equal(reg(&bus, 0x501, 1, "exit", &err), 0);
	assert_int_equal(reg(&bus, 0x70, 2, "rtc", &err), 0);
	assert_int_equal(reg(&bus, 0x0, 0x10, "dma", &err), 0);
	assert_int_equal(bus.nr, 5);

	const uint64_t want[] = { 0x0, 0x60, 0x70, 0x3f8, 0x501 };
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(bus.range[i].base, want[i]);
	assert_string_equal(bus.range[3].name, "uart");
	assert_int_equal(bus.range[3].len, 8);
}

static void overlap_rejected(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "mmio");
	assert_int_equal(reg(&bus, 0x1000, 0x100, "a", &err), 0);
	assert_int_equal(reg(&bus, 0x3000, 0x100, "b", &err), 0);

	struct { uint64_t base, len; const char *other; } bad[] = {
		{ 0x1000, 0x100, "a" },  /* identical */
		{ 0x1000, 1, "a" },      /* same base, shorter */
		{ 0x10ff, 1, "a" },      /* last byte of a */
		{ 0x0f00, 0x101, "a" },  /* tail reaches a's first byte */
		{ 0x1080, 0x10, "a" },   /* inside a */
		{ 0x0800, 0x1000, "a" }, /* covers a */
		{ 0x2fff, 2, "b" },      /* head of b */
		{ 0x30ff, 0x10, "b" },   /* tail of b */
		{ 0x1100, 0x1f01, "b" }, /* fills the gap and one byte more */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.msg[0] = '\0';
		assert_int_equal(reg(&bus, bad[i].base, bad[i].len, "new", &err), -EBUSY);
		assert_contains(err.msg, "overlaps");
		assert_contains(err.msg, "mmio");
		assert_contains(err.msg, "new");
		/* The message names the range already there. */
		char other[16];
		snprintf(other, sizeof(other), "overlaps %s", bad[i].other);
		assert_contains(err.msg, other);
	}
	/* Rejections leave the table as it was. */
	assert_int_equal(bus.nr, 2);
	assert_int_equal(bus.range[0].base, 0x1000);
	assert_int_equal(bus.range[1].base, 0x3000);
}

static void adjacent_accepted(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "port");
	assert_int_equal(reg(&bus, 0x100, 0x10, "mid", &err), 0);
	assert_int_equal(reg(&bus, 0x110, 0x10, "after", &err), 0);  /* starts at mid's end */
	assert_int_equal(reg(&bus, 0x0f0, 0x10, "before", &err), 0); /* ends at mid's base */
	assert_int_equal(bus.nr, 3);
	assert_string_equal(bus_find(&bus, 0x0ff)->name, "before");
	assert_string_equal(bus_find(&bus, 0x100)->name, "mid");
	assert_string_equal(bus_find(&bus, 0x10f)->name, "mid");
	assert_string_equal(bus_find(&bus, 0x110)->name, "after");
	assert_null(bus_find(&bus, 0x120));
	assert_null(bus_find(&bus, 0x0ef));
}

static void lookup_edges(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "mmio");
	/* Enough ranges that the binary search takes several steps. */
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(bus_register(&bus, 0x10000 + i * 0x1000ULL, 0x200, never_called,
					      (void *)(uintptr_t)(i + 1), "dev", &err), 0);
	for (unsigned i = 0; i < 20; i++) {
		uint64_t base = 0x10000 + i * 0x1000ULL;
		const struct bus_range *r = bus_find(&bus, base);
		assert_non_null(r);
		assert_ptr_equal(r->opaque, (void *)(uintptr_t)(i + 1));
		r = bus_find(&bus, base + 0x1ff); /* last byte */
		assert_non_null(r);
		assert_ptr_equal(r->opaque, (void *)(uintptr_t)(i + 1));
		assert_null(bus_find(&bus, base + 0x200)); /* one past */
		assert_null(bus_find(&bus, base - 1));    /* one before */
	}
	assert_null(bus_find(&bus, 0));
	assert_null(bus_find(&bus, UINT64_MAX));

	/* A range at the very top of the address space (not wrapping). */
	assert_int_equal(bus_register(&bus, UINT64_MAX - 0xf, 0xf, never_called, NULL, "top",
				      &err), 0);
	assert_string_equal(bus_find(&bus, UINT64_MAX - 1)->name, "top");
	assert_null(bus_find(&bus, UINT64_MAX));
}

static void unclaimed_access(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "port");
	assert_int_equal(reg(&bus, 0x3f8, 8, "uart", &err), 0);

	uint8_t data[4] = { 1, 2, 3, 4 };
	assert_false(bus_access(&bus, 0x3f0, data, 4, false));
	const uint8_t ones[4] = { 0xff, 0xff, 0xff, 0xff };
	assert_memory_equal(data, ones, 4);

	/* Reads fill exactly len bytes. */
	uint8_t two[4] = { 1, 2, 3, 4 };
	assert_false(bus_access(&bus, 0x400, two, 2, false));
	assert_int_equal(two[0], 0xff);
	assert_int_equal(two[1], 0xff);
	assert_int_equal(two[2], 3);
	assert_int_equal(two[3], 4);

	/* Writes to nowhere are dropped and leave the buffer alone. */
	uint8_t w[2] = { 0x12, 0x34 };
	assert_false(bus_access(&bus, 0x3f7, w, 2, true));
	assert_int_equal(w[0], 0x12);
	assert_int_equal(w[1], 0x34);
}

static void handler_dispatch(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	struct probe a = { 0 }, b = { 0 };
	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0xd0000000, 0x200, probe_access, &a, "a", &err), 0);
	assert_int_equal(bus_register(&bus, 0xd0000200, 0x200, probe_access, &b, "b", &err), 0);

	/* A write: handler sees the offset from its base, the length and the bytes. */
	uint8_t w[4] = { 0xde, 0xad, 0xbe, 0xef };
	assert_true(bus_access(&bus, 0xd0000070, w, 4, true));
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 0);
	assert_int_equal(a.offset, 0x70);
	assert_int_equal(a.len, 4);
	assert_true(a.is_write);
	assert_memory_equal(a.seen, w, 4);

	/* A read: preset to all ones, bytes the handler leaves stay 0xff. */
	b.reply[0] = 0x42;
	b.reply_len = 1;
	uint8_t r[4] = { 0, 0, 0, 0 };
	assert_true(bus_access(&bus, 0xd0000204, r, 4, false));
	assert_int_equal(b.calls, 1);
	assert_int_equal(b.offset, 4);
	assert_int_equal(b.len, 4);
	assert_false(b.is_write);
	const uint8_t preset[4] = { 0xff, 0xff, 0xff, 0xff };
	assert_memory_equal(b.seen, preset, 4);
	assert_int_equal(r[0], 0x42);
	assert_int_equal(r[1], 0xff);
	assert_int_equal(r[3], 0xff);

	/* Last byte of a goes to a, the next to b. */
	uint8_t one = 0;
	assert_true(bus_access(&bus, 0xd00001ff, &one, 1, false));
	assert_int_equal(a.calls, 2);
	assert_int_equal(a.offset, 0x1ff);
	assert_true(bus_access(&bus, 0xd0000200, &one, 1, false));
	assert_int_equal(b.calls, 2);
	assert_int_equal(b.offset, 0);
	assert_false(bus_access(&bus, 0xd0000400, &one, 1, false));
	assert_int_equal(a.calls + b.calls, 4);
}

static void table_full(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "port");
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_int_equal(reg(&bus, i * 0x10ULL, 8, "dev", &err), 0);
	assert_int_equal(bus.nr, BUS_MAX_RANGES);

	assert_int_equal(reg(&bus, 0x100000, 8, "one-too-many", &err), -ENOSPC);
	assert_contains(err.msg, "too many port devices");
	assert_contains(err.msg, "64");
	assert_int_equal(bus.nr, BUS_MAX_RANGES);
	/* Every earlier range is still found. */
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++)
		assert_non_null(bus_find(&bus, i * 0x10ULL + 7));
	assert_null(bus_find(&bus, 0x100000));
}

static void bad_ranges_rejected(void **state)
{
	(void)state;
	struct bus bus;
	struct ember_err err = { "" };
	bus_init(&bus, "mmio");

	assert_int_equal(reg(&bus, 0x1000, 0, "empty", &err), -EINVAL);
	assert_contains(err.msg, "bad mmio range for empty");
	err.msg[0] = '\0';
	assert_int_equal(reg(&bus, UINT64_MAX, 2, "wraps", &err), -EINVAL);
	assert_contains(err.msg, "wraps");
	assert_int_equal(reg(&bus, 0x8000000000000000ULL, 0x8000000000000001ULL, "wraps2", &err),
			 -EINVAL);
	assert_int_equal(reg(&bus, 1, UINT64_MAX, "wraps3", &err), -EINVAL);
	assert_int_equal(bus.nr, 0);

	/* A NULL err is allowed: the code is still returned. */
	assert_int_equal(reg(&bus, 0, 0, "quiet", NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(init_is_empty),
		cmocka_unit_test(registers_sorted),
		cmocka_unit_test(overlap_rejected),
		cmocka_unit_test(adjacent_accepted),
		cmocka_unit_test(lookup_edges),
		cmocka_unit_test(unclaimed_access),
		cmocka_unit_test(handler_dispatch),
		cmocka_unit_test(table_full),
		cmocka_unit_test(bad_ranges_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
