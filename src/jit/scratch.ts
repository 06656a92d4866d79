// src/jit — memory reused from one jit() call to the next for buffers that never leave the call (the
// instruction table, the first pass's bytes, the pass loop's addrs and first-pass starts). jit() is
// synchronous and never re-entered, so a small module-level pool is enough; large programs then do not allocate tens of megabytes of fresh memory per
// call (fresh memory costs page faults, and external memory is what triggers V8's full collections).
// At most MAX_BUFFERS buffers of at most MAX_KEPT bytes each are kept.

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
