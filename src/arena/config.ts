// Arena creation and mmap checks, exactly as arena_map_alloc() and arena_get_unmapped_area()/arena_map_mmap()
// order them: every bad value fails with the kernel's errno and a message naming the value.
import { BpfError } from '../errors.js';
import {
  ARENA_ALLOWED_FLAGS, ArenaFlag, DEFAULT_MMAP_TOP, Errno, type ErrnoName, PAGE_SIZE, SZ_4G,
} from './constants.js';

/** A refused arena map or mmap: a user input error that carries the errno the kernel returns. */
export class ArenaConfigError extends BpfError {
  readonly errno: ErrnoName;
  constructor(errno: ErrnoName, message: string) {
    super({ message: `arena: ${message} (${errno})` });
    this.name = 'ArenaConfigError';
    this.errno = errno;
  }
}

/** The BPF_MAP_CREATE attributes the arena looks at. */
export interface ArenaAttr {
  /** max_entries: number of pages. */
  readonly maxEntries: number;
  /** map_flags: BPF_F_MMAPABLE is required. */
  readonly flags: number;
  /** map_extra: fixed user_vm_start, or 0. */
  readonly mapExtra?: bigint;
  readonly keySize?: number;
  readonly valueSize?: number;
}

const hex = (v: bigint | number): string => `0x${v.toString(16)}`;

/** arena_map_alloc()'s checks, in its order. Returns the user range size (max_entries * PAGE_SIZE). */
export function validateArenaAttr(attr: ArenaAttr): bigint {
  const fail = (errno: ErrnoName, msg: string): never => {
    throw new ArenaConfigError(errno, msg);
  };
  const { maxEntries } = attr;
  const extra = attr.mapExtra ?? 0n;
  if (!Number.isInteger(maxEntries) || maxEntries < 0 || maxEntries > 0xffffffff)
    fail('EINVAL', `max_entries ${maxEntries} is not a u32`);
  if (!Number.isInteger(attr.flags) || attr.flags < -(2 ** 31) || attr.flags > 0xffffffff)
    fail('EINVAL', `map_flags ${attr.flags} is not a u32`);
  const flags = attr.flags >>> 0; // JavaScript's `|` makes bit 31 negative
  if (extra < 0n || extra >= 1n << 64n) fail('EINVAL', `map_extra ${extra} is not a u64`);
  if (attr.keySize) fail('EINVAL', `key_size must be 0, not ${attr.keySize}`);
  if (attr.valueSize) fail('EINVAL', `value_size must be 0, not ${attr.valueSize}`);
  if (maxEntries === 0) fail('EINVAL', 'max_entries (number of pages) must not be 0');
  if (!(flags & ArenaFlag.MMAPABLE)) fail('EINVAL', `map_flags ${hex(flags)} lack BPF_F_MMAPABLE (0x400)`);
  const bad = (flags & ~ARENA_ALLOWED_FLAGS) >>> 0;
  if (bad) fail('EINVAL', `map_flags ${hex(flags)} have unsupported bits ${hex(bad)}`);
  if (extra & BigInt(PAGE_SIZE - 1)) fail('EINVAL', `map_extra ${hex(extra)} (user_vm_start) is not page aligned`);
  const range = BigInt(maxEntries) * BigInt(PAGE_SIZE);
  if (range > SZ_4G) fail('E2BIG', `max_entries ${maxEntries} pages exceed 4 GiB (at most ${SZ_4G / BigInt(PAGE_SIZE)})`);
  // u64 arithmetic, as in the kernel: a range ending past 2^64 wraps and so crosses a boundary too.
  const last = BigInt.asUintN(64, extra + range - 1n);
  if (extra >> 32n !== last >> 32n)
    fail('ERANGE', `user range ${hex(extra)}..${hex(extra + range)} (map_extra + ${maxEntries} pages) crosses a 4 GiB boundary`);
  return range;
}

/** Where the arena's user mapping lands, and how long it is. */
export interface UserRange {
  readonly start: bigint;
  readonly end: bigint;
}

/**
 * arena_get_unmapped_area() + arena_map_mmap() for the first mmap of the map (offset 0).
 * `addr` is mmap's address argument (0 = let the kernel choose); `mmapTop` stands in for the top-down
 * search of the process's address space: the kernel finds a gap for twice the length, below `mmapTop`.
 */
export function placeUserRange(
  fixedStart: bigint, fixedRange: bigint, len: bigint, addr = 0n, mmapTop = DEFAULT_MMAP_TOP,
): UserRange {
  const fail = (errno: ErrnoName, msg: string): never => {
    throw new ArenaConfigError(errno, msg);
  };
  if (len <= 0n) fail('EINVAL', 'mmap length must not be 0');
  len = (len + BigInt(PAGE_SIZE - 1)) & ~BigInt(PAGE_SIZE - 1);
  if (len > SZ_4G) fail('E2BIG', `mmap length ${hex(len)} exceeds 4 GiB`);
  if (fixedStart) {
    if (len > fixedRange) fail('E2BIG', `mmap length ${hex(len)} exceeds the arena's ${hex(fixedRange)}`);
    if (len !== fixedRange) fail('EINVAL', `mmap length ${hex(len)} differs from the arena's ${hex(fixedRange)}`);
    if (addr !== fixedStart) fail('EINVAL', `mmap address ${hex(addr)} differs from user_vm_start ${hex(fixedStart)}`);
    // The kernel's "does it cross 4 GiB" test shifts the (signed long) start arithmetically but start + len - 1
    // (unsigned) logically: with bit 63 set they never agree, so it hits WARN_ON_ONCE(user_vm_start) → EFAULT
    // (confirmed on the reference kernel, which logs the warning).
    if (fixedStart >= 1n << 63n) fail('EFAULT', `user_vm_start ${hex(fixedStart)} is not a user address`);
    return { start: fixedStart, end: checkTaskSize(fixedStart, len) };
  }
  if (addr & BigInt(PAGE_SIZE - 1)) fail('EINVAL', `mmap address ${hex(addr)} is not page aligned`);
  let start = addr || mmapTop - 2n * len;
  if (start < 0n) fail('ENOMEM', `no room below ${hex(mmapTop)} for ${hex(2n * len)} bytes`);
  // Not crossing a 4 GiB boundary keeps the lower 32 bits of every user pointer contiguous.
  if (start >> 32n !== (start + len - 1n) >> 32n) start = (start + SZ_4G - 1n) & ~(SZ_4G - 1n);
  return { start, end: checkTaskSize(start, len) };
}

/** x86-64 TASK_SIZE with 4-level page tables: the end of user space. */
export const TASK_SIZE = 0x7ffffffff000n;

/** __get_unmapped_area(): the mapping must end inside user space (ENOMEM otherwise). Returns the end. */
function checkTaskSize(start: bigint, len: bigint): bigint {
  if (start > TASK_SIZE - len)
    throw new ArenaConfigError('ENOMEM', `mmap of ${hex(len)} bytes at ${hex(start)} ends past user space (${hex(TASK_SIZE)})`);
  return start + len;
}

export { Errno };
