// SPDX-License-Identifier: GPL-2.0-only
/*
 * The part of a configuration a snapshot needs to re-create its VM
 * (`ember restore`): memory, vCPUs, console, the command channel, disks,
 * shares, networks and root file system, as tab-separated lines.  Read back from a
 * file that may be damaged: every line and number is checked.
 *
 * A share or a directory root file system whose ownership model is not
 * own=host carries it as one more field at the end ("mapped"); lines
 * without it (all lines before the field existed) mean own=host, as
 * every share was then.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vm/config.h"

/* Paths are stored whole on a line: a tab or newline in one cannot be. */
static bool storable(const char *s)
{
	return !s || !strpbrk(s, "\t\n");
}

static int add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return -1;
	*len += (size_t)n;
	return 0;
}

/* Ends a share or rootfs line: "\tmapped" for a model other than own=host. */
static int own_field(char *buf, size_t size, size_t *len, enum ember_own own)
{
	return own == EMBER_OWN_HOST ? add(buf, size, len, "\n") :
				       add(buf, size, len, "\t%s\n", config_own_name(own));
}

int config_save(const struct ember_config *cfg, char *buf, size_t size, struct ember_err *err)
{
	size_t len = 0;
	int rc = 0;

	buf[0] = '\0';
	rc |= add(buf, size, &len, "mem\t%llu\ncpus\t%u\nconsole\t%d\nchannel\t%d\nverbose\t%d\n",
		  (unsigned long long)cfg->mem_bytes, cfg->cpus, (int)cfg->console,
		  cfg->init_handshake, cfg->verbose);
	for (unsigned i = 0; i < cfg->nr_disks; i++) {
		const struct ember_disk *d = &cfg->disks[i];
		if (!storable(d->path) || !storable(d->serial))
			return ember_fail(err, EINVAL, "snapshot: disk %s: a tab or newline in its name", d->path);
		rc |= add(buf, size, &len, "disk\t%d\t%s\t%s\n", d->read_only,
			  d->serial ? d->serial : "", d->path);
	}
	for (unsigned i = 0; i < cfg->nr_shares; i++) {
		const struct ember_share *s = &cfg->shares[i];
		if (!storable(s->host_dir) || !storable(s->guest_dir))
			return ember_fail(err, EINVAL, "snapshot: share %s: a tab or newline in its name", s->host_dir);
		rc |= add(buf, size, &len, "share\t%d\t%s\t%s\t%s", s->read_only, s->tag, s->guest_dir,
			  s->host_dir);
		rc |= own_field(buf, size, &len, s->own);
	}
	for (unsigned i = 0; i < cfg->nr_nets; i++) {
		char spec[128];
		if (config_net_format(&cfg->nets[i], spec, sizeof(spec)) < 0)
			return ember_fail(err, E2BIG, "snapshot: --net %u: too long to save", i);
		rc |= add(buf, size, &len, "net\t%s\n", spec);
	}
	if (cfg->vsock_path) {
		if (!storable(cfg->vsock_path))
			return ember_fail(err, EINVAL, "snapshot: --vsock %s: a tab or newline in its name", cfg->vsock_path);
		rc |= add(buf, size, &len, "vsock\t%u\t%s\n", cfg->vsock_cid, cfg->vsock_path);
	}
	if (cfg->rootfs) {
		if (!storable(cfg->rootfs))
			return ember_fail(err, EINVAL, "snapshot: --rootfs %s: a tab or newline in its name", cfg->rootfs);
		rc |= add(buf, size, &len, "rootfs\t%d\t%s", cfg->rootfs_is_dir, cfg->rootfs);
		rc |= own_field(buf, size, &len, cfg->rootfs_is_dir ? cfg->rootfs_own : EMBER_OWN_HOST);
	}
	return rc ? ember_fail(err, E2BIG, "snapshot: the configuration is too long to save") : 0;
}

/* Splits line at tabs into at most max fields; returns how many. */
static unsigned split(char *line, char **field, unsigned max)
{
	unsigned n = 0;
	while (n < max) {
		field[n++] = line;
		char *tab = strchr(line, '\t');
		if (!tab)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return n;
}

static bool flag(const char *s, bool *out)
{
	if (strcmp(s, "0") && strcmp(s, "1"))
		return false;
	*out = s[0] == '1';
	return true;
}

int config_load(struct ember_config *cfg, char *text, struct ember_err *err)
{
	unsigned lineno = 0, console = 0;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[7];
		unsigned n = split(line, f, 7);
		bool ok = false;
		lineno++;
		if (!strcmp(f[0], "mem") && n == 2) {
			ok = config_parse_size(f[1], &cfg->mem_bytes) == 0;
		} else if (!strcmp(f[0], "cpus") && n == 2) {
			ok = config_parse_uint(f[1], EMBER_MAX_CPUS, &cfg->cpus) == 0 && cfg->cpus > 0;
		} else if (!strcmp(f[0], "console") && n == 2) {
			ok = config_parse_uint(f[1], EMBER_CONSOLE_NONE, &console) == 0;
			cfg->console = (enum ember_console)console;
		} else if (!strcmp(f[0], "channel") && n == 2) {
			ok = flag(f[1], &cfg->init_handshake);
		} else if (!strcmp(f[0], "verbose") && n == 2) {
			ok = flag(f[1], &cfg->verbose);
		} else if (!strcmp(f[0], "disk") && n == 4 && cfg->nr_disks < EMBER_MAX_DISKS) {
			struct ember_disk *d = &cfg->disks[cfg->nr_disks++];
			ok = flag(f[1], &d->read_only) && f[3][0];
			d->serial = f[2][0] ? f[2] : NULL;
			d->path = f[3];
		} else if (!strcmp(f[0], "share") && (n == 5 || n == 6) &&
			   cfg->nr_shares < EMBER_MAX_SHARES) {
			struct ember_share *s = &cfg->shares[cfg->nr_shares++];
			ok = flag(f[1], &s->read_only) && strlen(f[2]) < sizeof(s->tag) && f[3][0] == '/' &&
			     f[4][0] && (n == 5 || config_parse_own(f[5], &s->own) == 0);
			snprintf(s->tag, sizeof(s->tag), "%s", f[2]);
			s->guest_dir = f[3];
			s->host_dir = f[4];
		} else if (!strcmp(f[0], "net") && n == 2 && cfg->nr_nets < EMBER_MAX_NETS) {
			struct ember_err ignored;
			ok = config_parse_net(f[1], &cfg->nets[cfg->nr_nets++], &ignored) == 0;
		} else if (!strcmp(f[0], "vsock") && n == 3) {
			unsigned cid = 0;
			ok = config_parse_uint(f[1], 0xfffffffeu, &cid) == 0 && cid >= 3 && f[2][0];
			cfg->vsock_cid = cid;
			cfg->vsock_path = f[2];
		} else if (!strcmp(f[0], "rootfs") && (n == 3 || n == 4)) {
			ok = flag(f[1], &cfg->rootfs_is_dir) && f[2][0] &&
			     (n == 3 || (cfg->rootfs_is_dir && config_parse_own(f[3], &cfg->rootfs_own) == 0));
			cfg->rootfs = f[2];
		}
		if (!ok)
			return ember_fail(err, EINVAL, "snapshot: its configuration is damaged (line %u, \"%s\")",
					  lineno, f[0]);
	}
	if (cfg->mem_bytes < EMBER_MIN_MEM || cfg->mem_bytes > EMBER_MAX_MEM || (cfg->mem_bytes & 0xfff))
		return ember_fail(err, EINVAL, "snapshot: its configuration has no usable memory size");
	return 0;
}
