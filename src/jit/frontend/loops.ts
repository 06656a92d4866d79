// src/jit/frontend — bpf_loop inlining (the verifier's optimize_bpf_loop / inline_bpf_loop): a bpf_loop call
// whose callback and zero flags are the same on every path becomes a counted loop calling the callback as a
// bpf-to-bpf function, with r6-r8 spilled to 24 new bytes of the caller's stack.

import { AluOp, Class, JmpOp, Mode, PseudoCall, Size, Src } from '../../isa/opcodes.js';
import { slot, type Slot, type SlotProgram } from './slots.js';

const BPF_MAX_LOOPS = 8 * 1024 * 1024;
const E2BIG = 7;
const BPF_FUNC_LOOP = 181;

function inlineLoop(stackBase: number): Slot[] {
  const r6 = stackBase;
  const r7 = stackBase + 8;
  const r8 = stackBase + 16;
  const STX = Class.STX | Mode.MEM | Size.DW;
  const LDX = Class.LDX | Mode.MEM | Size.DW;
  const mov64 = Class.ALU64 | AluOp.MOV | Src.X;
  return [
    slot(Class.JMP | JmpOp.JLE | Src.K, 1, 0, 2, BPF_MAX_LOOPS),
    slot(Class.ALU | AluOp.MOV | Src.K, 0, 0, 0, -E2BIG),
    slot(Class.JMP | JmpOp.JA, 0, 0, 16),
    slot(STX, 10, 6, r6),
    slot(STX, 10, 7, r7),
    slot(STX, 10, 8, r8),
    slot(mov64, 6, 1),
    slot(Class.ALU | AluOp.MOV | Src.K, 7, 0, 0, 0),
    slot(mov64, 8, 3),
    slot(Class.JMP | JmpOp.JGE | Src.X, 7, 6, 5),
    slot(mov64, 1, 7),
    slot(mov64, 2, 8),
    slot(Class.JMP | JmpOp.CALL, 0, PseudoCall.CALL, 0, 0), // callback offset set after patching
    slot(Class.ALU64 | AluOp.ADD | Src.K, 7, 0, 0, 1),
    slot(Class.JMP | JmpOp.JEQ | Src.K, 0, 0, -6, 0),
    slot(mov64, 0, 7),
    slot(LDX, 6, 10, r6),
    slot(LDX, 7, 10, r7),
    slot(LDX, 8, 10, r8),
  ];
}

/** optimize_bpf_loop: `loops` maps original slots of bpf_loop calls to the callback's function index. */
export function inlineBpfLoops(p: SlotProgram, loops: ReadonlyMap<number, number | null>): void {
  if (![...loops.values()].some((v) => v !== null)) return;
  let cur = 0;
  let depth = p.depth[0] ?? 0;
  let roundup = Math.ceil(depth / 8) * 8 - depth;
  let extra = 0;
  for (let pos = 0; pos < p.length; pos++) {
    const s = p.slots[pos]!;
    const cb = loops.get(p.aux[pos]!.orig);
    if (s.code === (Class.JMP | JmpOp.CALL) && s.src === PseudoCall.HELPER && s.imm === BPF_FUNC_LOOP && typeof cb === 'number') {
      extra = 8 * 3 + roundup;
      const patch = inlineLoop(-(depth + extra));
      p.patch(pos, patch);
      const call = pos + 12;
      p.slots[call]!.imm = p.starts[cb]! - call - 1;
      pos += patch.length - 1;
    }
    if (p.starts[cur + 1] === pos + 1) {
      p.depth[cur] = (p.depth[cur] ?? 0) + extra;
      cur++;
      depth = p.depth[cur] ?? 0;
      roundup = Math.ceil(depth / 8) * 8 - depth;
      extra = 0;
    }
  }
}
