// src/jit — the program as parallel typed arrays, read through one reused cursor object: the emit
// loop then touches a single object shape and allocates nothing per instruction.

import { BpfError } from '../errors.js';
import type { Insn, Program } from '../isa/insn.js';
import { Class, JmpOp, LD_IMM64, insnClass, insnOp } from '../isa/opcodes.js';

export interface InsnTable {
  readonly length: number;
  /**
   * TW int32 words per instruction (word offsets W_*): pc; code | dst << 8 | src << 12 | emission class << 16;
   * off; imm; imm2 (ld_imm64's upper half, else 0). One array rather than one per field: V8 reloads a typed
   * array's data pointer and length after every call in a loop, so each extra array costs on every instruction.
   * Read it through the accessors below, or the words directly in hot loops.
   */
  readonly w: Int32Array;
  /** Whole-program facts gathered while the table was built (see TableFacts). */
  readonly facts: TableFacts;
}

/** Words per instruction in InsnTable.w, and the offset of each field. */
export const TW = 5;
export const W_PC = 0;
export const W_OPS = 1;
export const W_OFF = 2;
export const W_IMM = 3;
export const W_IMM2 = 4;

export function tPc(t: InsnTable, i: number): number {
  return t.w[i * TW]!;
}
export function tCode(t: InsnTable, i: number): number {
  return t.w[i * TW + W_OPS]! & 0xff;
}
export function tDst(t: InsnTable, i: number): number {
  return (t.w[i * TW + W_OPS]! >> 8) & 0xf;
}
export function tSrc(t: InsnTable, i: number): number {
  return (t.w[i * TW + W_OPS]! >> 12) & 0xf;
}
/** Emission class (Emit). */
export function tEmit(t: InsnTable, i: number): number {
  return (t.w[i * TW + W_OPS]! >> 16) & 3;
}
export function tOff(t: InsnTable, i: number): number {
  return t.w[i * TW + W_OFF]!;
}
export function tImm(t: InsnTable, i: number): number {
  return t.w[i * TW + W_IMM]!;
}
export function setImm(t: InsnTable, i: number, imm: number): void {
  t.w[i * TW + W_IMM] = imm;
}

/** The W_OPS word. */
function ops(code: number, dst: number, src: number, emit: number): number {
  return code | (dst << 8) | (src << 12) | (emit << 16);
}

/** Facts about the whole program, gathered in the same loop that builds the table, so that a program
 *  with a single function needs no further scan before the passes. */
export interface TableFacts {
  /** bpf-to-bpf calls (src_reg 1): none means a single function. */
  pseudoCalls: number;
  tailCalls: number;
  /** Callee-saved registers mentioned anywhere (functions.ts calleeBits). */
  calleeSaved: number;
  /** Stack depth when r10 is only a load/store base everywhere, else -1 (stack.ts directStep). */
  directDepth: number;
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

/** emitClass of every opcode. */
const EMIT_CLASS = Uint8Array.from({ length: 256 }, (_, code) => emitClass(code));

/** BPF_JMP | BPF_TAIL_CALL, the verifier's rewrite of bpf_tail_call(). */
export const TAIL_CALL = Class.JMP | 0xf0;
/** The kernel's xlated dump shows a tail call as `call 12` (bpf_tail_call): same thing. */
const DUMPED_TAIL_CALL_IMM = 12;
const CALL = Class.JMP | JmpOp.CALL;
/** stack.ts directStep as flags per opcode (the same decisions), for the table builder's branch-light loop:
 *  the access base is src (LDX) or dst (ST, STX); a src of r10 needs the data-flow pass; the opcode always does. */
const DIRECT_SRC_BASE = 1;
const DIRECT_DST_BASE = 2;
const DIRECT_SRC_FP_LOST = 4;
const DIRECT_LOST = 8;
const FRAME_POINTER = 10;
const DIRECT_FLAGS = Uint8Array.from({ length: 256 }, (_, code) => {
  const cls = code & 7;
  if (code === TAIL_CALL) return DIRECT_LOST;
  if (cls === Class.LDX) return DIRECT_SRC_BASE;
  if (cls === Class.ST) return DIRECT_DST_BASE;
  if (cls === Class.STX) return DIRECT_DST_BASE | DIRECT_SRC_FP_LOST;
  return code === LD_IMM64 ? 0 : DIRECT_SRC_FP_LOST;
});
/** The access base without a branch on the opcode (random code mispredicts those): the shift that brings the base's
 *  register field of `src << 4 | dst | 0xf00` to the low nibble (0xf, not r10, when there is no base). */
const BASE_SHIFT = Uint8Array.from(DIRECT_FLAGS, (f) => ((f & DIRECT_SRC_BASE) !== 0 ? 4 : (f & DIRECT_DST_BASE) !== 0 ? 0 : 8));

/** -1 when r === FRAME_POINTER, else 0 (for r in 0..15), without a branch. */
function fpMask(r: number): number {
  return ((r ^ FRAME_POINTER) - 1) >> 31;
}

/** imm of a tail call whose kind (direct or indirect) the analysis decides (see analyze.ts). */
export const TAIL_CALL_UNDECIDED = -12;

/**
 * Accepts the kernel's raw xlated dump besides the resolved form: a tail call dumped as `call 12`, and
 * a bpf-to-bpf call dumped with off = relative offset, imm = subprogram index (resolved: imm = offset).
 */
function normaliseDump(t: InsnTable, i: number): void {
  const w = t.w;
  const b = i * TW;
  const o = w[b + W_OPS]!;
  const src = (o >> 12) & 0xf;
  if (src === 0 && w[b + W_IMM] === DUMPED_TAIL_CALL_IMM) {
    w[b + W_OPS] = (o & ~0xff) | TAIL_CALL;
    w[b + W_IMM] = TAIL_CALL_UNDECIDED;
  } else if (src === 1 && w[b + W_OFF] !== 0) {
    w[b + W_IMM] = w[b + W_OFF]!;
    w[b + W_OFF] = 0;
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

/** Bytes of a table of n instructions (see newTable). */
export function tableBytes(n: number): number {
  return n * TW * 4 + 8;
}

/** A table of n instructions carved out of `mem` (tableBytes(n) bytes; every word is written for every
 *  instruction while the table is built, so its previous contents do not matter). */
function newTable(n: number, mem: ArrayBuffer): InsnTable {
  return { length: n, w: new Int32Array(mem, 0, n * TW), facts: { pseudoCalls: 0, tailCalls: 0, calleeSaved: 0, directDepth: 0 } };
}

/** Calls and tail calls while the table is built (their W_OPS word written, emission class still 0): dump
 *  normalisation and the call counts. Returns the (possibly rewritten) opcode. */
function noteCall(t: InsnTable, i: number): number {
  normaliseDump(t, i);
  const o = t.w[i * TW + W_OPS]!;
  const code = o & 0xff;
  if (code === CALL && ((o >> 12) & 0xf) === 1) t.facts.pseudoCalls++;
  if (code === TAIL_CALL) t.facts.tailCalls++;
  return code;
}

/** Registers mentioned (bit r for r0..r15) to the callee-saved bits of functions.ts calleeBits. */
function calleeSavedOf(regs: number): number {
  return (regs >> 6) & 0xf;
}

export function insnTable(prog: Program, mem?: ArrayBuffer): InsnTable {
  const n = prog.insns.length;
  const t = newTable(n, mem !== undefined && mem.byteLength >= tableBytes(n) ? mem : new ArrayBuffer(tableBytes(n)));
  const w = t.w;
  const insns = prog.insns;
  let depth = 0;
  let lost = 0;
  let regs = 0;
  for (let i = 0, b = 0; i < n; i++, b += TW) {
    const insn: Insn = insns[i]!;
    let c = insn.code;
    const d = insn.dst;
    const sr = insn.src;
    const o = insn.off;
    w[b] = insn.pc;
    w[b + W_OFF] = o;
    w[b + W_IMM] = insn.imm;
    w[b + W_IMM2] = c === LD_IMM64 ? (insn.imm2 ?? 0) : 0;
    if (c === CALL || c === TAIL_CALL) {
      w[b + W_OPS] = ops(c, d, sr, 0);
      c = noteCall(t, i);
    }
    w[b + W_OPS] = ops(c, d, sr, EMIT_CLASS[c]!);
    regs |= (1 << d) | (1 << sr);
    // stack.ts directStep without branches on the opcode.
    const f = DIRECT_FLAGS[c]!;
    const fpDepth = -o & fpMask((((sr << 4) | d | 0xf00) >> BASE_SHIFT[c]!) & 0xf);
    if (fpDepth > depth) depth = fpDepth;
    lost |= (f & DIRECT_LOST) | (f & DIRECT_SRC_FP_LOST & fpMask(sr));
  }
  t.facts.directDepth = lost !== 0 ? -1 : depth;
  t.facts.calleeSaved = calleeSavedOf(regs);
  return t;
}

/**
 * The same table straight from little-endian bytecode, without building Insn objects (the fast path
 * for large programs). Structural problems are reported like `decode` reports them.
 */
export function insnTableFromBytes(bytes: Uint8Array, mem?: ArrayBuffer): { table: InsnTable; slots: number } {
  if (bytes.length % 8 !== 0) {
    throw new BpfError({ byteOffset: bytes.length - (bytes.length % 8), message: `file size ${bytes.length} is not a multiple of 8` });
  }
  const slots = bytes.length / 8;
  let n = 0;
  for (let p = 0; p < slots; p++, n++) if (bytes[p * 8] === LD_IMM64) p++;
  const t = newTable(n, mem !== undefined && mem.byteLength >= tableBytes(n) ? mem : new ArrayBuffer(tableBytes(n)));
  const w = t.w;
  let depth = 0;
  let lost = 0;
  let regs = 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let p = 0, i = 0; p < slots; p++, i++) {
    const b = p * 8;
    const r = i * TW;
    let code = bytes[b]!;
    const regByte = bytes[b + 1]!;
    const d = regByte & 0x0f;
    const sr = regByte >> 4;
    w[r] = p;
    regs |= (1 << d) | (1 << sr);
    const o = view.getInt16(b + 2, true);
    w[r + W_OFF] = o;
    w[r + W_IMM] = view.getInt32(b + 4, true);
    w[r + W_IMM2] = 0;
    if (code === LD_IMM64) {
      if (p + 1 >= slots) throw new BpfError({ insn: p, message: 'truncated ld_imm64: the second slot is missing' });
      if (bytes[b + 8] !== 0 || bytes[b + 9] !== 0 || view.getInt16(b + 10, true) !== 0) {
        throw new BpfError({ insn: p + 1, message: 'second slot of ld_imm64 must have zero opcode, registers and offset' });
      }
      w[r + W_IMM2] = view.getInt32(b + 12, true);
      p++;
    } else if (code === CALL || code === TAIL_CALL) {
      w[r + W_OPS] = ops(code, d, sr, 0);
      code = noteCall(t, i);
    }
    w[r + W_OPS] = ops(code, d, sr, EMIT_CLASS[code]!);
    const f = DIRECT_FLAGS[code]!;
    const fpDepth = -o & fpMask((((sr << 4) | d | 0xf00) >> BASE_SHIFT[code]!) & 0xf);
    if (fpDepth > depth) depth = fpDepth;
    lost |= (f & DIRECT_LOST) | (f & DIRECT_SRC_FP_LOST & fpMask(sr));
  }
  t.facts.directDepth = lost !== 0 ? -1 : depth;
  t.facts.calleeSaved = calleeSavedOf(regs);
  return { table: t, slots };
}

export function newCursor(): Cursor {
  return { pc: 0, code: 0, dst: 0, src: 0, off: 0, imm: 0, imm2: 0 };
}

export function loadCursor(t: InsnTable, i: number, c: Cursor): void {
  const w = t.w;
  const b = i * TW;
  const o = w[b + W_OPS]!;
  c.pc = w[b]!;
  c.code = o & 0xff;
  c.dst = (o >> 8) & 0xf;
  c.src = (o >> 12) & 0xf;
  c.off = w[b + W_OFF]!;
  c.imm = w[b + W_IMM]!;
  c.imm2 = w[b + W_IMM2]!;
}
