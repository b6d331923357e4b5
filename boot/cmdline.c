// SPDX-License-Identifier: GPL-2.0-only
#include "boot/cmdline.h"

#include <errno.h>
#include <string.h>

void cmdline_init(struct cmdline *cl, char *buf, size_t size)
{
	cl->buf = buf;
	cl->size = size;
	cl->len = 0;
	if (size)
		buf[0] = '\0';
}

static int put(struct cmdline *cl, const char *s, size_t n)
{
	if (cl->len + n + 1 > cl->size)
		return -E2BIG;
	memcpy(cl->buf + cl->len, s, n);
	cl->len += n;
	cl->buf[cl->len] = '\0';
	return 0;
}

static int put_separator(struct cmdline *cl)
{
	return cl->len ? put(cl, " ", 1) : 0;
}

int cmdline_append(struct cmdline *cl, const char *words)
{
	size_t old = cl->len;

	while (*words == ' ')
		words++;
	if (!*words)
		return 0;
	if (put_separator(cl) || put(cl, words, strlen(words))) {
		cl->len = old;
		cl->buf[old] = '\0';
		return -E2BIG;
	}
	return 0;
}
