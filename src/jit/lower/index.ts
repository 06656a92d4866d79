// Dispatch of one BPF instruction to its lowering, by instruction class: lowerInsn for an Insn (or cursor),
// lowerDirect for the frequent forms straight from an instruction's fields (the layout's first pass).

import { insnError } from '../../errors.js';
import { Class, JmpOp, LD_IMM64, PseudoCall, insnClass } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { lowerAlu, lowerAluDirect } from './alu.js';
import { isCondJmp, lowerCondJmp, lowerHelperCall, lowerJmp } from './jmp.js';
import { lowerLdImm64, lowerLdImm64Direct } from './ldimm.js';
import { W_IMM, W_IMM2, W_OFF, W_OPS, W_PC } from '../table.js';
import { lowerMem, lowerMemDirect } from './mem.js';
import type { FnState } from './state.js';

export type { FnState, FnInfo, ProgConsts } from './state.js';

const HELPER_CALL = Class.JMP | JmpOp.CALL;

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
 * The frequent forms from the instruction table's words (`k`: the instruction's first word), written straight
 * into b at p with no cursor or assembler: lowerAluDirect, lowerMemDirect, conditional jumps, helper calls and
 * ld_imm64. Returns the end, or -1 when the instruction needs lowerInsn (other forms, registers that do not exist).
 */
export function lowerDirect(st: FnState, b: Uint8Array, p: number, tw: Int32Array, k: number): number {
  const ops = tw[k + W_OPS]!;
  const code = ops & 0xff;
  const dst = (ops >> 8) & 0xf;
  const src = (ops >> 12) & 0xf;
  switch (code & 7) {
    case Class.ALU:
    case Class.ALU64:
      return lowerAluDirect(b, p, code, dst, src, tw[k + W_OFF]!, tw[k + W_IMM]!, st.prog.bmi2);
    case Class.LDX:
    case Class.ST:
    case Class.STX:
      return lowerMemDirect(st, b, p, code, dst, src, tw[k + W_OFF]!, tw[k + W_IMM]!, tw[k + W_PC]!);
    case Class.JMP:
    case Class.JMP32:
      if (isCondJmp(code)) return lowerCondJmp(st, b, p, code, dst, src, tw[k + W_OFF]!, tw[k + W_IMM]!, tw[k + W_PC]!);
      return code === HELPER_CALL && src !== PseudoCall.CALL ? lowerHelperCall(st, b, p, tw[k + W_IMM]!, tw[k + W_PC]!) : -1;
    default:
      return code === LD_IMM64 ? lowerLdImm64Direct(b, p, dst, tw[k + W_IMM]!, tw[k + W_IMM2]!) : -1;
  }
}
