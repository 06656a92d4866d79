// test/e2e-arena — the run pipeline with an arena the test owns across runs (user-side accesses between runs):
// front end → JIT → Engine, composed as `bpfjit run` composes it (an arena map pointer, engine call addresses).
import type { Arena } from '../../src/arena/index.js';
import { Engine, LAYOUT, type RunResult } from '../../src/emu/index.js';
import type { RunEnv } from '../../src/env.js';
import type { Program } from '../../src/isa/insn.js';
import { frontEnd } from '../../src/jit/frontend/index.js';
import { jit, JIT_DEFAULTS } from '../../src/jit/index.js';

const ARENA_MAP_PTR = LAYOUT.maps - 0x1000000n;

export interface Loaded {
  readonly engine: Engine;
  run(ctx?: Uint8Array): RunResult;
  close(): void;
}

/** Compiles `prog` for `arena` on a new engine; only programs without maps other than the arena. */
export function load(prog: Program, env: RunEnv, arena: Arena): Loaded {
  const engine = new Engine();
  try {
    const fe = frontEnd(prog, {
      callBase: engine.callBase,
      resolveCall: (c) =>
        c.kind === 'helper' ? engine.resolveCall('helper', c.id) : c.kind === 'kfunc' ? engine.resolveCall('kfunc', c.name) : engine.inlineSymbols.timedMayGoto,
      kfuncs: env.kfuncs,
      arena: { mapPtr: ARENA_MAP_PTR, userVmStart: arena.userVmStart, kernVmStart: arena.kernVmStart, flags: arena.flags },
      jiffiesAddr: engine.inlineSymbols.jiffies,
      cpuNumberAddr: Number(engine.inlineSymbols.cpuNumber & 0xffffffffn),
    });
    const functionStarts = fe.functions.map((f) => f.firstPc);
    const result = jit(fe.prog, {
      imageBase: functionStarts.map((_, i) => JIT_DEFAULTS.imageBase + BigInt(i) * 0x10000n),
      functionStarts,
      callBase: engine.callBase,
      kernVmStart: arena.kernVmStart,
      userVmStart: arena.userVmStart,
      stackDepth: fe.stackDepth,
      thisCpuOff: Number(engine.inlineSymbols.thisCpuOff & 0xffffffffn),
    });
    engine.load(result.functions);
    engine.setArena(arena);
  } catch (e) {
    engine.close();
    throw e;
  }
  return {
    engine,
    run: (ctx = new Uint8Array(Buffer.from(env.ctx, 'hex'))) => engine.run({ ctx }),
    close: () => engine.close(),
  };
}
