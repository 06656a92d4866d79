// The interpreter's address space: named byte regions (stack frames, ctx, the input memory, helper-made
// regions such as map values) at fixed 64-bit addresses, plus the arena. Every access is bounds-checked
// against exactly one region; anything else is a Fault that the interpreter reports as `insn N: …`.
import type { ArenaView } from './arena.js';

/** A problem found while running; the interpreter adds the instruction index. */
export class Fault extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Fault';
  }
}

export type AccessSize = 1 | 2 | 4 | 8;

export interface Region {
  readonly name: string;
  readonly base: bigint;
  readonly bytes: Uint8Array;
  readonly writable: boolean;
  /** One past the last byte. */
  readonly end: bigint;
  readonly view: DataView;
}

/** Where the interpreter places things. All above 4 GiB, so they never collide with 32-bit arena pointers. */
export const Layout = {
  /** Top of the stack of frame 0; frame k's r10 is STACK_TOP - k * FRAME_SIZE. */
  STACK_TOP: 0x0000_7ffe_0000_0000n,
  FRAME_SIZE: 512,
  MAX_FRAMES: 8,
  CTX_BASE: 0x0000_5000_0000_0000n,
  MEM_BASE: 0x0000_6000_0000_0000n,
  /** Regions added by helpers (map values, …) are placed from here, 64 KiB apart. */
  EXTRA_BASE: 0x0000_4000_0000_0000n,
  /** Arena user_vm_start when the caller gives none. */
  DEFAULT_USER_VM_START: 0x0000_7f00_0000_0000n,
} as const;

const MASK32 = 0xffffffffn;
const ARENA_GUARD = 32768n;

export function hex(v: bigint): string {
  return `0x${BigInt.asUintN(64, v).toString(16)}`;
}

export class Memory {
  private readonly regions: Region[] = [];
  private nextExtra: bigint = Layout.EXTRA_BASE;
  /** The arena (when the program has one): 32-bit pointers are arena accesses. */
  arena: ArenaView | null = null;
  /** Lines the program printed with bpf_trace_printk. */
  readonly printed: string[] = [];

  addRegion(name: string, base: bigint, bytes: Uint8Array, writable = true): Region {
    const r: Region = {
      name,
      base,
      bytes,
      writable,
      end: base + BigInt(bytes.length),
      view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    };
    for (const o of this.regions) {
      if (base < o.base + BigInt(o.bytes.length) && o.base < base + BigInt(bytes.length)) {
        throw new Error(`region ${name} overlaps ${o.name}`);
      }
    }
    this.regions.push(r);
    return r;
  }

  /** Adds a region at a fresh address (for helpers: map values, scratch buffers). */
  addExtraRegion(name: string, bytes: Uint8Array, writable = true): Region {
    const r = this.addRegion(name, this.nextExtra, bytes, writable);
    this.nextExtra += BigInt(Math.ceil((bytes.length + 1) / 65536) * 65536);
    return r;
  }

  region(name: string): Region | undefined {
    return this.regions.find((r) => r.name === name);
  }

  private last: Region | undefined;

  private find(addr: bigint, size: number, what: string): Region {
    const end = addr + BigInt(size);
    const hit = this.last;
    if (hit && addr >= hit.base && end <= hit.end) return hit; // most accesses repeat the previous region
    for (const r of this.regions) {
      if (addr >= r.base && end <= r.end) return (this.last = r);
    }
    const describe = (r: Region): string => `${r.name} (${r.bytes.length} bytes at ${hex(r.base)})`;
    const inside = this.regions.find((r) => addr >= r.base && addr < r.end);
    const after = this.regions.find((r) => addr >= r.end && addr < r.end + 4096n);
    const before = this.regions.find((r) => addr < r.base && r.base - addr <= 4096n);
    const where = inside
      ? `crosses the end of ${describe(inside)}`
      : after
        ? `${addr === after.end ? 'just' : `${addr - after.end} bytes`} past the end of ${describe(after)}`
        : before
          ? `${before.base - addr} bytes before ${describe(before)}`
          : 'outside every region the program may touch';
    throw new Fault(`invalid ${size}-byte ${what} at ${hex(addr)}: ${where}`);
  }

  /**
   * An arena access (kernel view): a 32-bit arena pointer (upper half zero) plus the offset. Returns the
   * 32-bit arena offset, or null when the address falls into a guard region (the access then faults
   * harmlessly, as a missing page). Undefined when it is not an arena access at all.
   */
  private arenaOffset(addr: bigint): number | null | undefined {
    if (!this.arena) return undefined;
    const a = BigInt.asIntN(64, addr);
    if (a >= -ARENA_GUARD && a < (1n << 32n) + ARENA_GUARD) {
      return a >= 0n && a <= MASK32 ? Number(a) : null;
    }
    return undefined;
  }

  /** Arena load through a pointer known to be an arena pointer (PROBE_MEM32): 0 when missing. */
  loadArena(off: bigint, size: AccessSize): bigint {
    const a = BigInt.asIntN(64, off);
    if (!this.arena || a < 0n || a > MASK32) return 0n;
    return this.arena.read(Number(a), size) ?? 0n;
  }

  /** Arena store (PROBE_MEM32): dropped when the page is missing. Returns whether it landed. */
  storeArena(off: bigint, size: AccessSize, value: bigint): boolean {
    const a = BigInt.asIntN(64, off);
    if (!this.arena || a < 0n || a > MASK32) return false;
    return this.arena.write(Number(a), size, BigInt.asUintN(size * 8, value));
  }

  /** Reads an unsigned little-endian value. Arena pointers read 0 from missing pages. */
  load(addr: bigint, size: AccessSize): bigint {
    addr = BigInt.asUintN(64, addr);
    const ar = this.arenaOffset(addr);
    if (ar !== undefined) return ar === null ? 0n : (this.arena!.read(ar, size) ?? 0n);
    const r = this.find(addr, size, 'load');
    return readView(r.view, Number(addr - r.base), size);
  }

  /** Writes the low `size` bytes of value. Stores to missing arena pages are dropped. */
  store(addr: bigint, size: AccessSize, value: bigint): void {
    addr = BigInt.asUintN(64, addr);
    const ar = this.arenaOffset(addr);
    if (ar !== undefined) {
      if (ar !== null) this.arena!.write(ar, size, BigInt.asUintN(size * 8, value));
      return;
    }
    const r = this.find(addr, size, 'store');
    if (!r.writable) throw new Fault(`store to read-only ${r.name} at ${hex(addr)}`);
    writeView(r.view, Number(addr - r.base), size, value);
  }

  /** Whether an address is an arena access (for atomics, which must not half-happen on a missing page). */
  isArena(addr: bigint): boolean {
    return this.arenaOffset(BigInt.asUintN(64, addr)) !== undefined;
  }

  /** Whether an arena access would land (page present, not in a guard). */
  arenaPresent(addr: bigint, size: AccessSize): boolean {
    const ar = this.arenaOffset(BigInt.asUintN(64, addr));
    return ar !== undefined && ar !== null && this.arena!.read(ar, size) !== null;
  }

  /**
   * Whether `length` bytes at `addr` lie in one region (writable, for `write`): what a helper may touch. Arena
   * pointers are not helper memory (the verifier refuses them as helper arguments), so they never are.
   */
  accessible(addr: bigint, length: number, write: boolean): boolean {
    if (length === 0) return true;
    const a = BigInt.asUintN(64, addr);
    if (this.arenaOffset(a) !== undefined) return false;
    const end = a + BigInt(length);
    return this.regions.some((r) => a >= r.base && end <= r.end && (!write || r.writable));
  }

  /** Copies bytes out (helpers reading program memory, e.g. a key). */
  readBytes(addr: bigint, length: number): Uint8Array {
    const out = new Uint8Array(length);
    for (let i = 0; i < length; i++) out[i] = Number(this.load(addr + BigInt(i), 1));
    return out;
  }

  writeBytes(addr: bigint, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) this.store(addr + BigInt(i), 1, BigInt(data[i]!));
  }
}

function readView(v: DataView, at: number, size: AccessSize): bigint {
  switch (size) {
    case 1:
      return BigInt(v.getUint8(at));
    case 2:
      return BigInt(v.getUint16(at, true));
    case 4:
      return BigInt(v.getUint32(at, true));
    case 8:
      return v.getBigUint64(at, true);
  }
}

function writeView(v: DataView, at: number, size: AccessSize, value: bigint): void {
  switch (size) {
    case 1:
      return v.setUint8(at, Number(value & 0xffn));
    case 2:
      return v.setUint16(at, Number(value & 0xffffn), true);
    case 4:
      return v.setUint32(at, Number(value & 0xffffffffn), true);
    case 8:
      return v.setBigUint64(at, BigInt.asUintN(64, value), true);
  }
}

export function readLE(bytes: Uint8Array, at: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[at + i]!);
  return v;
}

export function writeLE(bytes: Uint8Array, at: number, size: number, value: bigint): void {
  for (let i = 0; i < size; i++) bytes[at + i] = Number((value >> BigInt(8 * i)) & 0xffn);
}
