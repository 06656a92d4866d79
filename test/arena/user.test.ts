// The user-space view (fault-in like arena_vm_fault, SIGSEGV under BPF_F_SEGV_ON_FAULT), cast-to-user pointers,
// bounds checks, map/unmap events for the emulator, and native host memory.
import { describe, expect, test } from 'vitest';
import {
  Arena, ArenaFault, ArenaFlag, type ArenaPage, JsPageMemory, NativePageMemory, nativeMemoryAvailable,
} from '../../src/arena/index.js';

const M = ArenaFlag.MMAPABLE;
const U = 0x100000000n;
const P = 0x1000n;
const mk = (pages: number, flags = M, extra = U): Arena =>
  new Arena({ maxEntries: pages, flags, mapExtra: extra }, { memory: new JsPageMemory() });

describe('user view faults', () => {
  test('a user access to a missing page allocates a zeroed page in both views', () => {
    const a = mk(4);
    expect(a.readU32(U + 2n * P + 4n)).toBe(0);
    expect(a.pages().map((p) => p.pgoff)).toEqual([2]);
    a.writeU32(U + 3n * P, 0xcafef00d);
    expect(a.readKern(3 * 4096, 4)).toEqual(Uint8Array.of(0x0d, 0xf0, 0xfe, 0xca)); // same bytes, kernel view
    // The faulted pages left the allocator's free set: the next kfunc allocation skips them.
    expect(a.freeRanges()).toEqual([[0, 1]]);
    expect(a.allocPages(0n, 2, -1, 0)).toBe(U);
  });
  test('under BPF_F_SEGV_ON_FAULT a missing page is a SIGSEGV (ArenaFault) and nothing is allocated', () => {
    const a = mk(4, M | ArenaFlag.SEGV_ON_FAULT);
    expect(() => a.readU8(U + P)).toThrow(ArenaFault);
    try {
      a.writeU8(U + P + 5n, 1);
    } catch (e) {
      expect(e).toBeInstanceOf(ArenaFault);
      expect((e as ArenaFault).reason).toBe('segv-on-fault');
      expect((e as ArenaFault).write).toBe(true);
      expect((e as ArenaFault).addr).toBe(U + P + 5n);
    }
    expect(a.pages()).toEqual([]);
    // Pages the program allocated are accessible.
    expect(a.allocPages(U + P, 1, -1, 0)).toBe(U + P);
    a.writeU64(U + P + 8n, 42n);
    expect(a.readU64(U + P + 8n)).toBe(42n);
  });
  test('outside the mapping is a SIGSEGV whatever the flags', () => {
    const a = mk(2);
    for (const addr of [U - 1n, U + 2n * P, 0n, 0xffffffffffffff00n]) {
      expect(() => a.readU8(addr)).toThrow(/outside the arena mapping/);
    }
    const b = new Arena({ maxEntries: 2, flags: M }, { mmap: false, memory: new JsPageMemory() });
    expect(() => b.readU8(0n)).toThrow(ArenaFault);
  });
  test('an access crossing pages touches them in address order; a fault stops it after the earlier pages', () => {
    const a = mk(3, M | ArenaFlag.SEGV_ON_FAULT);
    a.allocPages(U, 1, -1, 0);
    expect(() => a.writeUser(U + P - 4n, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toThrow(ArenaFault);
    expect(a.readUser(U + P - 4n, 4)).toEqual(Uint8Array.of(1, 2, 3, 4));
    const b = mk(3);
    b.writeUser(U + P - 2n, Uint8Array.of(9, 8, 7, 6));
    expect(b.pages().map((p) => p.pgoff)).toEqual([0, 1]);
    expect(b.readUser(U + P - 2n, 4)).toEqual(Uint8Array.of(9, 8, 7, 6));
  });
  test('a user fault on a reserved page still allocates it (range_tree_clear of a cleared range succeeds)', () => {
    const a = mk(4);
    expect(a.reservePages(U + P, 1)).toBe(0);
    a.writeU8(U + P, 7);
    expect(a.pages().map((p) => p.pgoff)).toEqual([1]);
    expect(a.allocPages(U + P, 1, -1, 0)).toBe(0n);
  });
});

describe('bounds', () => {
  test('lengths and addresses outside 64-bit / 4 GiB ranges are refused before any access', () => {
    const a = mk(2);
    expect(() => a.readUser(U, -1)).toThrow(RangeError);
    expect(() => a.readUser(U, 1.5)).toThrow(RangeError);
    expect(() => a.readUser(-1n, 1)).toThrow(RangeError);
    expect(() => a.readUser(0xffffffffffffffffn, 2)).toThrow(RangeError);
    expect(() => a.readKern(-1, 1)).toThrow(RangeError);
    expect(() => a.readKern(0xffffffff, 2)).toThrow(RangeError);
    expect(() => a.writeKern(2 ** 32, Uint8Array.of(1))).toThrow(RangeError);
    expect(a.pages()).toEqual([]);
  });
  test('the last byte of the mapping is reachable, the next one is not', () => {
    const a = mk(2);
    a.writeU8(U + 2n * P - 1n, 0xab);
    expect(a.readU8(U + 2n * P - 1n)).toBe(0xab);
    expect(() => a.readU16(U + 2n * P - 1n)).toThrow(ArenaFault);
  });
  test('kernel view: missing pages read as zeros and drop writes (PROBE_MEM32)', () => {
    const a = mk(4);
    expect(a.writeKern(4096, Uint8Array.of(1, 2))).toBe(false);
    expect(a.readKern(4096, 2)).toEqual(new Uint8Array(2));
    a.allocPages(U + P, 1, -1, 0);
    expect(a.writeKern(2 * 4096 - 1, Uint8Array.of(5, 6))).toBe(false); // second byte falls in page 2
    expect(a.readKern(2 * 4096 - 1, 2)).toEqual(Uint8Array.of(5, 0));
    // The user view reads what the kernel view wrote.
    expect(a.readU8(U + 2n * P - 1n)).toBe(5);
  });
});

describe('cast-to-user pointers', () => {
  test('castToUser merges user_vm_start\'s upper half into non-NULL 32-bit pointers', () => {
    const a = mk(4, M, 0x2ffff2000n);
    expect(a.castToUser(0n)).toBe(0n);
    expect(a.castToUser(0xffff3010n)).toBe(0x2ffff3010n);
    expect(a.castToUser(0xdead00000000ffff3010n & 0xffffffffffffffffn)).toBe(0x2ffff3010n);
  });
  test('TypeScript follows a linked list a "program" built with kernel-view stores of cast-to-user pointers', () => {
    const a = mk(8, M, 0x7f0000000000n);
    const node = a.allocPages(0n, 3, -1, 0); // three pages; nodes 0x100 apart across them
    const addrs = [0n, 0x1100n, 0x2200n, 0x0300n].map((o) => node + o);
    const kernOff = (user: bigint): number => Number(user & 0xffffffffn);
    addrs.forEach((addr, i) => {
      const next = i + 1 < addrs.length ? a.castToUser(addrs[i + 1]! & 0xffffffffn) : 0n;
      const rec = new Uint8Array(16);
      new DataView(rec.buffer).setBigUint64(0, next, true);
      new DataView(rec.buffer).setUint32(8, 100 + i, true);
      expect(a.writeKern(kernOff(addr), rec)).toBe(true);
    });
    const seen: number[] = [];
    for (let p = addrs[0]!; p !== 0n; p = a.readU64(p)) seen.push(a.readU32(p + 8n));
    expect(seen).toEqual([100, 101, 102, 103]);
  });
});

describe('events and host memory', () => {
  test('listeners see every map and unmap with both addresses; unmap comes before reuse', () => {
    const a = new Arena({ maxEntries: 4, flags: M }, { userVmStart: 0x7f25a1624000n, kernVmStart: 0xffffc90202ca8000n, memory: new JsPageMemory() });
    const log: string[] = [];
    const ev = (kind: string) => (p: ArenaPage) => log.push(`${kind} ${p.pgoff} ${p.kernAddr.toString(16)} ${p.userAddr?.toString(16)}`);
    const off = a.addListener({ onMap: ev('map'), onUnmap: ev('unmap') });
    a.allocPages(0n, 2, -1, 0);
    a.freePages(0x7f25a1625000n, 1);
    a.readU8(0x7f25a1627000n);
    off();
    a.allocPages(0n, 1, -1, 0);
    expect(log).toEqual([
      // kern_vm_start + (u32)user address: 0xffffc90202ca8000 + 0xa1624000
      'map 0 ffffc902a42cc000 7f25a1624000',
      'map 1 ffffc902a42cd000 7f25a1625000',
      'unmap 1 ffffc902a42cd000 7f25a1625000',
      'map 3 ffffc902a42cf000 7f25a1627000',
    ]);
  });
  test('dispose unmaps every page (telling listeners) and makes the arena unusable', () => {
    const a = mk(4);
    a.allocPages(0n, 3, -1, 0);
    let unmapped = 0;
    a.addListener({ onUnmap: () => unmapped++ });
    a.dispose();
    expect(unmapped).toBe(3);
    expect(() => a.allocPages(0n, 1, -1, 0)).toThrow(/dispose/);
  });
  test.skipIf(!nativeMemoryAvailable())('native pages: page-aligned stable pointers, recycled zeroed', () => {
    const mem = new NativePageMemory();
    const a = new Arena({ maxEntries: 80, flags: M, mapExtra: U }, { memory: mem });
    expect(a.allocPages(0n, 80, -1, 0)).toBe(U); // spans two 64-page slabs
    const ptrs = a.pages().map((p) => p.ptr!);
    expect(new Set(ptrs).size).toBe(80);
    for (const p of ptrs) expect(p % 4096n).toBe(0n);
    a.writeU64(U + 5n * P, 0x0123456789abcdefn);
    const p5 = a.pages()[5]!;
    expect(p5.bytes.length).toBe(4096);
    a.freePages(U + 5n * P, 1);
    expect(a.allocPages(U + 5n * P, 1, -1, 0)).toBe(U + 5n * P);
    const again = a.pages()[5]!;
    expect(again.ptr).toBe(p5.ptr); // the freed host page is reused …
    expect(a.readU64(U + 5n * P)).toBe(0n); // … zeroed
    expect(again.bytes.every((b) => b === 0)).toBe(true);
    again.bytes.fill(0xff, 100, 200); // the view and the native memory are the same bytes
    expect(a.readU8(U + 5n * P + 150n)).toBe(0xff);
    a.dispose();
  });
});

describe('scalar kernel view (the ArenaView shape src/interp plugs in)', () => {
  test('read/write by 32-bit offset: null/false on missing pages, values little-endian', () => {
    const a = mk(4, M | ArenaFlag.NO_USER_CONV);
    const view: Pick<Arena, 'read' | 'write'> = a;
    expect(a.noUserConv).toBe(true);
    expect(view.read(0x1000, 8)).toBeNull();
    expect(view.write(0x1000, 4, 5n)).toBe(false);
    a.allocPages(U + P, 1, -1, 0);
    expect(view.write(0x1ffc, 4, 0x11223344n)).toBe(true);
    expect(view.read(0x1ffc, 4)).toBe(0x11223344n);
    expect(a.readU8(U + P + 0xffcn)).toBe(0x44);
    expect(view.write(0x1ffc, 8, 1n)).toBe(false); // crosses into missing page 2: nothing written
    expect(view.read(0x1ffc, 4)).toBe(0x11223344n);
    expect(view.read(0xffffffff, 2)).toBeNull();
  });
});
