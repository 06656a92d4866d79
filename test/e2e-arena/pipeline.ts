// test/e2e-arena — the run pipeline with an arena the test owns across runs (user-side accesses between runs):
// front end → JIT → Engine, composed as `bpfjit run` composes it (an arena map pointer, engine call addresses).
import type { Arena } from '../../src/arena/index.js';
import { BpfMap, Engine, LAYOUT, type RunResult } from '../../src/emu/index.js';
import type { BpfMapSpec } from '../../src/loader/index.js';
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

/** Compiles `prog` for `arena` on a new engine, with an ELF object's other maps (array/hash) in guest memory. */
export function load(prog: Program, env: RunEnv, arena: Arena, objMaps: readonly BpfMapSpec[] = []): Loaded {
  const engine = new Engine();
  try {
    const maps = new Map<number, BpfMap>();
    for (const m of objMaps) {
      if (m.kind === 'arena') continue;
      if (m.kind !== 'array' && m.kind !== 'hash') throw new Error(`map ${m.name}: ${m.kind} not supported here`);
      const map = engine.addMap({ kind: m.kind, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
      if (m.initialValue) map.update(new Uint8Array(4), m.initialValue, 0n);
      maps.set(m.index, map);
    }
    const fe = frontEnd(prog, {
      resolveMap: (index, what) => {
        const map = maps.get(index);
        if (!map) throw new Error(`map ${index} is not defined`);
        return what.kind === 'map' ? map.ptr : map.valueAddr(0) + BigInt(what.off);
      },
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
