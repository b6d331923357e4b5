/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host end of the command channel (vm/channel_proto.h): one multiport
 * virtio-console (virtio/ports.h) whose ports are
 *   0 control  the request (command, arguments, environment, user, mounts,
 *              flags, wall-clock time) to the guest's init, signals and
 *              window sizes after it; HELLO and EXIT back;
 *   1 stdin    ember's stdin with -i, closed at its end of file (the
 *              command reads EOF) or at once without -i;
 *   2 stdout, 3 stderr  byte for byte to ember's stdout and stderr; the
 *              guest closing one (every writer gone) closes ember's.
 * With --console serial/virtio/none only the control port exists and the
 * command's stdio is the guest console.
 *
 * Everything but session_signal/session_host_resized runs on the device's I/O
 * thread under its lock (the back-end callbacks); those two only post an
 * event to that thread.  A guest that breaks the protocol gets its channel
 * closed and ember stops with 125 and one line.
 */
#ifndef EMBER_VM_SESSION_H
#define EMBER_VM_SESSION_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/devices.h"
#include "vm/channel_proto.h"
#include "vm/config.h"
#include "vm/error.h"

struct machine;

#define SESSION_STDIN_BUF (64u << 10)

/* How the guest's init came to be waiting on the other end. */
enum session_mode {
	SESSION_BOOT,            /* booted: send the request when init says HELLO */
	SESSION_CAPTURE,         /* booted, and HELLO is when the warm snapshot is taken:
				    hello_fd fires, the request waits for session_release() */
	SESSION_WARM,            /* restored from a snapshot taken at HELLO: the request
				    waits for session_release() */
	SESSION_RESUMED,         /* restored mid-command: nothing to send, stdin closed */
};

struct session {
	struct machine *machine;
	const struct ember_config *cfg;
	struct virtio_device *dev;   /* the ports device; the device list owns it */
	bool stdio_ports;            /* ports 1-3 carry stdin/stdout/stderr */
	enum session_mode mode;
	int hello_fd;                /* SESSION_CAPTURE: eventfd the orchestrator watches */
	bool released;               /* the request is queued (stdin may flow) */

	/* control port */
	struct channel_buf out;      /* host -> guest bytes not yet taken by the guest */
	size_t out_sent;
	struct channel_reader reader;
	bool hello;                  /* the guest's init opened the channel */
	bool exit_seen;
	int exit_status;
	bool broken;                 /* the guest broke the protocol: channel closed */
	atomic_bool running;         /* HELLO came and EXIT has not: signals go to the command */

	/* stdin port */
	int stdin_watch;             /* index of stdin among the device's watched fds, or -1 */
	bool stdin_done;
	size_t in_head, in_len;
	uint8_t in_buf[SESSION_STDIN_BUF];

	/* stdout/stderr */
	bool out_gone[2];            /* writes failed for good: drop further output */
	bool stdout_closing;         /* the guest closed its stdout: end ours after this batch */
	int devnull;                 /* dup'ed over stdout/stderr when the guest closes them */

	/* from other threads */
	int event_fd;                /* eventfd: session_signal/session_host_resized posted something */
	int event_watch;
	atomic_uint pending_signals; /* bit N: signal N to deliver */
	atomic_uint winsize;         /* rows << 16 | cols, 0 when unchanged */
	atomic_bool release_pending; /* session_release() was called */
};

/*
 * Builds the request from the configuration and adds the ports device to
 * the list.  On failure the caller still calls session_destroy().
 */
int session_create(struct session *s, struct virtio_devices *list, struct machine *m,
		   const struct ember_config *cfg, enum session_mode mode, struct ember_err *err);
/* Any thread: build and send the request now (SESSION_CAPTURE after its snapshot, SESSION_WARM). */
void session_release(struct session *s);
/*
 * With the device lock held (the VM paused): whether the channel is at a
 * point a snapshot can resume from; *why says what is in the way.
 */
bool session_can_snapshot(const struct session *s, const char **why);
/* Any thread: deliver signal `signo` to the guest command (queued until it runs). */
void session_signal(struct session *s, int signo);
/* Any thread: the host terminal's size changed (SIGWINCH): send its new size. */
void session_host_resized(struct session *s);
/* True once the guest's init said HELLO and until it reported the exit status. */
bool session_running(struct session *s);
/*
 * After the device threads stopped: says once if the guest stopped by
 * itself (exit code `code`) without ever opening the channel.
 */
void session_finish(struct session *s, int code);
void session_destroy(struct session *s);

#endif
