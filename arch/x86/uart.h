/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * 16550A UART (the PC's COM1) as the Linux 8250 driver drives it: a
 * transmit FIFO that drains instantly to the host, a receive buffer fed
 * from the host, and the THRE/RDA interrupt rules of the real chip.
 */
#ifndef EMBER_ARCH_X86_UART_H
#define EMBER_ARCH_X86_UART_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UART_RX_BUF 4096

struct uart8250 {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool thri_pending;       /* THR-empty interrupt latched, cleared by IIR read or THR write */
	bool irq_level;          /* last level driven on the line */
	bool rx_open;            /* deliver host input to the guest */
	bool rx_gated;           /* rx_open waits for uart_rx_release(), not the driver's IER.RDI */
	uint8_t rx[UART_RX_BUF]; /* ring of received bytes */
	unsigned rx_head, rx_count;
	int out_fd;              /* transmitted bytes go here */
	/* Raises/lowers the interrupt line; called with the lock held. */
	void (*set_irq)(void *opaque, int level);
	void *irq_opaque;
	/* Called (lock held) when the guest drained the receive buffer. */
	void (*rx_drained)(void *opaque);
	void *rx_opaque;
};

void uart_init(struct uart8250 *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque);
void uart_destroy(struct uart8250 *u);
/* Bus handler for the 8 registers. */
void uart_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);
/* Host -> guest bytes; returns how many fitted. */
size_t uart_receive(struct uart8250 *u, const uint8_t *buf, size_t len);
size_t uart_rx_space(struct uart8250 *u);
/* With rx_gated: the guest is ready, start delivering host input. */
void uart_rx_release(struct uart8250 *u);

#endif
