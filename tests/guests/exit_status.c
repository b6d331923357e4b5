// SPDX-License-Identifier: GPL-2.0-only
/*
 * Exits with the number after `status=` on the command line (default 42):
 * checks that the cmdline reaches the guest and the exit port's value
 * reaches ember's exit code unchanged.
 */
#include "guest.h"

int guest_main(const void *boot_params)
{
	const char *v = cmdline_find(guest_cmdline(boot_params), "status=");
	uint64_t status = 42;

	if (v && parse_uint(v, &status))
		fail(1, "exit_status: status= has no number\n");
	return (int)(status & 0xff);
}
