// Atomics (STX | ATOMIC) and their arena form (STX | PROBE_ATOMIC, [dst + r12 + off]).
// Lock-prefixed add/and/or/xor, xadd (fetch_add), xchg, cmpxchg (r0 implicit); fetch_and/or/xor
// as a cmpxchg loop (not in an arena); load_acquire / store_release are plain movs on x86.

import { insnError } from '../../errors.js';
import { AtomicOp } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { EX_ATOMIC, addExEntry } from '../extable.js';
import { ARENA_BASE, AUX } from '../regmap.js';
import type { Width } from '../x86/asm.js';
import { Alu, type AluForm } from '../x86/opcodes.js';
import { Cond } from '../x86/cond.js';
import { Gpr } from '../x86/regs.js';
import { movReg } from './alu.js';
import { type FnState, xreg } from './state.js';

/** x86 opcode (1 or 2 bytes) of each single-instruction atomic. */
const RMW_OPCODE: Readonly<Record<number, number>> = {
  [AtomicOp.ADD]: 0x01,
  [AtomicOp.AND]: 0x21,
  [AtomicOp.OR]: 0x09,
  [AtomicOp.XOR]: 0x31,
  [AtomicOp.ADD | AtomicOp.FETCH]: 0x0fc1,
  [AtomicOp.XCHG]: 0x87,
  [AtomicOp.CMPXCHG]: 0x0fb1,
};

const FETCH_LOOP: Readonly<Record<number, AluForm>> = {
  [AtomicOp.AND | AtomicOp.FETCH]: Alu.AND,
  [AtomicOp.OR | AtomicOp.FETCH]: Alu.OR,
  [AtomicOp.XOR | AtomicOp.FETCH]: Alu.XOR,
};

export function lowerAtomic(st: FnState, insn: Insn, w: Width, arena: boolean): void {
  const a = st.a;
  const imm = insn.imm;
  const isLoadStore = imm === AtomicOp.LOAD_ACQ || imm === AtomicOp.STORE_REL;
  if ((w === 1 || w === 2) && !isLoadStore) throw insnError(insn.pc, '1- and 2-byte RMW atomics are not supported');
  const dst = xreg(insn, insn.dst);
  const src = xreg(insn, insn.src);
  const start = a.pos;
  if (isLoadStore) {
    if (imm === AtomicOp.LOAD_ACQ) {
      if (arena) a.load_idx(w, dst, src, ARENA_BASE, insn.off);
      else a.load(w, dst, src, insn.off);
    } else if (arena) a.store_idx(w, dst, src, ARENA_BASE, insn.off);
    else a.store(w, dst, src, insn.off);
  } else {
    const loop = FETCH_LOOP[imm];
    if (loop !== undefined && !arena) {
      fetchLoop(st, insn, loop, w === 8, dst, src);
      return;
    }
    const opcode = RMW_OPCODE[imm];
    if (opcode === undefined) throw insnError(insn.pc, `unknown atomic operation 0x${(imm >>> 0).toString(16)}`);
    if (arena) a.lock_rmw_idx(opcode, w === 8, dst, src, ARENA_BASE, insn.off);
    else a.lock_rmw(opcode, w === 8, dst, src, insn.off);
  }
  // The kernel records the STX-class register (dst) as the arena pointer and clears nothing.
  if (arena) addExEntry(st, insn.pc, start, a.pos, EX_ATOMIC, -1, dst, insn.off);
}

/*
 * fetch_and/or/xor: x86 has no single instruction, so loop on cmpxchg (which needs rax).
 *   mov  r10, rax               ; save r0; r0 operands now live in r10
 * retry:
 *   mov  rax, [dst + off]
 *   mov  r11, rax
 *   op   r11, src
 *   lock cmpxchg [dst + off], r11
 *   jne  retry
 *   mov  src, rax               ; the old value
 *   mov  rax, r10
 */
function fetchLoop(st: FnState, insn: Insn, op: AluForm, w64: boolean, dst: number, src: number): void {
  const a = st.a;
  const w = (w64 ? 8 : 4) as Width;
  movReg(a, true, Gpr.R10, Gpr.RAX);
  const realSrc = src === Gpr.RAX ? Gpr.R10 : src;
  const realDst = dst === Gpr.RAX ? Gpr.R10 : dst;
  const retry = a.pos;
  a.load(w, Gpr.RAX, realDst, insn.off);
  a.mov_rr(w64, AUX, Gpr.RAX);
  a.alu_rr(op, w64, AUX, realSrc);
  a.lock_rmw(0x0fb1, w64, realDst, AUX, insn.off);
  a.jcc8(Cond.NE, -(a.pos - retry) - 2);
  movReg(a, w64, realSrc, Gpr.RAX);
  movReg(a, true, Gpr.RAX, Gpr.R10);
}
