// SPDX-License-Identifier: GPL-2.0-only
/*
 * The x86 platform devices every guest gets: COM1 as the console, the
 * i8042 reset line, the CMOS clock and the POST port.  (The exit-status
 * port and the boot timer are the arch-neutral guest ABI device,
 * vm/guest_abi.c, at the addresses arch_guest_abi_layout() gives.)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/x86/guest_abi.h"

static void uart_set_irq(void *opaque, int level)
{
	struct arch_vm *a = opaque;
	machine_set_irq_line(a->machine, EMBER_UART_IRQ, level);
}

static void guest_reset(void *opaque)
{
	struct arch_vm *a = opaque;
	machine_request_stop(a->machine, EMBER_EXIT_NO_STATUS);
}

/* Port 0x80 is the POST-code / I/O-delay port Linux writes to; it has no effect. */
static void io_delay_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write)
{
	(void)opaque; (void)offset; (void)data; (void)len; (void)is_write;
}

/* --- stdin -> UART ----------------------------------------------------- */

static void stdin_readable(void *opaque, uint32_t events);

static void stdin_watch(struct arch_vm *a, bool on)
{
	struct loop *loop = &a->machine->loop;

	if (on == a->stdin_watched)
		return;
	if (on && loop_add(loop, STDIN_FILENO, EPOLLIN, stdin_readable, a) == 0)
		a->stdin_watched = true;
	else if (!on && loop_remove(loop, STDIN_FILENO) == 0)
		a->stdin_watched = false;
}

static void stdin_readable(void *opaque, uint32_t events)
{
	struct arch_vm *a = opaque;
	uint8_t buf[256];
	size_t space = uart_rx_space(&a->uart);

	(void)events;
	if (space == 0) {
		/* Resumed by uart_drained() once the guest has read what it has. */
		stdin_watch(a, false);
		return;
	}
	ssize_t n = read(STDIN_FILENO, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			stdin_watch(a, false); /* EOF: the guest simply gets no more input */
		return;
	}
	uart_receive(&a->uart, buf, (size_t)n);
}

static void uart_drained(void *opaque)
{
	struct arch_vm *a = opaque;
	/* Called on a vCPU thread with the UART locked: hand over to the loop. */
	if (eventfd_write(a->rx_wake_fd, 1) < 0) {
		/* eventfd counter saturated: the loop is woken already */
	}
}

static void rx_wake(void *opaque, uint32_t events)
{
	struct arch_vm *a = opaque;
	uint64_t count;

	(void)events;
	if (read(a->rx_wake_fd, &count, sizeof(count)) < 0) {
		/* spurious wake-up */
	}
	if (!a->stdin_eof)
		stdin_watch(a, true);
}

static int console_init(struct arch_vm *a, struct ember_err *err)
{
	a->rx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (a->rx_wake_fd < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	if (loop_add(&a->machine->loop, a->rx_wake_fd, EPOLLIN, rx_wake, a))
		return ember_fail(err, EIO, "internal: cannot watch the UART");
	a->uart.rx_drained = uart_drained;
	a->uart.rx_opaque = a;
	/* epoll refuses regular files (EPERM); a guest then just gets no stdin. */
	stdin_watch(a, true);
	a->stdin_eof = !a->stdin_watched;
	return 0;
}

int arch_devices_init(struct arch_vm *a, struct ember_err *err)
{
	struct machine *m = a->machine;
	const struct ember_config *cfg = a->cfg;
	int rc;

	int uart_out = STDOUT_FILENO;
	if (cfg->console == EMBER_CONSOLE_SPLIT) {
		uart_out = STDERR_FILENO; /* kernel messages: never mixed into the command's stdout */
	} else if (cfg->console != EMBER_CONSOLE_SERIAL) {
		/* The UART stays for early boot code but prints nowhere. */
		a->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		uart_out = a->null_fd;
	}
	uart_init(&a->uart, uart_out, uart_set_irq, a);
	a->uart.rx_gated = cfg->init_handshake;
	i8042_init(&a->i8042, guest_reset, a);
	rtc_init(&a->rtc);
	a->devices_ready = true;

	if ((rc = bus_register(&m->pio, EMBER_UART_PORT, 8, uart_access, &a->uart, "COM1", err)) ||
	    (rc = bus_register(&m->pio, I8042_DATA_PORT, 5, i8042_access, &a->i8042, "i8042", err)) ||
	    (rc = bus_register(&m->pio, CMOS_PORT, 2, rtc_access, &a->rtc, "CMOS", err)) ||
	    (rc = bus_register(&m->pio, 0x80, 1, io_delay_access, a, "POST", err)))
		return rc;
	return cfg->console == EMBER_CONSOLE_SERIAL ? console_init(a, err) : 0;
}

void arch_console_ready(struct arch_vm *a)
{
	if (a->devices_ready)
		uart_rx_release(&a->uart);
}

void arch_devices_destroy(struct arch_vm *a)
{
	if (!a->devices_ready)
		return;
	uart_destroy(&a->uart);
	i8042_destroy(&a->i8042);
	rtc_destroy(&a->rtc);
	if (a->rx_wake_fd >= 0)
		close(a->rx_wake_fd);
	if (a->null_fd >= 0)
		close(a->null_fd);
	a->rx_wake_fd = a->null_fd = -1;
	a->devices_ready = false;
}
