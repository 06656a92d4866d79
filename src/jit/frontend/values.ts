// src/jit/frontend — the abstract values of the front end's analysis: what a register holds (scalar with
// an optional known constant, arena pointer, stack pointer, other pointer) and their join at CFG merges.

/** Register contents. `pc` is the instruction that produced the value (used in error messages). */
export type Val =
  | { readonly k: 'uninit' }
  /** `z`: the 32-bit cmpxchg instructions whose r0 result this may still be (their zero-extension question). */
  | { readonly k: 'scalar'; readonly c?: bigint; readonly z?: readonly number[]; readonly r?: Bounds }
  | { readonly k: 'arena'; readonly pc: number }
  /** Pointer into the stack frame at call depth `frame`; `off` undefined when not constant. */
  | { readonly k: 'stack'; readonly frame: number; readonly off?: number; readonly pc?: number }
  /** Any other pointer (context, map, map value, BTF object). */
  | { readonly k: 'ptr'; readonly pc: number }
  /** An arena pointer on one path and something else on another. */
  | { readonly k: 'mixed'; readonly arenaPc: number; readonly otherPc: number; readonly other: string };

import { boundsEq, constBounds, FULL, isFull, joinBounds, type Bounds } from './ranges.js';

export const UNINIT: Val = { k: 'uninit' };
export const UNKNOWN: Val = { k: 'scalar' };

export const M64 = (1n << 64n) - 1n;
export const M32 = (1n << 32n) - 1n;

export function konst(c: bigint): Val {
  return { k: 'scalar', c: c & M64 };
}

/** A scalar within `b` (a constant when the interval is one value). */
export function ranged(b: Bounds | null | undefined, z?: readonly number[]): Val {
  const zz = z ? { z } : {};
  if (!b || isFull(b)) return { k: 'scalar', ...zz };
  if (b.ulo === b.uhi) return { k: 'scalar', c: b.ulo, ...zz };
  return { k: 'scalar', r: b, ...zz };
}

/** The interval of a scalar value. */
export function boundsOf(v: Val): Bounds {
  if (v.k !== 'scalar') return FULL;
  if (v.c !== undefined) return constBounds(v.c);
  return v.r ?? FULL;
}

export function valEq(a: Val, b: Val): boolean {
  if (a.k !== b.k) return false;
  switch (a.k) {
    case 'uninit':
      return true;
    case 'scalar':
      return a.c === (b as typeof a).c && zKey(a.z) === zKey((b as typeof a).z) && rEq(a.r, (b as typeof a).r);
    case 'arena':
    case 'ptr':
      return a.pc === (b as typeof a).pc;
    case 'stack':
      return a.frame === (b as typeof a).frame && a.off === (b as typeof a).off;
    case 'mixed':
      return a.arenaPc === (b as typeof a).arenaPc && a.otherPc === (b as typeof a).otherPc;
  }
}

/** Where a value came from, for messages. */
export function describe(v: Val): { what: string; pc: number } {
  switch (v.k) {
    case 'arena':
      return { what: 'arena pointer', pc: v.pc };
    case 'ptr':
      return { what: 'non-arena pointer', pc: v.pc };
    case 'stack':
      return { what: 'stack pointer', pc: v.pc ?? -1 };
    default:
      return { what: 'scalar', pc: -1 };
  }
}

/** Join at a merge: uninit is neutral (reading it is an error on that path anyway). */
export function joinVal(a: Val, b: Val): Val {
  if (a.k === 'uninit') return b;
  if (b.k === 'uninit') return a;
  if (a.k === 'mixed') return a;
  if (b.k === 'mixed') return b;
  if (a.k === 'arena' || b.k === 'arena') {
    if (a.k === b.k) return a;
    const [ar, other] = a.k === 'arena' ? [a, b] : [b, a];
    const d = describe(other);
    return { k: 'mixed', arenaPc: (ar as { pc: number }).pc, otherPc: d.pc, other: d.what };
  }
  if (a.k === 'scalar' && b.k === 'scalar') {
    const z = a.z && b.z ? [...new Set([...a.z, ...b.z])].sort((x, y) => x - y) : (a.z ?? b.z);
    if (a.c !== undefined && a.c === b.c) return z ? { k: 'scalar', c: a.c, z } : { k: 'scalar', c: a.c };
    return ranged(joinBounds(boundsOf(a), boundsOf(b)), z);
  }
  if (a.k === 'stack' && b.k === 'stack' && a.frame === b.frame) return a.off === b.off ? a : { k: 'stack', frame: a.frame, ...(a.pc !== undefined ? { pc: a.pc } : {}) };
  if (a.k === 'ptr' && b.k === 'ptr') return a;
  // Different non-arena kinds: nothing the front end needs survives.
  return UNKNOWN;
}

export function valKey(v: Val): string {
  switch (v.k) {
    case 'uninit':
      return 'u';
    case 'scalar':
      return `s${v.c === undefined ? '' : v.c.toString(16)}${zKey(v.z)}${v.r ? `r${v.r.ulo},${v.r.uhi},${v.r.slo},${v.r.shi}` : ''}`;
    case 'arena':
      return `a${v.pc}`;
    case 'ptr':
      return `p${v.pc}`;
    case 'stack':
      return `f${v.frame}:${v.off ?? '?'}`;
    case 'mixed':
      return `m${v.arenaPc}:${v.otherPc}`;
  }
}

function zKey(z: readonly number[] | undefined): string {
  return z ? `z${z.join('.')}` : '';
}

function rEq(a: Bounds | undefined, b: Bounds | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && boundsEq(a, b));
}

/** Widening for loops: a scalar interval that still grows becomes unknown. */
export function widenVal(old: Val, next: Val): Val {
  if (old.k === 'scalar' && next.k === 'scalar' && next.c === undefined && next.r && !rEq(old.r, next.r)) {
    return next.z ? { k: 'scalar', z: next.z } : UNKNOWN;
  }
  return next;
}
