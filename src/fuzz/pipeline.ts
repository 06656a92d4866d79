// src/fuzz — the two engines the differential fuzzer compares, each reduced to one call: the Unicorn path
// (front end → JIT → Engine through src/emu/pipeline.ts, as `bpfjit run` composes it) and the reference interpreter, both in one
// run environment (ENV.json / corpus sidecar). Outcomes are normalised so they can be compared field by field.
import type { RunEnv } from '../env.js';
import type { Program } from '../isa/insn.js';
import { allocatedPages, arenaFromEnv, dumpPages, type Arena } from '../arena/index.js';
import { Engine, type EmuHelperFn, type RunResult } from '../emu/index.js';
import { compileFor } from '../emu/pipeline.js';
import { arenaView, interpret, kfuncsFromTable, LINUX_HELPERS, FIXED_HELPER_VALUES } from '../interp/index.js';


/** Coarse fault classes both engines can report. */
export type FaultClass = 'memory' | 'limit' | 'helper' | 'other';

export interface Outcome {
  readonly r0: bigint;
  readonly ctx: string;
  /** Non-zero arena pages (pgoff → hex) and allocated page offsets after the run. */
  readonly pages: Readonly<Record<string, string>>;
  readonly allocated: readonly number[];
  readonly fault: FaultClass | null;
  readonly faultMessage: string | null;
}

export interface RunLimits {
  /** Wall-clock limit of one emulator run (ms). */
  readonly timeoutMs: number;
  /** Interpreter instruction budget. */
  readonly maxInsns: number;
}

export const FUZZ_LIMITS: RunLimits = { timeoutMs: 2000, maxInsns: 2_000_000 };

/**
 * Helpers whose value the emulator derives from a clock or RNG, pinned to the interpreter's fixed values so
 * the two can be compared (bpf_get_smp_processor_id and bpf_jiffies64 are inlined and already agree).
 */
const PINNED: ReadonlyMap<number, EmuHelperFn> = new Map<number, EmuHelperFn>([
  [5, () => FIXED_HELPER_VALUES.ktime_ns],
  [7, () => FIXED_HELPER_VALUES.prandom_u32],
  [125, () => FIXED_HELPER_VALUES.ktime_ns],
  [208, () => FIXED_HELPER_VALUES.ktime_ns],
  [14, () => FIXED_HELPER_VALUES.pid_tgid],
]);

export function arenaOf(env: RunEnv): Arena | null {
  return arenaFromEnv(env);
}

function arenaState(a: Arena | null): Pick<Outcome, 'pages' | 'allocated'> {
  return a ? { pages: dumpPages(a), allocated: allocatedPages(a).sort((x, y) => x - y) } : { pages: {}, allocated: [] };
}

/** A program loaded on an engine, ready to run (see EmuPath.prepare). */
export interface Prepared {
  readonly engine: Engine;
  run(limits?: RunLimits): Outcome & { raw: RunResult };
  release(): void;
}

/** One reusable Unicorn engine (creating one per program would dominate the fuzzer's time). */
export class EmuPath {
  private engine: Engine | null = null;
  private runs = 0;
  /**
   * `recycleAfter`: runs before the engine is replaced by a fresh one (bounds any state an engine could
   * accumulate). `helpers`: replacements on top of the pinned ones (tests plant a wrong helper on purpose).
   */
  constructor(
    private readonly recycleAfter = 2000,
    private readonly helpers: ReadonlyMap<number, EmuHelperFn> = new Map(),
  ) {}

  private get(): Engine {
    if (this.engine && this.runs >= this.recycleAfter) this.close();
    this.engine ??= new Engine({ helpers: new Map([...PINNED, ...this.helpers]) });
    this.runs++;
    return this.engine;
  }

  /** Front end → JIT → Engine. Bad input (the front end or JIT refusing) throws BpfError. */
  run(prog: Program, env: RunEnv, limits: RunLimits = FUZZ_LIMITS): Outcome & { raw: RunResult } {
    const p = this.prepare(prog, env);
    try {
      return p.run(limits);
    } finally {
      p.release();
    }
  }

  /**
   * Compiles and loads a program on this path's engine (src/emu/pipeline.ts, as `bpfjit run` does) with a
   * fresh arena from `env`; `run` may be called repeatedly (the arena keeps its state between runs);
   * `release` unloads it and frees the arena.
   */
  prepare(prog: Program, env: RunEnv): Prepared {
    const engine = this.get();
    const c = compileFor(engine, prog, { env });
    const arena = c.arena;
    const ctx = new Uint8Array(Buffer.from(env.ctx, 'hex'));
    return {
      engine,
      run: (limits = FUZZ_LIMITS) => {
        const r = engine.run({ ctx, timeoutMs: limits.timeoutMs });
        const f = r.fault;
        const fault: FaultClass | null = !f ? null : f.kind === 'read' || f.kind === 'write' ? 'memory' : f.kind === 'timeout' || f.kind === 'insn-limit' ? 'limit' : f.kind === 'helper' ? 'helper' : 'other';
        return { r0: f ? 0n : r.r0, ctx: Buffer.from(r.ctx).toString('hex'), ...arenaState(arena), fault, faultMessage: f ? f.message : null, raw: r };
      },
      release: () => {
        engine.setArena(null);
        engine.unload();
        arena?.dispose();
      },
    };
  }

  close(): void {
    this.engine?.close();
    this.engine = null;
    this.runs = 0;
  }
}

/** Classifies an interpreter fault message. */
function interpFaultClass(message: string): FaultClass {
  if (/^invalid \d-byte (load|store|atomic)|store to read-only|invalid .* at 0x/.test(message)) return 'memory';
  if (/budget|instruction limit|exceeded .*instructions/i.test(message)) return 'limit';
  if (/^call to unknown|helper|kfunc/i.test(message)) return 'helper';
  return 'other';
}

/** The reference interpreter on the original program. */
export function runInterp(prog: Program, env: RunEnv, limits: RunLimits = FUZZ_LIMITS): Outcome & { insns: number } {
  const arena = arenaOf(env);
  try {
    const res = interpret(prog, {
      ctx: new Uint8Array(Buffer.from(env.ctx, 'hex')),
      arena: arena ? arenaView(arena) : null,
      kfuncs: kfuncsFromTable(env.kfuncs),
      helpers: LINUX_HELPERS,
      maxInsns: limits.maxInsns,
    });
    const f = res.fault;
    return {
      r0: res.r0,
      ctx: Buffer.from(res.ctx ?? new Uint8Array(0)).toString('hex'),
      ...arenaState(arena),
      fault: f ? interpFaultClass(f.message) : null,
      faultMessage: f ? `${f.insn !== undefined ? `insn ${f.insn}: ` : ''}${f.message}` : null,
      insns: res.insns,
    };
  } finally {
    arena?.dispose();
  }
}
