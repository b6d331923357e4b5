/* SPDX-License-Identifier: GPL-2.0-only */
/* What the user asked for, after parsing and validation. */
#ifndef EMBER_VM_CONFIG_H
#define EMBER_VM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vm/error.h"

#define EMBER_MAX_CPUS      32
#define EMBER_MIN_MEM       (16ULL << 20)
#define EMBER_MAX_MEM       (1ULL << 40)
#define EMBER_DEFAULT_MEM   (256ULL << 20)
#define EMBER_CMDLINE_MAX   2048 /* x86 COMMAND_LINE_SIZE, including the NUL */

#define EMBER_MAX_DISKS 16
#define EMBER_MAX_SHARES 8
#define EMBER_MAX_NETS 4

/*
 * Whose files a directory served over 9p shows the guest (virtio/p9_own.c).
 *   HOST    today's model: files are ember's user's, the guest sees host
 *           owners and modes (setuid/setgid/sticky refused)
 *   MAPPED  the guest's owners, modes and special files are kept in
 *           user.virtfs.* extended attributes, as QEMU's mapped-xattr
 */
enum ember_own {
	EMBER_OWN_HOST,
	EMBER_OWN_MAPPED,
};

struct ember_share {
	const char *host_dir;
	const char *guest_dir;   /* absolute path the guest init mounts it on */
	bool read_only;
	enum ember_own own;      /* ",own=": EMBER_OWN_HOST unless asked */
	char tag[16];            /* 9p mount tag: "share0", "share1", ... */
};

struct ember_disk {
	const char *path;
	bool read_only;          /* ",ro" */
	const char *serial;      /* ",serial=ID": what VIRTIO_BLK_T_GET_ID returns (max 20 bytes) */
};

/* --net: one virtio-net device and the host back end behind it. */
enum ember_net_kind {
	EMBER_NET_TAP,           /* tap=NAME: an existing tap (made by root for this user) */
	EMBER_NET_AUTO,          /* auto: ember makes a tap, addresses and a route (CAP_NET_ADMIN) */
	EMBER_NET_BRIDGE,        /* bridge=BR: ember makes a tap and enslaves it to BR */
	EMBER_NET_USER,          /* user: Debian's passt, no privileges */
};

struct ember_net {
	enum ember_net_kind kind;
	const char *ifname;      /* tap= or bridge= */
	uint8_t mac[6];          /* the guest's; derived from the index unless ",mac=" */
	bool has_mac;
	/* auto: ",host=IP/PREFIX" and ",guest=IP", in network byte order (0: ember's default) */
	uint32_t host_ip, guest_ip;
	unsigned prefix;
};

enum ember_console {
	EMBER_CONSOLE_AUTO,      /* SPLIT with a command (or -i/-t), else SERIAL */
	EMBER_CONSOLE_SERIAL,    /* ttyS0 (8250 UART) for everything */
	EMBER_CONSOLE_VIRTIO,    /* hvc0 (virtio-console) for everything */
	EMBER_CONSOLE_SPLIT,     /* command's stdin, stdout, stderr on command-channel ports, kernel on ttyS0 -> stderr */
	EMBER_CONSOLE_NONE,      /* guest output discarded, no input */
};

struct ember_config {
	const char *kernel;      /* bzImage or ELF vmlinux */
	const char *initrd;      /* optional */
	const char *cmdline;     /* extra kernel command line from --cmdline */
	bool cmdline_replace;    /* --cmdline given: it replaces ember's defaults */
	uint64_t mem_bytes;
	unsigned cpus;
	bool boot_timer;         /* report the guest's boot-timer write */
	bool verbose;            /* show kernel messages */
	bool no_sandbox;         /* --no-sandbox: skip the syscall filter */
	bool cold;               /* --cold: boot, neither restore nor save a warm snapshot (vm/warm.h) */
	const char *snapshot_to; /* --snapshot-to DIR: `ember snapshot DIR` saves the running VM there */
	struct ember_disk disks[EMBER_MAX_DISKS];
	unsigned nr_disks;
	enum ember_console console;
	/*
	 * The guest runs ember's init: it takes the command over the command
	 * channel (vm/session.h) and says when its console is ready for stdin
	 * (EMBER_CONSOLE_READY_PORT); otherwise input flows as soon as the
	 * guest's driver opens the console.
	 */
	bool init_handshake;
	char *const *argv;       /* command for the guest init (after "--"), may be empty */
	const char **env;        /* --env K=V for the command (nr_env of them) */
	unsigned nr_env;
	const char *workdir;     /* --workdir: the command's working directory in the guest */
	bool has_user;           /* --user UID[:GID] */
	uint32_t uid, gid;
	bool interactive;        /* -i: ember's stdin is the command's */
	bool tty;                /* -t: the command gets a pseudo-terminal */
	unsigned timeout_s;      /* --timeout: stop the VM after this many seconds, 0 = never */
	unsigned stop_timeout_s; /* --stop-timeout: after a forwarded SIGTERM, stop the VM this much later */
	struct ember_share shares[EMBER_MAX_SHARES];
	unsigned nr_shares;
	struct ember_net nets[EMBER_MAX_NETS];
	unsigned nr_nets;
	const char *vsock_path;  /* --vsock PATH: virtio-vsock behind this Unix socket (Firecracker's convention) */
	uint32_t vsock_cid;      /* ",cid=N": the guest's context id (default 3) */
	const char *rootfs;      /* --rootfs: a directory (served over 9p) or an ext4 image */
	bool rootfs_is_dir;
	enum ember_own rootfs_own; /* a directory's: EMBER_OWN_MAPPED unless ",own=host" */
	int argc;
	struct timespec started_at; /* CLOCK_MONOTONIC at exec: the origin of every timing */
};

void config_defaults(struct ember_config *cfg);

/* "512M", "2G", "1048576", "64K": a byte count; rejects junk, zero and overflow. */
int config_parse_size(const char *text, uint64_t *bytes);

/* Whole-number parser for flags like --cpus: rejects junk and overflow. */
int config_parse_uint(const char *text, unsigned max, unsigned *value);

/* "PATH[,ro][,serial=ID]" from --disk; the path is kept, the string is modified in place. */
int config_parse_disk(char *spec, struct ember_disk *disk, struct ember_err *err);

/*
 * "HOSTDIR:GUESTDIR[:ro][,own=mapped|host]" from --share; modifies spec in
 * place.  Options start at the first ',' after the ':' (a host directory
 * may hold commas, the guest directory may not).
 */
int config_parse_share(char *spec, unsigned index, struct ember_share *share, struct ember_err *err);

/*
 * "tap=NAME|auto|bridge=BR|user" and its ",mac=", ",host=", ",guest="
 * options from --net; modifies spec in place (names point into it).
 */
int config_parse_net(char *spec, struct ember_net *net, struct ember_err *err);
/* The spec config_parse_net reads back (what a snapshot stores): length, or -E2BIG. */
int config_net_format(const struct ember_net *net, char *buf, size_t size);
/* The guest MAC of the index-th --net without ",mac=": QEMU's 52:54:00:12:34:56, plus index. */
void config_net_default_mac(unsigned index, uint8_t mac[6]);

/* --vsock PATH[,cid=N]: N in 3..2^32-2 (0-2 are reserved, -1 is "any"); path cut in place. */
int config_parse_vsock(char *spec, struct ember_config *cfg, struct ember_err *err);

/* "mapped" or "host" (the value of own=): 0 or -EINVAL. */
int config_parse_own(const char *text, enum ember_own *own);
/* The word config_parse_own reads back. */
const char *config_own_name(enum ember_own own);

/*
 * --rootfs PATH[,own=mapped|host]: a directory becomes the 9p share
 * "rootfs" (own=mapped unless it says host), an image file becomes the
 * first disk (/dev/vda); either way ember's init switches to it.  A
 * trailing ",own=..." is cut off path in place.
 */
int config_set_rootfs(struct ember_config *cfg, char *path, struct ember_err *err);

/* --env K=V: K non-empty, no '=' in K. */
int config_check_env(const char *kv);
/* --user UID[:GID]: decimal ids below 2^32 - 1; GID defaults to UID. */
int config_parse_user(const char *spec, uint32_t *uid, uint32_t *gid);

/*
 * What a snapshot needs to re-create the VM (vm/config_saved.c): memory,
 * vCPUs, console, channel, disks, shares, root file system, as text.
 * config_load fills cfg (after config_defaults) from such text, in place:
 * cfg's strings point into `text`, which must outlive it.
 */
int config_save(const struct ember_config *cfg, char *buf, size_t size, struct ember_err *err);
int config_load(struct ember_config *cfg, char *text, struct ember_err *err);

/* Cross-field checks and file existence; fills err with the flag at fault. */
int config_validate(const struct ember_config *cfg, struct ember_err *err);

#endif
