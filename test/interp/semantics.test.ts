// Edge semantics of the reference interpreter, each expected value derived from RFC 9669 / Linux
// behaviour in the comment next to it.
import { describe, expect, test } from 'vitest';
import { parse } from '../../src/isa/parse.js';
import { makeProgram, type Insn, type Program } from '../../src/isa/insn.js';
import {
  ARENA_MAP_TOKEN,
  Fault,
  SparseArena,
  interpret,
  type HelperFn,
  type InterpOptions,
} from '../../src/interp/index.js';

const asm = (text: string): Program => parse(text, { syntax: 'conformance' });
const run = (text: string, opts: InterpOptions = {}) => interpret(asm(text), opts);
const r0 = (text: string, opts: InterpOptions = {}): bigint => {
  const res = run(text, opts);
  expect(res.fault).toBeUndefined();
  return res.r0;
};
type Raw = Omit<Insn, 'pc'>;
const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Raw => ({ code, dst, src, off, imm });
const EXIT = I(0x95);

describe('division and modulo', () => {
  test('unsigned by zero: div → 0, mod → dst (32-bit: zero-extended)', () => {
    expect(r0('mov %r0, 9\nmov %r1, 0\ndiv %r0, %r1\nexit')).toBe(0n);
    expect(r0('lddw %r0, 0xaaaaaaaa00000009\nmov %r1, 0\nmod %r0, %r1\nexit')).toBe(0xaaaaaaaa00000009n);
    expect(r0('lddw %r0, 0xaaaaaaaa00000009\nmov %r1, 0\nmod32 %r0, %r1\nexit')).toBe(9n);
  });
  test('signed: INT_MIN / -1 = INT_MIN, x % -1 = 0, truncation toward zero', () => {
    expect(r0('lddw %r0, 0x8000000000000000\nsdiv %r0, -1\nexit')).toBe(0x8000000000000000n);
    expect(r0('mov32 %r0, 0x80000000\nsdiv32 %r0, -1\nexit')).toBe(0x80000000n);
    expect(r0('mov %r0, -9\nsmod %r0, -1\nexit')).toBe(0n);
    expect(r0('mov %r0, -9\nsdiv %r0, 4\nexit')).toBe(BigInt.asUintN(64, -2n)); // -2.25 → -2
    expect(r0('mov %r0, -9\nsmod %r0, 4\nexit')).toBe(BigInt.asUintN(64, -1n)); // -9 = 4 * -2 - 1
  });
  test('an offset other than 0/1 on div is refused', () => {
    const res = interpret(makeProgram([I(0xb7, 0, 0, 0, 4), I(0x37, 0, 0, 2, 2), EXIT]));
    expect(res.fault).toEqual({ insn: 1, message: 'invalid offset 2 for div (0 = unsigned, 1 = signed)' });
  });
});

describe('faults are reported, never thrown', () => {
  test('runaway program: instruction budget', () => {
    const res = run('ja -1\nexit', { maxInsns: 1000 });
    expect(res.fault).toEqual({ insn: 0, message: 'instruction budget of 1000 exhausted (runaway program?)' });
    expect(res.insns).toBe(1000);
  });
  test('out-of-bounds load names the address and the region', () => {
    const res = interpret(makeProgram([I(0x61, 0, 1, 4), EXIT]), { mem: new Uint8Array(4) });
    expect(res.fault?.insn).toBe(0);
    expect(res.fault?.message).toBe('invalid 4-byte load at 0x600000000004: just past the end of mem (4 bytes at 0x600000000000)');
  });
  test('a load crossing the end of the stack', () => {
    const res = run('ldxdw %r0, [%r10-4]\nexit');
    expect(res.fault?.message).toMatch(/crosses the end of stack/);
  });
  test('NULL dereference without an arena', () => {
    expect(run('mov %r1, 0\nldxb %r0, [%r1]\nexit').fault?.message).toMatch(/^invalid 1-byte load at 0x0/);
  });
  test('r10 is read-only', () => {
    expect(interpret(makeProgram([I(0xb7, 10, 0, 0, 1), EXIT])).fault).toEqual({ insn: 0, message: 'r10 (frame pointer) is read-only' });
  });
  test('jump into the second slot of lddw', () => {
    const prog = makeProgram([I(0x05, 0, 0, 1), { ...I(0x18), imm2: 0 }, EXIT]);
    expect(interpret(prog).fault).toEqual({ insn: 0, message: 'jump target 2 is the second slot of ld_imm64' });
  });
  test('falling off the end', () => {
    expect(run('mov %r0, 1').fault).toEqual({ insn: 1, message: 'fell off the end of the program (no exit)' });
  });
  test('legacy LD ABS is refused', () => {
    expect(interpret(makeProgram([I(0x20, 0, 0, 0, 0), EXIT])).fault?.message).toBe('legacy packet access (LD ABS/IND) is not supported');
  });
  test('call depth is limited to 8 frames', () => {
    // each function calls the next: 9 frames in all
    const lines = ['call local f1', 'exit'];
    for (let i = 1; i <= 8; i++) lines.push(`f${i}:`, i < 8 ? `call local f${i + 1}` : 'mov %r0, 1', 'exit');
    expect(run(lines.join('\n')).fault?.message).toBe('call depth exceeds 8 frames');
  });
});

describe('calls', () => {
  test('recursion with callee-saved r6 (factorial 5 = 120)', () => {
    const text = 'mov %r1, 5\ncall local fact\nexit\nfact:\nmov %r0, 1\njle %r1, 1, done\nmov %r6, %r1\nsub %r1, 1\ncall local fact\nmul %r0, %r6\ndone:\nexit';
    expect(r0(text)).toBe(120n);
  });
  test('each frame has its own 512-byte stack; r10 is restored on return', () => {
    const text = 'mov %r6, %r10\ncall local f\nsub %r6, %r10\nmov %r0, %r6\nexit\nf:\nstdw [%r10-512], 1\nexit';
    expect(r0(text)).toBe(0n);
  });
  test('helpers get r1..r5 and return r0; unknown helpers fault', () => {
    const seen: bigint[][] = [];
    const helpers: Record<number, HelperFn> = { 7: ({ args }) => (seen.push([...args]), args[0] + args[4]) };
    expect(r0('mov %r1, 10\nmov %r2, 2\nmov %r3, 3\nmov %r4, 4\nmov %r5, 5\ncall 7\nexit', { helpers })).toBe(15n);
    expect(seen).toEqual([[10n, 2n, 3n, 4n, 5n]]);
    expect(run('call 8\nexit', { helpers }).fault).toEqual({ insn: 0, message: 'call to unknown helper function 8' });
  });
  test('callx takes the helper id from dst', () => {
    expect(r0('mov %r2, 7\nmov %r1, 1\ncall %r2\nexit', { helpers: { 7: () => 0x77n } })).toBe(0x77n);
  });
  test('kfuncs by imm (src_reg 2)', () => {
    expect(r0('mov %r1, 4\ncall runtime 0x101\nexit', { kfuncs: { 0x101: ({ args }) => args[0] * 2n } })).toBe(8n);
  });
  test('a helper can stop the program with a Fault', () => {
    const res = run('call 1\nexit', { helpers: { 1: () => { throw new Fault('bad map'); } } });
    expect(res.fault).toEqual({ insn: 0, message: 'bad map' });
  });
});

describe('arena', () => {
  const arena = () => new SparseArena({ pages: 4, userVmStart: 0x7f00_0000_0000n });
  test('missing pages read 0 and drop writes; allocated pages work', () => {
    const a = arena();
    a.ensurePage(1);
    const text = `mov32 %r1, 0x1000
stdw [%r1], 0x55
ldxdw %r2, [%r1]
mov32 %r3, 0x2000
stdw [%r3], 0x66
ldxdw %r4, [%r3]
mov %r0, %r2
lsh %r0, 8
or %r0, %r4
exit`;
    // page 1 (offset 0x1000) present: 0x55; page 2 missing: the store is dropped, the load gives 0
    expect(r0(text, { arena: a })).toBe(0x5500n);
    expect(a.pages.has(2)).toBe(false);
  });
  test('a pointer below the arena (guard) reads 0', () => {
    expect(r0('mov %r1, 0\nlddw %r0, 0x1234\nldxdw %r0, [%r1-8]\nexit', { arena: arena() })).toBe(0n);
  });
  test('atomics on a missing page do nothing, registers included', () => {
    expect(r0('mov32 %r1, 0x3000\nmov %r0, 5\nmov %r2, 9\nlock cmpxchg [%r1], %r2\nlock fetch add [%r1], %r2\nadd %r0, %r2\nexit', { arena: arena() })).toBe(14n);
  });
  test('addr_space_cast: to kernel is a 32-bit move; to user merges the upper half unless NULL', () => {
    const cast = (imm: number): Raw => I(0xbf, 0, 1, 1, imm);
    const prog = (imm: number, v: bigint) =>
      makeProgram([{ ...I(0x18, 1), imm: Number(BigInt.asIntN(32, v & 0xffffffffn)), imm2: Number(BigInt.asIntN(32, v >> 32n)) }, cast(imm), EXIT]);
    expect(interpret(prog(1, 0x7f00_0000_1234n), { arena: arena() }).r0).toBe(0x1234n);
    expect(interpret(prog(0x10000, 0x1234n), { arena: arena() }).r0).toBe(0x7f00_0000_1234n);
    expect(interpret(prog(0x10000, 0x5_0000_0000n), { arena: arena() }).r0).toBe(0n);
    const noConv = new SparseArena({ pages: 1, userVmStart: 0x7f00_0000_0000n, noUserConv: true });
    expect(interpret(prog(0x10000, 0x1234n), { arena: noConv }).r0).toBe(0x1234n);
  });
  test('raw-bytecode placeholders: src 2 = user address + offset, src 1 = the map', () => {
    const a = arena();
    expect(interpret(makeProgram([{ ...I(0x18, 0, 2), imm2: 0x40 }, EXIT]), { arena: a }).r0).toBe(0x7f00_0000_0040n);
    expect(interpret(makeProgram([{ ...I(0x18, 0, 1), imm2: 0 }, EXIT]), { arena: a }).r0).toBe(ARENA_MAP_TOKEN);
  });
  test('kernel-xlated PROBE_MEM32: the register is an arena offset', () => {
    const a = arena();
    a.ensurePage(0)[8] = 0x42;
    const prog = makeProgram([I(0xb7, 1, 0, 0, 0), I(0xb1, 0, 1, 8), EXIT]); // LDX | B | PROBE_MEM32
    expect(interpret(prog, { arena: a, dialect: 'kernel-xlated' }).r0).toBe(0x42n);
    expect(interpret(prog, { arena: a }).fault?.message).toBe('invalid load mode 0xa0');
  });
  test('alloc/free through the kfuncs: best fit, like the kernel range tree', () => {
    const a = arena();
    a.ensurePage(1); // user space touched page 1: free ranges [0] and [2, 3]
    // best fit for one page: the smallest free range that fits → page 0
    expect(a.allocPages(0n, 1, -1, 0n)).toBe(0x7f00_0000_0000n);
    expect(a.allocPages(0n, 1, -1, 0n)).toBe(0x7f00_0000_2000n);
    expect(a.allocPages(0n, 5, -1, 0n)).toBe(0n);
    a.freePages(0x2000n, 1);
    expect(a.pages.has(2)).toBe(false);
  });
});

describe('other forms', () => {
  test('load-acquire and store-release (atomic imm 0x100 / 0x110)', () => {
    const prog = makeProgram([
      I(0xb7, 1, 0, 0, 0x1234),
      I(0xdb, 10, 1, -8, 0x110), // store_release((u64 *)(r10 - 8), r1)
      I(0xdb, 0, 10, -8, 0x100), // r0 = load_acquire((u64 *)(r10 - 8))
      I(0xcb, 2, 10, -8, 0x100), // r2 = load_acquire((u16 *)(r10 - 8)) = 0x1234
      I(0x0f, 0, 2), // r0 += r2
      EXIT,
    ]);
    expect(interpret(prog).r0).toBe(0x2468n);
  });
  test('may_goto falls through while its budget lasts', () => {
    expect(interpret(makeProgram([I(0xb7, 0, 0, 0, 1), I(0xe5, 0, 0, 1), I(0xb7, 0, 0, 0, 2), EXIT])).r0).toBe(2n);
  });
  test('movsx32 and memsx', () => {
    expect(r0('mov %r1, 0x80\nmovsx832 %r0, %r1\nexit')).toBe(0xffffff80n);
    expect(r0('stdw [%r10-8], 0x8000\nldxsh %r0, [%r10-8]\nexit')).toBe(0xffffffffffff8000n);
  });
  test('END: ALU64 swaps, ALU to_le truncates', () => {
    expect(r0('lddw %r0, 0x1122334455667788\nbswap16 %r0\nexit')).toBe(0x8877n);
    expect(r0('lddw %r0, 0x1122334455667788\nle32 %r0\nexit')).toBe(0x55667788n);
  });
  test('the input memory is passed as r1/r2 and copied back', () => {
    const res = run('stb [%r1+1], 0x7f\nmov %r0, %r2\nexit', { mem: new Uint8Array(3) });
    expect(res.r0).toBe(3n);
    expect(Array.from(res.mem!)).toEqual([0, 0x7f, 0]);
  });
  test('trace sees every executed instruction', () => {
    const pcs: number[] = [];
    run('mov %r0, 1\nja +1\nmov %r0, 2\nexit', { trace: (pc) => pcs.push(pc) });
    expect(pcs).toEqual([0, 1, 3]);
  });
});
