/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host terminal: raw mode while a guest owns it (only when stdin is a
 * tty), restored on every way out of vm_run.
 */
#ifndef EMBER_VM_TERM_H
#define EMBER_VM_TERM_H

#include <stdbool.h>
#include <termios.h>

struct term {
	struct termios saved;
	bool raw;
};

void term_enter_raw(struct term *t);
void term_restore(struct term *t);

#endif
