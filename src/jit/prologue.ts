// src/jit — function prologue and the shared epilogue, as emit_prologue() and the first BPF_EXIT
// write them (no IBT/CFI preamble, as on the reference machine):
//   nop5                          ; trampoline patch site
//   nop3 | xor rax, rax           ; main program that can reach a tail call: tail-call counter
//   push rbp; mov rbp, rsp
//   sub  rsp, round_up(depth, 8)  ; when depth > 0
//   <tail-call counter bookkeeping when reachable>
//   push r12                      ; arena programs (every function)
//   push rbx/r13/r14/r15          ; the callee-saved registers the function mentions
//   movabs r12, kern_vm_start     ; arena programs
// Epilogue: pop the same registers in reverse, pop r12, leave, ret.

import { CALLEE_SAVED, ARENA_BASE } from './regmap.js';
import { jmpAbsolute, type FnState } from './lower/state.js';
import { movImm64 } from './lower/ldimm.js';
import { Gpr } from './x86/regs.js';

export const MAX_TAIL_CALL_CNT = 33;

export function roundUp8(n: number): number {
  return (n + 7) & ~7;
}

export function emitPrologue(st: FnState): void {
  const a = st.a;
  const s = a.s;
  const isSubprog = st.fn.index !== 0;
  const depth = st.fn.stackDepth;
  a.nops(5);
  if (st.fn.tailCallReachable && !isSubprog) s.put3(0x48, 0x31, 0xc0);
  else a.nops(3);
  a.push(Gpr.RBP);
  s.put3(0x48, 0x89, 0xe5);
  if (depth !== 0) a.sub_rsp_imm32(roundUp8(depth));
  if (st.fn.tailCallReachable) emitTailCallPrologue(st, isSubprog);
  const arena = st.prog.arena;
  if (arena) a.push(ARENA_BASE);
  for (let k = 0; k < 4; k++) if ((st.fn.calleeSaved >> k) & 1) a.push(CALLEE_SAVED[k]!);
  if (arena) {
    const v = st.prog.kernVmStart;
    movImm64(a, ARENA_BASE, Number((v >> 32n) & 0xffffffffn), Number(v & 0xffffffffn));
  }
}

/*
 * Tail-call counter: the main program keeps the counter on its stack and passes a pointer to it.
 * main:    cmp rax, MAX_TAIL_CALL_CNT; ja 1f; push rax; mov rax, rsp; jmp 2f; 1: push rax; 2: push rax
 * subprog: push rax; push rax
 */
function emitTailCallPrologue(st: FnState, isSubprog: boolean): void {
  const s = st.a.s;
  if (!isSubprog) {
    s.put3(0x48, 0x83, 0xf8);
    s.put1(MAX_TAIL_CALL_CNT);
    s.put2(0x77, 6);
    s.put1(0x50);
    s.put3(0x48, 0x89, 0xe0);
    s.put2(0xeb, 1);
    s.put1(0x50);
    s.put1(0x50);
  } else {
    s.put2(0x50, 0x50);
  }
}

/** Pops, leave, ret: emitted once, at the first exit. */
export function emitEpilogue(st: FnState): void {
  const a = st.a;
  for (let k = 3; k >= 0; k--) if ((st.fn.calleeSaved >> k) & 1) a.pop(CALLEE_SAVED[k]!);
  if (st.prog.arena) a.pop(ARENA_BASE);
  a.leave();
  emitReturn(st);
}

/** ret, or `jmp x86_return_thunk` on a kernel with the RETHUNK mitigation (emit_return). */
function emitReturn(st: FnState): void {
  const thunk = st.prog.returnThunk;
  if (thunk === 0n) {
    st.a.ret();
    return;
  }
  jmpAbsolute(st, thunk);
}
