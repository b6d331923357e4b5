/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Decoding of the ember.* keys on the guest kernel command line (see
 * arch/x86/guest_abi.h for the contract).  Kept apart from init.c so that
 * a host-side unit test can exercise it.
 */
#ifndef EMBER_ROOTFS_INIT_CMDLINE_H
#define EMBER_ROOTFS_INIT_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

struct init_cmdline {
	char **argv;     /* ember.arg values in order, NULL-terminated (never NULL itself) */
	size_t argc;
	char **env;      /* ember.env values ("K=V"), in order, NULL-terminated */
	size_t envc;
	char *workdir;   /* last non-empty ember.workdir, or NULL */
	bool tty;        /* last ember.tty was "1" */
	bool split;      /* ember.stdio=split: stdin/stdout on hvc0, stderr on hvc1 */
	char *root;      /* ember.root: "9p:TAG" or "ext4:/dev/vdX", or NULL */
	char **mounts;   /* ember.mount values "TAG:MODE:DIR", NULL-terminated */
	size_t nmounts;
	bool has_user;   /* ember.user given: run the command as uid:gid */
	unsigned uid, gid;
	char error[160]; /* why init_cmdline_parse() failed */
};

/*
 * Decodes percent escapes in src into dst (room for strlen(src) + 1 bytes
 * is always enough).  Other bytes pass through unchanged, so a hand-written
 * "ember.arg=ls" works too.  Returns the decoded length, or -1 if an escape
 * is malformed (not two hex digits) or is %00, which no argv or environment
 * string can hold.
 */
long init_pct_decode(char *dst, const char *src);

/*
 * Parses a whole command line as the kernel shows it in /proc/cmdline:
 * tokens separated by white space, double quotes group (and are removed),
 * as in the kernel's own parser.  Keys other than ember.* are ignored.
 * Returns 0, or -1 with c->error set (malformed value, or out of memory).
 * Call init_cmdline_free() either way.
 */
int init_cmdline_parse(struct init_cmdline *c, const char *cmdline);
void init_cmdline_free(struct init_cmdline *c);

/* Splits an ember.mount value in place into tag, read-only flag and directory. */
int init_mount_split(char *value, const char **tag, bool *read_only, const char **dir);

#endif
