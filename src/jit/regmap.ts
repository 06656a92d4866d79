// src/jit — BPF registers to x86-64 registers, as in Linux's reg2hex[]: r0 rax, r1 rdi, r2 rsi,
// r3 rdx, r4 rcx, r5 r8, r6 rbx, r7 r13, r8 r14, r9 r15, r10 (frame pointer) rbp, r11 (BPF_REG_AX) r10.
// r11 is the JIT's scratch (AUX_REG) and r12 holds the arena base.

import { Gpr } from './x86/regs.js';

export const BPF_TO_X86: readonly number[] = [
  Gpr.RAX,
  Gpr.RDI,
  Gpr.RSI,
  Gpr.RDX,
  Gpr.RCX,
  Gpr.R8,
  Gpr.RBX,
  Gpr.R13,
  Gpr.R14,
  Gpr.R15,
  Gpr.RBP,
  Gpr.R10,
];

/** BPF_REG_AX: the verifier's hidden register (constant blinding, rewrites). */
export const BPF_REG_AX = 11;
/** The JIT's own scratch register (AUX_REG). */
export const AUX = Gpr.R11;
/** Holds kern_vm_start in arena programs. */
export const ARENA_BASE = Gpr.R12;

/** Callee-saved registers a function may use, in push order: BPF r6..r9. */
export const CALLEE_SAVED: readonly number[] = [Gpr.RBX, Gpr.R13, Gpr.R14, Gpr.R15];

/** BPF_TO_X86 for every 4-bit register field, -1 where no register exists: one typed-array read in the hot
 *  lowerings (which leave the error message to the general path). */
export const X86_OF: Int8Array = Int8Array.from({ length: 16 }, (_, r) => BPF_TO_X86[r] ?? -1);
