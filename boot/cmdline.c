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

static int is_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("/_.,:+=-", c) != NULL;
}

int cmdline_append_encoded(struct cmdline *cl, const char *key, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t old = cl->len;
	int rc = put_separator(cl);

	if (!rc)
		rc = put(cl, key, strlen(key));
	for (const unsigned char *p = (const unsigned char *)value; !rc && *p; p++) {
		if (is_plain(*p) && *p != '\0') {
			rc = put(cl, (const char *)p, 1);
		} else {
			char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
			rc = put(cl, esc, 3);
		}
	}
	if (rc) {
		cl->len = old;
		cl->buf[old] = '\0';
	}
	return rc;
}
