// src/jit/x86 — the x86-64 encoding layer: registers, a byte sink, and one assembler method per
// instruction form the Linux BPF JIT emits. It knows nothing about BPF.

/** General-purpose registers by hardware number (ModRM/REX encoding). */
export const Gpr = {
  RAX: 0,
  RCX: 1,
  RDX: 2,
  RBX: 3,
  RSP: 4,
  RBP: 5,
  RSI: 6,
  RDI: 7,
  R8: 8,
  R9: 9,
  R10: 10,
  R11: 11,
  R12: 12,
  R13: 13,
  R14: 14,
  R15: 15,
} as const;
export type Gpr = (typeof Gpr)[keyof typeof Gpr];

const NAMES64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

export function gprName(r: number): string {
  return NAMES64[r] ?? `r?${r}`;
}

/** Low three bits: the register field of ModRM/SIB/opcode. */
export function low3(r: number): number {
  return r & 7;
}

/** True for r8..r15, which need a REX extension bit. */
export function isExt(r: number): boolean {
  return r >= 8;
}
