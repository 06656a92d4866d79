// src/jit — the middle passes of the layout without re-lowering anything. Between the first pass and the
// image pass only jumps and exits can change size, and their size follows from their displacement alone:
// a conditional jump is its (fixed) compare plus Jcc rel8 (2) or rel32 (6), ja is nothing / 2 / 5,
// the first exit is the epilogue and later exits are jmp rel8 / rel32 to it. Every other run of
// instructions keeps its first-pass size, so a pass only walks the jumps: position of slot s =
// end[k] + rel[s], where k counts the jumps before s and end[] is updated in place (backward targets
// see this pass's ends, forward ones the previous pass's, exactly like do_jit's addrs[]).
// Padding passes (from pass 15) and functions with tail calls go through the full re-lowering instead.

import { JmpOp } from '../isa/opcodes.js';
import { isImm8JmpOffset } from './lower/jmp.js';
import type { FnState } from './lower/state.js';
import type { IntList } from './scratch.js';
import { TAIL_CALL, type InsnTable, tCode, tImm, tOff, tPc } from './table.js';

const COND = 0;
const JA = 1;
const JA_SELF = 2;
const EXIT = 3;

/** Words per jump in JumpPlan.rec. */
const REC = 4;

export interface JumpPlan {
  /** Number of layout instructions (jumps and exits). */
  readonly count: number;
  /**
   * REC words per jump, one array so that a pass reads one typed array, not six: the bytes of fixed-size code
   * between the previous jump's end and this one's start; kind | fixed << 2 (fixed: COND the size of the compare
   * before the Jcc, EXIT the size of the epilogue, used by the first exit); then the target slot as
   * end[tBase] + tRel: tBase, tRel.
   */
  readonly rec: Int32Array;
  /** end[0] = end of the prologue, end[j + 1] = end of jump j (current values). */
  readonly end: Int32Array;
  /** end[] after the first pass. */
  readonly firstEnd: Int32Array;
  /** Fixed bytes after the last jump. */
  readonly tail: number;
  /** Slot (relative to the function) of each layout instruction. */
  readonly slot: Int32Array;
}

/** Number of entries of sorted a[0..n) below v. */
function lowerBound(a: Int32Array, n: number, v: number): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Builds the plan from the first pass: st.addrs holds its positions, `layout[0..count)` the table
 * indices of its layout instructions and `cmpLen` their compare sizes, `firstStart` where each instruction began (sizes are differences).
 * `ldImm64` lists the ld_imm64 slots; `before` is scratch space of n + 1 entries.
 * Returns null when the function needs the full passes: a tail call (its sequence carries labels from
 * pass to pass) or a jump into the middle of an ld_imm64.
 */
export function planJumps(
  st: FnState,
  t: InsnTable,
  first: number,
  end: number,
  layout: Int32Array,
  cmpLen: Int32Array,
  count: number,
  firstStart: Int32Array,
  len: number,
  ldImm64: IntList,
  before: Int32Array,
): JumpPlan | null {
  const firstPc = st.fn.firstPc;
  const n = st.fn.endPc - firstPc;
  const addrs = st.addrs;
  const rec = new Int32Array(count * REC);
  const slot = new Int32Array(count);
  const ends = new Int32Array(count + 1);
  ends[0] = addrs[0]!;
  let seenExit = false;
  for (let j = 0; j < count; j++) {
    const i = layout[j]!;
    const c = tCode(t, i);
    if (c === TAIL_CALL) return null;
    const local = tPc(t, i) - firstPc;
    const op = c & 0xf0;
    const start = addrs[local]!;
    slot[j] = local;
    const r = j * REC;
    rec[r] = start - ends[j]!;
    let target = -1;
    if (op === JmpOp.EXIT) {
      rec[r + 1] = EXIT | ((seenExit ? 0 : firstStart[i - first + 1]! - firstStart[i - first]!) << 2);
      seenExit = true;
    } else if (op === JmpOp.JA) {
      const off = (c & 7) === 5 ? tOff(t, i) : tImm(t, i);
      rec[r + 1] = off === -1 ? JA_SELF : JA;
      if (off !== -1) target = local + 1 + off;
    } else {
      rec[r + 1] = COND | (cmpLen[j]! << 2);
      target = local + 1 + tOff(t, i);
    }
    rec[r + 2] = target; // the target slot for now
    ends[j + 1] = addrs[local + 1]!;
  }
  // Number of jumps before each slot: binary search for a few jumps, else a map of all slots.
  const byMap = count * 16 > n;
  if (byMap) {
    // A plain loop: most runs are a few slots long, where a fill() call per jump costs more than the stores.
    let s = 0;
    for (let j = 0; j < count; j++) {
      const upTo = slot[j]!;
      for (; s <= upTo; s++) before[s] = j;
    }
    for (; s <= n; s++) before[s] = count;
    for (let j = 0; j < ldImm64.n; j++) before[ldImm64.a[j]! + 1] = -1;
  }
  for (let j = 0; j < count; j++) {
    const s = rec[j * REC + 2]!;
    if (s < 0) continue;
    let b: number;
    if (byMap) {
      b = before[s]!;
      if (b < 0) return null;
    } else {
      if (s !== n && !isInsnStart(t, first, end, s + firstPc)) return null;
      b = lowerBound(slot, count, s);
    }
    rec[j * REC + 2] = b;
    rec[j * REC + 3] = addrs[s]! - ends[b]!;
  }
  return { count, rec, end: ends, firstEnd: ends.slice(), tail: len - ends[count]!, slot };
}

/** Whether an instruction of t[first..end) starts at slot pc (pcs are increasing). */
function isInsnStart(t: InsnTable, first: number, end: number, pc: number): boolean {
  let lo = first;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tPc(t, mid) < pc) lo = mid + 1;
    else hi = mid;
  }
  return lo < end && tPc(t, lo) === pc;
}

/** One middle pass; returns the image length. */
export function jumpPass(p: JumpPlan): number {
  const { count, rec, end } = p;
  let pos = end[0]!;
  let cleanup = 0;
  let seenExit = false;
  for (let j = 0, r = 0; j < count; j++, r += REC) {
    const start = pos + rec[r]!;
    const oldEnd = end[j + 1]!;
    const kf = rec[r + 1]!;
    const k = kf & 3;
    let size: number;
    if (k === COND) {
      size = (kf >> 2) + (isImm8JmpOffset(end[rec[r + 2]!]! + rec[r + 3]! - oldEnd) ? 2 : 6);
    } else if (k === JA) {
      const rel = end[rec[r + 2]!]! + rec[r + 3]! - oldEnd;
      size = rel === 0 ? 0 : isImm8JmpOffset(rel) ? 2 : 5;
    } else if (k === JA_SELF) {
      size = 2;
    } else if (!seenExit) {
      seenExit = true;
      cleanup = start;
      size = kf >> 2;
    } else {
      size = isImm8JmpOffset(cleanup - oldEnd) ? 2 : 5;
    }
    pos = start + size;
    end[j + 1] = pos;
  }
  return pos + p.tail;
}

/** Writes the current positions into st.addrs (for the full passes that follow): each slot after layout
 *  instruction j-1, up to and including layout instruction j, moves by as much as the end of jump j-1 moved.
 *  (The second slot of an ld_imm64 moves too; no jump targets it on this path, see planJumps.) */
export function materialize(p: JumpPlan, st: FnState): void {
  const addrs = st.addrs;
  const { end: ends, firstEnd, slot, count } = p;
  const n = addrs.length - 1;
  if (count === 0) return;
  let s = slot[0]! + 1; // up to the first layout instruction nothing moved
  for (let j = 1; j <= count; j++) {
    const shift = ends[j]! - firstEnd[j]!;
    const upTo = j < count ? slot[j]! : n;
    if (shift !== 0) for (; s <= upTo; s++) addrs[s] = addrs[s]! + shift;
    s = upTo + 1;
  }
}
