/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * ember-init's side of the command channel (vm/channel_proto.h): finding
 * the named virtio-console ports, reading the request, running the command
 * with pipes or a pseudo-terminal as its stdio, and relaying those and
 * the host's signals until it exits.
 */
#ifndef EMBER_ROOTFS_INIT_RELAY_H
#define EMBER_ROOTFS_INIT_RELAY_H

#include "vm/channel_proto.h"

#define STATUS_INIT_FAILED 125

/* The command's stdio as the relay sees it. */
struct relay {
	int control;            /* the control port */
	int in_port, out_port, err_port; /* stdio ports, -1 when absent (console mode, no -i) */
	uint32_t flags;         /* CHANNEL_FLAG_* */
	struct channel_reader reader;
	uint8_t *early;         /* bytes read after START with the request (a signal already) */
	size_t early_len;
};

/* Opens /dev/vportNpM whose name is `name`, waiting for it to appear; -1 if it never does. */
int relay_open_port(const char *name, int flags);
/* Sends one message on the control port; -1 on a write error. */
int relay_send_u32(struct relay *r, uint32_t type, uint32_t value);
/* Reads messages until START; 0, or -1 with a message on stderr. */
int relay_read_request(struct relay *r, struct channel_request *req);
/*
 * Forks the command (argv[0] found on PATH) with its stdio set up as the
 * flags say, relays until it exits and its output is drained, and returns
 * its status (128+N for signal N, 126/127 when it could not be run).
 * `become_user` runs in the child before exec.
 */
int relay_run(struct relay *r, const struct channel_request *req, char **argv,
	      int (*become_user)(const struct channel_request *req));

#endif
