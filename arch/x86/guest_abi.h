/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The contract between ember and the code that runs inside its guests
 * (rootfs/init.c, tests/guests/). Everything here is x86-specific.
 */
#ifndef EMBER_ARCH_X86_GUEST_ABI_H
#define EMBER_ARCH_X86_GUEST_ABI_H

/*
 * Exit-status port: a byte written here ends the VM and becomes ember's
 * exit code (for guests without the command channel, and ember's init's
 * fallback).  Chosen to match QEMU's isa-debug-exit default port so that
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
 * The command itself does not travel on the kernel command line: ember's
 * init finds `ember.channel=1` there and takes everything else over the
 * command channel (vm/channel_proto.h), which is arch-neutral.
 */

#endif
