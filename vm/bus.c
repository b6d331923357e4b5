// SPDX-License-Identifier: GPL-2.0-only
#include "vm/bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t len, bus_access_fn access,
		 void *opaque, const char *name, struct ember_err *err)
{
	if (len == 0 || base + len < base)
		return ember_fail(err, EINVAL, "internal: bad %s range for %s", bus->name, name);
	if (bus->nr == BUS_MAX_RANGES)
		return ember_fail(err, ENOSPC, "too many %s devices (max %d)", bus->name,
				  BUS_MAX_RANGES);

	unsigned pos = 0;
	while (pos < bus->nr && bus->range[pos].base < base)
		pos++;
	/* Neighbours on either side must not overlap the new range. */
	if (pos > 0) {
		const struct bus_range *prev = &bus->range[pos - 1];
		if (prev->base + prev->len > base)
			return ember_fail(err, EBUSY, "internal: %s %#llx of %s overlaps %s",
					  bus->name, (unsigned long long)base, name, prev->name);
	}
	if (pos < bus->nr && base + len > bus->range[pos].base)
		return ember_fail(err, EBUSY, "internal: %s %#llx of %s overlaps %s", bus->name,
				  (unsigned long long)base, name, bus->range[pos].name);

	memmove(&bus->range[pos + 1], &bus->range[pos], (bus->nr - pos) * sizeof(bus->range[0]));
	bus->range[pos] = (struct bus_range){ base, len, access, opaque, name };
	bus->nr++;
	return 0;
}

const struct bus_range *bus_find(const struct bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->range[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct bus *bus, uint64_t addr, uint8_t *data, unsigned len,
		bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);

	if (!is_write)
		memset(data, 0xff, len);
	if (!r)
		return false;
	r->access(r->opaque, addr - r->base, data, len, is_write);
	return true;
}
