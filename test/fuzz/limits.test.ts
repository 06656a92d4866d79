// Limits that protect the host: program size, arena size, run time and instruction budgets, and the parsers'
// handling of values a hostile file can carry. Each must end in a clear BpfError or a located fault.
import { describe, expect, test } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { decode, decodeHex, MAX_PROGRAM_SLOTS } from '../../src/isa/codec.js';
import { parseEnv } from '../../src/env.js';
import { arenaFromSpec } from '../../src/arena/index.js';
import { interpret } from '../../src/interp/index.js';
import { makeProgram } from '../../src/isa/insn.js';
import { AluOp, Class, JmpOp, Src } from '../../src/isa/opcodes.js';
import { EmuPath } from '../../src/fuzz/index.js';

function program(slots: number): Uint8Array {
  const b = new Uint8Array(slots * 8);
  for (let i = 0; i < slots - 1; i++) b.set([0x07, 0, 0, 0, 1, 0, 0, 0], i * 8); // r0 += 1
  b.set([0x95, 0, 0, 0, 0, 0, 0, 0], (slots - 1) * 8); // exit
  return b;
}

function bpfError(f: () => unknown): BpfError {
  try {
    f();
  } catch (e) {
    if (e instanceof BpfError) return e;
    throw e;
  }
  throw new Error('expected a BpfError');
}

describe('program size', () => {
  test(`decode refuses more than ${MAX_PROGRAM_SLOTS} slots (Linux: E2BIG), at the byte offset of the limit`, () => {
    const e = bpfError(() => decode(program(MAX_PROGRAM_SLOTS + 1)));
    expect(e.diagnostics[0]!.byteOffset).toBe(MAX_PROGRAM_SLOTS * 8);
    expect(e.message).toMatch(/^byte offset 8000000: the program has 1000001 slots, more than the limit of 1000000/);
  });
  test('the limit is an option (lower and higher)', () => {
    expect(decode(program(MAX_PROGRAM_SLOTS + 1), { maxSlots: MAX_PROGRAM_SLOTS + 1 }).slots).toBe(MAX_PROGRAM_SLOTS + 1);
    expect(bpfError(() => decode(program(100), { maxSlots: 99 })).message).toMatch(/^byte offset 792: /);
    expect(bpfError(() => decodeHex('95'.padEnd(32, '0'), { maxSlots: 1 })).message).toMatch(/^byte offset 8: /);
    expect(decode(program(MAX_PROGRAM_SLOTS)).slots).toBe(MAX_PROGRAM_SLOTS);
  });
});

describe('arena size', () => {
  test('at most 4 GiB (2^20 pages), like the kernel', () => {
    arenaFromSpec({ pages: 1 << 20, flags: 0, map_extra: 0n }).dispose();
    expect(() => arenaFromSpec({ pages: (1 << 20) + 1, flags: 0, map_extra: 0n })).toThrow(BpfError);
    expect(() => arenaFromSpec({ pages: 2 ** 32 - 1, flags: 0, map_extra: 0n })).toThrow(/E2BIG/);
  });
});

describe('ENV.json', () => {
  test.each([['1e3'], ['12('], [1.5], ['0x1g']])('map_extra %j is a BpfError, not a SyntaxError/RangeError', (v) => {
    expect(() => parseEnv({ arena: { pages: 1, map_extra: v } })).toThrow(BpfError);
  });
  test('map_extra in decimal, hex and as a number', () => {
    expect(parseEnv({ arena: { pages: 1, map_extra: '0x100000000' } }).arena!.map_extra).toBe(1n << 32n);
    expect(parseEnv({ arena: { pages: 1, map_extra: 4096 } }).arena!.map_extra).toBe(4096n);
  });
});

describe('run limits', () => {
  const forever = makeProgram([
    { code: Class.ALU64 | AluOp.ADD | Src.K, dst: 0, src: 0, off: 0, imm: 1 },
    { code: Class.JMP | JmpOp.JA, dst: 0, src: 0, off: -2, imm: 0 },
  ]);
  test('an endless loop stops at the wall-clock limit on the emulator, with a located limit fault', () => {
    const emu = new EmuPath();
    try {
      const t0 = Date.now();
      const o = emu.run(forever, parseEnv({}), { timeoutMs: 300, maxInsns: 1000 });
      expect(o.fault).toBe('limit');
      expect(o.faultMessage).toMatch(/wall-clock limit of 300 ms reached at insn [01]\b/);
      expect(Date.now() - t0).toBeLessThan(5000);
    } finally {
      emu.close();
    }
  });
  test('and at the instruction budget in the interpreter', () => {
    const r = interpret(forever, { maxInsns: 10_000 });
    expect(r.fault?.message).toMatch(/instruction budget of 10000 exhausted/);
    expect(r.insns).toBe(10_000);
  });
});
