// Acceptance 5: a BPF program calling bpf_arena_alloc_pages / bpf_arena_free_pages fills the arena (then NULL),
// frees a page and gets it back zeroed. Expected values are reasoned in test/fixtures/arena/allocfull.s.
import { describe, expect, test } from 'vitest';
import { avail, emuRun, fixture, kernelRun, kernelSkipNote, page } from './helpers.js';

const f = fixture('allocfull');
const u64le = (v: bigint): string => Buffer.from(new BigUint64Array([v]).buffer).toString('hex');

describe('alloc until full, free, re-alloc (kfuncs through the JIT and the emulator)', () => {
  const { code, json } = emuRun(f);

  test('pages 0..3 in order, then NULL for 1 and 2 pages; the freed page reads 0 and comes back zeroed', () => {
    expect(code).toBe(0);
    const ptrs = [0n, 1n, 2n, 3n].map((i) => u64le(0x100000000n + i * 0x1000n)).join('');
    expect(json!.ctx).toBe(ptrs + u64le(0n) + u64le(0n) + u64le(0n) + u64le(0x100001000n) + u64le(0n));
    expect(json!.retval).toBe(0);
  });

  test('arena afterwards: markers in pages 0, 2, 3; page 1 allocated and zero', () => {
    expect(json!.arenaAllocated).toEqual([0, 1, 2, 3]);
    expect(Object.keys(json!.arenaPages)).toEqual(['0', '2', '3']);
    expect([0, 2, 3].map((pg) => page(json!.arenaPages, pg)[0])).toEqual([0x11, 0x33, 0x44]);
  });

  test('one fault: the read through the freed page', () => {
    expect(json!.arenaFaults.map((a) => [a.kind, a.offset])).toEqual([['read', 0x1000]]);
  });
});

describe.skipIf(!avail.ok)('alloc until full: the running kernel agrees', () => {
  test('retval, ctx, arena pages and allocated pages equal', () => {
    const k = kernelRun(f);
    const { json } = emuRun(f);
    expect(k.retval).toBe(json!.retval);
    expect(k.ctx_out).toBe(json!.ctx);
    expect(k.arena_pages_after).toEqual(json!.arenaPages);
    expect(k.arena_allocated_after).toEqual(json!.arenaAllocated);
  });
});
if (!avail.ok) test.skip(`allocfull: kernel comparison ${kernelSkipNote}`, () => {});
