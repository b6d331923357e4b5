// SPDX-License-Identifier: GPL-2.0-only
/*
 * Guest page walk: linear -> guest-physical, as the processor does it for
 * the paging mode in CR0/CR4/EFER (SDM Vol 3A chapter 4): no paging,
 * 32-bit (4 KiB and 4 MiB pages), PAE (4 KiB, 2 MiB), 4-level and 5-level
 * (4 KiB, 2 MiB, 1 GiB).  Permission checks follow Vol 3A §4.6, the #PF
 * error code §4.7, accessed/dirty bits §4.8.  Page-table entries are read
 * only through read_phys, and A/D bits set only through cmpxchg_phys.
 *
 * Not modelled: protection keys (CR4.PKE/PKS), the PDPTE registers of PAE
 * paging (the PDPTEs are re-read from memory), TLBs, implicit supervisor
 * accesses (descriptor tables), and MAXPHYADDR beyond cpu->maxphyaddr.
 */
#include <errno.h>

#include "arch/x86/emulate/internal.h"

#define PTE_P	(1ULL << 0)
#define PTE_RW	(1ULL << 1)
#define PTE_US	(1ULL << 2)
#define PTE_A	(1ULL << 5)
#define PTE_D	(1ULL << 6)
#define PTE_PS	(1ULL << 7)
#define PTE_XD	(1ULL << 63)

/* A walk whose A/D update lost a race is retried this many times. */
#define MMU_MAX_RETRIES 8

enum paging { PG_NONE, PG_32, PG_PAE, PG_4L, PG_5L };

struct walk {
	const struct emu_cpu *cpu;
	const struct emu_mem_ops *ops;
	void *ctx;
	enum paging mode;
	uint64_t addr_mask;	/* physical-address bits of an 8-byte entry */
	uint64_t rsvd_hi;	/* reserved high bits of an 8-byte entry */
	bool nxe;
};

/* One paging-structure entry used by a translation. */
struct walk_entry {
	uint64_t gpa, val;
	unsigned size;		/* 4 or 8 */
};

static enum paging mmu_paging(const struct emu_cpu *cpu)
{
	if (!(cpu->cr0 & X86_CR0_PG) || !(cpu->cr0 & X86_CR0_PE))
		return PG_NONE;
	if (!(cpu->cr4 & X86_CR4_PAE))
		return PG_32;
	if (!(cpu->efer & X86_EFER_LMA))
		return PG_PAE;
	return (cpu->cr4 & X86_CR4_LA57) ? PG_5L : PG_4L;
}

static int mmu_read_entry(const struct walk *w, uint64_t gpa, unsigned size, uint64_t *val)
{
	uint8_t b[8];
	int r = w->ops->read_phys(w->ctx, gpa, b, size);

	if (r)
		return emu_cb_err(r);
	*val = emu_le_get(b, size);
	return 0;
}

/*
 * Sets bits in an entry if it still holds ent->val.  Returns 0, 1 if the
 * entry changed under us (walk again), or -errno.  A 4-byte entry is
 * updated through the aligned 8-byte word that holds it.
 */
static int mmu_set_bits(const struct walk *w, const struct walk_entry *ent, uint64_t bits)
{
	uint64_t gpa = ent->gpa & ~7ULL, old;
	unsigned shift = (unsigned)(ent->gpa & 4) * 8;
	uint8_t expected[8], desired[8];
	bool swapped = false;
	int r;

	if (!w->ops->cmpxchg_phys)
		return -ENOSYS;
	if (ent->size == 8) {
		old = ent->val;
	} else {
		r = mmu_read_entry(w, gpa, 8, &old);
		if (r)
			return r;
		if (((old >> shift) & 0xffffffffULL) != ent->val)
			return 1;
		bits <<= shift;
	}
	emu_le_put(expected, 8, old);
	emu_le_put(desired, 8, old | bits);
	r = w->ops->cmpxchg_phys(w->ctx, gpa, expected, desired, 8, &swapped);
	if (r)
		return emu_cb_err(r);
	return swapped ? 0 : 1;
}

/* Reserved bits of an entry at a level (Vol 3A Figures 4-4, 4-8, 4-11). */
static uint64_t mmu_rsvd(const struct walk *w, int level, uint64_t e)
{
	uint64_t rsvd;
	unsigned m;

	if (w->mode == PG_32) {
		if (level != 2 || !(e & PTE_PS) || !(w->cpu->cr4 & X86_CR4_PSE))
			return 0;
		/* 4 MiB page: bits 20:13 hold PA bits 39:32 (PSE-36); bit 21 is reserved. */
		m = w->cpu->maxphyaddr;
		m = m < 32 ? 40 : m > 40 ? 40 : m;
		return (1ULL << 21) | (((1ULL << 21) - 1) & ~((1ULL << (13 + m - 32)) - 1));
	}
	rsvd = w->rsvd_hi | (w->nxe ? 0 : PTE_XD);
	if (level >= 4)
		rsvd |= PTE_PS;
	else if (level == 3 && (e & PTE_PS))
		rsvd |= 0x3fffe000ULL;	/* 1 GiB page: bits 29:13 */
	else if (level == 2 && (e & PTE_PS))
		rsvd |= 0x1fe000ULL;	/* 2 MiB page: bits 20:13 */
	return rsvd;
}

/* Is the entry at this level a leaf (maps a page)? */
static bool mmu_is_leaf(const struct walk *w, int level, uint64_t e)
{
	if (level == 1)
		return true;
	if (!(e & PTE_PS))
		return false;
	if (level == 2)
		return w->mode != PG_32 || (w->cpu->cr4 & X86_CR4_PSE);
	return level == 3 && (w->mode == PG_4L || w->mode == PG_5L);
}

/* Physical address of la inside the page a leaf entry maps. */
static uint64_t mmu_leaf_gpa(const struct walk *w, int level, uint64_t e, uint64_t la)
{
	uint64_t off_mask;

	if (w->mode == PG_32) {
		if (level == 1)
			return (e & 0xfffff000ULL) | (la & 0xfff);
		return (e & 0xffc00000ULL) | ((e >> 13) & 0xff) << 32 | (la & 0x3fffff);
	}
	off_mask = (1ULL << (12 + 9 * (level - 1))) - 1;
	return (e & w->addr_mask & ~off_mask) | (la & off_mask);
}

/* Vol 3A §4.6: may this access use a translation with these rights? */
static bool mmu_allowed(const struct emu_cpu *cpu, unsigned access, bool user,
			bool us, bool rw, bool xd)
{
	bool write = access & EMU_ACC_WRITE, fetch = access & EMU_ACC_FETCH;

	if (access & EMU_ACC_PEEK)
		return true;
	if (fetch && xd)
		return false;
	if (user)
		return us && (!write || rw);
	/* Supervisor-mode access. */
	if (write && !rw && (cpu->cr0 & X86_CR0_WP))
		return false;
	if (fetch)
		return !(us && (cpu->cr4 & X86_CR4_SMEP));
	/* SMAP: explicit data accesses with RFLAGS.AC = 1 are allowed. */
	return !(us && (cpu->cr4 & X86_CR4_SMAP) && !(cpu->rflags & X86_FLAGS_AC));
}

/* Returns 0, 1 (retry), -EFAULT with *err, or -errno. */
static int mmu_walk(const struct walk *w, uint64_t la, unsigned access,
		    uint64_t *gpa, uint32_t *err)
{
	const struct emu_cpu *cpu = w->cpu;
	bool user = !(access & EMU_ACC_PEEK) && cpu->cpl == 3;
	bool us = true, rw = true, xd = false;
	struct walk_entry ents[5];
	unsigned esize = 8, bits = 9, n = 0;
	uint64_t table, e = 0;
	int level, r;

	*err = (access & EMU_ACC_WRITE ? EMU_PF_W : 0) | (user ? EMU_PF_U : 0);
	if ((access & EMU_ACC_FETCH) && (w->nxe || (cpu->cr4 & X86_CR4_SMEP)))
		*err |= EMU_PF_ID;

	switch (w->mode) {
	case PG_NONE:
		*gpa = la & 0xffffffffULL;
		return 0;
	case PG_32:
		table = cpu->cr3 & 0xfffff000ULL;
		level = 2;
		esize = 4;
		bits = 10;
		break;
	case PG_PAE:
		/* The PDPTE: no R/W, U/S or XD bits (Vol 3A §4.4.1, Table 4-8). */
		r = mmu_read_entry(w, (cpu->cr3 & 0xffffffe0ULL) + ((la >> 30) & 3) * 8, 8, &e);
		if (r)
			return r;
		if (!(e & PTE_P))
			return -EFAULT;
		if (e & (w->rsvd_hi | PTE_XD | 0x1e6ULL)) {
			*err |= EMU_PF_P | EMU_PF_RSVD;
			return -EFAULT;
		}
		table = e & w->addr_mask;
		level = 2;
		break;
	default:
		table = cpu->cr3 & w->addr_mask;
		level = w->mode == PG_5L ? 5 : 4;
		break;
	}

	for (;; level--) {
		unsigned shift = 12 + bits * (unsigned)(level - 1);
		uint64_t egpa = table + ((la >> shift) & ((1ULL << bits) - 1)) * esize;

		r = mmu_read_entry(w, egpa, esize, &e);
		if (r)
			return r;
		if (!(e & PTE_P))
			return -EFAULT;
		if (e & mmu_rsvd(w, level, e)) {
			*err |= EMU_PF_P | EMU_PF_RSVD;
			return -EFAULT;
		}
		us = us && (e & PTE_US);
		rw = rw && (e & PTE_RW);
		xd = xd || (w->nxe && (e & PTE_XD));
		ents[n++] = (struct walk_entry){ .gpa = egpa, .val = e, .size = esize };
		if (mmu_is_leaf(w, level, e))
			break;
		table = esize == 4 ? (e & 0xfffff000ULL) : (e & w->addr_mask);
	}

	if (!mmu_allowed(cpu, access, user, us, rw, xd)) {
		*err |= EMU_PF_P;
		return -EFAULT;
	}
	*gpa = mmu_leaf_gpa(w, level, e, la);
	if (access & EMU_ACC_PEEK)
		return 0;

	/* Vol 3A §4.8: accessed in every entry used, dirty in the leaf on a write. */
	for (unsigned i = 0; i < n; i++) {
		uint64_t need = PTE_A;

		if (i == n - 1 && (access & EMU_ACC_WRITE))
			need |= PTE_D;
		if ((ents[i].val & need) == need)
			continue;
		r = mmu_set_bits(w, &ents[i], need);
		if (r)
			return r;
	}
	return 0;
}

int emu_mmu_translate(const struct emu_cpu *cpu, const struct emu_mem_ops *ops,
		      void *ctx, uint64_t la, unsigned access, uint64_t *gpa,
		      uint32_t *pf_error)
{
	struct walk w = { .cpu = cpu, .ops = ops, .ctx = ctx };
	unsigned maxphy;
	uint32_t err = 0;
	int r = -EAGAIN;

	if (!cpu || !ops || !ops->read_phys || !gpa)
		return -EINVAL;
	maxphy = cpu->maxphyaddr >= 32 && cpu->maxphyaddr < 52 ? cpu->maxphyaddr : 52;
	w.mode = mmu_paging(cpu);
	w.addr_mask = ((1ULL << maxphy) - 1) & ~0xfffULL;
	w.rsvd_hi = ((1ULL << 52) - 1) & ~((1ULL << maxphy) - 1);
	if (w.mode == PG_PAE)
		w.rsvd_hi |= 0x7ff0000000000000ULL;	/* PAE: bits 62:M are reserved too */
	w.nxe = w.mode >= PG_PAE && (cpu->efer & X86_EFER_NXE);

	for (unsigned i = 0; i < MMU_MAX_RETRIES; i++) {
		r = mmu_walk(&w, la, access, gpa, &err);
		if (r != 1)
			break;
		r = -EAGAIN;
	}
	if (r == -EFAULT && pf_error)
		*pf_error = err;
	return r;
}
