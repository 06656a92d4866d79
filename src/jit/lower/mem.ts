// Loads and stores: LDX / ST / STX in the MEM and MEMSX modes, the arena forms [reg + r12 + off]
// (PROBE_MEM32, PROBE_MEM32SX) with an exception-table entry each, BTF-pointer probe loads
// (PROBE_MEM, PROBE_MEMSX) and the speculation barrier (ST | NOSPEC).

import { insnError } from '../../errors.js';
import { Class, Mode, SIZE_BYTES, insnClass, insnMode, insnSize } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { EX_LOAD, EX_STORE, addExEntry } from '../extable.js';
import { ARENA_BASE, AUX, X86_OF } from '../regmap.js';
import { encLoad, encLoadIdx, encLoadsx, encLoadsxIdx, encStore, encStoreIdx, encStoreImm, encStoreImmIdx } from '../x86/encode.js';
import type { Width } from '../x86/asm.js';
import { Alu } from '../x86/opcodes.js';
import { Cond } from '../x86/cond.js';
import { Gpr } from '../x86/regs.js';
import { lowerAtomic } from './atomic.js';
import { movImm32, movImm64 } from './ldimm.js';
import { movReg } from './alu.js';
import { type FnState, unknownOpcode, xreg } from './state.js';

/** Kernel-internal LDX modes for loads through BTF pointers (same bits as LD's ABS/IND). */
const PROBE_MEM = 0x20;
const PROBE_MEMSX = 0x40;
const ST_NOSPEC = Class.ST | Mode.NOSPEC;

/** x86-64 with 4-level paging: VSYSCALL_ADDR and TASK_SIZE_MAX + PAGE_SIZE - VSYSCALL_ADDR. */
const VSYSCALL_ADDR = { hi: 0xffffffff, lo: 0xff600000 };
const PROBE_LIMIT = { hi: 0x8000, lo: 0x00a00000 };

function width(insn: Insn): Width {
  return SIZE_BYTES[insnSize(insn.code)]!;
}

/** Access width in bytes by the size field (code >> 3 & 3: W, H, B, DW). */
const WIDTH = Uint8Array.of(4, 2, 1, 8);

export function lowerMem(st: FnState, insn: Insn): void {
  const s = st.a.s;
  const end = lowerMemDirect(st, s.buf, s.pos, insn.code, insn.dst, insn.src, insn.off, insn.imm, insn.pc);
  if (end >= 0) {
    s.pos = end;
    return;
  }
  switch (insnClass(insn.code)) {
    case Class.LDX:
      lowerLdx(st, insn);
      return;
    case Class.ST:
      lowerSt(st, insn);
      return;
    case Class.STX:
      lowerStx(st, insn);
      return;
    default:
      unknownOpcode(insn);
  }
}

/**
 * The plain and arena loads and stores written straight into b at p (the first pass calls this without a
 * cursor or the assembler): LDX MEM / MEMSX / PROBE_MEM32 / PROBE_MEM32SX, ST and STX MEM / PROBE_MEM32,
 * the arena forms with their exception-table entry. Returns the end, or -1 for any other form or a register
 * that does not exist (lowerLdx / lowerSt / lowerStx lower or report those).
 */
export function lowerMemDirect(st: FnState, b: Uint8Array, p: number, code: number, dstReg: number, srcReg: number, off: number, imm: number, pc: number): number {
  const dst = X86_OF[dstReg]!;
  const cls = code & 7;
  const src = cls === Class.ST ? 0 : X86_OF[srcReg]!;
  if (dst < 0 || src < 0) return -1;
  const w = WIDTH[(code >> 3) & 3]!;
  const mode = code & 0xe0;
  let end: number;
  if (cls === Class.LDX) {
    if (mode === Mode.MEM) return encLoad(b, p, w, dst, src, off);
    if (w === 8 && mode !== Mode.PROBE_MEM32) return -1; // no 8-byte sign extension
    if (mode === Mode.MEMSX) return encLoadsx(b, p, w, dst, src, off);
    if (mode === Mode.PROBE_MEM32) end = encLoadIdx(b, p, w, dst, src, ARENA_BASE, off);
    else if (mode === Mode.PROBE_MEM32SX) end = encLoadsxIdx(b, p, w, dst, src, ARENA_BASE, off);
    else return -1;
    addExEntry(st, pc, p, end, EX_LOAD, dst, src, off);
    return end;
  }
  if (cls === Class.ST) {
    if (mode === Mode.MEM) return encStoreImm(b, p, w, dst, off, imm);
    if (mode !== Mode.PROBE_MEM32) return -1;
    end = encStoreImmIdx(b, p, w, dst, ARENA_BASE, off, imm);
  } else if (cls === Class.STX) {
    if (mode === Mode.MEM) return encStore(b, p, w, dst, src, off);
    if (mode !== Mode.PROBE_MEM32) return -1;
    end = encStoreIdx(b, p, w, dst, src, ARENA_BASE, off);
  } else return -1;
  addExEntry(st, pc, p, end, EX_STORE, -1, dst, off);
  return end;
}

/** The loads lowerMemDirect leaves: BTF-pointer probe loads and the errors. */
function lowerLdx(st: FnState, insn: Insn): void {
  const w = width(insn);
  const dst = xreg(insn, insn.dst);
  const src = xreg(insn, insn.src);
  const mode = insnMode(insn.code);
  switch (mode) {
    case PROBE_MEM:
    case PROBE_MEMSX:
      lowerProbeLoad(st, insn, w, dst, src, mode === PROBE_MEMSX);
      return;
    default:
      unknownOpcode(insn); // incl. 8-byte MEMSX / PROBE_MEM32SX
  }
}

/*
 * Load through a BTF pointer: only addresses above user space and below the vsyscall page are read.
 *   movabs r10, VSYSCALL_ADDR
 *   mov    r11, src
 *   add    r11, off            ; when off != 0
 *   sub    r11, r10
 *   movabs r10, TASK_SIZE_MAX + PAGE_SIZE - VSYSCALL_ADDR
 *   cmp    r11, r10
 *   ja     load
 *   xor    dst32, dst32
 *   jmp    done
 * load: mov dst, [src + off]      ; exception-table entry: a fault zeroes dst
 * done:
 */
function lowerProbeLoad(st: FnState, insn: Insn, w: Width, dst: number, src: number, signed: boolean): void {
  const a = st.a;
  if (insn.dst > 9) throw insnError(insn.pc, 'probe load into a register above r9');
  if (signed && w === 8) unknownOpcode(insn);
  movImm64(a, Gpr.R10, VSYSCALL_ADDR.hi, VSYSCALL_ADDR.lo);
  movReg(a, true, AUX, src);
  if (insn.off !== 0) a.alu_ri32(Alu.ADD, true, AUX, insn.off);
  a.alu_rr(Alu.SUB, true, AUX, Gpr.R10);
  movImm64(a, Gpr.R10, PROBE_LIMIT.hi, PROBE_LIMIT.lo);
  a.alu_rr(Alu.CMP, true, AUX, Gpr.R10);
  a.jcc8(Cond.A, 0);
  const afterJa = a.pos;
  movImm32(a, false, dst, 0);
  a.jmp8(0);
  const start = a.pos;
  a.s.buf[afterJa - 1] = start - afterJa;
  if (signed) a.loadsx(w as 1 | 2 | 4, dst, src, insn.off);
  else a.load(w, dst, src, insn.off);
  a.s.buf[start - 1] = a.pos - start;
  addExEntry(st, insn.pc, start, a.pos, EX_LOAD, dst, src, insn.off);
}

/** The stores lowerMemDirect leaves: the speculation barrier, atomics and the errors. */
function lowerSt(st: FnState, insn: Insn): void {
  if (insn.code === ST_NOSPEC) {
    st.a.lfence();
    return;
  }
  xreg(insn, insn.dst);
  unknownOpcode(insn);
}

function lowerStx(st: FnState, insn: Insn): void {
  switch (insnMode(insn.code)) {
    case Mode.ATOMIC:
      lowerAtomic(st, insn, width(insn), false);
      return;
    case Mode.PROBE_ATOMIC:
      lowerAtomic(st, insn, width(insn), true);
      return;
    case Mode.MEM:
    case Mode.PROBE_MEM32:
      // Only with a register that does not exist: lowerMemDirect lowers the others.
      xreg(insn, insn.dst);
      xreg(insn, insn.src);
      throw insnError(insn.pc, 'internal error: store not lowered');
    default:
      unknownOpcode(insn);
  }
}
