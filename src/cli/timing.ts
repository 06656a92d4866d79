// src/cli — in-process timing for `bpfjit jit --time` and `bpfjit run --repeat N --json`: only the work itself
// is timed (program already decoded, engine already set up), so external tools can compare fairly without
// process start-up, module loading or I/O in the numbers. The benchmarks (bench/) use the same functions.
import type { Program } from '../isa/insn.js';
import { jit, type JitExtraOptions, type JitResultEx } from '../jit/index.js';
import type { Engine, RunOptions, RunResult } from '../emu/index.js';
import { parseIntOption, type OptionValues } from './command.js';

/** Median of a non-empty list (mean of the two middle values for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const nowNs = (): bigint => process.hrtime.bigint();
/** CPU time of the whole process (user + system) in ns: on a loaded machine wall time also counts waiting. */
const cpuNs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) * 1000;
};

export interface JitTiming {
  /** BPF instructions (ld_imm64 counts once) and 8-byte slots. */
  readonly insns: number;
  readonly slots: number;
  /** Image bytes, all functions. */
  readonly bytes: number;
  readonly passes: number;
  readonly repeat: number;
  readonly medianMs: number;
  readonly minMs: number;
  /** Median process CPU time of one call (microsecond resolution). */
  readonly medianCpuMs: number;
  /** insns / median time. */
  readonly insnsPerSec: number;
  readonly bytesPerInsn: number;
}

/**
 * JIT-compiles `prog` `repeat` times and reports the median wall time of one jit() call. The first call
 * (cold: V8 has not optimised the JIT yet) is included; with repeat >= 3 the median discards it.
 */
export function timeJit(prog: Program, opts: JitExtraOptions, repeat: number): JitTiming {
  const times: number[] = [];
  const cpu: number[] = [];
  let result: JitResultEx | null = null;
  for (let i = 0; i < repeat; i++) {
    const c0 = cpuNs();
    const t0 = nowNs();
    result = jit(prog, opts);
    times.push(Number(nowNs() - t0) / 1e6);
    cpu.push((cpuNs() - c0) / 1e6);
  }
  const r = result!;
  const bytes = r.functions.reduce((n, f) => n + f.image.length, 0);
  const medianMs = median(times);
  const insns = prog.insns.length;
  return {
    insns,
    slots: prog.slots,
    bytes,
    passes: r.passes,
    repeat,
    medianMs,
    minMs: Math.min(...times),
    medianCpuMs: median(cpu),
    insnsPerSec: medianMs > 0 ? insns / (medianMs / 1e3) : 0,
    bytesPerInsn: insns > 0 ? bytes / insns : 0,
  };
}

/**
 * Counts the BPF instructions one run executes, with the engine's trace mode (a hook on every x86
 * instruction reports each BPF instruction whose code starts there; instructions the JIT emits no code
 * for are not counted). Slow — a JS callback per x86 instruction, about 10^5 BPF instructions per second —
 * so a run of more than about a million BPF instructions needs a larger --timeout; null when the counting run
 * faults or hits the limit.
 */
export function countBpfInsns(engine: Engine, opts: RunOptions): number | null {
  let n = 0;
  const r = engine.run({ ...opts, trace: () => void n++ });
  return r.fault ? null : n;
}

export interface RunTiming {
  /** Median wall time of one engine.run() call (register/stack/context set-up, emulation, result). */
  readonly medianNsPerRun: number;
  readonly minNsPerRun: number;
  /** Median process CPU time of one run (microsecond resolution: meaningful for runs of a millisecond or more). */
  readonly medianCpuNsPerRun: number;
  /** Median of the engine's own emulation time (RunResult.timeNs: the uc_emu_start loop only). */
  readonly medianEmuNs: number;
  readonly runs: number;
  /** BPF instructions one run executes (trace-mode count), or null when it could not be counted. */
  readonly bpfInsns: number | null;
  readonly bpfInsnsPerSec: number | null;
  /** Why bpfInsns is null. */
  readonly bpfInsnsNote?: string;
}

/**
 * Times `repeat` runs of the loaded program on an engine that is already set up; one untimed counting run
 * (see countBpfInsns) and one untimed warm-up run (translation of the code) come first.
 */
export function timeRuns(engine: Engine, opts: RunOptions, repeat: number, bpfInsns?: number | null): RunTiming {
  const base: RunOptions = { ...opts, trace: undefined };
  const count = bpfInsns === undefined ? countBpfInsns(engine, base) : bpfInsns;
  let r: RunResult = engine.run(base);
  const wall: number[] = [];
  const emu: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < repeat && !r.fault; i++) {
    const c0 = cpuNs();
    const t0 = nowNs();
    r = engine.run(base);
    wall.push(Number(nowNs() - t0));
    cpu.push(cpuNs() - c0);
    emu.push(r.timeNs);
  }
  if (wall.length === 0) {
    wall.push(r.timeNs);
    emu.push(r.timeNs);
    cpu.push(r.timeNs);
  }
  const med = median(wall);
  return {
    medianNsPerRun: med,
    minNsPerRun: Math.min(...wall),
    medianCpuNsPerRun: median(cpu),
    medianEmuNs: median(emu),
    runs: wall.length,
    bpfInsns: count,
    bpfInsnsPerSec: count === null || med <= 0 ? null : count / (med / 1e9),
    ...(count === null ? { bpfInsnsNote: 'the trace-mode counting run faulted or hit the time limit (try a larger --timeout)' } : {}),
  };
}

/** `--repeat N` of `bpfjit jit --time` (default 5). */
export function repeatOption(value: OptionValues[string], fallback: number): number {
  return typeof value === 'string' ? parseIntOption('repeat', value, 1, 1_000_000) : fallback;
}

/** `bpfjit jit --time [--repeat N]`: one JSON line {insns, bytes, passes, medianMs, insnsPerSec, ...}. */
export function jitTimingJson(prog: Program, opts: JitExtraOptions, repeat: OptionValues[string]): string {
  return `${JSON.stringify(timeJit(prog, opts, repeatOption(repeat, 5)))}\n`;
}

/** `bpfjit run --repeat N --json`: the timing fields added to the result (none unless both are given). */
export function runTimingFields(engine: Engine, opts: RunOptions, repeat: number, json: boolean, faulted: boolean): Partial<RunTiming> {
  if (!json || repeat <= 1 || faulted) return {};
  return timeRuns(engine, opts, repeat);
}

/** `bpfjit run --repeat N --batch --json`: runs completed, time per run of the batched call, BPF instructions/s. */
export function batchTimingFields(engine: Engine, opts: RunOptions, r: RunResult): { runs: number; batchedNsPerRun: number | null; bpfInsnsPerSec: number | null } {
  const perRun = r.runs > 0 ? r.timeNs / r.runs : null;
  const count = r.fault || perRun === null ? null : countBpfInsns(engine, opts);
  return { runs: r.runs, batchedNsPerRun: perRun, bpfInsnsPerSec: count === null || perRun === null || perRun <= 0 ? null : count / (perRun / 1e9) };
}
