// SPDX-License-Identifier: GPL-2.0-only
#include "vm/term.h"

#include <unistd.h>

void term_enter_raw(struct term *t)
{
	if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &t->saved) < 0)
		return;
	struct termios raw = t->saved;
	/* The guest's tty does echo, line editing and signals (Ctrl-C reaches the guest). */
	cfmakeraw(&raw);
	raw.c_oflag |= OPOST | ONLCR; /* keep host output sane if ember prints an error */
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
		t->raw = true;
}

void term_restore(struct term *t)
{
	if (t->raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &t->saved);
	t->raw = false;
}
