// Immediate loads: the kernel's emit_mov_imm32 / emit_mov_imm64 choices, and BPF_LD|IMM|DW.
//   zero            -> xor r32, r32
//   fits u32        -> mov r32, imm32          (zero-extends)
//   negative s32    -> mov r64, simm32         (only when the sign must propagate)
//   anything else   -> movabs r64, imm64

import type { Insn } from '../../isa/insn.js';
import { Alu } from '../x86/opcodes.js';
import type { Assembler } from '../x86/asm.js';
import { X86_OF } from '../regmap.js';
import { encMovabs, encMovl, encMovqSimm32, encRR } from '../x86/encode.js';
import { type FnState, xreg } from './state.js';

export function movImm32(a: Assembler, signPropagate: boolean, dst: number, imm32: number): void {
  a.s.pos = movImm32At(a.s.buf, a.s.pos, signPropagate, dst, imm32);
}

/** movImm32 written straight into b at p; returns the end. */
export function movImm32At(b: Uint8Array, p: number, signPropagate: boolean, dst: number, imm32: number): number {
  if (signPropagate && (imm32 | 0) < 0) return encMovqSimm32(b, p, dst, imm32);
  if ((imm32 | 0) === 0) return encRR(b, p, Alu.XOR.rm, false, dst, dst);
  return encMovl(b, p, dst, imm32);
}

/** hi/lo are the two 32-bit halves (any sign). */
export function movImm64(a: Assembler, dst: number, hi: number, lo: number): void {
  a.s.pos = movImm64At(a.s.buf, a.s.pos, dst, hi, lo);
}

/** movImm64 written straight into b at p; returns the end. */
export function movImm64At(b: Uint8Array, p: number, dst: number, hi: number, lo: number): number {
  if ((hi | 0) === 0) return movImm32At(b, p, false, dst, lo);
  if ((hi | 0) === -1 && (lo | 0) < 0) return movImm32At(b, p, true, dst, lo);
  return encMovabs(b, p, dst, lo, hi);
}

/** BPF_LD | BPF_IMM | BPF_DW: in the kernel dialect every ld_imm64 is a plain 64-bit constant. */
export function lowerLdImm64(st: FnState, insn: Insn): void {
  movImm64(st.a, xreg(insn, insn.dst), insn.imm2 ?? 0, insn.imm);
}

/** lowerLdImm64 from the fields, straight into b at p; -1 when dst is not a register (lowerLdImm64 reports it). */
export function lowerLdImm64Direct(b: Uint8Array, p: number, dstReg: number, lo: number, hi: number): number {
  const dst = X86_OF[dstReg]!;
  return dst < 0 ? -1 : movImm64At(b, p, dst, hi, lo);
}
