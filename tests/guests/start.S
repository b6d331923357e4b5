/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Common entry of the test guests.
 *
 * How ember enters an ELF kernel without a PVH note (the contract these
 * guests rely on):
 *   - PT_LOAD segments are loaded at p_paddr; e_entry is the entry point;
 *   - 64-bit long mode, first 4 GiB identity mapped with 2 MiB pages (RWX);
 *   - CS = 0x10, DS/ES/SS/FS/GS = 0x18, RFLAGS = 0x2 (interrupts off);
 *   - RSI = guest-physical address of the Linux zero page (boot_params);
 *   - RSP unspecified, no IDT: any exception triple-faults.
 *
 * Only the first vCPU to arrive runs guest_main(); should a VMM ever start
 * more than one vCPU here, the others park in a pause loop (not hlt: with
 * interrupts off and an in-kernel irqchip that blocks KVM_RUN for good).
 */

	.section .text.start, "ax"
	.code64
	.globl _start
	.type _start, @function
_start:
	movb	$1, %al
	xchgb	%al, started(%rip)	/* xchg with memory is always locked */
	testb	%al, %al
	jnz	.Lpark

	leaq	stack_top(%rip), %rsp	/* 16-byte aligned before the call (SysV) */
	xorl	%ebp, %ebp
	movq	%rsi, %rdi		/* guest_main(boot_params) */
	call	guest_main
	movzbl	%al, %edi
	call	exit_with		/* does not return */

.Lpark:
	pause
	jmp	.Lpark
	.size _start, . - _start

	.data
started:
	.byte	0

	.bss
	.balign	16
stack_bottom:
	.skip	16384
stack_top:

	.section .note.GNU-stack, "", @progbits
