// The side-by-side report of `bpfjit diff` (no bpf() needed: a corpus image against an altered copy).
import { describe, expect, test } from 'vitest';
import { functionReport } from '../../src/cli/diff.js';
import { jitOptionsFor } from '../../src/cli/kernel.js';
import { decode } from '../../src/isa/codec.js';
import { jit } from '../../src/jit/index.js';
import type { KernelRecord } from '../../src/kernel/index.js';
import { fixturePrograms } from '../helpers/corpus.js';

describe('diff report', () => {
  const p = fixturePrograms().find((q) => q.name === 'p00000_s11')!;
  const rec = { ...p.kernel(), return_thunk: null, this_cpu_off: null } as unknown as KernelRecord;
  const prog = decode(Buffer.from(rec.xlated_resolved, 'hex'));
  const fn = jit(prog, jitOptionsFor(rec)).functions[0]!;
  const base = BigInt(rec.ksyms[0]!);

  test('equal images: nothing to report', () => {
    expect(fn.image).toEqual(new Uint8Array(Buffer.from(rec.jited, 'hex')));
    expect(functionReport(prog, fn, fn.image, base, 20)).toEqual([]);
  });

  test('one changed byte: that instruction, both sides, the byte in brackets', () => {
    const k = fn.addrs[0]!; // first byte of insn 0's code (r9 = r1: 49 89 ff)
    const img = new Uint8Array(fn.image);
    img[k + 2] = 0xfe; // mov r14, rdi
    const lines = functionReport(prog, fn, img, base, 20);
    expect(lines[0]).toMatch(/^ {2}insn 0: r9 = r1 {3}\(kernel \+0x[0-9a-f]+, bpfjit \+0x[0-9a-f]+\)$/);
    expect(lines[1]).toMatch(/kernel +\| bpfjit/);
    expect(lines[2]).toMatch(/^ {4}4989\[fe\] +mov r14,rdi +\| 4989\[ff\] +mov r15,rdi$/);
    expect(lines).toHaveLength(3);
  });

  test('the prologue is its own block', () => {
    const img = new Uint8Array(fn.image);
    img[11] ^= 0x08; // sub rsp, imm32: the stack size
    const lines = functionReport(prog, fn, img, base, 20);
    expect(lines[0]).toMatch(/^ {2}prologue/);
  });
});
