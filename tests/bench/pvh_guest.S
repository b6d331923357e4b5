/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Bench guest that both ember and QEMU (-M microvm -kernel) boot directly:
 * an ELF64 x86-64 executable whose code is 32-bit, entered through the Xen
 * PVH note (XEN_ELFNOTE_PHYS32_ENTRY).  PVH entry state (both VMMs): flat
 * 32-bit protected mode, paging off, interrupts off, EBX = hvm_start_info
 * (unused here), no stack guaranteed (none is used).
 *
 * It writes "bench-ok\n" to the COM1 UART (polling LSR.THRE before each
 * byte) and then writes status 0 to port 0x501: ember's exit port, and
 * QEMU's isa-debug-exit when given `-device isa-debug-exit,iobase=0x501,
 * iosize=1` (QEMU then exits with (0 << 1) | 1 = 1).  Should that write
 * return (no exit device), it triple-faults: never `hlt` with interrupts
 * off (that blocks KVM_RUN for good with an in-kernel irqchip).
 *
 * About 60 guest instructions: on a kvm_pvm host (ring-0 guest code is
 * interpreted at ~1M instructions/s) the guest itself costs well under
 * a millisecond, so the figures measure the VMMs.
 */
#include "arch/x86/guest_abi.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define UART_LSR   5
#define LSR_THRE   0x20

/*
 * The note.  QEMU reads the descriptor of an ELF64 note as a host size_t
 * (8 bytes, as Linux's vmlinux stores it with _ASM_PTR) and aligns the name
 * to the PT_NOTE's p_align; ember reads 4 bytes.  So: an 8-byte descriptor,
 * 4-byte alignment throughout (the linker script keeps p_align at 4).
 */
	.section .note.Xen, "a", @note
	.balign	4
	.long	4			/* n_namesz: "Xen\0" */
	.long	8			/* n_descsz */
	.long	XEN_ELFNOTE_PHYS32_ENTRY
	.asciz	"Xen"
	.balign	4
	.quad	pvh_start

	.section .text.start, "ax"
	.code32
	.globl	pvh_start
	.type	pvh_start, @function
pvh_start:
	cli
	movl	$msg, %esi
.Lnext:
	movb	(%esi), %bl
	testb	%bl, %bl
	jz	.Ldone
	movw	$(EMBER_UART_PORT + UART_LSR), %dx
.Lwait:
	inb	%dx, %al
	testb	$LSR_THRE, %al
	jz	.Lwait
	movw	$EMBER_UART_PORT, %dx
	movb	%bl, %al
	outb	%al, %dx
	incl	%esi
	jmp	.Lnext
.Ldone:
	movw	$EMBER_EXIT_PORT, %dx
	xorl	%eax, %eax
	outb	%al, %dx
	/* Still here: no exit device.  Zero-limit IDT + #UD = triple fault. */
	lidt	null_idt
	ud2
	.size	pvh_start, . - pvh_start

	.section .rodata
msg:
	.asciz	"bench-ok\n"
	.balign	8
null_idt:
	.word	0
	.long	0

	.section .note.GNU-stack, "", @progbits
