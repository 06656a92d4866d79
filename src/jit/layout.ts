// src/jit — the kernel's multi-pass layout for one function (bpf_int_jit_compile + do_jit).
// runPasses() is the loop: addrs seeded at 64 bytes per instruction, repeat until the size stops
// changing, nop padding from pass 15, at most 20 passes, then one more pass that produces the image.
// The first pass lowers everything and keeps its bytes; the middle passes only recompute jump sizes
// (jumps.ts); the image pass copies the bytes of everything position-independent and lowers the rest
// (jumps, exits, calls) again. Padding passes and tail calls use full re-lowering passes (emitPass).

import { BpfError, insnError } from '../errors.js';
import { LD_IMM64 } from '../isa/opcodes.js';
import { lowerInsn } from './lower/index.js';
import type { FnInfo, FnState, ProgConsts } from './lower/state.js';
import { emitPrologue } from './prologue.js';
import type { ExEntry } from './types.js';
import type { Assembler } from './x86/asm.js';
import { type Cursor, Emit, type InsnTable, loadCursor, newCursor } from './table.js';
import { EX_KINDS, exEntry } from './extable.js';
import { type JumpPlan, jumpPass, materialize, planJumps } from './jumps.js';

export const MAX_PASSES = 20;
export const PADDING_PASSES = MAX_PASSES - 5;
/** BPF_MAX_INSN_SIZE: no BPF instruction may expand to more bytes. */
const MAX_INSN_SIZE = 128;

export interface FnLayout {
  readonly image: Uint8Array;
  /** Start offset of each slot, plus the end (the JitFunction.addrs contract). */
  readonly starts: Int32Array;
  readonly extable: ExEntry[];
  readonly passes: number;
}

export function newFnState(a: Assembler, fn: FnInfo, prog: ProgConsts): FnState {
  const n = fn.endPc - fn.firstPc;
  const addrs = new Int32Array(n + 1);
  for (let i = 0; i <= n; i++) addrs[i] = 64 * (i + 1);
  return {
    a,
    fn,
    prog,
    addrs,
    cleanupAddr: 64 * (n + 1),
    seenExit: false,
    padding: false,
    final: false,
    extable: [],
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

/** callBase - imageBase as a number when it is exact (always, for kernel addresses), else NaN. */
function callDelta(callBase: bigint, imageBase: bigint): number {
  const d = BigInt.asIntN(64, callBase - imageBase);
  return d >= -(1n << 52n) && d <= 1n << 52n ? Number(d) : NaN;
}

/** Kinds of full pass: the first lowers everything and records sizes and bytes; the middle ones re-lower
 *  only the layout-dependent instructions (jumps, exits) and step over the rest by their recorded size;
 *  the image pass copies the first pass's bytes of position-independent instructions, lowers the rest
 *  again and fills `starts`. */
export const Pass = { FIRST: 0, JUMPS: 1, IMAGE: 2 } as const;
export type Pass = (typeof Pass)[keyof typeof Pass];

/** Per-function buffers reused across passes. */
export interface PassBuffers {
  readonly cursor: Cursor;
  /** Code size of each instruction (index relative to the function's first instruction). */
  readonly sizes: Int32Array;
  /** Start offset of each slot plus the end (filled by the image pass; scratch of the jump plan before). */
  readonly starts: Int32Array;
  /** Where each instruction's code starts in `firstBytes` (the first pass). */
  readonly firstStart: Int32Array;
  /** Conditional jumps: size of the compare before the Jcc (first pass). */
  readonly cmpLen: Int32Array;
  /** Exception-table record of the instruction in the first pass (packed, see packEx), 0 for none. */
  readonly exInfo: Int32Array;
  /** The first pass's bytes. */
  firstBytes: Uint8Array;
}

/** Relative start (8 bits), length (8), clear register + 1 (5), address register (4), kind (2), present. */
function packEx(st: FnState, insnStart: number): number {
  const rel = st.exStart - insnStart;
  if (rel < 0 || rel > 0xff || st.exLen > 0xff) return 0;
  return rel | (st.exLen << 8) | ((st.exClear + 1) << 16) | (st.exAddr << 21) | (st.exKind << 25) | (1 << 30);
}

/** One full pass over the function; returns the image length. */
export function emitPass(st: FnState, t: InsnTable, first: number, end: number, kind: Pass, buf: PassBuffers): number {
  const a = st.a;
  const s = a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  const { cursor, sizes, starts, firstStart, exInfo } = buf;
  const first8 = buf.firstBytes;
  const image = kind === Pass.IMAGE;
  s.pos = 0;
  s.reserve(256);
  st.seenExit = false;
  st.extable.length = 0;
  emitPrologue(st);
  addrs[0] = s.pos;
  if (image) s.reserve(first8.length + 256);
  // The image pass copies runs of consecutive position-independent instructions in one go.
  let runFrom = 0;
  let runTo = 0;
  let runDst = 0;
  for (let i = first; i < end; i++) {
    const local = t.pc[i]! - firstPc;
    const endSlot = t.code[i] === LD_IMM64 ? local + 2 : local + 1;
    const emit = t.variable[i]!;
    if (kind === Pass.JUMPS && emit !== Emit.LAYOUT) {
      s.pos += sizes[i - first]!;
      addrs[endSlot] = s.pos;
      continue;
    }
    const ex = exInfo[i - first]!;
    if (image && (emit === Emit.FIXED || ex !== 0)) {
      // Position-independent bytes: copy them from the first pass.
      const size = sizes[i - first]!;
      const from = firstStart[i - first]!;
      const start = s.pos;
      if (from !== runTo || start !== runDst + (runTo - runFrom)) {
        copyRun(s.buf, first8, runFrom, runTo, runDst);
        runFrom = from;
        runDst = start;
      }
      runTo = from + size;
      s.pos = start + size;
      if (s.pos !== addrs[endSlot]) throw insnError(t.pc[i]!, 'internal error: layout changed in the image pass');
      starts[local] = start;
      if (endSlot === local + 2) starts[local + 1] = s.pos;
      if (ex !== 0) {
        const clear = ((ex >> 16) & 0x1f) - 1;
        st.extable.push(
          exEntry(start + (ex & 0xff), (ex >> 8) & 0xff, clear < 0 ? null : clear, (ex >> 21) & 0xf, t.off[i]!, t.pc[i]!, EX_KINDS[(ex >> 25) & 3]!),
        );
      }
      continue;
    }
    if (s.pos + 256 > s.buf.length) s.reserve(256);
    const start = s.pos;
    loadCursor(t, i, cursor);
    const exSeq = st.exSeq;
    lowerInsn(st, cursor);
    const endPos = s.pos;
    if (endPos - start > MAX_INSN_SIZE) throw insnError(cursor.pc, 'instruction expands to more than 128 bytes');
    if (image) {
      if (endPos !== addrs[endSlot]) throw insnError(cursor.pc, 'internal error: layout changed in the image pass');
      starts[local] = start;
      if (endSlot === local + 2) starts[local + 1] = endPos;
    } else if (kind === Pass.FIRST) {
      sizes[i - first] = endPos - start;
      firstStart[i - first] = start;
      if (emit === Emit.LAYOUT) buf.cmpLen[i - first] = st.jccAt - start;
      else if (st.exSeq === exSeq + 1) exInfo[i - first] = packEx(st, start);
    }
    addrs[endSlot] = endPos;
  }
  if (image) {
    copyRun(s.buf, first8, runFrom, runTo, runDst);
    starts[addrs.length - 1] = s.pos;
  }
  return s.pos;
}

function copyRun(out: Uint8Array, from: Uint8Array, start: number, end: number, dst: number): void {
  if (end - start > 32) {
    out.set(from.subarray(start, end), dst);
    return;
  }
  for (let k = start; k < end; k++) out[dst + k - start] = from[k]!;
}

/**
 * The pass loop. `extraPass` adds the final pass the kernel runs for programs with subprograms
 * once every function's address is known (padding on, addrs kept).
 */
export function runPasses(st: FnState, t: InsnTable, first: number, end: number, extraPass: boolean): FnLayout {
  const n = st.fn.endPc - st.fn.firstPc;
  const m = end - first;
  const buf: PassBuffers = {
    cursor: newCursor(),
    sizes: new Int32Array(m),
    starts: new Int32Array(n + 1),
    firstStart: new Int32Array(m),
    cmpLen: new Int32Array(m),
    exInfo: new Int32Array(m),
    firstBytes: new Uint8Array(0),
  };
  const sink = st.a.s;
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
      len = emitPass(st, t, first, end, Pass.FIRST, buf);
      // Keep the first pass's bytes; later passes write into a fresh buffer.
      buf.firstBytes = sink.buf.subarray(0, len);
      sink.buf = new Uint8Array(len + 512);
      plan = planJumps(st, t, first, end, buf.sizes, buf.cmpLen, len, buf.starts);
    } else if (plan !== null && !padding && !image) {
      len = jumpPass(plan);
    } else {
      if (plan !== null) {
        materialize(plan, st);
        plan = null;
      }
      len = emitPass(st, t, first, end, image ? Pass.IMAGE : Pass.JUMPS, buf);
    }
    if (image) {
      if (len !== oldLen) throw new BpfError({ insn: st.fn.firstPc, message: `internal error: image size ${len} != ${oldLen}` });
      break;
    }
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
    emitPass(st, t, first, end, Pass.IMAGE, buf);
    passes++;
  }
  return { image: sink.bytes(), starts: buf.starts, extable: st.extable.slice(), passes };
}
