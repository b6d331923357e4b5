// SPDX-License-Identifier: GPL-2.0-only
/*
 * The 8250 register model that Linux's early console and serial8250 driver
 * rely on (drivers/tty/serial/8250/8250_port.c: autoconfig()).  Each check
 * names itself on failure; the guest then exits 1.
 */
#include "guest.h"

#define PORT EMBER_UART_PORT

static void check(const char *what, uint8_t got, uint8_t want)
{
	if (got == want)
		return;
	/* The UART may be in a strange state: make sure THR is reachable. */
	outb(PORT + UART_LCR, 0x03);
	uart_puts("uart_probe: ");
	uart_puts(what);
	uart_puts(": got ");
	uart_put_hex(got);
	uart_puts(", want ");
	uart_put_hex(want);
	fail(1, "\n");
}

int guest_main(const void *boot_params)
{
	(void)boot_params;

	/* Transmitter idle: THRE and TEMT, what polling printk waits for. */
	check("LSR THRE|TEMT", inb(PORT + UART_LSR) & 0x60, 0x60);

	/* Scratch register round-trips (autoconfig probes it). */
	outb(PORT + UART_SCR, 0xa5);
	check("SCR 0xa5", inb(PORT + UART_SCR), 0xa5);
	outb(PORT + UART_SCR, 0x5a);
	check("SCR 0x5a", inb(PORT + UART_SCR), 0x5a);

	/* IER holds its low nibble (autoconfig writes 0 then 0x0f). */
	outb(PORT + UART_IER, 0x00);
	check("IER 0x00", inb(PORT + UART_IER) & 0x0f, 0x00);
	outb(PORT + UART_IER, 0x0f);
	check("IER 0x0f", inb(PORT + UART_IER) & 0x0f, 0x0f);
	outb(PORT + UART_IER, 0x00);

	/* LCR.DLAB switches offsets 0 and 1 to the divisor latch. */
	outb(PORT + UART_LCR, UART_LCR_DLAB | 0x03);
	check("LCR with DLAB", inb(PORT + UART_LCR), UART_LCR_DLAB | 0x03);
	outb(PORT + UART_DLL, 0x34);
	outb(PORT + UART_DLM, 0x12);
	{
		uint8_t dll = inb(PORT + UART_DLL), dlm = inb(PORT + UART_DLM);

		outb(PORT + UART_DLL, 0x01); /* 115200 baud, as Linux sets it */
		outb(PORT + UART_DLM, 0x00);
		outb(PORT + UART_LCR, 0x03); /* 8N1, DLAB off */
		check("DLL", dll, 0x34);
		check("DLM", dlm, 0x12);
	}
	check("LCR 8N1", inb(PORT + UART_LCR), 0x03);
	/* The divisor writes must not have landed in IER. */
	check("IER after DLAB", inb(PORT + UART_IER), 0x00);

	/* No interrupt pending with IER = 0, FIFOs off: exactly 0x01. */
	check("IIR without FIFO", inb(PORT + UART_IIR), UART_IIR_NO_INT);

	/* FCR.FE makes IIR report FIFOs (0xc0): a 16550A, not a 16450. */
	outb(PORT + UART_FCR, UART_FCR_ENABLE_FIFO);
	check("IIR FIFO bits", inb(PORT + UART_IIR) & 0xc0, UART_IIR_FIFO);
	check("IIR with FIFO", inb(PORT + UART_IIR) & 0x0f, UART_IIR_NO_INT);

	/* Still able to transmit after all that. */
	check("LSR THRE at end", inb(PORT + UART_LSR) & UART_LSR_THRE, UART_LSR_THRE);

	uart_puts("uart ok\n");
	return 0;
}
