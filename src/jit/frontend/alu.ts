// src/jit/frontend — the analysis' transfer function for ALU instructions: constants, ranges and pointer
// kinds (arena pointers stay arena pointers under any arithmetic; 64-bit forms on them become 32-bit).

import { insnError } from '../../errors.js';
import { AluOp, MovOff } from '../../isa/opcodes.js';
import type { Analysis, AnalysisOptions } from './analysis.js';
import { foldAlu, imm64u } from './consts.js';
import { alu64Bounds, constBounds, sextBounds, zextBounds, type Bounds } from './ranges.js';
import type { Slot } from './slots.js';
import { boundsOf, konst, M32, ranged, UNKNOWN, type Val } from './values.js';

export function aluStep(pc: number, s: Slot, is64: boolean, regs: Val[], opts: AnalysisOptions, res: Analysis): void {
  const op = s.code & 0xf0;
  const isX = (s.code & 0x08) !== 0;
  const d = regs[s.dst]!;
  const sv: Val = isX ? regs[s.src]! : konst(is64 ? imm64u(s.imm) : BigInt(s.imm >>> 0));
  if (op === AluOp.MOV) {
    if (!isX) {
      regs[s.dst] = sv;
    } else if (s.off === 8 || s.off === 16 || s.off === 32) {
      regs[s.dst] = movsx(sv, s.off, is64);
    } else if (is64 && s.off === MovOff.ADDR_SPACE_CAST && !opts.xlated) {
      if (!opts.hasArena) throw insnError(pc, 'addr_space_cast insn can only be used in a program that has an associated arena');
      if (s.imm !== 1 && s.imm !== 1 << 16) throw insnError(pc, 'addr_space_cast insn can only convert between address space 1 and 0');
      regs[s.dst] = s.imm === 1 ? { k: 'arena', pc } : UNKNOWN;
    } else if (s.off !== 0) {
      regs[s.dst] = UNKNOWN; // sign-extending moves, per-CPU address, cast to user
    } else if (is64) {
      regs[s.dst] = sv.k === 'stack' && sv.pc === undefined ? { ...sv, pc } : sv;
    } else if (sv.k === 'scalar' && sv.c !== undefined) {
      regs[s.dst] = konst(sv.c & M32);
    } else {
      const b = boundsOf(sv);
      regs[s.dst] = ranged(b.uhi <= 0xffffffffn ? b : zextBounds(32));
    }
    return;
  }
  if (op === AluOp.END && d.k === 'scalar' && d.c !== undefined && (s.imm === 16 || s.imm === 32 || s.imm === 64)) {
    // The verifier knows byte swaps of constants (seen deciding branches after le64 and bswap16).
    const bytes = s.imm / 8;
    const low = d.c & ((1n << BigInt(s.imm)) - 1n);
    const swap = is64 || (s.code & 0x08) !== 0; // bswap, or to_be on a little-endian host
    regs[s.dst] = konst(swap ? byteSwap(low, bytes) : low);
    return;
  }
  if (op === AluOp.NEG || op === AluOp.END) {
    regs[s.dst] = UNKNOWN;
    return;
  }
  const arenaSrc = isX && (sv.k === 'arena' || sv.k === 'mixed');
  if (d.k === 'arena' || d.k === 'mixed' || arenaSrc) {
    // Any arithmetic with an arena operand (dst, or src: 6.18 copies src's type into dst) gives an arena
    // pointer; 64-bit forms become 32-bit (the verifier's needs_zext). Seen on 6.18: r7 = 5; r7 += r6 → w7 += w6.
    if (is64) res.needsZext[pc] = 1;
    if (d.k !== 'arena' && d.k !== 'mixed') regs[s.dst] = sv.k === 'arena' ? { k: 'arena', pc } : sv;
    return;
  }
  if (d.k === 'scalar') {
    if (sv.k === 'scalar') {
      const folded = d.c !== undefined && sv.c !== undefined ? foldAlu(op, is64, d.c, sv.c) : undefined;
      if (folded !== undefined) regs[s.dst] = konst(folded);
      else regs[s.dst] = ranged(is64 ? alu64Bounds(op, boundsOf(d), boundsOf(sv)) : alu32Range(op, d, sv));
    } else if (is64 && op === AluOp.ADD && sv.k === 'stack') {
      regs[s.dst] = { k: 'stack', frame: sv.frame, off: sv.off !== undefined && d.c !== undefined ? sv.off + Number(BigInt.asIntN(64, d.c)) : undefined };
    } else if (is64 && op === AluOp.ADD && sv.k === 'ptr') {
      regs[s.dst] = sv;
    } else {
      regs[s.dst] = UNKNOWN;
    }
    return;
  }
  const addSub = is64 && (op === AluOp.ADD || op === AluOp.SUB) && sv.k === 'scalar';
  if (d.k === 'stack' && addSub) {
    const delta = sv.c !== undefined ? Number(BigInt.asIntN(64, sv.c)) : undefined;
    const off = d.off !== undefined && delta !== undefined ? d.off + (op === AluOp.ADD ? delta : -delta) : undefined;
    regs[s.dst] = { k: 'stack', frame: d.frame, off, ...(d.pc !== undefined ? { pc: d.pc } : {}) };
    return;
  }
  if (d.k === 'ptr' && addSub) return;
  regs[s.dst] = UNKNOWN;
}

/**
 * Result interval of a 32-bit ALU op the front end does not fold: the verifier zero-extends only results it
 * computes (is_safe_to_compute_dst_reg_range); for others (div, mod, shifts by unknown amounts) the whole
 * 64-bit register becomes unknown.
 */
function alu32Range(op: number, dst: Val, src: Val): Bounds | undefined {
  switch (op) {
    case AluOp.ADD:
    case AluOp.SUB:
    case AluOp.AND:
    case AluOp.RSH:
      if (op === AluOp.RSH && !(src.k === 'scalar' && src.c !== undefined && (src.c & M32) < 32n)) return undefined;
      return within32(alu64Bounds(op, low32of(dst), low32of(src)));
    case AluOp.XOR:
    case AluOp.OR:
      return within32(alu64Bounds(op, low32of(dst), low32of(src)));
    case AluOp.MUL:
      return zextBounds(32);
    case AluOp.LSH:
    case AluOp.ARSH:
      return src.k === 'scalar' && src.c !== undefined && (src.c & M32) < 32n ? zextBounds(32) : undefined;
    default:
      return undefined;
  }
}

/** The low half of a scalar as an interval in [0, 2^32). */
function low32of(v: Val): Bounds {
  if (v.k === 'scalar' && v.c !== undefined) return constBounds(v.c & M32);
  const b = boundsOf(v);
  return b.uhi <= 0xffffffffn ? b : zextBounds(32);
}

/** A 32-bit result interval: kept when it did not wrap, else all of [0, 2^32). */
function within32(b: Bounds): Bounds {
  return b.uhi <= 0xffffffffn && b.ulo <= b.uhi ? b : zextBounds(32);
}

function byteSwap(v: bigint, bytes: number): bigint {
  let out = 0n;
  for (let i = 0; i < bytes; i++) out = (out << 8n) | ((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Sign-extending move from `bits`: exact on constants, the source's interval when it cannot be negative. */
function movsx(src: Val, bits: number, is64: boolean): Val {
  const width = is64 ? 64 : 32;
  if (src.k === 'scalar' && src.c !== undefined) {
    const v = BigInt.asIntN(bits, src.c);
    return konst(BigInt.asUintN(width, v));
  }
  const b = boundsOf(src);
  if (b.uhi < 1n << BigInt(bits - 1)) return ranged(b);
  return ranged(is64 ? sextBounds(bits) : zextBounds(32));
}
