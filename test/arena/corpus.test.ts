// The arena against the kernel corpora: every sidecar arena is accepted with the kernel's addresses, and for
// programs without kfuncs (no allocation by the program) the pages user space prefaulted are exactly the
// kernel's `arena_allocated_after`. (Allocation parity of kfunc programs is checked end to end by the emulator.)
import { describe, expect, test } from 'vitest';
import { allocatedPages, applyPrefault, ArenaFlag, arenaFromSpec, dumpPages, JsPageMemory } from '../../src/arena/index.js';
import { BpfError } from '../../src/errors.js';
import { allPrograms } from '../helpers/corpus.js';

const { source, programs } = allPrograms();
const withArena = programs.filter((p) => p.sidecar().arena !== null);
let mapValuesSeen = 0;
if (source === 'fixtures') console.log('arena corpus test: ../shared not present, using the fixture subset');

describe(`arena corpus (${source}: ${withArena.length} programs with an arena)`, () => {
  test('there are arena programs to check', () => {
    expect(withArena.length).toBeGreaterThan(0);
  });

  test.each(withArena.map((p) => [p.id, p] as const))('%s', (_id, p) => {
    const side = p.sidecar();
    const k = p.kernel();
    const spec = side.arena!;
    const a = arenaFromSpec(spec, {
      kernVmStart: k.kern_vm_start ? BigInt(k.kern_vm_start) : undefined,
      userVmStart: k.user_vm_start ? BigInt(k.user_vm_start) : undefined,
      memory: new JsPageMemory(),
    });
    if (BigInt(spec.map_extra) !== 0n) expect(a.userVmStart).toBe(BigInt(spec.map_extra));
    if (k.user_vm_start) expect(a.userVmStart).toBe(BigInt(k.user_vm_start));
    expect(a.userVmEnd - a.userVmStart).toBe(BigInt(spec.pages) * 4096n);
    applyPrefault(a, side.prefault);
    const pre = Object.keys(side.prefault).map(Number);
    expect(allocatedPages(a)).toEqual(pre);
    // What user space wrote is what the dump shows (zero pages omitted, like arena_pages_after).
    const dump = dumpPages(a);
    for (const [pgoff, hex] of Object.entries(side.prefault)) {
      if (/[^0]/.test(hex)) expect(dump[pgoff]).toBe(hex.toLowerCase());
      else expect(dump[pgoff]).toBeUndefined();
    }
    // `ld_imm64 map_value(arena) + off` placeholders of the raw program resolve to directValueAddr(off): every
    // arena address among the kernel's resolved 64-bit immediates is one of them (dead code may drop some).
    const raw = Buffer.from(p.bin());
    const expected = new Set<bigint>();
    const constants = new Set<bigint>(); // plain ld_imm64 constants may happen to look like arena addresses
    for (let i = 0; i + 16 <= raw.length; i += 8) {
      if (raw[i] !== 0x18) continue;
      if (raw[i + 1]! >> 4 === 2) expected.add(a.directValueAddr(raw.readUInt32LE(i + 12)));
      if (raw[i + 1]! >> 4 === 0) constants.add((BigInt(raw.readUInt32LE(i + 12)) << 32n) | BigInt(raw.readUInt32LE(i + 4)));
      i += 8;
    }
    const resolved = Buffer.from(k.xlated_resolved, 'hex');
    for (let i = 0; i + 16 <= resolved.length; i += 8) {
      if (resolved[i] !== 0x18) continue;
      const v = (BigInt(resolved.readUInt32LE(i + 12)) << 32n) | BigInt(resolved.readUInt32LE(i + 4));
      if (v >= a.userVmStart && v <= a.userVmEnd && !constants.has(v)) {
        expect(expected.has(v), `insn ${i / 8}: 0x${v.toString(16)}`).toBe(true);
        mapValuesSeen++;
      }
      i += 8;
    }
    if (Object.keys(side.kfuncs).length === 0) {
      expect(allocatedPages(a)).toEqual(k.arena_allocated_after);
      // Non-zero pages after the run are a subset of the allocated ones.
      for (const pg of Object.keys(k.arena_pages_after)) expect(k.arena_allocated_after).toContain(Number(pg));
    }
  });

  test('map_value placeholders were found and checked', () => {
    expect(mapValuesSeen).toBeGreaterThan(0);
  });

  test('bad prefault records are user errors naming the page', () => {
    const a = arenaFromSpec({ pages: 2, flags: 0, map_extra: 0 }, { memory: new JsPageMemory() });
    expect(() => applyPrefault(a, { '2': '00'.repeat(4096) })).toThrow(BpfError);
    expect(() => applyPrefault(a, { '2': '00'.repeat(4096) })).toThrow(/page offset "2"/);
    expect(() => applyPrefault(a, { x: '00' })).toThrow(/page offset "x"/);
    expect(() => applyPrefault(a, { '1': '00'.repeat(10) })).toThrow(/prefault\.1: expected 4096 bytes/);
    expect(allocatedPages(a)).toEqual([]);
    const segv = arenaFromSpec({ pages: 2, flags: ArenaFlag.SEGV_ON_FAULT, map_extra: 0 }, { memory: new JsPageMemory() });
    expect(() => applyPrefault(segv, { '1': '00'.repeat(4096) })).toThrow(/prefault\.1: arena: SIGSEGV/);
  });
});
