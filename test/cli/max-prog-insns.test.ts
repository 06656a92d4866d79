// --max-prog-insns: the program-size limit (default 1 000 000 slots, Linux's E2BIG) of every command that reads
// programs, for every input format; a larger program is refused with the byte offset (bytecode) or slot
// (text) of the limit, a smaller limit refuses earlier, a larger one lets the program through.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { MAX_PROGRAM_SLOTS } from '../../src/isa/codec.js';
import { ensureBuilt, runCliAsync } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'bpfjit-maxprog-'));

/** `slots - 1` times r0 += 1, then exit. */
function bytecode(slots: number): Uint8Array {
  const b = new Uint8Array(slots * 8);
  for (let i = 0; i < slots - 1; i++) b.set([0x07, 0, 0, 0, 1, 0, 0, 0], i * 8);
  b.set([0x95, 0, 0, 0, 0, 0, 0, 0], (slots - 1) * 8);
  return b;
}

const BIN = join(dir, 'p12.bin');
const TEXT = join(dir, 'p12.s');
const BIG = join(dir, 'big.bin');

beforeAll(() => {
  ensureBuilt();
  writeFileSync(BIN, bytecode(12));
  writeFileSync(TEXT, `${'\tr0 += 1\n'.repeat(11)}\texit\n`);
  writeFileSync(BIG, bytecode(MAX_PROGRAM_SLOTS + 1));
});

describe('--max-prog-insns', () => {
  test('run, dump and jit list it in their help', async () => {
    for (const cmd of ['run', 'dump', 'jit']) {
      const r = await runCliAsync([cmd, '--help']);
      expect(r.stdout, cmd).toMatch(/--max-prog-insns N +largest program accepted, in 8-byte instruction slots \(default 1000000/);
    }
  });
  test('run: a lower limit refuses the program at the byte offset of the limit; an equal one runs it', async () => {
    const refused = await runCliAsync(['run', BIN, '--max-prog-insns', '10']);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/byte offset 80: the program has 12 slots, more than the limit of 10 \(Linux: E2BIG\); raise it with --max-prog-insns/);
    const ok = await runCliAsync(['run', BIN, '--max-prog-insns', '12']);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^retval 11 /);
  });
  test('text input is limited too (the slot of the limit)', async () => {
    const r = await runCliAsync(['run', TEXT, '--max-prog-insns', '5']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/insn 5: the program has 12 slots, more than the limit of 5 \(Linux: E2BIG\); raise it with --max-prog-insns/);
    expect((await runCliAsync(['run', TEXT])).status).toBe(0);
  });
  test('dump and jit (file, --hex) apply it', async () => {
    expect((await runCliAsync(['dump', BIN, '--max-prog-insns', '11'])).stderr).toMatch(/byte offset 88: the program has 12 slots/);
    expect((await runCliAsync(['jit', BIN, '--max-prog-insns', '11'])).stderr).toMatch(/byte offset 88: the program has 12 slots/);
    const hex = Buffer.from(bytecode(3)).toString('hex');
    const r = await runCliAsync(['jit', '--hex', hex, '--max-prog-insns', '2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/byte offset 16: the program has 3 slots, more than the limit of 2/);
    expect((await runCliAsync(['jit', '--hex', hex, '--max-prog-insns', '3'])).status).toBe(0);
  });
  test('the default is Linux 1 000 000; the option raises it', async () => {
    const refused = await runCliAsync(['jit', BIG, '--format', 'bin', '-o', join(dir, 'big.img')]);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/byte offset 8000000: the program has 1000001 slots, more than the limit of 1000000/);
    const ok = await runCliAsync(['jit', BIG, '--format', 'bin', '-o', join(dir, 'big.img'), '--max-prog-insns', String(MAX_PROGRAM_SLOTS + 1)]);
    expect(ok.status, ok.stderr).toBe(0);
  }, 60_000);
  test('disasm, asm, kernel and diff apply it too (before any bpf() call)', async () => {
    for (const cmd of ['disasm', 'asm', 'kernel', 'diff']) {
      expect((await runCliAsync([cmd, '--help'])).stdout, cmd).toMatch(/--max-prog-insns N +largest program accepted/);
    }
    expect((await runCliAsync(['disasm', BIN, '--max-prog-insns', '11'])).stderr).toMatch(/byte offset 88: the program has 12 slots, more than the limit of 11/);
    expect((await runCliAsync(['disasm', BIN, '--max-prog-insns', '12'])).status).toBe(0);
    const asm = await runCliAsync(['asm', TEXT, '--max-prog-insns', '5']);
    expect([asm.status, asm.stderr.trim()]).toEqual([1, 'insn 5: the program has 12 slots, more than the limit of 5 (Linux: E2BIG); raise it with --max-prog-insns']);
    expect((await runCliAsync(['asm', TEXT, '--max-prog-insns', '12'])).status).toBe(0);
    for (const cmd of [['kernel', 'jit'], ['diff']]) {
      const r = await runCliAsync([...cmd, BIN, '--max-prog-insns', '11']);
      expect(r.status, cmd.join(' ')).toBe(1);
      expect(r.stderr).toMatch(/byte offset 88: the program has 12 slots, more than the limit of 11/);
    }
  });
  test('a bad value is a usage error (exit 2)', async () => {
    for (const v of ['abc', '0', '-5', String(2 ** 28 + 1)]) {
      const r = await runCliAsync(['run', BIN, `--max-prog-insns=${v}`]);
      expect(r.status, v).toBe(2);
      expect(r.stderr).toMatch(/--max-prog-insns: /);
    }
  });
});
