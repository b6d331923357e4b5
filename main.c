// SPDX-License-Identifier: GPL-2.0-only
/*
 * ember's command line: parse flags into struct ember_config, call
 * vm_run(), turn the outcome into an exit code.  Nothing else lives here.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vm/config.h"
#include "vm/vm.h"
#include "vm/warm.h"

static const char usage[] =
	"usage: ember run [options] [-- COMMAND [ARGS...]]\n"
	"       ember snapshot [--compress] DIR\n"
	"       ember restore [--timeout SECS] [--snapshot-to DIR2] [--no-sandbox] DIR\n"
	"       ember cache prune\n"
	"       ember --help | --version\n"
	"\n"
	"Boots a Linux kernel in a KVM microVM and runs COMMAND in it; ember exits\n"
	"with COMMAND's exit code.\n"
	"\n"
	"options:\n"
	"  --kernel PATH    bzImage or ELF vmlinux (default: the guest built by 'make guest')\n"
	"  --initrd PATH    initramfs (default: ember's, when --kernel is the default)\n"
	"  --cmdline STR    extra kernel command-line words\n"
	"  --mem SIZE       guest RAM, e.g. 256M or 2G (default 256M)\n"
	"  --cpus N         vCPUs, 1-32 (default 1)\n"
	"  --disk PATH[,ro][,serial=ID]  virtio-blk disk from a raw image (repeatable)\n"
	"  -i, --interactive  COMMAND reads ember's stdin (without -i its stdin is empty)\n"
	"  -t, --tty        give COMMAND a pseudo-terminal (stdout and stderr then merge)\n"
	"  --console split|serial|virtio|none\n"
	"                   split (default with a COMMAND): stdin, stdout and stderr as three\n"
	"                   streams with end-of-file; serial (default without): ttyS0;\n"
	"                   virtio: hvc0\n"
	"  --rootfs DIR[,own=host]|IMAGE  run COMMAND in this root file system (a\n"
	"                   directory over virtio-9p, or an ext4 image as /dev/vda), with\n"
	"                   ember's init\n"
	"  --share HOSTDIR:GUESTDIR[:ro][,own=mapped|host]  share a host directory\n"
	"                   (virtio-9p; repeatable).  own=host (--share's default): files\n"
	"                   are the host's; own=mapped (--rootfs DIR's): owners, modes and\n"
	"                   special files live in user.virtfs.* extended attributes\n"
	"  --net tap=NAME|auto|bridge=BR|user[,mac=MAC]  a virtio-net device (repeatable):\n"
	"                   tap=NAME an existing tap (ip tuntap add NAME mode tap user $USER);\n"
	"                   auto[,host=IP/PREFIX][,guest=IP] a tap ember makes, addresses and\n"
	"                   deletes (root; default host 172.30.N.1/24, guest .2); bridge=BR a\n"
	"                   tap ember makes on bridge BR (root); user: passt, no privileges\n"
	"                   (guest 10.0.2.15/24, gateway 10.0.2.2 = the host, DNS 10.0.2.3)\n"
	"  --vsock PATH[,cid=N]  virtio-vsock (guest CID N, default 3) behind the Unix socket\n"
	"                   PATH: a host client connects to PATH and writes \"CONNECT <port>\\n\"\n"
	"                   to reach a guest listener; a guest connect to CID 2 port P\n"
	"                   reaches the Unix socket PATH_P (Firecracker's convention)\n"
	"  --env K=V        environment variable for COMMAND (repeatable)\n"
	"  --workdir DIR    COMMAND's working directory in the guest\n"
	"  --user UID[:GID] run COMMAND as this numeric user and group\n"
	"  --timeout SECS   stop the VM after SECS seconds (ember then exits 124)\n"
	"  --stop-timeout SECS  after SIGTERM reached COMMAND, stop the VM if it has not\n"
	"                   exited within SECS seconds (default 10; ember then exits 137)\n"
	"  --snapshot-to DIR  let 'ember snapshot DIR' save the running VM in DIR/snapshot\n"
	"                   (it goes on running); 'ember restore DIR' resumes that VM, in\n"
	"                   this or another process, as often as wanted\n"
	"  --cold           boot the kernel even when a warm snapshot of this guest exists\n"
	"                   (and save none)\n"
	"  --boot-timer     report when the guest's init starts (boot-timer device)\n"
	"  --verbose        show kernel messages\n"
	"  --no-sandbox     run without the syscall filter (for debugging ember)\n"
	"\n"
	"Warm start: the first run of a guest (kernel, initrd, memory, vCPUs, devices)\n"
	"boots it and saves it, booted, in $XDG_CACHE_HOME/ember/warm (~/.cache/...);\n"
	"later runs restore it in milliseconds.  'ember cache prune' removes them all.\n"
	"\n"
	"SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to ember go to COMMAND;\n"
	"a second SIGINT stops the VM.\n"
	"\n"
	"exit codes: COMMAND's own (128+N if killed by signal N); 123 the guest stopped\n"
	"without an exit status (reset, triple fault, panic); 124 --timeout expired;\n"
	"125 ember failed; 126/127 COMMAND could not be run / was not found; 137 ember\n"
	"stopped a COMMAND that did not exit (--stop-timeout, second SIGINT).\n"
	"environment: EMBER_KERNEL, EMBER_INITRD override the default guest.\n";

enum {
	OPT_KERNEL = 256, OPT_INITRD, OPT_CMDLINE, OPT_MEM, OPT_CPUS, OPT_BOOT_TIMER, OPT_VERBOSE,
	OPT_DISK, OPT_CONSOLE, OPT_ENV, OPT_WORKDIR, OPT_USER, OPT_TIMEOUT, OPT_SHARE, OPT_ROOTFS,
	OPT_NO_SANDBOX, OPT_STOP_TIMEOUT, OPT_COLD, OPT_SNAPSHOT_TO, OPT_COMPRESS,
	OPT_NET, OPT_VSOCK,
};

static const struct option run_options[] = {
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "mem", required_argument, NULL, OPT_MEM },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "disk", required_argument, NULL, OPT_DISK },
	{ "console", required_argument, NULL, OPT_CONSOLE },
	{ "env", required_argument, NULL, OPT_ENV },
	{ "workdir", required_argument, NULL, OPT_WORKDIR },
	{ "user", required_argument, NULL, OPT_USER },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "share", required_argument, NULL, OPT_SHARE },
	{ "rootfs", required_argument, NULL, OPT_ROOTFS },
	{ "net", required_argument, NULL, OPT_NET },
	{ "vsock", required_argument, NULL, OPT_VSOCK },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
	{ "cold", no_argument, NULL, OPT_COLD },
	{ "snapshot-to", required_argument, NULL, OPT_SNAPSHOT_TO },
	{ "interactive", no_argument, NULL, 'i' },
	{ "tty", no_argument, NULL, 't' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int die(const char *msg)
{
	fprintf(stderr, "ember: %s\n", msg);
	return EMBER_EXIT_FAILURE;
}

/* The guest `make guest` builds, found next to the ember binary or installed. */
static const char *default_guest_file(const char *env, const char *name, char *buf, size_t size)
{
	const char *from_env = getenv(env);
	if (from_env && *from_env)
		return from_env;

	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash)
			*slash = '\0';
		int len = snprintf(buf, size, "%.3800s/build/guest/%s", exe, name);
		if (len > 0 && (size_t)len < size && access(buf, R_OK) == 0)
			return buf;
	}
	snprintf(buf, size, "/usr/local/share/ember/%s", name);
	return access(buf, R_OK) == 0 ? buf : NULL;
}

/* --env is repeatable without a limit: the command channel has none. */
static int add_env(struct ember_config *cfg, const char *kv)
{
	const char **env = realloc(cfg->env, (cfg->nr_env + 1) * sizeof(*env));
	if (!env)
		return -1;
	env[cfg->nr_env++] = kv;
	cfg->env = env;
	return 0;
}

static int parse_run(int argc, char **argv, struct ember_config *cfg)
{
	char msg[512];

	opterr = 0;
	optind = 1;
	for (;;) {
		int opt = getopt_long(argc, argv, "+:hit", run_options, NULL);
		if (opt == -1)
			break;
		switch (opt) {
		case OPT_KERNEL: cfg->kernel = optarg; break;
		case OPT_INITRD: cfg->initrd = optarg; break;
		case OPT_CMDLINE: cfg->cmdline = optarg; break;
		case OPT_BOOT_TIMER: cfg->boot_timer = true; break;
		case OPT_VERBOSE: cfg->verbose = true; break;
		case OPT_NO_SANDBOX: cfg->no_sandbox = true; break;
		case OPT_COLD: cfg->cold = true; break;
		case OPT_SNAPSHOT_TO: cfg->snapshot_to = optarg; break;
		case 'i': cfg->interactive = true; break;
		case 't': cfg->tty = true; break;
		case OPT_MEM:
			if (config_parse_size(optarg, &cfg->mem_bytes)) {
				snprintf(msg, sizeof(msg), "--mem %s: not a size (use e.g. 512M or 2G)", optarg);
				return die(msg);
			}
			break;
		case OPT_CPUS:
			if (config_parse_uint(optarg, 1u << 20, &cfg->cpus)) {
				snprintf(msg, sizeof(msg), "--cpus %s: not a whole number", optarg);
				return die(msg);
			}
			break;
		case OPT_DISK: {
			struct ember_err err;
			if (cfg->nr_disks == EMBER_MAX_DISKS) {
				snprintf(msg, sizeof(msg), "--disk: at most %d disks", EMBER_MAX_DISKS);
				return die(msg);
			}
			if (config_parse_disk(optarg, &cfg->disks[cfg->nr_disks], &err))
				return die(err.msg);
			cfg->nr_disks++;
			break;
		}
		case OPT_CONSOLE:
			if (!strcmp(optarg, "serial"))
				cfg->console = EMBER_CONSOLE_SERIAL;
			else if (!strcmp(optarg, "virtio"))
				cfg->console = EMBER_CONSOLE_VIRTIO;
			else if (!strcmp(optarg, "none"))
				cfg->console = EMBER_CONSOLE_NONE;
			else if (!strcmp(optarg, "split"))
				cfg->console = EMBER_CONSOLE_SPLIT;
			else {
				snprintf(msg, sizeof(msg), "--console %s: use split, serial, virtio or none", optarg);
				return die(msg);
			}
			break;
		case OPT_SHARE: {
			struct ember_err err;
			if (cfg->nr_shares == EMBER_MAX_SHARES) {
				snprintf(msg, sizeof(msg), "--share: at most %d shares", EMBER_MAX_SHARES);
				return die(msg);
			}
			if (config_parse_share(optarg, cfg->nr_shares, &cfg->shares[cfg->nr_shares], &err))
				return die(err.msg);
			cfg->nr_shares++;
			break;
		}
		case OPT_NET: {
			struct ember_err err;
			if (cfg->nr_nets == EMBER_MAX_NETS) {
				snprintf(msg, sizeof(msg), "--net: at most %d networks", EMBER_MAX_NETS);
				return die(msg);
			}
			if (config_parse_net(optarg, &cfg->nets[cfg->nr_nets], &err))
				return die(err.msg);
			cfg->nr_nets++;
			break;
		}
		case OPT_VSOCK: {
			struct ember_err err;
			if (cfg->vsock_path)
				return die("--vsock given twice (one device per VM)");
			if (config_parse_vsock(optarg, cfg, &err))
				return die(err.msg);
			break;
		}
		case OPT_ROOTFS: {
			struct ember_err err;
			if (cfg->rootfs) {
				snprintf(msg, sizeof(msg), "--rootfs given twice");
				return die(msg);
			}
			if (config_set_rootfs(cfg, optarg, &err))
				return die(err.msg);
			break;
		}
		case OPT_ENV:
			if (config_check_env(optarg)) {
				snprintf(msg, sizeof(msg), "--env %s: use K=V with a non-empty K", optarg);
				return die(msg);
			}
			if (add_env(cfg, optarg))
				return die("out of memory");
			break;
		case OPT_WORKDIR:
			if (optarg[0] != '/') {
				snprintf(msg, sizeof(msg), "--workdir %s: must be an absolute guest path", optarg);
				return die(msg);
			}
			cfg->workdir = optarg;
			break;
		case OPT_USER:
			if (config_parse_user(optarg, &cfg->uid, &cfg->gid)) {
				snprintf(msg, sizeof(msg), "--user %s: use numeric UID or UID:GID", optarg);
				return die(msg);
			}
			cfg->has_user = true;
			break;
		case OPT_STOP_TIMEOUT:
			if (config_parse_uint(optarg, 1u << 30, &cfg->stop_timeout_s)) {
				snprintf(msg, sizeof(msg), "--stop-timeout %s: not a number of seconds", optarg);
				return die(msg);
			}
			break;
		case OPT_TIMEOUT:
			if (config_parse_uint(optarg, 1u << 30, &cfg->timeout_s) || cfg->timeout_s == 0) {
				snprintf(msg, sizeof(msg), "--timeout %s: not a positive number of seconds", optarg);
				return die(msg);
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return -1;
		case ':':
			snprintf(msg, sizeof(msg), "%s needs a value (see ember --help)", argv[optind - 1]);
			return die(msg);
		default:
			snprintf(msg, sizeof(msg), "unknown option %s (see ember --help)", argv[optind - 1]);
			return die(msg);
		}
	}
	cfg->argv = argv + optind;
	cfg->argc = argc - optind;
	return 0;
}

/*
 * ember snapshot [--compress] DIR: asks the ember that runs with
 * --snapshot-to DIR to save its VM (it goes on running), and says how it went.
 */
static int snapshot_command(int argc, char **argv)
{
	bool compress = argc == 3 && !strcmp(argv[1], "--compress");
	const char *dir = argv[argc - 1];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char msg[700], reply[600];

	if (argc != 2 && !compress)
		return die("usage: ember snapshot [--compress] DIR");
	if (snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/control", dir) >= (int)sizeof(addr.sun_path))
		return die("snapshot: directory path too long");
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		snprintf(msg, sizeof(msg), "snapshot: no ember runs with --snapshot-to %s (%s)", dir,
			 strerror(errno));
		return die(msg);
	}
	const char *req = compress ? "snapshot compress\n" : "snapshot\n";
	size_t got = 0;
	ssize_t n = write(fd, req, strlen(req));
	while (n > 0 && got < sizeof(reply) - 1 && !memchr(reply, '\n', got)) {
		n = read(fd, reply + got, sizeof(reply) - 1 - got);
		got += n > 0 ? (size_t)n : 0;
	}
	close(fd);
	reply[got] = '\0';
	reply[strcspn(reply, "\n")] = '\0';
	unsigned long long state, memory;
	double ms;
	if (sscanf(reply, "ok %llu %llu %lf", &state, &memory, &ms) == 3) {
		printf("saved %s/snapshot: state %llu bytes, memory %.1f MiB on disk, VM paused %.1f ms\n",
		       dir, state, (double)memory / (1 << 20), ms);
		return 0;
	}
	snprintf(msg, sizeof(msg), "snapshot: %s", !strncmp(reply, "error ", 6) ? reply + 6 :
		 got ? reply : "the VM stopped before answering");
	return die(msg);
}

/* ember restore [--timeout SECS] [--snapshot-to DIR2] [--no-sandbox] DIR */
static int restore_command(int argc, char **argv, struct ember_config *cfg)
{
	char msg[512];
	int i = 1;

	for (; i < argc - 1; i++) {
		if (!strcmp(argv[i], "--no-sandbox")) {
			cfg->no_sandbox = true;
		} else if (!strcmp(argv[i], "--timeout") && i + 2 < argc) {
			if (config_parse_uint(argv[++i], 1u << 30, &cfg->timeout_s) || !cfg->timeout_s) {
				snprintf(msg, sizeof(msg), "--timeout %s: not a positive number of seconds", argv[i]);
				return die(msg);
			}
		} else if (!strcmp(argv[i], "--snapshot-to") && i + 2 < argc) {
			cfg->snapshot_to = argv[++i];
		} else {
			snprintf(msg, sizeof(msg), "restore: unknown option %s (see ember --help)", argv[i]);
			return die(msg);
		}
	}
	if (i != argc - 1 || argv[i][0] == '-')
		return die("usage: ember restore [--timeout SECS] [--snapshot-to DIR2] [--no-sandbox] DIR");
	struct ember_err err = { "" };
	int rc = vm_restore_run(argv[i], cfg, &err);
	return rc < 0 ? die(err.msg[0] ? err.msg : "restore failed") : rc;
}

/* ember cache prune: the warm snapshots go (the next run of each guest boots cold). */
static int cache_command(int argc, char **argv)
{
	struct ember_err err = { "" };
	unsigned removed;

	if (argc != 2 || strcmp(argv[1], "prune"))
		return die("usage: ember cache prune");
	if (warm_prune(&removed, &err))
		return die(err.msg);
	printf("removed %u warm snapshot%s\n", removed, removed == 1 ? "" : "s");
	return 0;
}

int main(int argc, char **argv)
{
	struct ember_config cfg;
	char kernel_buf[PATH_MAX], initrd_buf[PATH_MAX];

	config_defaults(&cfg);
	clock_gettime(CLOCK_MONOTONIC, &cfg.started_at);

	if (argc < 2)
		return fputs(usage, stderr), EMBER_EXIT_FAILURE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))
		return fputs(usage, stdout), 0;
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version"))
		return printf("ember %s\n", EMBER_VERSION), 0;
	if (!strcmp(argv[1], "cache"))
		return cache_command(argc - 1, argv + 1);
	if (!strcmp(argv[1], "snapshot"))
		return snapshot_command(argc - 1, argv + 1);
	if (!strcmp(argv[1], "restore"))
		return restore_command(argc - 1, argv + 1, &cfg);
	if (strcmp(argv[1], "run")) {
		char msg[512];
		snprintf(msg, sizeof(msg), "unknown command '%s' (see ember --help)", argv[1]);
		return die(msg);
	}

	int rc = parse_run(argc - 1, argv + 1, &cfg);
	if (rc)
		return rc < 0 ? 0 : rc;
	if (!cfg.kernel) {
		cfg.kernel = default_guest_file("EMBER_KERNEL", "bzImage", kernel_buf, sizeof(kernel_buf));
		if (cfg.kernel && !cfg.initrd) {
			cfg.initrd = default_guest_file("EMBER_INITRD", "initramfs.cpio", initrd_buf,
							sizeof(initrd_buf));
			cfg.init_handshake = cfg.initrd != NULL;
		}
	}
	/* Only ember's init understands a command or --rootfs: then it is the init that runs. */
	if (cfg.argc > 0 || cfg.rootfs)
		cfg.init_handshake = true;
	/*
	 * A one-shot command (or -i/-t: a shell over the channel) gets three
	 * streams; a plain `ember run` gets a shell on the UART.
	 */
	if (cfg.console == EMBER_CONSOLE_AUTO)
		cfg.console = cfg.argc > 0 || cfg.interactive || cfg.tty ? EMBER_CONSOLE_SPLIT :
									 EMBER_CONSOLE_SERIAL;
	if ((cfg.interactive || cfg.tty) && cfg.console != EMBER_CONSOLE_SPLIT)
		return die("-i and -t need --console split (the other consoles are the guest's terminal)");
	if ((cfg.interactive || cfg.tty) && !cfg.init_handshake)
		return die("-i and -t need ember's init (the default guest, or a COMMAND)");
	/* As docker run -it: a terminal for the command means one on our side too. */
	if (cfg.tty && cfg.interactive && !isatty(STDIN_FILENO))
		return die("-t: the input device is not a terminal (drop -t, or run ember from one)");

	struct ember_err err = { "" };
	if ((rc = config_validate(&cfg, &err)))
		return die(err.msg);
	rc = vm_run(&cfg, &err);
	free(cfg.env);
	if (rc < 0)
		return die(err.msg[0] ? err.msg : "failed");
	return rc;
}
