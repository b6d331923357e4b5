// SPDX-License-Identifier: GPL-2.0-only
#include "vm/guest_abi.h"

#include <stdio.h>
#include <string.h>

#include "vm/machine.h"

static void exit_status_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			       bool is_write)
{
	struct guest_abi *abi = opaque;
	(void)offset;
	(void)len;
	if (is_write)
		machine_request_stop(abi->machine, data[0]);
}

static void console_ready_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
				 bool is_write)
{
	struct guest_abi *abi = opaque;
	(void)offset;
	(void)data;
	(void)len;
	if (is_write && abi->on_console_ready)
		abi->on_console_ready(abi->opaque);
}

static void boot_timer_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len,
			      bool is_write)
{
	struct guest_abi *abi = opaque;

	(void)len;
	if (!is_write || offset != 0 || data[0] != GUEST_ABI_BOOT_TIMER_MAGIC)
		return;
	uint64_t ns = machine_elapsed_ns(abi->machine);
	uint64_t expected = 0;
	/* Only the first write counts: it marks the guest's init starting. */
	__atomic_compare_exchange_n(&abi->boot_timer_ns, &expected, ns, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
	if (expected == 0 && abi->report_boot_timer)
		fprintf(stderr, "ember: guest boot took %.1f ms (boot-timer write)\r\n", ns / 1e6);
}

static int add_reg(struct machine *m, const struct guest_abi_reg *reg, bus_access_fn fn,
		   struct guest_abi *abi, const char *name, struct ember_err *err)
{
	return bus_register(reg->pio ? &m->pio : &m->mmio, reg->addr, reg->len, fn, abi, name, err);
}

int guest_abi_init(struct guest_abi *abi, struct machine *m, const struct guest_abi_layout *layout,
		   struct ember_err *err)
{
	int rc;

	abi->machine = m;
	abi->boot_timer_ns = 0;
	if ((rc = add_reg(m, &layout->exit_status, exit_status_access, abi, "exit port", err)) ||
	    (rc = add_reg(m, &layout->console_ready, console_ready_access, abi, "console ready",
			  err)) ||
	    (rc = add_reg(m, &layout->boot_timer, boot_timer_access, abi, "boot timer", err)))
		return rc;
	return 0;
}
