// src/emu — a small BPF map model whose values live in guest memory (so programs read and write them
// directly): array and hash maps, looked up by the `struct bpf_map *` address the program passes in r1.
import { HostMemory } from './unicorn.js';
import { PAGE } from './layout.js';

export type MapKind = 'array' | 'hash';

export interface MapSpec {
  readonly kind: MapKind;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
}

/** Offset of the first value from the map pointer (our stand-in for offsetof(struct bpf_array, value)). */
export const MAP_VALUE_OFFSET = PAGE;

export const BPF_ANY = 0n;
export const BPF_NOEXIST = 1n;
export const BPF_EXIST = 2n;
const EINVAL = -22n;
const ENOENT = -2n;
const EEXIST = -17n;
const E2BIG = -7n;

/** One map: a header page at `ptr` (the `struct bpf_map *` value), then max_entries value slots. */
export class BpfMap {
  readonly stride: number;
  readonly memory: HostMemory;
  /** hash: key hex → slot index. */
  private readonly slots = new Map<string, number>();
  private readonly freeSlots: number[] = [];

  constructor(
    readonly spec: MapSpec,
    /** Guest address of the map (the pointer the program passes to helpers). */
    readonly ptr: bigint,
  ) {
    if (spec.kind === 'array' && spec.keySize !== 4) throw new RangeError('array map key_size must be 4');
    if (spec.valueSize <= 0 || spec.maxEntries <= 0) throw new RangeError('map value_size and max_entries must be positive');
    this.stride = (spec.valueSize + 7) & ~7;
    const size = MAP_VALUE_OFFSET + Math.ceil((this.stride * spec.maxEntries) / PAGE) * PAGE;
    this.memory = new HostMemory(size);
    for (let i = spec.maxEntries - 1; i >= 0; i--) this.freeSlots.push(i);
  }

  get size(): number {
    return this.memory.size;
  }
  valueAddr(slot: number): bigint {
    return this.ptr + BigInt(MAP_VALUE_OFFSET + slot * this.stride);
  }
  private valueView(slot: number): Uint8Array {
    const off = MAP_VALUE_OFFSET + slot * this.stride;
    return this.memory.bytes.subarray(off, off + this.spec.valueSize);
  }
  private slotOf(key: Uint8Array): number | undefined {
    if (this.spec.kind === 'array') {
      const idx = new DataView(key.buffer, key.byteOffset, 4).getUint32(0, true);
      return idx < this.spec.maxEntries ? idx : undefined;
    }
    return this.slots.get(Buffer.from(key).toString('hex'));
  }

  /** Address of the value for `key`, or 0. */
  lookup(key: Uint8Array): bigint {
    const slot = this.slotOf(key);
    return slot === undefined ? 0n : this.valueAddr(slot);
  }

  update(key: Uint8Array, value: Uint8Array, flags: bigint): bigint {
    if (flags > BPF_EXIST) return EINVAL;
    let slot = this.slotOf(key);
    if (this.spec.kind === 'array') {
      if (slot === undefined) return E2BIG;
      if (flags === BPF_NOEXIST) return EEXIST;
    } else {
      if (slot !== undefined && flags === BPF_NOEXIST) return EEXIST;
      if (slot === undefined && flags === BPF_EXIST) return ENOENT;
      if (slot === undefined) {
        slot = this.freeSlots.pop();
        if (slot === undefined) return E2BIG;
        this.slots.set(Buffer.from(key).toString('hex'), slot);
      }
    }
    this.valueView(slot).set(value.subarray(0, this.spec.valueSize));
    return 0n;
  }

  delete(key: Uint8Array): bigint {
    if (this.spec.kind === 'array') return EINVAL;
    const hex = Buffer.from(key).toString('hex');
    const slot = this.slots.get(hex);
    if (slot === undefined) return ENOENT;
    this.slots.delete(hex);
    this.valueView(slot).fill(0);
    this.freeSlots.push(slot);
    return 0n;
  }

  /** Current contents: key hex → value hex (hash maps: present keys; arrays: every index). */
  entries(): Record<string, string> {
    const out: Record<string, string> = {};
    if (this.spec.kind === 'array') {
      for (let i = 0; i < this.spec.maxEntries; i++) {
        const k = Buffer.alloc(4);
        k.writeUInt32LE(i);
        out[k.toString('hex')] = Buffer.from(this.valueView(i)).toString('hex');
      }
    } else {
      for (const [k, slot] of this.slots) out[k] = Buffer.from(this.valueView(slot)).toString('hex');
    }
    return out;
  }

  release(): void {
    this.memory.release();
  }
}
