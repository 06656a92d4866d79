// Exception-table hooks: nearby accesses share one code hook range (at most eight ranges), and faults inside a
// merged range still resolve at the exact instruction.
import { describe, expect, it } from 'vitest';
import { Engine, compileFor } from '../../src/emu/index.js';
import { exHookSpans } from '../../src/emu/engine.js';
import { parseEnv } from '../../src/env.js';
import { parse } from '../../src/isa/index.js';

/** An instruction of `length` bytes at `addr`, as [first byte, last byte]. */
const insn = (addr: bigint, length: number): readonly [bigint, bigint] => [addr, addr + BigInt(length - 1)];

describe('exHookSpans', () => {
  it('accesses less than 64 bytes apart share a range; farther ones get their own', () => {
    const t = [insn(0x1010n, 5), insn(0x1000n, 4), insn(0x1100n, 6)];
    // 0x1004..0x100f: a 12-byte gap (merged); 0x1015..0x10ff: 235 bytes (kept).
    expect(exHookSpans(t)).toEqual([[0x1000n, 0x1014n], [0x1100n, 0x1105n]]);
  });

  it('at most eight ranges: of nine wide gaps the seven widest separate', () => {
    // 20 instructions of 4 bytes; 8-byte gaps, except wide ones (0x100 + i bytes) after instructions 1, 3, …, 17.
    const t: (readonly [bigint, bigint])[] = [];
    let a = 0x10000n;
    const starts: bigint[] = [];
    for (let i = 0; i < 20; i++) {
      t.push(insn(a, 4));
      starts.push(a);
      a += 4n + (i % 2 === 1 && i < 18 ? 0x100n + BigInt(i) : 8n);
    }
    const groups = [[0, 5], [6, 7], [8, 9], [10, 11], [12, 13], [14, 15], [16, 17], [18, 19]];
    expect(exHookSpans(t)).toEqual(groups.map(([f, l]) => [starts[f]!, starts[l]! + 3n]));
  });
});

describe('faults inside a merged hook range', () => {
  it('12 arena loads, two of them on a missing page: each resolves at its own instruction', () => {
    // r6 = arena page 0 (allocated, zero), r7 = page 8 (never allocated). Loads through r7 fault and read 0;
    // loads through r6 read what the program stored there first.
    const lines = ['r1 = map[fd:0][0]+0', 'r6 = addr_space_cast(r1, 0, 1)', 'r1 = map[fd:0][0]+32768', 'r7 = addr_space_cast(r1, 0, 1)', 'r0 = 0'];
    for (let k = 0; k < 10; k++) lines.push(`r2 = ${k + 1}`, `*(u64 *)(r6 +${8 * k}) = r2`);
    const firstLoad = lines.length + 2; // slots: the two ld_imm64 take two each
    const loads: string[] = [];
    for (let k = 0; k < 12; k++) loads.push(k === 4 || k === 9 ? `r3 = *(u64 *)(r7 +${8 * k})` : `r3 = *(u64 *)(r6 +${8 * (k % 10)})`, 'r0 += r3');
    lines.push(...loads, 'exit');
    const engine = new Engine();
    try {
      compileFor(engine, parse(lines.join('\n')), { env: parseEnv({ arena: { pages: 16, flags: 0, map_extra: 0x100000000 }, prefault: { 0: '00'.repeat(4096) } }) });
      expect(engine.program!.exHooks.length).toBeLessThanOrEqual(8);
      const r = engine.run({});
      expect(r.fault).toBeNull();
      // Loads k = 0..11 except 4 and 9 read (k % 10) + 1.
      const expected = [0, 1, 2, 3, 5, 6, 7, 8, 10, 11].reduce((s, k) => s + ((k % 10) + 1), 0);
      expect(r.r0).toBe(BigInt(expected));
      const slot = (k: number): number => firstLoad + 2 * k;
      expect(r.arenaFaults.map((f) => [f.pc, f.kind, f.arenaOffset])).toEqual([[slot(4), 'read', 32768 + 32], [slot(9), 'read', 32768 + 72]]);
    } finally {
      engine.close();
    }
  });
});
