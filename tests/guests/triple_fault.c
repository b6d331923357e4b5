// SPDX-License-Identifier: GPL-2.0-only
/*
 * Shuts the CPU down without reporting a status: an exception with a
 * zero-limit IDT escalates to a triple fault, which ember must turn into
 * its "guest stopped without a status" exit code, not a hang or a crash.
 */
#include "guest.h"

int guest_main(const void *boot_params)
{
	(void)boot_params;
	triple_fault();
}
