// The arena against the kernel corpora: every sidecar arena is accepted with the kernel's addresses, and for
// programs without kfuncs (no allocation by the program) the pages user space prefaulted are exactly the
// kernel's `arena_allocated_after`. (Allocation parity of kfunc programs is checked end to end by the emulator.)
import { describe, expect, test } from 'vitest';
import { allocatedPages, applyPrefault, ArenaFlag, arenaFromSpec, dumpPages, JsPageMemory } from '../../src/arena/index.js';
import { BpfError } from '../../src/errors.js';
import { allPrograms } from '../helpers/corpus.js';

const { source, programs } = allPrograms();
const withArena = programs.filter((p) => p.sidecar().arena !== null);
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
    if (Object.keys(side.kfuncs).length === 0) {
      expect(allocatedPages(a)).toEqual(k.arena_allocated_after);
      // Non-zero pages after the run are a subset of the allocated ones.
      for (const pg of Object.keys(k.arena_pages_after)) expect(k.arena_allocated_after).toContain(Number(pg));
    }
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
