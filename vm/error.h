/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Error reporting without global state: a fallible function takes a
 * struct ember_err, fills it with one human sentence and returns -errno.
 * Only main.c prints it (as "ember: <msg>") and chooses the exit code.
 */
#ifndef EMBER_VM_ERROR_H
#define EMBER_VM_ERROR_H

#include <stddef.h>

struct ember_err {
	char msg[512];
};

/* Formats into err (if non-NULL) and returns -errnum (errnum > 0). */
int ember_fail(struct ember_err *err, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
