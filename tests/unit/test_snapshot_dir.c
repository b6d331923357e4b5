// SPDX-License-Identifier: GPL-2.0-only
/*
 * vm/snapshot_dir.c and vm/warm.c: a snapshot directory is written whole
 * (parents made, state and memory read back as written, no temporary left),
 * replaced whole (a reader that opened the old one keeps a consistent old
 * pair), missing or incomplete ones are told apart; the warm cache's shape
 * follows what the booted guest depends on (memory, vCPUs, a rebuilt
 * kernel) but not what a run may change (disk sizes, which must only fit),
 * lives under XDG_CACHE_HOME or HOME, and `ember cache prune` empties it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/arch.h"
#include "vm/snapshot_dir.h"
#include "vm/warm.h"

#define MiB (1ULL << 20)

#define assert_contains(hay, needle)                                                   \
	do {                                                                           \
		if (!strstr((hay), (needle)))                                          \
			fail_msg("\"%s\" does not contain \"%s\"", (hay), (needle));   \
	} while (0)

static char base[64];

static int setup(void **state)
{
	(void)state;
	snprintf(base, sizeof(base), "/tmp/ember-snapdir-%ld", (long)getpid());
	return mkdir(base, 0700);
}

static int teardown(void **state)
{
	char cmd[128];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	return system(cmd);
}

static void make_ram(struct guest_memory *mem, uint64_t size)
{
	struct ember_err err = { "" };
	struct guest_region layout = { .gpa = 0, .size = size };
	if (guest_memory_create(mem, &layout, 1, &err))
		fail_msg("guest_memory_create: %s", err.msg);
}

/* A snapshot whose RAM starts with `fill` and whose one section holds `tag_value`. */
static void write_snapshot(struct snapshot_dir *d, uint8_t fill, uint32_t tag_value)
{
	struct guest_memory mem;
	struct snapshot_writer w = { 0 };
	struct snapshot_dir_stats st;
	struct ember_err err = { "" };

	make_ram(&mem, 4 * MiB);
	memset(guest_ptr(&mem, 0, 8192), fill, 8192);
	assert_int_equal(snapshot_put(&w, 0x42, 0, &tag_value, sizeof(tag_value)), 0);
	if (snapshot_dir_write(d, &w, &mem, false, &st, &err))
		fail_msg("snapshot_dir_write: %s", err.msg);
	assert_int_equal(st.memory_pages, 2);
	assert_true(st.state_bytes > 0);
	snapshot_writer_free(&w);
	guest_memory_destroy(&mem);
}

/* Reads the snapshot back: its section value and the first RAM byte. */
static void check_snapshot(struct snapshot_loaded *l, uint8_t fill, uint32_t tag_value)
{
	struct guest_memory mem;
	struct ember_err err = { "" };
	const struct snapshot_section *s = snapshot_find(&l->state, 0x42, 0);

	assert_non_null(s);
	assert_int_equal(s->len, sizeof(tag_value));
	assert_memory_equal(s->data, &tag_value, sizeof(tag_value));
	make_ram(&mem, 4 * MiB);
	if (snapshot_dir_load_memory(l, &mem, &err))
		fail_msg("snapshot_dir_load_memory: %s", err.msg);
	assert_int_equal(*(uint8_t *)guest_ptr(&mem, 8191, 1), fill);
	assert_int_equal(*(uint8_t *)guest_ptr(&mem, 8192, 1), 0);
	guest_memory_destroy(&mem);
}

static unsigned count_entries(const char *dir)
{
	unsigned n = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

static void written_whole_and_replaced_whole(void **state)
{
	struct snapshot_dir d;
	struct snapshot_loaded old, now;
	struct ember_err err = { "" };
	char path[256], parent[128];

	(void)state;
	snprintf(parent, sizeof(parent), "%s/a/b", base);
	snprintf(path, sizeof(path), "%s/snap", parent);
	assert_int_equal(snapshot_dir_load(&old, path, "test", &err), -ENOENT);
	snapshot_loaded_free(&old);
	if (snapshot_dir_prepare(&d, path, &err))
		fail_msg("prepare: %s", err.msg);
	write_snapshot(&d, 0x11, 1);
	assert_int_equal(count_entries(parent), 1); /* snap, and no temporary directory */

	assert_int_equal(snapshot_dir_load(&old, path, EMBER_VERSION, &err), 0);
	write_snapshot(&d, 0x22, 2); /* swapped in while `old` is open */
	assert_int_equal(count_entries(parent), 1);
	assert_int_equal(snapshot_dir_load(&now, path, EMBER_VERSION, &err), 0);
	check_snapshot(&now, 0x22, 2);
	check_snapshot(&old, 0x11, 1); /* the old pair, still whole */
	snapshot_loaded_free(&old);
	snapshot_loaded_free(&now);
	snapshot_dir_close(&d);
}

static void incomplete_and_foreign_are_refused(void **state)
{
	struct snapshot_dir d;
	struct snapshot_loaded l;
	struct ember_err err = { "" };
	char path[128], file[160];

	(void)state;
	snprintf(path, sizeof(path), "%s/snap2", base);
	assert_int_equal(snapshot_dir_prepare(&d, path, &err), 0);
	write_snapshot(&d, 0x33, 3);
	assert_true(snapshot_dir_load(&l, path, "another-version", &err) < 0);
	assert_contains(err.msg, "another-version");
	snapshot_loaded_free(&l);
	snprintf(file, sizeof(file), "%s/memory", path);
	assert_int_equal(unlink(file), 0);
	assert_true(snapshot_dir_load(&l, path, EMBER_VERSION, &err) < 0);
	assert_contains(err.msg, "incomplete");
	snapshot_loaded_free(&l);
	snapshot_dir_close(&d);
	assert_true(snapshot_dir_prepare(&d, "/", &err) < 0);
	assert_contains(err.msg, "give it a name");
	snapshot_dir_close(&d);
}

/* ---- warm cache ----------------------------------------------------------------- */

static void base_config(struct ember_config *cfg, const char *kernel, const char *disk)
{
	config_defaults(cfg);
	cfg->kernel = kernel;
	cfg->init_handshake = true;
	cfg->console = EMBER_CONSOLE_SPLIT;
	cfg->nr_disks = 1;
	cfg->disks[0].path = disk;
}

static void write_file(const char *path, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	close(fd);
}

static void shape_follows_what_the_guest_depends_on(void **state)
{
	struct ember_config cfg;
	struct warm_shape a, b;
	char kernel[128], disk[128], why[512];

	(void)state;
	snprintf(kernel, sizeof(kernel), "%s/bzImage", base);
	snprintf(disk, sizeof(disk), "%s/disk.img", base);
	write_file(kernel, 4096);
	write_file(disk, 1 * MiB);
	setenv("XDG_CACHE_HOME", base, 1);
	base_config(&cfg, kernel, disk);
	assert_int_equal(warm_shape_describe(&a, &cfg), 0);
	assert_true(strncmp(a.dir, base, strlen(base)) == 0);
	assert_contains(a.dir, "/ember/warm/");
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_equal(a.dir, b.dir); /* the same ask, the same entry */

	cfg.mem_bytes *= 2;
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_not_equal(a.dir, b.dir);
	base_config(&cfg, kernel, disk);
	cfg.cpus = 2;
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_not_equal(a.dir, b.dir);
	base_config(&cfg, kernel, disk);
	cfg.disks[0].read_only = true;
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_not_equal(a.dir, b.dir);

	/* A snapshot saved with shape a fits a, not a bigger disk under the same key. */
	struct snapshot_writer w = { 0 };
	struct snapshot_reader r;
	struct ember_err err = { "" };
	assert_int_equal(warm_shape_put(&a, &w), 0);
	struct snapshot_writer framed = { 0 };
	assert_int_equal(warm_shape_put(&a, &framed), 0);
	char file[160];
	snprintf(file, sizeof(file), "%s/shape.state", base);
	assert_int_equal(snapshot_write_file(&framed, "v", file, &err), 0);
	assert_int_equal(snapshot_read_file(&r, file, "v", &err), 0);
	assert_true(warm_shape_fits(&a, &r, why, sizeof(why)));
	write_file(disk, 2 * MiB);
	base_config(&cfg, kernel, disk);
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_equal(a.dir, b.dir);
	assert_false(warm_shape_fits(&b, &r, why, sizeof(why)));
	assert_contains(why, "size 1048576");
	assert_contains(why, "size 2097152");
	snapshot_reader_free(&r);
	snapshot_writer_free(&w);
	snapshot_writer_free(&framed);

	/* A rebuilt kernel (same path, new file) is another guest. */
	unlink(kernel);
	write_file(kernel, 4096);
	assert_int_equal(warm_shape_describe(&b, &cfg), 0);
	assert_string_not_equal(a.dir, b.dir);
	/* A kernel that is gone: no warm start. */
	unlink(kernel);
	assert_int_equal(warm_shape_describe(&b, &cfg), -1);
}

static void cache_root_and_prune(void **state)
{
	char root[256], want[256], entry[300], file[320];
	unsigned removed;
	struct ember_err err = { "" };

	(void)state;
	setenv("XDG_CACHE_HOME", base, 1);
	assert_int_equal(warm_cache_root(root, sizeof(root)), 0);
	snprintf(want, sizeof(want), "%s/ember/warm", base);
	assert_string_equal(root, want);
	setenv("XDG_CACHE_HOME", "relative/ignored", 1);
	setenv("HOME", "/home/someone", 1);
	assert_int_equal(warm_cache_root(root, sizeof(root)), 0);
	assert_string_equal(root, "/home/someone/.cache/ember/warm");
	unsetenv("XDG_CACHE_HOME");
	unsetenv("HOME");
	assert_int_equal(warm_cache_root(root, sizeof(root)), -1);
	assert_true(warm_prune(&removed, &err) < 0);

	setenv("XDG_CACHE_HOME", base, 1);
	assert_int_equal(warm_prune(&removed, &err), 0); /* no cache yet: nothing to do */
	assert_int_equal(removed, 0);
	struct snapshot_dir d;
	snprintf(entry, sizeof(entry), "%s/0123456789abcdef", want);
	assert_int_equal(snapshot_dir_prepare(&d, entry, &err), 0);
	write_snapshot(&d, 0x44, 4);
	snapshot_dir_close(&d);
	/* An interrupted write's leftover goes too. */
	snprintf(entry, sizeof(entry), "%s/.0123.tmp-1-0", want);
	assert_int_equal(mkdir(entry, 0700), 0);
	snprintf(file, sizeof(file), "%s/memory", entry);
	write_file(file, 4096);
	assert_int_equal(warm_prune(&removed, &err), 0);
	assert_int_equal(removed, 2);
	assert_int_equal(count_entries(want), 0);
}

/* On kvm_pvm the host's boot is part of a saved guest's world (its TSC cannot be set). */
static void host_identity_has_the_boot_on_pvm_only(void **state)
{
	char with[256], without[256], boot_id[64] = "";
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");

	(void)state;
	assert_non_null(f);
	assert_non_null(fgets(boot_id, sizeof(boot_id), f));
	fclose(f);
	boot_id[strcspn(boot_id, "\n")] = '\0';
	setenv("EMBER_PVM", "1", 1);
	arch_host_identity(with, sizeof(with));
	setenv("EMBER_PVM", "0", 1);
	arch_host_identity(without, sizeof(without));
	unsetenv("EMBER_PVM");
	assert_contains(with, boot_id);
	assert_null(strstr(without, boot_id));
	assert_true(strlen(without) > 4); /* the CPU's vendor and signature */
	assert_true(strncmp(with, without, strlen(without)) == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(written_whole_and_replaced_whole),
		cmocka_unit_test(incomplete_and_foreign_are_refused),
		cmocka_unit_test(shape_follows_what_the_guest_depends_on),
		cmocka_unit_test(cache_root_and_prune),
		cmocka_unit_test(host_identity_has_the_boot_on_pvm_only),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
