// Loads and stores: LDX / ST / STX in the MEM and MEMSX modes, the arena forms [reg + r12 + off]
// (PROBE_MEM32, PROBE_MEM32SX) with an exception-table entry each, BTF-pointer probe loads
// (PROBE_MEM, PROBE_MEMSX) and the speculation barrier (ST | NOSPEC).

import { insnError } from '../../errors.js';
import { Class, Mode, SIZE_BYTES, insnClass, insnMode, insnSize } from '../../isa/opcodes.js';
import type { Insn } from '../../isa/insn.js';
import { addExEntry } from '../extable.js';
import { ARENA_BASE, AUX } from '../regmap.js';
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

export function lowerMem(st: FnState, insn: Insn): void {
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

function lowerLdx(st: FnState, insn: Insn): void {
  const a = st.a;
  const w = width(insn);
  const dst = xreg(insn, insn.dst);
  const src = xreg(insn, insn.src);
  const mode = insnMode(insn.code);
  switch (mode) {
    case Mode.MEM:
      a.load(w, dst, src, insn.off);
      return;
    case Mode.MEMSX:
      if (w === 8) unknownOpcode(insn);
      a.loadsx(w, dst, src, insn.off);
      return;
    case Mode.PROBE_MEM32:
    case Mode.PROBE_MEM32SX: {
      const start = a.pos;
      if (mode === Mode.PROBE_MEM32) a.load_idx(w, dst, src, ARENA_BASE, insn.off);
      else if (w === 8) unknownOpcode(insn);
      else a.loadsx_idx(w, dst, src, ARENA_BASE, insn.off);
      addExEntry(st, insn.pc, start, 'load', dst, src, insn.off);
      return;
    }
    case PROBE_MEM:
    case PROBE_MEMSX:
      lowerProbeLoad(st, insn, w, dst, src, mode === PROBE_MEMSX);
      return;
    default:
      unknownOpcode(insn);
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
  addExEntry(st, insn.pc, start, 'load', dst, src, insn.off);
}

function lowerSt(st: FnState, insn: Insn): void {
  const a = st.a;
  if (insn.code === ST_NOSPEC) {
    a.lfence();
    return;
  }
  const dst = xreg(insn, insn.dst);
  switch (insnMode(insn.code)) {
    case Mode.MEM:
      a.store_imm(width(insn), dst, insn.off, insn.imm);
      return;
    case Mode.PROBE_MEM32: {
      const start = a.pos;
      a.store_imm_idx(width(insn), dst, ARENA_BASE, insn.off, insn.imm);
      addExEntry(st, insn.pc, start, 'store', null, dst, insn.off);
      return;
    }
    default:
      unknownOpcode(insn);
  }
}

function lowerStx(st: FnState, insn: Insn): void {
  const a = st.a;
  switch (insnMode(insn.code)) {
    case Mode.MEM:
      a.store(width(insn), xreg(insn, insn.dst), xreg(insn, insn.src), insn.off);
      return;
    case Mode.PROBE_MEM32: {
      const dst = xreg(insn, insn.dst);
      const start = a.pos;
      a.store_idx(width(insn), dst, xreg(insn, insn.src), ARENA_BASE, insn.off);
      addExEntry(st, insn.pc, start, 'store', null, dst, insn.off);
      return;
    }
    case Mode.ATOMIC:
      lowerAtomic(st, insn, width(insn), false);
      return;
    case Mode.PROBE_ATOMIC:
      lowerAtomic(st, insn, width(insn), true);
      return;
    default:
      unknownOpcode(insn);
  }
}
