// bench — `npm run bench` (after scripts/setup.sh has built dist/): JIT throughput and image size per workload
// and program size, the JIT's peak memory (child processes), emulated execution per workload, the cost of the
// arena exception-table hooks, per-run overhead (single and batched), the CLI's own timing, the
// conformance plugin's start-up; prints a
// table, writes results.json and results.svg. Options: --quick (seconds, for the smoke test), --out DIR.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EMU_WORKLOADS, JIT_WORKLOADS, TINY, straightAlu } from './programs.js';
import { benchBytecode, benchJit } from './jit.js';
import { arenaHookCost, benchWorkload, overhead } from './emu.js';
import { benchPlugin } from './plugin.js';
import { plotSvg } from './svg.js';
import { evaluateTargets, UBPF } from './targets.js';
import { printTables } from './table.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..');
const CLI = join(ROOT, 'dist/cli/main.js');

function usage(msg) {
  console.error(`bench: ${msg}\nusage: node bench/run.js [--quick] [--out DIR] [--skip-memory]`);
  process.exit(2);
}

function parseArgs(argv) {
  const o = { quick: false, out: HERE, memory: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') o.quick = true;
    else if (a === '--skip-memory') o.memory = false;
    else if (a === '--out') {
      if (!argv[i + 1]) usage('--out needs a directory');
      o.out = argv[++i];
    } else usage(`unknown argument '${a}'`);
  }
  return o;
}

function machine() {
  let model = cpus()[0]?.model ?? 'unknown';
  try {
    model = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? model;
  } catch {
    // not Linux: keep os.cpus()' name
  }
  let unicorn = 'unknown';
  try {
    unicorn = execFileSync('dpkg-query', ['-W', '-f=${Version}', 'libunicorn2'], { encoding: 'utf8' });
  } catch {
    // not Debian
  }
  const cores = availableParallelism();
  const load = loadavg().map((v) => Number(v.toFixed(2)));
  return {
    cores,
    cpu: model,
    memGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    node: process.version,
    unicorn,
    loadAvgAtStart: load,
    summary: `${cores} cores, ${model}, node ${process.version}, libunicorn2 ${unicorn}, load ${load[0]} at start`,
  };
}

/** Peak memory of one JIT run in a child process (bench/memory.js). */
function memoryRun(workload, slots) {
  const r = spawnSync(process.execPath, ['--expose-gc', join(HERE, 'memory.js'), workload, String(slots)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`memory.js ${workload} ${slots}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** The CLI's own timing (`bpfjit jit --time`, `bpfjit run --repeat N --json`) on generated programs. */
function cliRuns(quick) {
  const dir = mkdtempSync(join(tmpdir(), 'bpfjit-bench-'));
  try {
    const slots = quick ? 1000 : 65535;
    const prog = join(dir, `alu-${slots}.bin`);
    writeFileSync(prog, straightAlu(slots));
    const jitOut = execFileSync(process.execPath, [CLI, 'jit', prog, '--time', '--repeat', quick ? '3' : '9'], { encoding: 'utf8' });
    const loop = join(dir, 'alu-loop.s');
    const iters = quick ? 1000 : 10_000; // the CLI counts BPF instructions in trace mode (~10^5/s)
    writeFileSync(loop, EMU_WORKLOADS[0].source(iters).join('\n'));
    const runOut = execFileSync(process.execPath, [CLI, 'run', loop, '--repeat', quick ? '3' : '20', '--json'], { encoding: 'utf8' });
    const run = JSON.parse(runOut);
    return {
      jit: { command: `bpfjit jit alu-${slots}.bin --time --repeat ${quick ? 3 : 9}`, ...JSON.parse(jitOut) },
      run: {
        command: `bpfjit run alu-loop.s (${iters} iterations) --repeat ${quick ? 3 : 20} --json`,
        medianNsPerRun: run.medianNsPerRun,
        bpfInsns: run.bpfInsns,
        bpfInsnsPerSec: run.bpfInsnsPerSec,
      },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Iterations per emulated workload (a run of tens to hundreds of milliseconds on the reference machine). */
const EMU_ITERS = { 'alu-loop': 1_000_000, 'mem-loop': 50_000, 'arena-loop': 20_000, 'arena-fault-loop': 2_000, 'helper-loop': 5_000 };

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const log = (s) => console.error(s);
  const t0 = Date.now();
  const m = machine();
  log(`bench: ${m.summary}${opts.quick ? ' (quick mode)' : ''}`);

  log('JIT throughput:');
  const sizes = opts.quick ? [1000, 10_000] : [1000, 10_000, 65_535, 100_000, 1_000_000];
  const jit = benchJit(JIT_WORKLOADS, sizes, opts.quick, log);

  log('JIT from decoded Insn objects vs straight from bytecode:');
  const bytecode = benchBytecode(JIT_WORKLOADS, opts.quick ? 10_000 : 1_000_000, opts.quick ? 1 : 3, log);

  const memory = [];
  if (opts.memory) {
    log('JIT peak memory (child processes):');
    for (const w of JIT_WORKLOADS) {
      const slots = opts.quick ? 10_000 : 1_000_000;
      if (opts.quick && w.name !== 'alu') continue;
      const r = memoryRun(w.name, slots);
      memory.push(r);
      log(`  ${w.name} ${slots}: JIT peak ${(r.jitPeakBytes / 2 ** 20).toFixed(1)} MiB = ${r.jitPeakBytesPerInsn.toFixed(0)} B/insn (process ${r.processPeakBytesPerInsn.toFixed(0)} B/insn)`);
    }
  }

  log('Emulated execution:');
  const runs = opts.quick ? 2 : 5;
  const emu = EMU_WORKLOADS.map((w) => benchWorkload(w, Math.max(10, Math.floor(EMU_ITERS[w.name] / (opts.quick ? 100 : 1))), runs, log));
  const noFault = emu.find((r) => r.name === 'arena-loop');
  const withFault = emu.find((r) => r.name === 'arena-fault-loop');
  // The faulting variant differs only in where two accesses go: per-iteration time difference / faults.
  withFault.nsPerFault = ((withFault.effNsPerRun / withFault.iters) - (noFault.effNsPerRun / noFault.iters)) / (withFault.arenaFaults / withFault.iters);

  log('Arena exception-table hooks on non-faulting accesses:');
  const arenaW = EMU_WORKLOADS.find((w) => w.name === 'arena-loop');
  const arenaHooks = arenaHookCost(arenaW, Math.max(10, Math.floor(EMU_ITERS['arena-loop'] / (opts.quick ? 100 : 1))), opts.quick ? 2 : 3);
  log(`  ${arenaHooks.hooks} hooks: ${(arenaHooks.withHooksNs / 1e6).toFixed(1)} ms with, ${(arenaHooks.withoutHooksNs / 1e6).toFixed(1)} ms without (${arenaHooks.extraNsPerAccess.toFixed(0)} ns per access)`);

  log('Per-run overhead (tiny program):');
  const over = overhead(TINY, opts.quick ? 200 : 5000, opts.quick ? 1000 : 20_000);
  log(`  engine.run ${(over.engineRunNs / 1e3).toFixed(2)} us, bare uc_emu_start ${(over.bareEmuStartNs / 1e3).toFixed(2)} us, batched ${(over.batchedNsPerRun / 1e3).toFixed(3)} us/run`);

  log('CLI timing:');
  const cli = cliRuns(opts.quick);
  log(`  ${cli.jit.command}: ${(cli.jit.insnsPerSec / 1e6).toFixed(2)} M insns/s; ${cli.run.command}: ${((cli.run.bpfInsnsPerSec ?? 0) / 1e6).toFixed(0)} M BPF insns/s`);

  log('Conformance plugin start-up (one process per test, as the suite runs it):');
  const plugin = await benchPlugin(ROOT, opts.quick, log);

  let commit = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    // not a git checkout
  }
  const results = {
    date: new Date().toISOString(),
    commit,
    quick: opts.quick,
    machine: m,
    anchors: UBPF,
    jit,
    bytecode,
    memory,
    emu,
    arenaHooks,
    overhead: over,
    cli,
    plugin,
    seconds: (Date.now() - t0) / 1000,
  };
  results.targets = evaluateTargets(results);
  mkdirSync(opts.out, { recursive: true });
  const json = join(opts.out, 'results.json');
  writeFileSync(`${json}.tmp`, `${JSON.stringify(results, null, 1)}\n`);
  renameSync(`${json}.tmp`, json);
  const svg = join(opts.out, 'results.svg');
  writeFileSync(`${svg}.tmp`, plotSvg(results));
  renameSync(`${svg}.tmp`, svg);
  console.log(printTables(results));
  log(`bench: wrote ${json} and ${svg} in ${results.seconds.toFixed(0)} s`);
}

main().catch((e) => {
  console.error(`bench: ${e instanceof Error ? e.stack : String(e)}`);
  process.exit(1);
});
