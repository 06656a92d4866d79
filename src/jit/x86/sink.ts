// A growable byte buffer the assembler writes into. Callers reserve() room once per instruction
// group and then write without bounds checks (a Uint8Array silently drops out-of-range stores).

/** The narrow interface the assembler needs. */
export interface CodeSink {
  readonly pos: number;
  put1(b: number): void;
  put4(v: number): void;
}

export class ByteSink implements CodeSink {
  buf: Uint8Array;
  pos = 0;

  /** A capacity, or a buffer to write into (its contents are overwritten as code is emitted). */
  constructor(capacity: number | Uint8Array = 4096) {
    this.buf = typeof capacity === 'number' ? new Uint8Array(capacity) : capacity;
  }

  /** Makes room for n more bytes. */
  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  put1(b: number): void {
    this.buf[this.pos++] = b;
  }

  put2(a: number, b: number): void {
    const buf = this.buf;
    buf[this.pos] = a;
    buf[this.pos + 1] = b;
    this.pos += 2;
  }

  put3(a: number, b: number, c: number): void {
    const buf = this.buf;
    buf[this.pos] = a;
    buf[this.pos + 1] = b;
    buf[this.pos + 2] = c;
    this.pos += 3;
  }

  /** Little-endian 32-bit value (signed or unsigned input). */
  put4(v: number): void {
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v;
    buf[p + 1] = v >>> 8;
    buf[p + 2] = v >>> 16;
    buf[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  bytes(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}
