// SPDX-License-Identifier: GPL-2.0-only
/* vm/config.c and boot/cmdline.c: flag values and command-line assembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <arpa/inet.h>

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

/* A snapshot's saved configuration comes back as it was; damaged text is refused. */
static void saved_configuration(void **state)
{
	struct ember_config a, b;
	struct ember_err err = { "" };
	char text[4096], copy[4096];

	(void)state;
	config_defaults(&a);
	a.mem_bytes = 512ULL << 20;
	a.cpus = 2;
	a.console = EMBER_CONSOLE_SPLIT;
	a.init_handshake = true;
	a.nr_disks = 2;
	a.disks[0] = (struct ember_disk){ .path = "/img/a b.img", .read_only = true, .serial = "S1" };
	a.disks[1] = (struct ember_disk){ .path = "/img/c.img" };
	a.nr_shares = 1;
	a.shares[0] = (struct ember_share){ .host_dir = "/src", .guest_dir = "/mnt/src dir",
					    .read_only = true, .tag = "share0" };
	a.rootfs = "/img/a b.img";
	assert_int_equal(config_save(&a, text, sizeof(text), &err), 0);
	config_defaults(&b);
	memcpy(copy, text, sizeof(copy));
	assert_int_equal(config_load(&b, copy, &err), 0);
	assert_int_equal(b.mem_bytes, a.mem_bytes);
	assert_int_equal(b.cpus, 2);
	assert_int_equal(b.console, EMBER_CONSOLE_SPLIT);
	assert_true(b.init_handshake);
	assert_int_equal(b.nr_disks, 2);
	assert_string_equal(b.disks[0].path, "/img/a b.img");
	assert_true(b.disks[0].read_only);
	assert_string_equal(b.disks[0].serial, "S1");
	assert_null(b.disks[1].serial);
	assert_false(b.disks[1].read_only);
	assert_int_equal(b.nr_shares, 1);
	assert_string_equal(b.shares[0].host_dir, "/src");
	assert_string_equal(b.shares[0].guest_dir, "/mnt/src dir");
	assert_string_equal(b.shares[0].tag, "share0");
	assert_true(b.shares[0].read_only);
	assert_string_equal(b.rootfs, "/img/a b.img");

	static const char *const damaged[] = {
		"mem\tlots\n", "cpus\t0\n", "cpus\t33\n", "console\t9\n", "channel\t2\n",
		"disk\t1\t\n", "share\t0\ttag\trelative\t/src\n", "unknown\t1\n", "mem\t4097\n",
	};
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		config_defaults(&b);
		snprintf(copy, sizeof(copy), "%s", damaged[i]);
		if (config_load(&b, copy, &err) == 0)
			fail_msg("accepted: %s", damaged[i]);
		assert_non_null(strstr(err.msg, "snapshot: its configuration"));
	}
	a.disks[1].path = "/img/new\nline";
	assert_true(config_save(&a, text, sizeof(text), &err) < 0);
	assert_non_null(strstr(err.msg, "newline"));
}

/* A scratch directory (and an image file in it) for the path checks. */
struct scratch {
	char dir[64], comma[96], image[96];
};

static void scratch_new(struct scratch *t)
{
	snprintf(t->dir, sizeof(t->dir), "/tmp/ember-config-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	snprintf(t->comma, sizeof(t->comma), "%s/a,b", t->dir);
	assert_int_equal(mkdir(t->comma, 0700), 0);
	snprintf(t->image, sizeof(t->image), "%s/root.img", t->dir);
	FILE *img = fopen(t->image, "w");
	assert_non_null(img);
	fputs("not really ext4", img);
	fclose(img);
}

static void scratch_free(struct scratch *t)
{
	unlink(t->image);
	rmdir(t->comma);
	rmdir(t->dir);
}

/* --share HOST:GUEST[:ro][,own=mapped|host] */
static void share_ownership_option(void **state)
{
	struct scratch t;
	struct ember_share sh;
	struct ember_err err = { "" };
	char spec[256];

	(void)state;
	scratch_new(&t);
	snprintf(spec, sizeof(spec), "%s:/mnt", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), 0);
	assert_int_equal(sh.own, EMBER_OWN_HOST); /* the default stays */
	assert_false(sh.read_only);
	assert_string_equal(sh.guest_dir, "/mnt");

	snprintf(spec, sizeof(spec), "%s:/mnt,own=mapped", t.dir);
	assert_int_equal(config_parse_share(spec, 1, &sh, &err), 0);
	assert_int_equal(sh.own, EMBER_OWN_MAPPED);
	assert_string_equal(sh.host_dir, t.dir);
	assert_string_equal(sh.guest_dir, "/mnt");
	assert_string_equal(sh.tag, "share1");

	snprintf(spec, sizeof(spec), "%s:/mnt:ro,own=host", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), 0);
	assert_int_equal(sh.own, EMBER_OWN_HOST);
	assert_true(sh.read_only);
	assert_string_equal(sh.guest_dir, "/mnt");

	snprintf(spec, sizeof(spec), "%s:/mnt:ro,own=host,own=mapped", t.dir); /* the last one counts */
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), 0);
	assert_int_equal(sh.own, EMBER_OWN_MAPPED);
	assert_true(sh.read_only);

	/* A host directory may hold a comma: options start after the ':'. */
	snprintf(spec, sizeof(spec), "%s:/mnt,own=mapped", t.comma);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), 0);
	assert_string_equal(sh.host_dir, t.comma);
	assert_int_equal(sh.own, EMBER_OWN_MAPPED);

	/* Junk, said clearly. */
	snprintf(spec, sizeof(spec), "%s:/mnt,own=root", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--share"));
	assert_non_null(strstr(err.msg, "own='root'"));
	assert_non_null(strstr(err.msg, "own=mapped"));
	assert_non_null(strstr(err.msg, "own=host"));
	snprintf(spec, sizeof(spec), "%s:/mnt,own=", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), -EINVAL);
	snprintf(spec, sizeof(spec), "%s:/mnt,mapped", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "unknown option 'mapped'"));
	snprintf(spec, sizeof(spec), "%s:/mnt,", t.dir);
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), -EINVAL);
	snprintf(spec, sizeof(spec), "%s,own=mapped", t.dir); /* no guest directory */
	assert_int_equal(config_parse_share(spec, 0, &sh, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "HOSTDIR:GUESTDIR[:ro][,own=mapped|host]"));

	enum ember_own own;
	assert_int_equal(config_parse_own("mapped", &own), 0);
	assert_int_equal(own, EMBER_OWN_MAPPED);
	assert_string_equal(config_own_name(own), "mapped");
	assert_int_equal(config_parse_own("host", &own), 0);
	assert_string_equal(config_own_name(own), "host");
	assert_int_equal(config_parse_own("Mapped", &own), -EINVAL);
	assert_int_equal(config_parse_own("", &own), -EINVAL);
	scratch_free(&t);
}

/* --rootfs DIR is served own=mapped unless ",own=host" says otherwise; an image has no owner model. */
static void rootfs_ownership(void **state)
{
	struct scratch t;
	struct ember_config cfg;
	struct ember_err err = { "" };
	char path[256];

	(void)state;
	scratch_new(&t);
	config_defaults(&cfg);
	assert_int_equal(cfg.rootfs_own, EMBER_OWN_HOST);
	snprintf(path, sizeof(path), "%s", t.dir);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), 0);
	assert_true(cfg.rootfs_is_dir);
	assert_int_equal(cfg.rootfs_own, EMBER_OWN_MAPPED);

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s,own=host", t.dir);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), 0);
	assert_string_equal(cfg.rootfs, t.dir);
	assert_int_equal(cfg.rootfs_own, EMBER_OWN_HOST);

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s,own=mapped", t.comma);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), 0);
	assert_string_equal(cfg.rootfs, t.comma);
	assert_int_equal(cfg.rootfs_own, EMBER_OWN_MAPPED);

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s,own=nobody", t.dir);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "--rootfs"));
	assert_non_null(strstr(err.msg, "own='nobody'"));

	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s", t.image);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), 0);
	assert_false(cfg.rootfs_is_dir);
	assert_int_equal(cfg.nr_disks, 1);
	config_defaults(&cfg);
	snprintf(path, sizeof(path), "%s,own=mapped", t.image);
	assert_int_equal(config_set_rootfs(&cfg, path, &err), -EINVAL);
	assert_non_null(strstr(err.msg, "own= is for a directory"));
	scratch_free(&t);
}

/* The model travels in a snapshot's saved configuration; lines from before it existed mean host. */
static void saved_ownership(void **state)
{
	struct ember_config a, b;
	struct ember_err err = { "" };
	char text[4096], copy[4096];

	(void)state;
	config_defaults(&a);
	a.nr_shares = 2;
	a.shares[0] = (struct ember_share){ .host_dir = "/src", .guest_dir = "/mnt/a", .tag = "share0",
					    .own = EMBER_OWN_MAPPED, .read_only = true };
	a.shares[1] = (struct ember_share){ .host_dir = "/data", .guest_dir = "/mnt/b", .tag = "share1" };
	a.rootfs = "/srv/root";
	a.rootfs_is_dir = true;
	a.rootfs_own = EMBER_OWN_MAPPED;
	assert_int_equal(config_save(&a, text, sizeof(text), &err), 0);
	assert_non_null(strstr(text, "share\t1\tshare0\t/mnt/a\t/src\tmapped\n"));
	assert_non_null(strstr(text, "share\t0\tshare1\t/mnt/b\t/data\n")); /* as before */
	assert_non_null(strstr(text, "rootfs\t1\t/srv/root\tmapped\n"));
	config_defaults(&b);
	memcpy(copy, text, sizeof(copy));
	assert_int_equal(config_load(&b, copy, &err), 0);
	assert_int_equal(b.nr_shares, 2);
	assert_int_equal(b.shares[0].own, EMBER_OWN_MAPPED);
	assert_true(b.shares[0].read_only);
	assert_string_equal(b.shares[0].host_dir, "/src");
	assert_int_equal(b.shares[1].own, EMBER_OWN_HOST);
	assert_string_equal(b.shares[1].host_dir, "/data");
	assert_string_equal(b.rootfs, "/srv/root");
	assert_int_equal(b.rootfs_own, EMBER_OWN_MAPPED);
	a.rootfs_own = EMBER_OWN_HOST;
	assert_int_equal(config_save(&a, text, sizeof(text), &err), 0);
	assert_non_null(strstr(text, "rootfs\t1\t/srv/root\n"));

	/* A snapshot from before the field: every share and root directory was own=host. */
	config_defaults(&b);
	snprintf(copy, sizeof(copy), "mem\t268435456\nshare\t0\tshare0\t/mnt\t/src\nrootfs\t1\t/srv/root\n");
	assert_int_equal(config_load(&b, copy, &err), 0);
	assert_int_equal(b.shares[0].own, EMBER_OWN_HOST);
	assert_int_equal(b.rootfs_own, EMBER_OWN_HOST);

	static const char *const damaged[] = {
		"share\t0\tshare0\t/mnt\t/src\troot\n", "share\t0\tshare0\t/mnt\t/src\tmapped\tx\n",
		"rootfs\t1\t/srv/root\tnobody\n", "rootfs\t0\t/img\tmapped\n",
	};
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		config_defaults(&b);
		snprintf(copy, sizeof(copy), "%s", damaged[i]);
		if (config_load(&b, copy, &err) == 0)
			fail_msg("accepted: %s", damaged[i]);
		assert_non_null(strstr(err.msg, "snapshot: its configuration"));
	}
}

/* --net: each kind, its options, and what it refuses, in one line naming the flag. */
static void net_specs(void **state)
{
	struct ember_net n;
	struct ember_err err = { "" };
	char spec[128], back[128];

	(void)state;
	snprintf(spec, sizeof(spec), "tap=tap7,mac=02:00:00:aa:bb:cc");
	assert_int_equal(config_parse_net(spec, &n, &err), 0);
	assert_int_equal(n.kind, EMBER_NET_TAP);
	assert_string_equal(n.ifname, "tap7");
	assert_true(n.has_mac);
	assert_int_equal(n.mac[0], 0x02);
	assert_int_equal(n.mac[5], 0xcc);
	snprintf(spec, sizeof(spec), "auto,host=10.1.2.1/28,guest=10.1.2.9");
	assert_int_equal(config_parse_net(spec, &n, &err), 0);
	assert_int_equal(n.kind, EMBER_NET_AUTO);
	assert_int_equal(n.prefix, 28);
	assert_int_equal(n.host_ip, htonl(0x0a010201));
	assert_int_equal(n.guest_ip, htonl(0x0a010209));
	/* What a snapshot stores reads back to the same network. */
	assert_true(config_net_format(&n, back, sizeof(back)) > 0);
	assert_string_equal(back, "auto,host=10.1.2.1/28,guest=10.1.2.9");
	snprintf(spec, sizeof(spec), "bridge=br0");
	assert_int_equal(config_parse_net(spec, &n, &err), 0);
	assert_int_equal(n.kind, EMBER_NET_BRIDGE);
	assert_true(config_net_format(&n, back, sizeof(back)) > 0);
	assert_string_equal(back, "bridge=br0");
	snprintf(spec, sizeof(spec), "user");
	assert_int_equal(config_parse_net(spec, &n, &err), 0);
	assert_int_equal(n.kind, EMBER_NET_USER);
	assert_false(n.has_mac);
	uint8_t mac[6];
	config_net_default_mac(2, mac);
	assert_int_equal(mac[0], 0x52);
	assert_int_equal(mac[5], 0x58);

	static const char *const bad[] = {
		"", "auto=x", "tap", "tap=", "tap=a/b", "tap=0123456789abcdef", "bridge=", "user,host=1.2.3.4/8",
		"user,guest=1.2.3.4", "tap=t,mac=01:00:5e:00:00:01", "tap=t,mac=52:54:00:12:34", "auto,mtu=9000",
		"auto,host=10.0.0.0/24", "auto,host=10.0.0.1/31", "auto,host=10.0.0.1/24,guest=10.0.1.2",
		"auto,host=10.0.0.1/24,guest=10.0.0.1", "auto,host=10.0.0.1/24,guest=10.0.0.255", "auto,guest=10.0.0.2",
		"auto,host=300.0.0.1/24", "sock=/tmp/x",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(spec, sizeof(spec), "%s", bad[i]);
		err.msg[0] = '\0';
		if (config_parse_net(spec, &n, &err) == 0)
			fail_msg("accepted --net %s", bad[i]);
		assert_non_null(strstr(err.msg, "--net "));
		assert_null(strchr(err.msg, '\n'));
	}
}

/* A snapshot keeps its networks: the restored VM asks for the same back ends. */
static void saved_networks(void **state)
{
	struct ember_config a, b;
	struct ember_err err = { "" };
	char text[4096], spec0[64] = "user", spec1[64] = "tap=tap3,mac=02:00:00:00:00:07";

	(void)state;
	config_defaults(&a);
	assert_int_equal(config_parse_net(spec0, &a.nets[0], &err), 0);
	assert_int_equal(config_parse_net(spec1, &a.nets[1], &err), 0);
	a.nr_nets = 2;
	assert_int_equal(config_save(&a, text, sizeof(text), &err), 0);
	assert_non_null(strstr(text, "net\tuser\nnet\ttap=tap3,mac=02:00:00:00:00:07\n"));
	config_defaults(&b);
	assert_int_equal(config_load(&b, text, &err), 0);
	assert_int_equal(b.nr_nets, 2);
	assert_int_equal(b.nets[0].kind, EMBER_NET_USER);
	assert_int_equal(b.nets[1].kind, EMBER_NET_TAP);
	assert_string_equal(b.nets[1].ifname, "tap3");
	assert_int_equal(b.nets[1].mac[5], 7);
	char damaged[] = "mem\t268435456\nnet\ttap=\n";
	config_defaults(&b);
	assert_int_not_equal(config_load(&b, damaged, &err), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(size_parsing),   cmocka_unit_test(size_rejects_junk),
		cmocka_unit_test(uint_parsing),   cmocka_unit_test(validation),
		cmocka_unit_test(cmdline_words),  cmocka_unit_test(saved_configuration),
		cmocka_unit_test(share_ownership_option), cmocka_unit_test(rootfs_ownership),
		cmocka_unit_test(saved_ownership), cmocka_unit_test(net_specs),
		cmocka_unit_test(saved_networks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
