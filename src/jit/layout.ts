// src/jit — the kernel's multi-pass layout for one function (bpf_int_jit_compile + do_jit).
// emitPass() is one pure pass over the function: it re-emits every instruction from the previous
// pass's addrs[] (updated in place). runPasses() is the loop around it: addrs seeded at 64 bytes per
// instruction, repeat until the size stops changing, nop padding from pass 15, at most 20 passes,
// then one more pass that produces the image.

import { BpfError, insnError } from '../errors.js';
import type { Insn, Program } from '../isa/insn.js';
import { LD_IMM64 } from '../isa/opcodes.js';
import { lowerInsn } from './lower/index.js';
import type { FnInfo, FnState, ProgConsts } from './lower/state.js';
import { emitPrologue } from './prologue.js';
import type { ExEntry } from './types.js';
import { Assembler } from './x86/asm.js';

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

/**
 * One pass: prologue, then every instruction of the function. Returns the image length.
 * In the image pass (st.final) it also fills `starts` and checks every instruction ends where the
 * previous pass said it would.
 */
export function emitPass(st: FnState, prog: Program, first: number, end: number, starts: Int32Array | null): number {
  const a = st.a;
  const s = a.s;
  const addrs = st.addrs;
  const firstPc = st.fn.firstPc;
  s.pos = 0;
  s.reserve(256);
  st.seenExit = false;
  st.extable.length = 0;
  emitPrologue(st);
  addrs[0] = s.pos;
  const insns = prog.insns;
  for (let i = first; i < end; i++) {
    const insn: Insn = insns[i]!;
    s.reserve(256);
    const start = s.pos;
    const local = insn.pc - firstPc;
    lowerInsn(st, insn);
    const endPos = s.pos;
    const endSlot = insn.code === LD_IMM64 ? local + 2 : local + 1;
    if (endPos - start > MAX_INSN_SIZE) throw insnError(insn.pc, 'instruction expands to more than 128 bytes');
    if (starts !== null) {
      if (endPos !== addrs[endSlot]) throw insnError(insn.pc, 'internal error: layout changed in the image pass');
      starts[local] = start;
      if (endSlot === local + 2) starts[local + 1] = endPos;
    }
    addrs[endSlot] = endPos;
  }
  if (starts !== null) starts[addrs.length - 1] = s.pos;
  return s.pos;
}

/**
 * The pass loop. `extraPass` adds the final pass the kernel runs for programs with subprograms
 * once every function's address is known (padding on, addrs kept).
 */
export function runPasses(st: FnState, prog: Program, first: number, end: number, extraPass: boolean): FnLayout {
  const n = st.fn.endPc - st.fn.firstPc;
  const starts = new Int32Array(n + 1);
  let oldLen = 0;
  let image = false;
  let padding = false;
  let pass = 0;
  for (; pass < MAX_PASSES || image; pass++) {
    if (!padding && pass >= PADDING_PASSES) padding = true;
    st.padding = padding;
    st.final = image;
    const len = emitPass(st, prog, first, end, image ? starts : null);
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
    emitPass(st, prog, first, end, starts);
    passes++;
  }
  return { image: st.a.s.bytes(), starts, extable: st.extable.slice(), passes };
}
