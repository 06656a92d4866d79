// ALU64 on arena pointers runs as ALU32, as Linux 6.18's verifier makes it (adjust_reg_min_max_vals: an arena
// operand sets needs_zext; do_misc_fixups emits the ALU32 form). Each case's rule was checked on this host's
// kernel (6.18): the xlated program of the same instructions shows which ones became 32-bit.
import { describe, expect, test } from 'vitest';
import { parse } from '../../src/isa/parse.js';
import { interpret, type InterpOptions } from '../../src/interp/index.js';

const M64 = (1n << 64n) - 1n;
const run = (text: string, opts: InterpOptions = {}): bigint => {
  const res = interpret(parse(text), opts);
  expect(res.fault).toBeUndefined();
  return res.r0;
};
/** r6 = an arena pointer with value v (the cast keeps the low 32 bits). */
const arena = (v: number): string => `r1 = ${v}\nr6 = addr_space_cast(r1, 0, 1)\n`;

describe('ALU64 with an arena-pointer operand is 32-bit', () => {
  test('the fuzzer reproducer: r7 = cast; r7 -= 48 wraps at 2^32', () => {
    // kernel: (14) w7 -= 48
    expect(run(`${arena(0)}r7 = r6\nr7 -= 48\nr0 = r7\nexit`)).toBe(0xffffffd0n);
  });
  test('a 64-bit copy keeps the type; any op (shift, mul) is converted', () => {
    // kernel: w6 <<= 3; w6 += 8; w7 *= w6
    expect(run(`${arena(0x30000000)}r6 <<= 3\nr0 = r6\nexit`)).toBe(0x80000000n);
    expect(run(`${arena(0x40000000)}r7 = 8\nr7 *= r6\nr0 = r7\nexit`)).toBe(0n);
  });
  test('scalar op= arena pointer: converted, and dst becomes an arena pointer', () => {
    // kernel: r7 = 5; w7 += w6; w7 += 8 (also w3 += w6 for r3 = r10)
    expect(run(`${arena(-16)}r7 = 0x20\nr7 += r6\nr0 = r7\nexit`)).toBe(0x10n);
    expect(run(`${arena(-16)}r7 = 0x20\nr7 += r6\nr7 += -32\nr0 = r7\nexit`)).toBe(0xfffffff0n);
    expect(run(`${arena(16)}r3 = r10\nr3 += r6\nr3 -= 32\nr0 = r3\nexit`)).toBe(0xfffffff0n);
    // kernel: w7 = 5; w7 += w6; w7 += 8 — a 32-bit op with an arena source makes dst an arena pointer too
    expect(run(`${arena(16)}w7 = 5\nw7 += w6\nr7 -= 32\nr0 = r7\nexit`)).toBe(0xfffffff5n);
  });
  test('an 8-byte spill keeps the type, through r10 and through a copy of it', () => {
    expect(run(`${arena(16)}*(u64 *)(r10 -8) = r6\nr7 = *(u64 *)(r10 -8)\nr7 -= 32\nr0 = r7\nexit`)).toBe(0xfffffff0n);
    expect(run(`${arena(16)}r3 = r10\nr3 += -16\n*(u64 *)(r3 +0) = r6\nr8 = *(u64 *)(r10 -16)\nr8 -= 32\nr0 = r8\nexit`)).toBe(0xfffffff0n);
  });
  test('a callee gets arena arguments, returns them, and the caller gets its r6-r9 types back', () => {
    const callee = `sub:\nr1 -= 32\nr6 = 0\nr0 = r1\nexit`;
    expect(run(`${arena(16)}r1 = r6\ncall sub\nexit\n${callee}`)).toBe(0xfffffff0n);
    expect(run(`${arena(16)}r1 = r6\ncall sub\nr0 -= 16\nexit\n${callee}`)).toBe(0xffffffe0n);
    expect(run(`${arena(16)}r1 = r6\ncall sub\nr6 -= 32\nr0 = r6\nexit\n${callee}`)).toBe(0xfffffff0n);
  });
  test("a callee's spill into its caller's frame is filled as an arena pointer (kernel: w3 += 8)", () => {
    const text = `r1 = 0\n*(u64 *)(r10 -8) = r1\nr1 = r10\nr1 += -8\ncall sub\nr3 = *(u64 *)(r10 -8)\nr3 -= 32\nr0 = r3\nexit\nsub:\nr2 = 16\nr2 = addr_space_cast(r2, 0, 1)\n*(u64 *)(r1 +0) = r2\nr0 = 0\nexit`;
    expect(run(text)).toBe(0xfffffff0n);
  });
  test('the conversion belongs to the instruction: a later pass with a scalar is 32-bit too', () => {
    const text = `r7 = 0\n${arena(0)}loop:\nr6 -= 1\nr7 += 1\nr0 = r6\nr6 = 0\nif r7 < 2 goto loop\nexit`;
    expect(run(text)).toBe(0xffffffffn); // second pass: scalar 0 - 1, still w6 -= 1
  });
});

describe('what is not an arena pointer stays 64-bit', () => {
  test('plain scalars', () => {
    expect(run('r7 = 0\nr7 -= 48\nr0 = r7\nexit')).toBe(M64 - 47n);
  });
  test('mov32, movsx, neg and bswap give scalars', () => {
    // kernel: w7 = w6; r7 += 8 / r8 = (s32)r6; r8 += 8 / r6 = -r6; r6 += 8 / r6 = bswap64 r6; r6 += 8
    expect(run(`${arena(16)}w7 = w6\nr7 -= 32\nr0 = r7\nexit`)).toBe(M64 - 15n);
    expect(run(`${arena(16)}r7 = (s32)r6\nr7 -= 32\nr0 = r7\nexit`)).toBe(M64 - 15n);
    expect(run(`${arena(16)}r6 = -r6\nr6 -= 16\nr0 = r6\nexit`)).toBe(M64 - 31n);
    expect(run(`${arena(0)}r6 = bswap64 r6\nr6 -= 16\nr0 = r6\nexit`)).toBe(M64 - 15n);
  });
  test("a kfunc's return value (even bpf_arena_alloc_pages') is a scalar", () => {
    // kernel: call bpf_arena_alloc_pages; r0 += 8 stays 64-bit
    const kfuncs = { 257: () => 16n };
    expect(run('call bpf_arena_alloc_pages#257\nr0 -= 32\nexit', { kfuncs })).toBe(M64 - 15n);
    expect(run(`${arena(16)}r0 = r6\ncall bpf_arena_alloc_pages#257\nr0 -= 32\nexit`, { kfuncs })).toBe(M64 - 15n);
  });
  test('a partly overwritten spill slot holds plain data', () => {
    expect(run(`${arena(16)}*(u64 *)(r10 -8) = r6\n*(u32 *)(r10 -8) = 16\nr7 = *(u64 *)(r10 -8)\nr7 -= 32\nr0 = r7\nexit`)).toBe(M64 - 15n);
  });
  test('a spill to memory other than the stack (ctx) is not tracked', () => {
    const text = `r9 = r1\n${arena(16)}*(u64 *)(r9 +0) = r6\nr7 = *(u64 *)(r9 +0)\nr7 -= 32\nr0 = r7\nexit`;
    expect(run(text, { ctx: new Uint8Array(8) })).toBe(M64 - 15n);
  });
  test('a kernel-xlated program already carries the rewrite: nothing is converted', () => {
    const res = interpret(parse(`${arena(0)}r6 -= 48\nr0 = r6\nexit`), { dialect: 'kernel-xlated' });
    expect(res.r0).toBe(M64 - 47n);
  });
});
