// Binary encoding: little-endian 8-byte slots <-> Insn records, byte-exact both ways.

import { BpfError, type Diagnostic } from '../errors.js';
import { LD_IMM64 } from './opcodes.js';
import type { Insn, Program } from './insn.js';

/** Linux refuses programs over BPF_COMPLEXITY_LIMIT_INSNS (1 M slots) with E2BIG; decode does too by default. */
export const MAX_PROGRAM_SLOTS = 1_000_000;

export interface DecodeOptions {
  /** Largest program accepted, in 8-byte slots (default MAX_PROGRAM_SLOTS): protects the host's memory. */
  readonly maxSlots?: number;
}

/** Decodes bytecode. Structural problems (size, truncated or malformed ld_imm64) are all reported together. */
export function decode(bytes: Uint8Array, opts: DecodeOptions = {}): Program {
  const max = opts.maxSlots ?? MAX_PROGRAM_SLOTS;
  if (bytes.length > max * 8) {
    throw new BpfError({
      byteOffset: max * 8,
      message: `the program has ${Math.floor(bytes.length / 8)} slots, more than the limit of ${max} (Linux: E2BIG); raise it with --max-prog-insns (decode option maxSlots)`,
    });
  }
  const problems: Diagnostic[] = [];
  if (bytes.length % 8 !== 0) {
    problems.push({
      byteOffset: bytes.length - (bytes.length % 8),
      message: `file size ${bytes.length} is not a multiple of 8 (${bytes.length % 8} trailing bytes)`,
    });
  }
  const slots = Math.floor(bytes.length / 8);
  const b = bytes;
  const insns: Insn[] = [];
  // Every record gets the same property set (imm2 undefined unless ld_imm64): one object shape keeps
  // the JIT's and the validator's property reads monomorphic.
  for (let pc = 0; pc < slots; pc++) {
    const base = pc * 8;
    const code = b[base]!;
    const regs = b[base + 1]!;
    const off = ((b[base + 2]! | (b[base + 3]! << 8)) << 16) >> 16;
    const imm = b[base + 4]! | (b[base + 5]! << 8) | (b[base + 6]! << 16) | (b[base + 7]! << 24);
    let imm2: number | undefined;
    if (code === LD_IMM64) {
      if (pc + 1 >= slots) {
        problems.push({ insn: pc, message: 'truncated ld_imm64: the second slot is missing' });
        imm2 = 0;
      } else {
        const b2 = base + 8;
        if (b[b2] !== 0 || b[b2 + 1] !== 0 || b[b2 + 2] !== 0 || b[b2 + 3] !== 0) {
          problems.push({ insn: pc + 1, message: 'second slot of ld_imm64 must have zero opcode, registers and offset' });
        }
        imm2 = b[b2 + 4]! | (b[b2 + 5]! << 8) | (b[b2 + 6]! << 16) | (b[b2 + 7]! << 24);
      }
    }
    insns.push({ pc, code, dst: regs & 0x0f, src: regs >> 4, off, imm, imm2 });
    if (code === LD_IMM64) pc++;
  }
  if (problems.length > 0) throw new BpfError(problems);
  return { insns, slots };
}

/** Encodes a program back to bytecode. */
export function encode(prog: Program): Uint8Array {
  const out = new Uint8Array(prog.slots * 8);
  const view = new DataView(out.buffer);
  for (const insn of prog.insns) {
    const base = insn.pc * 8;
    view.setUint8(base, insn.code);
    view.setUint8(base + 1, ((insn.src & 0x0f) << 4) | (insn.dst & 0x0f));
    view.setInt16(base + 2, insn.off, true);
    view.setInt32(base + 4, insn.imm, true);
    if (insn.code === LD_IMM64) view.setInt32(base + 12, insn.imm2 ?? 0, true);
  }
  return out;
}

export function decodeHex(hex: string, opts: DecodeOptions = {}): Program {
  const clean = hex.replace(/\s+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2 !== 0) {
    const bad = clean.search(/[^0-9a-fA-F]/);
    throw new BpfError({
      byteOffset: bad >= 0 ? Math.floor(bad / 2) : Math.floor(clean.length / 2),
      message: bad >= 0 ? `invalid hex character '${clean[bad]}'` : 'odd number of hex digits',
    });
  }
  return decode(Buffer.from(clean, 'hex'), opts);
}
