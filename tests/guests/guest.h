/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Helpers for the tiny freestanding test guests (tests/guests/NAME.c).
 *
 * Each guest is linked with start.S and lib.c and runs as the whole
 * "kernel" of a microVM: ember enters it in 64-bit long mode at 1 MiB with
 * the first 4 GiB identity mapped, interrupts off and no IDT, RSI pointing
 * at the Linux zero page (the full entry contract is in start.S).
 * Guest ring-0 code is interpreted on kvm_pvm hosts (~1M instructions/s),
 * so everything here is deliberately small and loop-free where it can be.
 */
#ifndef EMBER_TESTS_GUEST_H
#define EMBER_TESTS_GUEST_H

#include <stddef.h>
#include <stdint.h>

#include "arch/x86/guest_abi.h"

/* Linux boot protocol, Documentation/arch/x86/zero-page.rst */
#define BP_CMD_LINE_PTR 0x228 /* u32: guest-physical address of the cmdline */

/* 8250 registers, offsets from EMBER_UART_PORT (include/uapi/linux/serial_reg.h) */
#define UART_RX  0 /* receive buffer (read, DLAB=0) */
#define UART_TX  0 /* transmit holding register (write, DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1 /* interrupt enable (DLAB=0) */
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* interrupt identification (read) */
#define UART_FCR 2 /* FIFO control (write) */
#define UART_LCR 3 /* line control; bit 7 = DLAB */
#define UART_MCR 4 /* modem control */
#define UART_LSR 5 /* line status */
#define UART_MSR 6 /* modem status */
#define UART_SCR 7 /* scratch */

#define UART_LCR_DLAB   0x80
#define UART_LSR_THRE   0x20 /* transmit holding register empty */
#define UART_LSR_TEMT   0x40 /* transmitter empty */
#define UART_IIR_NO_INT 0x01
#define UART_IIR_FIFO   0xc0 /* both bits set: 16550A FIFOs enabled */
#define UART_FCR_ENABLE_FIFO 0x01

static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* lib.c */
void uart_putc(char c);
void uart_puts(const char *s);
void uart_put_uint(uint64_t v);          /* decimal */
void uart_put_hex(uint64_t v);           /* "0x" + lowercase hex, no padding */
char *utoa(uint64_t v, char *buf);       /* buf >= 21 bytes; returns buf */
const char *guest_cmdline(const void *boot_params); /* "" when there is none */
/* Value of `key` (e.g. "status=") as a whole word in cmdline, or NULL. */
const char *cmdline_find(const char *cmdline, const char *key);
int parse_uint(const char *s, uint64_t *out); /* decimal; 0 ok, -1 no digits */
/* Write `msg` (may be NULL) to the UART and end the VM with `status`. */
__attribute__((noreturn)) void fail(int status, const char *msg);
/* Ends the VM through EMBER_EXIT_PORT; triple-faults if that returns. */
__attribute__((noreturn)) void exit_with(int status);
/* lidt a zero-limit IDT and raise #UD: the CPU shuts down (triple fault). */
__attribute__((noreturn)) void triple_fault(void);

void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

/* Each guest implements this; its return value is the VM's exit status. */
int guest_main(const void *boot_params);

#endif
