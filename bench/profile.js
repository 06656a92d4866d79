// bench — CPU profiles of the hot paths (node --cpu-prof): the JIT at 65 535 and 1 M instructions per workload,
// and the emulator on each loop. `node bench/profile.js [--out DIR] [--quick]` writes the .cpuprofile files
// (open them in Chrome DevTools or speedscope) and prints the top functions by self time with their hottest
// source lines. `node bench/profile.js --child jit|emu NAME SIZE REPS` is the profiled child itself.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const HERE = dirname(fileURLToPath(import.meta.url));

async function child(kind, name, size, reps) {
  if (kind === 'jit') {
    const { decode } = await import('../dist/isa/index.js');
    const { jit } = await import('../dist/jit/index.js');
    const { JIT_WORKLOADS } = await import('./programs.js');
    const w = JIT_WORKLOADS.find((x) => x.name === name);
    const prog = decode(w.make(size));
    for (let i = 0; i < reps; i++) jit(prog, w.opts);
  } else {
    const { EMU_WORKLOADS } = await import('./programs.js');
    const { setup } = await import('./emu.js');
    const w = EMU_WORKLOADS.find((x) => x.name === name);
    const s = setup(w.source(size), w.env);
    try {
      for (let i = 0; i < reps; i++) s.engine.run({ ctx: s.ctx, timeoutMs: 120_000 });
    } finally {
      s.close();
    }
  }
}

/** Top functions of the project by self time (% of all non-idle samples), each with its hottest lines. */
export function summarise(profile, top = 12) {
  const samples = new Map();
  for (const id of profile.samples) samples.set(id, (samples.get(id) ?? 0) + 1);
  const self = new Map();
  const lines = new Map();
  let total = 0;
  for (const n of profile.nodes) {
    const c = samples.get(n.id) ?? 0;
    const cf = n.callFrame;
    if (c === 0 || cf.functionName === '(idle)') continue;
    total += c;
    // Only the project's code (dist/, bench/) and the garbage collector; module loading etc. count in the total.
    if (!/\/(dist|bench)\//.test(cf.url) && cf.functionName !== '(garbage collector)') continue;
    const key = `${cf.functionName || '(anonymous)'} ${cf.url.split('/').slice(-2).join('/')}`;
    self.set(key, (self.get(key) ?? 0) + c);
    const l = lines.get(key) ?? new Map();
    for (const t of n.positionTicks ?? []) l.set(t.line, (l.get(t.line) ?? 0) + t.ticks);
    lines.set(key, l);
  }
  return [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, c]) => {
      const hot = [...(lines.get(key) ?? [])].sort((a, b) => b[1] - a[1]).slice(0, 3);
      return `${((100 * c) / total).toFixed(1).padStart(5)}%  ${key}${hot.length ? `  (${hot.map(([ln, t]) => `line ${ln}: ${((100 * t) / c).toFixed(0)}%`).join(', ')})` : ''}`;
    });
}

function main() {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child') return child(argv[1], argv[2], Number(argv[3]), Number(argv[4]));
  const quick = argv.includes('--quick');
  const outAt = argv.indexOf('--out');
  const out = outAt >= 0 ? argv[outAt + 1] : join(tmpdir(), 'bpfjit-profiles');
  mkdirSync(out, { recursive: true });
  const jobs = [
    ...['alu', 'mixed', 'arena'].flatMap((w) => [
      ['jit', w, quick ? 5000 : 65_535, quick ? 3 : 20],
      ['jit', w, quick ? 20_000 : 1_000_000, quick ? 1 : 3],
    ]),
    ['emu', 'mem-loop', quick ? 500 : 50_000, 5],
    ['emu', 'arena-loop', quick ? 500 : 20_000, 5],
    ['emu', 'arena-fault-loop', quick ? 50 : 2_000, 5],
    ['emu', 'helper-loop', quick ? 50 : 5_000, 5],
  ];
  for (const [kind, name, size, reps] of jobs) {
    const dir = join(out, `${kind}-${name}-${size}`);
    rmSync(dir, { recursive: true, force: true });
    const r = spawnSync(process.execPath, ['--cpu-prof', '--cpu-prof-dir', dir, join(HERE, 'profile.js'), '--child', kind, name, String(size), String(reps)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${kind} ${name} ${size}: ${r.stderr}`);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    console.log(`\n== ${kind} ${name} ${size} x${reps}  (${join(dir, file)})`);
    for (const line of summarise(JSON.parse(readFileSync(join(dir, file), 'utf8')))) console.log(line);
  }
}

// Run only as a script (summarise() can be imported).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
