// SPDX-License-Identifier: GPL-2.0-only
/*
 * ember's command line: parse flags into struct ember_config, call
 * vm_run(), turn the outcome into an exit code.  Nothing else lives here.
 */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vm/config.h"
#include "vm/vm.h"

static const char usage[] =
	"usage: ember run [options] [-- COMMAND [ARGS...]]\n"
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
	"  --rootfs DIR|IMAGE  run COMMAND in this root file system (a directory over\n"
	"                   virtio-9p, or an ext4 image as /dev/vda), with ember's init\n"
	"  --share HOSTDIR:GUESTDIR[:ro]  share a host directory (virtio-9p; repeatable)\n"
	"  --env K=V        environment variable for COMMAND (repeatable)\n"
	"  --workdir DIR    COMMAND's working directory in the guest\n"
	"  --user UID[:GID] run COMMAND as this numeric user and group\n"
	"  --timeout SECS   stop the VM after SECS seconds (ember then exits 124)\n"
	"  --stop-timeout SECS  after SIGTERM reached COMMAND, stop the VM if it has not\n"
	"                   exited within SECS seconds (default 10; ember then exits 137)\n"
	"  --boot-timer     report when the guest's init starts (boot-timer device)\n"
	"  --verbose        show kernel messages\n"
	"  --no-sandbox     run without the syscall filter (for debugging ember)\n"
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
	OPT_NO_SANDBOX, OPT_STOP_TIMEOUT,
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
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT },
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
