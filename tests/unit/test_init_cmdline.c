/* SPDX-License-Identifier: GPL-2.0-only */
/* Decoding of the ember.* kernel command-line keys by the guest's /init. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

/* init_cmdline.c is guest code, not part of libember.a. */
#include "rootfs/init_cmdline.c"

/* A kernel-ish prefix and suffix around the ember keys, as /proc/cmdline shows them. */
#define K0 "console=ttyS0 noxsave panic=-1 rdinit=/init "
#define K1 " quiet\n"

static void parse_ok(struct init_cmdline *c, const char *line)
{
	int r = init_cmdline_parse(c, line);
	if (r != 0)
		print_error("unexpected error: %s\n", c->error);
	assert_int_equal(r, 0);
}

static void test_plain_args(void **state)
{
	(void)state;
	struct init_cmdline c;
	parse_ok(&c, K0 "ember.arg=ls ember.arg=-l ember.arg=/tmp" K1);
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.argv[0], "ls");
	assert_string_equal(c.argv[1], "-l");
	assert_string_equal(c.argv[2], "/tmp");
	assert_null(c.argv[3]);
	assert_int_equal(c.envc, 0);
	assert_null(c.env[0]);
	assert_null(c.workdir);
	assert_false(c.tty);
	init_cmdline_free(&c);
}

static void test_no_keys(void **state)
{
	(void)state;
	struct init_cmdline c;
	parse_ok(&c, K0 "ember.unknown=1 embers.arg=x" K1);
	assert_int_equal(c.argc, 0);
	assert_non_null(c.argv);
	assert_null(c.argv[0]);
	init_cmdline_free(&c);
	parse_ok(&c, "");
	assert_int_equal(c.argc, 0);
	init_cmdline_free(&c);
}

static void test_spaces_quotes_newline(void **state)
{
	(void)state;
	struct init_cmdline c;
	parse_ok(&c, K0 "ember.arg=sh ember.arg=-c ember.arg=echo%20%22hi%20there%22%0Aexit%203" K1);
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.argv[2], "echo \"hi there\"\nexit 3");
	init_cmdline_free(&c);
	/* Escapes are case-insensitive; a literal % is %25. */
	parse_ok(&c, "ember.arg=100%25%2a%2A");
	assert_string_equal(c.argv[0], "100%**");
	init_cmdline_free(&c);
}

static void test_utf8(void **state)
{
	(void)state;
	struct init_cmdline c;
	/* Encoded by ember ("é" and "€"), and raw bytes written by hand. */
	parse_ok(&c, "ember.arg=caf%C3%A9 ember.arg=%E2%82%AC ember.arg=na\xc3\xafve");
	assert_int_equal(c.argc, 3);
	assert_string_equal(c.argv[0], "caf\xc3\xa9");
	assert_string_equal(c.argv[1], "\xe2\x82\xac");
	assert_string_equal(c.argv[2], "na\xc3\xafve");
	init_cmdline_free(&c);
}

static void test_env_workdir_tty(void **state)
{
	(void)state;
	struct init_cmdline c;
	parse_ok(&c, K0 "ember.env=FOO=bar ember.env=EMPTY= ember.env=SP=a%20b%3Dc "
	                "ember.workdir=/a ember.workdir=/srv/my%20dir ember.tty=1 ember.arg=env" K1);
	assert_int_equal(c.envc, 3);
	assert_string_equal(c.env[0], "FOO=bar");
	assert_string_equal(c.env[1], "EMPTY=");
	assert_string_equal(c.env[2], "SP=a b=c");
	assert_null(c.env[3]);
	assert_string_equal(c.workdir, "/srv/my dir");
	assert_true(c.tty);
	assert_int_equal(c.argc, 1);
	init_cmdline_free(&c);

	parse_ok(&c, "ember.tty=1 ember.tty=0");
	assert_false(c.tty);
	assert_false(c.split);
	init_cmdline_free(&c);

	parse_ok(&c, "ember.stdio=split");
	assert_true(c.split);
	init_cmdline_free(&c);
}

static void test_empty_values(void **state)
{
	(void)state;
	struct init_cmdline c;
	/* An empty argv element is legal; an empty workdir means "none"; empty tty is not 1. */
	parse_ok(&c, "ember.arg=printf ember.arg= ember.workdir=/x ember.workdir= ember.tty=");
	assert_int_equal(c.argc, 2);
	assert_string_equal(c.argv[1], "");
	assert_null(c.workdir);
	assert_false(c.tty);
	init_cmdline_free(&c);
	/* Quoted empty value. */
	parse_ok(&c, "ember.arg=\"\"");
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], "");
	init_cmdline_free(&c);
}

static void test_quoted_tokens(void **state)
{
	(void)state;
	struct init_cmdline c;
	/* The whole token quoted, the value quoted, and quotes holding raw spaces and tabs. */
	parse_ok(&c, K0 "\"ember.arg=echo\" ember.arg=\"a%20b\" \"ember.arg=c d\"\t"
	                "ember.arg=\"x\ty\" \"ember.env=K=V\"" K1);
	assert_int_equal(c.argc, 4);
	assert_string_equal(c.argv[0], "echo");
	assert_string_equal(c.argv[1], "a b");
	assert_string_equal(c.argv[2], "c d");
	assert_string_equal(c.argv[3], "x\ty");
	assert_int_equal(c.envc, 1);
	assert_string_equal(c.env[0], "K=V");
	init_cmdline_free(&c);
	/* A quoted kernel parameter with spaces does not swallow ember keys. */
	parse_ok(&c, "dyndbg=\"file foo.c +p\" ember.arg=true");
	assert_int_equal(c.argc, 1);
	assert_string_equal(c.argv[0], "true");
	init_cmdline_free(&c);
}

static void test_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"ember.arg=%G1", "ember.arg=%1G", "ember.arg=abc%", "ember.arg=abc%4",
		"ember.arg=%00", "ember.env=%G1=x", "ember.workdir=%zz", "ember.tty=%",
		"ember.env=NOEQUALS", "ember.env==v", "ember.env=",
		"ember.user=", "ember.user=root", "ember.user=1:", "ember.user=:1", "ember.user=1:2:3",
		"ember.user=-1", "ember.user=4294967295", "ember.user=1%3A2x",
		"ember.mount=", "ember.mount=t", "ember.mount=t:rw", "ember.mount=t:xx:/d",
		"ember.mount=:rw:/d", "ember.mount=t:ro:rel",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct init_cmdline c;
		char line[128];
		snprintf(line, sizeof(line), "ember.arg=ok %s ember.arg=after", bad[i]);
		if (init_cmdline_parse(&c, line) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(c.error[0] != '\0');
		init_cmdline_free(&c);
	}
	/* Malformed escapes in keys init does not own are not its business. */
	struct init_cmdline c;
	parse_ok(&c, "foo=%G1 ember.arg=ok");
	init_cmdline_free(&c);
}

static void test_user(void **state)
{
	(void)state;
	struct init_cmdline c;

	parse_ok(&c, "ember.arg=id");
	assert_false(c.has_user);
	init_cmdline_free(&c);
	parse_ok(&c, "ember.user=1000");
	assert_true(c.has_user);
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.gid, 1000);
	init_cmdline_free(&c);
	parse_ok(&c, "ember.user=1000%3A100"); /* ':' may arrive percent-encoded */
	assert_int_equal(c.uid, 1000);
	assert_int_equal(c.gid, 100);
	init_cmdline_free(&c);
	parse_ok(&c, "ember.user=0:0");
	assert_true(c.has_user);
	assert_int_equal(c.uid, 0);
	init_cmdline_free(&c);
}

static void test_mounts(void **state)
{
	(void)state;
	struct init_cmdline c;
	const char *tag, *dir;
	bool ro;

	parse_ok(&c, "ember.mount=share0:rw:/mnt/a%20b ember.mount=share1:ro:/x:y");
	assert_int_equal(c.nmounts, 2);
	assert_int_equal(init_mount_split(c.mounts[0], &tag, &ro, &dir), 0);
	assert_string_equal(tag, "share0");
	assert_false(ro);
	assert_string_equal(dir, "/mnt/a b");
	assert_int_equal(init_mount_split(c.mounts[1], &tag, &ro, &dir), 0);
	assert_string_equal(tag, "share1");
	assert_true(ro);
	assert_string_equal(dir, "/x:y");
	init_cmdline_free(&c);
}

static void test_pct_decode(void **state)
{
	(void)state;
	char out[32];
	assert_int_equal(init_pct_decode(out, ""), 0);
	assert_string_equal(out, "");
	assert_int_equal(init_pct_decode(out, "a%2Fb%ff"), 4);
	assert_memory_equal(out, "a/b\xff", 5);
	assert_int_equal(init_pct_decode(out, "%0a"), 1);
	assert_string_equal(out, "\n");
	assert_int_equal(init_pct_decode(out, "%+1"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_args),
		cmocka_unit_test(test_no_keys),
		cmocka_unit_test(test_spaces_quotes_newline),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_env_workdir_tty),
		cmocka_unit_test(test_empty_values),
		cmocka_unit_test(test_quoted_tokens),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_user),
		cmocka_unit_test(test_mounts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
