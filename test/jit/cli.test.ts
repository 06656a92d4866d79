// `bpfjit jit`: the single-program form (hex, bin, json to a file) and the batch form, checked
// against the kernel's images of fixture programs.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runBatch, jitCmd } from '../../src/cli/jit.js';
import { UsageError } from '../../src/errors.js';
import { fixturePrograms } from '../helpers/corpus.js';

const dir = mkdtempSync(join(tmpdir(), 'bpfjit-jit-'));
const programs = fixturePrograms();
const withSubprog = programs.find((p) => p.kernel().ksyms.length > 1) ?? programs[0]!;
const arenaProg = programs.find((p) => p.kernel().kern_vm_start !== null) ?? programs[0]!;

function argsOf(p: (typeof programs)[number]): string[] {
  const k = p.kernel();
  const a = ['--image-base', k.ksyms.join(','), '--call-base', k.call_base];
  if (k.kern_vm_start) a.push('--kern-vm-start', k.kern_vm_start);
  if (k.user_vm_start) a.push('--user-vm-start', k.user_vm_start);
  return a;
}

describe('bpfjit jit', () => {
  test('--format bin -o FILE writes exactly the kernel image (with subprograms)', async () => {
    const k = withSubprog.kernel();
    const prog = join(dir, 'p.bin');
    writeFileSync(prog, Buffer.from(k.xlated_resolved, 'hex'));
    const out = join(dir, 'p.img');
    expect(await jitCmd.run([prog, '--dialect', 'kernel-xlated', ...argsOf(withSubprog), '--format', 'bin', '-o', out])).toBe(0);
    expect(readFileSync(out).toString('hex')).toBe(k.jited);
  });

  test('--hex with --format hex and json (arena program)', async () => {
    const k = arenaProg.kernel();
    const hexOut = join(dir, 'a.hex');
    await jitCmd.run(['--hex', k.xlated_resolved, ...argsOf(arenaProg), '--format', 'hex', '-o', hexOut]);
    expect(readFileSync(hexOut, 'utf8')).toBe(`${k.jited}\n`);
    const jsonOut = join(dir, 'a.json');
    await jitCmd.run(['--hex', k.xlated_resolved, ...argsOf(arenaProg), '--format', 'json', '-o', jsonOut]);
    const j = JSON.parse(readFileSync(jsonOut, 'utf8'));
    expect(j.hex).toBe(k.jited);
    expect(j.functions[0].imageBase).toBe(k.ksyms[0]);
    expect(j.functions[0].addrs.length).toBe(j.functions[0].endPc - j.functions[0].firstPc + 1);
    if (k.kern_vm_start) expect(j.functions.some((f: { extable: unknown[] }) => f.extable.length > 0)).toBe(true);
  });

  test('usage errors', async () => {
    await expect(async () => jitCmd.run(['--hex', '9500000000000000', '--format', 'elf'])).rejects.toThrow(UsageError);
    await expect(async () => jitCmd.run([])).rejects.toThrow(UsageError);
    await expect(async () => jitCmd.run(['--hex', '95', '--call-base', 'zz'])).rejects.toThrow(UsageError);
  });
});

describe('bpfjit jit --batch', () => {
  test('one line per job, in order; bad jobs report errors and do not stop the rest', () => {
    const job = (p: (typeof programs)[number], hexNumbers: boolean): string => {
      const k = p.kernel();
      const num = (s: string | null): string | number | null => (s === null ? null : hexNumbers ? s : BigInt(s).toString());
      return JSON.stringify({
        program: k.xlated_resolved,
        dialect: 'kernel-xlated',
        imageBase: k.ksyms.map((s) => num(s)),
        callBase: num(k.call_base),
        kernVmStart: num(k.kern_vm_start),
        userVmStart: num(k.user_vm_start),
      });
    };
    const lines = [
      job(withSubprog, true),
      '{"program": "ff00000000000000"}',
      'not json',
      '',
      job(arenaProg, false),
      '{"program": "9500000000000000", "callBase": "0xg"}',
    ];
    const out = runBatch(lines.join('\n')).trimEnd().split('\n').map((l) => JSON.parse(l));
    expect(out).toHaveLength(5);
    expect(out[0]).toEqual({ hex: withSubprog.kernel().jited });
    expect(out[1].error).toMatch(/^insn 0: /);
    expect(out[2].error).toBe('line 3: invalid JSON');
    expect(out[3]).toEqual({ hex: arenaProg.kernel().jited });
    expect(out[4].error).toContain('callBase');
  });
});
