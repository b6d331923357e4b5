// SPDX-License-Identifier: GPL-2.0-only
/* Never finishes on its own: what --timeout and signals must stop. */
#include "guest.h"

int guest_main(const void *boot_params)
{
	(void)boot_params;
	uart_puts("spinning\n");
	for (;;)
		__asm__ volatile("pause");
}
