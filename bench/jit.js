// bench — JIT throughput: each generated kernel-xlated program is decoded and validated outside the timing, then
// jit() is timed in-process (src/cli/timing.ts: median of N calls).
import { assertValid, decode } from '../dist/isa/index.js';
import { jitBytecode } from '../dist/jit/index.js';
import { median, timeJit } from '../dist/cli/timing.js';

/** Repeats per size: enough for a stable median, few enough to keep the 1 M case short. */
export function repeatsFor(slots, quick) {
  if (quick) return slots <= 10_000 ? 3 : 1;
  if (slots <= 10_000) return 15;
  if (slots <= 100_000) return 7;
  return 3;
}

export function benchJit(workloads, sizes, quick, log) {
  const rows = [];
  for (const w of workloads) {
    // Warm-up (untimed): V8 optimises the JIT's hot functions during the first calls; the table reports the
    // steady state, as a long-running tool or a batch would see it.
    const warm = decode(w.make(quick ? 2000 : 20_000));
    const warmUp = () => {
      for (let i = 0; i < (quick ? 2 : 8); i++) timeJit(warm, w.opts, 1);
    };
    warmUp();
    for (const slots of sizes) {
      const prog = decode(w.make(slots));
      assertValid(prog, 'kernel-xlated');
      if (slots >= 100_000 && globalThis.gc) {
        // A forced full collection also throws away V8's optimised code (measured: about 50 functions of the
        // JIT compiled again over the next three calls, +10 ms CPU on the first call at 65 k): warm up again so
        // that the large sizes are timed in the same steady state as the small ones.
        globalThis.gc();
        warmUp();
      }
      const t = timeJit(prog, w.opts, repeatsFor(slots, quick));
      // The main thread's CPU time is at most both the wall time and the process CPU time: the smaller of the
      // two is the best estimate of the uncontended time on a shared machine.
      const effMs = Math.min(t.medianMs, t.medianCpuMs > 0 ? t.medianCpuMs : t.medianMs);
      const row = { workload: w.name, label: w.label, ...t, effMs, effInsnsPerSec: t.insns / (effMs / 1e3) };
      rows.push(row);
      log?.(`  ${w.name} ${slots}: ${(t.insnsPerSec / 1e6).toFixed(2)} M insns/s wall, ${(row.effInsnsPerSec / 1e6).toFixed(2)} effective, ${t.medianMs.toFixed(1)} ms, ${t.bytesPerInsn.toFixed(2)} B/insn, ${t.passes} passes`);
    }
  }
  return rows;
}

/**
 * jit(prog) against jitBytecode(bytes) (no Insn objects: the table is built straight from the bytes) at one
 * size per workload: how much of the JIT's time is the decoded-program detour.
 */
export function benchBytecode(workloads, slots, reps, log) {
  const cpuMs = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e3;
  };
  return workloads.map((w) => {
    const bytes = w.make(slots);
    const prog = decode(bytes);
    const viaProg = timeJit(prog, w.opts, reps);
    const warm = w.make(20_000); // untimed warm-up of the bytes path (the other path is warm from benchJit)
    for (let i = 0; i < 5; i++) jitBytecode(warm, w.opts);
    const wall = [];
    const cpu = [];
    for (let i = 0; i < reps; i++) {
      const c0 = cpuMs();
      const t0 = performance.now();
      jitBytecode(bytes, w.opts);
      wall.push(performance.now() - t0);
      cpu.push(cpuMs() - c0);
    }
    const eff = (a, b) => Math.min(a, b > 0 ? b : a);
    const row = {
      workload: w.name,
      insns: viaProg.insns,
      progEffMs: eff(viaProg.medianMs, viaProg.medianCpuMs),
      bytecodeEffMs: eff(median(wall), median(cpu)),
    };
    log?.(`  ${w.name} ${slots}: jit(prog) ${row.progEffMs.toFixed(1)} ms, jitBytecode(bytes) ${row.bytecodeEffMs.toFixed(1)} ms`);
    return row;
  });
}
