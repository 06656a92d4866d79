import { describe, expect, test } from 'vitest';
import { decode, encode, decodeHex, imm64, BpfError } from '../../src/index.js';
import { allPrograms, hexToBytes } from '../helpers/corpus.js';

const { source, programs } = allPrograms();

describe(`codec round trip over the corpus (${source}: ${programs.length} programs)`, () => {
  test.each(programs.map((p) => [p.id, p] as const))('%s', (_id, p) => {
    const bin = p.bin();
    expect(Buffer.from(encode(decode(bin))).toString("hex")).toBe(Buffer.from(bin).toString("hex"));
    const xl = hexToBytes(p.kernel().xlated_resolved);
    expect(Buffer.from(encode(decode(xl))).toString("hex")).toBe(p.kernel().xlated_resolved);
  });
});

describe('decode', () => {
  test('ld_imm64 is one instruction over two slots', () => {
    const prog = decodeHex('18010000 78563412 00000000 f0debc9a 95000000 00000000');
    expect(prog.slots).toBe(3);
    expect(prog.insns).toHaveLength(2);
    expect(prog.insns[1]!.pc).toBe(2);
    expect(imm64(prog.insns[0]!)).toBe(0x9abcdef012345678n);
  });
  test('size not a multiple of 8', () => {
    expect(() => decodeHex('95000000000000000000')).toThrow('byte offset 8: file size 10 is not a multiple of 8');
  });
  test('truncated ld_imm64', () => {
    expect(() => decodeHex('b700000000000000 1801000001000000')).toThrow('insn 1: truncated ld_imm64');
  });
  test('several structural errors are listed together', () => {
    try {
      decodeHex('1801000001000000 0100000000000000 1801');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as BpfError).diagnostics.map((d) => d.message)).toHaveLength(2);
    }
  });
});
