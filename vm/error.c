// SPDX-License-Identifier: GPL-2.0-only
#include "vm/error.h"

#include <stdarg.h>
#include <stdio.h>

int ember_fail(struct ember_err *err, int errnum, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return -(errnum > 0 ? errnum : 1);
}
