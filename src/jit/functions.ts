// src/jit — splitting a program into its functions (main + bpf-to-bpf subprograms) and the per-function
// facts the prologue needs: which callee-saved registers it mentions and whether a tail call is
// reachable from it.

import { insnError } from '../errors.js';
import { Class, JmpOp, PseudoCall, insnClass, insnOp } from '../isa/opcodes.js';
import type { Program } from '../isa/insn.js';

export interface FnRange {
  readonly firstPc: number;
  readonly endPc: number;
  /** Index range in prog.insns. */
  readonly first: number;
  readonly end: number;
}

const CALL = Class.JMP | JmpOp.CALL;
const TAIL_CALL = Class.JMP | 0xf0;

function isPseudoCall(code: number, src: number): boolean {
  return code === CALL && src === PseudoCall.CALL;
}

/** Functions start at pc 0 and at every bpf-to-bpf call target. */
export function splitFunctions(prog: Program): { fns: FnRange[]; funcOfPc: Int32Array } {
  const isStart = new Uint8Array(prog.slots + 1);
  const isInsn = new Uint8Array(prog.slots + 1);
  for (const insn of prog.insns) isInsn[insn.pc] = 1;
  isStart[0] = 1;
  for (const insn of prog.insns) {
    if (!isPseudoCall(insn.code, insn.src)) continue;
    const t = insn.pc + insn.imm + 1;
    if (t < 0 || t >= prog.slots || isInsn[t] === 0) throw insnError(insn.pc, `call target ${t} is not an instruction`);
    isStart[t] = 1;
  }
  const fns: FnRange[] = [];
  const funcOfPc = new Int32Array(prog.slots).fill(-1);
  let cur = -1;
  let firstPc = 0;
  let first = 0;
  prog.insns.forEach((insn, i) => {
    if (isStart[insn.pc] === 1 && i > 0) {
      fns.push({ firstPc, endPc: insn.pc, first, end: i });
      firstPc = insn.pc;
      first = i;
    }
    if (isStart[insn.pc] === 1) cur++;
    funcOfPc[insn.pc] = cur;
    if (insn.code === 0x18 && insn.pc + 1 < prog.slots) funcOfPc[insn.pc + 1] = cur;
  });
  if (prog.insns.length > 0) fns.push({ firstPc, endPc: prog.slots, first, end: prog.insns.length });
  return { fns, funcOfPc };
}

/** Bit k: BPF r(6+k) appears as dst or src of some instruction (the kernel's detect_reg_usage). */
export function calleeSavedUsed(prog: Program, fn: FnRange): number {
  let bits = 0;
  for (let i = fn.first; i < fn.end; i++) {
    const insn = prog.insns[i]!;
    if (insn.dst >= 6 && insn.dst <= 9) bits |= 1 << (insn.dst - 6);
    if (insn.src >= 6 && insn.src <= 9) bits |= 1 << (insn.src - 6);
  }
  return bits;
}

/** A function is tail-call reachable if it, or a function it calls (transitively), does a tail call. */
export function tailCallReachable(prog: Program, fns: readonly FnRange[], funcOfPc: Int32Array): boolean[] {
  const has = fns.map(() => false);
  const callees = fns.map(() => [] as number[]);
  fns.forEach((fn, f) => {
    for (let i = fn.first; i < fn.end; i++) {
      const insn = prog.insns[i]!;
      if (insn.code === TAIL_CALL) has[f] = true;
      if (isPseudoCall(insn.code, insn.src)) callees[f]!.push(funcOfPc[insn.pc + insn.imm + 1]!);
    }
  });
  let changed = true;
  while (changed) {
    changed = false;
    fns.forEach((_, f) => {
      if (!has[f] && callees[f]!.some((c) => has[c])) {
        has[f] = true;
        changed = true;
      }
    });
  }
  return has;
}

export function isCall(code: number): boolean {
  return insnClass(code) === Class.JMP && insnOp(code) === JmpOp.CALL;
}
