// SPDX-License-Identifier: GPL-2.0-only
/*
 * Runs inside an ember guest (built static on the host by kernel.sh, which
 * shares it into the guest): checks the kernel features CI jobs and
 * container tools use, one line each, "ok NAME" or "fail NAME: why".
 * Exits 0 when every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/loop.h>
#include <linux/seccomp.h>
#include <linux/filter.h>
#include <mqueue.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;

static void report(const char *name, int ok, const char *why)
{
	if (ok)
		printf("ok %s\n", name);
	else
		printf("fail %s: %s\n", name, why ? why : strerror(errno));
	failures += !ok;
}

static void sysv_ipc(void)
{
	int id = shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600);
	char *p = id >= 0 ? shmat(id, NULL, 0) : (void *)-1;
	int ok = p != (void *)-1;
	if (ok) {
		strcpy(p, "shm");
		ok = !strcmp(p, "shm");
		shmdt(p);
	}
	if (id >= 0)
		shmctl(id, IPC_RMID, NULL);
	report("sysv-shm", ok, NULL);

	int sem = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
	struct sembuf up = { 0, 1, 0 }, down = { 0, -1, 0 };
	report("sysv-sem", sem >= 0 && semop(sem, &up, 1) == 0 && semop(sem, &down, 1) == 0, NULL);
	if (sem >= 0)
		semctl(sem, 0, IPC_RMID);

	struct { long type; char text[8]; } m = { 1, "msg" }, r;
	int q = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
	report("sysv-msg", q >= 0 && msgsnd(q, &m, sizeof(m.text), 0) == 0 &&
		   msgrcv(q, &r, sizeof(r.text), 1, 0) > 0 && !strcmp(r.text, "msg"), NULL);
	if (q >= 0)
		msgctl(q, IPC_RMID, NULL);

	struct mq_attr a = { .mq_maxmsg = 4, .mq_msgsize = 16 };
	mqd_t mq = mq_open("/ember-test", O_CREAT | O_RDWR, 0600, &a);
	char buf[16] = "";
	report("posix-mqueue", mq != (mqd_t)-1 && mq_send(mq, "pmq", 4, 0) == 0 &&
		   mq_receive(mq, buf, sizeof(buf), NULL) == 4 && !strcmp(buf, "pmq"), NULL);
	mq_unlink("/ember-test");

	int fd = open("/dev/shm/ember-test", O_CREAT | O_RDWR, 0600);
	report("dev-shm", fd >= 0, "/dev/shm is not a writable tmpfs");
	if (fd >= 0) {
		close(fd);
		unlink("/dev/shm/ember-test");
	}
}

/* A child in new user, mount, pid, net, uts and ipc namespaces: pid 1 there, root there. */
static void namespaces(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWUTS | CLONE_NEWIPC |
			    CLONE_NEWPID) < 0)
			_exit(10);
		pid_t inner = fork();
		if (inner == 0)
			_exit(getpid() == 1 && sethostname("inner", 5) == 0 ? 0 : 11);
		int st;
		_exit(waitpid(inner, &st, 0) == inner && WIFEXITED(st) ? WEXITSTATUS(st) : 12);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	char why[64];
	snprintf(why, sizeof(why), "child exit %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	report("namespaces", WIFEXITED(st) && WEXITSTATUS(st) == 0, why);
}

static void overlay_and_loop(void)
{
	mkdir("/tmp/ov", 0755);
	mkdir("/tmp/ov/lower", 0755);
	mkdir("/tmp/ov/upper", 0755);
	mkdir("/tmp/ov/work", 0755);
	mkdir("/tmp/ov/merged", 0755);
	int fd = open("/tmp/ov/lower/file", O_CREAT | O_WRONLY, 0644);
	if (fd >= 0)
		close(fd);
	int ok = mount("overlay", "/tmp/ov/merged", "overlay", 0,
		       "lowerdir=/tmp/ov/lower,upperdir=/tmp/ov/upper,workdir=/tmp/ov/work") == 0 &&
		 access("/tmp/ov/merged/file", F_OK) == 0;
	report("overlayfs", ok, NULL);
	umount("/tmp/ov/merged");

	int ctl = open("/dev/loop-control", O_RDWR);
	int n = ctl >= 0 ? ioctl(ctl, LOOP_CTL_GET_FREE) : -1;
	report("loop-devices", n >= 0, NULL);
	if (ctl >= 0)
		close(ctl);
}

static void misc(void)
{
	int in = inotify_init1(IN_CLOEXEC);
	report("inotify", in >= 0, NULL);
	if (in >= 0)
		close(in);

	/* A filter that allows everything, in a child (filters are for life). */
	pid_t pid = fork();
	if (pid == 0) {
		struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
		struct sock_fprog prog = { 1, &allow };
		_exit(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
		      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0 ? 0 : 1);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	report("seccomp-filter", WIFEXITED(st) && WEXITSTATUS(st) == 0, "prctl(PR_SET_SECCOMP) failed");

	char buf[256] = "";
	int fd = open("/sys/fs/cgroup/cgroup.controllers", O_RDONLY);
	ssize_t len = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[len > 0 ? len : 0] = '\0';
	report("cgroup2", len > 0 && strstr(buf, "memory") && strstr(buf, "pids") && strstr(buf, "cpu"),
	       len > 0 ? buf : "/sys/fs/cgroup is not a cgroup2 mount with controllers");
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	sysv_ipc();
	namespaces();
	overlay_and_loop();
	misc();
	return failures ? 1 : 0;
}
