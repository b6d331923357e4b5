/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The PC keyboard controller, only as far as a guest needs it to reboot:
 * command 0xfe pulses the reset line, which stops a one-shot VM.  A few
 * probe commands answer like a controller with no keyboard attached.
 */
#ifndef EMBER_ARCH_X86_I8042_H
#define EMBER_ARCH_X86_I8042_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define I8042_DATA_PORT    0x60
#define I8042_COMMAND_PORT 0x64

struct i8042 {
	pthread_mutex_t lock;
	uint8_t ctr;          /* controller configuration byte */
	uint8_t out;          /* output buffer */
	bool out_full;
	uint8_t pending_cmd;  /* command waiting for its data byte */
	void (*reset)(void *opaque);
	void *opaque;
};

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque);
void i8042_destroy(struct i8042 *k);
/* Bus handler registered at port 0x60 (offset 0) .. 0x64 (offset 4). */
void i8042_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write);

#endif
