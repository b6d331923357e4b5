/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Address ranges -> device handlers, one bus for port I/O and one for MMIO.
 * Devices register before any vCPU runs; after that the table is read-only,
 * so lookups from vCPU threads need no lock (devices lock their own state).
 */
#ifndef EMBER_VM_BUS_H
#define EMBER_VM_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include "vm/error.h"

/*
 * Called on a guest access at `offset` from the range's base.  For reads
 * the handler fills data[0..len); unhandled bytes stay as the bus preset
 * them (all ones, like an open bus).
 */
typedef void (*bus_access_fn)(void *opaque, uint64_t offset, uint8_t *data,
			      unsigned len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_access_fn access;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct bus {
	struct bus_range range[BUS_MAX_RANGES]; /* sorted by base, non-overlapping */
	unsigned nr;
	const char *name; /* "port" or "mmio", for error messages */
};

void bus_init(struct bus *bus, const char *name);
int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access,
		 void *opaque, const char *name, struct ember_err *err);
const struct bus_range *bus_find(const struct bus *bus, uint64_t addr);

/*
 * Dispatches one access.  Returns false when no device claims `addr`
 * (reads then see all ones, writes are dropped).
 */
bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write);

#endif
