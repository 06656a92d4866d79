// bpf_arena_alloc_pages / bpf_arena_free_pages / bpf_arena_reserve_pages over the model. Expected values follow
// kernel/bpf/arena.c and range_tree.c (6.18) and were confirmed on the running 6.18 kernel (see live.test.ts).
import { describe, expect, test } from 'vitest';
import { Arena, ArenaFlag, JsPageMemory, RangeTree } from '../../src/arena/index.js';

const M = ArenaFlag.MMAPABLE;
const BASE = 0x100000000n;
const P = 0x1000n;
const mk = (pages: number, extra = BASE, flags = M, numaNodes = 1): Arena =>
  new Arena({ maxEntries: pages, flags, mapExtra: extra }, { memory: new JsPageMemory(), numaNodes });
const pg = (a: Arena, ptr: bigint): number => (ptr === 0n ? -1 : Number((ptr - a.userVmStart) / P));

describe('range tree (best fit, newest range among equals)', () => {
  test('a fresh tree hands out offsets in order', () => {
    const rt = new RangeTree();
    rt.set(0, 8);
    const got = [1, 2, 1, 3].map((n) => {
      const s = rt.find(n);
      rt.clear(s, n);
      return s;
    });
    expect(got).toEqual([0, 1, 3, 4]);
    expect(rt.find(2)).toBe(-1);
    expect(rt.ranges()).toEqual([[7, 7]]);
  });
  test('set merges neighbours; clear splits', () => {
    const rt = new RangeTree();
    rt.set(0, 10);
    rt.clear(3, 4);
    expect(rt.ranges()).toEqual([[0, 2], [7, 9]]);
    rt.set(3, 1);
    rt.set(5, 2);
    expect(rt.ranges()).toEqual([[0, 3], [5, 9]]);
    rt.set(4, 1);
    expect(rt.ranges()).toEqual([[0, 9]]);
    expect(rt.isSet(0, 10)).toBe(true);
    expect(rt.isSet(9, 2)).toBe(false);
  });
  test('smallest fitting range wins, not the lowest', () => {
    const rt = new RangeTree();
    rt.set(0, 3); // [0..2] size 3
    rt.set(10, 1); // [10] size 1
    expect(rt.find(1)).toBe(10);
    expect(rt.find(2)).toBe(0);
  });
  test('among equal sizes the most recently inserted range wins', () => {
    const rt = new RangeTree();
    rt.set(5, 1);
    rt.set(0, 1);
    expect(rt.find(1)).toBe(0);
    rt.set(9, 1);
    expect(rt.find(1)).toBe(9);
  });
});

describe('bpf_arena_alloc_pages', () => {
  test('returns user_vm_start + pgoff * PAGE_SIZE, pages in order, then NULL when full', () => {
    const a = mk(4);
    expect([1, 1, 2].map((n) => a.allocPages(0n, n, -1, 0))).toEqual([BASE, BASE + P, BASE + 2n * P]);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(0n);
    expect(a.pages().map((p) => p.pgoff)).toEqual([0, 1, 2, 3]);
  });
  test('argument checks: flags, page_cnt 0, page_cnt above the mapping, node ids', () => {
    const a = mk(8);
    expect(a.allocPages(0n, 1, -1, 1)).toBe(0n);
    expect(a.allocPages(0n, 1, -1, 1n << 63n)).toBe(0n);
    expect(a.allocPages(0n, 0, -1, 0)).toBe(0n);
    expect(a.allocPages(0n, 9, -1, 0)).toBe(0n);
    expect(a.allocPages(0n, (1n << 32n) + 1n, -1, 0)).toBe(BASE); // page_cnt is a u32: 2^32 + 1 → 1
    for (const node of [1, 64, -2, 0x7fffffff]) expect(a.allocPages(0n, 1, node, 0)).toBe(0n);
    expect(a.allocPages(0n, 1, 0, 0)).toBe(BASE + P);
    expect(a.allocPages(0n, 1, 0xffffffffn, 0)).toBe(BASE + 2n * P); // node_id is an int: 0xffffffff = NUMA_NO_NODE
    expect(mk(2, BASE, M, 2).allocPages(0n, 1, 1, 0)).toBe(BASE);
    expect(a.pages().length).toBe(3);
  });
  test('hints: free page, taken page, unaligned, past the end, below the mapping, upper 32 bits ignored', () => {
    const a = mk(8, 0x300000000n);
    const U = 0x300000000n;
    expect(a.allocPages(U + 2n * P, 1, -1, 0)).toBe(U + 2n * P);
    expect(a.allocPages(U + 2n * P, 1, -1, 0)).toBe(0n); // taken
    expect(a.allocPages(U + 2n * P + 1n, 1, -1, 0)).toBe(0n); // unaligned
    expect(a.allocPages(U + 7n * P, 1, -1, 0)).toBe(U + 7n * P); // last page
    expect(a.allocPages(U + 6n * P, 2, -1, 0)).toBe(0n); // partly taken
    expect(a.allocPages(U + 7n * P, 2, -1, 0)).toBe(0n); // would end past the mapping
    expect(a.allocPages(U + 8n * P, 1, -1, 0)).toBe(0n); // past the end
    expect(a.allocPages(0x1200003000n, 1, -1, 0)).toBe(U + 3n * P); // only the lower 32 bits count
    const b = mk(8, 0x2ffff2000n);
    expect(b.allocPages(0x2ffff1000n, 1, -1, 0)).toBe(0n); // below user_vm_start: pgoff wraps to ~2^20
  });
  test('a free hint range must be wholly free', () => {
    const a = mk(8);
    a.allocPages(BASE + 3n * P, 1, -1, 0);
    expect(a.allocPages(BASE + P, 3, -1, 0)).toBe(0n);
    expect(a.allocPages(BASE + 4n * P, 4, -1, 0)).toBe(BASE + 4n * P);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(BASE); // remaining free: [0..2]
  });
  test('best fit after frees, ties to the newest free range (live-kernel sequence)', () => {
    const a = mk(16);
    expect(a.allocPages(0n, 16, -1, 0)).toBe(BASE);
    a.freePages(BASE, 1); // [0]
    a.freePages(BASE + 3n * P, 2); // [3,4]
    a.freePages(BASE + 8n * P, 1); // [8]
    a.freePages(BASE + 11n * P, 3); // [11..13]
    const got = [1, 1, 1, 2, 1, 1].map((n) => pg(a, a.allocPages(0n, n, -1, 0)));
    expect(got).toEqual([8, 0, 3, 11, 13, 4]);
  });
  test('a multi-page allocation is contiguous and needs a large enough range', () => {
    const a = mk(6);
    a.allocPages(BASE + 2n * P, 1, -1, 0);
    expect(a.allocPages(0n, 3, -1, 0)).toBe(BASE + 3n * P);
    expect(a.allocPages(0n, 3, -1, 0)).toBe(0n);
    expect(a.allocPages(0n, 2, -1, 0)).toBe(BASE);
  });
  test('pages are zeroed, also when re-allocated after a free', () => {
    const a = mk(2);
    const p = a.allocPages(0n, 1, -1, 0);
    expect(a.readUser(p, 4096).every((b) => b === 0)).toBe(true);
    a.writeU64(p + 8n, 0xdeadbeefn);
    a.freePages(p, 1);
    expect(a.pages()).toEqual([]);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(p);
    expect(a.readU64(p + 8n)).toBe(0n);
  });
  test('the returned pointer keeps user_vm_start\'s upper half and adds the page\'s lower half', () => {
    const a = mk(14, 0x2ffff2000n);
    expect(a.allocPages(0n, 14, -1, 0)).toBe(0x2ffff2000n);
    const b = new Arena({ maxEntries: 4, flags: M }, { userVmStart: 0x7f25a1624000n, kernVmStart: 0xffffc90202ca8000n, memory: new JsPageMemory() });
    const p = b.allocPages(0n, 1, -1, 0);
    expect(p).toBe(0x7f25a1624000n);
    // The kernel maps it at kern_vm_start + (u32)uaddr.
    expect(b.pages()[0]!.kernAddr).toBe(0xffffc90202ca8000n + 0xa1624000n);
    expect(b.pages()[0]!.userAddr).toBe(0x7f25a1624000n);
  });
});

describe('bpf_arena_free_pages', () => {
  test('frees page_cnt pages from the page holding ptr (unaligned and upper bits ignored)', () => {
    const a = mk(8);
    a.allocPages(0n, 8, -1, 0);
    a.freePages(0xabcd00000000n + 2n * P + 0x123n, 2);
    expect(a.pages().map((p) => p.pgoff)).toEqual([0, 1, 4, 5, 6, 7]);
    expect(a.freeRanges()).toEqual([[2, 3]]);
  });
  test('NULL ptr or page_cnt 0 does nothing; ptr with lower half 0 frees page 0 (map_extra 4 GiB aligned)', () => {
    const a = mk(4);
    a.allocPages(0n, 4, -1, 0);
    a.freePages(0n, 4);
    a.freePages(BASE, 0);
    expect(a.pages().length).toBe(4);
    a.freePages(0x500000000n, 1);
    expect(a.pages().map((p) => p.pgoff)).toEqual([1, 2, 3]);
  });
  test('clipped at the end of the mapping; unallocated pages in the range are just marked free', () => {
    const a = mk(8);
    a.allocPages(BASE + 6n * P, 1, -1, 0);
    a.allocPages(BASE + 2n * P, 1, -1, 0);
    a.freePages(BASE + 5n * P, 100);
    expect(a.pages().map((p) => p.pgoff)).toEqual([2]);
    expect(a.freeRanges()).toEqual([[0, 1], [3, 7]]);
  });
  test('freeing reserved pages makes them allocatable again', () => {
    const a = mk(4);
    expect(a.reservePages(BASE, 4)).toBe(0);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(0n);
    a.freePages(BASE + P, 1);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(BASE + P);
  });
  test('a foreign pointer below user_vm_start\'s lower half marks page offsets past the arena free (kernel quirk)', () => {
    // user_vm_start 0x7f25a1624000: lower half 0xa1624000. free(0x1000) → pgoff (0x1000 - 0xa1624000) >> 12 wraps.
    const a = new Arena({ maxEntries: 2, flags: M }, { userVmStart: 0x7f25a1624000n, memory: new JsPageMemory() });
    a.allocPages(0n, 2, -1, 0);
    a.freePages(0x1000n, 1);
    const wrapped = Number((0x1000n - 0xa1624000n + (1n << 32n)) >> 12n);
    expect(a.freeRanges()).toEqual([[wrapped, wrapped]]);
    // The full arena then hands out that offset: kernel address kern_vm_start + 0x1000, user pointer outside the mapping.
    expect(a.allocPages(0n, 1, -1, 0)).toBe(0x7f2500001000n);
    const quirk = a.pages().find((p) => p.pgoff === wrapped)!;
    expect(quirk.userAddr).toBeNull();
    expect(quirk.kernAddr).toBe(a.kernVmStart + 0x1000n);
  });
});

describe('bpf_arena_reserve_pages', () => {
  test('0 on success, -EBUSY when not all free, -EINVAL past the end, 0 (no-op) when unaligned', () => {
    const a = mk(8, 0x300000000n);
    const U = 0x300000000n;
    a.allocPages(U + 2n * P, 1, -1, 0);
    expect(a.reservePages(U + 5n * P, 2)).toBe(0);
    expect(a.reservePages(U + 5n * P, 1)).toBe(-16);
    expect(a.reservePages(U + 5n * P + 1n, 1)).toBe(0);
    expect(a.reservePages(U + 7n * P, 2)).toBe(-22);
    expect(a.reservePages(U + 2n * P, 1)).toBe(-16);
    expect(a.reservePages(U, 0)).toBe(0);
    expect(a.freeRanges()).toEqual([[0, 1], [3, 4], [7, 7]]);
    expect(a.pages().map((p) => p.pgoff)).toEqual([2]); // reserving maps nothing
    // Best fit: the single free page 7 first, then the newer of the two 2-page ranges ([3,4] was split last).
    expect([1, 1].map(() => pg(a, a.allocPages(0n, 1, -1, 0)))).toEqual([7, 3]);
  });
});

describe('an mmap of another length than max_entries pages (map_extra 0; measured on the kernel)', () => {
  const U0 = 0x7f0000000000n;
  const arena = (pages: number, mmapPages: number): Arena =>
    new Arena({ maxEntries: pages, flags: M }, { userVmStart: U0, mmapLength: BigInt(mmapPages) * P, memory: new JsPageMemory() });
  test('longer: user faults past max_entries allocate; a free there grows the allocator\'s pool', () => {
    const a = arena(2, 4);
    a.writeU8(U0 + 3n * P, 1);
    expect(a.allocPages(U0 + 2n * P, 1, -1, 0)).toBe(0n); // page 2 is not in the free set
    expect(a.allocPages(0n, 2, -1, 0)).toBe(U0);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(0n);
    a.freePages(U0 + 2n * P, 2);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(U0 + 2n * P);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(U0 + 3n * P);
    expect(a.readU8(U0 + 3n * P)).toBe(0);
  });
  test('shorter: page_cnt is limited by the mapping, but a free page past it is still handed out', () => {
    const a = arena(4, 2);
    expect(a.allocPages(0n, 3, -1, 0)).toBe(0n);
    expect(a.allocPages(0n, 2, -1, 0)).toBe(U0);
    expect(a.allocPages(0n, 1, -1, 0)).toBe(U0 + 2n * P);
    expect(a.pages().map((p) => p.userAddr)).toEqual([U0, U0 + P, null]);
  });
});
