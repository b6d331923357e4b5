/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between ember and the code that runs inside its guests
 * (rootfs/init.c, tests/guests/). Everything here is x86-specific.
 */
#ifndef EMBER_ARCH_X86_GUEST_ABI_H
#define EMBER_ARCH_X86_GUEST_ABI_H

/*
 * Exit-status port: a byte written here ends the VM and becomes ember's
 * exit code.  Chosen to match QEMU's isa-debug-exit default port so that
 * guests written for either need no change of address (QEMU shifts the
 * value, we do not).
 */
#define EMBER_EXIT_PORT 0x501

/*
 * Console-ready port: ember's init writes any byte here once it has set up
 * the console for the command.  Until then ember holds back the host's
 * stdin, which would otherwise reach a tty that still echoes, or be eaten
 * by the 8250 driver's flushing reads when the port opens.
 */
#define EMBER_CONSOLE_READY_PORT 0x502

/*
 * Boot-timer device, compatible with Firecracker's: the guest writes the
 * byte 123 at this guest-physical address once its init starts; ember
 * records the time since its own exec (reported with --boot-timer).
 */
#define EMBER_BOOT_TIMER_GPA   0xc0000000ULL
#define EMBER_BOOT_TIMER_MAGIC 123

/* 8250 UART used as the console: COM1. */
#define EMBER_UART_PORT 0x3f8
#define EMBER_UART_IRQ  4

/*
 * Command-line keys read by rootfs/init.c from /proc/cmdline.  Values are
 * percent-encoded (every byte outside [A-Za-z0-9/_.,:+=-] becomes %XX) so
 * that spaces, quotes and newlines survive the kernel's command-line
 * parser.  The kernel ignores unknown dotted parameters, so none of these
 * leak into init's environment.
 *   ember.arg=V     one argv element, in order (repeatable)
 *   ember.env=K=V   one environment variable (repeatable)
 *   ember.workdir=D working directory for the command
 *   ember.tty=1     host stdin is a terminal: keep the guest tty cooked
 *   ember.user=U:G  run the command as numeric user U and group G
 *   ember.mount=TAG:MODE:DIR  mount virtio-9p tag TAG on DIR, MODE rw or ro
 *   ember.stdio=split  the command's stdin/stdout are /dev/hvc0, its stderr /dev/hvc1
 *   ember.root=9p:TAG | ember.root=ext4:/dev/vdX  switch to this root file system
 *                   before running the command (--rootfs)
 */
#define EMBER_CMDLINE_ARG     "ember.arg="
#define EMBER_CMDLINE_ENV     "ember.env="
#define EMBER_CMDLINE_WORKDIR "ember.workdir="
#define EMBER_CMDLINE_TTY     "ember.tty="
#define EMBER_CMDLINE_USER    "ember.user="
#define EMBER_CMDLINE_MOUNT   "ember.mount="
#define EMBER_CMDLINE_STDIO   "ember.stdio="
#define EMBER_CMDLINE_ROOT    "ember.root="

#endif
