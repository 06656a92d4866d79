// src/jit/frontend — function boundaries (the verifier's check_subprogs) and per-slot control flow.

import { insnError } from '../../errors.js';
import { Class, JmpOp, LD_IMM64, PseudoCall, PseudoLd } from '../../isa/opcodes.js';
import type { Slot } from './slots.js';

export function isJmpClass(code: number): boolean {
  const cls = code & 7;
  return cls === Class.JMP || cls === Class.JMP32;
}

/** Conditional jump (bpf_insn_is_cond_jump): not ja/gotol, call or exit. */
export function isCondJump(code: number): boolean {
  const cls = code & 7;
  const op = code & 0xf0;
  if (cls === Class.JMP32) return op !== JmpOp.JA;
  if (cls !== Class.JMP) return false;
  return op !== JmpOp.JA && op !== JmpOp.EXIT && op !== JmpOp.CALL;
}

/** Relative jump distance of a jump instruction (gotol reads imm). */
export function jumpOff(s: Slot): number {
  return s.code === (Class.JMP32 | JmpOp.JA) ? s.imm : s.off;
}

export function isPseudoCall(s: Slot): boolean {
  return s.code === (Class.JMP | JmpOp.CALL) && s.src === PseudoCall.CALL;
}

/** Subprogram starts, sorted, plus the total length as the fake last entry (check_subprogs). */
export function findSubprogs(slots: readonly Slot[]): number[] {
  const n = slots.length;
  if (n === 0) throw insnError(0, 'the program is empty');
  const second = new Uint8Array(n + 1);
  for (let i = 0; i < n; i++) if (slots[i]!.code === LD_IMM64) second[++i] = 1;
  const starts = new Set<number>([0]);
  for (let i = 0; i < n; i++) {
    const s = slots[i]!;
    if (second[i]) continue;
    const isFunc = s.code === LD_IMM64 && s.src === PseudoLd.FUNC;
    if (!isPseudoCall(s) && !isFunc) continue;
    const t = i + s.imm + 1;
    if (t < 0 || t >= n || second[t]) throw insnError(i, `function call target ${t} is outside the program or inside ld_imm64`);
    starts.add(t);
  }
  const list = [...starts].sort((a, b) => a - b);
  list.push(n);
  // Jumps stay inside their function; each function ends with exit or an unconditional jump.
  for (let f = 0; f + 1 < list.length; f++) {
    const lo = list[f]!;
    const hi = list[f + 1]!;
    let last = lo;
    for (let i = lo; i < hi; i++) {
      if (second[i]) continue;
      last = i;
      const s = slots[i]!;
      if (!isJmpClass(s.code)) continue;
      const op = s.code & 0xf0;
      if (op === JmpOp.CALL || op === JmpOp.EXIT) continue;
      const t = i + jumpOff(s) + 1;
      if (t < lo || t >= hi) throw insnError(i, `jump out of range from insn ${i} to ${t}`);
      if (second[t]) throw insnError(i, `jump into the middle of ld_imm64 insn ${t - 1}`);
    }
    const ls = slots[last]!;
    const lop = ls.code & 0xf0;
    const ok = (ls.code === (Class.JMP | JmpOp.EXIT)) || ((ls.code & 7) !== Class.LD && isJmpClass(ls.code) && lop === JmpOp.JA);
    if (!ok) throw insnError(last, 'last insn is not an exit or jmp');
  }
  return list;
}
