// Acceptance 8: programs the kernel's verifier refuses are refused by the front end (`bpfjit run`, exit 1) with
// the kernel's message: a fetching atomic OR on an arena pointer, and pointer kinds that conflict at a join
// (the error names the instructions where both pointers were made). See the comments in the .s fixtures.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { encode } from '../../src/isa/codec.js';
import { parse } from '../../src/isa/parse.js';
import { avail, fixture, kernelRun, kernelSkipNote, runCli } from './helpers.js';

const atomicOr = fixture('atomic-or');
const joinFx = fixture('join-conflict');

describe('refused by the front end through bpfjit run', () => {
  test('atomic fetch-or on an arena pointer: the kernel message, at insn 6', () => {
    const c = runCli([atomicOr.sPath, '--env', atomicOr.envPath]);
    expect(c.code).toBe(1);
    expect(c.out).toEqual([]);
    expect(c.err).toEqual(['insn 6: BPF_ATOMIC stores into R1 arena is not allowed']);
  });

  test('arena vs stack pointer at a join: the load (insn 11) and both paths (insns 10 and 4)', () => {
    const c = runCli([joinFx.sPath, '--env', joinFx.envPath]);
    expect(c.code).toBe(1);
    expect(c.err).toHaveLength(1);
    expect(c.err[0]).toMatch(/^insn 11: same insn cannot be used with different pointers/);
    expect(c.err[0]).toMatch(/arena pointer \(made at insn 10\)/);
    expect(c.err[0]).toMatch(/stack pointer \(made at insn 4\)/);
  });
});

describe('every fetching and/or/xor form, 64 and 32 bits (the same program, the operation swapped)', () => {
  const dir = mkdtempSync(joinPath(tmpdir(), 'bpfjit-atomic-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const text = readFileSync(atomicOr.sPath, 'utf8');
  for (const op of ['and', 'or', 'xor']) {
    for (const [form, reg] of [['r2 = atomic64_fetch_OP((u64 *)(r1 +0), r2)', 'dw'], ['r2 = atomic_fetch_OP((u32 *)(r1 +0), r2)', 'w']] as const) {
      const line = form.replace('OP', op);
      test(line, () => {
        const s = joinPath(dir, `${op}-${reg}.s`);
        writeFileSync(s, text.replace('r2 = atomic64_fetch_or((u64 *)(r1 +0), r2)', line));
        const c = runCli([s, '--env', atomicOr.envPath]);
        expect(c.code).toBe(1);
        expect(c.err).toEqual(['insn 6: BPF_ATOMIC stores into R1 arena is not allowed']);
        if (avail.ok) expect(() => kernelRun({ ...atomicOr, bin: encode(parse(readFileSync(s, 'utf8'))) })).toThrow('BPF_ATOMIC stores into R1 arena is not allowed');
      });
    }
  }
});

describe.skipIf(!avail.ok)('the running kernel refuses them with the same message', () => {
  test.each([
    ['atomic-or', atomicOr, 'BPF_ATOMIC stores into R1 arena is not allowed'],
    ['join-conflict', joinFx, 'same insn cannot be used with different pointers'],
  ] as const)('%s', (_n, f, msg) => {
    expect(() => kernelRun(f)).toThrow(msg);
  });
});
if (!avail.ok) test.skip(`refusals: kernel comparison ${kernelSkipNote}`, () => {});
