// The typed instruction model: one record per instruction; ld_imm64 is one record spanning two slots.

import { LD_IMM64 } from './opcodes.js';

/** Which instruction set a program is written in. */
export type Dialect =
  /** What compilers emit and users write (RFC 9669 + Linux additions). */
  | 'standard'
  /** What the kernel's JIT consumes after the verifier: PROBE_* modes, r11 (AX), internal instructions. */
  | 'kernel-xlated';

export interface Insn {
  /** Slot index (jump offsets and the verifier log count slots; ld_imm64 takes two). */
  readonly pc: number;
  /** 8-bit opcode. */
  readonly code: number;
  /** Destination register, 0..15 as encoded. */
  readonly dst: number;
  /** Source register, 0..15 as encoded. */
  readonly src: number;
  /** Signed 16-bit offset. */
  readonly off: number;
  /** Signed 32-bit immediate. */
  readonly imm: number;
  /** ld_imm64 only: the second slot's immediate (upper 32 bits), signed 32-bit. */
  readonly imm2?: number;
}

export interface Program {
  /** Instructions in order; `insns[i].pc` is strictly increasing. */
  readonly insns: readonly Insn[];
  /** Number of 8-byte slots (the program's size in the encoding). */
  readonly slots: number;
}

export function isLdImm64(insn: Insn): boolean {
  return insn.code === LD_IMM64;
}

/** Number of 8-byte slots an instruction occupies. */
export function slotCount(insn: Insn): 1 | 2 {
  return insn.code === LD_IMM64 ? 2 : 1;
}

/** The full 64-bit immediate of ld_imm64 (unsigned). */
export function imm64(insn: Insn): bigint {
  return (BigInt((insn.imm2 ?? 0) >>> 0) << 32n) | BigInt(insn.imm >>> 0);
}

export function makeInsn(fields: {
  pc?: number;
  code: number;
  dst?: number;
  src?: number;
  off?: number;
  imm?: number;
  imm2?: number;
}): Insn {
  const insn: Insn = {
    pc: fields.pc ?? 0,
    code: fields.code & 0xff,
    dst: fields.dst ?? 0,
    src: fields.src ?? 0,
    off: fields.off ?? 0,
    imm: (fields.imm ?? 0) | 0,
  };
  return fields.code === LD_IMM64 ? { ...insn, imm2: (fields.imm2 ?? 0) | 0 } : insn;
}

/** Builds a program from instructions, assigning slot indices in order. */
export function makeProgram(insns: readonly Omit<Insn, 'pc'>[]): Program {
  let pc = 0;
  const out: Insn[] = [];
  for (const i of insns) {
    out.push({ ...i, pc });
    pc += i.code === LD_IMM64 ? 2 : 1;
  }
  return { insns: out, slots: pc };
}

/** Map from slot index to instruction index; -1 for the second slot of ld_imm64. */
export function slotIndex(prog: Program): Int32Array {
  const map = new Int32Array(prog.slots + 1).fill(-1);
  prog.insns.forEach((insn, i) => {
    map[insn.pc] = i;
  });
  map[prog.slots] = prog.insns.length;
  return map;
}
