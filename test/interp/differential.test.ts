// Differential test beyond the corpus: fresh random programs from the corpus generator (src/kernel/gen.ts,
// a seed the corpora do not use) run on the interpreter and on the JIT + Unicorn pipeline; both must end
// alike (r0, ctx, arena pages). Programs whose results depend on time/random helpers are left out.
import { describe, expect, test } from 'vitest';
import { allocatedPages, dumpPages, type Arena } from '../../src/arena/index.js';
import { Engine, compileFor } from '../../src/emu/index.js';
import { interpret, optionsFromEnv, LINUX_HELPERS } from '../../src/interp/index.js';
import { generate, type Generated } from '../../src/kernel/gen.js';

const SEED = 424242;
const COUNT = 120;

interface Outcome {
  readonly fault: string | null;
  readonly retval: number;
  readonly ctx: string;
  readonly pages: Record<string, string>;
  readonly allocated: number[];
}

function viaInterpreter(g: Generated): Outcome {
  const opts = optionsFromEnv(g.env, g.env.arena ? 0x7f00_0000_0000n : undefined);
  const res = interpret(g.prog, { ...opts, helpers: LINUX_HELPERS });
  const pages: Record<string, string> = {};
  for (const [pg, bytes] of opts.arena?.pages ?? []) if (bytes.some((b) => b !== 0)) pages[String(pg)] = Buffer.from(bytes).toString('hex');
  return {
    fault: res.fault ? res.fault.message : null,
    retval: Number(res.r0 & 0xffffffffn),
    ctx: Buffer.from(res.ctx!).toString('hex'),
    pages,
    allocated: [...(opts.arena?.pages.keys() ?? [])].sort((a, b) => a - b),
  };
}

function viaUnicorn(g: Generated): Outcome {
  const engine = new Engine();
  let arena: Arena | null = null;
  try {
    ({ arena } = compileFor(engine, g.prog, { env: g.env, ...(g.env.arena && !g.env.arena.map_extra ? { userVmStart: 0x7f00_0000_0000n } : {}) }));
    const r = engine.run({ ctx: new Uint8Array(Buffer.from(g.env.ctx, 'hex')) });
    return {
      fault: r.fault ? r.fault.message : null,
      retval: r.retval >>> 0,
      ctx: Buffer.from(r.ctx).toString('hex'),
      pages: arena ? dumpPages(arena) : {},
      allocated: arena ? allocatedPages(arena).sort((a, b) => a - b) : [],
    };
  } finally {
    arena?.dispose();
    engine.close();
  }
}

// Time/random helper values would reach the results of the others.
const programs = Array.from({ length: COUNT }, (_, index) => [index, generate({ seed: SEED, index })] as const).filter(
  ([, g]) => g.nondeterministic.length === 0,
);

describe(`interpreter vs JIT + Unicorn: ${programs.length} deterministic of ${COUNT} fresh generated programs (seed ${SEED})`, () => {
  test.each(programs)('program %i', (_i, g) => {
    const a = viaInterpreter(g);
    expect(a.fault).toBeNull();
    expect(viaUnicorn(g)).toEqual(a);
  });
});
