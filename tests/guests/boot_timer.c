// SPDX-License-Identifier: GPL-2.0-only
/*
 * Firecracker-compatible boot timer: the magic byte at its MMIO address
 * makes `ember run --boot-timer` report the time since ember started.
 */
#include "guest.h"

int guest_main(const void *boot_params)
{
	volatile uint8_t *timer = (volatile uint8_t *)(uintptr_t)EMBER_BOOT_TIMER_GPA;

	(void)boot_params;
	*timer = EMBER_BOOT_TIMER_MAGIC;
	uart_puts("timer written\n");
	return 0;
}
