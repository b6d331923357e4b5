// SPDX-License-Identifier: GPL-2.0-only
/*
 * Counts forever in a word of guest RAM that the host reads
 * (tests/guests/lifecycle.c): while the VM is paused the count must stand
 * still, after a resume it must move again.
 */
#include "guest.h"

#define COUNT_GPA 0x300000ULL /* 3 MiB: above the guest image, inside 16 MiB of RAM */

int guest_main(const void *boot_params)
{
	volatile uint64_t *count = (volatile uint64_t *)COUNT_GPA;

	(void)boot_params;
	uart_puts("counting\n");
	for (;;)
		(*count)++;
}
