// src/jit/frontend — the verifier's clean-up passes on visited instructions: conditional jumps with one
// dead side become `ja`, dead code is removed, then `ja +0` and `may_goto +0` (gotol +0 stays).

import { Class, JmpOp } from '../../isa/opcodes.js';
import type { Slot, SlotProgram } from './slots.js';
import { isCondJump } from './subprogs.js';

/** opt_hard_wire_dead_code_branches */
export function hardWireDeadBranches(p: SlotProgram): void {
  for (let i = 0; i < p.length; i++) {
    const s = p.slots[i]!;
    if (!isCondJump(s.code)) continue;
    let off: number;
    if (!p.aux[i + 1]?.seen) off = s.off;
    else if (!p.aux[i + 1 + s.off]?.seen) off = 0;
    else continue;
    p.slots[i] = { code: Class.JMP | JmpOp.JA, dst: 0, src: 0, off, imm: 0 };
  }
}

/** opt_remove_dead_code */
export function removeDeadCode(p: SlotProgram): void {
  for (let i = 0; i < p.length; i++) {
    let j = 0;
    while (i + j < p.length && !p.aux[i + j]!.seen) j++;
    if (j > 0) p.remove(i, j);
  }
}

function isZeroJump(code: number, s: Slot): boolean {
  return s.code === code && s.dst === 0 && s.src === 0 && s.off === 0 && s.imm === 0;
}

/** opt_remove_nops: `ja +0` and `may_goto +0`. */
export function removeNops(p: SlotProgram): void {
  for (let i = 0; i < p.length; i++) {
    const s = p.slots[i]!;
    const mayGoto0 = isZeroJump(Class.JMP | JmpOp.JCOND, s);
    const ja0 = isZeroJump(Class.JMP | JmpOp.JA, s);
    if (!mayGoto0 && !ja0) continue;
    p.remove(i, 1);
    // Step back one more after may_goto +0 to catch a `may_goto +1; may_goto +0` pair.
    i -= mayGoto0 && i > 0 ? 2 : 1;
  }
}
