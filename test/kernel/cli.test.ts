// The kernel-backed commands: `kernel jit`, `kernel run`, `diff` — their output against the recorded
// corpus, and the "bpf() not permitted" path (forced with BPFJIT_NO_BPF=1, and as an unprivileged user).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { kernelCmd } from '../../src/cli/kernel.js';
import { diffCmd } from '../../src/cli/diff.js';
import { bpfAvailability, compareKernelRecords, type KernelRecord } from '../../src/kernel/index.js';
import { FIXTURE_CORPUS_DIR, REPO_ROOT, fixturePrograms } from '../helpers/corpus.js';

const avail = bpfAvailability();
if (!avail.ok) console.log(`test/kernel/cli: kernel-backed cases SKIPPED, bpf() not permitted here: ${avail.reason}`);

const P0 = join(FIXTURE_CORPUS_DIR, 'kernel-corpus/p00000_s11.bin');

async function capture(run: () => Promise<number> | number): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const l = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const e = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void err.push(a.join(' ')));
  try {
    const code = await run();
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    l.mockRestore();
    e.mockRestore();
  }
}

afterEach(() => {
  delete process.env.BPFJIT_NO_BPF;
});

describe('bpf() not permitted', () => {
  test.each([
    ['kernel', ['jit', P0]],
    ['kernel', ['run', P0, '--json']],
    ['diff', [P0]],
  ])('BPFJIT_NO_BPF=1 %s %s: one line, exit 3', async (cmd, args) => {
    process.env.BPFJIT_NO_BPF = '1';
    const c = cmd === 'kernel' ? kernelCmd : diffCmd;
    const r = await capture(() => c.run(args));
    expect(r.code).toBe(3);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toHaveLength(1);
    expect(r.err).toMatch(/^bpfjit (kernel (jit|run)|diff): bpf\(\) not permitted: disabled by BPFJIT_NO_BPF$/);
  });

  const dist = join(REPO_ROOT, 'dist/cli/main.js');
  const FORM = join(REPO_ROOT, 'test/fixtures/forms/calls.s');
  const ELF = join(REPO_ROOT, 'examples/maps_loop.bpf.o');
  const DATA = join(REPO_ROOT, 'test/conformance/fixtures/unknown-section.data');
  // Every command that needs bpf(), as a user runs it (the real process exit code).
  const COMMANDS: readonly (readonly string[])[] = [
    ['kernel', 'jit', P0],
    ['kernel', 'jit', FORM, '--format', 'txt'],
    ['kernel', 'run', P0, '--json'],
    ['diff', P0],
    ['diff', FORM, '--run'],
    ['diff', ELF, '--prog', 'sum_squares'],
    ['corpus', 'build', join(tmpdir(), 'bpfjit-never-written'), '--seed', '1', '--count', '1'],
    ['conformance', DATA, '--engine', 'kernel'],
  ];
  const label = (args: readonly string[]) => (args[0] === 'kernel' || args[0] === 'corpus' ? `${args[0]} ${args[1]}` : args[0]!);
  const expectOneLine = (r: { status: number | null; stdout: string; stderr: string }, args: readonly string[], reason: string) => {
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toBe(`bpfjit ${label(args)}: bpf() not permitted: ${reason}`);
  };

  const haveDist = existsSync(dist);
  if (!haveDist) console.log('test/kernel/cli: command-line not-permitted cases SKIPPED (needs a built dist/)');
  test.skipIf(!haveDist).each(COMMANDS.map((c) => [c.map((a) => a.replace(`${REPO_ROOT}/`, '')).join(' '), c] as const))('BPFJIT_NO_BPF=1 bpfjit %s: one line, exit 3', (_n, args) => {
    const r = spawnSync(process.execPath, [dist, ...args], { encoding: 'utf8', env: { ...process.env, BPFJIT_NO_BPF: '1' } });
    expectOneLine(r, args, 'disabled by BPFJIT_NO_BPF');
  });

  const canDrop = process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && haveDist;
  if (!canDrop) console.log('test/kernel/cli: unprivileged-user cases SKIPPED (needs root, setpriv and a built dist/)');
  test.skipIf(!canDrop).each(COMMANDS.map((c) => [c.map((a) => a.replace(`${REPO_ROOT}/`, '')).join(' '), c] as const))('as user nobody, bpfjit %s: EPERM in one line, exit 3', (_n, args) => {
    const env = { ...process.env };
    delete env.BPFJIT_NO_BPF;
    const r = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, dist, ...args], { encoding: 'utf8', env });
    expectOneLine(r, args, 'EPERM (needs root or CAP_BPF+CAP_PERFMON)');
  });
  test.skipIf(!canDrop)('as user nobody, corpus check (no bpf() needed) still works', () => {
    const r = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, dist, 'corpus', 'check', join(FIXTURE_CORPUS_DIR, 'kernel-corpus'), '--no-run'], { encoding: 'utf8' });
    expect(r.stdout).toMatch(/^JIT byte parity: (\d+)\/\1 identical, 0 differ/);
    expect(r.status).toBe(0);
  });
});

describe.skipIf(!avail.ok)('with the kernel', () => {
  const progs = fixturePrograms();

  test('kernel jit --format json gives the recorded fields (up to addresses)', async () => {
    for (const p of progs.slice(0, 8)) {
      const r = await capture(() => kernelCmd.run(['jit', join(p.dir, `${p.name}.bin`)]));
      expect(r.code).toBe(0);
      const rec = JSON.parse(r.out) as KernelRecord;
      expect(rec.retval).toBeUndefined();
      expect(compareKernelRecords(p.kernel(), rec, false)).toEqual([]);
    }
  });

  test('kernel jit --format hex prints one field per line', async () => {
    const r = await capture(() => kernelCmd.run(['jit', P0, '--format', 'hex']));
    expect(r.code).toBe(0);
    const rec: Record<string, unknown> = {};
    for (const line of r.out.split('\n')) {
      const m = /^([a-z_0-9]+): (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      rec[m![1]!] = /^[[{]|^null$|^true$/.test(m![2]!) ? JSON.parse(m![2]!) : m![2]!;
    }
    expect(compareKernelRecords(progs[0]!.kernel(), rec as unknown as KernelRecord, false)).toEqual([]);
  });

  test('kernel jit --format txt prints the verifier text (NAME.kernel.txt)', async () => {
    const writes: string[] = [];
    const w = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => (writes.push(String(chunk)), true));
    try {
      expect(await kernelCmd.run(['jit', join(FIXTURE_CORPUS_DIR, 'kernel-corpus/p00001_s11.bin'), '--format', 'txt'])).toBe(0);
    } finally {
      w.mockRestore();
    }
    expect(writes.join('')).toBe(progs.find((p) => p.name === 'p00001_s11')!.kernelText());
  });

  test('kernel run --json gives the recorded result', async () => {
    for (const p of progs.filter((q) => q.sidecar().deterministic !== false).slice(0, 12)) {
      const r = await capture(() => kernelCmd.run(['run', join(p.dir, `${p.name}.bin`), '--json']));
      expect(r.code).toBe(0);
      const k = p.kernel();
      const res = JSON.parse(r.out) as Record<string, unknown>;
      const uvsFixed = (p.sidecar().arena?.map_extra ?? 1) !== 0;
      expect(res.retval).toBe(k.retval);
      if (uvsFixed) {
        expect(res.ctx).toBe(k.ctx_out);
        expect(res.arenaPages).toEqual(k.arena_pages_after);
      }
      expect(res.arenaAllocated).toEqual(k.arena_allocated_after);
      expect(res.fault).toBeNull();
      expect(res).not.toHaveProperty('r0');
    }
  });

  test('bad input is located: truncated bytecode, a prefault page outside the arena, a missing kfunc key', async () => {
    const { writeFileSync, mkdtempSync, readFileSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/bpfjit-kernel-');
    const trunc = join(dir, 'trunc.bin');
    writeFileSync(trunc, Buffer.from('b70000000000000095000000', 'hex'));
    await expect(Promise.resolve(kernelCmd.run(['jit', trunc]))).rejects.toThrow(/byte offset 8: file size 12 is not a multiple of 8/);
    const side = JSON.parse(readFileSync(join(FIXTURE_CORPUS_DIR, 'kernel-corpus/p00000_s11.json'), 'utf8')) as Record<string, unknown>;
    const env1 = join(dir, 'env1.json');
    writeFileSync(env1, JSON.stringify({ ...side, prefault: { '99': '00'.repeat(4096) } }));
    await expect(Promise.resolve(kernelCmd.run(['run', P0, '--env', env1]))).rejects.toThrow(/prefault page 99 is outside the arena \(12 pages\)/);
    const env3 = join(dir, 'env3.json');
    writeFileSync(env3, JSON.stringify({ ...side, arena: { pages: 12, flags: 1 << 17, map_extra: 0 } }));
    await expect(Promise.resolve(kernelCmd.run(['run', P0, '--env', env3]))).rejects.toThrow(/BPF_F_SEGV_ON_FAULT/);
    const env2 = join(dir, 'env2.json');
    writeFileSync(env2, JSON.stringify({ ...side, kfuncs: { '0x101': 'bpf_arena_alloc_pages' } }));
    await expect(Promise.resolve(kernelCmd.run(['jit', P0, '--env', env2]))).rejects.toThrow(/^insn \d+: kfunc call key 0x102 is not in the environment's kfuncs table$/);
  });

  test('a program the verifier refuses: exit 1 with the verifier message', async () => {
    const { writeFileSync, mkdtempSync } = await import('node:fs');
    const dir = mkdtempSync('/tmp/bpfjit-kernel-');
    const bad = join(dir, 'bad.bin');
    writeFileSync(bad, Buffer.from('9500000000000000', 'hex')); // exit with r0 never written
    const r = await capture(() => kernelCmd.run(['jit', bad]));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/refused the program \(EACCES\)/);
    expect(r.err).toMatch(/R0 !read_ok/);
  });

  test('diff --run: the kernel\'s run equals bpfjit\'s image on the emulator', async () => {
    for (const p of progs.filter((q) => q.sidecar().deterministic !== false).slice(0, 10)) {
      const r = await capture(() => diffCmd.run([join(p.dir, `${p.name}.bin`), '--run']));
      expect(r.code, `${p.id}\n${r.out}\n${r.err}`).toBe(0);
      expect(r.out).toMatch(/^results equal \(retval \d+, ctx, arena pages\)\nidentical \(\d+ bytes\)$/);
    }
  });

  test('diff: bpfjit is byte-identical to this kernel on the fixtures', async () => {
    for (const p of progs) {
      const r = await capture(() => diffCmd.run([join(p.dir, `${p.name}.bin`)]));
      expect(r.code, `${p.id}\n${r.out}\n${r.err}`).toBe(0);
      expect(r.out).toMatch(/^identical \(\d+ bytes\)$/);
    }
  });
});
