// Tail calls (BPF_JMP | BPF_TAIL_CALL, or `call 12` in a kernel dump), after
// emit_bpf_tail_call_indirect / _direct. Structure offsets and the indirect-jump form are build facts
// (kernels.ts), checked against the live 6.18.44 kernel; the corpora have no tail calls.

import type { Insn } from '../../isa/insn.js';
import { CALLEE_SAVED, ARENA_BASE } from '../regmap.js';
import { MAX_TAIL_CALL_CNT, roundUp8 } from '../prologue.js';
import { Gpr } from '../x86/regs.js';
import { jmpAbsolute, type FnState } from './state.js';

/** X86_TAIL_CALL_OFFSET without IBT: nop5 + xor/nop3 + push rbp + mov rbp,rsp = 12. */
const TAIL_CALL_OFFSET = 12;

function tccPtrOff(st: FnState): number {
  return -16 - roundUp8(st.fn.stackDepth);
}

/** mov rax, [rbp - round_up(depth, 8) - 16] (48 8b 85 disp32). */
export function loadTailCallCntPtr(st: FnState): void {
  st.a.s.put3(0x48, 0x8b, 0x85);
  st.a.s.put4(tccPtrOff(st));
}

function popAll(st: FnState): void {
  const a = st.a;
  for (let k = 3; k >= 0; k--) if ((st.fn.calleeSaved >> k) & 1) a.pop(CALLEE_SAVED[k]!);
  if (st.prog.arena) a.pop(ARENA_BASE);
  a.pop(Gpr.RAX);
  a.pop(Gpr.RAX);
  if (st.fn.stackDepth !== 0) {
    a.s.put3(0x48, 0x81, 0xc4);
    a.s.put4(roundUp8(st.fn.stackDepth));
  }
}

/** jmp rcx, or under retpolines jmp __x86_indirect_thunk_rcx (emit_indirect_jump). */
function indirectJumpRcx(st: FnState): void {
  const thunk = st.prog.tailCall.indirectThunkRcx;
  if (thunk === undefined) {
    st.a.s.put2(0xff, 0xe1);
    return;
  }
  jmpAbsolute(st, thunk);
}

export function lowerTailCall(st: FnState, insn: Insn): void {
  if (insn.imm !== 0) tailCallDirect(st);
  else tailCallIndirect(st);
}

/*
 *   mov  edx, edx                      ; index
 *   cmp  dword ptr [rsi + max_entries], edx
 *   jbe  out
 *   mov  rax, [rbp + tcc_ptr_off]
 *   cmp  qword ptr [rax], MAX_TAIL_CALL_CNT
 *   jae  out
 *   mov  rcx, [rsi + rdx*8 + ptrs]
 *   test rcx, rcx
 *   je   out
 *   add  qword ptr [rax], 1
 *   <pop callee-saved, r12>; pop rax; pop rax; add rsp, depth
 *   mov  rcx, [rcx + bpf_func]
 *   add  rcx, X86_TAIL_CALL_OFFSET
 *   jmp  rcx
 * out:
 */
function tailCallIndirect(st: FnState): void {
  const s = st.a.s;
  const start = s.pos;
  const label = st.tailCallIndirectLabel;
  const layout = st.prog.tailCall;
  // rel8 to `out:`, measured in the previous pass (the sequence's length never changes)
  const toOut = (): number => (label - (s.pos + 2 - start)) & 0xff;
  s.put2(0x89, 0xd2); // mov edx, edx
  s.put3(0x39, 0x56, layout.arrayMaxEntries); // cmp [rsi + max_entries], edx
  s.put2(0x76, toOut()); // jbe out
  loadTailCallCntPtr(st);
  s.put4((MAX_TAIL_CALL_CNT << 24) | 0x388348); // cmp qword ptr [rax], MAX_TAIL_CALL_CNT
  s.put2(0x73, toOut()); // jae out
  s.put4(0xd68c8b48); // mov rcx, [rsi + rdx*8 + ptrs]
  s.put4(layout.arrayPtrs);
  s.put3(0x48, 0x85, 0xc9); // test rcx, rcx
  s.put2(0x74, toOut()); // je out
  s.put4(0x01008348); // add qword ptr [rax], 1
  popAll(st);
  s.put4((layout.progBpfFunc << 24) | 0x498b48); // mov rcx, [rcx + bpf_func]
  s.put4((TAIL_CALL_OFFSET << 24) | 0xc18348); // add rcx, X86_TAIL_CALL_OFFSET
  indirectJumpRcx(st);
  st.tailCallIndirectLabel = s.pos - start;
}

/*
 *   mov  rax, [rbp + tcc_ptr_off]
 *   cmp  qword ptr [rax], MAX_TAIL_CALL_CNT
 *   jae  out
 *   jmp  out                           ; bypass, replaced by a nop when the slot is filled
 *   add  qword ptr [rax], 1
 *   <pops>; add rsp, depth
 *   nop5                               ; patched to jmp target->bpf_func + X86_TAIL_CALL_OFFSET
 * out:
 */
function tailCallDirect(st: FnState): void {
  const s = st.a.s;
  const start = s.pos;
  const label = st.tailCallDirectLabel;
  loadTailCallCntPtr(st);
  s.put4((MAX_TAIL_CALL_CNT << 24) | 0x388348); // cmp qword ptr [rax], MAX_TAIL_CALL_CNT
  s.put2(0x73, (label - (s.pos + 2 - start)) & 0xff); // jae out
  const bypass = s.pos - start;
  s.put1(0xe9); // jmp out (the bypass)
  s.put4(label - (bypass + 5));
  s.put4(0x01008348); // add qword ptr [rax], 1
  popAll(st);
  st.a.nops(5); // the patch site
  st.tailCallDirectLabel = s.pos - start;
}
