// `bpfjit corpus build|check`: make a kernel corpus from random verifier-accepted programs (needs bpf()), and
// measure bpfjit against one: JIT byte parity on the kernel's xlated program at the kernel's addresses, and
// result parity of bpfjit's image run on the emulator against what BPF_PROG_TEST_RUN reported.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BpfError, UsageError } from '../errors.js';
import { Engine } from '../emu/index.js';
import { decode } from '../isa/codec.js';
import { jit } from '../jit/index.js';
import { buildCorpus, compareKernelRecords, requireBpf, type KernelRecord } from '../kernel/index.js';
import { Exit, parseCommandArgs, parseIntOption, type Command } from './command.js';
import { hostSymbols, jitOptionsFor, madeOnThisKernel, runResults, withKernel, type RunSidecar } from './kernel.js';

const HELP = `Usage: bpfjit corpus build DIR --seed S --count N [--start K]
       bpfjit corpus check DIR [--no-run] [--verbose]

build  generates N random programs (seed S, indices K..K+N-1) that the running kernel's verifier accepts —
       ALU32/64 (all ops, movsx, sdiv/smod, bswap), ctx and stack loads/stores/atomics/acquire-release,
       conditional and unconditional jumps, gotol, ld_imm64, bounded and may_goto loops, helper calls
       (incl. the verifier-inlined ones), arena blocks (bpf_arena_alloc_pages with and without a hint,
       PROBE_MEM32 loads/stores/atomics, pointer ALU, out-of-page accesses, casts), bpf_arena_free_pages,
       subprograms (callee-saved subsets, any stack depth, early exits) — loads and runs each, and writes
       NAME.bin, NAME.json, NAME.kernel.json and NAME.kernel.txt per program, as in the shared kernel
       corpus. Same seed, same kernel: same programs.
       A generated program the verifier refuses is replaced by the next attempt (counted in the summary).
       Needs bpf() (exit 3 with the reason where it is not permitted).
check  for every NAME.kernel.json in DIR: JITs xlated_resolved with bpfjit at the recorded addresses and
       compares the image byte for byte; then runs bpfjit's image on the emulator with NAME.json's
       environment and compares retval, ctx and arena pages with the recorded run (skipped with --no-run
       and for programs marked "deterministic": false). Does not need bpf(). Exit 0 when all match.`;

interface CheckCounts {
  programs: number;
  identical: number;
  thunkOnly: number;
  differ: string[];
  resultsEqual: number;
  resultsSkipped: number;
  resultsDiffer: string[];
}

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new BpfError({ message: `${path}: ${(e as Error).message}` });
  }
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return i;
}

/** JIT byte parity and (unless run is false) emulator result parity over a corpus directory. */
export function checkCorpus(dir: string, run: boolean): CheckCounts {
  if (!existsSync(dir)) throw new BpfError({ message: `${dir}: no such directory` });
  const names = readdirSync(dir).filter((f) => f.endsWith('.kernel.json')).map((f) => f.slice(0, -'.kernel.json'.length)).sort();
  const c: CheckCounts = { programs: names.length, identical: 0, thunkOnly: 0, differ: [], resultsEqual: 0, resultsSkipped: 0, resultsDiffer: [] };
  // One engine per kernel build (engines are costly): records made on this kernel call its helpers and read
  // its data, gathered from all the build's records; others (the shared corpora) use the engine's default build.
  const engines = new Map<string, Engine>();
  const builds = new Map<string, KernelRecord>();
  if (run) {
    for (const name of names) {
      const rec = readJson(join(dir, `${name}.kernel.json`)) as KernelRecord;
      const b = builds.get(rec.call_base);
      if (!b) builds.set(rec.call_base, { ...rec, this_cpu_off: rec.this_cpu_off ?? null });
      else {
        b.kfunc_addrs = { ...b.kfunc_addrs, ...rec.kfunc_addrs };
        b.xlated_resolved += rec.xlated_resolved;
        b.this_cpu_off ??= rec.this_cpu_off ?? null;
      }
    }
  }
  const engineFor = (rec: KernelRecord): Engine => {
    let engine = engines.get(rec.call_base);
    if (!engine) {
      const b = builds.get(rec.call_base) ?? rec;
      engine = madeOnThisKernel(b)
        ? new Engine({ symbols: hostSymbols(b) })
        : new Engine({ kfuncAddrs: Object.fromEntries(Object.entries(b.kfunc_addrs).map(([k, v]) => [k, BigInt(v)])) });
      engines.set(rec.call_base, engine);
    }
    return engine;
  };
  try {
    for (const name of names) {
      const rec = readJson(join(dir, `${name}.kernel.json`)) as KernelRecord;
      const withDefaults: KernelRecord = { ...rec, return_thunk: rec.return_thunk ?? null, this_cpu_off: rec.this_cpu_off ?? null };
      let result;
      try {
        result = jit(decode(Buffer.from(rec.xlated_resolved, 'hex')), jitOptionsFor(withDefaults));
      } catch (e) {
        c.differ.push(`${name}: bpfjit refused the kernel's program: ${(e as Error).message}`);
        continue;
      }
      const ours = Buffer.concat(result.functions.map((f) => Buffer.from(f.image)));
      const theirs = Buffer.from(rec.jited, 'hex');
      if (ours.equals(theirs)) c.identical++;
      else {
        const mine = { ...rec, jited: ours.toString('hex'), func_lens: result.functions.map((f) => f.image.length) };
        const sameUpToReturns = compareKernelRecords(rec, mine, false).every((d) => d.field !== 'jited');
        if (sameUpToReturns && rec.return_thunk) c.thunkOnly++;
        else c.differ.push(`${name}: first difference at image byte ${firstDiff(ours, theirs)} (bpfjit ${ours.length} bytes, kernel ${theirs.length})`);
      }
      if (!run) continue;
      const sidePath = join(dir, `${name}.json`);
      const side = existsSync(sidePath) ? (readJson(sidePath) as RunSidecar) : null;
      if (!side || side.deterministic === false || rec.retval === undefined) {
        c.resultsSkipped++;
        continue;
      }
      const engine = engineFor(rec);
      try {
        // The emulator returns with `ret`: run an image without the return thunk (same code otherwise).
        const runnable = rec.return_thunk ? jit(decode(Buffer.from(rec.xlated_resolved, 'hex')), { ...jitOptionsFor(withDefaults), returnThunk: 0n }) : result;
        const d = runResults(engine, rec, side, runnable.functions);
        if (d) c.resultsDiffer.push(`${name}: ${d}`);
        else c.resultsEqual++;
      } catch (e) {
        c.resultsDiffer.push(`${name}: ${(e as Error).message}`);
      }
    }
  } finally {
    for (const e of engines.values()) e.close();
  }
  return c;
}

export const corpusCmd: Command = {
  name: 'corpus',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      seed: { type: 'string' },
      count: { type: 'string' },
      start: { type: 'string' },
      'no-run': { type: 'boolean' },
      verbose: { type: 'boolean' },
    });
    const [sub, dir, ...extra] = positionals;
    if (sub !== 'build' && sub !== 'check') throw new UsageError(`expected 'corpus build DIR' or 'corpus check DIR', got '${sub ?? ''}'`);
    if (dir === undefined) throw new UsageError(`corpus ${sub}: missing DIR`);
    if (extra.length) throw new UsageError(`unexpected argument '${extra[0]}'`);
    if (sub === 'build') {
      if (values.seed === undefined || values.count === undefined) throw new UsageError('corpus build: --seed and --count are required');
      const seed = parseIntOption('seed', values.seed as string, 0, 0xffffffff);
      const count = parseIntOption('count', values.count as string, 1, 100000);
      const start = values.start === undefined ? 0 : parseIntOption('start', values.start as string, 0, 99999);
      return withKernel('corpus build', () => {
        requireBpf();
        const r = buildCorpus(dir, { seed, count, start, ...(values.verbose ? { onProgram: (n: string, a: number) => console.log(`${n} (${a} attempt${a > 1 ? 's' : ''})`) } : {}) });
        console.log(`wrote ${r.written} programs to ${dir} (seed ${seed}); the verifier refused ${r.refused} generated programs, each replaced by the next attempt`);
        return Exit.OK;
      });
    }
    const c = checkCorpus(dir, values['no-run'] !== true);
    const show = (xs: string[]) => xs.slice(0, values.verbose ? xs.length : 10).map((x) => `  ${x}`);
    console.log(`JIT byte parity: ${c.identical}/${c.programs} identical${c.thunkOnly ? `, ${c.thunkOnly} identical except returns (the kernel returned through a return thunk)` : ''}, ${c.differ.length} differ`);
    for (const l of show(c.differ)) console.log(l);
    if (values['no-run'] !== true) {
      console.log(`result parity (bpfjit image on the emulator vs the kernel's run): ${c.resultsEqual}/${c.programs - c.resultsSkipped} equal, ${c.resultsDiffer.length} differ, ${c.resultsSkipped} skipped (nondeterministic or not run)`);
      for (const l of show(c.resultsDiffer)) console.log(l);
    }
    return c.differ.length === 0 && c.resultsDiffer.length === 0 ? Exit.OK : 1;
  },
};
