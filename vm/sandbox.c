// SPDX-License-Identifier: GPL-2.0-only
#include "vm/sandbox.h"

#include <linux/landlock.h>

#include <errno.h>
#include <cap-ng.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#define SYS_FCHMODAT2 452 /* Linux 6.6: newer than the kernel headers we build with */

/*
 * What the running VM needs, thread by thread: vCPUs (KVM_RUN and the
 * register ioctls of the emulator, device register writes, eventfds),
 * the event loop (epoll, stdin/stdout, timers), blk workers (positional
 * I/O, flush, fallocate), 9p workers (the *at() family under the share),
 * and teardown (futex joins, munmap, close, terminal restore).
 */
static const int allowed[] = {
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev),
	SCMP_SYS(pread64), SCMP_SYS(pwrite64), SCMP_SYS(preadv), SCMP_SYS(pwritev),
	SCMP_SYS(preadv2), SCMP_SYS(pwritev2), SCMP_SYS(lseek), SCMP_SYS(close),
	SCMP_SYS(fstat), SCMP_SYS(fstatfs),
	SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(fallocate), SCMP_SYS(ftruncate),
	SCMP_SYS(fcntl), SCMP_SYS(getdents64), SCMP_SYS(fchmod), SCMP_SYS(fchown),
	/*
	 * 9p extended attributes (the guest's, and own=mapped's owners and
	 * modes): on descriptors only, which the server opened beneath a share.
	 */
	SCMP_SYS(fgetxattr), SCMP_SYS(fsetxattr), SCMP_SYS(flistxattr), SCMP_SYS(fremovexattr),
	/* The command channel puts /dev/null over stdout once the guest closed it. */
	SCMP_SYS(dup2), SCMP_SYS(dup3),
	/* Waiting and waking. */
	SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl), SCMP_SYS(poll),
	SCMP_SYS(ppoll), SCMP_SYS(futex), SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep),
	SCMP_SYS(sched_yield), SCMP_SYS(restart_syscall), SCMP_SYS(clock_gettime),
	SCMP_SYS(gettimeofday),
	/* --stop-timeout: ember's own timer, made before the filter, armed by a SIGTERM. */
	SCMP_SYS(timerfd_settime),
	/* Memory (malloc) and threads winding down. */
	SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise), SCMP_SYS(brk),
	SCMP_SYS(mprotect), SCMP_SYS(exit), SCMP_SYS(exit_group),
	/* A thread still starting when the filter lands (glibc's start_thread). */
	SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sigaltstack),
	/* Signals: the kick that interrupts KVM_RUN, signal returns. */
	SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigprocmask), SCMP_SYS(tgkill), SCMP_SYS(getpid),
	SCMP_SYS(gettid), SCMP_SYS(getuid), SCMP_SYS(geteuid), SCMP_SYS(getgid),
	SCMP_SYS(getegid),
	SCMP_SYS(getrandom),
	/* `ember snapshot` connecting to a --snapshot-to VM's socket (made before the filter). */
	SCMP_SYS(accept4),
	/*
	 * --net user: frames to passt on the socket pair made before the
	 * filter (no socket() or connect(), so no other peer), and at the end
	 * passt stopped through its pidfd (the only process ember holds one
	 * of) and reaped.
	 */
	SCMP_SYS(sendmsg), SCMP_SYS(pidfd_send_signal), SCMP_SYS(wait4),
	/*
	 * --vsock: connected sockets handed over by the connector process
	 * (virtio/vsock_connect.c: only it may connect, and only to PATH_<port>),
	 * half-closes, and reaping the connector at the end.
	 */
	SCMP_SYS(recvmsg), SCMP_SYS(shutdown),
};

/*
 * The *at() calls of the 9p server, allowed only relative to a descriptor
 * it holds (below a share, opened with RESOLVE_BENEATH): never AT_FDCWD,
 * so no path by name anywhere on the host.  `dirfd_args` lists which
 * arguments are directory descriptors.
 */
static const struct {
	int nr;
	unsigned dirfd_args[2];
	unsigned n;
} at_calls[] = {
	{ SCMP_SYS(openat), { 0 }, 1 },      { SCMP_SYS(openat2), { 0 }, 1 },
	{ SCMP_SYS(mkdirat), { 0 }, 1 },     { SCMP_SYS(mknodat), { 0 }, 1 },
	{ SCMP_SYS(readlinkat), { 0 }, 1 },  { SCMP_SYS(unlinkat), { 0 }, 1 },
	{ SCMP_SYS(fchmodat), { 0 }, 1 },    { SCMP_SYS(fchownat), { 0 }, 1 },
	{ SCMP_SYS(utimensat), { 0 }, 1 },   { SCMP_SYS(newfstatat), { 0 }, 1 },
	{ SCMP_SYS(statx), { 0 }, 1 },       { SYS_FCHMODAT2, { 0 }, 1 },
	{ SCMP_SYS(symlinkat), { 1 }, 1 },   { SCMP_SYS(linkat), { 0, 2 }, 2 },
	{ SCMP_SYS(renameat), { 0, 2 }, 2 }, { SCMP_SYS(renameat2), { 0, 2 }, 2 },
};

/*
 * "A real descriptor": below 2^20, which AT_FDCWD (-100) is not, whether
 * the caller sign- or zero-extended it to 64 bits.
 */
static struct scmp_arg_cmp real_fd(unsigned arg)
{
	return (struct scmp_arg_cmp){ .arg = arg, .op = SCMP_CMP_MASKED_EQ,
				      .datum_a = ~0xfffffULL, .datum_b = 0 };
}

/*
 * ioctls by request number: KVM_RUN and the terminal (its mode, and its
 * size for -t's SIGWINCH); the arch adds its own (register access...).
 */
static const unsigned long allowed_ioctls[] = {
	KVM_RUN, TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
	/* virtio-net: the offloads the guest accepted, given to its tap at DRIVER_OK. */
	TUNSETOFFLOAD,
};

static void on_sigsys(int sig, siginfo_t *info, void *ucontext)
{
	static const char prefix[] = "ember: sandbox: refused system call ";
	char msg[sizeof(prefix) + 16];
	char digits[12];
	int n = 0, nr = info->si_syscall;

	(void)sig;
	(void)ucontext;
	/* Async-signal-safe formatting of the number. */
	do {
		digits[n++] = (char)('0' + nr % 10);
		nr /= 10;
	} while (nr && n < (int)sizeof(digits));
	size_t len = sizeof(prefix) - 1;
	memcpy(msg, prefix, len);
	while (n)
		msg[len++] = digits[--n];
	msg[len++] = '\n';
	if (write(STDERR_FILENO, msg, len) < 0) {
		/* nothing more can be done */
	}
	_exit(125);
}

int sandbox_apply(const unsigned long *extra_ioctls, unsigned nr_extra, struct ember_err *err)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return ember_fail(err, errno, "sandbox: SIGSYS handler: %s", strerror(errno));

	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx)
		return ember_fail(err, ENOMEM, "sandbox: cannot create the syscall filter");
	int rc = 0;
	for (size_t i = 0; !rc && i < sizeof(allowed) / sizeof(allowed[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, allowed[i], 0);
	for (size_t i = 0; !rc && i < sizeof(at_calls) / sizeof(at_calls[0]); i++) {
		struct scmp_arg_cmp cmp[2] = { real_fd(at_calls[i].dirfd_args[0]),
					       real_fd(at_calls[i].dirfd_args[1]) };
		rc = seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, at_calls[i].nr, at_calls[i].n, cmp);
	}
	/* A thread naming itself (virtio/worker.c, cpu/vcpu.c) as it starts, perhaps after the filter landed. */
	if (!rc)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(prctl), 1, SCMP_A0(SCMP_CMP_EQ, PR_SET_NAME));
	for (size_t i = 0; !rc && i < sizeof(allowed_ioctls) / sizeof(allowed_ioctls[0]); i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, allowed_ioctls[i]));
	for (unsigned i = 0; !rc && i < nr_extra; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
				      SCMP_A1(SCMP_CMP_EQ, extra_ioctls[i]));
	/* Every thread, including vCPUs and device workers started before this. */
	if (!rc)
		rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!rc)
		rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc)
		return ember_fail(err, -rc, "sandbox: cannot install the syscall filter: %s (run with --no-sandbox to go without)",
				  strerror(-rc));
	return 0;
}

/* ---- Landlock ---------------------------------------------------------------------- */

/* What ember refuses below the allowed trees as well: running programs, making devices. */
#define LL_NEVER (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | LANDLOCK_ACCESS_FS_MAKE_BLOCK)
#define LL_READ  (LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR)

/* Every file-system right this kernel's Landlock ABI knows (Documentation/userspace-api/landlock.rst). */
static uint64_t landlock_fs_rights(long abi)
{
	uint64_t all = (LANDLOCK_ACCESS_FS_MAKE_SYM << 1) - 1; /* ABI 1: EXECUTE .. MAKE_SYM */
#ifdef LANDLOCK_ACCESS_FS_REFER
	if (abi >= 2)
		all |= LANDLOCK_ACCESS_FS_REFER;
#endif
#ifdef LANDLOCK_ACCESS_FS_TRUNCATE
	if (abi >= 3)
		all |= LANDLOCK_ACCESS_FS_TRUNCATE;
#endif
	(void)abi;
	return all;
}

int sandbox_restrict_paths(const struct sandbox_path *paths, unsigned nr, bool *confined,
			   struct ember_err *err)
{
	*confined = false;
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return 0; /* ENOSYS, EOPNOTSUPP: not built or not enabled; the filter still holds */
	uint64_t all = landlock_fs_rights(abi);
	struct landlock_ruleset_attr attr = { .handled_access_fs = all };
	int ruleset = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (ruleset < 0)
		return ember_fail(err, errno, "sandbox: Landlock ruleset: %s", strerror(errno));
	int rc = 0;
	for (unsigned i = 0; !rc && i < nr; i++) {
		struct landlock_path_beneath_attr rule = {
			.allowed_access = paths[i].writable ? all & ~LL_NEVER : LL_READ,
			.parent_fd = paths[i].fd,
		};
		if (syscall(SYS_landlock_add_rule, ruleset, LANDLOCK_RULE_PATH_BENEATH, &rule, 0) < 0)
			rc = ember_fail(err, errno, "sandbox: Landlock rule: %s", strerror(errno));
	}
	/* Landlock needs no_new_privs (or CAP_SYS_ADMIN); the syscall filter sets it too. */
	if (!rc && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_landlock_restrict_self, ruleset, 0) < 0))
		rc = ember_fail(err, errno, "sandbox: Landlock: %s (run with --no-sandbox to go without)",
				strerror(errno));
	close(ruleset);
	*confined = rc == 0;
	return rc;
}

int sandbox_drop_capabilities(bool keep_file_access, struct ember_err *err)
{
	capng_get_caps_process();
	if (capng_have_capabilities(CAPNG_SELECT_CAPS) == CAPNG_NONE)
		return 0;
	capng_clear(CAPNG_SELECT_BOTH);
	if (keep_file_access &&
	    capng_updatev(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_DAC_OVERRIDE,
			  CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_CHOWN, -1) < 0)
		return ember_fail(err, EINVAL, "sandbox: cannot keep file capabilities");
	if (capng_apply(CAPNG_SELECT_BOTH) < 0)
		return ember_fail(err, EPERM,
				  "sandbox: cannot drop capabilities (run with --no-sandbox to go without)");
	return 0;
}
