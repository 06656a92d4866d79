// src/jit/frontend — value ranges of scalars (unsigned and signed 64-bit intervals), a subset of what the
// verifier tracks (loads narrower than 64 bits, 32-bit results, AND/RSH/ADD/SUB, sign-extending moves,
// refinement on compares with a constant). Deliberately never more precise than Linux 6.18's verifier, so a
// branch decided here is decided there too.

import { AluOp, JmpOp } from '../../isa/opcodes.js';

export interface Bounds {
  readonly ulo: bigint;
  readonly uhi: bigint;
  readonly slo: bigint;
  readonly shi: bigint;
}

export const U64_MAX = (1n << 64n) - 1n;
const S64_MIN = -(1n << 63n);
const S64_MAX = (1n << 63n) - 1n;
export const FULL: Bounds = { ulo: 0n, uhi: U64_MAX, slo: S64_MIN, shi: S64_MAX };

export function isFull(b: Bounds): boolean {
  return b.ulo === 0n && b.uhi === U64_MAX && b.slo === S64_MIN && b.shi === S64_MAX;
}

export function constBounds(c: bigint): Bounds {
  const s = BigInt.asIntN(64, c);
  return { ulo: c, uhi: c, slo: s, shi: s };
}

/** reg_bounds_sync in small: each interval narrows the other where they overlap in meaning. Null if empty. */
export function sync(b: Bounds): Bounds | null {
  let { ulo, uhi, slo, shi } = b;
  if (uhi <= S64_MAX) {
    slo = slo > ulo ? slo : ulo;
    shi = shi < uhi ? shi : uhi;
  } else if (ulo > S64_MAX) {
    // all negative as signed
    const lo = BigInt.asIntN(64, ulo);
    const hi = BigInt.asIntN(64, uhi);
    slo = slo > lo ? slo : lo;
    shi = shi < hi ? shi : hi;
  }
  if (slo >= 0n) {
    ulo = ulo > slo ? ulo : slo;
    uhi = uhi < shi ? uhi : shi;
  } else if (shi < 0n) {
    const lo = BigInt.asUintN(64, slo);
    const hi = BigInt.asUintN(64, shi);
    ulo = ulo > lo ? ulo : lo;
    uhi = uhi < hi ? uhi : hi;
  }
  if (ulo > uhi || slo > shi) return null;
  return { ulo, uhi, slo, shi };
}

export function joinBounds(a: Bounds, b: Bounds): Bounds {
  return {
    ulo: a.ulo < b.ulo ? a.ulo : b.ulo,
    uhi: a.uhi > b.uhi ? a.uhi : b.uhi,
    slo: a.slo < b.slo ? a.slo : b.slo,
    shi: a.shi > b.shi ? a.shi : b.shi,
  };
}

export function boundsEq(a: Bounds, b: Bounds): boolean {
  return a.ulo === b.ulo && a.uhi === b.uhi && a.slo === b.slo && a.shi === b.shi;
}

/** Bounds of a value zero-extended from `bits` (narrow loads, 32-bit ALU results). */
export function zextBounds(bits: number): Bounds {
  const m = (1n << BigInt(bits)) - 1n;
  return { ulo: 0n, uhi: m, slo: 0n, shi: m };
}

/** Bounds of a value sign-extended from `bits`. */
export function sextBounds(bits: number): Bounds {
  const h = 1n << BigInt(bits - 1);
  return sync({ ulo: 0n, uhi: U64_MAX, slo: -h, shi: h - 1n }) ?? FULL;
}

/** 64-bit ALU on ranges (op with a non-constant operand); FULL when not tracked. */
export function alu64Bounds(op: number, a: Bounds, b: Bounds): Bounds {
  switch (op) {
    case AluOp.ADD: {
      const u = a.uhi + b.uhi <= U64_MAX ? { ulo: a.ulo + b.ulo, uhi: a.uhi + b.uhi } : { ulo: 0n, uhi: U64_MAX };
      const slo = a.slo + b.slo;
      const shi = a.shi + b.shi;
      const s = slo >= S64_MIN && shi <= S64_MAX ? { slo, shi } : { slo: S64_MIN, shi: S64_MAX };
      return sync({ ...u, ...s }) ?? FULL;
    }
    case AluOp.SUB: {
      const u = a.ulo >= b.uhi ? { ulo: a.ulo - b.uhi, uhi: a.uhi - b.ulo } : { ulo: 0n, uhi: U64_MAX };
      const slo = a.slo - b.shi;
      const shi = a.shi - b.slo;
      const s = slo >= S64_MIN && shi <= S64_MAX ? { slo, shi } : { slo: S64_MIN, shi: S64_MAX };
      return sync({ ...u, ...s }) ?? FULL;
    }
    case AluOp.AND: {
      const uhi = a.uhi < b.uhi ? a.uhi : b.uhi;
      return sync({ ulo: 0n, uhi, slo: S64_MIN, shi: S64_MAX }) ?? FULL;
    }
    case AluOp.RSH:
      if (b.ulo === b.uhi && b.ulo < 64n) return sync({ ulo: a.ulo >> b.ulo, uhi: a.uhi >> b.ulo, slo: S64_MIN, shi: S64_MAX }) ?? FULL;
      return FULL;
    case AluOp.OR:
    case AluOp.XOR: {
      // x | y >= max(x, y); both stay below the next power of two of the larger maximum.
      const bits = possibleBits(a) | possibleBits(b);
      const ulo = op === AluOp.OR ? (a.ulo > b.ulo ? a.ulo : b.ulo) : 0n;
      return sync({ ulo, uhi: bits < U64_MAX ? bits : U64_MAX, slo: S64_MIN, shi: S64_MAX }) ?? FULL;
    }
    default:
      return FULL;
  }
}

/** is_branch_taken on intervals (64-bit compares): true/false when decided. */
export function decideBounds(op: number, a: Bounds, b: Bounds): boolean | undefined {
  switch (op) {
    case JmpOp.JEQ:
      if (a.ulo === a.uhi && b.ulo === b.uhi) return a.ulo === b.ulo;
      if (a.uhi < b.ulo || a.ulo > b.uhi || a.shi < b.slo || a.slo > b.shi) return false;
      return undefined;
    case JmpOp.JNE: {
      const eq = decideBounds(JmpOp.JEQ, a, b);
      return eq === undefined ? undefined : !eq;
    }
    case JmpOp.JGT:
      return a.ulo > b.uhi ? true : a.uhi <= b.ulo ? false : undefined;
    case JmpOp.JGE:
      return a.ulo >= b.uhi ? true : a.uhi < b.ulo ? false : undefined;
    case JmpOp.JLT:
      return a.uhi < b.ulo ? true : a.ulo >= b.uhi ? false : undefined;
    case JmpOp.JLE:
      return a.uhi <= b.ulo ? true : a.ulo > b.uhi ? false : undefined;
    case JmpOp.JSGT:
      return a.slo > b.shi ? true : a.shi <= b.slo ? false : undefined;
    case JmpOp.JSGE:
      return a.slo >= b.shi ? true : a.shi < b.slo ? false : undefined;
    case JmpOp.JSLT:
      return a.shi < b.slo ? true : a.slo >= b.shi ? false : undefined;
    case JmpOp.JSLE:
      return a.shi <= b.slo ? true : a.slo > b.shi ? false : undefined;
    case JmpOp.JSET:
      // No bit both sides may have set (the verifier's tnum is at least this precise).
      return (possibleBits(a) & possibleBits(b)) === 0n ? false : undefined;
    default:
      return undefined;
  }
}

/** Bits a value in `b` may have set: all bits up to the highest bit of its maximum. */
function possibleBits(b: Bounds): bigint {
  if (b.ulo === b.uhi) return b.ulo;
  return (1n << BigInt(b.uhi.toString(2).length)) - 1n;
}

/**
 * The 32-bit view (unsigned and signed 32-bit intervals) of a 64-bit interval lying within [0, 2^32), for JMP32
 * compares; undefined when the upper half is not known to be zero.
 */
export function low32(b: Bounds): Bounds | undefined {
  if (b.uhi > 0xffffffffn) {
    // A value within the signed 32-bit range keeps its sign in the low half.
    if (b.slo < -(1n << 31n) || b.shi > (1n << 31n) - 1n) return undefined;
    const u = b.slo >= 0n ? { ulo: b.slo, uhi: b.shi } : b.shi < 0n ? { ulo: b.slo + (1n << 32n), uhi: b.shi + (1n << 32n) } : { ulo: 0n, uhi: 0xffffffffn };
    return { ...u, slo: b.slo, shi: b.shi };
  }
  if (b.uhi <= 0x7fffffffn) return { ulo: b.ulo, uhi: b.uhi, slo: b.ulo, shi: b.uhi };
  if (b.ulo > 0x7fffffffn) return { ulo: b.ulo, uhi: b.uhi, slo: b.ulo - (1n << 32n), shi: b.uhi - (1n << 32n) };
  return { ulo: b.ulo, uhi: b.uhi, slo: -(1n << 31n), shi: (1n << 31n) - 1n };
}

/** The 32-bit view of a constant (its low half). */
export function const32(c: bigint): Bounds {
  const u = c & 0xffffffffn;
  const s = BigInt.asIntN(32, u);
  return { ulo: u, uhi: u, slo: s, shi: s };
}

/** Narrows `a` on the side of a 64-bit compare with the constant `k` (reg_set_min_max); null if impossible. */
export function refineBounds(op: number, taken: boolean, a: Bounds, k: bigint): Bounds | null {
  const sk = BigInt.asIntN(64, k);
  const max = (x: bigint, y: bigint): bigint => (x > y ? x : y);
  const min = (x: bigint, y: bigint): bigint => (x < y ? x : y);
  let { ulo, uhi, slo, shi } = a;
  // Normalise to "taken" forms.
  let o = op;
  if (!taken) {
    const inv: Record<number, number> = {
      [JmpOp.JGT]: JmpOp.JLE, [JmpOp.JGE]: JmpOp.JLT, [JmpOp.JLT]: JmpOp.JGE, [JmpOp.JLE]: JmpOp.JGT,
      [JmpOp.JSGT]: JmpOp.JSLE, [JmpOp.JSGE]: JmpOp.JSLT, [JmpOp.JSLT]: JmpOp.JSGE, [JmpOp.JSLE]: JmpOp.JSGT,
      [JmpOp.JEQ]: JmpOp.JNE, [JmpOp.JNE]: JmpOp.JEQ,
    };
    const v = inv[op];
    if (v === undefined) return a;
    o = v;
  }
  switch (o) {
    case JmpOp.JEQ:
      return sync({ ulo: max(ulo, k), uhi: min(uhi, k), slo: max(slo, sk), shi: min(shi, sk) });
    case JmpOp.JGT:
      ulo = max(ulo, k + 1n);
      break;
    case JmpOp.JGE:
      ulo = max(ulo, k);
      break;
    case JmpOp.JLT:
      uhi = min(uhi, k - 1n);
      break;
    case JmpOp.JLE:
      uhi = min(uhi, k);
      break;
    case JmpOp.JSGT:
      slo = max(slo, sk + 1n);
      break;
    case JmpOp.JSGE:
      slo = max(slo, sk);
      break;
    case JmpOp.JSLT:
      shi = min(shi, sk - 1n);
      break;
    case JmpOp.JSLE:
      shi = min(shi, sk);
      break;
    default:
      return a;
  }
  return sync({ ulo, uhi, slo, shi });
}

/**
 * Both sides of a 64-bit compare of two registers narrowed against each other (regs_refine_cond_op), on the
 * side `taken`; null when that side is impossible.
 */
export function refinePair(op: number, taken: boolean, a: Bounds, b: Bounds): [Bounds, Bounds] | null {
  const inv: Record<number, number> = {
    [JmpOp.JGT]: JmpOp.JLE, [JmpOp.JGE]: JmpOp.JLT, [JmpOp.JLT]: JmpOp.JGE, [JmpOp.JLE]: JmpOp.JGT,
    [JmpOp.JSGT]: JmpOp.JSLE, [JmpOp.JSGE]: JmpOp.JSLT, [JmpOp.JSLT]: JmpOp.JSGE, [JmpOp.JSLE]: JmpOp.JSGT,
    [JmpOp.JEQ]: JmpOp.JNE, [JmpOp.JNE]: JmpOp.JEQ,
  };
  const o = taken ? op : inv[op];
  if (o === undefined) return [a, b];
  const max = (x: bigint, y: bigint): bigint => (x > y ? x : y);
  const min = (x: bigint, y: bigint): bigint => (x < y ? x : y);
  let na: Bounds = a;
  let nb: Bounds = b;
  switch (o) {
    case JmpOp.JEQ: {
      const both = { ulo: max(a.ulo, b.ulo), uhi: min(a.uhi, b.uhi), slo: max(a.slo, b.slo), shi: min(a.shi, b.shi) };
      na = both;
      nb = both;
      break;
    }
    case JmpOp.JGT:
      na = { ...a, ulo: max(a.ulo, b.ulo + 1n) };
      nb = { ...b, uhi: min(b.uhi, a.uhi - 1n) };
      break;
    case JmpOp.JGE:
      na = { ...a, ulo: max(a.ulo, b.ulo) };
      nb = { ...b, uhi: min(b.uhi, a.uhi) };
      break;
    case JmpOp.JLT:
      na = { ...a, uhi: min(a.uhi, b.uhi - 1n) };
      nb = { ...b, ulo: max(b.ulo, a.ulo + 1n) };
      break;
    case JmpOp.JLE:
      na = { ...a, uhi: min(a.uhi, b.uhi) };
      nb = { ...b, ulo: max(b.ulo, a.ulo) };
      break;
    case JmpOp.JSGT:
      na = { ...a, slo: max(a.slo, b.slo + 1n) };
      nb = { ...b, shi: min(b.shi, a.shi - 1n) };
      break;
    case JmpOp.JSGE:
      na = { ...a, slo: max(a.slo, b.slo) };
      nb = { ...b, shi: min(b.shi, a.shi) };
      break;
    case JmpOp.JSLT:
      na = { ...a, shi: min(a.shi, b.shi - 1n) };
      nb = { ...b, slo: max(b.slo, a.slo + 1n) };
      break;
    case JmpOp.JSLE:
      na = { ...a, shi: min(a.shi, b.shi) };
      nb = { ...b, slo: max(b.slo, a.slo) };
      break;
    default:
      return [a, b];
  }
  const sa = sync(na);
  const sb = sync(nb);
  return sa && sb ? [sa, sb] : null;
}
