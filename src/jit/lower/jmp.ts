// JMP and JMP32: conditional jumps (cmp/test + Jcc), ja/gotol, calls, exit and tail calls.
// Displacements come from the kernel's addrs[] (see FnState); a jump takes the rel8 form when
// is_imm8_jmp_offset() allows it (-128..123), else rel32. In padding passes a jump that would shrink
// is padded with nops in front of it so the image keeps its size.

import { insnError } from '../../errors.js';
import { Class, JmpOp, PseudoCall, Src, insnClass, insnOp, insnSrc } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { emitEpilogue } from '../prologue.js';
import { Alu } from '../x86/opcodes.js';
import { Cond } from '../x86/cond.js';
import { lowerTailCall, loadTailCallCntPtr } from './tailcall.js';
import { encJcc32, encJcc8, encNops, encR, encRI, encRR, imm32 } from '../x86/encode.js';
import { type FnState, byOp, unknownCode, unknownOpcode, xregAt } from './state.js';

/** test r/m, reg (85 /r). */
const TEST_RM = 0x85;

/** BPF_JMP | BPF_TAIL_CALL: the verifier's rewrite of bpf_tail_call(). */
const TAIL_CALL_OP = 0xf0;

const JCC = byOp<Cond>([
  [JmpOp.JEQ, Cond.E],
  [JmpOp.JSET, Cond.NE],
  [JmpOp.JNE, Cond.NE],
  [JmpOp.JGT, Cond.A],
  [JmpOp.JLT, Cond.B],
  [JmpOp.JGE, Cond.AE],
  [JmpOp.JLE, Cond.BE],
  [JmpOp.JSGT, Cond.G],
  [JmpOp.JSLT, Cond.L],
  [JmpOp.JSGE, Cond.GE],
  [JmpOp.JSLE, Cond.LE],
]);

/** JCC as a typed array, -1 for the operations that are not conditional jumps. */
const JCC_CC = Int8Array.from(JCC, (cc) => cc ?? -1);

/** Whether a JMP / JMP32 opcode is a conditional jump (lowerCondJmp). */
export function isCondJmp(code: number): boolean {
  return JCC_CC[code >> 4]! >= 0;
}

/** The kernel caps forward short jumps at 123 bytes so that the passes converge. */
export function isImm8JmpOffset(v: number): boolean {
  return v <= 123 && v >= -128;
}

export function lowerJmp(st: FnState, insn: Insn): void {
  const op = insnOp(insn.code);
  const is64 = insnClass(insn.code) === Class.JMP;
  const local = insn.pc - st.fn.firstPc;
  switch (op) {
    case JmpOp.JA: {
      const off = is64 ? insn.off : insn.imm;
      const rel = off === -1 ? -2 : targetAt(st, insn.pc, local + 1 + off) - st.addrs[local + 1]!;
      if (rel === 0) {
        // A jump to the next instruction: nothing, or the bytes it had in the previous pass.
        if (st.padding) {
          const nops = st.addrs[local + 1]! - st.a.pos;
          if (nops !== 0 && nops !== 2 && nops !== 5) throw padError(insn.pc, nops);
          st.a.nops(nops);
        }
        return;
      }
      emitJmp(st, insn, rel);
      return;
    }
    case JmpOp.CALL:
      if (!is64) unknownOpcode(insn);
      lowerCall(st, insn);
      return;
    case JmpOp.EXIT:
      if (!is64 || insnSrc(insn.code) !== Src.K) unknownOpcode(insn);
      if (st.seenExit) {
        emitJmp(st, insn, st.cleanupAddr - st.addrs[local + 1]!);
        return;
      }
      st.seenExit = true;
      st.cleanupAddr = st.a.pos;
      emitEpilogue(st);
      return;
    case TAIL_CALL_OP:
      if (!is64) unknownOpcode(insn);
      lowerTailCall(st, insn);
      return;
    case JmpOp.JCOND:
      throw insnError(insn.pc, 'may_goto must be rewritten by the verifier before the JIT');
    default: {
      const s = st.a.s;
      s.pos = lowerCondJmp(st, s.buf, s.pos, insn.code, insn.dst, insn.src, insn.off, insn.imm, insn.pc);
    }
  }
}

/**
 * cmp/test + Jcc, written straight into b at p (the first pass calls this without a cursor or the assembler);
 * returns the end and leaves in st.jccAt where the Jcc (or its padding) begins.
 */
export function lowerCondJmp(st: FnState, b: Uint8Array, p: number, code: number, dstReg: number, srcReg: number, off: number, imm: number, pc: number): number {
  const op = code & 0xf0;
  const cc = JCC_CC[op >> 4]!;
  if (cc < 0) unknownCode(pc, code);
  const w = (code & 7) === Class.JMP;
  const dst = xregAt(pc, dstReg);
  if ((code & Src.X) !== 0) {
    const src = xregAt(pc, srcReg);
    p = encRR(b, p, op === JmpOp.JSET ? TEST_RM : Alu.CMP.rm, w, src, dst);
  } else if (op === JmpOp.JSET) {
    p = imm32(b, encR(b, p, 0xf7, 0, w, dst), imm); // test dst, imm32
  } else if (imm === 0) {
    p = encRR(b, p, TEST_RM, w, dst, dst);
  } else {
    p = encRI(b, p, Alu.CMP.digit, -1, w, dst, imm);
  }
  const addrs = st.addrs;
  const local = pc - st.fn.firstPc;
  const rel = targetAt(st, pc, local + 1 + off) - addrs[local + 1]!;
  st.jccAt = p;
  if (!isImm8JmpOffset(rel)) return encJcc32(b, p, cc, rel);
  if (st.padding) {
    const nops = addrs[local + 1]! - p - 2;
    if (nops !== 0 && nops !== 4) throw padError(pc, nops);
    p = encNops(b, p, nops);
  }
  return encJcc8(b, p, cc, rel);
}

/** Jcc alone, rel8 when is_imm8_jmp_offset() allows it, else rel32 (no padding): the image pass rewrites a
 *  conditional jump's Jcc this way after copying its compare. */
export function emitJcc(st: FnState, cc: Cond, rel: number): void {
  const s = st.a.s;
  s.pos = isImm8JmpOffset(rel) ? encJcc8(s.buf, s.pos, cc, rel) : encJcc32(s.buf, s.pos, cc, rel);
}

/** Unconditional jump (ja, and later exits to the shared epilogue). */
function emitJmp(st: FnState, insn: Insn, rel: number): void {
  const a = st.a;
  const local = insn.pc - st.fn.firstPc;
  if (isImm8JmpOffset(rel)) {
    if (st.padding) {
      const nops = st.addrs[local + 1]! - a.pos - 2;
      if (nops !== 0 && nops !== 3) throw padError(insn.pc, nops);
      a.nops(nops);
    }
    a.jmp8(rel);
  } else {
    a.jmp32(rel);
  }
}

/** addrs[] entry of a jump target (the start of that slot), checked to lie inside the function. */
function targetAt(st: FnState, pc: number, localTarget: number): number {
  if (localTarget < 0 || localTarget >= st.addrs.length) {
    throw insnError(pc, `jump target ${st.fn.firstPc + localTarget} is outside the function`);
  }
  return st.addrs[localTarget]!;
}

function padError(pc: number, nops: number): Error {
  return insnError(pc, `jump padding of ${nops} bytes: the layout did not settle`);
}

/**
 * A helper or kfunc call (not bpf-to-bpf) straight into b at p: `e8 rel32` to callBase + imm, the displacement
 * computed in the image pass only (in plain numbers). Returns the end, or -1 when that displacement is out of
 * range or not exact (lowerCall then computes it in BigInt and reports the range).
 */
export function lowerHelperCall(st: FnState, b: Uint8Array, p: number, imm: number, pc: number): number {
  if (imm === 0) throw insnError(pc, 'call with imm 0 (no target)');
  let rel = 0;
  if (st.final) {
    rel = st.callDelta + imm - (p + 5);
    if (!(rel >= -0x80000000 && rel <= 0x7fffffff)) return -1;
  }
  b[p] = 0xe8;
  return imm32(b, p + 1, rel);
}

/*
 * call: e8 rel32 to __bpf_call_base + imm (helpers, kfuncs) or to the callee function's image
 * (bpf-to-bpf, src_reg 1, imm = callee - (pc + 1)). A tail-call-reachable function first loads the
 * tail-call counter pointer into rax for a bpf-to-bpf callee.
 */
function lowerCall(st: FnState, insn: Insn): void {
  const a = st.a;
  const pseudo = insn.src === PseudoCall.CALL;
  let target = 0n;
  if (pseudo) {
    const calleePc = insn.pc + insn.imm + 1;
    const fi = calleePc >= 0 && calleePc < st.prog.funcOfPc.length ? st.prog.funcOfPc[calleePc]! : -1;
    if (fi < 0) throw insnError(insn.pc, `call target ${calleePc} is not a function`);
    if (st.fn.tailCallReachable) loadTailCallCntPtr(st);
    if (st.final) target = st.prog.imageBases[fi]!;
  } else {
    const end = lowerHelperCall(st, a.s.buf, a.pos, insn.imm, insn.pc);
    if (end >= 0) {
      a.s.pos = end;
      return;
    }
    target = st.prog.callBase + BigInt(insn.imm);
  }
  // The size never depends on the target: only the image pass computes the displacement.
  let rel = 0;
  if (st.final) {
    const ip = st.prog.imageBases[st.fn.index]! + BigInt(a.pos);
    const delta = BigInt.asIntN(64, target - (ip + 5n));
    if (delta < -0x80000000n || delta > 0x7fffffffn) {
      throw insnError(insn.pc, `call target 0x${BigInt.asUintN(64, target).toString(16)} is out of rel32 range`);
    }
    rel = Number(delta);
  }
  a.call32(rel);
}
