// SPDX-License-Identifier: GPL-2.0-only
/*
 * Atomic compare-exchange on host memory for the VMM's cmpxchg_phys.
 * On x86-64 this is one locked cmpxchg instruction (cmpxchg16b for 16
 * bytes), written as inline assembly so that it is lock-free, needs
 * neither -mcx16 nor libatomic, and links statically.  Guest memory may
 * be misaligned for 4 and 8 bytes (a split lock then, still atomic).
 */
#include <errno.h>
#include <string.h>

#include "arch/x86/emulate/emulate.h"

#if defined(__x86_64__)

static bool cmpxchg4(void *p, uint32_t *old, uint32_t new)
{
	bool ok;

	__asm__ __volatile__("lock cmpxchgl %[new], %[mem]"
			     : "=@ccz"(ok), [mem] "+m"(*(volatile uint8_t (*)[4])p), "+a"(*old)
			     : [new] "r"(new)
			     : "memory");
	return ok;
}

static bool cmpxchg8(void *p, uint64_t *old, uint64_t new)
{
	bool ok;

	__asm__ __volatile__("lock cmpxchgq %[new], %[mem]"
			     : "=@ccz"(ok), [mem] "+m"(*(volatile uint8_t (*)[8])p), "+a"(*old)
			     : [new] "r"(new)
			     : "memory");
	return ok;
}

/* Vol 2A "CMPXCHG8B/CMPXCHG16B": m128 must be 16-byte aligned. */
static bool cmpxchg16(void *p, uint64_t old[2], const uint64_t new[2])
{
	bool ok;

	__asm__ __volatile__("lock cmpxchg16b %[mem]"
			     : "=@ccz"(ok), [mem] "+m"(*(volatile uint8_t (*)[16])p),
			       "+a"(old[0]), "+d"(old[1])
			     : "b"(new[0]), "c"(new[1])
			     : "memory");
	return ok;
}

#else

static bool cmpxchg4(void *p, uint32_t *old, uint32_t new)
{
	return __atomic_compare_exchange_n((uint32_t *)p, old, new, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static bool cmpxchg8(void *p, uint64_t *old, uint64_t new)
{
	return __atomic_compare_exchange_n((uint64_t *)p, old, new, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static bool cmpxchg16(void *p, uint64_t old[2], const uint64_t new[2])
{
	(void)p; (void)old; (void)new;
	return false;
}

#endif

int emu_host_cmpxchg(void *hva, void *expected, const void *desired,
		     size_t len, bool *swapped)
{
	uint64_t old[2] = { 0 }, new[2] = { 0 };
	uint32_t old4, new4;

	if (!hva || !expected || !desired || !swapped)
		return -EINVAL;
	switch (len) {
	case 4:
		memcpy(&old4, expected, 4);
		memcpy(&new4, desired, 4);
		*swapped = cmpxchg4(hva, &old4, new4);
		memcpy(expected, &old4, 4);
		return 0;
	case 8:
		memcpy(&old[0], expected, 8);
		memcpy(&new[0], desired, 8);
		*swapped = cmpxchg8(hva, &old[0], new[0]);
		memcpy(expected, &old[0], 8);
		return 0;
	case 16:
#if !defined(__x86_64__)
		return -EOPNOTSUPP;
#endif
		if ((uintptr_t)hva & 15)
			return -EINVAL;
		memcpy(old, expected, 16);
		memcpy(new, desired, 16);
		*swapped = cmpxchg16(hva, old, new);
		memcpy(expected, old, 16);
		return 0;
	default:
		return -EINVAL;
	}
}
