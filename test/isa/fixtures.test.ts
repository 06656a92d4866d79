// The printer against text the kernel printed (and the documented extension forms), and the assembler
// reading that text back to the same bytes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decode, encode, parse, printInsn, validate, type Dialect } from '../../src/isa/index.js';
import { REPO_ROOT } from '../helpers/corpus.js';

interface Case {
  bytes: string;
  text: string;
  opts: string[];
}

function load(name: string): Case[] {
  return readFileSync(join(REPO_ROOT, 'test/fixtures/isa', name), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && !l.startsWith('#'))
    .map((l) => {
      const [bytes, text, ...opts] = l.split(' | ');
      return { bytes: bytes!.trim(), text: text!.trim(), opts: opts.map((o) => o.trim()) };
    });
}

const hexBytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

describe('kernel verifier-log text (test/fixtures/isa/kernel-lines.txt)', () => {
  const cases = load('kernel-lines.txt');
  it('has cases for every opcode the kernel printed', () => {
    expect(cases.length).toBeGreaterThan(400);
    const codes = new Set(cases.map((c) => c.bytes.slice(0, 2)));
    // every ALU/JMP/LD/LDX/ST/STX opcode of the standard ISA except callx (0x8d), which Linux does not load
    expect(codes.size).toBeGreaterThanOrEqual(128);
  });
  it.each(cases.map((c) => [c.text, c] as const))('%s', (_t, c) => {
    const prog = decode(hexBytes(c.bytes));
    const insn = prog.insns[0]!;
    const name = c.opts.find((o) => o.startsWith('name='))?.slice(5);
    const text = printInsn(insn, name ? { callName: () => name } : {});
    expect(`(${c.bytes.slice(0, 2)}) ${text}`).toBe(c.text);
    // and back: the kernel's own line (with its "(op) " prefix) assembles to the same bytes
    expect(Buffer.from(encode(parse(`0: ${c.text}`))).toString('hex')).toBe(c.bytes);
  });
});

describe('extension forms (test/fixtures/isa/extension-lines.txt)', () => {
  const cases = load('extension-lines.txt');
  it.each(cases.map((c) => [c.text, c] as const))('%s', (_t, c) => {
    const dialect = c.opts[0] as Dialect;
    const prog = decode(hexBytes(c.bytes));
    expect(printInsn(prog.insns[0]!, { dialect })).toBe(c.text);
    expect(Buffer.from(encode(parse(c.text))).toString('hex')).toBe(c.bytes);
  });
  it('every extension form except the exact-fields one is a valid instruction in its dialect', () => {
    for (const c of cases) {
      if (c.text.startsWith('.insn')) continue;
      const prog = decode(hexBytes(c.bytes));
      const problems = validate({ insns: [...prog.insns, { pc: prog.slots, code: 0x95, dst: 0, src: 0, off: 0, imm: 0 }], slots: prog.slots + 1 }, c.opts[0] as Dialect)
        .filter((d) => !/out of range|leaves its function/.test(d.message));
      expect(problems, c.text).toEqual([]);
    }
  });
});
