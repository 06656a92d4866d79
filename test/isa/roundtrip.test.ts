// print → parse is exact for every encoding, valid or not: random instructions (a fixed-seed generator
// biased towards real opcodes and small fields) all come back byte for byte.
import { describe, expect, it } from 'vitest';
import { encode, parse, printInsn, type Dialect, type Insn } from '../../src/isa/index.js';

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    // xorshift32
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

function randomInsn(next: () => number): Insn {
  const pick = <T,>(xs: readonly T[]): T => xs[next() % xs.length]!;
  const small = () => pick([0, 0, 0, 1, 2, 8, 16, 32, 64, -1, -8, 0x100, 0x110, 0xf1, 0xe1, 0x41, 0x10000, 0x7fff, -32768]);
  const field = (bits: number) => (next() % 4 === 0 ? (next() << (32 - bits)) >> (32 - bits) : small());
  const code = next() % 3 === 0 ? next() & 0xff : pick([0x07, 0x0f, 0x84, 0x87, 0xbc, 0xbf, 0xd4, 0xdc, 0xd7, 0x3f, 0x9c, 0x05, 0x06, 0x15, 0x1e, 0x85, 0x8d, 0x95, 0xe5, 0x18, 0x20, 0x48, 0x61, 0x79, 0x81, 0x91, 0xb9, 0xc1, 0x62, 0xa2, 0xc2, 0x7b, 0xab, 0xc3, 0xdb, 0xe3, 0xfb, 0xd3, 0xcb]);
  const insn: Insn = {
    pc: 0,
    code,
    dst: next() % 4 === 0 ? next() % 16 : next() % 11,
    src: next() % 2 === 0 ? 0 : next() % 4 === 0 ? next() % 16 : next() % 11,
    off: next() % 2 === 0 ? 0 : (field(16) << 16) >> 16,
    imm: next() % 3 === 0 ? 0 : field(32) | 0,
  };
  return code === 0x18 ? { ...insn, imm2: field(32) | 0 } : insn;
}

describe('print then parse gives back every encoding', () => {
  for (const dialect of ['standard', 'kernel-xlated'] as Dialect[]) {
    it(`40000 random instructions (${dialect} printing)`, () => {
      const next = rng(dialect === 'standard' ? 12345 : 777);
      let readable = 0;
      for (let i = 0; i < 40000; i++) {
        const insn = randomInsn(next);
        const text = printInsn(insn, { dialect });
        if (!text.startsWith('.insn')) readable++;
        const want = Buffer.from(encode({ insns: [insn], slots: insn.code === 0x18 ? 2 : 1 })).toString('hex');
        let got: string;
        try {
          got = Buffer.from(encode(parse(text))).toString('hex');
        } catch (e) {
          throw new Error(`${want}: '${text}' does not parse: ${(e as Error).message}`);
        }
        if (got !== want) expect(`${text} -> ${got}`).toBe(`${text} -> ${want}`);
      }
      // the generator must exercise the readable forms, not only the exact-fields fallback
      expect(readable).toBeGreaterThan(8000);
    });
  }
});
