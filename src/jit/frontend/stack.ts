// src/jit/frontend — the verifier's limit on the combined stack of a call chain (check_max_stack_depth):
// walking every bpf-to-bpf call and callback reference (ld_imm64 src 4) from the main program, the frames'
// depths, each rounded up to 16 bytes as for a JIT, must not add up to more than MAX_BPF_STACK.

import { insnError } from '../../errors.js';
import { LD_IMM64, PseudoLd } from '../../isa/opcodes.js';
import { MAX_BPF_STACK } from './state.js';
import type { Slot } from './slots.js';
import { isPseudoCall } from './subprogs.js';

/**
 * Throws `insn N: combined stack size of K calls is D. Too large` (the verifier's message; N = the call that
 * entered the last frame) when a call chain's stack exceeds 512 bytes. `depth`: per function, unrounded.
 */
export function checkCombinedStack(slots: readonly Slot[], starts: readonly number[], depth: readonly number[]): void {
  const fnOf = (pc: number): number => {
    let f = 0;
    while (f + 1 < starts.length - 1 && starts[f + 1]! <= pc) f++;
    return f;
  };
  // Callees of each function, with the instruction that calls (or references) each one.
  const callees: { pc: number; fn: number }[][] = [];
  for (let f = 0; f + 1 < starts.length; f++) {
    const list: { pc: number; fn: number }[] = [];
    for (let pc = starts[f]!; pc < starts[f + 1]!; pc++) {
      const s = slots[pc]!;
      if (isPseudoCall(s) || (s.code === LD_IMM64 && s.src === PseudoLd.FUNC)) list.push({ pc, fn: fnOf(pc + s.imm + 1) });
      if (s.code === LD_IMM64) pc++;
    }
    callees.push(list);
  }
  const frame = (f: number): number => Math.ceil((depth[f] ?? 0) / 16) * 16;
  // Depth-first over the call graph (recursion is refused elsewhere; `onChain` guards anyway). A function
  // already walked from a deeper or equal stack total has nothing new to show: at most 33 totals each.
  const onChain = new Uint8Array(callees.length);
  const walked = new Int32Array(callees.length).fill(-1);
  const walk = (f: number, total: number, calls: number): void => {
    if (walked[f]! >= total) return;
    walked[f] = total;
    onChain[f] = 1;
    for (const c of callees[f]!) {
      if (onChain[c.fn]) continue;
      const t = total + frame(c.fn);
      if (t > MAX_BPF_STACK) {
        throw insnError(c.pc, `combined stack size of ${calls + 1} calls is ${t}. Too large (the limit is ${MAX_BPF_STACK} bytes)`);
      }
      walk(c.fn, t, calls + 1);
    }
    onChain[f] = 0;
  };
  walk(0, frame(0), 1);
}
