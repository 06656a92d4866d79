// src/isa — the BPF instruction set: encodings of RFC 9669 plus Linux's additions and the
// kernel-internal forms that appear in a verified ("xlated") program.

/** Instruction classes (low 3 bits of the opcode). */
export const Class = {
  LD: 0x00,
  LDX: 0x01,
  ST: 0x02,
  STX: 0x03,
  ALU: 0x04,
  JMP: 0x05,
  JMP32: 0x06,
  ALU64: 0x07,
} as const;

/** Access sizes for load/store classes (bits 3-4). */
export const Size = { W: 0x00, H: 0x08, B: 0x10, DW: 0x18 } as const;
/** Bytes accessed per size code. */
export const SIZE_BYTES: Readonly<Record<number, 1 | 2 | 4 | 8>> = { 0x00: 4, 0x08: 2, 0x10: 1, 0x18: 8 };

/** Modes for load/store classes (bits 5-7). PROBE_* exist only in the kernel-xlated dialect. */
export const Mode = {
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MEM: 0x60,
  MEMSX: 0x80,
  ATOMIC: 0xc0,
  /** Kernel-internal: LDX through a pointer that may fault (BTF pointers); same bits as ABS. */
  PROBE_MEM: 0x20,
  /** Kernel-internal: sign-extending PROBE_MEM load (LDX only); same bits as IND. */
  PROBE_MEMSX: 0x40,
  /** Kernel-internal: load/store through an arena pointer (LDX/ST/STX). */
  PROBE_MEM32: 0xa0,
  /** Kernel-internal: sign-extending load through an arena pointer (LDX only; same bits as ATOMIC). */
  PROBE_MEM32SX: 0xc0,
  /** Kernel-internal: atomic on an arena pointer (STX only). */
  PROBE_ATOMIC: 0xe0,
  /** Kernel-internal: ST class with this mode is BPF_NOSPEC (speculation barrier). */
  NOSPEC: 0xc0,
} as const;

/** Operand source bit for ALU/JMP: K = immediate, X = register. */
export const Src = { K: 0x00, X: 0x08 } as const;

export const AluOp = {
  ADD: 0x00,
  SUB: 0x10,
  MUL: 0x20,
  DIV: 0x30,
  OR: 0x40,
  AND: 0x50,
  LSH: 0x60,
  RSH: 0x70,
  NEG: 0x80,
  MOD: 0x90,
  XOR: 0xa0,
  MOV: 0xb0,
  ARSH: 0xc0,
  END: 0xd0,
} as const;

export const JmpOp = {
  JA: 0x00,
  JEQ: 0x10,
  JGT: 0x20,
  JGE: 0x30,
  JSET: 0x40,
  JNE: 0x50,
  JSGT: 0x60,
  JSGE: 0x70,
  CALL: 0x80,
  EXIT: 0x90,
  JLT: 0xa0,
  JLE: 0xb0,
  JSLT: 0xc0,
  JSLE: 0xd0,
  /** may_goto (src_reg 0); removed by the verifier's rewrite before the JIT. */
  JCOND: 0xe0,
  /** Kernel-internal (JMP only): the verifier's rewrite of bpf_tail_call(); imm 0 or poke index + 1. */
  TAIL_CALL: 0xf0,
} as const;

/** imm of an atomic instruction. */
export const AtomicOp = {
  ADD: 0x00,
  OR: 0x40,
  AND: 0x50,
  XOR: 0xa0,
  FETCH: 0x01,
  XCHG: 0xe0 | 0x01,
  CMPXCHG: 0xf0 | 0x01,
  LOAD_ACQ: 0x100,
  STORE_REL: 0x110,
} as const;

/** src_reg values of ld_imm64 (BPF_PSEUDO_*). */
export const PseudoLd = {
  NONE: 0,
  MAP_FD: 1,
  MAP_VALUE: 2,
  BTF_ID: 3,
  FUNC: 4,
  MAP_IDX: 5,
  MAP_IDX_VALUE: 6,
} as const;

/** src_reg values of call. */
export const PseudoCall = { HELPER: 0, CALL: 1, KFUNC: 2 } as const;

/** off of ALU64 MOV X: addr_space_cast (1) and the per-CPU address move (-1, kernel-internal). */
export const MovOff = { ADDR_SPACE_CAST: 1, PERCPU: -1 } as const;

/** addr_space_cast imm values (dst_as << 16 | src_as). */
export const AddrSpaceCast = { TO_KERN: 0x00000001, TO_USER: 0x00010000 } as const;

/** Register numbers. r10 is the read-only frame pointer; r11 (AX) exists only in the kernel dialect. */
export const Reg = { R0: 0, R1: 1, R2: 2, R3: 3, R4: 4, R5: 5, R6: 6, R7: 7, R8: 8, R9: 9, FP: 10, AX: 11 } as const;

export const LD_IMM64 = Class.LD | Size.DW | Mode.IMM; // 0x18

export function insnClass(code: number): number {
  return code & 0x07;
}
export function insnSize(code: number): number {
  return code & 0x18;
}
export function insnMode(code: number): number {
  return code & 0xe0;
}
export function insnOp(code: number): number {
  return code & 0xf0;
}
export function insnSrc(code: number): number {
  return code & 0x08;
}
