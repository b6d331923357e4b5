/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ember-init: the guest's /init (PID 1).  Mounts the usual file systems,
 * signals the boot timer, and with ember.channel=1 on the kernel command
 * line takes its orders over the command channel (vm/channel_proto.h):
 * the command, its arguments, environment, working directory, user,
 * mounts and the host's time come in on the control port; it runs the
 * command with its stdio on three more ports (or the console), relays
 * signals, and reports the exit status back before ember ends the VM.
 * Without the channel it runs what the kernel passed it after "--" (or a
 * shell) on the console.
 *
 * Exit status: the command's own code; 128+N if signal N killed it; 127 if
 * it was not found, 126 if it could not be executed; 125 if init itself
 * failed (bad request, working directory, mount, fork).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"
#include "rootfs/init_net.h"
#include "rootfs/init_relay.h"


static void mount_one(const char *type, const char *dir, const char *opts)
{
	/* The kernel may have mounted devtmpfs already (DEVTMPFS_MOUNT): EBUSY is fine. */
	if (mount(type, dir, type, MS_NOSUID, opts) < 0 && errno != EBUSY)
		fprintf(stderr, "ember-init: mount %s on %s: %s\n", type, dir, strerror(errno));
}

/* Firecracker-compatible boot timer: ember timestamps this write.  Best effort. */
static void boot_timer(void)
{
	int fd = open("/dev/mem", O_RDWR | O_SYNC | O_CLOEXEC);
	if (fd < 0)
		return;
	long pg = sysconf(_SC_PAGESIZE);
	volatile uint8_t *p = mmap(NULL, (size_t)pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
	                           (off_t)EMBER_BOOT_TIMER_GPA);
	if (p != MAP_FAILED) {
		*p = EMBER_BOOT_TIMER_MAGIC;
		munmap((void *)p, (size_t)pg);
	}
	close(fd);
}

/* /proc/cmdline into a static buffer: x86 caps the command line at 2 KiB anyway. */
static const char *read_cmdline(void)
{
	static char buf[16384];
	size_t n = 0;
	int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t r;
		while (n < sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) != 0) {
			if (r < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			n += (size_t)r;
		}
		close(fd);
	}
	buf[n] = '\0';
	return buf;
}

/*
 * A clean environment: the kernel passes init any unknown key=value it saw.
 * GLIBC_TUNABLES is the exception: ember puts it on the command line for
 * hosts where some CPU state does not survive in the guest (kvm_pvm's AVX
 * registers, arch/x86/pvm.c), and every glibc program must inherit it.  The
 * request's own environment comes after and may replace it.
 */
static int setup_env(const struct channel_request *req)
{
	const char *term = req->flags & CHANNEL_FLAG_TTY ? "xterm" : "linux";
	const char *boot_tunables = getenv("GLIBC_TUNABLES");
	char *tunables = boot_tunables ? strdup(boot_tunables) : NULL;
	if (boot_tunables && !tunables)
		return -1;
	int rc = clearenv() != 0 ||
		 setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1) ||
		 setenv("HOME", "/root", 1) || setenv("TERM", term, 1) ||
		 (tunables && setenv("GLIBC_TUNABLES", tunables, 1));
	free(tunables);
	if (rc)
		return -1;
	for (size_t i = 0; i < req->envc; i++)
		if (putenv(req->env[i]) != 0) /* checked "K=V" by the decoder; lives as long as init */
			return -1;
	return 0;
}

/*
 * Without a host terminal, ember's console is a byte pipe: the guest tty must
 * not echo, buffer lines, turn \n into \r\n, or turn ^C into a signal.
 */
static void console_raw(int fd)
{
	struct termios t;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
}

/* Tells ember the console is set up: host input may flow into it. */
static void console_ready(void)
{
	if (ioperm(EMBER_CONSOLE_READY_PORT, 1, 1) == 0)
		outb(1, EMBER_CONSOLE_READY_PORT);
}

/* mkdir -p for a mount point. */
static void make_dirs(const char *path)
{
	char buf[4096];
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(buf, 0755);
		*p = '/';
	}
	mkdir(buf, 0755);
}

#define NEW_ROOT "/newroot"

/*
 * --rootfs: mount the user's root file system and make it "/", keeping
 * the kernel file systems init mounted (a switch_root without deleting
 * the initramfs, which is small).  ember's init keeps running from memory.
 */
static int switch_root(const char *root)
{
	static const char *const keep[] = { "/dev", "/proc", "/sys" };
	int rc;

	mkdir(NEW_ROOT, 0755);
	/*
	 * cache=loose: the root tree belongs to this run, so the guest may keep
	 * metadata and pages; each uncached lookup is several 9p round trips,
	 * and on a software-KVM host each costs interrupts at ring-0 speed.
	 */
	if (!strncmp(root, "9p:", 3))
		rc = mount(root + 3, NEW_ROOT, "9p", 0,
			   "trans=virtio,version=9p2000.L,msize=524288,access=client,cache=loose");
	else
		rc = mount(root + 5, NEW_ROOT, "ext4", 0, NULL);
	if (rc < 0) {
		fprintf(stderr, "ember-init: mount root %s: %s\n", root, strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		char target[64];
		snprintf(target, sizeof(target), NEW_ROOT "%s", keep[i]);
		mkdir(target, 0755);
		if (mount(keep[i], target, NULL, MS_MOVE, NULL) < 0) {
			fprintf(stderr, "ember-init: move %s: %s\n", keep[i], strerror(errno));
			return -1;
		}
	}
	if (chdir(NEW_ROOT) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0 ||
	    chdir("/") < 0) {
		fprintf(stderr, "ember-init: switching root to %s: %s\n", root, strerror(errno));
		return -1;
	}
	/* A fresh /tmp and /run, as the initramfs had. */
	mount_one("tmpfs", "/tmp", "mode=1777");
	mount_one("tmpfs", "/run", "mode=0755");
	return 0;
}

/* Host directories shared by ember (--share) over virtio-9p. */
static int mount_shares(const struct channel_request *req)
{
	for (size_t i = 0; i < req->nmounts; i++) {
		char value[4096];
		const char *tag, *dir;
		bool ro;
		snprintf(value, sizeof(value), "%s", req->mounts[i]);
		if (channel_mount_split(value, &tag, &ro, &dir) < 0)
			return -1;
		make_dirs(dir);
		/* cache=none: the host may change the files under the guest's feet. */
		if (mount(tag, dir, "9p", ro ? MS_RDONLY : 0,
			  "trans=virtio,version=9p2000.L,msize=262144,access=client") < 0) {
			fprintf(stderr, "ember-init: mount %s on %s: %s\n", tag, dir, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* In the command's child, before exec: groups first, as the uid may not change them later. */
static int become_user(const struct channel_request *req)
{
	if (req->has_user && (setgroups(0, NULL) < 0 || setgid(req->gid) < 0 || setuid(req->uid) < 0)) {
		fprintf(stderr, "ember-init: cannot become user %u:%u: %s\n", req->uid, req->gid,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The stdio ports; init's own messages go to the stderr port from here on. */
static int open_stdio_ports(struct relay *r)
{
	if ((r->out_port = relay_open_port(CHANNEL_PORT_STDOUT, O_WRONLY)) < 0 ||
	    (r->err_port = relay_open_port(CHANNEL_PORT_STDERR, O_WRONLY)) < 0)
		return -1;
	if ((r->flags & CHANNEL_FLAG_INTERACTIVE) &&
	    (r->in_port = relay_open_port(CHANNEL_PORT_STDIN, O_RDONLY)) < 0)
		return -1;
	dup2(r->err_port, STDERR_FILENO);
	return 0;
}

/*
 * The host's random bytes, credited and made the kernel's key now
 * (RNDRESEEDCRNG, Linux 4.17+): a guest restored from a snapshot would
 * otherwise hand every run the random state it had when it was saved.
 * Done for every request, so cold and warm runs take one path.
 */
/*
 * From the kernel's uapi headers, which musl's toolchain does not ship:
 * <linux/random.h> (struct rand_pool_info, RNDADDENTROPY, RNDRESEEDCRNG)
 * and <linux/fs.h> (BLKFLSBUF).
 */
#define RNDADDENTROPY _IOW('R', 0x03, int[2])
#define RNDRESEEDCRNG _IO('R', 0x07)
#define BLKFLSBUF     _IO(0x12, 97)

static void reseed(const struct channel_request *req)
{
	struct {
		int entropy_count;       /* bits credited */
		int buf_size;            /* bytes */
		uint8_t bytes[CHANNEL_SEED_MAX];
	} pool;

	if (!req->seed_len)
		return;
	int fd = open("/dev/urandom", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	pool.entropy_count = (int)req->seed_len * 8;
	pool.buf_size = (int)req->seed_len;
	memcpy(pool.bytes, req->seed, req->seed_len);
	if (ioctl(fd, RNDADDENTROPY, &pool) < 0 || ioctl(fd, RNDRESEEDCRNG) < 0)
		fprintf(stderr, "ember-init: reseeding the random generator: %s\n", strerror(errno));
	close(fd);
}

/*
 * A restored guest's kernel may still cache blocks it read from a disk
 * before the snapshot (the partition scan reads its first pages): drop
 * them, the image on the host may have changed since.  Nothing is mounted
 * from the disks yet, so there is nothing dirty to lose.
 */
static void forget_disk_caches(void)
{
	DIR *d = opendir("/sys/block");
	struct dirent *e;

	while (d && (e = readdir(d))) {
		char dev[300];
		if (strncmp(e->d_name, "vd", 2))
			continue;
		snprintf(dev, sizeof(dev), "/dev/%s", e->d_name);
		int fd = open(dev, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			ioctl(fd, BLKFLSBUF, 0);
			close(fd);
		}
	}
	if (d)
		closedir(d);
}

/* Everything after the request: the command's world, then the command. */
static int run_request(struct relay *r, struct channel_request *req)
{
	static char *sh[] = { "/bin/sh", NULL };

	if (req->has_time) {
		struct timespec ts = { .tv_sec = (time_t)req->time_sec, .tv_nsec = req->time_nsec };
		clock_settime(CLOCK_REALTIME, &ts); /* best effort: the RTC gave whole seconds */
	}
	reseed(req);
	forget_disk_caches();
	if (setup_env(req) < 0) {
		fprintf(stderr, "ember-init: environment: %s\n", strerror(errno));
		return STATUS_INIT_FAILED;
	}
	if (req->root && switch_root(req->root) < 0)
		return STATUS_INIT_FAILED;
	if (mount_shares(req) < 0)
		return STATUS_INIT_FAILED;
	net_resolv_conf();
	/* Like a container's WORKDIR: created when missing. */
	if (req->workdir)
		make_dirs(req->workdir);
	if (req->workdir && chdir(req->workdir) < 0) {
		fprintf(stderr, "ember-init: cd %s: %s\n", req->workdir, strerror(errno));
		return STATUS_INIT_FAILED;
	}
	return relay_run(r, req, req->argc ? req->argv : sh, become_user);
}

/* Closes a port for good: every descriptor on it (init's stderr may be one). */
static void close_port(int *fd, int also)
{
	if (*fd < 0)
		return;
	if (also >= 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(null, also);
		close(null);
	}
	close(*fd);
	*fd = -1;
}

static int run_channel(void)
{
	struct relay r = { .control = -1, .in_port = -1, .out_port = -1, .err_port = -1 };
	struct channel_request req;
	int status = STATUS_INIT_FAILED;

	channel_request_init(&req);
	r.control = relay_open_port(CHANNEL_PORT_CONTROL, O_RDWR);
	if (r.control < 0 || relay_send_u32(&r, CHANNEL_HELLO, CHANNEL_VERSION) < 0)
		return STATUS_INIT_FAILED; /* ember will say the channel was never opened */
	if (relay_read_request(&r, &req) == 0) {
		r.flags = req.flags;
		if (r.flags & CHANNEL_FLAG_STDIO_PORTS) {
			if (open_stdio_ports(&r) == 0)
				status = run_request(&r, &req);
		} else {
			/* The console is the command's terminal: raw unless ember's is a terminal. */
			if (!(r.flags & CHANNEL_FLAG_HOST_TTY))
				console_raw(0);
			console_ready();
			status = run_request(&r, &req);
		}
	}
	fflush(NULL);
	tcdrain(1); /* console mode: the command's output has left the guest */
	tcdrain(2);
	sync();
	/* End of file on ember's stdout and stderr, then the status, in that order. */
	close_port(&r.in_port, -1);
	close_port(&r.out_port, -1);
	close_port(&r.err_port, STDERR_FILENO);
	relay_send_u32(&r, CHANNEL_EXIT, (uint32_t)status);
	/* ember stops the VM on EXIT; if it never does, the exit port below still will. */
	struct timespec pause = { .tv_sec = 10 };
	nanosleep(&pause, NULL);
	return status;
}

/*
 * No channel (a hand-made command line, another VMM): the command the
 * kernel passes init after "--" on its command line, or a shell, on the
 * console; the status goes out through the exit port only.
 */
static int run_console(char **argv)
{
	static char *sh[] = { "/bin/sh", NULL };
	pid_t pid = fork();
	if (pid == 0) {
		setsid();
		ioctl(0, TIOCSCTTY, 0);
		execvp(argv[0] ? argv[0] : sh[0], argv[0] ? argv : sh);
		fprintf(stderr, "ember-init: %s: %s\n", argv[0] ? argv[0] : sh[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	if (pid < 0)
		return STATUS_INIT_FAILED;
	console_ready();
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0 && errno != EINTR)
			return STATUS_INIT_FAILED;
		if (w == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
}

int main(int argc, char **argv)
{
	/* /dev first: the boot timer needs /dev/mem, and it should fire early. */
	mount_one("devtmpfs", "/dev", "mode=0755");
	boot_timer();
	mount_one("proc", "/proc", NULL);
	mount_one("sysfs", "/sys", NULL);
	/* What udev or a container runtime would add: /dev/stderr and friends (tee /dev/stderr). */
	static const char *const links[][2] = {
		{ "/proc/self/fd", "/dev/fd" },         { "/proc/self/fd/0", "/dev/stdin" },
		{ "/proc/self/fd/1", "/dev/stdout" },   { "/proc/self/fd/2", "/dev/stderr" },
	};
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (symlink(links[i][0], links[i][1]) < 0 && errno != EEXIST)
			fprintf(stderr, "ember-init: %s: %s\n", links[i][1], strerror(errno));
	mkdir("/dev/pts", 0755);
	mount_one("devpts", "/dev/pts", "gid=5,mode=620,ptmxmode=666");
	/* POSIX shared memory (shm_open), as any distribution's init provides. */
	mkdir("/dev/shm", 01777);
	mount_one("tmpfs", "/dev/shm", "mode=1777");
	/* cgroup v2 for container tools in the guest; sysfs has the directory only with CONFIG_CGROUPS. */
	if (access("/sys/fs/cgroup", F_OK) == 0)
		mount_one("cgroup2", "/sys/fs/cgroup", NULL);
	mount_one("tmpfs", "/tmp", "mode=1777");
	mount_one("tmpfs", "/run", "mode=0755");
	net_loopback_up();

	(void)argc;
	int status = strstr(read_cmdline(), CHANNEL_CMDLINE_WORD) ? run_channel() : run_console(argv + 1);
	fflush(NULL);
	tcdrain(1);
	sync();

	/* ember ends the VM on this write; nothing after it should run. */
	if (ioperm(EMBER_EXIT_PORT, 1, 1) == 0)
		outb((unsigned char)status, EMBER_EXIT_PORT);
	/* Not under ember (or no ioperm): power off like any init would. */
	reboot(RB_POWER_OFF);
	return status;
}
