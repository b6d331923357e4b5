// SPDX-License-Identifier: GPL-2.0-only
#include "vm/config.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void config_defaults(struct ember_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->mem_bytes = EMBER_DEFAULT_MEM;
	cfg->cpus = 1;
	cfg->stop_timeout_s = 10; /* docker stop's default */
}

int config_parse_size(const char *text, uint64_t *bytes)
{
	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long long n = strtoull(text, &end, 10);
	if (errno)
		return -EINVAL;

	unsigned shift = 0;
	switch (toupper((unsigned char)*end)) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return -EINVAL;
	}
	/* Accept "512M", "512MB", "512MiB". */
	if (shift && (!strcmp(end, "B") || !strcmp(end, "iB") || !strcmp(end, "b")))
		end += strlen(end);
	if (*end)
		return -EINVAL;
	if (n == 0 || (shift && n > (UINT64_MAX >> shift)))
		return -EINVAL;
	*bytes = (uint64_t)n << shift;
	return 0;
}

int config_parse_uint(const char *text, unsigned max, unsigned *value)
{
	if (!text || !isdigit((unsigned char)text[0]))
		return -EINVAL;
	errno = 0;
	char *end;
	unsigned long n = strtoul(text, &end, 10);
	if (errno || *end || n > max)
		return -EINVAL;
	*value = (unsigned)n;
	return 0;
}

int config_parse_disk(char *spec, struct ember_disk *disk, struct ember_err *err)
{
	memset(disk, 0, sizeof(*disk));
	char *opts = strchr(spec, ',');
	if (opts)
		*opts++ = '\0';
	if (!*spec)
		return ember_fail(err, EINVAL, "--disk: missing image path (use --disk PATH[,ro][,serial=ID])");
	disk->path = spec;
	while (opts && *opts) {
		char *next = strchr(opts, ',');
		if (next)
			*next++ = '\0';
		if (!strcmp(opts, "ro")) {
			disk->read_only = true;
		} else if (!strncmp(opts, "serial=", 7)) {
			disk->serial = opts + 7;
			if (strlen(disk->serial) > 20)
				return ember_fail(err, EINVAL, "--disk %s: serial '%s' is longer than 20 bytes",
						  spec, disk->serial);
		} else {
			return ember_fail(err, EINVAL, "--disk %s: unknown option '%s' (use ro or serial=ID)",
					  spec, opts);
		}
		opts = next;
	}
	return 0;
}

int config_parse_own(const char *text, enum ember_own *own)
{
	if (!strcmp(text, "mapped"))
		*own = EMBER_OWN_MAPPED;
	else if (!strcmp(text, "host"))
		*own = EMBER_OWN_HOST;
	else
		return -EINVAL;
	return 0;
}

const char *config_own_name(enum ember_own own)
{
	return own == EMBER_OWN_MAPPED ? "mapped" : "host";
}

/* One ",own=..." option of --share or --rootfs (`what` and `arg` name the flag in messages). */
static int parse_own_option(const char *what, const char *arg, const char *opt,
			    enum ember_own *own, struct ember_err *err)
{
	if (strncmp(opt, "own=", 4))
		return ember_fail(err, EINVAL, "%s %s: unknown option '%s' (use own=mapped or own=host)",
				  what, arg, opt);
	if (config_parse_own(opt + 4, own))
		return ember_fail(err, EINVAL,
				  "%s %s: own='%s': use own=mapped (the guest's owners and modes, kept in extended attributes) or own=host (files belong to the user running ember)",
				  what, arg, opt + 4);
	return 0;
}

int config_parse_share(char *spec, unsigned index, struct ember_share *share, struct ember_err *err)
{
	memset(share, 0, sizeof(*share));
	char *sep = strchr(spec, ':');
	char *opts = sep ? strchr(sep, ',') : NULL;
	if (opts) {
		*opts++ = '\0';
		while (opts) {
			char *next = strchr(opts, ',');
			if (next)
				*next++ = '\0';
			int rc = parse_own_option("--share", spec, opts, &share->own, err);
			if (rc)
				return rc;
			opts = next;
		}
	}
	size_t len = strlen(spec);
	if (len > 3 && !strcmp(spec + len - 3, ":ro")) {
		share->read_only = true;
		spec[len - 3] = '\0';
	} else if (len > 3 && !strcmp(spec + len - 3, ":rw")) {
		spec[len - 3] = '\0';
	}
	char *colon = strchr(spec, ':');
	if (!colon || colon == spec || colon[1] != '/')
		return ember_fail(err, EINVAL,
				  "--share %s: use HOSTDIR:GUESTDIR[:ro][,own=mapped|host] with an absolute GUESTDIR",
				  spec);
	*colon = '\0';
	share->host_dir = spec;
	share->guest_dir = colon + 1;
	snprintf(share->tag, sizeof(share->tag), "share%u", index);
	struct stat st;
	if (stat(share->host_dir, &st) < 0)
		return ember_fail(err, errno, "--share %s: %s", share->host_dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return ember_fail(err, ENOTDIR, "--share %s: not a directory", share->host_dir);
	return 0;
}

int config_set_rootfs(struct ember_config *cfg, char *path, struct ember_err *err)
{
	struct stat st;
	enum ember_own own = EMBER_OWN_MAPPED;
	bool own_given = false;
	char *opt = strrchr(path, ',');
	if (opt && !strncmp(opt, ",own=", 5)) {
		*opt++ = '\0';
		int rc = parse_own_option("--rootfs", path, opt, &own, err);
		if (rc)
			return rc;
		own_given = true;
	}
	if (stat(path, &st) < 0)
		return ember_fail(err, errno, "--rootfs %s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		cfg->rootfs = path;
		cfg->rootfs_is_dir = true;
		cfg->rootfs_own = own;
		return 0;
	}
	if (own_given)
		return ember_fail(err, EINVAL, "--rootfs %s: own= is for a directory, not an image", path);
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		return ember_fail(err, EINVAL, "--rootfs %s: not a directory or an image file", path);
	if (cfg->nr_disks == EMBER_MAX_DISKS)
		return ember_fail(err, ENOSPC, "--rootfs %s: no disk slot left", path);
	/* The root image must be vda: put it before any --disk. */
	memmove(&cfg->disks[1], &cfg->disks[0], cfg->nr_disks * sizeof(cfg->disks[0]));
	cfg->disks[0] = (struct ember_disk){ .path = path };
	cfg->nr_disks++;
	cfg->rootfs = path;
	cfg->rootfs_is_dir = false;
	return 0;
}

int config_check_env(const char *kv)
{
	const char *eq = strchr(kv, '=');
	return eq && eq != kv ? 0 : -EINVAL;
}

static int parse_id(const char **s, uint32_t *id)
{
	if (!isdigit((unsigned char)**s))
		return -EINVAL;
	unsigned long long v = 0;
	while (isdigit((unsigned char)**s)) {
		v = v * 10 + (unsigned)(*(*s)++ - '0');
		if (v >= 0xffffffffULL) /* (uid_t)-1 means "no change" to setuid() */
			return -EINVAL;
	}
	*id = (uint32_t)v;
	return 0;
}

int config_parse_user(const char *spec, uint32_t *uid, uint32_t *gid)
{
	if (parse_id(&spec, uid))
		return -EINVAL;
	*gid = *uid;
	if (*spec == ':') {
		spec++;
		if (parse_id(&spec, gid))
			return -EINVAL;
	}
	return *spec ? -EINVAL : 0;
}

static int check_readable_file(const char *flag, const char *path, struct ember_err *err)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return ember_fail(err, errno, "%s %s: %s", flag, path, strerror(errno));
	int rc = fstat(fd, &st);
	int saved = errno;
	close(fd);
	if (rc < 0)
		return ember_fail(err, saved, "%s %s: %s", flag, path, strerror(saved));
	if (!S_ISREG(st.st_mode))
		return ember_fail(err, EINVAL, "%s %s: not a regular file", flag, path);
	if (st.st_size == 0)
		return ember_fail(err, EINVAL, "%s %s: file is empty", flag, path);
	return 0;
}

int config_validate(const struct ember_config *cfg, struct ember_err *err)
{
	if (!cfg->kernel)
		return ember_fail(err, EINVAL,
				  "no kernel: pass --kernel PATH or build the default guest with 'make guest'");
	int rc = check_readable_file("--kernel", cfg->kernel, err);
	if (rc)
		return rc;
	if (cfg->initrd && (rc = check_readable_file("--initrd", cfg->initrd, err)))
		return rc;
	if (cfg->cpus == 0 || cfg->cpus > EMBER_MAX_CPUS)
		return ember_fail(err, EINVAL, "--cpus %u: must be between 1 and %d", cfg->cpus,
				  EMBER_MAX_CPUS);
	if (cfg->mem_bytes < EMBER_MIN_MEM || cfg->mem_bytes > EMBER_MAX_MEM)
		return ember_fail(err, EINVAL, "--mem: %llu bytes is outside 16M..1T",
				  (unsigned long long)cfg->mem_bytes);
	if (cfg->mem_bytes & 0xfff)
		return ember_fail(err, EINVAL, "--mem: must be a multiple of 4K");
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct ember_disk *d = &cfg->disks[i];
		int fd = open(d->path, (d->read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
		if (fd < 0)
			return ember_fail(err, errno, "--disk %s: %s%s", d->path, strerror(errno),
					  errno == EACCES || errno == EROFS ? " (add ,ro for a read-only disk)" : "");
		struct stat st;
		int st_rc = fstat(fd, &st);
		close(fd);
		if (st_rc < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode)))
			return ember_fail(err, EINVAL, "--disk %s: not a regular file or block device", d->path);
	}
	if (cfg->cmdline && strlen(cfg->cmdline) >= EMBER_CMDLINE_MAX)
		return ember_fail(err, E2BIG, "--cmdline: %zu bytes, the kernel takes at most %d",
				  strlen(cfg->cmdline), EMBER_CMDLINE_MAX - 1);
	return 0;
}
