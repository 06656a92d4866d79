// src/kernel — a minimal program BTF for raw bytecode that needs func_info: the kernel refuses a callback
// (ld_imm64 src 4, e.g. bpf_loop's) without it. One `int fN(void)` static FUNC per function start; the
// verifier only checks the prototypes of global functions, so this is all a syscall program needs.
import type { Program } from '../isa/insn.js';
import { LD_IMM64, PseudoCall, PseudoLd } from '../isa/opcodes.js';
import type { FuncInfo } from './bpf.js';

const CALL = 0x85;
const KIND_INT = 1;
const KIND_FUNC_PROTO = 13;
const KIND_FUNC = 12;

/** Start slots of the functions of an original program: 0, bpf-to-bpf call targets, callback targets. */
export function programFunctionStarts(prog: Program): number[] {
  const starts = new Set<number>([0]);
  for (const i of prog.insns) {
    if (i.code === CALL && i.src === PseudoCall.CALL) starts.add(i.pc + i.imm + 1);
    if (i.code === LD_IMM64 && i.src === PseudoLd.FUNC) starts.add(i.pc + i.imm + 1);
  }
  return [...starts].sort((a, b) => a - b);
}

/** Whether the program takes a function's address (the kernel then wants func_info). */
export function hasCallbacks(prog: Program): boolean {
  return prog.insns.some((i) => i.code === LD_IMM64 && i.src === PseudoLd.FUNC);
}

/** BTF blob + func_info for the program's functions. */
export function minimalFuncBtf(prog: Program): { data: Uint8Array; funcInfo: FuncInfo[] } {
  const starts = programFunctionStarts(prog);
  const strings = ['', 'int', ...starts.map((_, k) => `f${k}`)];
  const strOff: number[] = [];
  let pos = 0;
  for (const s of strings) {
    strOff.push(pos);
    pos += s.length + 1;
  }
  const strBytes = new TextEncoder().encode(strings.join('\0') + '\0');
  const words: number[] = [
    strOff[1]!, KIND_INT << 24, 4, (1 << 24) | 32, // [1] int: size 4, signed, 32 bits
    0, KIND_FUNC_PROTO << 24, 1, // [2] int (void)
  ];
  starts.forEach((_, k) => words.push(strOff[2 + k]!, KIND_FUNC << 24, 2)); // [3+k] static fk
  const typeLen = words.length * 4;
  const out = new Uint8Array(24 + typeLen + strBytes.length);
  const v = new DataView(out.buffer);
  v.setUint16(0, 0xeb9f, true);
  v.setUint8(2, 1);
  v.setUint32(4, 24, true);
  v.setUint32(8, 0, true);
  v.setUint32(12, typeLen, true);
  v.setUint32(16, typeLen, true);
  v.setUint32(20, strBytes.length, true);
  words.forEach((w, i) => v.setUint32(24 + i * 4, w >>> 0, true));
  out.set(strBytes, 24 + typeLen);
  return { data: out, funcInfo: starts.map((pc, k) => ({ insnOff: pc, typeId: 3 + k })) };
}
