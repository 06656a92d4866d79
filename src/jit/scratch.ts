// src/jit — memory reused from one jit() call to the next for buffers that never leave the call (the
// instruction table, the first pass's bytes, the pass loop's addrs and first-pass starts, and its integer
// lists). jit() is synchronous and never re-entered, so module-level reuse is enough; large programs then do
// not allocate tens of megabytes of fresh memory per call (fresh memory costs page faults, and external memory
// is what triggers V8's full collections). At most MAX_BUFFERS buffers of at most MAX_KEPT bytes each are kept.

const MAX_KEPT = 64 << 20;
const MAX_BUFFERS = 4;

const pool: ArrayBuffer[] = [];

/** An ArrayBuffer of at least `bytes` bytes, contents unspecified. Give it back with release(). */
export function take(bytes: number): ArrayBuffer {
  let best = -1;
  for (let i = 0; i < pool.length; i++) {
    if (pool[i]!.byteLength >= bytes && (best < 0 || pool[i]!.byteLength < pool[best]!.byteLength)) best = i;
  }
  if (best < 0) return new ArrayBuffer(bytes);
  return pool.splice(best, 1)[0]!;
}

/** Returns a buffer from take() once nothing refers to it any more. */
export function release(b: ArrayBuffer): void {
  if (b.byteLength > MAX_KEPT || pool.includes(b)) return;
  pool.push(b);
  if (pool.length > MAX_BUFFERS) {
    // Keep the largest ones.
    pool.sort((x, y) => y.byteLength - x.byteLength);
    pool.length = MAX_BUFFERS;
  }
}

/** A growable list of integers (no per-element allocation). */
export class IntList {
  a = new Int32Array(64);
  n = 0;

  /** Empties the list; capacity beyond MAX_KEPT_INTS is given back. */
  reset(): this {
    this.n = 0;
    if (this.a.length > MAX_KEPT_INTS) this.a = new Int32Array(64);
    return this;
  }

  push(v: number): void {
    if (this.n === this.a.length) {
      const next = new Int32Array(this.n * 2);
      next.set(this.a);
      this.a = next;
    }
    this.a[this.n++] = v;
  }
}

/** Largest list capacity kept from one jit() call to the next (16 MiB each). */
const MAX_KEPT_INTS = 1 << 22;

/**
 * The pass loop's lists (layout.ts PassBuffers), reused by every function of every jit() call (runPasses is never
 * re-entered): a large program then neither regrows them from 64 entries nor leaves megabytes of outgrown arrays
 * to the collector.
 */
export const passLists = {
  layout: new IntList(),
  layoutCmp: new IntList(),
  relower: new IntList(),
  relowerCmp: new IntList(),
  calls: new IntList(),
  exInsns: new IntList(),
  exRecs: new IntList(),
  ldImm64: new IntList(),
};
