// Tail calls (BPF_JMP | BPF_TAIL_CALL), after emit_bpf_tail_call_indirect / _direct. The corpora have
// none; the structure offsets and the indirect-jump form below are this kernel build's assumptions
// (see KERNEL_LAYOUT) and are not checked against a live image.

import type { Insn } from '../../isa/insn.js';
import { CALLEE_SAVED, ARENA_BASE } from '../regmap.js';
import { MAX_TAIL_CALL_CNT, roundUp8 } from '../prologue.js';
import { Gpr } from '../x86/regs.js';
import type { FnState } from './state.js';

/** Kernel structure offsets and constants used by the tail-call sequence. */
export const KERNEL_LAYOUT = {
  /** offsetof(struct bpf_array, map.max_entries) */
  arrayMaxEntries: 0x10,
  /** offsetof(struct bpf_array, ptrs) */
  arrayPtrs: 0x110,
  /** offsetof(struct bpf_prog, bpf_func) */
  progBpfFunc: 0x30,
  /** X86_TAIL_CALL_OFFSET without IBT: nop5 + xor/nop3 + push rbp + mov rbp,rsp = 12 */
  tailCallOffset: 12,
} as const;

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
  if (st.prog.kernVmStart !== 0n) a.pop(ARENA_BASE);
  a.pop(Gpr.RAX);
  a.pop(Gpr.RAX);
  if (st.fn.stackDepth !== 0) {
    a.s.put3(0x48, 0x81, 0xc4);
    a.s.put4(roundUp8(st.fn.stackDepth));
  }
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
  s.put2(0x89, 0xd2);
  s.put3(0x39, 0x56, KERNEL_LAYOUT.arrayMaxEntries);
  s.put2(0x76, (label - (s.pos + 2 - start)) & 0xff);
  loadTailCallCntPtr(st);
  s.put3(0x48, 0x83, 0x38);
  s.put1(MAX_TAIL_CALL_CNT);
  s.put2(0x73, (label - (s.pos + 2 - start)) & 0xff);
  s.put4(0xd68c8b48 | 0);
  s.put4(KERNEL_LAYOUT.arrayPtrs);
  s.put3(0x48, 0x85, 0xc9);
  s.put2(0x74, (label - (s.pos + 2 - start)) & 0xff);
  s.put4(0x01008348 | 0);
  popAll(st);
  s.put4(0x00498b48 | (KERNEL_LAYOUT.progBpfFunc << 24));
  s.put4(0x00c18348 | (KERNEL_LAYOUT.tailCallOffset << 24));
  s.put2(0xff, 0xe1);
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
  s.put3(0x48, 0x83, 0x38);
  s.put1(MAX_TAIL_CALL_CNT);
  s.put2(0x73, (label - (s.pos + 2 - start)) & 0xff);
  const bypass = s.pos - start;
  s.put1(0xe9);
  s.put4(label - (bypass + 5));
  s.put4(0x01008348 | 0);
  popAll(st);
  st.a.nops(5);
  st.tailCallDirectLabel = s.pos - start;
}
