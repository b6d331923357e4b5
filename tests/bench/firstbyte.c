// SPDX-License-Identifier: GPL-2.0-only
/*
 * firstbyte: measurement helper for scripts/bench.sh (host program, not a
 * guest).  Runs one command with stdin from /dev/null and stdout on a pipe,
 * and prints one line of key=value figures:
 *
 *   firstbyte [-t SECONDS] [-o FILE] -- COMMAND [ARGS...]
 *     first_ms=  CLOCK_MONOTONIC from the child's execve() to the first byte
 *                read from its stdout ("na" if it wrote nothing)
 *     exit_ms=   from execve() to the moment the process has exited (pidfd
 *                readable; falls back to wait4() returning)
 *     maxrss_kib= ru_maxrss from wait4(): the peak RSS of the process.  The
 *                kernel folds in the RSS of the forked child before execve
 *                (a max, not a sum); this helper is static and small, so that
 *                floor is low, and it is printed:
 *     prexec_kib= VmRSS of the forked child just before execve.
 *     user_ms= sys_ms= ru_utime and ru_stime from wait4(): the host CPU time
 *                of the whole process (all its threads, the kernel's
 *                KVM_RUN work included), in ms
 *     status=    exit code, 128+N if killed by signal N, -1 if timed out
 *     timeout=1  only if the command was killed after SECONDS (default 60)
 *   -o FILE keeps a copy of the command's stdout.
 *
 *   firstbyte -m BYTES [-t SECONDS] [-o FILE] -- COMMAND [ARGS...]
 *     Memory mode (slow: every system call of every thread stops under
 *     ptrace; no times are printed).  Samples /proc/PID just before the
 *     process can let go of its memory: at the entry of every munmap() of
 *     >= BYTES (ember unmaps guest RAM in its teardown), at the entry of
 *     exit()/exit_group() (QEMU exits from a vCPU thread) and at the
 *     PTRACE_EVENT_EXIT stop; keeps the largest values seen.
 *     hwm_kib=   VmHWM (peak RSS of the exec'd program alone)
 *     guest_kib= Rss of the guest RAM mapping: the anonymous read-write
 *                mapping of at least BYTES whose size is closest to BYTES
 *                ("na" if none).
 *                That is the guest RAM the host actually backs with pages
 *                (touched by the VMM while loading/setting up, or by the
 *                guest, or pinned by KVM).
 *     maxrss_kib=, status=, timeout= as above.
 *
 * Exit code 0 when the command ran (whatever its status), 2 on usage
 * errors, 1 when it could not be started.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int status_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

static void usage(void)
{
	fprintf(stderr, "usage: firstbyte [-m BYTES] [-t SECONDS] [-o FILE] -- COMMAND [ARGS...]\n");
	exit(2);
}

/* ---- memory mode --------------------------------------------------------- */

static volatile sig_atomic_t traced_pid, alarm_fired;

static void on_alarm(int sig)
{
	(void)sig;
	alarm_fired = 1;
	if (traced_pid > 0)
		kill(traced_pid, SIGKILL);
}

/* VmHWM of pid in KiB, or -1. */
static long read_hwm(pid_t pid)
{
	char path[64], line[256];
	long v = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld", &v) == 1)
			break;
	fclose(f);
	return v;
}

/*
 * Rss (KiB) of the guest RAM mapping in /proc/PID/smaps: the anonymous
 * read-write mapping of at least min_bytes whose size is closest to
 * min_bytes (guest RAM as both VMMs allocate it).  -1 if none.
 * FIRSTBYTE_DEBUG=1 in the environment lists the candidates on stderr.
 */
static long read_guest_rss(pid_t pid, uint64_t min_bytes)
{
	char path[64], line[512];
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	bool debug = getenv("FIRSTBYTE_DEBUG") != NULL;
	long best = -1;
	uint64_t best_size = UINT64_MAX, cur_size = 0;
	bool cand = false; /* the mapping being read is a candidate */
	while (fgets(line, sizeof(line), f)) {
		uint64_t lo, hi, ino;
		char perms[8], dev[16];
		unsigned long long off;
		long kib;
		int n = 0;
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %llx %15s %" SCNu64 " %n",
			   &lo, &hi, perms, &off, dev, &ino, &n) == 6 && n > 0) {
			const char *name = line + n;
			cur_size = hi - lo;
			cand = ino == 0 && (*name == '\n' || *name == '\0') &&
			       perms[0] == 'r' && perms[1] == 'w' && cur_size >= min_bytes;
		} else if (cand && sscanf(line, "Rss: %ld kB", &kib) == 1) {
			if (debug)
				fprintf(stderr, "firstbyte: pid %d: anon rw mapping of %" PRIu64 " KiB, Rss %ld KiB\n",
					(int)pid, cur_size >> 10, kib);
			if (cur_size < best_size) {
				best = kib;
				best_size = cur_size;
			}
			cand = false;
		}
	}
	fclose(f);
	return best;
}

/* One sample: VmHWM and guest Rss only grow until the memory is let go. */
static void sample(pid_t pid, uint64_t min_bytes, long *hwm, long *guest)
{
	long h = read_hwm(pid), g = read_guest_rss(pid, min_bytes);
	if (h > *hwm)
		*hwm = h;
	if (g > *guest)
		*guest = g;
}

static int run_memory(char **argv, uint64_t min_bytes, double timeout_s, const char *out)
{
	int outfd = open(out ? out : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (outfd < 0) {
		perror(out ? out : "/dev/null");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(outfd, 1) < 0)
			_exit(127);
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		execvp(argv[0], argv);
		fprintf(stderr, "firstbyte: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(outfd);
	traced_pid = pid;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm; /* no SA_RESTART: waitpid() returns EINTR */
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)timeout_s + 1);

	long hwm = -1, guest = -1;
	int st = 0, status = -1;
	bool started = false;
	for (;;) {
		pid_t w = waitpid(-1, &st, __WALL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (w == pid) {
				status = status_code(st);
				break;
			}
			continue; /* another thread */
		}
		if (!WIFSTOPPED(st))
			continue;
		int sig = WSTOPSIG(st), event = st >> 16, inject = 0;
		if (!started && w == pid && sig == SIGTRAP) {
			/* The exec stop (PTRACE_TRACEME + execve). */
			started = true;
			ptrace(PTRACE_SETOPTIONS, pid, NULL,
			       (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_TRACECLONE |
					      PTRACE_O_TRACEEXIT | PTRACE_O_EXITKILL));
		} else if (sig == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;
			memset(&si, 0, sizeof(si));
			long n = ptrace(PTRACE_GET_SYSCALL_INFO, w, (void *)sizeof(si), &si);
			if (n > 0 && si.op == PTRACE_SYSCALL_INFO_ENTRY &&
			    ((si.entry.nr == SYS_munmap && si.entry.args[1] >= min_bytes) ||
			     si.entry.nr == SYS_exit_group || si.entry.nr == SYS_exit))
				sample(pid, min_bytes, &hwm, &guest);
		} else if (sig == SIGTRAP && event == PTRACE_EVENT_EXIT) {
			sample(pid, min_bytes, &hwm, &guest);
		} else if (sig == SIGTRAP && event) {
			/* clone/exec events: nothing to deliver */
		} else if (sig == SIGSTOP && event == 0 && w != pid) {
			/* a new thread's initial stop */
		} else {
			inject = sig; /* a real signal: deliver it */
		}
		ptrace(PTRACE_SYSCALL, w, NULL, (void *)(long)inject);
	}
	alarm(0);
	int timed_out = alarm_fired;
	if (!started && status == 127) {
		fprintf(stderr, "firstbyte: could not start %s\n", argv[0]);
		return 1;
	}
	printf("hwm_kib=");
	hwm >= 0 ? printf("%ld", hwm) : printf("na");
	printf(" guest_kib=");
	guest >= 0 ? printf("%ld", guest) : printf("na");
	struct rusage ru;
	memset(&ru, 0, sizeof(ru));
	getrusage(RUSAGE_CHILDREN, &ru); /* our only child */
	printf(" maxrss_kib=%ld status=%d%s\n", ru.ru_maxrss, timed_out ? -1 : status,
	       timed_out ? " timeout=1" : "");
	return 0;
}

/* VmRSS of this process in KiB (from /proc/self/statm), or -1. */
static long self_rss_kib(void)
{
	char buf[128];
	long size, resident;
	int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (sscanf(buf, "%ld %ld", &size, &resident) != 2)
		return -1;
	return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

/* ---- timing mode --------------------------------------------------------- */

static int run_timed(char **argv, double timeout_s, const char *out)
{
	int pipefd[2], tpipe[2];
	if (pipe2(pipefd, O_CLOEXEC) || pipe2(tpipe, O_CLOEXEC)) {
		perror("pipe");
		return 1;
	}
	int outfd = -1;
	if (out && (outfd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		perror(out);
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		if (in < 0 || dup2(in, 0) < 0 || dup2(pipefd[1], 1) < 0)
			_exit(127);
		/*
		 * Our own RSS, which the kernel folds into the command's
		 * ru_maxrss at execve; then t0 as close to execve as we can.
		 * Both go to the parent over a close-on-exec pipe.
		 */
		double msg[2] = { (double)self_rss_kib(), 0 };
		msg[1] = now_ms();
		if (write(tpipe[1], msg, sizeof(msg)) != sizeof(msg))
			_exit(127);
		execvp(argv[0], argv);
		fprintf(stderr, "firstbyte: %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	close(tpipe[1]);
	double msg[2] = { -1, 0 }, t0;
	if (read(tpipe[0], msg, sizeof(msg)) != sizeof(msg))
		msg[1] = now_ms();
	t0 = msg[1];
	close(tpipe[0]);

	int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	double t_first = -1, t_exit = -1, deadline = t0 + timeout_s * 1e3;
	bool eof = false, exited = false;
	int timed_out = 0;
	char buf[4096];

	while (!exited) {
		struct pollfd p[2];
		nfds_t np = 0;
		if (!eof)
			p[np++] = (struct pollfd){ .fd = pipefd[0], .events = POLLIN };
		if (pidfd >= 0)
			p[np++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		if (np == 0)
			break; /* EOF and no pidfd: wait4 below */
		double left = deadline - now_ms();
		if (left <= 0) {
			kill(pid, SIGKILL);
			timed_out = 1;
			break;
		}
		int r = poll(p, np, (int)left + 1);
		double t = now_ms();
		if (r < 0 && errno != EINTR)
			break;
		for (nfds_t i = 0; r > 0 && i < np; i++) {
			if (!p[i].revents)
				continue;
			if (p[i].fd == pidfd) {
				t_exit = t;
				exited = true;
				continue;
			}
			ssize_t n = read(pipefd[0], buf, sizeof(buf));
			if (n > 0) {
				if (t_first < 0)
					t_first = t;
				if (outfd >= 0 && write(outfd, buf, (size_t)n) != n)
					perror(out);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				eof = true;
			}
		}
	}
	struct rusage ru;
	int st = 0;
	memset(&ru, 0, sizeof(ru));
	while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	if (t_exit < 0)
		t_exit = now_ms();
	/* Whatever is still in the pipe (a daemonised grandchild may keep it open: don't wait). */
	int fl = fcntl(pipefd[0], F_GETFL);
	fcntl(pipefd[0], F_SETFL, fl | O_NONBLOCK);
	ssize_t n;
	while (!eof && (n = read(pipefd[0], buf, sizeof(buf))) > 0) {
		if (t_first < 0)
			t_first = t_exit;
		if (outfd >= 0 && write(outfd, buf, (size_t)n) != n)
			perror(out);
	}
	int status = status_code(st);
	if (status == 127 && t_first < 0)
		return 1; /* could not exec: the child said why */

	if (t_first >= 0)
		printf("first_ms=%.3f", t_first - t0);
	else
		printf("first_ms=na");
	printf(" exit_ms=%.3f maxrss_kib=%ld prexec_kib=%.0f user_ms=%.3f sys_ms=%.3f status=%d%s\n",
	       t_exit - t0, ru.ru_maxrss, msg[0], ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3,
	       ru.ru_stime.tv_sec * 1e3 + ru.ru_stime.tv_usec / 1e3, timed_out ? -1 : status,
	       timed_out ? " timeout=1" : "");
	return 0;
}

int main(int argc, char **argv)
{
	double timeout_s = 60;
	const char *out = NULL;
	uint64_t mem = 0;
	int c;
	while ((c = getopt(argc, argv, "+m:t:o:")) != -1) {
		switch (c) {
		case 'm':
			mem = strtoull(optarg, NULL, 0);
			if (!mem)
				usage();
			break;
		case 't':
			timeout_s = atof(optarg);
			if (timeout_s <= 0)
				usage();
			break;
		case 'o':
			out = optarg;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	argv += optind;
	return mem ? run_memory(argv, mem, timeout_s, out) : run_timed(argv, timeout_s, out);
}
