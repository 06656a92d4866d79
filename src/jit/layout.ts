// src/jit — the kernel's multi-pass layout for one function (bpf_int_jit_compile + do_jit).
// emitPass() is one pure pass over the function: it re-emits every instruction from the previous
// pass's addrs[] (updated in place). runPasses() is the loop around it: addrs seeded at 64 bytes per
// instruction, repeat until the size stops changing, nop padding from pass 15, at most 20 passes,
// then one more pass that produces the image.

import { BpfError, insnError } from '../errors.js';
import { LD_IMM64 } from '../isa/opcodes.js';
import { lowerInsn } from './lower/index.js';
import type { FnInfo, FnState, ProgConsts } from './lower/state.js';
import { emitPrologue } from './prologue.js';
import type { ExEntry } from './types.js';
import type { Assembler } from './x86/asm.js';
import { type Cursor, Emit, type InsnTable, loadCursor, newCursor } from './table.js';

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
  };
}

/** Kinds of pass: the first lowers everything and records sizes and bytes; the middle ones re-lower
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
  /** Start offset of each slot plus the end (filled by the image pass). */
  readonly starts: Int32Array;
  /** Where each instruction's code starts in `firstBytes` (the first pass). */
  readonly firstStart: Int32Array;
  /** The first pass's bytes. */
  firstBytes: Uint8Array;
}

/** One pass over the function; returns the image length. */
export function emitPass(st: FnState, t: InsnTable, first: number, end: number, kind: Pass, buf: PassBuffers): number {
  const a = st.a;
  const s = a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  const { cursor, sizes, starts, firstStart } = buf;
  const first8 = buf.firstBytes;
  s.pos = 0;
  s.reserve(256);
  st.seenExit = false;
  st.extable.length = 0;
  emitPrologue(st);
  addrs[0] = s.pos;
  for (let i = first; i < end; i++) {
    const local = t.pc[i]! - firstPc;
    const endSlot = t.code[i] === LD_IMM64 ? local + 2 : local + 1;
    const emit = t.variable[i]!;
    if (kind === Pass.JUMPS && emit !== Emit.LAYOUT) {
      s.pos += sizes[i - first]!;
      addrs[endSlot] = s.pos;
      continue;
    }
    if (kind === Pass.IMAGE && emit === Emit.FIXED) {
      // Position-independent bytes: copy them from the first pass.
      const size = sizes[i - first]!;
      const from = firstStart[i - first]!;
      const start = s.pos;
      s.reserve(size);
      const out = s.buf;
      for (let k = 0; k < size; k++) out[start + k] = first8[from + k]!;
      s.pos = start + size;
      if (s.pos !== addrs[endSlot]) throw insnError(t.pc[i]!, 'internal error: layout changed in the image pass');
      starts[local] = start;
      if (endSlot === local + 2) starts[local + 1] = s.pos;
      continue;
    }
    s.reserve(256);
    const start = s.pos;
    loadCursor(t, i, cursor);
    lowerInsn(st, cursor);
    const endPos = s.pos;
    if (endPos - start > MAX_INSN_SIZE) throw insnError(cursor.pc, 'instruction expands to more than 128 bytes');
    if (kind === Pass.IMAGE) {
      if (endPos !== addrs[endSlot]) throw insnError(cursor.pc, 'internal error: layout changed in the image pass');
      starts[local] = start;
      if (endSlot === local + 2) starts[local + 1] = endPos;
    } else if (kind === Pass.FIRST) {
      sizes[i - first] = endPos - start;
      firstStart[i - first] = start;
    }
    addrs[endSlot] = endPos;
  }
  if (kind === Pass.IMAGE) starts[addrs.length - 1] = s.pos;
  if (kind === Pass.FIRST) buf.firstBytes = s.bytes();
  return s.pos;
}

/**
 * The pass loop. `extraPass` adds the final pass the kernel runs for programs with subprograms
 * once every function's address is known (padding on, addrs kept).
 */
export function runPasses(st: FnState, t: InsnTable, first: number, end: number, extraPass: boolean): FnLayout {
  const n = st.fn.endPc - st.fn.firstPc;
  const buf: PassBuffers = {
    cursor: newCursor(),
    sizes: new Int32Array(end - first),
    starts: new Int32Array(n + 1),
    firstStart: new Int32Array(end - first),
    firstBytes: new Uint8Array(0),
  };
  let oldLen = 0;
  let image = false;
  let padding = false;
  let pass = 0;
  for (; pass < MAX_PASSES || image; pass++) {
    if (!padding && pass >= PADDING_PASSES) padding = true;
    st.padding = padding;
    st.final = image;
    const kind = image ? Pass.IMAGE : pass === 0 ? Pass.FIRST : Pass.JUMPS;
    const len = emitPass(st, t, first, end, kind, buf);
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
  return { image: st.a.s.bytes(), starts: buf.starts, extable: st.extable.slice(), passes };
}
