// Dispatch of one BPF instruction to its lowering, by instruction class: lowerInsn for an Insn (or cursor),
// lowerDirect for the frequent forms straight from an instruction's fields (the layout's first pass).

import { insnError } from '../../errors.js';
import { Class, LD_IMM64, insnClass } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { lowerAlu, lowerAluDirect } from './alu.js';
import { isCondJmp, lowerCondJmp, lowerJmp } from './jmp.js';
import { lowerLdImm64 } from './ldimm.js';
import { lowerMem, lowerMemDirect } from './mem.js';
import type { FnState } from './state.js';

export type { FnState, FnInfo, ProgConsts } from './state.js';

export function lowerInsn(st: FnState, insn: Insn): void {
  switch (insnClass(insn.code)) {
    case Class.ALU:
    case Class.ALU64:
      lowerAlu(st, insn);
      return;
    case Class.JMP:
    case Class.JMP32:
      lowerJmp(st, insn);
      return;
    case Class.LDX:
    case Class.ST:
    case Class.STX:
      lowerMem(st, insn);
      return;
    case Class.LD:
      if (insn.code === LD_IMM64) {
        lowerLdImm64(st, insn);
        return;
      }
      throw insnError(insn.pc, `legacy packet access (opcode 0x${insn.code.toString(16)}) is not supported by the kernel dialect`);
    default:
      throw insnError(insn.pc, `unknown opcode 0x${insn.code.toString(16)}`);
  }
}

/**
 * The frequent forms (lowerAluDirect, lowerMemDirect, lowerCondJmp) from an instruction's fields, written
 * straight into b at p: no cursor, no assembler. Returns the end, or -1 when the instruction needs lowerInsn
 * (other forms, and registers that do not exist).
 */
export function lowerDirect(st: FnState, b: Uint8Array, p: number, code: number, dst: number, src: number, off: number, imm: number, pc: number): number {
  switch (code & 7) {
    case Class.ALU:
    case Class.ALU64:
      return lowerAluDirect(b, p, code, dst, src, off, imm, st.prog.bmi2);
    case Class.LDX:
    case Class.ST:
    case Class.STX:
      return lowerMemDirect(st, b, p, code, dst, src, off, imm, pc);
    case Class.JMP:
    case Class.JMP32:
      return isCondJmp(code) ? lowerCondJmp(st, b, p, code, dst, src, off, imm, pc) : -1;
    default:
      return -1;
  }
}
