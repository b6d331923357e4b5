// SPDX-License-Identifier: GPL-2.0-only
/* Minimal runtime shared by the test guests: UART output, exit, strings. */
#include "guest.h"

/*
 * Poll LSR.THRE before each byte, as the kernel's early console does.  The
 * poll is bounded so that a broken UART model shows up as missing output
 * (a clear test failure) rather than a guest spinning until the timeout.
 */
void uart_putc(char c)
{
	for (int i = 0; i < 10000; i++)
		if (inb(EMBER_UART_PORT + UART_LSR) & UART_LSR_THRE)
			break;
	outb(EMBER_UART_PORT + UART_TX, (uint8_t)c);
}

void uart_puts(const char *s)
{
	while (*s)
		uart_putc(*s++);
}

char *utoa(uint64_t v, char *buf)
{
	char tmp[20];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

void uart_put_uint(uint64_t v)
{
	char buf[21];

	uart_puts(utoa(v, buf));
}

void uart_put_hex(uint64_t v)
{
	int shift = 60;

	uart_puts("0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		uart_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

const char *guest_cmdline(const void *boot_params)
{
	uint32_t ptr;

	if (!boot_params)
		return "";
	ptr = *(const volatile uint32_t *)((const char *)boot_params + BP_CMD_LINE_PTR);
	return ptr ? (const char *)(uintptr_t)ptr : "";
}

const char *cmdline_find(const char *cmdline, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = cmdline; *p; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		if (!memcmp(p, key, klen))
			return p + klen;
	}
	return NULL;
}

int parse_uint(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return -1;
	while (*s >= '0' && *s <= '9')
		v = v * 10 + (uint64_t)(*s++ - '0');
	*out = v;
	return 0;
}

void fail(int status, const char *msg)
{
	if (msg)
		uart_puts(msg);
	exit_with(status);
}

void exit_with(int status)
{
	outb(EMBER_EXIT_PORT, (uint8_t)status);
	/* The VMM ignored the exit port: stop in a way it cannot miss. */
	triple_fault();
}

void triple_fault(void)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} null_idt = { 0, 0 };

	/* #UD finds no IDT entry -> #GP -> #DF -> shutdown. */
	__asm__ volatile("lidt %0\n\tud2" : : "m"(null_idt));
	__builtin_unreachable();
}

/*
 * gcc may emit calls to these even with -ffreestanding.  Byte loops are
 * enough: guests touch a few dozen bytes.
 */
void *memset(void *d, int c, size_t n)
{
	unsigned char *p = d;

	while (n--)
		*p++ = (unsigned char)c;
	return d;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	while (n--)
		*dp++ = *sp++;
	return d;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}
