// SPDX-License-Identifier: GPL-2.0-only
/*
 * Ports with no device behind them read as all ones (an open ISA bus) and
 * swallow writes.  0x2f0 and 0x6660 are claimed by nothing ember emulates
 * (0x80, the POST port, may be).
 */
#include "guest.h"

static void expect(const char *what, uint16_t port, uint32_t got, uint32_t want)
{
	if (got == want)
		return;
	uart_puts("unknown_port: ");
	uart_puts(what);
	uart_puts(" ");
	uart_put_hex(port);
	uart_puts(" returned ");
	uart_put_hex(got);
	uart_puts(", want ");
	uart_put_hex(want);
	fail(1, "\n");
}

int guest_main(const void *boot_params)
{
	(void)boot_params;
	expect("inb", 0x2f0, inb(0x2f0), 0xff);
	expect("inw", 0x2f0, inw(0x2f0), 0xffff);
	expect("inl", 0x6660, inl(0x6660), 0xffffffff);

	outb(0x2f0, 0x12);
	outw(0x2f0, 0x3456);
	outl(0x6660, 0x789abcde);

	/* Writes must not have created state either. */
	expect("inb after write", 0x2f0, inb(0x2f0), 0xff);
	expect("inl after write", 0x6660, inl(0x6660), 0xffffffff);

	uart_puts("unknown ports ok\n");
	return 0;
}
