// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm/memory_file.c: guest RAM to a sparse memory file and back, mapped
 * copy-on-write.  Pages written with data come back byte for byte, the
 * rest read as zero, the file is sparse (holes for untouched and zero
 * pages), the restored RAM's writes never reach the file, and a file of
 * the wrong size is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "vm/memory.h"
#include "vm/memory_lz4.h"

#define MiB (1ULL << 20)
#define RAM (64 * MiB)

static char path[64];

static void make_ram(struct guest_memory *mem, uint64_t size)
{
	struct ember_err err = { "" };
	struct guest_region layout = { .gpa = 0, .size = size };
	if (guest_memory_create(mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(path, sizeof(path), "/tmp/ember-memfile-%ld", (long)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void round_trip_sparse_and_private(void **state)
{
	struct guest_memory a, b;
	struct ember_err err = { "" };
	uint64_t pages = 0;
	uint8_t pattern[8192];

	(void)state;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 31 + 7);
	make_ram(&a, RAM);
	/* Data at the start, a two-page run in the middle, the last page; one page touched with zeros. */
	assert_int_equal(guest_write(&a, 0, pattern, 4096), 0);
	assert_int_equal(guest_write(&a, 17 * MiB + 4096, pattern, 8192), 0);
	assert_int_equal(guest_write(&a, RAM - 4096, pattern + 100, 4096), 0);
	memset(guest_ptr(&a, 30 * MiB, 4096), 0, 4096); /* present, but zero: still a hole */
	assert_int_equal(guest_memory_save(&a, path, &pages, &err), 0);
	assert_int_equal(pages, 4);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal((uint64_t)st.st_size, RAM);
	assert_true((uint64_t)st.st_blocks * 512 < 1 * MiB); /* 16 KiB of data, not 64 MiB */

	make_ram(&b, RAM);
	assert_int_equal(guest_memory_map_file(&b, path, &err), 0);
	assert_memory_equal(guest_ptr(&b, 0, 4096), pattern, 4096);
	assert_memory_equal(guest_ptr(&b, 17 * MiB + 4096, 8192), pattern, 8192);
	assert_memory_equal(guest_ptr(&b, RAM - 4096, 4096), pattern + 100, 4096);
	const uint8_t *zero = guest_ptr(&b, 5 * MiB, 4096);
	for (int i = 0; i < 4096; i++)
		assert_int_equal(zero[i], 0);

	/* Copy-on-write: the restored VM's writes stay its own. */
	memset(guest_ptr(&b, 0, 4096), 0xee, 4096);
	struct guest_memory c;
	make_ram(&c, RAM);
	assert_int_equal(guest_memory_map_file(&c, path, &err), 0);
	assert_memory_equal(guest_ptr(&c, 0, 4096), pattern, 4096);

	guest_memory_destroy(&a);
	guest_memory_destroy(&b);
	guest_memory_destroy(&c);
}

static void wrong_size_and_missing_are_refused(void **state)
{
	struct guest_memory a, b;
	struct ember_err err = { "" };

	(void)state;
	make_ram(&a, 16 * MiB);
	assert_int_equal(guest_memory_save(&a, path, NULL, &err), 0);
	make_ram(&b, 32 * MiB);
	assert_int_equal(guest_memory_map_file(&b, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "of RAM"));
	assert_int_equal(truncate(path, 16 * MiB - 4096), 0); /* a truncated memory file */
	make_ram(&a, 16 * MiB);
	assert_int_equal(guest_memory_map_file(&a, path, &err), -EINVAL);
	unlink(path);
	assert_int_equal(guest_memory_map_file(&a, path, &err), -ENOENT);
	guest_memory_destroy(&a);
	guest_memory_destroy(&b);
}

static void save_is_atomic(void **state)
{
	struct guest_memory a;
	struct ember_err err = { "" };

	(void)state;
	make_ram(&a, 16 * MiB);
	assert_int_equal(guest_memory_save(&a, "/nonexistent-dir/mem", NULL, &err), -ENOENT);
	assert_int_equal(guest_memory_save(&a, path, NULL, &err), 0);
	char tmp[96];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
	assert_int_equal(access(tmp, F_OK), -1); /* no temporary left behind */
	guest_memory_destroy(&a);
}

/*
 * A restored VM's RAM is the memory file mapped copy-on-write: pages the
 * guest has not touched since are not "present" in pagemap, yet hold the
 * file's bytes.  Saving it again (sparse or LZ4) must keep them.
 */
static void resaving_restored_ram_keeps_untouched_pages(void **state)
{
	struct guest_memory a, b, c, d;
	struct ember_err err = { "" };
	uint8_t pattern[4096];
	char path2[96], path3[96];

	(void)state;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	snprintf(path2, sizeof(path2), "%s.second", path);
	snprintf(path3, sizeof(path3), "%s.lz4", path);
	make_ram(&a, 16 * MiB);
	assert_int_equal(guest_write(&a, 1 * MiB, pattern, 4096), 0);
	assert_int_equal(guest_write(&a, 9 * MiB, pattern, 4096), 0);
	assert_int_equal(guest_memory_save(&a, path, NULL, &err), 0);

	make_ram(&b, 16 * MiB);
	assert_int_equal(guest_memory_map_file(&b, path, &err), 0);
	memset(guest_ptr(&b, 5 * MiB, 4096), 0x5a, 4096); /* the one page touched since */
	uint64_t pages = 0;
	assert_int_equal(guest_memory_save(&b, path2, &pages, &err), 0);
	assert_int_equal(pages, 3);
	make_ram(&c, 16 * MiB);
	assert_int_equal(guest_memory_map_file(&c, path2, &err), 0);
	assert_memory_equal(guest_ptr(&c, 1 * MiB, 4096), pattern, 4096);
	assert_memory_equal(guest_ptr(&c, 9 * MiB, 4096), pattern, 4096);
	assert_int_equal(*(uint8_t *)guest_ptr(&c, 5 * MiB + 17, 1), 0x5a);

	int fd = open(path3, O_RDWR | O_CREAT | O_TRUNC, 0600);
	int pm = open("/proc/self/pagemap", O_RDONLY);
	struct memory_lz4_stats st;
	assert_true(fd >= 0);
	assert_int_equal(guest_memory_write_lz4(&b, fd, pm, &st, &err), 0);
	make_ram(&d, 16 * MiB);
	assert_int_equal(guest_memory_load_lz4(&d, fd, 1, &err), 0);
	assert_memory_equal(guest_ptr(&d, 1 * MiB, 4096), pattern, 4096);
	assert_memory_equal(guest_ptr(&d, 9 * MiB, 4096), pattern, 4096);
	assert_int_equal(*(uint8_t *)guest_ptr(&d, 5 * MiB + 17, 1), 0x5a);
	close(fd);
	if (pm >= 0)
		close(pm);
	unlink(path2);
	unlink(path3);
	guest_memory_destroy(&a);
	guest_memory_destroy(&b);
	guest_memory_destroy(&c);
	guest_memory_destroy(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(round_trip_sparse_and_private, setup, teardown),
		cmocka_unit_test_setup_teardown(wrong_size_and_missing_are_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(save_is_atomic, setup, teardown),
		cmocka_unit_test_setup_teardown(resaving_restored_ram_keeps_untouched_pages, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
