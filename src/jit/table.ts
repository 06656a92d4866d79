// src/jit — the program as parallel typed arrays, read through one reused cursor object: the emit
// loop then touches a single object shape and allocates nothing per instruction.

import { BpfError } from '../errors.js';
import type { Insn, Program } from '../isa/insn.js';
import { Class, JmpOp, LD_IMM64, insnClass, insnOp } from '../isa/opcodes.js';

export interface InsnTable {
  readonly length: number;
  readonly pc: Int32Array;
  readonly code: Uint8Array;
  readonly dst: Uint8Array;
  readonly src: Uint8Array;
  readonly off: Int16Array;
  readonly imm: Int32Array;
  readonly imm2: Int32Array;
  /** Emission class, see Emit. */
  readonly variable: Uint8Array;
}

/** How an instruction is emitted across passes. */
export const Emit = {
  /** Size and bytes independent of the layout: lowered in the first pass, copied in the image pass. */
  FIXED: 0,
  /** Size depends on the layout (jumps, exits, tail calls): lowered in every pass. */
  LAYOUT: 1,
  /** Fixed size, but the image pass must lower it again (call displacements, exception-table entries). */
  IMAGE: 2,
} as const;

/** The emission class of an opcode. */
export function emitClass(code: number): number {
  const cls = insnClass(code);
  if (cls === Class.JMP || cls === Class.JMP32) return insnOp(code) === JmpOp.CALL ? Emit.IMAGE : Emit.LAYOUT;
  const mode = code & 0xe0;
  if (cls === Class.LDX) return mode === 0xa0 || mode === 0xc0 || mode === 0x20 || mode === 0x40 ? Emit.IMAGE : Emit.FIXED;
  if (cls === Class.ST) return mode === 0xa0 ? Emit.IMAGE : Emit.FIXED;
  if (cls === Class.STX) return mode === 0xa0 || mode === 0xe0 ? Emit.IMAGE : Emit.FIXED;
  return Emit.FIXED;
}

/** BPF_JMP | BPF_TAIL_CALL, the verifier's rewrite of bpf_tail_call(). */
export const TAIL_CALL = Class.JMP | 0xf0;
/** The kernel's xlated dump shows a tail call as `call 12` (bpf_tail_call): same thing. */
const DUMPED_TAIL_CALL_IMM = 12;
/** imm of a tail call whose kind (direct or indirect) the analysis decides (see analyze.ts). */
export const TAIL_CALL_UNDECIDED = -12;

/**
 * Accepts the kernel's raw xlated dump besides the resolved form: a tail call dumped as `call 12`, and
 * a bpf-to-bpf call dumped with off = relative offset, imm = subprogram index (resolved: imm = offset).
 */
function normaliseDump(t: { code: Uint8Array; imm: Int32Array; src: Uint8Array; off: Int16Array }, i: number): void {
  if (t.code[i] !== (Class.JMP | JmpOp.CALL)) return;
  if (t.src[i] === 0 && t.imm[i] === DUMPED_TAIL_CALL_IMM) {
    t.code[i] = TAIL_CALL;
    t.imm[i] = TAIL_CALL_UNDECIDED;
  } else if (t.src[i] === 1 && t.off[i] !== 0) {
    t.imm[i] = t.off[i]!;
    t.off[i] = 0;
  }
}

/** A mutable Insn the emit loop refills for each instruction. */
export interface Cursor {
  pc: number;
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
  imm2: number;
}

export function insnTable(prog: Program): InsnTable {
  const n = prog.insns.length;
  const t = {
    length: n,
    pc: new Int32Array(n),
    code: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    imm: new Int32Array(n),
    imm2: new Int32Array(n),
    variable: new Uint8Array(n),
  };
  for (let i = 0; i < n; i++) {
    const insn: Insn = prog.insns[i]!;
    t.pc[i] = insn.pc;
    t.code[i] = insn.code;
    t.dst[i] = insn.dst;
    t.src[i] = insn.src;
    t.off[i] = insn.off;
    t.imm[i] = insn.imm;
    t.imm2[i] = insn.code === LD_IMM64 ? (insn.imm2 ?? 0) : 0;
    normaliseDump(t, i);
    t.variable[i] = emitClass(t.code[i]!);
  }
  return t;
}

/**
 * The same table straight from little-endian bytecode, without building Insn objects (the fast path
 * for large programs). Structural problems are reported like `decode` reports them.
 */
export function insnTableFromBytes(bytes: Uint8Array): { table: InsnTable; slots: number } {
  if (bytes.length % 8 !== 0) {
    throw new BpfError({ byteOffset: bytes.length - (bytes.length % 8), message: `file size ${bytes.length} is not a multiple of 8` });
  }
  const slots = bytes.length / 8;
  let n = 0;
  for (let p = 0; p < slots; p++, n++) if (bytes[p * 8] === LD_IMM64) p++;
  const t = {
    length: n,
    pc: new Int32Array(n),
    code: new Uint8Array(n),
    dst: new Uint8Array(n),
    src: new Uint8Array(n),
    off: new Int16Array(n),
    imm: new Int32Array(n),
    imm2: new Int32Array(n),
    variable: new Uint8Array(n),
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 0, i = 0; p < slots; p++, i++) {
    const b = p * 8;
    const code = bytes[b]!;
    t.pc[i] = p;
    t.code[i] = code;
    t.dst[i] = bytes[b + 1]! & 0x0f;
    t.src[i] = bytes[b + 1]! >> 4;
    t.off[i] = view.getInt16(b + 2, true);
    t.imm[i] = view.getInt32(b + 4, true);
    if (code === LD_IMM64) {
      if (p + 1 >= slots) throw new BpfError({ insn: p, message: 'truncated ld_imm64: the second slot is missing' });
      if (bytes[b + 8] !== 0 || bytes[b + 9] !== 0 || view.getInt16(b + 10, true) !== 0) {
        throw new BpfError({ insn: p + 1, message: 'second slot of ld_imm64 must have zero opcode, registers and offset' });
      }
      t.imm2[i] = view.getInt32(b + 12, true);
      p++;
    }
    normaliseDump(t, i);
    t.variable[i] = emitClass(t.code[i]!);
  }
  return { table: t, slots };
}

export function newCursor(): Cursor {
  return { pc: 0, code: 0, dst: 0, src: 0, off: 0, imm: 0, imm2: 0 };
}

export function loadCursor(t: InsnTable, i: number, c: Cursor): void {
  c.pc = t.pc[i]!;
  c.code = t.code[i]!;
  c.dst = t.dst[i]!;
  c.src = t.src[i]!;
  c.off = t.off[i]!;
  c.imm = t.imm[i]!;
  c.imm2 = t.imm2[i]!;
}
