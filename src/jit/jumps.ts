// src/jit — the middle passes of the layout without re-lowering anything. Between the first pass and the
// image pass only jumps and exits can change size, and their size follows from their displacement alone:
// a conditional jump is its (fixed) compare plus Jcc rel8 (2) or rel32 (6), ja is nothing / 2 / 5,
// the first exit is the epilogue and later exits are jmp rel8 / rel32 to it. Every other run of
// instructions keeps its first-pass size, so a pass only walks the jumps: position of slot s =
// end[k] + rel[s], where k counts the jumps before s and end[] is updated in place (backward targets
// see this pass's ends, forward ones the previous pass's, exactly like do_jit's addrs[]).
// Padding passes (from pass 15) and functions with tail calls go through the full re-lowering instead.

import { JmpOp, LD_IMM64 } from '../isa/opcodes.js';
import { isImm8JmpOffset } from './lower/jmp.js';
import type { FnState } from './lower/state.js';
import { Emit, TAIL_CALL, type InsnTable } from './table.js';

const COND = 0;
const JA = 1;
const JA_SELF = 2;
const EXIT = 3;

export interface JumpPlan {
  /** Number of layout instructions (jumps and exits). */
  readonly count: number;
  readonly kind: Uint8Array;
  /** COND: size of the compare before the Jcc; EXIT: size of the epilogue (used by the first exit). */
  readonly fixed: Int32Array;
  /** Bytes of fixed-size code between the previous jump's end and this jump's start. */
  readonly gap: Int32Array;
  /** Target slot as end[tBase] + tRel. */
  readonly tBase: Int32Array;
  readonly tRel: Int32Array;
  /** end[0] = end of the prologue, end[j + 1] = end of jump j (current values). */
  readonly end: Int32Array;
  /** end[] after the first pass. */
  readonly firstEnd: Int32Array;
  /** Fixed bytes after the last jump. */
  readonly tail: number;
  /** Per slot: number of jumps before it (-1: not an instruction start). */
  readonly before: Int32Array;
}

/**
 * Builds the plan from the first pass (st.addrs holds its positions, sizes[] and cmpLen[] its
 * per-instruction sizes). Returns null when the function needs the full passes: a tail call (its
 * sequence carries labels from pass to pass) or a jump into the middle of an ld_imm64.
 * `before` is scratch space of n + 1 entries, reused by the caller after materialize().
 */
export function planJumps(
  st: FnState,
  t: InsnTable,
  first: number,
  end: number,
  sizes: Int32Array,
  cmpLen: Int32Array,
  len: number,
  before: Int32Array,
): JumpPlan | null {
  const firstPc = st.fn.firstPc;
  const addrs = st.addrs;
  const variable = t.variable;
  const code = t.code;
  let count = 0;
  for (let i = first; i < end; i++) {
    if (variable[i] === Emit.LAYOUT) {
      if (code[i] === TAIL_CALL) return null;
      count++;
    }
  }
  before.fill(-1);
  const kind = new Uint8Array(count);
  const fixed = new Int32Array(count);
  const gap = new Int32Array(count);
  const tBase = new Int32Array(count);
  const tRel = new Int32Array(count);
  const ends = new Int32Array(count + 1);
  ends[0] = addrs[0]!;
  const tgt = tRel; // target slot first, turned into tRel below
  let j = 0;
  let seenExit = false;
  for (let i = first; i < end; i++) {
    const local = t.pc[i]! - firstPc;
    before[local] = j;
    if (variable[i] !== Emit.LAYOUT) continue;
    const c = code[i]!;
    const op = c & 0xf0;
    const is64 = (c & 7) === 5;
    const start = addrs[local]!;
    gap[j] = start - ends[j]!;
    if (op === JmpOp.EXIT) {
      kind[j] = EXIT;
      if (!seenExit) fixed[j] = sizes[i - first]!;
      seenExit = true;
      tgt[j] = -1;
    } else if (op === JmpOp.JA) {
      const off = is64 ? t.off[i]! : t.imm[i]!;
      kind[j] = off === -1 ? JA_SELF : JA;
      tgt[j] = off === -1 ? -1 : local + 1 + off;
    } else {
      kind[j] = COND;
      fixed[j] = cmpLen[i - first]!;
      tgt[j] = local + 1 + t.off[i]!;
    }
    ends[j + 1] = addrs[code[i] === LD_IMM64 ? local + 2 : local + 1]!;
    j++;
  }
  const n = st.fn.endPc - firstPc;
  before[n] = count;
  for (let k = 0; k < count; k++) {
    const s = tgt[k]!;
    if (s < 0) continue;
    const b = before[s]!;
    if (b < 0) return null;
    tBase[k] = b;
    tRel[k] = addrs[s]! - ends[b]!;
  }
  return { count, kind, fixed, gap, tBase, tRel, end: ends, firstEnd: ends.slice(), tail: len - ends[count]!, before };
}

/** One middle pass; returns the image length. */
export function jumpPass(p: JumpPlan): number {
  const { count, kind, fixed, gap, tBase, tRel, end } = p;
  let pos = end[0]!;
  let cleanup = 0;
  let seenExit = false;
  for (let j = 0; j < count; j++) {
    const start = pos + gap[j]!;
    const oldEnd = end[j + 1]!;
    const k = kind[j]!;
    let size: number;
    if (k === COND) {
      size = fixed[j]! + (isImm8JmpOffset(end[tBase[j]!]! + tRel[j]! - oldEnd) ? 2 : 6);
    } else if (k === JA) {
      const rel = end[tBase[j]!]! + tRel[j]! - oldEnd;
      size = rel === 0 ? 0 : isImm8JmpOffset(rel) ? 2 : 5;
    } else if (k === JA_SELF) {
      size = 2;
    } else if (!seenExit) {
      seenExit = true;
      cleanup = start;
      size = fixed[j]!;
    } else {
      size = isImm8JmpOffset(cleanup - oldEnd) ? 2 : 5;
    }
    pos = start + size;
    end[j + 1] = pos;
  }
  return pos + p.tail;
}

/** Writes the current positions into st.addrs (for the full passes that follow). */
export function materialize(p: JumpPlan, st: FnState): void {
  const addrs = st.addrs;
  const before = p.before;
  const { end, firstEnd } = p;
  for (let s = 0; s < addrs.length; s++) {
    const b = before[s]!;
    if (b >= 0) addrs[s] = end[b]! + (addrs[s]! - firstEnd[b]!);
  }
}
