// bench — emulated execution: the same pipeline as `bpfjit run` (front end → JIT → Engine), set up once; runs
// timed with src/cli/timing.ts. Also the per-run overhead (engine.run of a tiny program, a bare uc_emu_start)
// and the Engine's batched mode (RunOptions.repeat: a guest-side driver calls the program N times in one uc_emu_start).
import { parse } from '../dist/isa/index.js';
import { Engine, LAYOUT, compileFor } from '../dist/emu/index.js';
import { parseEnv } from '../dist/env.js';
import { countBpfInsns, median, timeRuns } from '../dist/cli/timing.js';
import { X86 } from '../dist/emu/unicorn.js';

/** Sets up an engine with the program loaded, exactly as `bpfjit run` does (src/emu/pipeline.ts). */
export function setup(lines, env = {}) {
  const engine = new Engine();
  try {
    const runEnv = parseEnv({ arena: null, kfuncs: {}, prefault: {}, ctx: '', ...env });
    const { result, arena } = compileFor(engine, parse(lines.join('\n')), { env: runEnv });
    const ctx = new Uint8Array(Buffer.from(runEnv.ctx, 'hex'));
    return {
      engine,
      result,
      ctx,
      close() {
        engine.close();
        arena?.dispose();
      },
    };
  } catch (e) {
    engine.close();
    throw e;
  }
}

/** BPF instructions one run of `iters` iterations executes, counted in trace mode. */
function traceCount(w, iters) {
  const s = setup(w.source(iters), w.env);
  try {
    return countBpfInsns(s.engine, { ctx: s.ctx });
  } finally {
    s.close();
  }
}

/**
 * One emulated workload: measures the instruction count (fixed + iterations × per-iteration) with trace-mode
 * counts of two short runs — the declared formula is the expectation, a difference (say, the front end
 * rewriting the loop differently) is reported and the measured one used — then times `runs` runs of `iters`.
 */
export function benchWorkload(w, iters, runs, log) {
  const c1 = traceCount(w, 50);
  const c2 = traceCount(w, 100);
  if (c1 === null || c2 === null) throw new Error(`${w.name}: the trace-mode counting run failed`);
  const perIter = (c2 - c1) / 50;
  const fixed = c1 - 50 * perIter;
  if (perIter !== w.perIter || fixed !== w.fixed) {
    log?.(`  ${w.name}: counted ${fixed} + ${perIter}/iteration BPF instructions, the program was written for ${w.fixed} + ${w.perIter}; using the counted ones`);
  }
  const s = setup(w.source(iters), w.env);
  try {
    const bpfInsns = fixed + iters * perIter;
    const t = timeRuns(s.engine, { ctx: s.ctx, timeoutMs: 120_000 }, runs, bpfInsns);
    const last = s.engine.run({ ctx: s.ctx, timeoutMs: 120_000 });
    if (last.fault) throw new Error(`${w.name}: ${last.fault.message}`);
    const faults = last.arenaFaults.length;
    if ((w.faultsPerIter ?? 0) * iters !== faults) throw new Error(`${w.name}: ${faults} arena faults, expected ${(w.faultsPerIter ?? 0) * iters}`);
    // Effective time: the smaller of wall and process CPU time (see jit.js).
    const effNs = Math.min(t.medianNsPerRun, t.medianCpuNsPerRun > 0 ? t.medianCpuNsPerRun : t.medianNsPerRun);
    const row = {
      name: w.name,
      label: w.label,
      iters,
      bpfInsns,
      countedFixed: fixed,
      countedPerIter: perIter,
      runs: t.runs,
      medianNsPerRun: t.medianNsPerRun,
      medianCpuNsPerRun: t.medianCpuNsPerRun,
      effNsPerRun: effNs,
      bpfInsnsPerSec: t.bpfInsnsPerSec,
      effBpfInsnsPerSec: bpfInsns / (effNs / 1e9),
      nsPerBpfInsn: effNs / bpfInsns,
      arenaFaults: faults,
      nsPerFault: null,
    };
    log?.(`  ${w.name}: ${(row.bpfInsnsPerSec / 1e6).toFixed(1)} M BPF insns/s wall, ${(row.effBpfInsnsPerSec / 1e6).toFixed(1)} effective (${(t.medianNsPerRun / 1e6).toFixed(2)} ms/run)`);
    return row;
  } finally {
    s.close();
  }
}

/**
 * Cost of the code hooks the engine puts on every exception-table instruction (they make RIP exact on a
 * fault): the non-faulting arena loop timed with and without them.
 */
export function arenaHookCost(w, iters, runs) {
  const s = setup(w.source(iters), w.env);
  try {
    const opts = { ctx: s.ctx, timeoutMs: 120_000 };
    const bpfInsns = w.fixed + iters * w.perIter;
    const withHooks = timeRuns(s.engine, opts, runs, bpfInsns);
    const loaded = s.engine.program;
    for (const h of loaded.exHooks) s.engine.space.unhook(h);
    s.engine.space.flushCode();
    const without = timeRuns(s.engine, opts, runs, bpfInsns);
    const eff = (t) => Math.min(t.medianNsPerRun, t.medianCpuNsPerRun > 0 ? t.medianCpuNsPerRun : t.medianNsPerRun);
    const a = eff(withHooks);
    const b = eff(without);
    return {
      hooks: loaded.exHooks.length,
      withHooksNs: a,
      withoutHooksNs: b,
      // 10 arena accesses per iteration
      extraNsPerAccess: (a - b) / (iters * 10),
      slowdown: a / b,
    };
  } finally {
    s.close();
  }
}

/**
 * Per-run overhead of the smallest program: engine.run() (what `--repeat` pays), a bare uc_emu_start of the
 * image, and batched: one uc_emu_start of a driver that calls the program `batch` times (what a batched
 * Engine mode would cost per run; the Engine has none yet).
 */
export function overhead(lines, runs, batch) {
  const s = setup(lines);
  try {
    const e = s.engine;
    const single = timeRuns(e, {}, runs, 2);
    // Bare uc_emu_start: registers and the return address set up once by a normal run.
    const uc = e.space.uc;
    const entry = s.result.functions[0].imageBase;
    e.run({});
    const rsp = LAYOUT.stackTop - 64n;
    const bare = [];
    for (let i = 0; i < runs; i++) {
      uc.regWrite(X86.RSP, rsp);
      const t0 = process.hrtime.bigint();
      uc.emuStart(entry, LAYOUT.trampoline, 0, 0);
      bare.push(Number(process.hrtime.bigint() - t0));
    }
    // Batched: engine.run({ repeat }) — the Engine's guest driver calls the program `batch` times in one
    // uc_emu_start. Whole call, wall clock and CPU, divided by the runs.
    const batchedWall = [];
    const batchedCpu = [];
    for (let i = 0; i < Math.max(3, Math.floor(runs / 10)); i++) {
      const c0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r = e.run({ repeat: batch });
      batchedWall.push(Number(process.hrtime.bigint() - t0) / batch);
      const c = process.cpuUsage(c0);
      batchedCpu.push(((c.user + c.system) * 1000) / batch);
      if (r.fault || r.runs !== batch) throw new Error(`batched run: ${r.fault?.message ?? `${r.runs} runs`}`);
    }
    return {
      engineRunNs: single.medianNsPerRun,
      engineEmuNs: single.medianEmuNs,
      bareEmuStartNs: median(bare),
      batchedNsPerRun: Math.min(median(batchedWall), median(batchedCpu)),
      batchedWallNsPerRun: median(batchedWall),
      batch,
    };
  } finally {
    s.close();
  }
}
