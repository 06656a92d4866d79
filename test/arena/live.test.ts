// Parity with the running kernel: the same arena scenarios run on Linux (test/arena/live/arena_live.py: a real
// arena map, its mmap, and a BPF_PROG_TYPE_SYSCALL program calling the kfuncs through BPF_PROG_TEST_RUN) and on
// the model, op by op. Skips, saying why, where bpf() or python3 is not available.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { Arena, ArenaConfigError, ArenaFault, ArenaFlag, arenaKfuncs, JsPageMemory, validateArenaAttr } from '../../src/arena/index.js';

type Op =
  | { op: 'alloc'; hint: string; cnt: string; node: string; flags: string }
  | { op: 'free' | 'reserve'; ptr: string; cnt: string }
  | { op: 'kwrite'; ptr: string; val: string }
  | { op: 'kread'; ptr: string }
  | { op: 'uread'; addr: string; len: number }
  | { op: 'uwrite'; addr: string; hex: string }
  | { op: 'probe' };
interface Scenario {
  pages: number;
  flags: number;
  map_extra: string;
  key_size?: number;
  value_size?: number;
  no_mmapable?: boolean;
  /** mmap length in bytes (default: pages * 4096). */
  mmap_len?: number;
  ops: Op[];
}
interface LiveResult {
  create_errno: string | null;
  user_vm_start?: string;
  mmap_errno?: string;
  load_error?: string;
  results?: Array<string | boolean | number[] | null>;
}

const SCRIPT = fileURLToPath(new URL('./live/arena_live.py', import.meta.url));

function runLive(scenarios: Scenario[]): { skip: string } | { results: LiveResult[] } {
  if (process.platform !== 'linux') return { skip: 'not Linux' };
  if (process.getuid?.() !== 0) return { skip: 'bpf() needs root here' };
  const r = spawnSync('python3', [SCRIPT], { input: JSON.stringify(scenarios), encoding: 'utf8', timeout: 120_000 });
  if (r.error) return { skip: `python3 not available: ${r.error.message}` };
  if (r.status !== 0) return { skip: `live script failed: ${r.stderr.slice(-500)}` };
  return JSON.parse(r.stdout) as { skip: string } | { results: LiveResult[] };
}

// Deterministic generator (mulberry32) so a failure can be reproduced.
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const P = 4096n;
const STAND_IN = 0x7f0000000000n;
const EXTRAS = [0n, 0x100000000n, 0x2ffff2000n, 0x180000000n, 0x10000000000n];

function randomScenario(seed: number, big = false): Scenario {
  const r = rng(seed);
  const int = (n: number): number => Math.floor(r() * n);
  const pages = big ? 64 + int(200) : 2 + int(15);
  const extra = EXTRAS[int(EXTRAS.length)]!;
  const flags = r() < 0.3 ? ArenaFlag.SEGV_ON_FAULT : r() < 0.2 ? ArenaFlag.NO_USER_CONV : 0;
  // With map_extra 0 the kernel picks the address at mmap time: pointers inside the mapping travel as
  // "U+offset" and both sides add the real user_vm_start.
  const base = extra === 0n ? STAND_IN : extra;
  const ptr = (): string => enc(rawPtr());
  const enc = (v: bigint): string => (extra === 0n && v >= STAND_IN ? `U+${v - STAND_IN}` : String(v));
  const rawPtr = (): bigint => {
    const k = int(10);
    if (k === 0) return 0n;
    if (k === 1) return base + BigInt(int(pages)) * P + BigInt(1 + int(4095)); // unaligned
    if (k === 2) return base + BigInt(pages + int(3)) * P; // past the end
    if (k === 3) return (BigInt(int(0xffff)) << 32n) | ((base + BigInt(int(pages)) * P) & 0xffffffffn); // foreign upper half
    return base + BigInt(int(pages)) * P;
  };
  const ops: Op[] = [];
  const n = big ? 150 + int(150) : 10 + int(30);
  for (let i = 0; i < n; i++) {
    const k = r();
    const cnt = String(r() < 0.7 ? 1 : 1 + int(big ? 12 : 4));
    if (k < 0.35) {
      const hint = r() < 0.35 ? ptr() : '0';
      const node = r() < 0.9 ? '-1' : String([0, 1, -2, 4294967295][int(4)]);
      const fl = r() < 0.95 ? '0' : '1';
      ops.push({ op: 'alloc', hint, cnt: r() < 0.03 ? '0' : cnt, node, flags: fl });
    } else if (k < 0.55) ops.push({ op: 'free', ptr: ptr(), cnt });
    else if (k < 0.62) ops.push({ op: 'reserve', ptr: ptr(), cnt });
    else if (k < 0.75) ops.push({ op: 'kwrite', ptr: enc(rawPtr() || base), val: String(BigInt(int(2 ** 31)) * 0x100000001n) });
    else if (k < 0.85) ops.push({ op: 'kread', ptr: enc(rawPtr() || base) });
    else if (k < 0.93) ops.push({ op: 'uread', addr: enc(base + BigInt(int(pages)) * P + BigInt(int(4088))), len: 8 });
    else ops.push({ op: 'uwrite', addr: enc(base + BigInt(int(pages)) * P + BigInt(int(4088))), hex: '0102030405060708' });
  }
  if (flags === ArenaFlag.SEGV_ON_FAULT) ops.push({ op: 'probe' });
  return { pages, flags, map_extra: String(extra), ops };
}

const CREATE_CASES: Scenario[] = [
  { pages: 1, flags: 0, map_extra: '0', key_size: 4, ops: [] },
  { pages: 1, flags: 0, map_extra: '0', value_size: 4, ops: [] },
  { pages: 0, flags: 0, map_extra: '0', ops: [] },
  { pages: 1, flags: 0, map_extra: '0', no_mmapable: true, ops: [] },
  { pages: 1, flags: 1 << 7, map_extra: '0', ops: [] },
  { pages: 1, flags: 1, map_extra: '0', ops: [] },
  { pages: 1, flags: 0, map_extra: String(0x100000800n), ops: [] },
  { pages: 0x100001, flags: 0, map_extra: '0', ops: [] },
  { pages: 2, flags: 0, map_extra: String(0xfffff000n), ops: [] },
  { pages: 0x100000, flags: 0, map_extra: String(0x100001000n), ops: [] },
  { pages: 3, flags: ArenaFlag.SEGV_ON_FAULT | ArenaFlag.NO_USER_CONV, map_extra: String(0xffffd000n), ops: [] },
  { pages: 1, flags: 0, map_extra: String(0x7ffffffff000n), ops: [] },
  { pages: 1, flags: 0, map_extra: String(0x7fffffffe000n), ops: [] },
  { pages: 2, flags: 0, map_extra: String(0x7fffffffe000n), ops: [] },
  { pages: 1, flags: 0, map_extra: String(0x800000000000n), ops: [] },
  // (A map_extra with bit 63 set would also fail, with EFAULT, but through a WARN_ON_ONCE in the kernel log.)
  ...Array.from({ length: 32 }, (_, b) => b)
    .filter((b) => b !== 10 && b !== 17 && b !== 18)
    .map((b) => ({ pages: 1, flags: 2 ** b, map_extra: '0', ops: [] })),
];
const SEEDS = Array.from({ length: Number(process.env.ARENA_LIVE_SEEDS ?? 120) }, (_, i) => 1000 + i);
// Hand-written cases: an mmap longer than max_entries pages (allowed without map_extra): user faults beyond
// max_entries allocate, and a free there grows the allocator's pool.
const FIXED: Scenario[] = [
  {
    pages: 2, flags: 0, map_extra: '0', mmap_len: 4 * 4096,
    ops: [
      { op: 'uwrite', addr: 'U+12288', hex: '01' },
      { op: 'alloc', hint: 'U+8192', cnt: '1', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '2', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '1', node: '-1', flags: '0' },
      { op: 'uread', addr: 'U+12288', len: 1 },
      { op: 'free', ptr: 'U+8192', cnt: '2' },
      { op: 'alloc', hint: '0', cnt: '1', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '1', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '1', node: '-1', flags: '0' },
      { op: 'uread', addr: 'U+12288', len: 1 },
    ],
  },
  {
    pages: 4, flags: 0, map_extra: '0', mmap_len: 2 * 4096,
    ops: [
      { op: 'alloc', hint: '0', cnt: '3', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '2', node: '-1', flags: '0' },
      { op: 'alloc', hint: '0', cnt: '1', node: '-1', flags: '0' },
      { op: 'free', ptr: 'U+0', cnt: '4' },
      { op: 'alloc', hint: 'U+4096', cnt: '1', node: '-1', flags: '0' },
      { op: 'reserve', ptr: 'U+0', cnt: '2' },
      { op: 'reserve', ptr: 'U+0', cnt: '1' },
    ],
  },
];

// Larger arenas with long alloc/free sequences: many equal-sized free ranges, so the range tree's tie order matters.
const BIG_SEEDS = Array.from({ length: Number(process.env.ARENA_LIVE_BIG_SEEDS ?? 20) }, (_, i) => 5000 + i);

function replay(sc: Scenario, live: LiveResult): Array<string | boolean | number[] | null> {
  const a = new Arena(
    { maxEntries: sc.pages, flags: sc.flags | ArenaFlag.MMAPABLE, mapExtra: BigInt(sc.map_extra) },
    { userVmStart: BigInt(live.user_vm_start!), mmapLength: BigInt(sc.mmap_len ?? sc.pages * 4096), memory: new JsPageMemory() },
  );
  const kf = arenaKfuncs(a);
  const fix = (v: string): bigint => (v.startsWith('U+') ? a.userVmStart + BigInt(v.slice(2)) : BigInt(v));
  const lo = (v: string): number => Number(fix(v) & 0xffffffffn);
  const le64 = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
  return sc.ops.map((o) => {
    switch (o.op) {
      // Through the emulator's kfunc table: raw registers r1..r5 in, r0 out.
      case 'alloc': return String(kf.bpf_arena_alloc_pages!([0n, fix(o.hint), BigInt(o.cnt), BigInt(o.node), BigInt(o.flags)]));
      case 'free': kf.bpf_arena_free_pages!([0n, fix(o.ptr), BigInt(o.cnt)]); return null;
      case 'reserve': return String(kf.bpf_arena_reserve_pages!([0n, fix(o.ptr), BigInt(o.cnt)]));
      case 'kwrite': {
        const v = BigInt(o.val);
        a.writeKern(lo(o.ptr), Uint8Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn)));
        return null;
      }
      case 'kread': return String(le64(a.readKern(lo(o.ptr), 8)));
      case 'uread':
        try { return Buffer.from(a.readUser(fix(o.addr), o.len)).toString('hex'); } catch (e) { if (e instanceof ArenaFault) return null; throw e; }
      case 'uwrite':
        try { a.writeUser(fix(o.addr), Buffer.from(o.hex, 'hex')); return true; } catch (e) { if (e instanceof ArenaFault) return false; throw e; }
      case 'probe': return a.pages().filter((p) => p.userAddr !== null).map((p) => p.pgoff); // user-visible pages
    }
  });
}

describe('model vs the running kernel', () => {
  const scenarios = [...CREATE_CASES, ...SEEDS.map((s) => randomScenario(s)), ...BIG_SEEDS.map((s) => randomScenario(s, true)), ...FIXED];
  const live = runLive(scenarios);
  const skip = 'skip' in live ? live.skip : '';
  if (skip) console.log(`arena live-kernel parity skipped: ${skip}`);

  test.skipIf(!!skip).each(CREATE_CASES.map((sc, i) => [i, sc] as const))('map create + mmap case %i: same errno', (i, sc) => {
    const res = (live as { results: LiveResult[] }).results[i]!;
    let errno: string | null = null;
    try {
      const attr = { maxEntries: sc.pages, flags: sc.flags | (sc.no_mmapable ? 0 : ArenaFlag.MMAPABLE), mapExtra: BigInt(sc.map_extra), keySize: sc.key_size ?? 0, valueSize: sc.value_size ?? 0 };
      validateArenaAttr(attr);
      new Arena(attr, { memory: new JsPageMemory() }); // mmaps at map_extra, like the script
    } catch (e) {
      errno = (e as ArenaConfigError).errno;
    }
    expect(errno).toBe(res.create_errno ?? res.mmap_errno ?? null);
  });

  const opCases = [...SEEDS, ...BIG_SEEDS, ...FIXED.map((_, i) => `fixed ${i}`)].map((s, i) => [s, CREATE_CASES.length + i] as const);
  test.skipIf(!!skip).each(opCases)('ops: seed %s', (_seed, idx) => {
    const sc = scenarios[idx]!;
    const res = (live as { results: LiveResult[] }).results[idx]!;
    let errno: string | null = null;
    try {
      validateArenaAttr({ maxEntries: sc.pages, flags: sc.flags | ArenaFlag.MMAPABLE, mapExtra: BigInt(sc.map_extra) });
    } catch (e) {
      errno = (e as ArenaConfigError).errno;
    }
    expect(errno).toBe(res.create_errno);
    if (errno) return;
    expect(res.mmap_errno).toBeUndefined();
    expect(res.load_error).toBeUndefined();
    const model = replay(sc, res);
    for (let k = 0; k < sc.ops.length; k++) expect({ k, op: sc.ops[k], got: model[k] }).toEqual({ k, op: sc.ops[k], got: res.results![k] });
  });
});
