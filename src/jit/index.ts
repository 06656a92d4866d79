// src/jit — the x86-64 JIT, byte-identical to Linux 6.18's arch/x86/net/bpf_jit_comp.c (BMI2 CPU,
// no IBT/CFI). Input: a program in the kernel-xlated dialect (what the kernel's JIT consumes).
// Output: one image per function (main first, then subprograms), with per-slot offsets and the
// exception table.

import type { Program } from '../isa/insn.js';
import { splitFunctions, calleeSavedUsed, tailCallReachable } from './functions.js';
import { runPasses, newFnState } from './layout.js';
import { TAIL_CALL, TAIL_CALL_UNDECIDED, type InsnTable, insnTable, insnTableFromBytes, setImm, tCode, tImm, tableBytes } from './table.js';
import { release, take } from './scratch.js';
import { DEFAULT_TAIL_CALL_LAYOUT, knownKernel } from './kernels.js';
import type { FnInfo, ProgConsts } from './lower/state.js';
import { analyzeFunction } from './stack.js';
import type { JitFunction, JitOptions, JitResult } from './types.js';
import { Assembler } from './x86/asm.js';
import { ByteSink } from './x86/sink.js';

export type * from './types.js';
export { findExEntry, PackedExTable } from './extable.js';
export { stackDepth } from './stack.js';
export { splitFunctions } from './functions.js';
export { BPF_TO_X86, AUX, ARENA_BASE } from './regmap.js';
export { KNOWN_KERNELS, knownKernel, type KernelBuild } from './kernels.js';

/** Defaults taken from the reference machine (kernel corpus). */
export const JIT_DEFAULTS = {
  imageBase: 0xffffffffc0000000n,
  callBase: 0xffffffff814dccd0n,
  /** Low 32 bits of &this_cpu_off in the reference kernel (used by the per-CPU address move). */
  thisCpuOff: 0x83b0c028,
} as const;

/** Extra options beyond the shared contract. */
export interface JitExtraOptions extends JitOptions {
  /** Low 32 bits of the per-CPU `this_cpu_off` symbol (default: the known build's, see kernels.ts). */
  readonly thisCpuOff?: number;
  /**
   * Address of the return thunk on a kernel with the RETHUNK mitigation active: functions then
   * return with `jmp thunk` (e9 rel32) instead of `ret`; 0n forces `ret`. Absent: taken from the
   * known build with this call base (kernels.ts), else `ret`.
   */
  readonly returnThunk?: bigint;
  /** Extra function starts (slot indices) besides pc 0 and bpf-to-bpf call targets, e.g. callbacks. */
  readonly functionStarts?: readonly number[];
  /**
   * Lower every instruction again in the image pass and every jump in every middle pass, as the kernel
   * does, instead of reusing the first pass's bytes and computing jump sizes only (same output, slower;
   * for cross-checking the fast layout).
   */
  readonly fullPasses?: boolean;
}

/** A JitFunction plus the number of passes its layout needed. */
export interface JitFunctionEx extends JitFunction {
  readonly passes: number;
}

export interface JitResultEx extends JitResult {
  readonly functions: readonly JitFunctionEx[];
}

/** JITs every function of a kernel-xlated program. Throws BpfError `insn N: reason` for bad input. */
export function jit(prog: Program, opts: JitExtraOptions = {}): JitResultEx {
  const mem = take(tableBytes(prog.insns.length));
  try {
    return jitTable(insnTable(prog, mem), prog.slots, opts);
  } finally {
    release(mem);
  }
}

/** The same from raw little-endian bytecode, without decoding into Insn objects (large programs). */
export function jitBytecode(bytes: Uint8Array, opts: JitExtraOptions = {}): JitResultEx {
  const mem = take(tableBytes(bytes.length >> 3));
  try {
    const { table, slots } = insnTableFromBytes(bytes, mem);
    return jitTable(table, slots, opts);
  } finally {
    release(mem);
  }
}

function jitTable(table: InsnTable, slots: number, opts: JitExtraOptions): JitResultEx {
  const facts = table.facts;
  // One function (no bpf-to-bpf calls): the table's facts replace the per-function scans.
  const single = facts.pseudoCalls === 0 && opts.functionStarts === undefined && table.length > 0;
  const { fns, funcOfPc } = single
    ? { fns: [{ firstPc: 0, endPc: slots, first: 0, end: table.length }], funcOfPc: new Int32Array(0) } // no callees to look up
    : splitFunctions(table, slots, opts.functionStarts);
  const imageBases = fns.map((_, i) => opts.imageBase?.[i] ?? JIT_DEFAULTS.imageBase + BigInt(i) * 0x10000n);
  const callBase = opts.callBase ?? JIT_DEFAULTS.callBase;
  const build = knownKernel(callBase);
  const consts: ProgConsts = {
    callBase,
    kernVmStart: opts.kernVmStart ?? 0n,
    userVmStart: opts.userVmStart ?? 0n,
    userVmHi: Number(((opts.userVmStart ?? 0n) >> 32n) & 0xffffffffn),
    arena: (opts.kernVmStart ?? 0n) !== 0n,
    bmi2: opts.bmi2 ?? true,
    thisCpuOff: opts.thisCpuOff ?? build?.thisCpuOff ?? JIT_DEFAULTS.thisCpuOff,
    returnThunk: opts.returnThunk ?? build?.returnThunk ?? 0n,
    tailCall: build?.tailCall ?? DEFAULT_TAIL_CALL_LAYOUT,
    imageBases,
    funcOfPc,
  };
  const tcr = single ? [facts.tailCalls > 0] : tailCallReachable(table, fns, funcOfPc);
  // Room for the first pass of typical code (5-9 bytes per instruction) without regrowing.
  const sinkMem = take(Math.max(4096, slots * 12));
  const a = new Assembler(new ByteSink(new Uint8Array(sinkMem)));
  const multi = fns.length > 1;
  const functions: JitFunctionEx[] = fns.map((fn, index) => {
    let depth = single && facts.directDepth >= 0 ? facts.directDepth : -1;
    if (depth < 0) {
      const analysis = analyzeFunction(table, fn);
      if (facts.tailCalls > 0) decideTailCalls(table, fn.first, fn.end, analysis.constKeyTailCalls);
      depth = analysis.stackDepth;
    }
    const info: FnInfo = {
      index,
      firstPc: fn.firstPc,
      endPc: fn.endPc,
      stackDepth: opts.stackDepth?.[index] ?? depth,
      calleeSaved: single ? facts.calleeSaved : calleeSavedUsed(table, fn),
      tailCallReachable: tcr[index]!,
    };
    const addrsMem = take((fn.endPc - fn.firstPc + 1) * 4);
    const st = newFnState(a, info, consts, addrsMem);
    const out = runPasses(st, table, fn.first, fn.end, multi, opts.fullPasses === true);
    release(addrsMem); // st.addrs was copied into out.starts
    return {
      firstPc: fn.firstPc,
      endPc: fn.endPc,
      imageBase: imageBases[index]!,
      image: out.image,
      stackDepth: (info.stackDepth + 7) & ~7,
      addrs: out.starts,
      extable: out.extable,
      passes: out.passes,
    };
  });
  // The sink ends with a first-pass buffer (the one given, or a larger one it grew into): reuse it.
  release(a.s.buf.buffer as ArrayBuffer);
  if (a.s.buf.buffer !== sinkMem) release(sinkMem);
  return { functions, passes: Math.max(0, ...functions.map((f) => f.passes)) };
}

/** Tail calls read from a kernel dump (`call 12`): direct when the key is constant, else indirect. */
function decideTailCalls(t: InsnTable, first: number, end: number, constKey: readonly number[]): void {
  for (let i = first; i < end; i++) {
    if (tCode(t, i) === TAIL_CALL && tImm(t, i) === TAIL_CALL_UNDECIDED) setImm(t, i, constKey.includes(i) ? 1 : 0);
  }
}

/** All function images concatenated: main first, then subprograms (the kernel's `jited` dump). */
export function jitImage(result: JitResult): Uint8Array {
  const total = result.functions.reduce((n, f) => n + f.image.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const f of result.functions) {
    out.set(f.image, off);
    off += f.image.length;
  }
  return out;
}
