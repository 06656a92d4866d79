// `bpfjit run`: front end → JIT → Unicorn engine, with the program's environment (sidecar / ENV.json).
import { UsageError } from '../errors.js';
import { Engine, compileFor, type RunResult } from '../emu/index.js';
import { allocatedPages, arenaPageDump, dumpPages, type Arena } from '../arena/index.js';
import { describeArenaFault } from '../emu/run.js';
import { Exit, parseCommandArgs, parseIntOption, type Command } from './command.js';
import { PROGRAM_INPUT_HELP, PROGRAM_INPUT_OPTIONS, readRunInput } from './program-input.js';
import { batchTimingFields, runTimingFields } from './timing.js';
import { runInterpreter } from './run-interp.js';

const HELP = `Usage: bpfjit run PROG [options]

Compiles PROG like Linux 6.18 (verifier rewrites, x86-64 JIT) and runs the machine code on an emulated CPU
(Unicorn) with a kernel-like stack, context, helpers, kfuncs and arena.

PROG: .bin (raw bytecode; NAME.json beside it is the default environment), .s (assembler text), hex, or an ELF
object (.o; --prog NAME picks the program; its maps and globals are created in guest memory).
Options:
${PROGRAM_INPUT_HELP}
  --ctx HEX            context bytes (r1), overrides the environment's
  --engine E           unicorn (default: front end, JIT, emulated CPU) or interp (the reference interpreter
                       on the program as given: no front end, no JIT; the arena and global data, no other maps;
                       --max-insns counts BPF instructions there; --trace, --repeat, --json, --arena-dump apply)
  --max-insns N        x86 instruction budget (exact, but counting slows emulation ~20x)
  --timeout MS         wall-clock limit (default 10000)
  --trace              print each BPF instruction as executed, with the registers it changed
  --repeat N           run N times on one engine and report the time per run
                       (with --json also medianNsPerRun, bpfInsnsPerSec: see src/cli/timing.ts)
  --batch              with --repeat N: all N runs in one emulator entry, as BPF_PROG_TEST_RUN's repeat does
                       (the context is not reset between runs, the result is the last run's); reports the
                       time per run (with --json: runs, batchedNsPerRun, bpfInsnsPerSec)
  --arena-dump         print every allocated arena page: kernel and user address, bytes (or 'zero')
  --json               machine-readable result
Exit status: 0 ok, 1 bad input or a fault/limit in the program, 2 usage.`;

const hex = (v: bigint): string => `0x${v.toString(16)}`;

function faultJson(r: RunResult): object | null {
  const f = r.fault;
  if (!f) return null;
  return {
    kind: f.kind,
    message: f.message,
    x86: f.x86Address === null ? null : hex(f.x86Address),
    x86Text: f.x86Text,
    exact: f.exact,
    func: f.func,
    insn: f.pc,
    address: f.accessAddress === null ? null : hex(f.accessAddress),
  };
}

export const run: Command = {
  name: 'run',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      ...PROGRAM_INPUT_OPTIONS,
      ctx: { type: 'string' },
      engine: { type: 'string' },
      'max-insns': { type: 'string' },
      timeout: { type: 'string' },
      trace: { type: 'boolean' },
      repeat: { type: 'string' },
      batch: { type: 'boolean' },
      'arena-dump': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    const { prog, env, compile } = readRunInput(values, positionals);
    const ctxHex = (values.ctx as string | undefined) ?? env.ctx;
    if (!/^([0-9a-fA-F]{2})*$/.test(ctxHex)) throw new UsageError('--ctx: expected hex bytes');
    const maxInsns = values['max-insns'] === undefined ? undefined : parseIntOption('max-insns', values['max-insns'] as string, 1);
    const timeoutMs = values.timeout === undefined ? undefined : parseIntOption('timeout', values.timeout as string, 1);
    const repeat = values.repeat === undefined ? 1 : parseIntOption('repeat', values.repeat as string, 1, 10_000_000);
    const engineName = (values.engine as string | undefined) ?? 'unicorn';
    if (engineName !== 'unicorn' && engineName !== 'interp') throw new UsageError(`--engine: expected unicorn or interp, got '${engineName}'`);
    if (engineName === 'interp') {
      if (values.batch === true || values.timeout !== undefined) throw new UsageError(`--engine interp: ${values.batch === true ? '--batch' : '--timeout'} is for the emulator (the interpreter is bounded by --max-insns)`);
      return runInterpreter({
        prog,
        env,
        dialect: compile.dialect ?? 'standard',
        ctx: new Uint8Array(Buffer.from(ctxHex, 'hex')),
        ...(maxInsns === undefined ? {} : { maxInsns }),
        repeat,
        trace: values.trace === true,
        json: values.json === true,
        arenaDump: values['arena-dump'] === true,
        maps: compile.maps ?? [],
      });
    }

    const engine = new Engine();
    let arena: Arena | null = null;
    try {
      ({ arena } = compileFor(engine, prog, compile));
      const ctx = new Uint8Array(Buffer.from(ctxHex, 'hex'));
      const trace = values.trace === true;
      const names = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'ax'];
      const batch = values.batch === true && repeat > 1;
      let r = engine.run({
        ctx,
        maxInsns,
        timeoutMs,
        ...(batch ? { repeat } : {}),
        trace: trace
          ? (s) => console.log(`insn ${s.pc}${s.func ? ` (function ${s.func})` : ''}: ${s.changed.map(([reg, v]) => `${names[reg]}=${hex(v)}`).join(' ')}`)
          : undefined,
        onEvent: trace
          ? (e) =>
              console.log(
                e.kind === 'call'
                  ? `  call ${e.name}(${e.args.map(hex).join(', ')}) = ${hex(e.result)}`
                  : `  arena fault: ${e.fault.kind} at arena offset 0x${e.fault.arenaOffset.toString(16)} (${e.fault.kind === 'read' ? 'reads 0' : 'dropped'})`,
              )
          : undefined,
      });
      let perRunNs: number | null = batch && r.runs > 0 ? r.timeNs / r.runs : null;
      if (repeat > 1 && !r.fault && !batch) {
        let total = 0;
        for (let i = 1; i < repeat; i++) {
          r = engine.run({ ctx, maxInsns, timeoutMs });
          total += r.timeNs;
          if (r.fault) break;
        }
        perRunNs = total / (repeat - 1);
      }
      const pages = arena ? dumpPages(arena) : {};
      if (values.json === true) {
        console.log(JSON.stringify({
          retval: r.retval,
          r0: hex(r.r0),
          ctx: Buffer.from(r.ctx).toString('hex'),
          arenaPages: pages,
          arenaAllocated: arena ? allocatedPages(arena) : [],
          insns: r.insns,
          output: r.output,
          arenaFaults: r.arenaFaults.map((f) => ({ insn: f.pc, func: f.func, kind: f.kind, address: hex(f.address), offset: f.arenaOffset })),
          ...(values['arena-dump'] === true ? { arenaDump: arena ? arenaPageDump(arena) : [] } : {}),
          timeNs: r.timeNs,
          perRunNs,
          ...(batch
            ? batchTimingFields(engine, { ctx, maxInsns, timeoutMs }, r)
            : runTimingFields(engine, { ctx, maxInsns, timeoutMs }, repeat, true, r.fault !== null)),
          fault: faultJson(r),
        }));
      } else {
        for (const line of r.output) console.log(`printk: ${line}`);
        console.log(`retval ${r.retval} (r0 ${hex(r.r0)})`);
        if (ctx.length > 0) console.log(`ctx ${Buffer.from(r.ctx).toString('hex')}`);
        if (r.arenaFaults.length > 0) console.log(`arena faults resolved by the exception table: ${r.arenaFaults.length}`);
        for (const f of r.arenaFaults) console.log(`  ${describeArenaFault(f)}`);
        if (r.insns !== null) console.log(`x86 instructions: ${r.insns}`);
        if (perRunNs !== null) console.log(`time per run: ${(perRunNs / 1000).toFixed(2)} us (${batch ? `${r.runs} runs in one emulator entry` : `${repeat} runs`})`);
        if (values['arena-dump'] === true) {
          const dump = arena ? arenaPageDump(arena) : [];
          console.log(`arena: ${dump.length} page(s) allocated`);
          for (const p of dump) console.log(`arena page ${p.pgoff}: kernel ${p.kernAddr} user ${p.userAddr ?? '-'}: ${p.bytes === null ? 'zero' : p.bytes}`);
        }
      }
      if (r.fault) {
        console.error(`bpfjit run: ${r.fault.kind === 'timeout' || r.fault.kind === 'insn-limit' ? 'limit' : 'fault'}: ${r.fault.message}${r.fault.x86Text ? ` [${r.fault.x86Text}]` : ''}`);
        return Exit.BAD_INPUT;
      }
      return Exit.OK;
    } finally {
      engine.close();
      arena?.dispose();
    }
  },
};
