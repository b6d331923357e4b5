/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ember-init: the guest's /init (PID 1).  Mounts the usual file systems,
 * signals the boot timer, runs the command given by ember.* keys on the
 * kernel command line (arch/x86/guest_abi.h), reaps everything, and hands
 * the command's exit status to ember through the exit port.
 *
 * Exit status: the command's own code; 128+N if signal N killed it; 127 if
 * it was not found, 126 if it could not be executed; 125 if init itself
 * failed (bad command line, working directory, fork).
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "arch/x86/guest_abi.h"
#include "rootfs/init_cmdline.h"

#define STATUS_INIT_FAILED 125

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

/* A clean environment: the kernel passes init any unknown key=value it saw. */
static int setup_env(const struct init_cmdline *c)
{
	if (clearenv() != 0 || setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1) ||
	    setenv("HOME", "/root", 1) || setenv("TERM", "linux", 1))
		return -1;
	for (size_t i = 0; i < c->envc; i++) {
		/* setenv() copies, so c->env can be freed; the parser ensured a '=' after K. */
		char *eq = strchr(c->env[i], '=');
		*eq = '\0';
		int r = setenv(c->env[i], eq + 1, 1);
		*eq = '=';
		if (r != 0)
			return -1;
	}
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

/*
 * The command's stdio.  By default it inherits init's /dev/console.  With
 * ember.stdio=split, stdin and stdout are /dev/hvc0 and stderr /dev/hvc1,
 * two virtio consoles that ember copies to its own stdout and stderr.
 */
static int setup_stdio(const struct init_cmdline *c)
{
	if (c->split) {
		int out = open("/dev/hvc0", O_RDWR | O_NOCTTY);
		int err = open("/dev/hvc1", O_RDWR | O_NOCTTY);
		if (out < 0 || err < 0) {
			fprintf(stderr, "ember-init: /dev/hvc0 or /dev/hvc1: %s\n", strerror(errno));
			return -1;
		}
		dup2(out, 0);
		dup2(out, 1);
		dup2(err, 2);
		if (out > 2)
			close(out);
		if (err > 2)
			close(err);
	}
	if (!c->tty) {
		console_raw(0);
		if (c->split)
			console_raw(2);
	}
	return 0;
}

/* Everything the command wrote must have left the guest before ember stops it. */
static void drain_stdio(void)
{
	fflush(NULL);
	tcdrain(1);
	tcdrain(2);
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
static int mount_shares(const struct init_cmdline *c)
{
	for (size_t i = 0; i < c->nmounts; i++) {
		char value[4096];
		const char *tag, *dir;
		bool ro;
		snprintf(value, sizeof(value), "%s", c->mounts[i]);
		if (init_mount_split(value, &tag, &ro, &dir) < 0)
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

static pid_t spawn(char **argv, const struct init_cmdline *c)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	/* Groups first: once the uid changes, we may no longer change them. */
	if (c->has_user && (setgroups(0, NULL) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0)) {
		fprintf(stderr, "ember-init: cannot become user %u:%u: %s\n", c->uid, c->gid,
			strerror(errno));
		_exit(STATUS_INIT_FAILED);
	}
	/*
	 * A session of its own with the console as controlling tty, so that a
	 * shell gets job control and ^C reaches the foreground job.  Opening
	 * /dev/console never makes it a controlling tty by itself.
	 */
	setsid();
	ioctl(0, TIOCSCTTY, 0);
	execvp(argv[0], argv);
	int err = errno;
	fprintf(stderr, "ember-init: %s: %s\n", argv[0], strerror(err));
	_exit(err == ENOENT ? 127 : 126);
}

/* Reaps every child (orphans are ours as PID 1) until `pid` exits; returns its status. */
static int wait_for(pid_t pid)
{
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return STATUS_INIT_FAILED; /* ECHILD: cannot happen while pid lives */
		}
		if (r != pid)
			continue;
		if (WIFEXITED(st))
			return WEXITSTATUS(st);
		return 128 + WTERMSIG(st);
	}
}

static int run(void)
{
	static char *sh[] = { "/bin/sh", NULL };
	struct init_cmdline c;
	int status = STATUS_INIT_FAILED;
	pid_t pid;

	if (init_cmdline_parse(&c, read_cmdline()) < 0) {
		fprintf(stderr, "ember-init: kernel command line: %s\n", c.error);
		goto out;
	}
	if (setup_env(&c) < 0) {
		fprintf(stderr, "ember-init: environment: %s\n", strerror(errno));
		goto out;
	}
	if (setup_stdio(&c) < 0)
		goto out;
	/* Tell ember the console is ready for the host's stdin. */
	if (ioperm(EMBER_CONSOLE_READY_PORT, 1, 1) == 0)
		outb(1, EMBER_CONSOLE_READY_PORT);
	if (c.root && switch_root(c.root) < 0)
		goto out;
	if (mount_shares(&c) < 0)
		goto out;
	/* Like a container's WORKDIR: created when missing. */
	if (c.workdir)
		make_dirs(c.workdir);
	if (c.workdir && chdir(c.workdir) < 0) {
		fprintf(stderr, "ember-init: cd %s: %s\n", c.workdir, strerror(errno));
		goto out;
	}
	pid = spawn(c.argc ? c.argv : sh, &c);
	if (pid < 0) {
		fprintf(stderr, "ember-init: fork: %s\n", strerror(errno));
		goto out;
	}
	status = wait_for(pid);
out:
	init_cmdline_free(&c);
	return status;
}

int main(void)
{
	/* /dev first: the boot timer needs /dev/mem, and it should fire early. */
	mount_one("devtmpfs", "/dev", "mode=0755");
	boot_timer();
	mount_one("proc", "/proc", NULL);
	mount_one("sysfs", "/sys", NULL);
	mkdir("/dev/pts", 0755);
	mount_one("devpts", "/dev/pts", "gid=5,mode=620,ptmxmode=666");
	mount_one("tmpfs", "/tmp", "mode=1777");
	mount_one("tmpfs", "/run", "mode=0755");

	int status = run();
	drain_stdio();
	sync();

	/* ember ends the VM on this write; nothing after it should run. */
	if (ioperm(EMBER_EXIT_PORT, 1, 1) == 0)
		outb((unsigned char)status, EMBER_EXIT_PORT);
	/* Not under ember (or no ioperm): power off like any init would. */
	reboot(RB_POWER_OFF);
	return status;
}
