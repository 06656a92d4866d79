// bench — the printed report: Markdown tables (pasted as-is into the README's Performance section).

const m = (v, d = 2) => (v === null || v === undefined ? '–' : (v / 1e6).toFixed(d));
const fixed = (v, d) => (v === null || v === undefined ? '–' : v.toFixed(d));

function table(head, rows) {
  const out = [`| ${head.join(' | ')} |`, `| ${head.map((h, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`];
  for (const r of rows) out.push(`| ${r.join(' | ')} |`);
  return out.join('\n');
}

export function printTables(res) {
  const parts = [];
  parts.push(`Machine: ${res.machine.summary}; commit ${res.commit ?? '?'}, ${res.date.slice(0, 16)}Z${res.quick ? ' — QUICK MODE (not representative)' : ''}`);
  parts.push('Effective = the smaller of the wall-clock and the process CPU-time medians (on a shared machine wall time also counts waiting for a core); targets are judged on it.');
  parts.push(
    '**JIT** (in-process, program decoded, median of N `jit()` calls)\n\n' +
      table(
        ['workload', 'insns', 'median ms (wall)', 'median ms (CPU)', 'M insns/s (wall)', 'M insns/s (effective)', 'image B/insn', 'passes'],
        res.jit.map((r) => [r.workload, String(r.insns), fixed(r.medianMs, 2), fixed(r.medianCpuMs, 2), m(r.insnsPerSec), m(r.effInsnsPerSec), fixed(r.bytesPerInsn, 2), String(r.passes)]),
      ),
  );
  if (res.bytecode?.length > 0) {
    parts.push(
      '**jit(prog) vs jitBytecode(bytes)** (effective ms; the latter builds the table from the bytes, no `Insn` objects)\n\n' +
        table(
          ['workload', 'insns', 'jit(prog) ms', 'jitBytecode ms', 'M insns/s from bytes'],
          res.bytecode.map((r) => [r.workload, String(r.insns), fixed(r.progEffMs, 1), fixed(r.bytecodeEffMs, 1), fixed(r.insns / r.bytecodeEffMs / 1e3, 2)]),
        ),
    );
  }
  if (res.memory.length > 0) {
    parts.push(
      '**JIT peak memory** (child process; RSS above the RSS before `jit()`)\n\n' +
        table(
          ['workload', 'insns', 'JIT peak MiB', 'JIT B/insn', 'process peak B/insn'],
          res.memory.map((r) => [r.workload, String(r.insns), fixed(r.jitPeakBytes / 2 ** 20, 1), fixed(r.jitPeakBytesPerInsn, 0), fixed(r.processPeakBytesPerInsn, 0)]),
        ),
    );
  }
  parts.push(
    '**Emulated execution** (`bpfjit run` pipeline, engine set up once, median of N runs)\n\n' +
      table(
        ['workload', 'BPF insns/run', 'ms/run (wall)', 'ms/run (CPU)', 'M BPF insns/s (wall)', 'M BPF insns/s (effective)', 'ns/BPF insn', 'arena faults/run', 'ns/fault'],
        res.emu.map((r) => [r.label, String(r.bpfInsns), fixed(r.medianNsPerRun / 1e6, 2), fixed(r.medianCpuNsPerRun / 1e6, 2), m(r.bpfInsnsPerSec, 1), m(r.effBpfInsnsPerSec, 1), fixed(r.nsPerBpfInsn, 2), String(r.arenaFaults), r.nsPerFault === null ? '–' : fixed(r.nsPerFault, 0)]),
      ),
  );
  const h = res.arenaHooks;
  const o = res.overhead;
  parts.push(
    '**Overheads**\n\n' +
      table(
        ['what', 'value'],
        [
          ['arena loop with exception-table code hooks (ms/run)', fixed(h.withHooksNs / 1e6, 2)],
          ['same image, hooks removed (ms/run)', fixed(h.withoutHooksNs / 1e6, 2)],
          ['extra cost per non-faulting arena access (ns)', fixed(h.extraNsPerAccess, 0)],
          ['tiny program: engine.run() (µs/run)', fixed(o.engineRunNs / 1e3, 2)],
          ['tiny program: emulation part of engine.run() (µs)', fixed(o.engineEmuNs / 1e3, 2)],
          ['tiny program: bare uc_emu_start (µs/run)', fixed(o.bareEmuStartNs / 1e3, 2)],
          [`tiny program: batched, engine.run({ repeat: ${o.batch} }) (µs/run, effective)`, fixed(o.batchedNsPerRun / 1e3, 3)],
          [`CLI: ${res.cli.jit.command} (M insns/s)`, m(res.cli.jit.insnsPerSec)],
          [`CLI: ${res.cli.run.command} (M BPF insns/s)`, m(res.cli.run.bpfInsnsPerSec, 0)],
        ],
      ),
  );
  parts.push(
    `**Conformance plugin** (each of the ${res.plugin[0].processes} test/conformance/data tests in its own process, in sequence, as the suite's runner does)\n\n` +
      table(
        ['entry', 'ms/process (wall)', 'ms/process (CPU)', 'seconds for 300 tests (effective)'],
        res.plugin.map((r) => [r.label, fixed(r.msPerProcess, 1), fixed(r.cpuMsPerProcess, 1), fixed(r.secondsFor300, 1)]),
      ),
  );
  parts.push(
    '**Targets**\n\n' +
      table(
        ['target', 'measured', 'met'],
        res.targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'no']),
      ),
  );
  return parts.join('\n\n');
}
