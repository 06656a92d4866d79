// src/jit — the kernel's multi-pass layout for one function (bpf_int_jit_compile + do_jit).
// runPasses() is the loop: addrs seeded at 64 bytes per instruction, repeat until the size stops
// changing, nop padding from pass 15, at most 20 passes, then one more pass that produces the image.
// The first pass lowers everything and keeps its bytes; the middle passes only recompute jump sizes
// (jumps.ts); the image pass copies the bytes of everything position-independent and lowers the rest
// (jumps, exits, calls) again. Padding passes and tail calls use full re-lowering passes (emitPass).

import { BpfError, insnError } from '../errors.js';
import { Class, JmpOp, LD_IMM64, PseudoCall } from '../isa/opcodes.js';
import { lowerDirect, lowerInsn } from './lower/index.js';
import { emitJcc } from './lower/jmp.js';
import type { Cond } from './x86/cond.js';
import type { FnInfo, FnState, ProgConsts } from './lower/state.js';
import { emitPrologue } from './prologue.js';
import type { Assembler } from './x86/asm.js';
import { type Cursor, Emit, type InsnTable, TAIL_CALL, TW, W_OPS, loadCursor, newCursor, tCode, tEmit, tImm, tOff, tPc } from './table.js';
import { ExTableBuilder, type PackedExTable, exceptionTable, packEx } from './extable.js';
import { type JumpPlan, jumpPass, materialize, planJumps } from './jumps.js';
import { type IntList, passLists as lists, release, take } from './scratch.js';

const HELPER_CALL = Class.JMP | JmpOp.CALL;
export const MAX_PASSES = 20;
export const PADDING_PASSES = MAX_PASSES - 5;
/** BPF_MAX_INSN_SIZE: no BPF instruction may expand to more bytes. */
const MAX_INSN_SIZE = 128;

export interface FnLayout {
  readonly image: Uint8Array;
  /** Start offset of each slot, plus the end (the JitFunction.addrs contract). */
  readonly starts: Int32Array;
  readonly extable: PackedExTable;
  readonly passes: number;
}

/** `addrsMem`: memory for st.addrs (4 bytes per slot + 4; default: fresh), e.g. a pooled scratch buffer. */
export function newFnState(a: Assembler, fn: FnInfo, prog: ProgConsts, addrsMem?: ArrayBuffer): FnState {
  const n = fn.endPc - fn.firstPc;
  return {
    a,
    fn,
    prog,
    addrs: seededAddrs(n, addrsMem),
    cleanupAddr: 64 * (n + 1),
    seenExit: false,
    padding: false,
    final: false,
    extable: new ExTableBuilder(),
    tailCallIndirectLabel: 0,
    tailCallDirectLabel: 0,
    jccAt: 0,
    callDelta: callDelta(prog.callBase, prog.imageBases[fn.index]!),
    exSeq: 0,
    exStart: 0,
    exLen: 0,
    exClear: 0,
    exAddr: 0,
    exKind: 0,
  };
}

/** The kernel's first guess: 64 bytes per instruction. A loop of its own: in newFnState, V8's on-stack
 *  replacement of the loop compiled the rest of that function without type feedback and deoptimised it on
 *  every call. */
function seededAddrs(n: number, mem?: ArrayBuffer): Int32Array {
  const addrs = mem !== undefined && mem.byteLength >= (n + 1) * 4 ? new Int32Array(mem, 0, n + 1) : new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) addrs[i] = 64 * (i + 1);
  return addrs;
}

/** callBase - imageBase as a number when it is exact (always, for kernel addresses), else NaN. */
function callDelta(callBase: bigint, imageBase: bigint): number {
  const d = BigInt.asIntN(64, callBase - imageBase);
  return d >= -(1n << 52n) && d <= 1n << 52n ? Number(d) : NaN;
}

/** Per-function buffers reused across passes. */
export interface PassBuffers {
  readonly cursor: Cursor;
  /** Start offset of each slot plus the end (filled by the image pass). */
  readonly starts: Int32Array;
  /** Where each instruction's code starts in `firstBytes` (the first pass; index relative to the
   *  function's first instruction, one more entry for the end): sizes are differences. */
  readonly firstStart: Int32Array;
  /** The layout instructions (jumps, exits, tail calls) of the first pass, by table index, and for
   *  conditional jumps the size of the compare before the Jcc. */
  readonly layout: IntList;
  readonly layoutCmp: IntList;
  /** Instructions the image pass lowers again (layout-dependent or with call displacements), and for each
   *  the size of its compare when it is a conditional jump (the image pass then rewrites only its Jcc), else -1. */
  readonly relower: IntList;
  readonly relowerCmp: IntList;
  /** Helper and kfunc calls: copied by the image pass, then their rel32 patched (patchCalls). */
  readonly calls: IntList;
  /** Instructions whose exception-table record the image pass copies, and the records (packEx). */
  readonly exInsns: IntList;
  readonly exRecs: IntList;
  /** Slots of ld_imm64 instructions (relative to the function). */
  readonly ldImm64: IntList;
  /** The first pass's bytes. */
  firstBytes: Uint8Array;
  /** The image pass's exception table. */
  extable: PackedExTable | null;
}

/** Prologue of every pass: leaves the sink after the prologue and addrs[0] set. */
function startPass(st: FnState): void {
  const s = st.a.s;
  s.pos = 0;
  st.seenExit = false;
  st.extable.clear();
  emitPrologue(st);
  st.addrs[0] = s.pos;
}

/** The first pass: lowers every instruction, recording where its bytes are, the layout instructions,
 *  what the image pass must lower again, and exception-table records. Returns the image length. */
function firstPass(st: FnState, t: InsnTable, first: number, end: number, buf: PassBuffers, full: boolean): number {
  const s = st.a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  const { cursor, firstStart } = buf;
  const w = t.w;
  s.reserve(256);
  startPass(st);
  for (let i = first; i < end; i++) {
    const b = i * TW;
    const pc = w[b]!;
    const ops = w[b + W_OPS]!;
    const code = ops & 0xff;
    const local = pc - firstPc;
    if (s.pos + 256 > s.buf.length) s.reserve(256);
    const start = s.pos;
    const exSeq = st.exSeq;
    let endPos = lowerDirect(st, s.buf, start, w, b);
    if (endPos < 0) {
      loadCursor(t, i, cursor);
      lowerInsn(st, cursor);
      endPos = s.pos;
      if (endPos - start > MAX_INSN_SIZE) throw insnError(pc, 'instruction expands to more than 128 bytes');
    } else s.pos = endPos;
    firstStart[i - first] = start;
    const emit = (ops >> 16) & 3;
    if (full) relowerAt(buf, i, -1);
    else if (emit !== Emit.FIXED) noteVariable(st, buf, i, emit, start, exSeq, code, (ops >> 12) & 0xf);
    if (code === LD_IMM64) {
      buf.ldImm64.push(local);
      addrs[local + 2] = endPos;
    } else {
      addrs[local + 1] = endPos;
    }
  }
  firstStart[end - first] = s.pos;
  return s.pos;
}

/** First pass, a layout or image instruction: list it for the later passes. */
function noteVariable(st: FnState, buf: PassBuffers, i: number, emit: number, start: number, exSeq: number, code: number, src: number): void {
  if (emit === Emit.LAYOUT) {
    const op = code & 0xf0;
    const cond = op !== JmpOp.JA && op !== JmpOp.EXIT && code !== TAIL_CALL;
    buf.layout.push(i);
    buf.layoutCmp.push(st.jccAt - start);
    relowerAt(buf, i, cond ? st.jccAt - start : -1);
    return;
  }
  const rec = st.exSeq === exSeq + 1 ? packEx(st, start) : 0;
  if (rec === 0) {
    // A helper or kfunc call is `e8 rel32` whatever its place: copied, then its displacement patched.
    if (code === HELPER_CALL && src !== PseudoCall.CALL && st.a.s.pos - start === 5 && !Number.isNaN(st.callDelta)) buf.calls.push(i);
    else relowerAt(buf, i, -1);
  } else {
    buf.exInsns.push(i);
    buf.exRecs.push(rec);
  }
}

function relowerAt(buf: PassBuffers, i: number, cmp: number): void {
  buf.relower.push(i);
  buf.relowerCmp.push(cmp);
}

/** A full middle pass (padding passes, tail calls): re-lowers the layout-dependent instructions and
 *  steps over the others by their recorded size. */
function fullPass(st: FnState, t: InsnTable, first: number, end: number, buf: PassBuffers): number {
  const s = st.a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  const { cursor, firstStart } = buf;
  s.reserve(256);
  startPass(st);
  for (let i = first; i < end; i++) {
    const local = tPc(t, i) - firstPc;
    const endSlot = tCode(t, i) === LD_IMM64 ? local + 2 : local + 1;
    if (tEmit(t, i) !== Emit.LAYOUT) {
      s.pos += firstStart[i - first + 1]! - firstStart[i - first]!;
      addrs[endSlot] = s.pos;
      continue;
    }
    s.reserve(256);
    const start = s.pos;
    loadCursor(t, i, cursor);
    lowerInsn(st, cursor);
    if (s.pos - start > MAX_INSN_SIZE) throw insnError(cursor.pc, 'instruction expands to more than 128 bytes');
    addrs[endSlot] = s.pos;
  }
  return s.pos;
}

/**
 * The image pass, into a fresh buffer of exactly the expected length: copies the first pass's bytes
 * between the instructions that must be lowered again (jumps, exits, calls) and lowers those. Every
 * other instruction keeps its first-pass bytes, so its start is st.addrs' (checked at each lowered
 * instruction and at the end). A lowering that disagreed with the layout would end past `expected`
 * (writes beyond a Uint8Array are dropped) and is reported as an internal error.
 */
function imagePass(st: FnState, t: InsnTable, first: number, end: number, buf: PassBuffers, expected: number): number {
  const s = st.a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  const { cursor, starts, firstStart, relower, relowerCmp } = buf;
  const padding = st.padding;
  const first8 = buf.firstBytes;
  const out = new Uint8Array(expected);
  const outView = new DataView(out.buffer);
  const fromView = new DataView(first8.buffer, first8.byteOffset, first8.byteLength);
  s.buf = out;
  startPass(st);
  let pos = s.pos;
  let from = firstStart[0]!;
  for (let r = 0; r < relower.n; r++) {
    const i = relower.a[r]!;
    const k = i - first;
    const local = tPc(t, i) - firstPc;
    const cmp = relowerCmp.a[r]!;
    if (cmp >= 0 && !padding) {
      // A conditional jump: its compare does not depend on the layout and is copied with the run before it;
      // only the Jcc is written again (the first pass wrote it right after the compare, without padding).
      const jcc = firstStart[k]! + cmp;
      copyRun(out, outView, first8, fromView, from, jcc, pos);
      pos += jcc - from;
      if (pos !== addrs[local]! + cmp) throw insnError(tPc(t, i), 'internal error: layout changed in the image pass');
      const b0 = first8[jcc]!;
      s.pos = pos;
      emitJcc(st, ((b0 === 0x0f ? first8[jcc + 1]! : b0) & 0xf) as Cond, addrs[local + 1 + tOff(t, i)]! - addrs[local + 1]!);
      pos = s.pos;
      if (pos !== addrs[local + 1]) throw insnError(tPc(t, i), 'internal error: layout changed in the image pass');
      from = firstStart[k + 1]!;
      continue;
    }
    const to = firstStart[k]!;
    copyRun(out, outView, first8, fromView, from, to, pos);
    pos += to - from;
    if (pos !== addrs[local]) throw insnError(tPc(t, i), 'internal error: layout changed in the image pass');
    s.pos = pos;
    loadCursor(t, i, cursor);
    lowerInsn(st, cursor);
    pos = s.pos;
    if (pos !== addrs[tCode(t, i) === LD_IMM64 ? local + 2 : local + 1]) {
      throw insnError(tPc(t, i), 'internal error: layout changed in the image pass');
    }
    from = firstStart[k + 1]!;
  }
  const to = firstStart[end - first]!;
  copyRun(out, outView, first8, fromView, from, to, pos);
  pos += to - from;
  s.pos = pos;
  if (pos !== expected || s.buf !== out) {
    throw new BpfError({ insn: st.fn.firstPc, message: `internal error: image size ${pos} != ${expected}` });
  }
  patchCalls(st, t, buf, out);
  buf.extable = exceptionTable(st, t, buf.exInsns, buf.exRecs);
  starts.set(addrs);
  const ld = buf.ldImm64;
  for (let j = 0; j < ld.n; j++) starts[ld.a[j]! + 1] = addrs[ld.a[j]! + 2]!;
  return pos;
}

/** Displacements of the copied helper/kfunc calls: callBase + imm - (end of the call), as lowerCall
 *  computes them; one out of range is lowered again so that lowerCall reports it. */
function patchCalls(st: FnState, t: InsnTable, buf: PassBuffers, out: Uint8Array): void {
  const calls = buf.calls;
  for (let c = 0; c < calls.n; c++) {
    const i = calls.a[c]!;
    const pos = st.addrs[tPc(t, i) - st.fn.firstPc]!;
    const rel = st.callDelta + tImm(t, i) - (pos + 5);
    if (rel < -0x80000000 || rel > 0x7fffffff) {
      st.a.s.pos = pos;
      loadCursor(t, i, buf.cursor);
      lowerInsn(st, buf.cursor); // reports the range error
      continue;
    }
    out[pos + 1] = rel;
    out[pos + 2] = rel >>> 8;
    out[pos + 3] = rel >>> 16;
    out[pos + 4] = rel >>> 24;
  }
}

/** Copies from[start, end) to out[dst...]: natively for long runs (a view object per call is only worth
 *  it there), else four bytes at a time through DataViews of the same buffers. */
function copyRun(out: Uint8Array, outView: DataView, from: Uint8Array, fromView: DataView, start: number, end: number, dst: number): void {
  if (end - start > 256) {
    out.set(from.subarray(start, end), dst);
    return;
  }
  let k = start;
  let d = dst;
  for (; k + 4 <= end; k += 4, d += 4) outView.setUint32(d, fromView.getUint32(k, true), true);
  for (; k < end; k++, d++) out[d] = from[k]!;
}

/**
 * The pass loop. `extraPass` adds the final pass the kernel runs for programs with subprograms
 * once every function's address is known (padding on, addrs kept). `full` re-lowers instead of
 * reusing first-pass bytes and jump plans (JitExtraOptions.fullPasses).
 */
export function runPasses(st: FnState, t: InsnTable, first: number, end: number, extraPass: boolean, full = false): FnLayout {
  const n = st.fn.endPc - st.fn.firstPc;
  const m = end - first;
  // Scratch memory from the pool: fresh buffers of this size would add to V8's external-memory count, which
  // is what starts its full collections (and those walk the caller's whole heap).
  const firstStartMem = take((m + 1) * 4);
  const buf: PassBuffers = {
    cursor: newCursor(),
    starts: new Int32Array(n + 1),
    firstStart: new Int32Array(firstStartMem, 0, m + 1),
    layout: lists.layout.reset(),
    layoutCmp: lists.layoutCmp.reset(),
    relower: lists.relower.reset(),
    relowerCmp: lists.relowerCmp.reset(),
    calls: lists.calls.reset(),
    exInsns: lists.exInsns.reset(),
    exRecs: lists.exRecs.reset(),
    ldImm64: lists.ldImm64.reset(),
    firstBytes: new Uint8Array(0),
    extable: null,
  };
  const sink = st.a.s;
  let firstBuffer = sink.buf;
  let plan: JumpPlan | null = null;
  let oldLen = 0;
  let image = false;
  let padding = false;
  let pass = 0;
  for (; pass < MAX_PASSES || image; pass++) {
    if (!padding && pass >= PADDING_PASSES) padding = true;
    st.padding = padding;
    st.final = image;
    let len: number;
    if (pass === 0) {
      len = firstPass(st, t, first, end, buf, full);
      firstBuffer = sink.buf;
      buf.firstBytes = firstBuffer.subarray(0, len);
      // `starts` is free until the image pass fills it.
      if (!full) plan = planJumps(st, t, first, end, buf.layout.a, buf.layoutCmp.a, buf.layout.n, buf.firstStart, len, buf.ldImm64, buf.starts);
    } else if (plan !== null && !padding && !image) {
      len = jumpPass(plan);
    } else {
      if (plan !== null) {
        materialize(plan, st);
        plan = null;
      }
      if (image) len = imagePass(st, t, first, end, buf, oldLen);
      else {
        // Full passes write into their own buffer: the first pass's bytes are still needed.
        if (sink.buf === firstBuffer) sink.buf = new Uint8Array(oldLen + 512);
        len = fullPass(st, t, first, end, buf);
      }
    }
    if (image) break;
    if (len === oldLen) image = true;
    oldLen = len;
  }
  if (!image) {
    throw new BpfError({ insn: st.fn.firstPc, message: `the JIT did not converge in ${MAX_PASSES} passes` });
  }
  let passes = pass + 1;
  if (extraPass) {
    st.padding = true;
    st.final = true;
    imagePass(st, t, first, end, buf, oldLen);
    passes++;
  }
  // The image buffer is handed out; the next function's first pass reuses the first pass's buffer.
  const img = sink.buf;
  sink.buf = firstBuffer;
  release(firstStartMem);
  return { image: img, starts: buf.starts, extable: buf.extable!, passes };
}
