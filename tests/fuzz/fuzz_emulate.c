// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer harness for the x86 emulator (arch/x86/emulate/): random CPU
 * state and random instruction bytes, decoded and executed against a fake
 * guest that never refuses an address: 64 KiB of RAM (mirrored over the
 * whole physical space, so page walks read whatever the input put there),
 * MMIO above 0xd0000000 that returns a pattern, and I/O ports.  Built with
 * ASan and UBSan (make fuzz); any report or crash is a bug in the
 * emulator, which must turn every input into a result or an exception.
 *
 * Input layout: 1 byte mode (real / 32-bit / 64-bit, paging, CPL), 16 GPRs
 * and RFLAGS (8 bytes each, shorter inputs are zero-filled), then up to 15
 * instruction bytes; the rest of the input seeds guest RAM.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86/emulate/emulate.h"

#define RAM_SIZE  0x10000u
#define MMIO_BASE 0xd0000000ULL

static uint8_t ram[RAM_SIZE];

static int fake_read(void *ctx, uint64_t gpa, void *buf, size_t len)
{
	(void)ctx;
	if (gpa >= MMIO_BASE) {
		memset(buf, 0xa5, len);
		return 0;
	}
	for (size_t i = 0; i < len; i++)
		((uint8_t *)buf)[i] = ram[(gpa + i) % RAM_SIZE];
	return 0;
}

static int fake_write(void *ctx, uint64_t gpa, const void *buf, size_t len)
{
	(void)ctx;
	if (gpa >= MMIO_BASE)
		return 0;
	for (size_t i = 0; i < len; i++)
		ram[(gpa + i) % RAM_SIZE] = ((const uint8_t *)buf)[i];
	return 0;
}

static int fake_cmpxchg(void *ctx, uint64_t gpa, void *expected, const void *desired, size_t len,
			bool *swapped)
{
	uint8_t cur[16];

	if (gpa >= MMIO_BASE || len > sizeof(cur))
		return -EFAULT;
	fake_read(ctx, gpa, cur, len);
	*swapped = memcmp(cur, expected, len) == 0;
	if (*swapped)
		fake_write(ctx, gpa, desired, len);
	else
		memcpy(expected, cur, len);
	return 0;
}

static int fake_pio(void *ctx, uint16_t port, void *data, unsigned size, bool is_write)
{
	(void)ctx;
	if (!is_write)
		memset(data, (uint8_t)port, size);
	return 0;
}

static const struct emu_mem_ops ops = {
	.pio = fake_pio,
	.read_phys = fake_read,
	.write_phys = fake_write,
	.cmpxchg_phys = fake_cmpxchg,
};

static uint64_t take64(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;
	size_t k = *n < 8 ? *n : 8;

	memcpy(&v, *p, k);
	*p += k;
	*n -= k;
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct emu_cpu cpu;
	struct emu_insn insn;
	struct emu_result res;
	uint8_t mode = size ? data[0] : 0;
	const uint8_t *p = size ? data + 1 : data;
	size_t n = size ? size - 1 : 0;

	memset(&cpu, 0, sizeof(cpu));
	for (unsigned i = 0; i < 16; i++)
		cpu.gpr[i] = take64(&p, &n);
	cpu.rflags = (take64(&p, &n) & 0x3f7fd5) | 0x2;
	switch (mode & 3) {
	case 0:					/* real mode */
		break;
	case 1:					/* 32-bit protected, maybe paged */
		cpu.cr0 = 0x1 | ((mode & 4) ? 0x80010000ULL : 0);
		cpu.cs_db = cpu.ss_db = true;
		break;
	default:				/* 64-bit, 4- or 5-level paging */
		cpu.cr0 = 0x80010001ULL;
		cpu.cr4 = 0x20 | ((mode & 8) ? 1ULL << 12 : 0);
		cpu.efer = 0xd00;
		cpu.cs_l = true;
		break;
	}
	cpu.cpl = (mode >> 4) & 3;
	cpu.cr3 = ((uint64_t)mode << 12) & 0xf000;
	cpu.rip = cpu.gpr[0] & 0xffff;
	cpu.seg_base[EMU_SEG_FS] = cpu.gpr[1] & 0xffff0;
	size_t ilen = n < EMU_MAX_INSN_LEN ? n : EMU_MAX_INSN_LEN;
	const uint8_t *bytes = p;
	memset(ram, 0, sizeof(ram));
	if (n > ilen)
		memcpy(ram, p + ilen, n - ilen < RAM_SIZE ? n - ilen : RAM_SIZE);

	if (emu_decode(bytes, ilen, emu_cpu_mode(&cpu), &insn) == 0)
		emu_execute(&cpu, &insn, &ops, NULL, &res);
	emu_step(&cpu, bytes, ilen, &ops, NULL, &insn, &res);
	return 0;
}
