/* SPDX-License-Identifier: GPL-2.0-only */
#include "rootfs/init_cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86/guest_abi.h"

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

long init_pct_decode(char *dst, const char *src)
{
	char *out = dst;

	while (*src) {
		if (*src != '%') {
			*out++ = *src++;
			continue;
		}
		/* hexval('\0') is -1, so a truncated "%A" at the end is caught too. */
		int hi = hexval(src[1]);
		int lo = hi < 0 ? -1 : hexval(src[2]);
		if (lo < 0 || (hi | lo) == 0)
			return -1;
		*out++ = (char)(hi << 4 | lo);
		src += 3;
	}
	*out = '\0';
	return out - dst;
}

/* Same set as the kernel's isspace() for the command line. */
static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

/* Appends s to a NULL-terminated vector; takes ownership of s. */
static int push(char ***vec, size_t *n, char *s)
{
	char **v = realloc(*vec, (*n + 2) * sizeof(**vec));
	if (!v)
		return -1;
	v[(*n)++] = s;
	v[*n] = NULL;
	*vec = v;
	return 0;
}

/* "UID" or "UID:GID", decimal, each below 2^32 - 1 (-1 is "no change" to setuid). */
static int parse_user(const char *s, unsigned *uid, unsigned *gid)
{
	unsigned long long v[2] = { 0, 0 };
	int n = 0;

	for (;;) {
		if (*s < '0' || *s > '9')
			return -1;
		while (*s >= '0' && *s <= '9') {
			v[n] = v[n] * 10 + (unsigned)(*s++ - '0');
			if (v[n] >= 0xffffffffULL)
				return -1;
		}
		n++;
		if (*s == '\0')
			break;
		if (*s != ':' || n == 2)
			return -1;
		s++;
	}
	*uid = (unsigned)v[0];
	*gid = (unsigned)(n == 2 ? v[1] : v[0]);
	return 0;
}

/* Handles one unquoted token; returns 0 or -1 with c->error set. */
static int take_token(struct init_cmdline *c, const char *tok)
{
	static const char *const keys[] = {
		EMBER_CMDLINE_ARG, EMBER_CMDLINE_ENV, EMBER_CMDLINE_WORKDIR, EMBER_CMDLINE_TTY,
		EMBER_CMDLINE_USER, EMBER_CMDLINE_MOUNT, EMBER_CMDLINE_STDIO, EMBER_CMDLINE_ROOT,
	};
	size_t k, klen = 0;

	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		klen = strlen(keys[k]);
		if (strncmp(tok, keys[k], klen) == 0)
			break;
	}
	if (k == sizeof(keys) / sizeof(keys[0]))
		return 0; /* a kernel parameter, or someone else's */

	const char *raw = tok + klen;
	char *val = malloc(strlen(raw) + 1);
	if (!val) {
		snprintf(c->error, sizeof(c->error), "out of memory");
		return -1;
	}
	if (init_pct_decode(val, raw) < 0) {
		snprintf(c->error, sizeof(c->error), "malformed %%-escape in %.100s", tok);
		free(val);
		return -1;
	}

	switch (k) {
	case 0: /* ember.arg: empty is a legal argv element */
		if (push(&c->argv, &c->argc, val) < 0)
			break;
		return 0;
	case 1: /* ember.env: must be K=V with a non-empty K */
		if (val[0] == '=' || !strchr(val, '=')) {
			snprintf(c->error, sizeof(c->error), "%.100s: not K=V", tok);
			free(val);
			return -1;
		}
		if (push(&c->env, &c->envc, val) < 0)
			break;
		return 0;
	case 2: /* ember.workdir: last one wins, empty means "not given" */
		free(c->workdir);
		c->workdir = NULL;
		if (val[0])
			c->workdir = val;
		else
			free(val);
		return 0;
	case 3: /* ember.tty */
		c->tty = strcmp(val, "1") == 0;
		free(val);
		return 0;
	case 7: /* ember.root: "9p:TAG" or "ext4:/dev/..." */
		if (strncmp(val, "9p:", 3) && strncmp(val, "ext4:/dev/", 10)) {
			snprintf(c->error, sizeof(c->error), "%.100s: not 9p:TAG or ext4:/dev/NAME", tok);
			free(val);
			return -1;
		}
		free(c->root);
		c->root = val;
		return 0;
	case 6: /* ember.stdio */
		c->split = strcmp(val, "split") == 0;
		free(val);
		return 0;
	case 5: { /* ember.mount: TAG:MODE:DIR, checked now so that init fails early */
		char *copy = strdup(val);
		const char *tag, *dir;
		bool ro;
		int bad = !copy || init_mount_split(copy, &tag, &ro, &dir) < 0;
		free(copy);
		if (bad) {
			snprintf(c->error, sizeof(c->error), "%.100s: not TAG:rw|ro:/DIR", tok);
			free(val);
			return -1;
		}
		if (push(&c->mounts, &c->nmounts, val) < 0)
			break;
		return 0;
	}
	default: /* ember.user: UID or UID:GID, numeric (the guest may have no passwd) */
		if (parse_user(val, &c->uid, &c->gid) < 0) {
			snprintf(c->error, sizeof(c->error), "%.100s: not UID[:GID]", tok);
			free(val);
			return -1;
		}
		c->has_user = true;
		free(val);
		return 0;
	}
	free(val);
	snprintf(c->error, sizeof(c->error), "out of memory");
	return -1;
}

int init_cmdline_parse(struct init_cmdline *c, const char *cmdline)
{
	memset(c, 0, sizeof(*c));
	/* Empty vectors are NULL-terminated too, so callers never test for NULL. */
	c->argv = calloc(1, sizeof(*c->argv));
	c->env = calloc(1, sizeof(*c->env));
	c->mounts = calloc(1, sizeof(*c->mounts));
	char *buf = strdup(cmdline);
	if (!c->argv || !c->env || !c->mounts || !buf) {
		free(buf);
		snprintf(c->error, sizeof(c->error), "out of memory");
		return -1;
	}

	/*
	 * Split in place like the kernel's next_arg(): white space ends a
	 * token unless inside double quotes, and the quotes themselves are
	 * dropped ("ember.arg=a" and ember.arg="a" both give a).  Values are
	 * percent-encoded, so a literal quote or space is never data here.
	 * The write pointer w never passes the read pointer r.
	 */
	char *r = buf, *w;
	int ret = 0;
	while (ret == 0) {
		while (is_space(*r))
			r++;
		if (!*r)
			break;
		char *tok = w = r;
		bool quoted = false;
		while (*r && (quoted || !is_space(*r))) {
			if (*r == '"')
				quoted = !quoted;
			else
				*w++ = *r;
			r++;
		}
		char end = *r;
		*w = '\0'; /* may overwrite *r (saved in end) when no quote was removed */
		ret = take_token(c, tok);
		if (end)
			r++;
	}
	free(buf);
	return ret;
}

void init_cmdline_free(struct init_cmdline *c)
{
	for (size_t i = 0; i < c->argc; i++)
		free(c->argv[i]);
	for (size_t i = 0; i < c->envc; i++)
		free(c->env[i]);
	for (size_t i = 0; i < c->nmounts; i++)
		free(c->mounts[i]);
	free(c->argv);
	free(c->env);
	free(c->mounts);
	c->mounts = NULL;
	c->nmounts = 0;
	free(c->workdir);
	free(c->root);
	c->root = NULL;
	c->argv = c->env = NULL;
	c->workdir = NULL;
	c->argc = c->envc = 0;
}

int init_mount_split(char *value, const char **tag, bool *read_only, const char **dir)
{
	char *mode = strchr(value, ':');
	if (!mode || mode == value)
		return -1;
	*mode++ = '\0';
	char *path = strchr(mode, ':');
	if (!path)
		return -1;
	*path++ = '\0';
	if (strcmp(mode, "rw") && strcmp(mode, "ro"))
		return -1;
	if (path[0] != '/')
		return -1;
	*tag = value;
	*read_only = !strcmp(mode, "ro");
	*dir = path;
	return 0;
}
