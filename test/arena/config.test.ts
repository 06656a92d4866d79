// Arena creation and mmap checks: each bad value gets arena_map_alloc()'s / arena_get_unmapped_area()'s errno.
import { describe, expect, test } from 'vitest';
import { BpfError } from '../../src/errors.js';
import { Arena, ArenaConfigError, ArenaFlag, arenaFromSpec, JsPageMemory, placeUserRange, validateArenaAttr } from '../../src/arena/index.js';

const M = ArenaFlag.MMAPABLE;
const errnoOf = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ArenaConfigError);
    expect(e).toBeInstanceOf(BpfError);
    return (e as ArenaConfigError).errno;
  }
  return 'ok';
};

describe('arena_map_alloc checks', () => {
  test.each([
    ['key_size', { maxEntries: 1, flags: M, keySize: 4 }, 'EINVAL', /key_size/],
    ['value_size', { maxEntries: 1, flags: M, valueSize: 8 }, 'EINVAL', /value_size/],
    ['max_entries 0', { maxEntries: 0, flags: M }, 'EINVAL', /max_entries/],
    ['no BPF_F_MMAPABLE', { maxEntries: 1, flags: 0 }, 'EINVAL', /BPF_F_MMAPABLE/],
    ['only SEGV_ON_FAULT', { maxEntries: 1, flags: ArenaFlag.SEGV_ON_FAULT }, 'EINVAL', /BPF_F_MMAPABLE/],
    ['BPF_F_RDONLY_PROG', { maxEntries: 1, flags: M | (1 << 7) }, 'EINVAL', /unsupported bits 0x80/],
    ['BPF_F_NO_PREALLOC', { maxEntries: 1, flags: M | 1 }, 'EINVAL', /unsupported bits 0x1\b/],
    ['bit 31', { maxEntries: 1, flags: M | 0x80000000 }, 'EINVAL', /unsupported/],
    ['map_extra not page aligned', { maxEntries: 1, flags: M, mapExtra: 0x100000800n }, 'EINVAL', /page aligned/],
    ['map_extra low bit', { maxEntries: 1, flags: M, mapExtra: 1n }, 'EINVAL', /page aligned/],
    ['4 GiB + 1 page', { maxEntries: 0x100001, flags: M }, 'E2BIG', /exceed 4 GiB/],
    ['u32 max pages', { maxEntries: 0xffffffff, flags: M }, 'E2BIG', /exceed 4 GiB/],
    ['crosses 4 GiB', { maxEntries: 2, flags: M, mapExtra: 0xfffff000n }, 'ERANGE', /crosses a 4 GiB boundary/],
    ['4 GiB not from a boundary', { maxEntries: 0x100000, flags: M, mapExtra: 0x100001000n }, 'ERANGE', /crosses/],
    ['wraps past 2^64', { maxEntries: 2, flags: M, mapExtra: 0xfffffffffffff000n }, 'ERANGE', /crosses/],
  ])('%s', (_name, attr, errno, msg) => {
    expect(errnoOf(() => validateArenaAttr(attr))).toBe(errno);
    expect(() => validateArenaAttr(attr)).toThrow(msg);
  });

  test.each([
    ['all allowed flags', { maxEntries: 1, flags: M | ArenaFlag.SEGV_ON_FAULT | ArenaFlag.NO_USER_CONV }],
    ['exactly 4 GiB at 0', { maxEntries: 0x100000, flags: M }],
    ['exactly 4 GiB at a boundary', { maxEntries: 0x100000, flags: M, mapExtra: 0x300000000n }],
    ['ends at a boundary', { maxEntries: 2, flags: M, mapExtra: 0xffffe000n }],
    ['just below 2^64', { maxEntries: 1, flags: M, mapExtra: 0xfffffffffffff000n }],
  ])('accepts %s', (_name, attr) => {
    expect(errnoOf(() => validateArenaAttr(attr))).toBe('ok');
  });

  test('the first failing check decides (flags before map_extra before size)', () => {
    expect(errnoOf(() => validateArenaAttr({ maxEntries: 0x200000, flags: 0, mapExtra: 1n }))).toBe('EINVAL');
    expect(() => validateArenaAttr({ maxEntries: 0x200000, flags: 0, mapExtra: 1n })).toThrow(/MMAPABLE/);
    expect(() => validateArenaAttr({ maxEntries: 0x200000, flags: M, mapExtra: 1n })).toThrow(/page aligned/);
    expect(errnoOf(() => validateArenaAttr({ maxEntries: 0x200000, flags: M, mapExtra: 0xfffff000n }))).toBe('E2BIG');
  });
});

describe('address layout', () => {
  const mem = new JsPageMemory();
  test('kern_vm_start lies GUARD_SZ/2 = 32 KiB into a 4 GiB + 64 KiB area', () => {
    const a = new Arena({ maxEntries: 4, flags: M }, { kernVmStart: 0xffffc90202ca8000n, memory: mem });
    expect(a.kernVmStart).toBe(0xffffc90202ca8000n);
    expect(a.kernVmArea.start).toBe(0xffffc90202ca0000n);
    expect(a.kernVmArea.end - a.kernVmArea.start).toBe((1n << 32n) + 0x10000n);
  });
  test('a kern_vm_start that is not page aligned is refused', () => {
    expect(errnoOf(() => new Arena({ maxEntries: 4, flags: M }, { kernVmStart: 0xffffc90000000800n, memory: mem }))).toBe('EINVAL');
  });
  test('map_extra is user_vm_start; the mapping is max_entries pages', () => {
    const a = new Arena({ maxEntries: 9, flags: M, mapExtra: 0x180000000n }, { memory: mem });
    expect([a.userVmStart, a.userVmEnd]).toEqual([0x180000000n, 0x180009000n]);
  });
  test('kernel-chosen mmap: top - 2 * length, as the corpus shows (14 pages → 0x7f25a1624000, 16 → 0x7f25a1620000)', () => {
    // Values from the kernel corpus (kernel.json user_vm_start for map_extra 0).
    expect(arenaFromSpec({ pages: 14, flags: 0, map_extra: 0 }, { memory: mem }).userVmStart).toBe(0x7f25a1624000n);
    expect(arenaFromSpec({ pages: 16, flags: 0, map_extra: 0 }, { memory: mem }).userVmStart).toBe(0x7f25a1620000n);
    expect(arenaFromSpec({ pages: 15, flags: 0, map_extra: 0 }, { memory: mem }).userVmStart).toBe(0x7f25a1622000n);
  });
  test('a caller-given user_vm_start (the kernel run\'s) is used', () => {
    const a = arenaFromSpec({ pages: 8, flags: 0, map_extra: 0 }, { userVmStart: 0x7f4af5077000n, memory: mem });
    expect([a.userVmStart, a.userVmEnd]).toEqual([0x7f4af5077000n, 0x7f4af507f000n]);
  });
  test('a kernel-chosen range that would cross 4 GiB is rounded up to the boundary', () => {
    // mm_get_unmapped_area returns top - 2*len = 0x1fffff000; [that, +len) crosses 0x200000000 → round_up.
    expect(placeUserRange(0n, 0n, 0x2000n, 0n, 0x200003000n)).toEqual({ start: 0x200000000n, end: 0x200002000n });
  });
  test('mmap checks with map_extra: same length and address only', () => {
    expect(errnoOf(() => placeUserRange(0x100000000n, 0x4000n, 0x5000n, 0x100000000n))).toBe('E2BIG');
    expect(errnoOf(() => placeUserRange(0x100000000n, 0x4000n, 0x3000n, 0x100000000n))).toBe('EINVAL');
    expect(errnoOf(() => placeUserRange(0x100000000n, 0x4000n, 0x4000n, 0n))).toBe('EINVAL');
    expect(errnoOf(() => placeUserRange(0n, 0n, (1n << 32n) + 1n))).toBe('E2BIG');
    expect(errnoOf(() => placeUserRange(0n, 0n, 0n))).toBe('EINVAL');
  });
  test('a second mmap must repeat the first address and length', () => {
    const a = new Arena({ maxEntries: 4, flags: M }, { userVmStart: 0x7f0000000000n, memory: mem });
    expect(errnoOf(() => a.mmap(0x7f0000100000n))).toBe('EINVAL');
    expect(errnoOf(() => a.mmap(0n))).toBe('EINVAL');
    expect(errnoOf(() => a.mmap(0x7f0000000000n, 0x3000n))).toBe('EINVAL');
    expect(errnoOf(() => a.mmap(0x7f0000000000n, 0x5000n))).toBe('E2BIG');
    expect(a.mmap(0x7f0000000000n)).toEqual({ start: 0x7f0000000000n, end: 0x7f0000004000n });
  });
  test('the mapping must end inside user space (TASK_SIZE 0x7ffffffff000); bit 63 set gives EFAULT (signed/unsigned shift mismatch)', () => {
    expect(errnoOf(() => placeUserRange(0x7ffffffff000n, 0x1000n, 0x1000n, 0x7ffffffff000n))).toBe('ENOMEM');
    expect(placeUserRange(0x7fffffffe000n, 0x1000n, 0x1000n, 0x7fffffffe000n).end).toBe(0x7ffffffff000n);
    expect(errnoOf(() => placeUserRange(0x800000000000n, 0x1000n, 0x1000n, 0x800000000000n))).toBe('ENOMEM');
    expect(errnoOf(() => placeUserRange(0xffffffff00000000n, 0x1000n, 0x1000n, 0xffffffff00000000n))).toBe('EFAULT');
    expect(errnoOf(() => placeUserRange(0n, 0n, 0x1000n, 0xfffffffffff00000n))).toBe('ENOMEM');
  });
  test('without mmap (map_extra 0) nothing can be allocated: the user range is still empty', () => {
    const a = new Arena({ maxEntries: 4, flags: M }, { mmap: false, memory: mem });
    expect(a.allocPages(0n, 1, -1, 0)).toBe(0n);
    a.mmap();
    expect(a.allocPages(0n, 1, -1, 0)).toBe(a.userVmStart);
  });
  test('ld_imm64 map_value(arena)+off: user_vm_start + off, off up to the mapping size (ERANGE past it)', () => {
    const a = new Arena({ maxEntries: 2, flags: M, mapExtra: 0x100000000n }, { memory: mem });
    expect(a.directValueAddr(0)).toBe(0x100000000n);
    expect(a.directValueAddr(0x1ff8)).toBe(0x100001ff8n);
    expect(a.directValueAddr(0x2000)).toBe(0x100002000n);
    expect(errnoOf(() => a.directValueAddr(0x2001))).toBe('ERANGE');
    expect(errnoOf(() => a.directValueAddr(-1))).toBe('ERANGE'); // imm is a u32
    expect(a.jitAddresses()).toEqual({ kernVmStart: 0xffffc90002c81000n, userVmStart: 0x100000000n });
    // Before a kernel-chosen mmap the range is empty: only offset 0 resolves, to 0 (the kernel's user_vm_start).
    const b = new Arena({ maxEntries: 2, flags: M }, { mmap: false, memory: mem });
    expect(b.directValueAddr(0)).toBe(0n);
    expect(errnoOf(() => b.directValueAddr(8))).toBe('ERANGE');
  });
});
