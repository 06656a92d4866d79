// The loaded examples through bpfjit's own pipeline — verifier rewrites (src/jit/frontend), x86-64 JIT,
// Unicorn engine with maps and the arena — return what their C source computes (the same values the
// running kernel returns in kernel.test.ts). Maps come from BpfMapSpec, the arena from the RunEnv.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { applyPrefault, arenaFromSpec, readUserUint, type Arena } from '../../src/arena/index.js';
import { Engine, LAYOUT, MAP_VALUE_OFFSET, type BpfMap } from '../../src/emu/index.js';
import { frontEnd } from '../../src/jit/frontend/index.js';
import { jit } from '../../src/jit/index.js';
import { findProgram, loadObject, programEnv } from '../../src/loader/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const ARENA_MAP_PTR = LAYOUT.maps - 0x1000000n;
let engine: Engine | null = null;
afterEach(() => {
  engine?.close();
  engine = null;
});

function runExample(file: string, name: string): { retval: bigint; arena: Arena | null; maps: (BpfMap | null)[] } {
  const obj = loadObject(new Uint8Array(readFileSync(`${root}examples/${file}`)));
  const run = programEnv(obj, findProgram(obj, name));
  const e = (engine = new Engine());
  const arena = run.env.arena ? arenaFromSpec(run.env.arena) : null;
  if (arena) applyPrefault(arena, run.env.prefault);
  const maps = run.maps.map((m) => {
    if (m.kind === 'arena') return null;
    if (m.kind !== 'array' && m.kind !== 'hash') throw new Error(`map kind ${m.kind} is not emulated`);
    const bm = e.addMap({ kind: m.kind, keySize: m.keySize, valueSize: m.valueSize, maxEntries: m.maxEntries });
    if (m.initialValue) bm.update(new Uint8Array(4), m.initialValue, 0n);
    return bm;
  });
  const fe = frontEnd(run.program, {
    callBase: e.callBase,
    resolveCall: (c) => (c.kind === 'helper' ? e.resolveCall('helper', c.id) : c.kind === 'kfunc' ? e.resolveCall('kfunc', c.name) : e.inlineSymbols.timedMayGoto),
    kfuncs: run.env.kfuncs,
    arena: arena ? { mapPtr: ARENA_MAP_PTR, userVmStart: arena.userVmStart, kernVmStart: arena.kernVmStart, flags: arena.flags } : null,
    resolveMap: (idx, what) => (what.kind === 'map' ? maps[idx]!.ptr : maps[idx]!.valueAddr(0) + BigInt(what.off)),
    jiffiesAddr: e.inlineSymbols.jiffies,
    cpuNumberAddr: Number(e.inlineSymbols.cpuNumber & 0xffffffffn),
  });
  const result = jit(fe.prog, {
    callBase: e.callBase, kernVmStart: arena?.kernVmStart, userVmStart: arena?.userVmStart, stackDepth: fe.stackDepth,
    thisCpuOff: Number(e.inlineSymbols.thisCpuOff & 0xffffffffn),
  });
  e.load(result.functions);
  e.setArena(arena);
  const r = e.run({ ctx: new Uint8Array(0) });
  expect(r.fault).toBeFalsy();
  return { retval: BigInt(r.retval ?? -1), arena, maps };
}

describe('examples on bpfjit (front end + JIT + emulator)', () => {
  it('hello returns 42 and counts its call in .bss', () => {
    const { retval, maps } = runExample('hello.bpf.o', 'hello');
    expect(retval).toBe(42n);
    const bss = maps[0]!; // .bss (map 0: no arena in this object)
    expect(new DataView(bss.memory.bytes.buffer, bss.memory.bytes.byteOffset).getUint32(MAP_VALUE_OFFSET, true)).toBe(1);
  });

  it('arena_htab returns the sum of squares 0..19', () => {
    expect(runExample('arena_htab.bpf.o', 'htab_test').retval).toBe(2470n);
  });

  it('arena_list builds the list; its nodes are reachable through the user pointers in the arena', () => {
    const { retval, arena } = runExample('arena_list.bpf.o', 'build_list');
    expect(retval).toBe(0n);
    const syms = JSON.parse(readFileSync(`${root}test/fixtures/loader/expected.json`, 'utf8'))['arena_list.bpf.o'].symbols as { name: string; value: number }[];
    const base = arena!.userVmStart;
    expect(readUserUint(arena!, base + BigInt(syms.find((s) => s.name === 'arena_sum')!.value), 8)).toBe(55n);
    const values: bigint[] = [];
    for (let n = readUserUint(arena!, base + BigInt(syms.find((s) => s.name === 'head')!.value), 8); n !== 0n && values.length < 20; n = readUserUint(arena!, n, 8)) {
      values.push(readUserUint(arena!, n + 8n, 8));
    }
    expect(values).toEqual([10n, 9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n, 1n]);
  });
});
