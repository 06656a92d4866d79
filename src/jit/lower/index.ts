// Dispatch of one BPF instruction to its lowering, by instruction class.

import { insnError } from '../../errors.js';
import { Class, LD_IMM64, insnClass } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { lowerAlu } from './alu.js';
import { lowerJmp } from './jmp.js';
import { lowerLdImm64 } from './ldimm.js';
import { lowerMem } from './mem.js';
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
