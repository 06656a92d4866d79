// Every error class of the command line (src/cli) not covered by the CLI tests: usage errors (exit 2) name the
// option or argument; bad-input errors (exit 1) name the file, the JSON field or the line of a batch job.
// Commands are run in-process (their run() throws; main.ts turns that into the exit code).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { BpfError, UsageError } from '../../src/errors.js';
import { COMMANDS } from '../../src/cli/commands.js';

const dir = mkdtempSync(join(tmpdir(), 'bpfjit-errors-'));
const P = join(dir, 'p.bin');
const BAD_JSON = join(dir, 'env.json');
const LOG = join(dir, 'log.txt');
const BATCH = join(dir, 'jobs.jsonl');

beforeAll(() => {
  writeFileSync(P, Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]));
  writeFileSync(BAD_JSON, '{"arena": ');
  writeFileSync(LOG, 'processed 2 insns\n');
  const job = (o: Record<string, unknown>): string => JSON.stringify({ program: 'b7000000000000009500000000000000', ...o });
  writeFileSync(BATCH, ['[1]', '{"x": 1}', job({ callBase: 'zz' }), job({ dialect: 'standard' }), job({ bmi2: 1 }), job({ stackDepth: [600] }), '{'].join('\n'));
});

async function failure(cmd: string, argv: string[]): Promise<Error> {
  const c = await COMMANDS.find((e) => e.name === cmd)!.load();
  try {
    await c.run(argv);
  } catch (e) {
    return e as Error;
  }
  throw new Error(`bpfjit ${cmd} ${argv.join(' ')} did not fail`);
}

type Row = [string, string[], 'usage' | 'input', RegExp];
const ROWS: Row[] = [
  ['run', ['--ctx', 'zz', P], 'usage', /^--ctx: expected hex bytes$/],
  ['run', [P, P], 'usage', /^expected exactly one program$/],
  ['run', [P, '--dialect', 'x'], 'usage', /^--dialect: expected standard or kernel-xlated, got 'x'$/],
  ['run', [P, '--env', BAD_JSON], 'input', new RegExp(`^${BAD_JSON}: invalid JSON \\(`)],
  ['run', [P, '--verifier-log', LOG], 'input', new RegExp(`^${LOG}: no 'N: \\(op\\) …' lines of a verifier log$`)],
  ['run', [join(dir, 'missing.bin')], 'input', /^cannot read .*missing\.bin: ENOENT$/],
  ['run', [P, '--kern-vm-start', 'zz'], 'usage', /^--kern-vm-start: expected a number, got 'zz'$/],
  ['run', [P, '--kern-vm-start', '0x10000000000000000'], 'usage', /^--kern-vm-start: 0x10000000000000000 does not fit in 64 bits$/],
  ['run', [P, '--max-prog-insns', 'many'], 'usage', /^--max-prog-insns: expected a number of instruction slots, got 'many'$/],
  ['jit', [P, '--stack-depth', '600'], 'usage', /^--stack-depth: 600 is above the 512-byte BPF stack$/],
  ['jit', [P, '--dialect', 'standard'], 'usage', /^--dialect: the JIT consumes kernel-xlated programs, got 'standard'$/],
  ['jit', [P, '--hex', '95'], 'usage', /^give either PROG or --hex, not both$/],
  ['jit', [], 'usage', /^expected exactly one program \(or --hex HEX, or --batch\)$/],
  ['jit', ['--batch', BATCH, P], 'usage', /^--batch takes no program argument$/],
  ['jit', [P, '--format', 'elf'], 'usage', /^--format must be hex, bin or json, got 'elf'$/],
  ['jit', [P, '--image-base', 'x'], 'usage', /^--image-base/],
  ['jit', [P, '-o', join(dir, 'no-such-dir', 'out.hex')], 'input', /^cannot write .*out\.hex: ENOENT$/],
  ['asm', [P, '--dialect', 'x'], 'usage', /^--dialect must be standard or kernel-xlated, got 'x'$/],
  ['asm', [P, '--syntax', 'x'], 'usage', /^--syntax must be kernel or conformance, got 'x'$/],
  ['asm', [], 'usage', /^expected exactly one input file$/],
  ['disasm', [], 'usage', /^expected exactly one input file$/],
  ['info', [], 'usage', /^expected exactly one object file$/],
  ['diff', [], 'usage', /^missing PROG$/],
  ['diff', [P, P], 'usage', /^unexpected argument '.*p\.bin'$/],
  ['kernel', ['load', P], 'usage', /^expected 'kernel jit PROG' or 'kernel run PROG', got 'load'$/],
  ['kernel', ['jit'], 'usage', /^kernel jit: missing PROG$/],
  ['kernel', ['run', P, P], 'usage', /^unexpected argument '.*p\.bin'$/],
  ['kernel', ['jit', P, '--format', 'x'], 'usage', /^--format: expected json, hex or txt, got 'x'$/],
  ['kernel', ['jit', P, '--json'], 'usage', /^kernel jit: use --format json$/],
  ['kernel', ['run', P, '--format', 'hex'], 'usage', /^kernel run: use --json$/],
  ['kernel', ['run', P, '--prog', 'f'], 'usage', /^--prog applies to ELF objects only$/],
  ['kernel', ['run', P, '--env', BAD_JSON], 'input', new RegExp(`^${BAD_JSON}: not valid JSON \\(`)],
  ['corpus', ['make', dir], 'usage', /^expected 'corpus build DIR' or 'corpus check DIR', got 'make'$/],
  ['corpus', ['check'], 'usage', /^corpus check: missing DIR$/],
  ['corpus', ['check', dir, dir], 'usage', /^unexpected argument '/],
  ['corpus', ['build', dir], 'usage', /^corpus build: --seed and --count are required$/],
  ['corpus', ['check', join(dir, 'nope')], 'input', /nope: no such directory$/],
  ['conformance', [], 'usage', /^expected one directory or \.data file$/],
  ['conformance', [dir, '--cpu', 'v9'], 'usage', /^--cpu: expected v1\.\.v4, got 'v9'$/],
  ['conformance', [dir, '--groups', 'nope'], 'usage', /^--groups: unknown group 'nope' \(known: /],
  ['conformance', [dir, '--filter', '('], 'usage', /^--filter: /],
  ['conformance-plugin', ['--debug', 'nope'], 'usage', /^--debug: unknown view 'nope' \(known: /],
  ['conformance-plugin', ['00', '01'], 'usage', /^expected at most one argument \(the memory as hex bytes\)$/],
];

describe('command-line errors', () => {
  for (const [cmd, argv, kind, want] of ROWS) {
    it(`${cmd} ${argv.map((a) => a.replace(dir, 'DIR')).join(' ')}`, async () => {
      const e = await failure(cmd, argv);
      expect(e).toBeInstanceOf(kind === 'usage' ? UsageError : BpfError);
      expect(e.message).toMatch(want);
    });
  }
  it('jit --batch: each bad job is answered on its own line, naming the line or the field', async () => {
    const out = join(dir, 'batch.out');
    const c = await COMMANDS.find((e) => e.name === 'jit')!.load();
    await c.run(['--batch', BATCH, '-o', out]);
    const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { error?: string });
    expect(lines.map((l) => l.error)).toEqual([
      'line 1: expected a JSON object',
      'line 2: "program" (hex) is required',
      expect.stringMatching(/"callBase": expected a number or a "0x\.\.\." string, got "zz"$/),
      expect.stringMatching(/"dialect": the JIT consumes kernel-xlated programs, got "standard"$/),
      expect.stringMatching(/"bmi2": expected true or false$/),
      expect.stringMatching(/"stackDepth\[0\]": 600 is above 512$/),
      'line 7: invalid JSON',
    ]);
  });
});
