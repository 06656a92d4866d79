// bench — the performance targets and the measured anchors they are set against (ubpf and Unicorn on the
// reference machine), evaluated from a results object.

export const UBPF = {
  jitInsnsPerSec: 10.4e6, // ubpf JIT on a 65 535-instruction program
  jitBytesPerInsn: 7.85,
  interpInsnsPerSec: 237e6,
  interpNsPerCall: 28,
  nativeInsnsPerSec: 6.4e9,
  unicornX86InsnsPerSec: 1.95e9, // no per-instruction hook
  unicornEmuStartUs: 5, // one uc_emu_start on a tiny program
};

const near = (rows, slots) => rows.filter((r) => r.slots === slots);

/** [{id, target, measured, met, note}] */
export function evaluateTargets(res) {
  const t = [];
  const at65k = near(res.jit, 65_535);
  if (at65k.length > 0) {
    const worst = at65k.reduce((a, b) => (a.effInsnsPerSec < b.effInsnsPerSec ? a : b));
    t.push({
      id: 'jit-65k',
      target: 'JIT >= 10 M BPF insns/s at 65 k',
      measured: `${(worst.effInsnsPerSec / 1e6).toFixed(2)} M/s (slowest: ${worst.workload}); ${at65k.map((r) => `${r.workload} ${(r.effInsnsPerSec / 1e6).toFixed(2)}`).join(', ')}`,
      met: worst.effInsnsPerSec >= 10e6,
      factor: worst.effInsnsPerSec / 10e6,
    });
  }
  const big = near(res.jit, 1_000_000);
  if (big.length > 0) {
    // Linear: the time per instruction at 1 M is within 1.5x of that at 100 k (and 65 k).
    const ratios = big.map((r) => {
      const ref = res.jit.find((x) => x.workload === r.workload && x.slots === 100_000) ?? r;
      return { workload: r.workload, ratio: r.effMs / r.insns / (ref.effMs / ref.insns) };
    });
    const worst = Math.max(...ratios.map((r) => r.ratio));
    t.push({
      id: 'jit-linear',
      target: 'JIT time linear up to 1 M (time per insn at 1 M within 1.5x of 100 k)',
      measured: ratios.map((r) => `${r.workload} x${r.ratio.toFixed(2)}`).join(', '),
      met: worst <= 1.5,
      factor: worst,
    });
  }
  const mem = res.memory.filter((r) => r.slots === 1_000_000);
  if (mem.length > 0) {
    const worst = Math.max(...mem.map((r) => r.jitPeakBytesPerInsn));
    const proc = Math.max(...mem.map((r) => r.processPeakBytesPerInsn));
    t.push({
      id: 'jit-memory',
      target: 'peak memory <= 300 B per BPF insn at 1 M',
      measured: `JIT's own peak <= ${worst.toFixed(0)} B/insn; whole process (node + decoded program + JIT) <= ${proc.toFixed(0)} B/insn`,
      met: worst <= 300,
      factor: worst / 300,
    });
  }
  const emu = (name) => res.emu.find((r) => r.name === name);
  const alu = emu('alu-loop');
  if (alu) {
    t.push({
      id: 'emu-alu',
      target: 'emulated ALU loop >= 1 G BPF insns/s',
      measured: `${(alu.effBpfInsnsPerSec / 1e9).toFixed(2)} G/s`,
      met: alu.effBpfInsnsPerSec >= 1e9,
      factor: alu.effBpfInsnsPerSec / 1e9,
    });
  }
  const memLoop = emu('mem-loop');
  if (memLoop) {
    const goal = 4 * UBPF.interpInsnsPerSec;
    t.push({
      id: 'emu-mem',
      target: 'emulated memory loop >= 4x ubpf interpreter (948 M insns/s)',
      measured: `${(memLoop.effBpfInsnsPerSec / 1e6).toFixed(1)} M/s = ${(memLoop.effBpfInsnsPerSec / UBPF.interpInsnsPerSec).toFixed(3)}x ubpf`,
      met: memLoop.effBpfInsnsPerSec >= goal,
      factor: memLoop.effBpfInsnsPerSec / goal,
    });
  }
  if (res.arenaHooks) {
    const h = res.arenaHooks;
    t.push({
      id: 'arena-nofault-cost',
      target: 'arena fault handling adds no cost to non-faulting accesses (<= 5%)',
      measured: `x${h.slowdown.toFixed(2)} with the exception-table hooks (+${h.extraNsPerAccess.toFixed(0)} ns per access)`,
      met: h.slowdown <= 1.05,
      factor: h.slowdown,
    });
  }
  if (res.overhead) {
    const o = res.overhead;
    t.push({
      id: 'batched-overhead',
      target: 'batched per-run overhead <= 1 us',
      measured: `engine.run({ repeat: ${o.batch} }): ${(o.batchedNsPerRun / 1e3).toFixed(3)} us/run (single engine.run(): ${(o.engineRunNs / 1e3).toFixed(2)} us)`,
      met: o.batchedNsPerRun <= 1000,
      factor: o.batchedNsPerRun / 1000,
    });
  }
  if (res.plugin) {
    const fast = res.plugin.find((r) => r.label.includes('launcher'));
    t.push({
      id: 'plugin-300',
      target: 'conformance plugin: 300 tests, one process each, < 60 s',
      measured: `${fast.secondsFor300.toFixed(1)} s (${fast.effMsPerProcess.toFixed(0)} ms per process through plugin-launcher.cjs)`,
      met: fast.secondsFor300 < 60 && fast.wrong === 0,
      factor: fast.secondsFor300 / 60,
    });
  }
  return t;
}
