// `bpfjit run`: front end → JIT → Unicorn engine, with the program's environment (sidecar / ENV.json).
import { readFileSync } from 'node:fs';
import { BpfError, UsageError, insnError } from '../errors.js';
import { parseEnv, type RunEnv } from '../env.js';
import { BpfMap, Engine, LAYOUT, type RunResult } from '../emu/index.js';
import { allocatedPages, applyPrefault, arenaFromSpec, arenaPageDump, dumpPages, type Arena } from '../arena/index.js';
import { describeArenaFault } from '../emu/run.js';
import { frontEnd, functionRanges } from '../jit/frontend/index.js';
import { jit, JIT_DEFAULTS } from '../jit/index.js';
import { LD_IMM64, PseudoLd } from '../isa/opcodes.js';
import type { Program } from '../isa/insn.js';
import { Exit, parseCommandArgs, parseIntOption, parseU64, type Command } from './command.js';
import { readProgram } from './input.js';
import { runTimingFields } from './timing.js';

const ARENA_MAP_PTR = LAYOUT.maps - 0x1000000n;

const HELP = `Usage: bpfjit run PROG [options]

Compiles PROG like Linux 6.18 (verifier rewrites, x86-64 JIT) and runs the machine code on an emulated CPU
(Unicorn) with a kernel-like stack, context, helpers, kfuncs and arena.

PROG: .bin (raw bytecode; NAME.json beside it is the default environment), .s (assembler text), hex, or an ELF
object (.o; --prog NAME picks the program; its maps and globals are created in guest memory).
Options:
  --prog NAME          ELF objects: the program (function or section name)
  --env ENV.json       environment (corpus sidecar format: arena, kfuncs, prefault, ctx)
  --ctx HEX            context bytes (r1), overrides the environment's
  --verifier-log FILE  the kernel's level-2 verifier log (NAME.kernel.txt): dead code is removed exactly where the
                       verifier removed it (by default the front end's own constant tracking decides)
  --kern-vm-start A    place the arena's kernel view at A (default: the arena model's choice)
  --user-vm-start A    and its user view at A (map_extra 0: the address the mmap would have chosen)
                       (kernel-xlated input carries the kernel's arena addresses: give the same ones)
  --dialect D          standard (default: run the verifier's rewrites) or kernel-xlated (already rewritten)
  --max-insns N        x86 instruction budget (exact, but counting slows emulation ~20x)
  --timeout MS         wall-clock limit (default 10000)
  --trace              print each BPF instruction as executed, with the registers it changed
  --repeat N           run N times on one engine and report the time per run
                       (with --json also medianNsPerRun, bpfInsnsPerSec: see src/cli/timing.ts)
  --arena-dump         print every allocated arena page: kernel and user address, bytes (or 'zero')
  --json               machine-readable result
Exit status: 0 ok, 1 bad input or a fault/limit in the program, 2 usage.`;

function loadEnv(path: string | undefined, sidecar: string | undefined): RunEnv {
  const p = path ?? sidecar;
  if (!p) return parseEnv({});
  let text: string;
  try {
    text = readFileSync(p, 'utf8');
  } catch (e) {
    throw new BpfError({ message: `cannot read ${p}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
  try {
    return parseEnv(JSON.parse(text), p);
  } catch (e) {
    if (e instanceof BpfError) throw e;
    throw new BpfError({ message: `${p}: invalid JSON (${(e as Error).message})` });
  }
}

const hex = (v: bigint): string => `0x${v.toString(16)}`;

/** Instruction indices the verifier visited: the `N: (op) …` lines of its level-2 log. */
function visitedFromLog(path: string): Set<number> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new BpfError({ message: `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}` });
  }
  const visited = new Set<number>();
  for (const m of text.matchAll(/^(\d+): \([0-9a-f]{2}\)/gm)) visited.add(Number(m[1]));
  if (visited.size === 0) throw new BpfError({ message: `${path}: no 'N: (op) …' lines of a verifier log` });
  return visited;
}

/** Image base of each function (main first, then subprograms in program order), as the JIT places them. */
function functionBases(starts: readonly number[]): bigint[] {
  return starts.map((_, i) => JIT_DEFAULTS.imageBase + BigInt(i) * 0x10000n);
}

/**
 * ld_imm64 of a BPF function (src_reg 4, imm = offset to it) becomes its image address, as the kernel's
 * jit_subprogs does before the final JIT (bpf_loop callbacks).
 */
function resolveFuncPointers(prog: Program, starts: readonly number[], bases: readonly bigint[]): Program {
  return {
    ...prog,
    insns: prog.insns.map((insn) => {
      if (insn.code !== LD_IMM64 || insn.src !== PseudoLd.FUNC) return insn;
      const idx = starts.indexOf(insn.pc + insn.imm + 1);
      if (idx < 0) throw insnError(insn.pc, `ld_imm64 of a function: insn ${insn.pc + insn.imm + 1} does not start a function`);
      const addr = bases[idx]!;
      return { ...insn, imm: Number(BigInt.asIntN(32, addr)), imm2: Number(BigInt.asIntN(32, addr >> 32n)) };
    }),
  };
}

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
  summary: 'JIT a program and run the x86-64 code on an emulated CPU',
  help: HELP,
  run(argv) {
    const { values, positionals } = parseCommandArgs(argv, {
      env: { type: 'string' },
      prog: { type: 'string' },
      ctx: { type: 'string' },
      'verifier-log': { type: 'string' },
      'kern-vm-start': { type: 'string' },
      'user-vm-start': { type: 'string' },
      dialect: { type: 'string' },
      'max-insns': { type: 'string' },
      timeout: { type: 'string' },
      trace: { type: 'boolean' },
      repeat: { type: 'string' },
      'arena-dump': { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1) throw new UsageError('expected exactly one program');
    const dialect = (values.dialect as string | undefined) ?? 'standard';
    if (dialect !== 'standard' && dialect !== 'kernel-xlated') throw new UsageError(`--dialect: expected standard or kernel-xlated, got '${dialect}'`);
    const input = readProgram(positionals[0]!, { dialect, prog: values.prog as string | undefined });
    const objRun = input.object?.run;
    const env = values.env === undefined && objRun ? objRun.env : loadEnv(values.env as string | undefined, input.sidecarPath);
    const ctxHex = (values.ctx as string | undefined) ?? env.ctx;
    if (!/^([0-9a-fA-F]{2})*$/.test(ctxHex)) throw new UsageError('--ctx: expected hex bytes');
    const maxInsns = values['max-insns'] === undefined ? undefined : parseIntOption('max-insns', values['max-insns'] as string, 1);
    const timeoutMs = values.timeout === undefined ? undefined : parseIntOption('timeout', values.timeout as string, 1);
    const repeat = values.repeat === undefined ? 1 : parseIntOption('repeat', values.repeat as string, 1, 10_000_000);

    const engine = new Engine();
    let arena: Arena | null = null;
    try {
      if (env.arena) {
        const kvs = values['kern-vm-start'] as string | undefined;
        const uvs = values['user-vm-start'] as string | undefined;
        arena = arenaFromSpec(env.arena, {
          kernVmStart: kvs === undefined ? undefined : parseU64('kern-vm-start', kvs),
          userVmStart: uvs === undefined ? undefined : parseU64('user-vm-start', uvs),
        });
        applyPrefault(arena, env.prefault);
      }
      // ELF objects: every non-arena map in guest memory, by the index the program's ld_imm64 use.
      const maps = new Map<number, BpfMap>();
      for (const m of objRun?.maps ?? []) {
        if (m.kind === 'arena') continue;
        if (m.kind !== 'array' && m.kind !== 'hash') throw new BpfError({ message: `map ${m.name}: type ${m.kind} is not supported by the emulator` });
        const map = engine.addMap({ kind: m.kind, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
        if (m.initialValue) map.update(new Uint8Array(4), m.initialValue, 0n);
        maps.set(m.index, map);
      }
      const resolveMap = (index: number, what: { kind: 'map' } | { kind: 'value'; off: number }): bigint => {
        const map = maps.get(index);
        if (!map) throw new BpfError({ message: `the program uses map ${index}, which the environment does not define` });
        return what.kind === 'map' ? map.ptr : map.valueAddr(0) + BigInt(what.off);
      };
      let prog: Program = objRun?.program ?? input.prog;
      let stackDepth: readonly number[] | undefined;
      let functionStarts: number[] | undefined;
      if (dialect === 'standard') {
        const logPath = values['verifier-log'] as string | undefined;
        const fe = frontEnd(prog, {
          visited: logPath === undefined ? undefined : visitedFromLog(logPath),
          callBase: engine.callBase,
          resolveCall: (c) =>
            c.kind === 'helper' ? engine.resolveCall('helper', c.id) : c.kind === 'kfunc' ? engine.resolveCall('kfunc', c.name) : engine.inlineSymbols.timedMayGoto,
          kfuncs: env.kfuncs,
          resolveMap,
          arena: arena ? { mapPtr: ARENA_MAP_PTR, userVmStart: arena.userVmStart, kernVmStart: arena.kernVmStart, flags: arena.flags } : null,
          jiffiesAddr: engine.inlineSymbols.jiffies,
          cpuNumberAddr: Number(engine.inlineSymbols.cpuNumber & 0xffffffffn),
        });
        prog = fe.prog;
        stackDepth = fe.stackDepth;
        functionStarts = fe.functions.map((f) => f.firstPc);
      }
      functionStarts ??= functionRanges(prog).map((f) => f.firstPc);
      const imageBase = functionBases(functionStarts);
      prog = resolveFuncPointers(prog, functionStarts, imageBase);
      const result = jit(prog, {
        imageBase,
        functionStarts,
        callBase: engine.callBase,
        kernVmStart: arena?.kernVmStart,
        userVmStart: arena?.userVmStart,
        stackDepth,
        thisCpuOff: Number(engine.inlineSymbols.thisCpuOff & 0xffffffffn),
      });
      engine.load(result.functions);
      engine.setArena(arena);
      const ctx = new Uint8Array(Buffer.from(ctxHex, 'hex'));
      const trace = values.trace === true;
      const names = ['r0', 'r1', 'r2', 'r3', 'r4', 'r5', 'r6', 'r7', 'r8', 'r9', 'r10', 'ax'];
      let r = engine.run({
        ctx,
        maxInsns,
        timeoutMs,
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
      let perRunNs: number | null = null;
      if (repeat > 1 && !r.fault) {
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
          ...runTimingFields(engine, { ctx, maxInsns, timeoutMs }, repeat, true, r.fault !== null),
          fault: faultJson(r),
        }));
      } else {
        for (const line of r.output) console.log(`printk: ${line}`);
        console.log(`retval ${r.retval} (r0 ${hex(r.r0)})`);
        if (ctx.length > 0) console.log(`ctx ${Buffer.from(r.ctx).toString('hex')}`);
        if (r.arenaFaults.length > 0) console.log(`arena faults resolved by the exception table: ${r.arenaFaults.length}`);
        for (const f of r.arenaFaults) console.log(`  ${describeArenaFault(f)}`);
        if (r.insns !== null) console.log(`x86 instructions: ${r.insns}`);
        if (perRunNs !== null) console.log(`time per run: ${(perRunNs / 1000).toFixed(2)} us (${repeat} runs)`);
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
