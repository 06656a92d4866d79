// src/jit — the verifier's stack depth of a function, recovered from the code: the deepest byte
// below r10 that an instruction accesses, directly (r10 + off) or through a pointer derived from r10
// (r1 = r10; r1 += -16; *(u64 *)(r1 + 0) = ...). A forward data-flow pass over the function's
// control-flow graph tracks, per register, "r10 + k", "the constant k", or unknown.

import { AluOp, Class, JmpOp, LD_IMM64, Mode, Src, insnClass, insnMode, insnOp, insnSrc } from '../isa/opcodes.js';
import type { FnRange } from './functions.js';
import type { Cursor, InsnTable } from './table.js';
import { TAIL_CALL, loadCursor, newCursor, tCode, tDst, tOff, tPc, tSrc } from './table.js';

const NREGS = 12;
const FP = 10;
/** Register states: UNSET (not reached yet), FP-relative, constant, unknown. */
const UNSET = 0;
const FPREL = 1;
const CONST = 2;
const UNKNOWN = 3;

export function stackDepth(t: InsnTable, fn: FnRange): number {
  return analyzeFunction(t, fn).stackDepth;
}

export interface FnAnalysis {
  readonly stackDepth: number;
  /** Table indices of tail calls whose key (r3) is the same constant on every path: the verifier
   *  makes those direct (patched jumps); the others are indirect. */
  readonly constKeyTailCalls: readonly number[];
}

/** The same data-flow pass also finds tail calls with a constant key. */
export function analyzeFunction(t: InsnTable, fn: FnRange): FnAnalysis {
  const n = fn.end - fn.first;
  if (n === 0) return { stackDepth: 0, constKeyTailCalls: [] };
  const direct = directOnly(t, fn);
  if (direct >= 0) return { stackDepth: direct, constKeyTailCalls: [] };
  // Instruction index (relative to the function) of each slot, -1 for none.
  const localOf = new Int32Array(fn.endPc - fn.firstPc + 1).fill(-1);
  for (let i = 0; i < n; i++) localOf[tPc(t, fn.first + i) - fn.firstPc] = i;
  const insn = newCursor();
  // Entry state of each instruction: kind and value per register.
  const kind = new Uint8Array(n * NREGS);
  const val = new Int32Array(n * NREGS);
  const queued = new Uint8Array(n);
  const work: number[] = [0];
  queued[0] = 1;
  for (let r = 0; r < NREGS; r++) kind[r] = UNKNOWN;
  kind[FP] = FPREL;
  let depth = 0;
  const k = new Uint8Array(NREGS);
  const v = new Int32Array(NREGS);

  const access = (reg: number, off: number): void => {
    if (k[reg] === FPREL) {
      const d = -(v[reg]! + off);
      if (d > depth) depth = d;
    }
  };
  const merge = (to: number): void => {
    if (to < 0 || to >= n) return;
    const base = to * NREGS;
    let changed = false;
    for (let r = 0; r < NREGS; r++) {
      const cur = kind[base + r]!;
      if (cur === UNSET) {
        kind[base + r] = k[r]!;
        val[base + r] = v[r]!;
        changed = true;
      } else if (cur !== UNKNOWN && (cur !== k[r] || val[base + r] !== v[r])) {
        kind[base + r] = UNKNOWN;
        changed = true;
      }
    }
    if (changed && queued[to] === 0) {
      queued[to] = 1;
      work.push(to);
    }
  };

  while (work.length > 0) {
    const i = work.pop()!;
    queued[i] = 0;
    for (let r = 0; r < NREGS; r++) {
      k[r] = kind[i * NREGS + r]!;
      v[r] = val[i * NREGS + r]!;
    }
    loadCursor(t, fn.first + i, insn);
    const next = transfer(insn, k, v, access);
    const cls = insnClass(insn.code);
    const op = insnOp(insn.code);
    if (cls === Class.JMP || cls === Class.JMP32) {
      if (op === JmpOp.EXIT && cls === Class.JMP) continue;
      if (op !== JmpOp.CALL && insn.code !== TAIL_CALL) {
        const off = cls === Class.JMP32 && op === JmpOp.JA ? insn.imm : insn.off;
        const target = insn.pc + 1 + off - fn.firstPc;
        const to = target >= 0 && target < localOf.length ? localOf[target]! : -1;
        if (to >= 0) merge(to);
        if (op === JmpOp.JA) continue;
      }
    }
    if (next) merge(i + 1);
  }
  const constKeyTailCalls: number[] = [];
  for (let i = 0; i < n; i++) {
    if (tCode(t, fn.first + i) === TAIL_CALL && kind[i * NREGS + 3] === CONST) constKeyTailCalls.push(fn.first + i);
  }
  return { stackDepth: depth, constKeyTailCalls };
}

/**
 * Fast path: when r10 is only ever a load/store base (never copied, compared or stored) and there is no
 * tail call, the depth is the deepest direct access. Returns -1 when the data-flow pass is needed.
 */
function directOnly(t: InsnTable, fn: FnRange): number {
  let depth = 0;
  for (let i = fn.first; i < fn.end && depth >= 0; i++) depth = directStep(tCode(t, i), tDst(t, i), tSrc(t, i), tOff(t, i), depth);
  return depth;
}

/** One instruction of directOnly: the deeper depth, or -1 when the data-flow pass is needed. */
export function directStep(code: number, dst: number, src: number, off: number, depth: number): number {
  const cls = code & 7;
  if (code === TAIL_CALL) return -1;
  if (cls === Class.LDX) return src === FP && -off > depth ? -off : depth;
  if (cls === Class.ST || cls === Class.STX) {
    if (cls === Class.STX && src === FP) return -1;
    return dst === FP && -off > depth ? -off : depth;
  }
  return src === FP && code !== LD_IMM64 ? -1 : depth;
}

/** Stores a sum, or forgets the register when it leaves the 32-bit range the state can hold. */
function setSum(k: Uint8Array, v: Int32Array, r: number, sum: number): void {
  if (sum === (sum | 0)) v[r] = sum;
  else k[r] = UNKNOWN;
}

/** Applies one instruction to the register state; returns false when it never falls through. */
function transfer(insn: Cursor, k: Uint8Array, v: Int32Array, access: (reg: number, off: number) => void): boolean {
  const cls = insnClass(insn.code);
  const dst = insn.dst < NREGS ? insn.dst : 0;
  const src = insn.src < NREGS ? insn.src : 0;
  const setUnknown = (r: number): void => {
    k[r] = UNKNOWN;
  };
  switch (cls) {
    case Class.ALU64: {
      const op = insnOp(insn.code);
      const isX = insnSrc(insn.code) === Src.X;
      if (op === AluOp.MOV && !isX) {
        k[dst] = CONST;
        v[dst] = insn.imm;
      } else if (op === AluOp.MOV && isX && insn.off === 0) {
        k[dst] = k[src]!;
        v[dst] = v[src]!;
      } else if ((op === AluOp.ADD || op === AluOp.SUB) && k[dst] !== UNKNOWN) {
        const sign = op === AluOp.ADD ? 1 : -1;
        if (!isX) setSum(k, v, dst, v[dst]! + sign * insn.imm);
        else if (k[src] === CONST) setSum(k, v, dst, v[dst]! + sign * v[src]!);
        else if (k[src] === FPREL && k[dst] === CONST && op === AluOp.ADD) {
          k[dst] = FPREL;
          setSum(k, v, dst, v[dst]! + v[src]!);
        } else setUnknown(dst);
      } else setUnknown(dst);
      return true;
    }
    case Class.ALU:
      setUnknown(dst);
      return true;
    case Class.LD:
      if (insn.code === LD_IMM64) {
        const hi = insn.imm2 ?? 0;
        if ((hi === 0 && insn.imm >= 0) || (hi === -1 && insn.imm < 0)) {
          k[dst] = CONST;
          v[dst] = insn.imm;
        } else setUnknown(dst);
      } else setUnknown(0);
      return true;
    case Class.LDX:
      access(src, insn.off);
      setUnknown(dst);
      return true;
    case Class.ST:
      if (insnMode(insn.code) !== Mode.NOSPEC) access(dst, insn.off);
      return true;
    case Class.STX:
      access(dst, insn.off);
      if (insnMode(insn.code) === Mode.ATOMIC || insnMode(insn.code) === Mode.PROBE_ATOMIC) {
        if (insn.imm === 0x100) setUnknown(dst); // load_acquire writes dst
        else if ((insn.imm & 1) !== 0) {
          setUnknown(src);
          if (insn.imm === 0xf1) setUnknown(0);
        }
      }
      return true;
    case Class.JMP:
      if (insnOp(insn.code) === JmpOp.CALL) {
        // A stack pointer passed to a helper, kfunc or subprogram: the callee's access starts there.
        for (let r = 1; r <= 5; r++) access(r, 0);
        for (let r = 0; r <= 5; r++) setUnknown(r);
      }
      return true;
    default:
      return true;
  }
}
