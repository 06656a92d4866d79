// src/jit/frontend — the analysis' per-path state: register values and spilled stack slots (of the current frame
// and, through pointers it was given, of its callers' frames), their join at merges and widening in loops.

import { joinVal, valEq, widenVal, type Val } from './values.js';

/** MAX_BPF_STACK: a function's stack, and the combined stack of a call chain (check_max_stack_depth). */
export const MAX_BPF_STACK = 512;

/**
 * Helper arguments that are memory the helper reads or writes (ARG_PTR_TO_MEM/UNINIT_MEM, map key/value), by
 * helper id: a stack pointer there is bounds-checked like an access.
 */
export const HELPER_MEM_ARGS: Readonly<Record<number, readonly number[]>> = {
  1: [2], 2: [2, 3], 3: [2], 4: [1], 6: [1], 16: [1], 105: [1, 4], 106: [1, 4], 113: [1], 115: [1], 177: [1, 3],
};

export interface State {
  regs: Val[];
  /**
   * Spilled values of the current frame by (negative, 8-aligned) offset, and values this function spilled into
   * a caller's frame through a pointer it was given (keyed by upKey()), as the verifier tracks spills in every frame.
   */
  stack: Map<number, Val>;
}

/**
 * Stack-map key of a slot in (ancestor) frame `frame`: below -2048, apart from the current frame's offsets
 * (at most 1024 bytes deep, with the verifier's extra slots of an xlated program).
 */
export const upKey = (frame: number, off: number): number => -2048 * (frame + 1) + off;

/** The frame and offset of an upKey(), or null for a slot of the current frame. */
export function fromUpKey(key: number): { frame: number; off: number } | null {
  if (key >= -1024) return null;
  const frame = Math.floor((-key - 1) / 2048) - 1;
  return { frame, off: key + 2048 * (frame + 1) };
}

export function joinState(a: State, b: State): State {
  const regs = a.regs.map((v, i) => joinVal(v, b.regs[i]!));
  const stack = new Map<number, Val>();
  for (const [k, v] of a.stack) {
    const w = b.stack.get(k);
    if (w) stack.set(k, joinVal(v, w));
  }
  return { regs, stack };
}

export function widenState(old: State, next: State): State {
  const regs = next.regs.map((v, i) => widenVal(old.regs[i]!, v));
  const stack = new Map<number, Val>();
  for (const [k, v] of next.stack) stack.set(k, widenVal(old.stack.get(k) ?? v, v));
  return { regs, stack };
}

export function stateEq(a: State, b: State): boolean {
  if (!a.regs.every((v, i) => valEq(v, b.regs[i]!))) return false;
  if (a.stack.size !== b.stack.size) return false;
  for (const [k, v] of a.stack) {
    const w = b.stack.get(k);
    if (!w || !valEq(v, w)) return false;
  }
  return true;
}
