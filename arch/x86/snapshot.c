// SPDX-License-Identifier: GPL-2.0-only
/*
 * x86 KVM state in and out of a snapshot (vm/snapshot_file.h sections):
 * per vCPU its CPUID, registers, FPU/XSAVE, XCRs, debug registers, MSRs,
 * LAPIC, pending events and MP state; per VM the PIC pair, the IOAPIC, the
 * PIT and the kvmclock.  Restore order follows what KVM needs (and
 * Firecracker's restore): CPUID first (it decides which state is valid),
 * MP state, registers, special registers, XSAVE, XCRs, debug registers,
 * LAPIC, then MSRs (TSC_DEADLINE only means something once the LAPIC is
 * in TSC-deadline mode), and pending events last.
 *
 * ../shared/pvm-notes.md "Snapshot and restore on this host": every ioctl
 * here works on kvm_pvm; IA32_XSS reads but cannot be written back (not
 * saved); MTRRdefType is outside KVM's MSR list but the guest relies on
 * it (saved); the guest TSC cannot be set there (the TSC MSR write is a
 * no-op), which is why snapshots must not cross a host boot on such hosts.
 */
#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/arch.h"
#include "arch/x86/pvm.h"

/* Section tags: 0x100-0x1ff are x86's (vm/snapshot_file.h leaves meaning to its users). */
enum {
	SNAP_X86_CPUID = 0x100,
	SNAP_X86_REGS,
	SNAP_X86_SREGS,
	SNAP_X86_XSAVE,
	SNAP_X86_XCRS,
	SNAP_X86_DEBUGREGS,
	SNAP_X86_MSRS,
	SNAP_X86_LAPIC,
	SNAP_X86_EVENTS,
	SNAP_X86_MP_STATE,
	SNAP_X86_IRQCHIP, /* index: KVM_IRQCHIP_PIC_MASTER, _SLAVE, _IOAPIC */
	SNAP_X86_PIT,
	SNAP_X86_CLOCK,
	SNAP_X86_UART,
	SNAP_X86_I8042,
	SNAP_X86_RTC,
};

#define MAX_CPUID_ENTRIES 256
#define MSR_IA32_XSS        0xda0
#define MSR_MTRR_DEF_TYPE   0x2ff

/* ---- helpers ------------------------------------------------------------------------ */

static int get_put(int fd, unsigned long req, const char *name, void *buf, size_t len,
		   struct snapshot_writer *w, uint32_t tag, uint32_t index, struct ember_err *err)
{
	if (ioctl(fd, req, buf) < 0)
		return ember_fail(err, errno, "snapshot: %s: %s", name, strerror(errno));
	int rc = snapshot_put(w, tag, index, buf, len);
	return rc ? ember_fail(err, -rc, "snapshot: state too large") : 0;
}

/* The section (tag, index) of exactly `len` bytes, or an error naming it. */
static const void *need(const struct snapshot_reader *r, uint32_t tag, uint32_t index, size_t len,
			const char *name, struct ember_err *err)
{
	const struct snapshot_section *s = snapshot_find(r, tag, index);
	if (!s || s->len != len) {
		ember_fail(err, EINVAL, "snapshot: %s of vCPU/chip %u %s", name, index,
			   s ? "has the wrong size" : "is missing");
		return NULL;
	}
	return s->data;
}

static int set_from(int fd, unsigned long req, const char *name, const struct snapshot_reader *r,
		    uint32_t tag, uint32_t index, size_t len, struct ember_err *err)
{
	const void *data = need(r, tag, index, len, name, err);
	if (!data)
		return -EINVAL;
	/* ioctls take non-const buffers: work on a copy, the reader stays intact. */
	void *copy = malloc(len);
	if (!copy)
		return ember_fail(err, ENOMEM, "out of memory");
	memcpy(copy, data, len);
	int rc = ioctl(fd, req, copy) < 0 ? ember_fail(err, errno, "restore: %s: %s", name, strerror(errno)) : 0;
	free(copy);
	return rc;
}

/* ---- MSRs --------------------------------------------------------------------------- */

/* KVM's list of MSRs to migrate, plus the ones the guest relies on that it leaves out. */
static int msr_indices(struct machine *m, uint32_t **out, uint32_t *nr, struct ember_err *err)
{
	struct kvm_msr_list probe = { .nmsrs = 0 };
	if (ioctl(m->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
		return ember_fail(err, errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	struct kvm_msr_list *list = malloc(sizeof(*list) + (probe.nmsrs + 1) * sizeof(uint32_t));
	if (!list)
		return ember_fail(err, ENOMEM, "out of memory");
	list->nmsrs = probe.nmsrs;
	if (ioctl(m->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		free(list);
		return ember_fail(err, errno, "KVM_GET_MSR_INDEX_LIST: %s", strerror(errno));
	}
	uint32_t *idx = malloc((list->nmsrs + 1) * sizeof(uint32_t));
	uint32_t n = 0;
	bool have_mtrr = false;
	for (uint32_t i = 0; idx && i < list->nmsrs; i++) {
		if (list->indices[i] == MSR_IA32_XSS)
			continue; /* readable, never writable back (pvm-notes) */
		have_mtrr |= list->indices[i] == MSR_MTRR_DEF_TYPE;
		idx[n++] = list->indices[i];
	}
	if (idx && !have_mtrr)
		idx[n++] = MSR_MTRR_DEF_TYPE;
	free(list);
	if (!idx)
		return ember_fail(err, ENOMEM, "out of memory");
	*out = idx;
	*nr = n;
	return 0;
}

/*
 * Reads them one at a time: KVM_GET_MSRS stops at the first MSR a host
 * refuses, and one refused MSR must not lose the rest.
 */
static int save_msrs(struct vcpu_kvm *v, struct snapshot_writer *w, struct ember_err *err)
{
	uint32_t *idx = NULL, nr = 0, got = 0;
	int rc = msr_indices(v->vm->machine, &idx, &nr, err);
	if (rc)
		return rc;
	struct kvm_msr_entry *out = calloc(nr ? nr : 1, sizeof(*out));
	if (!out) {
		free(idx);
		return ember_fail(err, ENOMEM, "out of memory");
	}
	for (uint32_t i = 0; i < nr; i++) {
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} one = { .hdr.nmsrs = 1, .e.index = idx[i] };
		if (ioctl(v->fd, KVM_GET_MSRS, &one) == 1)
			out[got++] = one.e;
	}
	rc = snapshot_put(w, SNAP_X86_MSRS, v->id, out, got * sizeof(*out));
	free(out);
	free(idx);
	return rc ? ember_fail(err, -rc, "snapshot: state too large") : 0;
}

static int restore_msrs(struct vcpu_kvm *v, const struct snapshot_reader *r, struct ember_err *err)
{
	const struct snapshot_section *s = snapshot_find(r, SNAP_X86_MSRS, v->id);
	if (!s || s->len % sizeof(struct kvm_msr_entry))
		return ember_fail(err, EINVAL, "snapshot: MSRs of vCPU %u %s", v->id,
				  s ? "have the wrong size" : "are missing");
	uint32_t n = s->len / sizeof(struct kvm_msr_entry);
	struct kvm_msrs *msrs = malloc(sizeof(*msrs) + (n ? n : 1) * sizeof(struct kvm_msr_entry));
	if (!msrs)
		return ember_fail(err, ENOMEM, "out of memory");
	msrs->nmsrs = n;
	memcpy(msrs->entries, s->data, s->len);
	/* KVM_SET_MSRS returns how many it set: anything less is an MSR this host refuses. */
	int set = ioctl(v->fd, KVM_SET_MSRS, msrs);
	int rc = 0;
	if (set < 0 || (uint32_t)set != n)
		rc = ember_fail(err, set < 0 ? errno : EINVAL, "restore: vCPU %u: MSR 0x%x refused", v->id,
				set >= 0 && (uint32_t)set < n ? msrs->entries[set].index : 0);
	free(msrs);
	return rc;
}

/* ---- XSAVE ---------------------------------------------------------------------------- */

/* KVM_GET_XSAVE2's size when the host's XSAVE area outgrew struct kvm_xsave (4 KiB), else 0. */
static size_t xsave2_size(struct machine *m)
{
#ifdef KVM_CAP_XSAVE2
	int size = ioctl(m->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	if (size > (int)sizeof(struct kvm_xsave))
		return (size_t)size;
#else
	(void)m;
#endif
	return 0;
}

static int save_xsave(struct vcpu_kvm *v, struct snapshot_writer *w, struct ember_err *err)
{
	size_t big = xsave2_size(v->vm->machine);
	size_t len = big ? big : sizeof(struct kvm_xsave);
	void *buf = calloc(1, len);
	if (!buf)
		return ember_fail(err, ENOMEM, "out of memory");
#ifdef KVM_GET_XSAVE2
	unsigned long req = big ? KVM_GET_XSAVE2 : KVM_GET_XSAVE;
#else
	unsigned long req = KVM_GET_XSAVE;
#endif
	int rc = get_put(v->fd, req, "KVM_GET_XSAVE", buf, len, w, SNAP_X86_XSAVE, v->id, err);
	free(buf);
	return rc;
}

static int restore_xsave(struct vcpu_kvm *v, const struct snapshot_reader *r, struct ember_err *err)
{
	size_t big = xsave2_size(v->vm->machine);
	/* KVM_SET_XSAVE takes the bigger area too once XSAVE2 is enabled. */
	return set_from(v->fd, KVM_SET_XSAVE, "KVM_SET_XSAVE", r, SNAP_X86_XSAVE, v->id,
			big ? big : sizeof(struct kvm_xsave), err);
}

/* ---- vCPUs ---------------------------------------------------------------------------- */

int arch_vcpu_save(struct vcpu_kvm *v, struct snapshot_writer *w, struct ember_err *err)
{
	size_t cpuid_len = sizeof(struct kvm_cpuid2) + MAX_CPUID_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *cpuid = calloc(1, cpuid_len);
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	int rc;

	if (!cpuid)
		return ember_fail(err, ENOMEM, "out of memory");
	cpuid->nent = MAX_CPUID_ENTRIES;
	if (ioctl(v->fd, KVM_GET_CPUID2, cpuid) < 0) {
		rc = ember_fail(err, errno, "snapshot: KVM_GET_CPUID2: %s", strerror(errno));
	} else {
		size_t used = sizeof(*cpuid) + cpuid->nent * sizeof(struct kvm_cpuid_entry2);
		rc = snapshot_put(w, SNAP_X86_CPUID, v->id, cpuid, used);
		if (rc)
			rc = ember_fail(err, -rc, "snapshot: state too large");
	}
	free(cpuid);
	memset(&xcrs, 0, sizeof(xcrs));
	memset(&events, 0, sizeof(events));
	if (rc || (rc = get_put(v->fd, KVM_GET_MP_STATE, "KVM_GET_MP_STATE", &mp, sizeof(mp), w,
				SNAP_X86_MP_STATE, v->id, err)) ||
	    (rc = get_put(v->fd, KVM_GET_REGS, "KVM_GET_REGS", &regs, sizeof(regs), w, SNAP_X86_REGS,
			  v->id, err)) ||
	    (rc = get_put(v->fd, KVM_GET_SREGS, "KVM_GET_SREGS", &sregs, sizeof(sregs), w,
			  SNAP_X86_SREGS, v->id, err)) ||
	    (rc = save_xsave(v, w, err)) ||
	    (rc = get_put(v->fd, KVM_GET_XCRS, "KVM_GET_XCRS", &xcrs, sizeof(xcrs), w, SNAP_X86_XCRS,
			  v->id, err)) ||
	    (rc = get_put(v->fd, KVM_GET_DEBUGREGS, "KVM_GET_DEBUGREGS", &dregs, sizeof(dregs), w,
			  SNAP_X86_DEBUGREGS, v->id, err)) ||
	    (rc = get_put(v->fd, KVM_GET_LAPIC, "KVM_GET_LAPIC", &lapic, sizeof(lapic), w,
			  SNAP_X86_LAPIC, v->id, err)) ||
	    (rc = save_msrs(v, w, err)) ||
	    (rc = get_put(v->fd, KVM_GET_VCPU_EVENTS, "KVM_GET_VCPU_EVENTS", &events, sizeof(events),
			  w, SNAP_X86_EVENTS, v->id, err)))
		return rc;
	return 0;
}

int arch_vcpu_restore(struct vcpu_kvm *v, const struct snapshot_reader *r, struct ember_err *err)
{
	const struct snapshot_section *s = snapshot_find(r, SNAP_X86_CPUID, v->id);
	int rc;

	if (!s || s->len < sizeof(struct kvm_cpuid2) ||
	    ((const struct kvm_cpuid2 *)(const void *)s->data)->nent > MAX_CPUID_ENTRIES ||
	    s->len != sizeof(struct kvm_cpuid2) + ((const struct kvm_cpuid2 *)(const void *)s->data)->nent *
							 sizeof(struct kvm_cpuid_entry2))
		return ember_fail(err, EINVAL, "snapshot: CPUID of vCPU %u is missing or malformed", v->id);
	if ((rc = set_from(v->fd, KVM_SET_CPUID2, "KVM_SET_CPUID2", r, SNAP_X86_CPUID, v->id, s->len,
			   err)) ||
	    (rc = set_from(v->fd, KVM_SET_MP_STATE, "KVM_SET_MP_STATE", r, SNAP_X86_MP_STATE, v->id,
			   sizeof(struct kvm_mp_state), err)) ||
	    (rc = set_from(v->fd, KVM_SET_REGS, "KVM_SET_REGS", r, SNAP_X86_REGS, v->id,
			   sizeof(struct kvm_regs), err)) ||
	    (rc = set_from(v->fd, KVM_SET_SREGS, "KVM_SET_SREGS", r, SNAP_X86_SREGS, v->id,
			   sizeof(struct kvm_sregs), err)) ||
	    (rc = restore_xsave(v, r, err)) ||
	    (rc = set_from(v->fd, KVM_SET_XCRS, "KVM_SET_XCRS", r, SNAP_X86_XCRS, v->id,
			   sizeof(struct kvm_xcrs), err)) ||
	    (rc = set_from(v->fd, KVM_SET_DEBUGREGS, "KVM_SET_DEBUGREGS", r, SNAP_X86_DEBUGREGS, v->id,
			   sizeof(struct kvm_debugregs), err)) ||
	    (rc = set_from(v->fd, KVM_SET_LAPIC, "KVM_SET_LAPIC", r, SNAP_X86_LAPIC, v->id,
			   sizeof(struct kvm_lapic_state), err)) ||
	    (rc = restore_msrs(v, r, err)) ||
	    (rc = set_from(v->fd, KVM_SET_VCPU_EVENTS, "KVM_SET_VCPU_EVENTS", r, SNAP_X86_EVENTS, v->id,
			   sizeof(struct kvm_vcpu_events), err)))
		return rc;
	v->arch.lstar = 0; /* the kvm_pvm syscall fix-up re-reads it (pvm-notes) */
	return 0;
}

/* ---- the VM ---------------------------------------------------------------------------- */

static const struct {
	uint32_t id;
	const char *name;
} chips[] = {
	{ KVM_IRQCHIP_PIC_MASTER, "PIC master" },
	{ KVM_IRQCHIP_PIC_SLAVE, "PIC slave" },
	{ KVM_IRQCHIP_IOAPIC, "IOAPIC" },
};

int arch_vm_save(struct arch_vm *a, struct snapshot_writer *w, struct ember_err *err)
{
	int fd = a->machine->vm_fd;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	int rc;

	for (unsigned i = 0; i < sizeof(chips) / sizeof(chips[0]); i++) {
		struct kvm_irqchip chip = { .chip_id = chips[i].id };
		if ((rc = get_put(fd, KVM_GET_IRQCHIP, chips[i].name, &chip, sizeof(chip), w,
				  SNAP_X86_IRQCHIP, chips[i].id, err)))
			return rc;
	}
	memset(&clock, 0, sizeof(clock));
	if ((rc = get_put(fd, KVM_GET_PIT2, "KVM_GET_PIT2", &pit, sizeof(pit), w, SNAP_X86_PIT, 0, err)) ||
	    (rc = get_put(fd, KVM_GET_CLOCK, "KVM_GET_CLOCK", &clock, sizeof(clock), w, SNAP_X86_CLOCK,
			  0, err)))
		return rc;
	return 0;
}

int arch_vm_restore(struct arch_vm *a, const struct snapshot_reader *r, struct ember_err *err)
{
	int fd = a->machine->vm_fd;
	int rc;

	for (unsigned i = 0; i < sizeof(chips) / sizeof(chips[0]); i++)
		if ((rc = set_from(fd, KVM_SET_IRQCHIP, chips[i].name, r, SNAP_X86_IRQCHIP, chips[i].id,
				   sizeof(struct kvm_irqchip), err)))
			return rc;
	if ((rc = set_from(fd, KVM_SET_PIT2, "KVM_SET_PIT2", r, SNAP_X86_PIT, 0,
			   sizeof(struct kvm_pit_state2), err)))
		return rc;
	const struct kvm_clock_data *saved = need(r, SNAP_X86_CLOCK, 0, sizeof(*saved), "clock", err);
	if (!saved)
		return -EINVAL;
	/* Only the clock value: the flags and host timestamps were the old host's. */
	struct kvm_clock_data clock = { .clock = saved->clock };
	if (ioctl(fd, KVM_SET_CLOCK, &clock) < 0)
		return ember_fail(err, errno, "restore: KVM_SET_CLOCK: %s", strerror(errno));
	return 0;
}

/* ---- platform devices ------------------------------------------------------------------ */

struct saved_uart {
	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	uint8_t thri_pending, irq_level, rx_open, pad[2];
	uint32_t rx_head, rx_count;
	uint8_t rx[UART_RX_BUF];
};

struct saved_i8042 {
	uint8_t ctr, out, out_full, pending_cmd;
};

struct saved_rtc {
	uint8_t index, pad[3];
	uint8_t ram[128];
};

int arch_devices_save(struct arch_vm *a, struct snapshot_writer *w, struct ember_err *err)
{
	struct saved_uart u;
	struct saved_i8042 k;
	struct saved_rtc c;
	int rc;

	memset(&u, 0, sizeof(u));
	pthread_mutex_lock(&a->uart.lock);
	u = (struct saved_uart){ .ier = a->uart.ier, .lcr = a->uart.lcr, .mcr = a->uart.mcr,
				 .scr = a->uart.scr, .dll = a->uart.dll, .dlm = a->uart.dlm,
				 .fcr = a->uart.fcr, .thri_pending = a->uart.thri_pending,
				 .irq_level = a->uart.irq_level, .rx_open = a->uart.rx_open,
				 .rx_head = a->uart.rx_head, .rx_count = a->uart.rx_count };
	memcpy(u.rx, a->uart.rx, sizeof(u.rx));
	pthread_mutex_unlock(&a->uart.lock);

	memset(&k, 0, sizeof(k));
	pthread_mutex_lock(&a->i8042.lock);
	k = (struct saved_i8042){ a->i8042.ctr, a->i8042.out, a->i8042.out_full, a->i8042.pending_cmd };
	pthread_mutex_unlock(&a->i8042.lock);

	memset(&c, 0, sizeof(c));
	pthread_mutex_lock(&a->rtc.lock);
	c.index = a->rtc.index;
	memcpy(c.ram, a->rtc.ram, sizeof(c.ram));
	pthread_mutex_unlock(&a->rtc.lock);

	if ((rc = snapshot_put(w, SNAP_X86_UART, 0, &u, sizeof(u))) ||
	    (rc = snapshot_put(w, SNAP_X86_I8042, 0, &k, sizeof(k))) ||
	    (rc = snapshot_put(w, SNAP_X86_RTC, 0, &c, sizeof(c))))
		return ember_fail(err, -rc, "snapshot: state too large");
	return 0;
}

int arch_devices_restore(struct arch_vm *a, const struct snapshot_reader *r, struct ember_err *err)
{
	const struct saved_uart *u = need(r, SNAP_X86_UART, 0, sizeof(*u), "UART", err);
	const struct saved_i8042 *k = u ? need(r, SNAP_X86_I8042, 0, sizeof(*k), "i8042", err) : NULL;
	const struct saved_rtc *c = k ? need(r, SNAP_X86_RTC, 0, sizeof(*c), "CMOS", err) : NULL;

	if (!c)
		return -EINVAL;
	if (u->rx_head >= UART_RX_BUF || u->rx_count > UART_RX_BUF)
		return ember_fail(err, EINVAL, "snapshot: UART receive buffer out of range");
	pthread_mutex_lock(&a->uart.lock);
	a->uart.ier = u->ier;
	a->uart.lcr = u->lcr;
	a->uart.mcr = u->mcr;
	a->uart.scr = u->scr;
	a->uart.dll = u->dll;
	a->uart.dlm = u->dlm;
	a->uart.fcr = u->fcr;
	a->uart.thri_pending = u->thri_pending != 0;
	a->uart.rx_open = u->rx_open != 0;
	a->uart.rx_head = u->rx_head;
	a->uart.rx_count = u->rx_count;
	memcpy(a->uart.rx, u->rx, sizeof(a->uart.rx));
	/* KVM_SET_IRQCHIP does not keep line levels (pvm-notes): raise a line that was high. */
	a->uart.irq_level = u->irq_level != 0;
	if (a->uart.irq_level && a->uart.set_irq)
		a->uart.set_irq(a->uart.irq_opaque, 1);
	pthread_mutex_unlock(&a->uart.lock);

	pthread_mutex_lock(&a->i8042.lock);
	a->i8042.ctr = k->ctr;
	a->i8042.out = k->out;
	a->i8042.out_full = k->out_full != 0;
	a->i8042.pending_cmd = k->pending_cmd;
	pthread_mutex_unlock(&a->i8042.lock);

	pthread_mutex_lock(&a->rtc.lock);
	a->rtc.index = c->index & 0x7f;
	memcpy(a->rtc.ram, c->ram, sizeof(a->rtc.ram));
	pthread_mutex_unlock(&a->rtc.lock);
	return 0;
}

/*
 * The CPU's vendor and signature (family, model, stepping): the CPUID a
 * snapshot's vCPUs were given came from this CPU.  On kvm_pvm the guest
 * TSC is the host's and cannot be set (pvm-notes.md, "Snapshot and restore
 * on this host"): a guest saved in another boot of the host would find its
 * clock somewhere else, so the boot is part of the identity there.
 */
void arch_host_identity(char *buf, size_t size)
{
	unsigned a, b, c, d, sig = 0;
	char vendor[13] = "";
	char boot_id[40] = "";

	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(vendor, &b, 4);
		memcpy(vendor + 4, &d, 4);
		memcpy(vendor + 8, &c, 4);
	}
	if (__get_cpuid(1, &a, &b, &c, &d))
		sig = a;
	if (pvm_host_detect()) {
		int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, boot_id, sizeof(boot_id) - 1) : -1;
		if (fd >= 0)
			close(fd);
		boot_id[n > 0 ? n : 0] = '\0';
		boot_id[strcspn(boot_id, "\n")] = '\0';
	}
	snprintf(buf, size, "x86 %s %08x%s%s", vendor, sig, boot_id[0] ? " pvm-boot " : "", boot_id);
}
