// SPDX-License-Identifier: GPL-2.0-only
/* vm/config.c and boot/cmdline.c: flag values and command-line assembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <cmocka.h>

#include "boot/cmdline.h"
#include "vm/config.h"

static void size_parsing(void **state)
{
	(void)state;
	uint64_t b;
	assert_int_equal(config_parse_size("512M", &b), 0);
	assert_int_equal(b, 512ULL << 20);
	assert_int_equal(config_parse_size("2G", &b), 0);
	assert_int_equal(b, 2ULL << 30);
	assert_int_equal(config_parse_size("2g", &b), 0);
	assert_int_equal(config_parse_size("64KiB", &b), 0);
	assert_int_equal(b, 64ULL << 10);
	assert_int_equal(config_parse_size("1048576", &b), 0);
	assert_int_equal(b, 1048576);
	assert_int_equal(config_parse_size("1MB", &b), 0);
	assert_int_equal(b, 1ULL << 20);
}

static void size_rejects_junk(void **state)
{
	(void)state;
	uint64_t b;
	const char *bad[] = { "0", "3x", "", "-1", "M", "1.5G", "99999999999999999999", "16777216T",
			      " 1G", "1G ", "1GG", NULL };
	for (int i = 0; bad[i]; i++)
		assert_int_not_equal(config_parse_size(bad[i], &b), 0);
	assert_int_not_equal(config_parse_size(NULL, &b), 0);
}

static void uint_parsing(void **state)
{
	(void)state;
	unsigned v;
	assert_int_equal(config_parse_uint("4", 32, &v), 0);
	assert_int_equal(v, 4);
	assert_int_not_equal(config_parse_uint("33", 32, &v), 0);
	assert_int_not_equal(config_parse_uint("-1", 32, &v), 0);
	assert_int_not_equal(config_parse_uint("2x", 32, &v), 0);
	assert_int_not_equal(config_parse_uint("", 32, &v), 0);
}

static void validation(void **state)
{
	(void)state;
	struct ember_config cfg;
	struct ember_err err;

	config_defaults(&cfg);
	assert_int_not_equal(config_validate(&cfg, &err), 0);
	assert_non_null(strstr(err.msg, "no kernel"));

	cfg.kernel = "/nonexistent/bzImage";
	assert_int_not_equal(config_validate(&cfg, &err), 0);
	assert_non_null(strstr(err.msg, "--kernel /nonexistent/bzImage"));

	cfg.kernel = "/proc/self/exe"; /* a readable, non-empty regular file */
	assert_int_equal(config_validate(&cfg, &err), 0);
	cfg.cpus = 0;
	assert_int_not_equal(config_validate(&cfg, &err), 0);
	assert_non_null(strstr(err.msg, "--cpus"));
	cfg.cpus = 1;
	cfg.mem_bytes = 1 << 20;
	assert_int_not_equal(config_validate(&cfg, &err), 0);
	assert_non_null(strstr(err.msg, "--mem"));
	cfg.mem_bytes = EMBER_DEFAULT_MEM;
	cfg.initrd = "/dev/null"; /* not a regular file */
	assert_int_not_equal(config_validate(&cfg, &err), 0);
	assert_non_null(strstr(err.msg, "--initrd"));
}

static void cmdline_words(void **state)
{
	(void)state;
	char buf[32];
	struct cmdline cl;

	cmdline_init(&cl, buf, sizeof(buf));
	assert_int_equal(cmdline_append(&cl, "console=ttyS0"), 0);
	assert_int_equal(cmdline_append(&cl, "  quiet"), 0);
	assert_int_equal(cmdline_append(&cl, ""), 0);
	assert_string_equal(buf, "console=ttyS0 quiet");
	/* Too long: refused whole, the buffer keeps what it had. */
	assert_int_equal(cmdline_append(&cl, "0123456789abcdef"), -E2BIG);
	assert_string_equal(buf, "console=ttyS0 quiet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_parsing),   cmocka_unit_test(size_rejects_junk),
		cmocka_unit_test(uint_parsing),   cmocka_unit_test(validation),
		cmocka_unit_test(cmdline_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
