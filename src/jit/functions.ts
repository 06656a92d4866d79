// src/jit — splitting a program into its functions (main + bpf-to-bpf subprograms) and the per-function
// facts the prologue needs: which callee-saved registers it mentions and whether a tail call is
// reachable from it.

import { BpfError, insnError } from '../errors.js';
import { Class, JmpOp, PseudoCall, insnClass, insnOp } from '../isa/opcodes.js';
import { TAIL_CALL, type InsnTable, tCode, tDst, tImm, tPc, tSrc } from './table.js';

export interface FnRange {
  readonly firstPc: number;
  readonly endPc: number;
  /** Index range in prog.insns. */
  readonly first: number;
  readonly end: number;
}

const CALL = Class.JMP | JmpOp.CALL;

function isPseudoCall(code: number, src: number): boolean {
  return code === CALL && src === PseudoCall.CALL;
}

/** Functions start at pc 0 and at every bpf-to-bpf call target. */
export function splitFunctions(
  t: InsnTable,
  slots: number,
  extraStarts: readonly number[] = [],
): { fns: FnRange[]; funcOfPc: Int32Array } {
  const n = t.length;
  // 1: an instruction starts here; 2: a function starts here.
  const mark = new Uint8Array(slots + 1);
  for (let i = 0; i < n; i++) mark[tPc(t, i)] = 1;
  for (let i = 0; i < n; i++) {
    if (!isPseudoCall(tCode(t, i), tSrc(t, i))) continue;
    const target = tPc(t, i) + tImm(t, i) + 1;
    if (target < 0 || target >= slots || mark[target] === 0) throw insnError(tPc(t, i), `call target ${target} is not an instruction`);
    mark[target] = 2;
  }
  for (const start of extraStarts) {
    if (!Number.isInteger(start) || start < 0 || start >= slots || mark[start] === 0) {
      throw new BpfError({ message: `function start ${start} is not an instruction` });
    }
    mark[start] = 2;
  }
  if (n > 0) mark[tPc(t, 0)] = 2;
  const fns: FnRange[] = [];
  const funcOfPc = new Int32Array(slots);
  let cur = -1;
  let firstPc = 0;
  let first = 0;
  for (let i = 0; i < n; i++) {
    const pc = tPc(t, i);
    if (mark[pc] === 2) {
      if (i > 0) fns.push({ firstPc, endPc: pc, first, end: i });
      firstPc = pc;
      first = i;
      cur++;
    }
    funcOfPc[pc] = cur;
    if (tCode(t, i) === 0x18 && pc + 1 < slots) funcOfPc[pc + 1] = cur;
  }
  if (n > 0) fns.push({ firstPc, endPc: slots, first, end: n });
  return { fns, funcOfPc };
}

/** Bit k: BPF r(6+k) appears as dst or src of some instruction (the kernel's detect_reg_usage). */
export function calleeSavedUsed(t: InsnTable, fn: FnRange): number {
  let bits = 0;
  for (let i = fn.first; i < fn.end; i++) bits |= calleeBits(tDst(t, i), tSrc(t, i));
  return bits;
}

/** The callee-saved bits one instruction mentions. */
export function calleeBits(d: number, s: number): number {
  return (d >= 6 && d <= 9 ? 1 << (d - 6) : 0) | (s >= 6 && s <= 9 ? 1 << (s - 6) : 0);
}

/** A function is tail-call reachable if it, or a function it calls (transitively), does a tail call. */
export function tailCallReachable(t: InsnTable, fns: readonly FnRange[], funcOfPc: Int32Array): boolean[] {
  const has = fns.map(() => false);
  const callees = fns.map(() => [] as number[]);
  fns.forEach((fn, f) => {
    for (let i = fn.first; i < fn.end; i++) {
      const code = tCode(t, i);
      if (code === TAIL_CALL) has[f] = true;
      if (isPseudoCall(code, tSrc(t, i))) callees[f]!.push(funcOfPc[tPc(t, i) + tImm(t, i) + 1]!);
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
