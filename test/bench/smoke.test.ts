// The benchmark scripts (bench/) in their quick mode: they run, and write well-formed results.json and
// results.svg. No timing thresholds: speed targets are checked by `npm run bench`, not by unit tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/cli.js';
import { REPO_ROOT } from '../helpers/corpus.js';

interface Results {
  quick: boolean;
  machine: { cores: number; cpu: string };
  jit: { workload: string; slots: number; insns: number; bytes: number; medianMs: number; effInsnsPerSec: number; bytesPerInsn: number }[];
  memory: { workload: string; jitPeakBytes: number }[];
  emu: { name: string; bpfInsns: number; countedFixed: number; countedPerIter: number; arenaFaults: number; effBpfInsnsPerSec: number }[];
  arenaHooks: { hooks: number; withHooksNs: number; withoutHooksNs: number };
  overhead: { engineRunNs: number; bareEmuStartNs: number; batchedNsPerRun: number };
  cli: { jit: { insns: number; bytes: number; passes: number; medianMs: number; insnsPerSec: number }; run: { bpfInsns: number; medianNsPerRun: number } };
  targets: { id: string; met: boolean }[];
}

describe('npm run bench (quick mode)', () => {
  let dir = '';
  let run: ReturnType<typeof spawnSync>;
  beforeAll(() => {
    ensureBuilt();
    dir = mkdtempSync(join(tmpdir(), 'bpfjit-bench-test-'));
    run = spawnSync('node', [join(REPO_ROOT, 'bench/run.js'), '--quick', '--out', dir], { encoding: 'utf8', timeout: 110_000 });
  }, 120_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 and prints the tables', () => {
    expect(run.status, String(run.stderr)).toBe(0);
    expect(run.stderr).not.toMatch(/Error/);
    expect(run.stdout).toContain('| workload |');
    expect(run.stdout).toContain('**Targets**');
  });

  it('writes results.json with every section', () => {
    const r = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as Results;
    expect(r.quick).toBe(true);
    expect(r.machine.cores).toBeGreaterThan(0);
    // three JIT workloads at the two quick sizes, each with a real image
    expect(new Set(r.jit.map((x) => `${x.workload}/${x.slots}`))).toEqual(
      new Set(['alu/1000', 'alu/10000', 'mixed/1000', 'mixed/10000', 'arena/1000', 'arena/10000']),
    );
    for (const x of r.jit) {
      expect(x.bytes).toBeGreaterThan(x.insns);
      expect(x.medianMs).toBeGreaterThan(0);
    }
    expect(r.memory.length).toBe(1);
    expect(r.emu.map((x) => x.name)).toEqual(['alu-loop', 'mem-loop', 'arena-loop', 'arena-fault-loop', 'helper-loop']);
    // the faulting variant really faults (2 per iteration), the others do not
    expect(r.emu.find((x) => x.name === 'arena-fault-loop')!.arenaFaults).toBeGreaterThan(0);
    expect(r.emu.find((x) => x.name === 'arena-loop')!.arenaFaults).toBe(0);
    expect(r.arenaHooks.hooks).toBeGreaterThan(0);
    expect(r.overhead.batchedNsPerRun).toBeGreaterThan(0);
    // the CLI's timing output (bpfjit jit --time, bpfjit run --repeat --json)
    expect(r.cli.jit.insns).toBe(1000);
    expect(r.cli.jit.bytes).toBeGreaterThan(1000);
    // `bpfjit run --repeat --json` counts what the bench's trace-mode count of the same loop predicts
    const alu = r.emu.find((x) => x.name === 'alu-loop')!;
    expect(r.cli.run.bpfInsns).toBe(alu.countedFixed + 1000 * alu.countedPerIter);
    expect(alu.countedPerIter).toBeGreaterThan(0);
    expect(r.targets.map((t) => t.id)).toContain('emu-alu');
  });

  it('writes a well-formed SVG plot', () => {
    const svg = readFileSync(join(dir, 'results.svg'), 'utf8');
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toMatch(/<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline /g)?.length).toBe(3); // one scaling line per JIT workload
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
    // balanced elements: every opened <text>/<title> is closed
    for (const tag of ['text', 'title']) {
      expect(svg.split(`<${tag}`).length).toBe(svg.split(`</${tag}>`).length);
    }
  });
});
