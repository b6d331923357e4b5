// SPDX-License-Identifier: GPL-2.0-only
/*
 * The x86 platform devices every guest gets: COM1 as the console, the
 * i8042 reset line, the CMOS clock, ember's exit-status port and the
 * Firecracker-compatible boot timer.
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
#include "virtio/devices.h"
#include "vm/vm.h"

static void uart_set_irq(void *opaque, int level)
{
	struct vm *vm = opaque;
	vm_set_irq_line(vm, EMBER_UART_IRQ, level);
}

static void guest_reset(void *opaque)
{
	vm_stop(opaque, EMBER_EXIT_NO_STATUS);
}

static void exit_port_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			     bool is_write)
{
	(void)offset;
	(void)len;
	if (is_write)
		vm_stop(opaque, data[0]);
}

static void boot_timer_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write)
{
	struct vm *vm = opaque;

	(void)len;
	if (!is_write || offset != 0 || data[0] != EMBER_BOOT_TIMER_MAGIC)
		return;
	uint64_t ns = vm_elapsed_ns(vm);
	uint64_t expected = 0;
	/* Only the first write counts: it marks the guest's init starting. */
	__atomic_compare_exchange_n(&vm->arch.boot_timer_ns, &expected, ns, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	if (expected == 0 && vm->cfg->boot_timer)
		fprintf(stderr, "ember: guest boot took %.1f ms (boot-timer write)\r\n", ns / 1e6);
}

static void console_ready_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
				 bool is_write)
{
	struct vm *vm = opaque;

	(void)offset; (void)data; (void)len;
	if (is_write) {
		uart_rx_release(&vm->arch.uart);
		virtio_console_ready(vm);
	}
}

/* Port 0x80 is the POST-code / I/O-delay port Linux writes to; it has no effect. */
static void io_delay_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			    bool is_write)
{
	(void)opaque; (void)offset; (void)data; (void)len; (void)is_write;
}

/* --- stdin -> UART ----------------------------------------------------- */

static void stdin_readable(void *opaque, uint32_t events);

static void stdin_watch(struct vm *vm, bool on)
{
	if (on == vm->arch.stdin_watched)
		return;
	if (on && loop_add(&vm->loop, STDIN_FILENO, EPOLLIN, stdin_readable, vm) == 0)
		vm->arch.stdin_watched = true;
	else if (!on && loop_remove(&vm->loop, STDIN_FILENO) == 0)
		vm->arch.stdin_watched = false;
}

static void stdin_readable(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint8_t buf[256];
	size_t space = uart_rx_space(&vm->arch.uart);

	(void)events;
	if (space == 0) {
		/* Resumed by uart_drained() once the guest has read what it has. */
		stdin_watch(vm, false);
		return;
	}
	ssize_t n = read(STDIN_FILENO, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			stdin_watch(vm, false); /* EOF: the guest simply gets no more input */
		return;
	}
	uart_receive(&vm->arch.uart, buf, (size_t)n);
}

static void uart_drained(void *opaque)
{
	struct vm *vm = opaque;
	uint64_t one = 1;
	/* Called on a vCPU thread with the UART locked: hand over to the loop. */
	if (write(vm->arch.rx_wake_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturated: the loop is woken already */
	}
}

static void rx_wake(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t count;

	(void)events;
	if (read(vm->arch.rx_wake_fd, &count, sizeof(count)) < 0) {
		/* spurious wake-up */
	}
	if (!vm->arch.stdin_eof)
		stdin_watch(vm, true);
}

static int console_init(struct vm *vm, struct ember_err *err)
{
	vm->arch.rx_wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->arch.rx_wake_fd < 0)
		return ember_fail(err, errno, "eventfd: %s", strerror(errno));
	if (loop_add(&vm->loop, vm->arch.rx_wake_fd, EPOLLIN, rx_wake, vm))
		return ember_fail(err, EIO, "internal: cannot watch the UART");
	vm->arch.uart.rx_drained = uart_drained;
	vm->arch.uart.rx_opaque = vm;
	/* epoll refuses regular files (EPERM); a guest then just gets no stdin. */
	stdin_watch(vm, true);
	vm->arch.stdin_eof = !vm->arch.stdin_watched;
	return 0;
}

int arch_devices_init(struct vm *vm, struct ember_err *err)
{
	struct arch_vm *a = &vm->arch;
	int rc;

	a->rx_wake_fd = -1;
	a->null_fd = -1;
	int uart_out = STDOUT_FILENO;
	if (vm->cfg->console == EMBER_CONSOLE_SPLIT) {
		uart_out = STDERR_FILENO; /* kernel messages: never mixed into the command's stdout */
	} else if (vm->cfg->console != EMBER_CONSOLE_SERIAL) {
		/* The UART stays for early boot code but prints nowhere. */
		a->null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		uart_out = a->null_fd;
	}
	uart_init(&a->uart, uart_out, uart_set_irq, vm);
	a->uart.rx_gated = vm->cfg->init_handshake;
	i8042_init(&a->i8042, guest_reset, vm);
	rtc_init(&a->rtc);
	a->devices_ready = true;

	if ((rc = bus_register(&vm->pio, EMBER_UART_PORT, 8, uart_access, &a->uart, "COM1", err)) ||
	    (rc = bus_register(&vm->pio, I8042_DATA_PORT, 5, i8042_access, &a->i8042, "i8042", err)) ||
	    (rc = bus_register(&vm->pio, CMOS_PORT, 2, rtc_access, &a->rtc, "CMOS", err)) ||
	    (rc = bus_register(&vm->pio, 0x80, 1, io_delay_access, vm, "POST", err)) ||
	    (rc = bus_register(&vm->pio, EMBER_EXIT_PORT, 1, exit_port_access, vm, "exit port", err)) ||
	    (rc = bus_register(&vm->pio, EMBER_CONSOLE_READY_PORT, 1, console_ready_access, vm,
			       "console ready", err)) ||
	    (rc = bus_register(&vm->mmio, EMBER_BOOT_TIMER_GPA, 0x1000, boot_timer_access, vm,
			       "boot timer", err)))
		return rc;
	return vm->cfg->console == EMBER_CONSOLE_SERIAL ? console_init(vm, err) : 0;
}

void arch_devices_destroy(struct vm *vm)
{
	struct arch_vm *a = &vm->arch;

	if (!a->devices_ready)
		return;
	uart_destroy(&a->uart);
	i8042_destroy(&a->i8042);
	rtc_destroy(&a->rtc);
	if (a->rx_wake_fd >= 0)
		close(a->rx_wake_fd);
	if (a->null_fd >= 0)
		close(a->null_fd);
	a->devices_ready = false;
}
