/* SPDX-License-Identifier: GPL-2.0-only */
/* Building the guest kernel command line, with overflow checks. */
#ifndef EMBER_BOOT_CMDLINE_H
#define EMBER_BOOT_CMDLINE_H

#include <stddef.h>

struct cmdline {
	char *buf;
	size_t size; /* capacity including the NUL */
	size_t len;
};

void cmdline_init(struct cmdline *cl, char *buf, size_t size);

/* Appends words separated by one space; -E2BIG when it would not fit. */
int cmdline_append(struct cmdline *cl, const char *words);

#endif
