// SPDX-License-Identifier: GPL-2.0-only
#include "arch/x86/i8042.h"

#include <string.h>

#define STATUS_OUT_FULL 0x01
#define STATUS_SYSFLAG  0x04
#define CMD_READ_CTR    0x20
#define CMD_WRITE_CTR   0x60
#define CMD_SELF_TEST   0xaa
#define CMD_IF_TEST     0xab
#define CMD_WRITE_OUTP  0xd1
#define CMD_RESET       0xfe

void i8042_init(struct i8042 *k, void (*reset)(void *), void *opaque)
{
	memset(k, 0, sizeof(*k));
	pthread_mutex_init(&k->lock, NULL);
	k->ctr = 0x30; /* keyboard and aux clocks disabled, no interrupts */
	k->reset = reset;
	k->opaque = opaque;
}

void i8042_destroy(struct i8042 *k)
{
	pthread_mutex_destroy(&k->lock);
}

static void reply(struct i8042 *k, uint8_t byte)
{
	k->out = byte;
	k->out_full = true;
}

/* Returns true when the guest asked for a reset. */
static bool command(struct i8042 *k, uint8_t cmd)
{
	switch (cmd) {
	case CMD_READ_CTR: reply(k, k->ctr); break;
	case CMD_SELF_TEST: reply(k, 0x55); break;
	case CMD_IF_TEST: reply(k, 0x00); break;
	case CMD_WRITE_CTR:
	case CMD_WRITE_OUTP: k->pending_cmd = cmd; break;
	case CMD_RESET: return true;
	default: break;
	}
	return false;
}

static bool data_write(struct i8042 *k, uint8_t val)
{
	uint8_t cmd = k->pending_cmd;

	k->pending_cmd = 0;
	if (cmd == CMD_WRITE_CTR)
		k->ctr = val;
	/* Output port bit 0 low is the CPU reset line. */
	return cmd == CMD_WRITE_OUTP && !(val & 0x01);
}

void i8042_access(void *opaque, uint64_t offset, uint8_t *data, unsigned len, bool is_write)
{
	struct i8042 *k = opaque;
	bool reset = false;

	if (len != 1 || (offset != 0 && offset != 4))
		return;
	pthread_mutex_lock(&k->lock);
	if (offset == 4 && is_write) {
		reset = command(k, data[0]);
	} else if (offset == 4) {
		data[0] = STATUS_SYSFLAG | (k->out_full ? STATUS_OUT_FULL : 0);
	} else if (is_write) {
		reset = data_write(k, data[0]);
	} else {
		data[0] = k->out;
		k->out_full = false;
	}
	pthread_mutex_unlock(&k->lock);
	if (reset && k->reset)
		k->reset(k->opaque);
}
