// SPDX-License-Identifier: GPL-2.0-only
/* Smallest useful guest: UART output and a clean exit. */
#include "guest.h"

int guest_main(const void *boot_params)
{
	(void)boot_params;
	uart_puts("hello from guest\n");
	return 0;
}
