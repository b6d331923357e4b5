/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A file written so that a crash leaves either the old file or the whole
 * new one under its name, never half of it: written under a temporary
 * name in the same directory, fsync'ed, renamed over the name, and the
 * directory fsync'ed so that the rename survives a power cut too.
 */
#ifndef EMBER_VM_ATOMIC_FILE_H
#define EMBER_VM_ATOMIC_FILE_H

#include "vm/error.h"

struct atomic_file {
	int fd;                  /* write the contents here */
	const char *path;        /* the final name */
	char tmp[4096];          /* the temporary one: path.tmp.PID */
};

/* Creates the temporary file (mode 0600); the caller writes to f->fd. */
int atomic_file_open(struct atomic_file *f, const char *path, struct ember_err *err);
/* fsync, rename over the final name, fsync its directory; on failure the temporary file goes. */
int atomic_file_commit(struct atomic_file *f, struct ember_err *err);
/* Drops the temporary file (the final name keeps what it had). */
void atomic_file_abort(struct atomic_file *f);

#endif
