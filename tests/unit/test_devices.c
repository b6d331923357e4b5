// SPDX-License-Identifier: GPL-2.0-only
/*
 * Platform devices driven like a guest drives them, through their bus
 * handlers: the 16550A UART (arch/x86/uart.c), the i8042 reset path
 * (i8042.c) and the CMOS clock (rtc.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "arch/x86/i8042.h"
#include "arch/x86/rtc.h"
#include "arch/x86/uart.h"

/* ---- UART ------------------------------------------------------------ */

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4,
       LSR = 5, MSR = 6, SCR = 7 };

struct irq_log {
	int level[64];
	unsigned n;
	unsigned drained;
};

static void fake_set_irq(void *opaque, int level)
{
	struct irq_log *log = opaque;
	if (log->n < 64)
		log->level[log->n] = level;
	log->n++;
}

static void fake_rx_drained(void *opaque)
{
	struct irq_log *log = opaque;
	log->drained++;
}

struct uart_fixture {
	struct uart8250 u;
	struct irq_log log;
	int pipe[2]; /* [0]: what the host sees, non-blocking */
};

static int uart_setup(void **state)
{
	struct uart_fixture *f = calloc(1, sizeof(*f));
	if (!f || pipe2(f->pipe, O_NONBLOCK) < 0)
		return -1;
	uart_init(&f->u, f->pipe[1], fake_set_irq, &f->log);
	f->u.rx_drained = fake_rx_drained;
	f->u.rx_opaque = &f->log;
	*state = f;
	return 0;
}

static int uart_teardown(void **state)
{
	struct uart_fixture *f = *state;
	uart_destroy(&f->u);
	close(f->pipe[0]);
	close(f->pipe[1]);
	free(f);
	return 0;
}

static uint8_t rd(struct uart8250 *u, unsigned reg)
{
	uint8_t v = 0xee;
	uart_access(u, reg, &v, 1, false);
	return v;
}

static void wr(struct uart8250 *u, unsigned reg, uint8_t v)
{
	uart_access(u, reg, &v, 1, true);
}

/* Whatever the UART wrote to the host so far. */
static size_t host_output(struct uart_fixture *f, char *buf, size_t size)
{
	ssize_t n = read(f->pipe[0], buf, size);
	if (n < 0) {
		assert_int_equal(errno, EAGAIN);
		return 0;
	}
	return (size_t)n;
}

static void uart_idle_state(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	assert_int_equal(rd(u, LSR), 0x60); /* THRE | TEMT, no data */
	assert_int_equal(rd(u, IIR), 0x01); /* no interrupt, FIFOs off */
	assert_int_equal(rd(u, IER), 0x00);
	assert_int_equal(rd(u, LCR), 0x03); /* 8N1 */
	assert_int_equal(rd(u, MCR), 0x08); /* OUT2 */
	assert_int_equal(rd(u, MSR), 0xb0); /* DCD | DSR | CTS */
	assert_int_equal(rd(u, RBR), 0x00); /* empty receiver */
	assert_int_equal(f->log.n, 0);
	assert_int_equal(uart_rx_space(u), UART_RX_BUF);
}

static void uart_scratch_and_dlab(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	char out[8];

	wr(u, SCR, 0x5a);
	assert_int_equal(rd(u, SCR), 0x5a);
	wr(u, SCR, 0xa5);
	assert_int_equal(rd(u, SCR), 0xa5);

	/* With DLAB, offsets 0 and 1 are the divisor latch. */
	wr(u, LCR, 0x83);
	assert_int_equal(rd(u, LCR), 0x83);
	assert_int_equal(rd(u, DLL), 0x0c); /* 9600 baud by default */
	assert_int_equal(rd(u, DLM), 0x00);
	wr(u, DLL, 0x01);
	wr(u, DLM, 0x02);
	assert_int_equal(rd(u, DLL), 0x01);
	assert_int_equal(rd(u, DLM), 0x02);
	wr(u, LCR, 0x03);
	/* The latch writes neither transmitted nor set IER. */
	assert_int_equal(rd(u, IER), 0x00);
	assert_int_equal(host_output(f, out, sizeof(out)), 0);
	assert_int_equal(f->log.n, 0);
	/* And the latch keeps its value behind the data registers. */
	wr(u, LCR, 0x83);
	assert_int_equal(rd(u, DLL), 0x01);
	assert_int_equal(rd(u, DLM), 0x02);
}

static void uart_fifo_iir(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	wr(u, FCR, 0x01);
	assert_int_equal(rd(u, IIR), 0xc1);
	wr(u, FCR, 0x00);
	assert_int_equal(rd(u, IIR), 0x01);
	/* IER keeps only its four defined bits. */
	wr(u, IER, 0xf0);
	assert_int_equal(rd(u, IER), 0x00);
}

static void uart_thri(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;

	/* Enabling THRI with an empty transmitter interrupts at once. */
	wr(u, IER, 0x02);
	assert_int_equal(f->log.n, 1);
	assert_int_equal(f->log.level[0], 1);
	/* Reading IIR reports and acknowledges it; the line drops. */
	assert_int_equal(rd(u, IIR), 0x02);
	assert_int_equal(f->log.n, 2);
	assert_int_equal(f->log.level[1], 0);
	assert_int_equal(rd(u, IIR), 0x01);
	assert_int_equal(f->log.n, 2);

	/* Re-enabling after a disable interrupts again; with FIFOs the IIR says so. */
	wr(u, IER, 0x00);
	wr(u, FCR, 0x01);
	wr(u, IER, 0x02);
	assert_int_equal(f->log.n, 3);
	assert_int_equal(f->log.level[2], 1);
	assert_int_equal(rd(u, IIR), 0xc2);
	assert_int_equal(f->log.level[3], 0);
	assert_int_equal(rd(u, IIR), 0xc1);

	/* Writing IER with THRI still set does not re-arm it. */
	wr(u, IER, 0x02);
	assert_int_equal(f->log.n, 4);
}

static void uart_transmit(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	char out[16];

	wr(u, IER, 0x02); /* line high: THRE pending */
	assert_int_equal(f->log.n, 1);
	f->log.n = 0;

	/* A byte written while THRE is pending: the line falls and rises again. */
	wr(u, THR, 'A');
	assert_int_equal(f->log.n, 2);
	assert_int_equal(f->log.level[0], 0);
	assert_int_equal(f->log.level[1], 1);
	assert_int_equal(host_output(f, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'A');
	assert_int_equal(rd(u, LSR), 0x60); /* drained at once */
	assert_int_equal(rd(u, IIR), 0x02);
	assert_int_equal(f->log.n, 3);
	assert_int_equal(f->log.level[2], 0);

	/* From a low line, one rising edge. */
	wr(u, THR, 'h');
	assert_int_equal(f->log.n, 4);
	assert_int_equal(f->log.level[3], 1);
	wr(u, THR, 'i');
	wr(u, THR, '\n');
	assert_int_equal(host_output(f, out, sizeof(out)), 3);
	assert_memory_equal(out, "hi\n", 3);

	/* With THRI masked, transmitting raises nothing. */
	wr(u, IER, 0x00);
	unsigned n = f->log.n;
	assert_int_equal(f->log.level[n - 1], 0);
	wr(u, THR, 'x');
	assert_int_equal(f->log.n, n);
	assert_int_equal(host_output(f, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'x');
}

static void uart_receive_bytes(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;

	/* Before the driver first enables RDI (opens the port), input is held back. */
	assert_int_equal(uart_receive(u, (const uint8_t *)"q", 1), 1);
	assert_int_equal(f->log.n, 0);
	assert_int_equal(rd(u, LSR), 0x60);
	assert_int_equal(rd(u, IIR), 0x01);
	assert_int_equal(rd(u, RBR), 0);      /* a flushing read consumes nothing */
	wr(u, FCR, 0x03);                     /* neither does a FIFO clear */
	assert_int_equal(uart_rx_space(u), UART_RX_BUF - 1);
	assert_int_equal(f->log.drained, 0);

	/* Opening the port delivers it: data ready and an RDA interrupt. */
	wr(u, IER, 0x01);
	assert_int_equal(f->log.n, 1);
	assert_int_equal(f->log.level[0], 1);
	assert_int_equal(rd(u, LSR), 0x61);
	assert_int_equal(rd(u, IIR), 0xc4);
	assert_int_equal(rd(u, RBR), 'q');
	assert_int_equal(f->log.n, 2);
	assert_int_equal(f->log.level[1], 0);
	assert_int_equal(f->log.drained, 1);

	assert_int_equal(uart_receive(u, (const uint8_t *)"abc", 3), 3);
	assert_int_equal(f->log.n, 3);
	assert_int_equal(f->log.level[2], 1);
	assert_int_equal(rd(u, LSR), 0x61); /* DR */
	assert_int_equal(rd(u, IIR), 0xc4); /* received data available */
	assert_int_equal(uart_rx_space(u), UART_RX_BUF - 3);

	assert_int_equal(rd(u, RBR), 'a');
	assert_int_equal(rd(u, RBR), 'b');
	assert_int_equal(f->log.n, 3); /* still data: line stays up */
	assert_int_equal(rd(u, RBR), 'c');
	assert_int_equal(f->log.n, 4);
	assert_int_equal(f->log.level[3], 0);
	assert_int_equal(f->log.drained, 2); /* the host may read stdin again */
	assert_int_equal(rd(u, LSR), 0x60);
	assert_int_equal(rd(u, IIR), 0xc1);
	assert_int_equal(rd(u, RBR), 0);
}

static void uart_rx_before_tx(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;

	wr(u, IER, 0x03); /* RDI and THRI */
	assert_int_equal(uart_receive(u, (const uint8_t *)"z", 1), 1);
	/* Received data outranks THRE, and reading IIR then leaves THRE pending. */
	assert_int_equal(rd(u, IIR), 0x04);
	assert_int_equal(rd(u, IIR), 0x04);
	assert_int_equal(rd(u, RBR), 'z');
	assert_int_equal(rd(u, IIR), 0x02);
	assert_int_equal(rd(u, IIR), 0x01);
	assert_int_equal(f->log.level[f->log.n - 1], 0);
}

static void uart_rx_full(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	static uint8_t big[UART_RX_BUF + 100];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);

	wr(u, IER, 0x01); /* the driver opened the port */
	assert_int_equal(uart_receive(u, big, sizeof(big)), UART_RX_BUF);
	assert_int_equal(uart_rx_space(u), 0);
	assert_int_equal(uart_receive(u, big, 1), 0);

	/* Draining some makes room again, and bytes wrap around the ring in order. */
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(rd(u, RBR), big[i]);
	assert_int_equal(uart_rx_space(u), 10);
	assert_int_equal(uart_receive(u, big + UART_RX_BUF, 20), 10);
	for (size_t i = 10; i < UART_RX_BUF + 10; i++)
		if (rd(u, RBR) != big[i])
			fail_msg("byte %zu out of order", i);
	assert_int_equal(rd(u, LSR), 0x60);
	assert_int_equal(uart_rx_space(u), UART_RX_BUF);
	assert_int_equal(f->log.drained, 1);

	/* FCR "clear receive FIFO" keeps host input still in transit. */
	assert_int_equal(uart_receive(u, big, 5), 5);
	wr(u, FCR, 0x03);
	assert_int_equal(rd(u, LSR), 0x61);
	assert_int_equal(uart_rx_space(u), UART_RX_BUF - 5);
	assert_int_equal(f->log.drained, 1);
}

static void uart_loopback(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	char out[8];

	wr(u, MCR, 0x10);
	assert_int_equal(rd(u, MCR), 0x10);
	wr(u, THR, 0x55);
	wr(u, THR, 0xaa);
	assert_int_equal(host_output(f, out, sizeof(out)), 0); /* nothing leaves the chip */
	assert_int_equal(rd(u, LSR), 0x61);
	assert_int_equal(rd(u, RBR), 0x55);
	assert_int_equal(rd(u, RBR), 0xaa);
	assert_int_equal(rd(u, LSR), 0x60);

	/* MSR mirrors MCR: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
	wr(u, MCR, 0x10);
	assert_int_equal(rd(u, MSR), 0x00);
	wr(u, MCR, 0x11);
	assert_int_equal(rd(u, MSR), 0x20);
	wr(u, MCR, 0x12);
	assert_int_equal(rd(u, MSR), 0x10);
	wr(u, MCR, 0x14);
	assert_int_equal(rd(u, MSR), 0x40);
	wr(u, MCR, 0x18);
	assert_int_equal(rd(u, MSR), 0x80);
	wr(u, MCR, 0x1f);
	assert_int_equal(rd(u, MSR), 0xf0);
	/* MCR keeps five bits. */
	wr(u, MCR, 0xff);
	assert_int_equal(rd(u, MCR), 0x1f);

	/* Out of loopback: the byte goes to the host again. */
	wr(u, MCR, 0x0b);
	assert_int_equal(rd(u, MSR), 0xb0);
	wr(u, THR, 'k');
	assert_int_equal(host_output(f, out, sizeof(out)), 1);
	assert_int_equal(out[0], 'k');
	assert_int_equal(rd(u, LSR), 0x60);
}

static void uart_ignores_odd_accesses(void **state)
{
	struct uart_fixture *f = *state;
	struct uart8250 *u = &f->u;
	uint8_t two[2] = { 0x12, 0x34 };

	uart_access(u, SCR, two, 2, true); /* not a byte */
	assert_int_equal(rd(u, SCR), 0x00);
	uart_access(u, LSR, two, 2, false);
	assert_int_equal(two[0], 0x12);
	uint8_t v = 0x77;
	uart_access(u, 8, &v, 1, false); /* past the 8 registers */
	assert_int_equal(v, 0x77);
	uart_access(u, 8, &v, 1, true);
	/* LSR and MSR are read-only. */
	wr(u, LSR, 0x00);
	wr(u, MSR, 0x00);
	assert_int_equal(rd(u, LSR), 0x60);
	assert_int_equal(rd(u, MSR), 0xb0);
	assert_int_equal(f->log.n, 0);
}

/* ---- i8042 ----------------------------------------------------------- */

static unsigned resets;
static void *reset_opaque;

static void fake_reset(void *opaque)
{
	resets++;
	reset_opaque = opaque;
}

static uint8_t kbd_rd(struct i8042 *k, unsigned off)
{
	uint8_t v = 0xee;
	i8042_access(k, off, &v, 1, false);
	return v;
}

static void kbd_wr(struct i8042 *k, unsigned off, uint8_t v)
{
	i8042_access(k, off, &v, 1, true);
}

#define KBD_DATA 0
#define KBD_CMD  4

static void i8042_reset_command(void **state)
{
	(void)state;
	struct i8042 k;
	int cookie;
	resets = 0;
	i8042_init(&k, fake_reset, &cookie);
	assert_int_equal(kbd_rd(&k, KBD_CMD), 0x04); /* system flag, output empty */
	kbd_wr(&k, KBD_CMD, 0xfe);
	assert_int_equal(resets, 1);
	assert_ptr_equal(reset_opaque, &cookie);
	/* Other commands do not reset. */
	kbd_wr(&k, KBD_CMD, 0xaa);
	kbd_wr(&k, KBD_CMD, 0xab);
	kbd_wr(&k, KBD_CMD, 0xad);
	assert_int_equal(resets, 1);
	/* 0xfe written to the data port is not the command. */
	kbd_wr(&k, KBD_DATA, 0xfe);
	assert_int_equal(resets, 1);
	i8042_destroy(&k);

	/* No reset callback: nothing to call, nothing crashes. */
	i8042_init(&k, NULL, NULL);
	kbd_wr(&k, KBD_CMD, 0xfe);
	i8042_destroy(&k);
	assert_int_equal(resets, 1);
}

static void i8042_ctr(void **state)
{
	(void)state;
	struct i8042 k;
	resets = 0;
	i8042_init(&k, fake_reset, NULL);

	kbd_wr(&k, KBD_CMD, 0x20);
	assert_int_equal(kbd_rd(&k, KBD_CMD), 0x05); /* output full */
	assert_int_equal(kbd_rd(&k, KBD_DATA), 0x30); /* default: clocks off, no irqs */
	assert_int_equal(kbd_rd(&k, KBD_CMD), 0x04);

	kbd_wr(&k, KBD_CMD, 0x60);
	kbd_wr(&k, KBD_DATA, 0x47);
	kbd_wr(&k, KBD_CMD, 0x20);
	assert_int_equal(kbd_rd(&k, KBD_DATA), 0x47);

	/* A data byte with no command pending changes nothing. */
	kbd_wr(&k, KBD_DATA, 0x11);
	kbd_wr(&k, KBD_CMD, 0x20);
	assert_int_equal(kbd_rd(&k, KBD_DATA), 0x47);
	assert_int_equal(resets, 0);
	i8042_destroy(&k);
}

static void i8042_self_test(void **state)
{
	(void)state;
	struct i8042 k;
	i8042_init(&k, fake_reset, NULL);
	kbd_wr(&k, KBD_CMD, 0xaa);
	assert_int_equal(kbd_rd(&k, KBD_CMD) & 0x01, 0x01);
	assert_int_equal(kbd_rd(&k, KBD_DATA), 0x55);
	assert_int_equal(kbd_rd(&k, KBD_CMD) & 0x01, 0x00);
	kbd_wr(&k, KBD_CMD, 0xab); /* interface test: no error */
	assert_int_equal(kbd_rd(&k, KBD_DATA), 0x00);
	/* Odd accesses are ignored. */
	uint16_t w = 0xaaaa;
	i8042_access(&k, KBD_CMD, (uint8_t *)&w, 2, true);
	uint8_t v = 0x99;
	i8042_access(&k, 2, &v, 1, false);
	assert_int_equal(v, 0x99);
	assert_int_equal(kbd_rd(&k, KBD_CMD), 0x04);
	i8042_destroy(&k);
}

static void i8042_output_port(void **state)
{
	(void)state;
	struct i8042 k;
	resets = 0;
	i8042_init(&k, fake_reset, NULL);
	/* Bit 0 set: the CPU keeps running (and A20 and friends are ignored). */
	kbd_wr(&k, KBD_CMD, 0xd1);
	kbd_wr(&k, KBD_DATA, 0xdf);
	assert_int_equal(resets, 0);
	/* Bit 0 clear pulls the reset line. */
	kbd_wr(&k, KBD_CMD, 0xd1);
	kbd_wr(&k, KBD_DATA, 0xfe);
	assert_int_equal(resets, 1);
	/* The command was consumed: the same byte again is plain data. */
	kbd_wr(&k, KBD_DATA, 0xfe);
	assert_int_equal(resets, 1);
	/* Writing the CTR never resets, whatever the value. */
	kbd_wr(&k, KBD_CMD, 0x60);
	kbd_wr(&k, KBD_DATA, 0x00);
	assert_int_equal(resets, 1);
	i8042_destroy(&k);
}

/* ---- CMOS RTC -------------------------------------------------------- */

#define T_2026 ((time_t)1795300245) /* 2026-11-21 22:30:45 UTC, a Saturday */

static time_t fake_time = T_2026;
static time_t fake_now(time_t *t)
{
	if (t)
		*t = fake_time;
	return fake_time;
}

static void rtc_values(void **state)
{
	(void)state;
	struct cmos_rtc rtc;
	rtc_init(&rtc);
	assert_int_equal(rtc_register_value(&rtc, 0x00, T_2026), 0x45);
	assert_int_equal(rtc_register_value(&rtc, 0x02, T_2026), 0x30);
	assert_int_equal(rtc_register_value(&rtc, 0x04, T_2026), 0x22); /* 24-hour */
	assert_int_equal(rtc_register_value(&rtc, 0x06, T_2026), 0x07); /* Saturday, Sunday = 1 */
	assert_int_equal(rtc_register_value(&rtc, 0x07, T_2026), 0x21);
	assert_int_equal(rtc_register_value(&rtc, 0x08, T_2026), 0x11);
	assert_int_equal(rtc_register_value(&rtc, 0x09, T_2026), 0x26);
	assert_int_equal(rtc_register_value(&rtc, 0x32, T_2026), 0x20);
	uint8_t a = rtc_register_value(&rtc, 0x0a, T_2026);
	assert_int_equal(a & 0x80, 0);   /* never update-in-progress */
	assert_int_equal(a, 0x26);
	uint8_t b = rtc_register_value(&rtc, 0x0b, T_2026);
	assert_int_equal(b & 0x02, 0x02); /* 24-hour mode */
	assert_int_equal(b & 0x04, 0x00); /* BCD, not binary */
	assert_int_equal(b & 0x70, 0x00); /* no interrupts enabled */
	assert_int_equal(rtc_register_value(&rtc, 0x0c, T_2026), 0x00);
	assert_int_equal(rtc_register_value(&rtc, 0x0d, T_2026) & 0x80, 0x80); /* battery ok */

	/* The epoch (a Thursday) and the last second of the 1900s. */
	assert_int_equal(rtc_register_value(&rtc, 0x06, 0), 0x05);
	assert_int_equal(rtc_register_value(&rtc, 0x09, 0), 0x70);
	assert_int_equal(rtc_register_value(&rtc, 0x32, 0), 0x19);
	const time_t y2k_eve = 946684799; /* 1999-12-31 23:59:59 */
	assert_int_equal(rtc_register_value(&rtc, 0x00, y2k_eve), 0x59);
	assert_int_equal(rtc_register_value(&rtc, 0x04, y2k_eve), 0x23);
	assert_int_equal(rtc_register_value(&rtc, 0x07, y2k_eve), 0x31);
	assert_int_equal(rtc_register_value(&rtc, 0x08, y2k_eve), 0x12);
	assert_int_equal(rtc_register_value(&rtc, 0x09, y2k_eve), 0x99);
	assert_int_equal(rtc_register_value(&rtc, 0x32, y2k_eve), 0x19);
	assert_int_equal(rtc_register_value(&rtc, 0x09, y2k_eve + 1), 0x00);
	assert_int_equal(rtc_register_value(&rtc, 0x32, y2k_eve + 1), 0x20);
	/* Hours past noon stay 24-hour BCD (no PM bit). */
	assert_int_equal(rtc_register_value(&rtc, 0x04, T_2026 - 9 * 3600), 0x13);
	rtc_destroy(&rtc);
}

static uint8_t cmos_read(struct cmos_rtc *rtc, uint8_t index)
{
	uint8_t v = index;
	rtc_access(rtc, 0, &v, 1, true);
	v = 0xee;
	rtc_access(rtc, 1, &v, 1, false);
	return v;
}

static void cmos_write(struct cmos_rtc *rtc, uint8_t index, uint8_t val)
{
	rtc_access(rtc, 0, &index, 1, true);
	rtc_access(rtc, 1, &val, 1, true);
}

static void rtc_through_ports(void **state)
{
	(void)state;
	struct cmos_rtc rtc;
	rtc_init(&rtc);
	assert_true(rtc.now == time); /* the host clock unless a test says otherwise */
	rtc.now = fake_now;
	fake_time = T_2026;

	assert_int_equal(cmos_read(&rtc, 0x00), 0x45);
	assert_int_equal(cmos_read(&rtc, 0x02), 0x30);
	assert_int_equal(cmos_read(&rtc, 0x04), 0x22);
	assert_int_equal(cmos_read(&rtc, 0x07), 0x21);
	assert_int_equal(cmos_read(&rtc, 0x08), 0x11);
	assert_int_equal(cmos_read(&rtc, 0x09), 0x26);
	assert_int_equal(cmos_read(&rtc, 0x32), 0x20);
	assert_int_equal(cmos_read(&rtc, 0x0a) & 0x80, 0);
	assert_int_equal(cmos_read(&rtc, 0x0b), 0x02);
	/* Bit 7 of the index is the NMI mask, not part of the register number. */
	assert_int_equal(cmos_read(&rtc, 0x80 | 0x04), 0x22);
	uint8_t idx = 0xee;
	rtc_access(&rtc, 0, &idx, 1, false);
	assert_int_equal(idx, 0x04);

	/* The clock follows now(). */
	fake_time = T_2026 + 15;
	assert_int_equal(cmos_read(&rtc, 0x00), 0x00);
	assert_int_equal(cmos_read(&rtc, 0x02), 0x31);

	/* Clock and status registers ignore writes; CMOS RAM keeps them. */
	cmos_write(&rtc, 0x00, 0x12);
	assert_int_equal(cmos_read(&rtc, 0x00), 0x00);
	cmos_write(&rtc, 0x0b, 0x86);
	assert_int_equal(cmos_read(&rtc, 0x0b), 0x02);
	cmos_write(&rtc, 0x32, 0x19);
	assert_int_equal(cmos_read(&rtc, 0x32), 0x20);
	cmos_write(&rtc, 0x10, 0x5a);
	cmos_write(&rtc, 0x7f, 0xa5);
	assert_int_equal(cmos_read(&rtc, 0x10), 0x5a);
	assert_int_equal(cmos_read(&rtc, 0x7f), 0xa5);
	assert_int_equal(cmos_read(&rtc, 0x11), 0x00);

	/* Wider accesses are ignored. */
	uint16_t w = 0x1234;
	rtc_access(&rtc, 1, (uint8_t *)&w, 2, false);
	assert_int_equal(w, 0x1234);
	rtc_destroy(&rtc);
}

#define UART_TEST(f) cmocka_unit_test_setup_teardown(f, uart_setup, uart_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		UART_TEST(uart_idle_state),
		UART_TEST(uart_scratch_and_dlab),
		UART_TEST(uart_fifo_iir),
		UART_TEST(uart_thri),
		UART_TEST(uart_transmit),
		UART_TEST(uart_receive_bytes),
		UART_TEST(uart_rx_before_tx),
		UART_TEST(uart_rx_full),
		UART_TEST(uart_loopback),
		UART_TEST(uart_ignores_odd_accesses),
		cmocka_unit_test(i8042_reset_command),
		cmocka_unit_test(i8042_ctr),
		cmocka_unit_test(i8042_self_test),
		cmocka_unit_test(i8042_output_port),
		cmocka_unit_test(rtc_values),
		cmocka_unit_test(rtc_through_ports),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
