// The conformance tests of test/conformance/data (.data format of the bpf_conformance suite) through the
// built-in runner with the interpreter (and the Unicorn pipeline when this build has it), and through
// the plugin protocol (`node dist/cli/main.js conformance-plugin`, one process per test like the suite).
// Also: the runner's rules (sections, skips, groups, CPU versions) on small fixture files.
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import {
  GROUPS,
  bytecodeOf,
  interpEngine,
  listDataFiles,
  loadEngine,
  parseDataFile,
  requirements,
  runDataFile,
  unicornAvailable,
  type ConformanceEngine,
} from '../../src/conformance/index.js';
import { REPO_ROOT } from '../helpers/corpus.js';
import { ensureBuilt } from '../helpers/cli.js';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

const DATA = join(REPO_ROOT, 'test/conformance/data');
const FIXTURES = join(REPO_ROOT, 'test/conformance/fixtures');
const files = listDataFiles(DATA);
const all = { cpu: 'v4', groups: GROUPS } as const;

describe(`conformance data (${files.length} files), interpreter`, () => {
  test.each(files.map((f) => [basename(f), f] as const))('%s', async (_n, f) => {
    const r = await runDataFile(f, interpEngine, all);
    expect(r.reason).toBe('');
    expect(r.outcome).toBe('PASS');
  });
});

describe('conformance data, unicorn pipeline', async () => {
  const available = await unicornAvailable();
  let engine: ConformanceEngine | undefined;
  test.skipIf(!available).each(files.map((f) => [basename(f), f] as const))('%s', async (_n, f) => {
    engine ??= await loadEngine('unicorn');
    const r = await runDataFile(f, engine, all);
    expect(r.reason).toBe('');
    expect(r.outcome).toBe('PASS');
  });
  if (!available) test('skipped: the unicorn engine (src/conformance/unicorn-engine.ts) is not in this build', () => {});
});

/**
 * `bpfjit conformance-plugin` as the suite runs it. Entries: the command line, plugin-main.js (the command
 * alone, unbundled) and plugin-launcher.cjs (the single-file bundle through a V8 code cache: the fast one).
 */
const PLUGIN_ENTRIES = {
  cli: [join(REPO_ROOT, 'dist/cli/main.js'), 'conformance-plugin'],
  main: [join(REPO_ROOT, 'dist/conformance/plugin-main.js')],
  launcher: [join(REPO_ROOT, 'dist/conformance/plugin-launcher.cjs')],
} as const;

function runPluginVia(args: string[], stdin: string, via: keyof typeof PLUGIN_ENTRIES = 'cli'): Promise<{ code: number; stdout: string }> {
  const entry = PLUGIN_ENTRIES[via];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...entry, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout: stdout.trim() === '' ? stderr.trim() : stdout.trim() }));
    child.stdin.end(stdin);
  });
}

const hexBytes = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('  ');

describe('conformance data through the plugin protocol', () => {
  beforeAll(() => ensureBuilt(), 120_000);

  /** Every file, one plugin process each (as the suite runs it), three at a time; returns the failures. */
  async function everyFile(engineArgs: readonly string[], via: keyof typeof PLUGIN_ENTRIES): Promise<string[]> {
    const failures: string[] = [];
    const queue = [...files];
    const worker = async (): Promise<void> => {
      for (let f = queue.shift(); f !== undefined; f = queue.shift()) {
        const parsed = parseDataFile(readFileSync(f, 'utf8'), basename(f));
        if (parsed.kind !== 'test') continue;
        const t = parsed.test;
        const code = await bytecodeOf(t);
        const args = [...(t.mem.length > 0 ? [hexBytes(t.mem)] : []), ...engineArgs];
        const out = await runPluginVia(args, `${hexBytes(code)}\n`, via);
        if (out.code !== 0) {
          if (out.stdout !== t.error) failures.push(`${t.name}: exit ${out.code}: ${out.stdout}`);
        } else if (BigInt(`0x${out.stdout}`) !== t.result) {
          failures.push(`${t.name}: r0 ${out.stdout}, expected 0x${t.result.toString(16)}`);
        }
      }
    };
    await Promise.all([worker(), worker(), worker()]);
    return failures;
  }

  // The whole pipeline (front end, JIT, Unicorn) through the fast entry the README gives the suite.
  test('every file through the bundled launcher, unicorn engine', async () => {
    expect(await everyFile([], 'launcher')).toEqual([]);
  }, 300_000);

  // The interpreter through the unbundled entry; '--engine interp' as one argument, as some runners pass options.
  test('every file through plugin-main.js, interpreter engine', async () => {
    expect(await everyFile(['--engine interp'], 'main')).toEqual([]);
  }, 300_000);

  // The bundle must carry the lazily loaded parts too (interpreter, ELF reader, usage errors).
  test.each(['cli', 'launcher'] as const)('%s: memory argument, error exit and message', async (via) => {
    const runPluginProcess = (args: string[], stdin: string) => runPluginVia(args, stdin, via);
    const ok = await runPluginProcess(['01 02 03 04'], '61 10 00 00 00 00 00 00 95 00 00 00 00 00 00 00\n');
    expect(ok).toEqual({ code: 0, stdout: '4030201' });
    const oob = await runPluginProcess(['01  02  03  04  ', '--engine', 'interp'], '61 10 04 00 00 00 00 00 95 00 00 00 00 00 00 00\n');
    expect(oob.code).toBe(1);
    expect(oob.stdout).toMatch(/^insn 0: invalid 4-byte load at 0x[0-9a-f]+: /);
    const bad = await runPluginProcess([], 'zz\n');
    expect(bad).toEqual({ code: 1, stdout: "byte offset 0: program: invalid hex character 'z'" });
    const notElf = await runPluginProcess(['--elf'], '95 00 00 00 00 00 00 00\n');
    expect(notElf).toEqual({ code: 1, stdout: 'byte offset 0: not an ELF file: expected magic 7f 45 4c 46' });
    const elf = readFileSync(join(FIXTURES, 'elf-main.o'));
    expect(await runPluginProcess(['--elf', '--engine', 'interp'], `${hexBytes(elf)}\n`)).toEqual({ code: 0, stdout: '2a' });
    expect((await runPluginProcess(['--bogus'], '95 00 00 00 00 00 00 00\n')).code).toBe(2);
  }, 60_000);
});

describe('conformance-plugin --debug', () => {
  test.each(['cli', 'launcher'] as const)('%s: xlated, x86 and trace on stderr; the result alone on stdout', (via) => {
    ensureBuilt();
    const r = spawnSync(process.execPath, [...PLUGIN_ENTRIES[via], '--debug xlated,x86,trace'], {
      input: 'b7 00 00 00 05 00 00 00 07 00 00 00 02 00 00 00 95 00 00 00 00 00 00 00\n',
      encoding: 'utf8',
    });
    expect([r.status, r.stdout]).toEqual([0, '7\n']);
    // The front end's output with the plugin's `r2 = len` first, the listing of the same instructions, and
    // the trace of r0 through the run.
    expect(r.stderr).toContain('; xlated\n0: (b7) r2 = 0\n1: (b7) r0 = 5\n2: (07) r0 += 2\n3: (95) exit\n');
    expect(r.stderr).toMatch(/; x86\n[\s\S]*\b2: r0 \+= 2\n[\s\S]*\b3: exit\n/);
    expect(r.stderr).toContain('; insn 1: r0=0x5\n; insn 2: r0=0x7\n');
    const bad = spawnSync(process.execPath, [...PLUGIN_ENTRIES[via], '--debug', 'nope'], { input: '95 00 00 00 00 00 00 00\n', encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("--debug: unknown view 'nope'");
  });
});

describe('bpfjit conformance (command line)', () => {
  test('one line per test, the summary line, exit 1 on failures', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli/main.js'), 'conformance', FIXTURES, '--engine', 'interp', ...args], { encoding: 'utf8' });
    const a = run('--cpu', 'v3');
    expect(a.stdout.trim().split('\n')).toEqual([
      'PASS error-expected.data',
      'SKIP needs-callx.data: needs group callx (not enabled)',
      'SKIP needs-v4.data: needs CPU version v4 (enabled: v3)',
      'SKIP no-result.data: no result or error in the test file',
      'PASS raw-wins.data',
      "SKIP unknown-section.data: unknown directive '-- map'",
      'FAIL wrong-result.data: r0 = 0x2, expected 0x3',
      '2 passed, 1 failed, 4 skipped',
    ]);
    expect(a.status).toBe(1);
    const b = run('--filter', 'raw|needs-v4');
    expect(b.stdout.trim().split('\n').at(-1)).toBe('2 passed, 0 failed, 0 skipped');
    expect(b.status).toBe(0);
    expect(run('--cpu', 'v9').status).toBe(2);
  }, 60_000);
});

describe('runner rules', () => {
  const run = (name: string, opts: { cpu: 'v1' | 'v2' | 'v3' | 'v4'; groups: readonly (typeof GROUPS)[number][] }) =>
    runDataFile(join(FIXTURES, name), interpEngine, opts);

  test('unknown section skips the file', async () => {
    expect(await run('unknown-section.data', all)).toMatchObject({ outcome: 'SKIP', reason: "unknown directive '-- map'" });
  });
  test('no result and no error skips the file', async () => {
    expect((await run('no-result.data', all)).outcome).toBe('SKIP');
  });
  test('CPU version and groups come from the instructions', async () => {
    expect(await run('needs-v4.data', { cpu: 'v3', groups: GROUPS })).toMatchObject({ outcome: 'SKIP', reason: 'needs CPU version v4 (enabled: v3)' });
    expect(await run('needs-v4.data', { cpu: 'v4', groups: ['base32', 'base64'] })).toMatchObject({ outcome: 'SKIP', reason: 'needs group divmul64 (not enabled)' });
    expect((await run('needs-v4.data', { cpu: 'v4', groups: ['base32', 'base64', 'divmul64'] })).outcome).toBe('PASS');
    expect(await run('needs-callx.data', { cpu: 'v4', groups: ['base32', 'base64'] })).toMatchObject({ outcome: 'SKIP', reason: 'needs group callx (not enabled)' });
  });
  test('a wrong result fails', async () => {
    expect(await run('wrong-result.data', all)).toMatchObject({ outcome: 'FAIL', reason: 'r0 = 0x2, expected 0x3' });
  });
  test('raw overrides asm; decimal results', async () => {
    expect((await run('raw-wins.data', all)).outcome).toBe('PASS');
  });
  test('an expected error must match exactly', async () => {
    expect((await run('error-expected.data', all)).outcome).toBe('PASS');
  });
});

describe('requirements (the suite table)', () => {
  const prog = (...slots: bigint[]): Uint8Array => {
    const b = new Uint8Array(slots.length * 8);
    slots.forEach((s, i) => new DataView(b.buffer).setBigUint64(i * 8, s, true));
    return b;
  };
  const EXIT = 0x95n;
  test('base instructions need v1', () => {
    expect(requirements(prog(0xb7n, EXIT))).toEqual({ cpu: 'v1', groups: ['base32', 'base64'] });
  });
  test('JMP32 needs v3, sdiv (off 1) v4, movsx v4', () => {
    expect(requirements(prog(0x16n, EXIT)).cpu).toBe('v3');
    expect(requirements(prog(0x0001_0034n, EXIT))).toEqual({ cpu: 'v4', groups: ['base32', 'divmul32'] });
    expect(requirements(prog(0x0008_00bfn, EXIT)).cpu).toBe('v4');
  });
  test('atomics by imm; load-acquire (imm 0x100) is not in the table', () => {
    expect(requirements(prog(0x0000_0001_0000_00dbn, EXIT))).toEqual({ cpu: 'v3', groups: ['base32', 'atomic64'] });
    expect(requirements(prog(0x0000_0100_0000_00dbn, EXIT))).toEqual({ cpu: 'v1', groups: ['base32'] });
  });
  test('the second slot of lddw is not looked up', () => {
    // second slot 0x...34 with off=1 would otherwise count as sdiv32
    expect(requirements(prog(0x18n, 0x0001_0034n, EXIT))).toEqual({ cpu: 'v1', groups: ['base32', 'base64'] });
  });
  test('call by src: helper v1, local v3, callx group', () => {
    expect(requirements(prog(0x0000_0001_0000_0085n, EXIT)).cpu).toBe('v1');
    expect(requirements(prog(0x0000_0001_0000_1085n, EXIT)).cpu).toBe('v3');
    expect(requirements(prog(0x8dn, EXIT)).groups).toContain('callx');
  });
});

describe('.data reader', () => {
  test('results: hex anywhere after 0x, else decimal; negative decimals wrap', () => {
    const t = (r: string) => {
      const f = parseDataFile(`-- asm\nexit\n-- result\n${r}\n`, 'x');
      return f.kind === 'test' ? f.test.result : null;
    };
    expect(t('0x2a')).toBe(42n);
    expect(t('42')).toBe(42n);
    expect(t('-1')).toBe(0xffffffffffffffffn);
  });
  test('memory spans lines; asm comments removed', () => {
    const f = parseDataFile('-- mem\n01 02\n 03\n-- asm\nmov %r0, 1 # one\nexit\n-- result\n1\n', 'x');
    expect(f.kind === 'test' && Array.from(f.test.mem)).toEqual([1, 2, 3]);
    expect(f.kind === 'test' && f.test.asm).toBe('mov %r0, 1 \nexit');
  });
});
