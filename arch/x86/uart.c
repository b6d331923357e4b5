// SPDX-License-Identifier: GPL-2.0-only
/*
 * Register semantics follow the TI/National PC16550D data sheet and what
 * drivers/tty/serial/8250/8250_port.c checks during autoconfig.
 */
#include "arch/x86/uart.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

enum {
	REG_DATA = 0, /* RBR (read) / THR (write) / DLL with DLAB */
	REG_IER = 1,  /* DLM with DLAB */
	REG_IIR = 2,  /* IIR (read) / FCR (write) */
	REG_LCR = 3,
	REG_MCR = 4,
	REG_LSR = 5,
	REG_MSR = 6,
	REG_SCR = 7,
};

#define IER_RDI   0x01
#define IER_THRI  0x02
#define IIR_NONE  0x01
#define IIR_THRI  0x02
#define IIR_RDI   0x04
#define IIR_FIFO  0xc0 /* "FIFOs enabled": makes Linux see a 16550A */
#define LCR_DLAB  0x80
#define LSR_DR    0x01
#define LSR_THRE  0x20
#define LSR_TEMT  0x40
#define MCR_LOOP  0x10
#define MSR_DCD   0x80
#define MSR_DSR   0x20
#define MSR_CTS   0x10

void uart_init(struct uart8250 *u, int out_fd, void (*set_irq)(void *, int), void *irq_opaque)
{
	memset(u, 0, sizeof(*u));
	pthread_mutex_init(&u->lock, NULL);
	u->out_fd = out_fd;
	u->set_irq = set_irq;
	u->irq_opaque = irq_opaque;
	u->lcr = 0x03; /* 8N1 */
	u->mcr = 0x08; /* OUT2 */
	u->dll = 0x0c; /* 9600 baud until the guest picks one */
}

void uart_destroy(struct uart8250 *u)
{
	pthread_mutex_destroy(&u->lock);
}

/*
 * Host input is held back until the guest driver first enables the
 * receive interrupt, i.e. opened the port (Linux's 8250 startup reads RBR
 * to flush it, which would eat input a user piped in early), or, with
 * rx_gated, until the guest's init says its console is set up.
 */
static unsigned rx_visible(const struct uart8250 *u)
{
	return (u->rx_open || (u->mcr & MCR_LOOP)) ? u->rx_count : 0;
}

static bool rx_interrupt(const struct uart8250 *u)
{
	return (u->ier & IER_RDI) && rx_visible(u);
}

static bool tx_interrupt(const struct uart8250 *u)
{
	return (u->ier & IER_THRI) && u->thri_pending;
}

static void update_irq(struct uart8250 *u)
{
	bool level = rx_interrupt(u) || tx_interrupt(u);

	if (level != u->irq_level) {
		u->irq_level = level;
		if (u->set_irq)
			u->set_irq(u->irq_opaque, level);
	}
}

static void rx_push(struct uart8250 *u, uint8_t byte)
{
	if (u->rx_count == UART_RX_BUF)
		return; /* overrun: the byte is lost, as on the chip */
	u->rx[(u->rx_head + u->rx_count) % UART_RX_BUF] = byte;
	u->rx_count++;
}

static void transmit(struct uart8250 *u, uint8_t byte)
{
	if (u->mcr & MCR_LOOP) {
		rx_push(u, byte);
		return;
	}
	/* A host stdout that went away must not stop the guest: drop output. */
	while (write(u->out_fd, &byte, 1) < 0 && errno == EINTR)
		;
}

static uint8_t read_reg(struct uart8250 *u, unsigned reg)
{
	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB)
			return u->dll;
		if (!rx_visible(u))
			return 0;
		uint8_t byte = u->rx[u->rx_head];
		u->rx_head = (u->rx_head + 1) % UART_RX_BUF;
		if (--u->rx_count == 0 && u->rx_drained)
			u->rx_drained(u->rx_opaque);
		return byte;
	case REG_IER:
		return (u->lcr & LCR_DLAB) ? u->dlm : u->ier;
	case REG_IIR: {
		uint8_t fifo = (u->fcr & 0x01) ? IIR_FIFO : 0;
		if (rx_interrupt(u))
			return fifo | IIR_RDI;
		if (tx_interrupt(u)) {
			u->thri_pending = false; /* reading IIR acknowledges THRE */
			return fifo | IIR_THRI;
		}
		return fifo | IIR_NONE;
	}
	case REG_LCR:
		return u->lcr;
	case REG_MCR:
		return u->mcr;
	case REG_LSR:
		return LSR_THRE | LSR_TEMT | (rx_visible(u) ? LSR_DR : 0);
	case REG_MSR:
		if (u->mcr & MCR_LOOP) {
			/* Loopback wires DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
			return (uint8_t)(((u->mcr & 0x01) << 5) | ((u->mcr & 0x02) << 3) |
					 ((u->mcr & 0x04) << 4) | ((u->mcr & 0x08) << 4));
		}
		return MSR_DCD | MSR_DSR | MSR_CTS;
	case REG_SCR:
		return u->scr;
	}
	return 0xff;
}

static void write_reg(struct uart8250 *u, unsigned reg, uint8_t val)
{
	switch (reg) {
	case REG_DATA:
		if (u->lcr & LCR_DLAB) {
			u->dll = val;
			return;
		}
		/* The FIFO drains at once, so THRE falls and rises again: a fresh edge. */
		u->thri_pending = false;
		update_irq(u);
		transmit(u, val);
		u->thri_pending = true;
		return;
	case REG_IER:
		if (u->lcr & LCR_DLAB) {
			u->dlm = val;
			return;
		}
		/* Enabling THRI while the transmitter is empty interrupts at once. */
		if ((val & IER_THRI) && !(u->ier & IER_THRI))
			u->thri_pending = true;
		if ((val & IER_RDI) && !u->rx_gated)
			u->rx_open = true;
		u->ier = val & 0x0f;
		return;
	case REG_IIR:
		/*
		 * FCR.  Its "clear receive FIFO" bit is ignored: our buffer holds
		 * host input still in transit, which a guest reset must not lose.
		 */
		u->fcr = val;
		return;
	case REG_LCR:
		u->lcr = val;
		return;
	case REG_MCR:
		u->mcr = val & 0x1f;
		return;
	case REG_SCR:
		u->scr = val;
		return;
	default:
		return; /* LSR and MSR are read-only */
	}
}

void uart_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct uart8250 *u = opaque;

	if (len != 1 || offset > REG_SCR)
		return;
	pthread_mutex_lock(&u->lock);
	if (is_write)
		write_reg(u, (unsigned)offset, data[0]);
	else
		data[0] = read_reg(u, (unsigned)offset);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}

size_t uart_receive(struct uart8250 *u, const uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&u->lock);
	size_t n = 0;
	while (n < len && u->rx_count < UART_RX_BUF)
		rx_push(u, buf[n++]);
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
	return n;
}

size_t uart_rx_space(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	size_t space = UART_RX_BUF - u->rx_count;
	pthread_mutex_unlock(&u->lock);
	return space;
}

void uart_rx_release(struct uart8250 *u)
{
	pthread_mutex_lock(&u->lock);
	u->rx_open = true;
	update_irq(u);
	pthread_mutex_unlock(&u->lock);
}
