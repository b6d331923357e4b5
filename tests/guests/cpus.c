// SPDX-License-Identifier: GPL-2.0-only
/*
 * Prints the command line it was given and exits 0.  run.sh boots it with
 * --cmdline and several --cpus values: the text must arrive intact and
 * only one vCPU may run the guest's entry code.
 */
#include "guest.h"

int guest_main(const void *boot_params)
{
	uart_puts("cmdline: ");
	uart_puts(guest_cmdline(boot_params));
	uart_puts("\n");
	return 0;
}
