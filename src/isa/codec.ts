// Binary encoding: little-endian 8-byte slots <-> Insn records, byte-exact both ways.

import { BpfError, type Diagnostic } from '../errors.js';
import { LD_IMM64 } from './opcodes.js';
import type { Insn, Program } from './insn.js';

/** Decodes bytecode. Structural problems (size, truncated or malformed ld_imm64) are all reported together. */
export function decode(bytes: Uint8Array): Program {
  const problems: Diagnostic[] = [];
  if (bytes.length % 8 !== 0) {
    problems.push({
      byteOffset: bytes.length - (bytes.length % 8),
      message: `file size ${bytes.length} is not a multiple of 8 (${bytes.length % 8} trailing bytes)`,
    });
  }
  const slots = Math.floor(bytes.length / 8);
  const view = new DataView(bytes.buffer, bytes.byteOffset, slots * 8);
  const insns: Insn[] = [];
  for (let pc = 0; pc < slots; pc++) {
    const base = pc * 8;
    const code = view.getUint8(base);
    const regs = view.getUint8(base + 1);
    const insn = {
      pc,
      code,
      dst: regs & 0x0f,
      src: regs >> 4,
      off: view.getInt16(base + 2, true),
      imm: view.getInt32(base + 4, true),
    };
    if (code !== LD_IMM64) {
      insns.push(insn);
      continue;
    }
    if (pc + 1 >= slots) {
      problems.push({ insn: pc, message: 'truncated ld_imm64: the second slot is missing' });
      insns.push({ ...insn, imm2: 0 });
      continue;
    }
    const b2 = base + 8;
    if (view.getUint8(b2) !== 0 || view.getUint8(b2 + 1) !== 0 || view.getInt16(b2 + 2, true) !== 0) {
      problems.push({ insn: pc + 1, message: 'second slot of ld_imm64 must have zero opcode, registers and offset' });
    }
    insns.push({ ...insn, imm2: view.getInt32(b2 + 4, true) });
    pc++;
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

export function decodeHex(hex: string): Program {
  const clean = hex.replace(/\s+/g, '');
  if (!/^[0-9a-fA-F]*$/.test(clean) || clean.length % 2 !== 0) {
    const bad = clean.search(/[^0-9a-fA-F]/);
    throw new BpfError({
      byteOffset: bad >= 0 ? Math.floor(bad / 2) : Math.floor(clean.length / 2),
      message: bad >= 0 ? `invalid hex character '${clean[bad]}'` : 'odd number of hex digits',
    });
  }
  return decode(Buffer.from(clean, 'hex'));
}
